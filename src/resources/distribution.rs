//! The CloudFront distribution: find it (by its comment, confirmed by the
//! ownership tag), create it, update only the fields cdnctl manages (whole
//! config back with If-Match), disable, wait for and delete it.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, DefaultCacheBehavior, DistributionConfig, DistributionConfigWithTags,
    HttpVersion, Method, MinimumProtocolVersion, Origin, Origins, PriceClass, S3OriginConfig, SslSupportMethod, Tag,
    Tags, ViewerCertificate, ViewerProtocolPolicy,
};
use aws_sdk_cloudfront::Client;

use crate::aws::{code, describe, message, optional};
use crate::spec::{Spec, CACHING_OPTIMIZED, CORS_S3_ORIGIN, ORIGIN_ID};

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    /// "InProgress" or "Deployed".
    pub status: String,
    pub etag: String,
    pub config: DistributionConfig,
    pub tags: BTreeMap<String, String>,
}

/// What ListDistributions tells about this stack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    /// Distributions carrying this stack's comment (normally one).
    pub candidates: Vec<(String, String)>,
    /// Another distribution that already has the custom domain as an alias.
    pub alias_taken_by: Option<String>,
}

pub async fn list(cf: &Client, spec: &Spec) -> anyhow::Result<Listing> {
    let mut listing = Listing::default();
    let mut pages = cf.list_distributions().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe("distribution: ListDistributions", e))?;
        for d in page.distribution_list().map(|l| l.items()).unwrap_or_default() {
            let ours = d.comment == spec.distribution.comment;
            if ours {
                listing.candidates.push((d.id.clone(), d.arn.clone()));
            }
            let aliases = d.aliases.as_ref().map(|a| a.items()).unwrap_or_default();
            if !ours && aliases.iter().any(|a| spec.distribution.aliases.contains(a)) {
                listing.alias_taken_by = Some(d.id.clone());
            }
        }
    }
    Ok(listing)
}

/// The full state of one distribution: config with its ETag, status, tags.
pub async fn observe(cf: &Client, id: &str, arn: &str) -> anyhow::Result<Option<Observed>> {
    let (dist, tags) = tokio::join!(cf.get_distribution().id(id).send(), tags_of(cf, id, arn));
    let Some(dist) = optional(format!("distribution {id}: GetDistribution"), dist)? else {
        return Ok(None);
    };
    let tags = tags?;
    let etag = dist.e_tag.clone().unwrap_or_default();
    let d = dist
        .distribution
        .ok_or_else(|| anyhow!("distribution {id}: GetDistribution returned no distribution"))?;
    let config = d
        .distribution_config
        .ok_or_else(|| anyhow!("distribution {id}: GetDistribution returned no config"))?;
    Ok(Some(Observed {
        id: d.id,
        arn: d.arn,
        domain_name: d.domain_name,
        status: d.status,
        etag,
        config,
        tags,
    }))
}

/// The ids of other resources that the distribution's config names.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    pub oac_id: &'a str,
    /// The given certificate or the stack's own; `None` without a domain.
    pub certificate_arn: Option<&'a str>,
}

