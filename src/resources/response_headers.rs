//! The CloudFront response headers policy of the stack's own, made when no
//! managed policy gives what the settings ask (a list of CORS origins, HSTS
//! directives of one's own, CORS without security headers for some origins).
//! Found by its name, derived from the bucket, and confirmed by its comment:
//! policies cannot be tagged, and one cdnctl did not make is never touched.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudfront::types::{
    ReferrerPolicyList, ResponseHeadersPolicyAccessControlAllowHeaders, ResponseHeadersPolicyAccessControlAllowMethods,
    ResponseHeadersPolicyAccessControlAllowMethodsValues, ResponseHeadersPolicyAccessControlAllowOrigins,
    ResponseHeadersPolicyConfig, ResponseHeadersPolicyContentTypeOptions, ResponseHeadersPolicyCorsConfig,
    ResponseHeadersPolicyReferrerPolicy, ResponseHeadersPolicySecurityHeadersConfig,
    ResponseHeadersPolicyStrictTransportSecurity, ResponseHeadersPolicyType,
};
use aws_sdk_cloudfront::Client;

use crate::aws::{code, describe, is_code, Waiting};
use crate::spec::{OwnedHeaders, CORS_MAX_AGE};

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub config: ResponseHeadersPolicyConfig,
}

impl Observed {
    /// Made by cdnctl for this stack (its comment says so).
    pub fn is_owned(&self, comment: &str) -> bool {
        self.config.comment() == Some(comment)
    }
}

