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

use crate::aws::{created_or_found, describe, Guarded, Waiting};
use crate::resources::kit::{Action, Cx, Fact, Known, Learned, Part};
use crate::resources::Kind;
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
    let created = cf
        .create_response_headers_policy()
        .response_headers_policy_config(config(want)?)
        .send()
        .await;
    created_or_found(
        format!("response headers policy {}: CreateResponseHeadersPolicy", want.name),
        created,
        |out| out.response_headers_policy.map(|p| p.id).unwrap_or_default(),
        || async {
            observe(cf, &want.name)
                .await?
                .filter(|p| p.is_owned(&want.comment))
                .map(|p| p.id)
                .ok_or_else(|| anyhow!("response headers policy {}: exists but is not this stack's", want.name))
        },
    )
    .await
}

/// Send the whole config with the current ETag.
pub async fn update(cf: &Client, id: &str, want: &OwnedHeaders) -> anyhow::Result<()> {
    let config = config(want)?;
    guarded(&want.name, "UpdateResponseHeadersPolicy")
        .update(
            || cf.get_response_headers_policy().id(id).send(),
            |current| current.e_tag.clone(),
            |etag| {
                cf.update_response_headers_policy()
                    .id(id)
                    .set_if_match(etag)
                    .response_headers_policy_config(config)
                    .send()
            },
        )
        .await?;
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
    guarded(name, "DeleteResponseHeadersPolicy")
        .delete(
            || cf.get_response_headers_policy().id(id).send(),
            |current| current.e_tag.clone(),
            |etag| cf.delete_response_headers_policy().id(id).set_if_match(etag).send(),
            waiting,
            progress,
        )
        .await
}

fn guarded(name: &str, write: &'static str) -> Guarded {
    Guarded {
        what: format!("response headers policy {name}"),
        get: "GetResponseHeadersPolicy",
        write,
    }
}

/// The stack's own response headers policy's steps, for `up` and `down`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    Update {
        id: String,
    },
    /// Once no distribution uses it.
    Delete {
        id: String,
    },
}

impl Action for Step {
    const KIND: Kind = Kind::ResponseHeadersPolicy;

    fn needs(&self) -> Vec<Fact> {
        match self {
            Step::Create | Step::Update { .. } => vec![],
            // Once the distribution uses another (deployed), or is gone.
            Step::Delete { .. } => Fact::unused_by(Kind::Distribution),
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![Fact::Exists(Self::KIND)],
            Step::Update { .. } => vec![Fact::Written(Self::KIND)],
            Step::Delete { .. } => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        apply(self, cx).await
    }
}

async fn apply(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    let cf = &cx.clients.cloudfront;
    Ok(match step {
        Step::Create => Learned::Known(
            Kind::ResponseHeadersPolicy,
            Known::id(create(cf, owned(cx.spec)?).await?),
        ),
        Step::Update { id } => {
            update(cf, id, owned(cx.spec)?).await?;
            Learned::Nothing
        }
        Step::Delete { id } => {
            let name = crate::spec::headers_policy_name(&cx.spec.bucket);
            let label = format!("response headers policy {name}");
            let progress = crate::events::on_refusal(cx.events, &label, "waiting for CloudFront to release it");
            delete(cf, id, &name, cx.waiting, progress).await?;
            Learned::Nothing
        }
    })
}

fn owned(spec: &crate::spec::Spec) -> anyhow::Result<&OwnedHeaders> {
    match &spec.headers {
        crate::spec::Headers::Owned(h) => Ok(h),
        crate::spec::Headers::Managed { .. } => Err(anyhow!(
            "response headers policy: the settings need none of the stack's own"
        )),
    }
}

/// Why `up` must not start: a policy of the stack's name that it did not make.
pub fn refusal(observed: &Observed, want: &OwnedHeaders) -> Option<String> {
    (!observed.is_owned(&want.comment)).then(|| {
        format!(
            "response headers policy {}: exists but was not made by cdnctl for this stack (its comment is not {:?}): \
             rename or delete it, cdnctl will not change it",
            want.name, want.comment
        )
    })
}

/// `down`: delete the stack's policy once no distribution uses it.
pub fn down(observed: &Observed, users: &[String]) -> Part<Step> {
    let delete = Step::Delete {
        id: observed.id.clone(),
    };
    Part::delete_when_unused(
        delete,
        &format!("response headers policy {}", observed.config.name()),
        users,
    )
}

/// `up`: create the stack's own policy (`owned`: the one found, if the
/// stack's), or correct what differs.
pub fn up(owned: Option<&Observed>, want: &OwnedHeaders) -> Part<Step> {
    let mut part = Part::default();
    let r = format!("response headers policy {}", want.name);
    match owned {
        None => part.step(Step::Create, &r, "create", vec![]),
        Some(p) => {
            let diff = differences(p, want).unwrap_or_default();
            if !diff.is_empty() {
                part.step(Step::Update { id: p.id.clone() }, &r, "update", diff);
            }
        }
    }
    part
}

/// `up` with a managed policy (`managed`) in its place: delete the stack's
/// own once no distribution uses it, which is after a deploy (`wait`).
pub fn retire(p: &Observed, managed: &str, users: &[String], wait: bool) -> Part<Step> {
    let mut part = Part::default();
    let r = format!("response headers policy {}", p.config.name());
    if !wait {
        part.note(format!(
            "{r}: no longer needed ({managed} replaces it); `cdnctl up` deletes it once the distribution has deployed"
        ));
    } else if users.is_empty() {
        part.step(
            Step::Delete { id: p.id.clone() },
            &r,
            "delete (no longer needed)",
            vec![format!(
                "the settings need no policy of the stack's own: {managed} replaces it"
            )],
        );
    }
    part
}