/// A distribution's tags (none if it has gone).
async fn tags_of(cf: &Client, id: &str, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let out = optional(
        format!("distribution {id}: ListTagsForResource"),
        cf.list_tags_for_resource().resource(arn).send().await,
    )?;
    Ok(out
        .and_then(|t| t.tags)
        .map(|t| {
            t.items()
                .iter()
                .map(|t| (t.key.clone(), t.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default())
}

/// `current` with every field cdnctl manages set as the spec says, and one
/// line per field that changed. Fields cdnctl does not manage are kept as they
/// are, so a hand-made addition (a second behavior, logging) survives updates.
pub fn reconcile(
    current: &DistributionConfig,
    spec: &Spec,
    links: Links,
) -> anyhow::Result<(DistributionConfig, Vec<String>)> {
    let want = &spec.distribution;
    let oac_id = links.oac_id;
    let mut c = current.clone();
    let mut changes = Vec::new();
    let mut note = |field: &str, was: String, now: String| {
        if was != now {
            changes.push(format!("{field}: {was} → {now}"));
        }
    };

    // Our origin; others (added by hand) are left alone.
    let mut origins = c.origins.take().map(|o| o.items).unwrap_or_default();
    let desired_origin = Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(&want.origin_domain)
        .origin_access_control_id(oac_id)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()?;
    match origins.iter_mut().find(|o| o.id == ORIGIN_ID) {
        Some(o) => {
            note("origin", o.domain_name.clone(), want.origin_domain.clone());
            note(
                "origin access control",
                o.origin_access_control_id.clone().unwrap_or_default(),
                oac_id.to_string(),
            );
            let oai = o
                .s3_origin_config
                .as_ref()
                .map(|s| s.origin_access_identity.clone())
                .unwrap_or_default();
            note("origin access identity", oai, String::new());
            o.domain_name = desired_origin.domain_name.clone();
            o.origin_access_control_id = desired_origin.origin_access_control_id.clone();
            o.s3_origin_config = desired_origin.s3_origin_config.clone();
            o.custom_origin_config = None;
        }
        None => {
            note("origin", "missing".into(), want.origin_domain.clone());
            origins.push(desired_origin);
        }
    }
    c.origins = Some(
        Origins::builder()
            .quantity(origins.len() as i32)
            .set_items(Some(origins))
            .build()?,
    );

    let mut b = c
        .default_cache_behavior
        .take()
        .unwrap_or_else(|| new_behavior().expect("valid behavior"));
    note("default behavior origin", b.target_origin_id.clone(), ORIGIN_ID.into());
    note(
        "viewer protocol policy",
        b.viewer_protocol_policy.as_str().into(),
        "redirect-to-https".into(),
    );
    note("compress", format!("{}", b.compress.unwrap_or(false)), "true".into());
    note(
        "cache policy",
        b.cache_policy_id.clone().unwrap_or_default(),
        CACHING_OPTIMIZED.into(),
    );
    note(
        "origin request policy",
        b.origin_request_policy_id.clone().unwrap_or_default(),
        CORS_S3_ORIGIN.into(),
    );
    let methods = |m: &Option<AllowedMethods>| {
        let mut v: Vec<String> = m
            .as_ref()
            .map(|m| m.items.iter().map(|x| x.as_str().to_string()).collect())
            .unwrap_or_default();
        v.sort();
        v.join(",")
    };
    note("allowed methods", methods(&b.allowed_methods), "GET,HEAD".into());
    b.target_origin_id = ORIGIN_ID.into();
    b.viewer_protocol_policy = ViewerProtocolPolicy::RedirectToHttps;
    b.compress = Some(true);
    b.cache_policy_id = Some(CACHING_OPTIMIZED.into());
    b.origin_request_policy_id = Some(CORS_S3_ORIGIN.into());
    b.allowed_methods = Some(get_head()?);
    // Legacy cache settings cannot be combined with a cache policy.
    #[allow(deprecated)]
    {
        b.forwarded_values = None;
        b.min_ttl = None;
        b.default_ttl = None;
        b.max_ttl = None;
    }
    c.default_cache_behavior = Some(b);

    note("enabled", c.enabled.to_string(), "true".into());
    c.enabled = true;
    note("comment", c.comment.clone(), want.comment.clone());
    c.comment = want.comment.clone();
    let price = c
        .price_class
        .as_ref()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    note("price class", price, want.price_class.clone());
    c.price_class = Some(PriceClass::from(want.price_class.as_str()));
    let http = c
        .http_version
        .as_ref()
        .map(|h| h.as_str().to_string())
        .unwrap_or_default();
    note("HTTP versions", http, "http2and3".into());
    c.http_version = Some(HttpVersion::Http2and3);
    note("IPv6", format!("{}", c.is_ipv6_enabled.unwrap_or(false)), "true".into());
    c.is_ipv6_enabled = Some(true);

    let aliases = |a: &Option<Aliases>| a.as_ref().map(|a| a.items().join(",")).unwrap_or_default();
    let desired_aliases = Aliases::builder()
        .quantity(want.aliases.len() as i32)
        .set_items((!want.aliases.is_empty()).then(|| want.aliases.clone()))
        .build()?;
    note("aliases", or_none(aliases(&c.aliases)), or_none(want.aliases.join(",")));
    c.aliases = Some(desired_aliases);

    let cert = |v: &Option<ViewerCertificate>| match v {
        Some(v) if v.acm_certificate_arn.as_deref().is_some_and(|a| !a.is_empty()) => format!(
            "{} ({}, {})",
            v.acm_certificate_arn.as_deref().unwrap_or(""),
            v.ssl_support_method.as_ref().map(|m| m.as_str()).unwrap_or("-"),
            v.minimum_protocol_version.as_ref().map(|m| m.as_str()).unwrap_or("-")
        ),
        Some(v) if v.cloud_front_default_certificate == Some(true) => "CloudFront default".into(),
        _ => "none".into(),
    };
    let desired_cert = viewer_certificate(links.certificate_arn);
    note(
        "certificate",
        cert(&c.viewer_certificate),
        cert(&Some(desired_cert.clone())),
    );
    if cert(&c.viewer_certificate) != cert(&Some(desired_cert.clone())) {
        c.viewer_certificate = Some(desired_cert);
    }

    let waf = c.web_acl_id.clone().unwrap_or_default();
    note(
        "WAF web ACL",
        or_none(waf),
        or_none(want.waf_arn.clone().unwrap_or_default()),
    );
    c.web_acl_id = Some(want.waf_arn.clone().unwrap_or_default());

    Ok((c, changes))
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

fn get_head() -> anyhow::Result<AllowedMethods> {
    let methods = vec![Method::Get, Method::Head];
    Ok(AllowedMethods::builder()
        .quantity(2)
        .set_items(Some(methods.clone()))
        .cached_methods(CachedMethods::builder().quantity(2).set_items(Some(methods)).build()?)
        .build()?)
}

fn new_behavior() -> anyhow::Result<DefaultCacheBehavior> {
    Ok(DefaultCacheBehavior::builder()
        .target_origin_id(ORIGIN_ID)
        .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
        .build()?)
}

fn viewer_certificate(acm_arn: Option<&str>) -> ViewerCertificate {
    match acm_arn {
        Some(arn) => ViewerCertificate::builder()
            .acm_certificate_arn(arn)
            .ssl_support_method(SslSupportMethod::SniOnly)
            .minimum_protocol_version(MinimumProtocolVersion::TlSv122021)
            .build(),
        None => ViewerCertificate::builder()
            .cloud_front_default_certificate(true)
            .build(),
    }
}

/// The config of a new distribution: an empty one, reconciled.
pub fn new_config(spec: &Spec, links: Links) -> anyhow::Result<DistributionConfig> {
    let base = DistributionConfig::builder()
        .caller_reference(&spec.distribution.caller_reference)
        .comment(&spec.distribution.comment)
        .enabled(true)
        .default_cache_behavior(new_behavior()?)
        .origins(Origins::builder().quantity(0).set_items(Some(Vec::new())).build()?)
        .build()?;
    Ok(reconcile(&base, spec, links)?.0)
}

fn tags(spec: &Spec) -> anyhow::Result<Tags> {
    let items = spec
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tags::builder().set_items(Some(items)).build())
}

pub fn tag_differences(actual: &BTreeMap<String, String>, spec: &Spec) -> Vec<String> {
    spec.tags
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(v))
        .map(|(k, v)| {
            format!(
                "tag {k}: {}, expected {v}",
                actual.get(k).map(String::as_str).unwrap_or("missing")
            )
        })
        .collect()
}

/// What a create or update leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
}

/// Create the distribution, tagged, with the stack's CallerReference.
///
/// CloudFront answers DistributionAlreadyExists, naming the distribution, for
/// any reference used before, even by the same request retried after a lost
/// answer. If that distribution is this stack's, it is the one wanted. If it no
/// longer exists, the reference belonged to a deleted distribution (whether
/// CloudFront keeps those is not documented): create with a fresh reference.
pub async fn create(cf: &Client, spec: &Spec, links: Links<'_>) -> anyhow::Result<Written> {
    let reference = &spec.distribution.caller_reference;
    let id = match send_create(cf, spec, links, reference).await? {
        Created::New(written) => return Ok(written),
        Created::Exists(id) => id,
    };
    let Some(d) = optional(
        format!("distribution {id}: GetDistribution"),
        cf.get_distribution().id(&id).send().await,
    )?
    .and_then(|o| o.distribution) else {
        let fresh = format!(
            "{reference}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
        );
        return match send_create(cf, spec, links, &fresh).await? {
            Created::New(written) => Ok(written),
            Created::Exists(_) => Err(anyhow!(
                "distribution: CloudFront refused the caller reference {fresh}: run the command again"
            )),
        };
    };
    let tags = tags_of(cf, &id, &d.arn).await?;
    if !spec.is_owned(&tags) {
        anyhow::bail!(
            "distribution {id}: holds this stack's caller reference ({reference}) but not its cdnctl:stack tag: run `cdnctl up --adopt` to take it over"
        );
    }
    Ok(Written {
        id: d.id,
        arn: d.arn,
        domain_name: d.domain_name,
    })
}

enum Created {
    New(Written),
    /// The id CloudFront names as already holding the caller reference.
    Exists(String),
}

async fn send_create(cf: &Client, spec: &Spec, links: Links<'_>, reference: &str) -> anyhow::Result<Created> {
    let mut config = new_config(spec, links)?;
    config.caller_reference = reference.to_string();
    let config = DistributionConfigWithTags::builder()
        .distribution_config(config)
        .tags(tags(spec)?)
        .build();
    match cf
        .create_distribution_with_tags()
        .distribution_config_with_tags(config)
        .send()
        .await
    {
        Ok(out) => {
            let d = out
                .distribution
                .ok_or_else(|| anyhow!("distribution: CreateDistribution returned nothing"))?;
            Ok(Created::New(Written {
                id: d.id,
                arn: d.arn,
                domain_name: d.domain_name,
            }))
        }
        Err(e) if code(&e) == Some("DistributionAlreadyExists") => {
            // "… associated with another distribution. Already exists: E2O6U8DECVP5UD"
            let message = message(&e).unwrap_or("");
            let id = message
                .rsplit(' ')
                .next()
                .unwrap_or("")
                .trim_matches(|c: char| !c.is_ascii_alphanumeric());
            if id.is_empty() {
                return Err(anyhow!(
                    "distribution: CloudFront says {reference} is taken ({message}) without naming the distribution"
                ));
            }
            Ok(Created::Exists(id.to_string()))
        }
        Err(e) => Err(describe("distribution: CreateDistributionWithTags", e)),
    }
}

/// Send back the whole config with If-Match. `done` tells whether a config
/// already has what this update wants: if the ETag changed because an earlier
/// attempt of this very update went through (its answer lost), that is success.
pub async fn update(
    cf: &Client,
    id: &str,
    etag: &str,
    config: DistributionConfig,
    done: impl Fn(&DistributionConfig) -> bool,
) -> anyhow::Result<()> {
    match cf
        .update_distribution()
        .id(id)
        .if_match(etag)
        .distribution_config(config)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("PreconditionFailed") => {
            let now = cf
                .get_distribution_config()
                .id(id)
                .send()
                .await
                .map_err(|e| describe(format!("distribution {id}: GetDistributionConfig"), e))?;
            if now.distribution_config.as_ref().is_some_and(done) {
                Ok(())
            } else {
                Err(anyhow!(
                    "distribution {id}: changed by someone else while cdnctl was updating it: run the command again"
                ))
            }
        }
        Err(e) => Err(describe(format!("distribution {id}: UpdateDistribution"), e)),
    }
}

pub async fn put_tags(cf: &Client, arn: &str, spec: &Spec) -> anyhow::Result<()> {
    cf.tag_resource()
        .resource(arn)
        .tags(tags(spec)?)
        .send()
        .await
        .map_err(|e| describe("distribution: TagResource", e))?;
    Ok(())
}

/// Set Enabled to false, sending back the whole config as observed, with its ETag.
pub async fn disable(cf: &Client, id: &str, etag: &str, observed: &DistributionConfig) -> anyhow::Result<()> {
    let mut config = observed.clone();
    config.enabled = false;
    update(cf, id, etag, config, |c| !c.enabled).await
}

/// Delete with the latest ETag. A distribution already gone is fine.
pub async fn delete(cf: &Client, id: &str) -> anyhow::Result<()> {
    let Some(current) = optional(
        format!("distribution {id}: GetDistribution"),
        cf.get_distribution().id(id).send().await,
    )?
    else {
        return Ok(());
    };
    match cf.delete_distribution().id(id).set_if_match(current.e_tag).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("NoSuchDistribution") => Ok(()),
        Err(e) if code(&e) == Some("DistributionNotDisabled") => Err(anyhow!(
            "distribution {id}: not yet disabled and deployed: run `cdnctl down` again in a few minutes"
        )),
        Err(e) => Err(describe(format!("distribution {id}: DeleteDistribution"), e)),
    }
}

/// Poll until the distribution is Deployed. The SDK's waiter polls no more
/// often than once a minute, which leaves a finished deployment idle for up to
/// a minute; this polls at `every`, and calls `progress` with each status.
pub async fn wait_deployed(
    cf: &Client,
    id: &str,
    every: Duration,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    loop {
        let out = cf
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| describe(format!("distribution {id}: GetDistribution"), e))?;
        let status = out.distribution.map(|d| d.status).unwrap_or_default();
        progress(&status);
        if status == "Deployed" {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            anyhow::bail!(
                "distribution {id}: still {status} after {}s: CloudFront is still deploying; run the command again later",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(every).await;
    }
}