/// The custom policy of this name, if any.
pub async fn observe(cf: &Client, name: &str) -> anyhow::Result<Option<Observed>> {
    let mut marker: Option<String> = None;
    loop {
        let out = cf
            .list_response_headers_policies()
            .r#type(ResponseHeadersPolicyType::Custom)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| describe("response headers policy: ListResponseHeadersPolicies", e))?;
        let Some(list) = out.response_headers_policy_list else {
            return Ok(None);
        };
        for summary in list.items() {
            if let Some(p) = summary.response_headers_policy() {
                if let Some(config) = p.response_headers_policy_config().filter(|c| c.name() == name) {
                    return Ok(Some(Observed {
                        id: p.id().to_string(),
                        config: config.clone(),
                    }));
                }
            }
        }
        match list.next_marker() {
            Some(m) if !m.is_empty() && Some(m) != marker.as_deref() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

/// What a policy makes browsers see, in the terms cdnctl manages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    origins: Vec<String>,
    methods: Vec<String>,
    max_age: Option<i32>,
    origin_override: bool,
    nosniff: bool,
    referrer: Option<String>,
    hsts: Option<(i32, bool, bool)>,
}

fn shape(c: &ResponseHeadersPolicyConfig) -> Shape {
    let cors = c.cors_config();
    let mut methods: Vec<String> = cors
        .and_then(|c| c.access_control_allow_methods())
        .map(|m| m.items().iter().map(|m| m.as_str().to_string()).collect())
        .unwrap_or_default();
    methods.sort();
    let security = c.security_headers_config();
    Shape {
        origins: cors
            .and_then(|c| c.access_control_allow_origins())
            .map(|o| o.items().to_vec())
            .unwrap_or_default(),
        methods,
        max_age: cors.and_then(|c| c.access_control_max_age_sec()),
        origin_override: cors.is_some_and(|c| c.origin_override()),
        nosniff: security.and_then(|s| s.content_type_options()).is_some(),
        referrer: security
            .and_then(|s| s.referrer_policy())
            .map(|r| r.referrer_policy().as_str().to_string()),
        hsts: security.and_then(|s| s.strict_transport_security()).map(|h| {
            (
                h.access_control_max_age_sec(),
                h.include_subdomains() == Some(true),
                h.preload() == Some(true),
            )
        }),
    }
}

/// One line per difference between the policy and the settings.
pub fn differences(actual: &Observed, want: &OwnedHeaders) -> anyhow::Result<Vec<String>> {
    let (have, want) = (shape(&actual.config), shape(&config(want)?));
    let mut out = Vec::new();
    let mut note = |what: &str, have: String, want: String| {
        if have != want {
            out.push(format!("{what}: {have} → {want}"));
        }
    };
    note("CORS origins", have.origins.join(","), want.origins.join(","));
    note("CORS methods", have.methods.join(","), want.methods.join(","));
    note(
        "CORS max age",
        format!("{:?}", have.max_age),
        format!("{:?}", want.max_age),
    );
    note(
        "origin override",
        have.origin_override.to_string(),
        want.origin_override.to_string(),
    );
    note("X-Content-Type-Options", on(have.nosniff), on(want.nosniff));
    note(
        "Referrer-Policy",
        have.referrer.unwrap_or("none".into()),
        want.referrer.unwrap_or("none".into()),
    );
    note("Strict-Transport-Security", hsts(have.hsts), hsts(want.hsts));
    Ok(out)
}

fn on(b: bool) -> String {
    if b { "nosniff" } else { "none" }.to_string()
}

fn hsts(h: Option<(i32, bool, bool)>) -> String {
    match h {
        None => "none".into(),
        Some((age, sub, preload)) => format!(
            "max-age={age}{}{}",
            if sub { "; includeSubDomains" } else { "" },
            if preload { "; preload" } else { "" }
        ),
    }
}

/// The policy's config: CORS for exactly the given origins (GET, HEAD,
/// OPTIONS; any request header; origin override on, so S3's own answer never
/// decides), and the security headers asked for.
pub fn config(want: &OwnedHeaders) -> anyhow::Result<ResponseHeadersPolicyConfig> {
    use ResponseHeadersPolicyAccessControlAllowMethodsValues as M;
    let methods = vec![M::Get, M::Head, M::Options];
    let cors = ResponseHeadersPolicyCorsConfig::builder()
        .access_control_allow_origins(
            ResponseHeadersPolicyAccessControlAllowOrigins::builder()
                .quantity(want.origins.len() as i32)
                .set_items(Some(want.origins.clone()))
                .build()?,
        )
        .access_control_allow_headers(
            ResponseHeadersPolicyAccessControlAllowHeaders::builder()
                .quantity(1)
                .items("*")
                .build()?,
        )
        .access_control_allow_methods(
            ResponseHeadersPolicyAccessControlAllowMethods::builder()
                .quantity(methods.len() as i32)
                .set_items(Some(methods))
                .build()?,
        )
        .access_control_allow_credentials(false)
        .access_control_max_age_sec(CORS_MAX_AGE)
        .origin_override(true)
        .build()?;
    let mut c = ResponseHeadersPolicyConfig::builder()
        .name(&want.name)
        .comment(&want.comment)
        .cors_config(cors);
    if want.security_headers {
        let mut security = ResponseHeadersPolicySecurityHeadersConfig::builder()
            .content_type_options(
                ResponseHeadersPolicyContentTypeOptions::builder()
                    .r#override(true)
                    .build()?,
            )
            .referrer_policy(
                ResponseHeadersPolicyReferrerPolicy::builder()
                    .referrer_policy(ReferrerPolicyList::StrictOriginWhenCrossOrigin)
                    .r#override(true)
                    .build()?,
            );
        if let Some(h) = want.hsts {
            security = security.strict_transport_security(
                ResponseHeadersPolicyStrictTransportSecurity::builder()
                    .access_control_max_age_sec(h.max_age)
                    .include_subdomains(h.include_subdomains)
                    .preload(h.preload)
                    .r#override(true)
                    .build()?,
            );
        }
        c = c.security_headers_config(security.build());
    }
    Ok(c.build()?)
}

/// Returns the new policy's id.
pub async fn create(cf: &Client, want: &OwnedHeaders) -> anyhow::Result<String> {
    match cf
        .create_response_headers_policy()
        .response_headers_policy_config(config(want)?)
        .send()
        .await
    {
        Ok(out) => Ok(out.response_headers_policy.map(|p| p.id).unwrap_or_default()),
        // An earlier, interrupted run created it after this run looked.
        Err(e) if code(&e) == Some("ResponseHeadersPolicyAlreadyExists") => observe(cf, &want.name)
            .await?
            .filter(|p| p.is_owned(&want.comment))
            .map(|p| p.id)
            .ok_or_else(|| anyhow!("response headers policy {}: exists but is not this stack's", want.name)),
        Err(e) => Err(describe(
            format!("response headers policy {}: CreateResponseHeadersPolicy", want.name),
            e,
        )),
    }
}

/// Send the whole config with the current ETag.
pub async fn update(cf: &Client, id: &str, want: &OwnedHeaders) -> anyhow::Result<()> {
    let what = |op: &str| format!("response headers policy {}: {op}", want.name);
    let current = cf
        .get_response_headers_policy()
        .id(id)
        .send()
        .await
        .map_err(|e| describe(what("GetResponseHeadersPolicy"), e))?;
    cf.update_response_headers_policy()
        .id(id)
        .set_if_match(current.e_tag)
        .response_headers_policy_config(config(want)?)
        .send()
        .await
        .map_err(|e| describe(what("UpdateResponseHeadersPolicy"), e))?;
    Ok(())
}

/// Delete it once no distribution uses it; CloudFront may count it in use
/// for a while after the distribution stopped: wait through that.
pub async fn delete(
    cf: &Client,
    id: &str,
    name: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    let what = |op: &str| format!("response headers policy {name}: {op}");
    let current = match cf.get_response_headers_policy().id(id).send().await {
        Ok(c) => c,
        Err(e) if code(&e) == Some("NoSuchResponseHeadersPolicy") => return Ok(()),
        Err(e) => return Err(describe(what("GetResponseHeadersPolicy"), e)),
    };
    let etag = current.e_tag;
    let send = || {
        cf.delete_response_headers_policy()
            .id(id)
            .set_if_match(etag.clone())
            .send()
    };
    match waiting
        .through(is_code(&["ResponseHeadersPolicyInUse"]), progress, send)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("NoSuchResponseHeadersPolicy") => Ok(()),
        Err(e) => Err(describe(what("DeleteResponseHeadersPolicy"), e)),
    }
}
