//! The config cdnctl wants for the distribution: pure. `reconcile` sets
//! every field cdnctl manages as the spec says and keeps the others, so a
//! hand-made addition survives updates.

use std::collections::BTreeMap;

use aws_sdk_cloudfront::types::{
    Aliases, AllowedMethods, CachedMethods, DefaultCacheBehavior, DistributionConfig, EventType, FunctionAssociation,
    FunctionAssociations, HttpVersion, Method, MinimumProtocolVersion, Origin, Origins, PriceClass, S3OriginConfig,
    SslSupportMethod, Tag, Tags, ViewerCertificate, ViewerProtocolPolicy,
};

use crate::resources::kit::{Facts, Known};
use crate::resources::Kind;
use crate::settings::Waf;
use crate::spec::{DistributionSpec, Spec, CACHING_OPTIMIZED, CORS_S3_ORIGIN, ORIGIN_ID};

/// The ids of other resources that the distribution's config names.
#[derive(Debug, Clone, Copy)]
pub struct Links<'a> {
    pub oac_id: &'a str,
    /// The response headers policy: a managed one's id or the stack's own.
    pub headers_policy_id: &'a str,
    /// The given certificate or the stack's own; `None` without a domain.
    pub certificate_arn: Option<&'a str>,
    /// Old names kept as aliases beside the new one while the domain moves.
    pub keep_aliases: &'a [String],
    /// The stack's viewer-request function (with releases on).
    pub function_arn: Option<&'a str>,
}

impl<'a> Links<'a> {
    /// The ids the distribution links to, from what this run knows; a step
    /// that needs one not yet known cannot go on.
    pub fn known(facts: &'a Facts) -> anyhow::Result<Links<'a>> {
        Ok(Links {
            oac_id: facts.id(Kind::OriginAccessControl)?,
            headers_policy_id: facts.id(Kind::ResponseHeadersPolicy)?,
            certificate_arn: facts.get(Kind::Certificate).map(|k| k.id.as_str()),
            keep_aliases: &facts.keep_aliases,
            function_arn: facts.get(Kind::Function).map(|k| k.arn.as_str()),
        })
    }

    /// The same for the plan: an id that a step of this run will create is
    /// shown as "(new)"; the certificate's only with a custom domain, the
    /// function's only with releases on.
    pub fn planned(facts: &'a Facts, domain: bool, releases: bool) -> Links<'a> {
        let id = |kind| facts.get(kind).map_or("(new)", |k: &Known| k.id.as_str());
        Links {
            oac_id: id(Kind::OriginAccessControl),
            headers_policy_id: id(Kind::ResponseHeadersPolicy),
            certificate_arn: facts
                .get(Kind::Certificate)
                .map(|k| k.id.as_str())
                .or(domain.then_some("(new)")),
            keep_aliases: &facts.keep_aliases,
            function_arn: releases.then(|| facts.get(Kind::Function).map_or("(new)", |k| k.arn.as_str())),
        }
    }
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
    let mut c = current.clone();
    let mut changes = Changes::default();
    set_origin(&mut c, want, links.oac_id, &mut changes)?;
    set_default_behavior(&mut c, links.headers_policy_id, &mut changes)?;
    set_function(&mut c, &spec.bucket, links.function_arn, &mut changes)?;
    set_delivery(&mut c, want, &mut changes);
    set_aliases(&mut c, want, links.keep_aliases, &mut changes)?;
    set_certificate(&mut c, links.certificate_arn, &mut changes);
    set_web_acl(&mut c, &want.waf, &mut changes);
    changes.0.extend(super::errors::set(&mut c, spec)?);
    Ok((c, changes.0))
}

/// Only the first step of taking over a distribution that reads the bucket
/// through an origin access identity (the CDK's): its bucket origin read
/// through the OAC instead, and the comment by which cdnctl finds it. Nothing
/// a visitor notices, once the bucket policy grants the OAC beside the
/// identity; `reconcile` (`up`) brings the rest to the spec afterwards.
pub fn to_oac(
    current: &DistributionConfig,
    spec: &Spec,
    oac_id: &str,
) -> anyhow::Result<(DistributionConfig, Vec<String>)> {
    let mut c = current.clone();
    let mut changes = Changes::default();
    set_origin(&mut c, &spec.distribution, oac_id, &mut changes)?;
    changes.note("comment", c.comment.clone(), spec.distribution.comment.clone());
    c.comment = spec.distribution.comment.clone();
    Ok((c, changes.0))
}

/// One line per managed field whose value changes, in the order they are set.
#[derive(Default)]
struct Changes(Vec<String>);

impl Changes {
    fn note(&mut self, field: &str, was: String, now: String) {
        if was != now {
            self.0.push(format!("{field}: {was} → {now}"));
        }
    }
}

/// Our origin, reading the bucket through the origin access control; others
/// (added by hand) are left alone.
fn set_origin(
    c: &mut DistributionConfig,
    want: &DistributionSpec,
    oac_id: &str,
    changes: &mut Changes,
) -> anyhow::Result<()> {
    let mut origins = c.origins.take().map(|o| o.items).unwrap_or_default();
    let desired_origin = Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(&want.origin_domain)
        .origin_access_control_id(oac_id)
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()?;
    take_over_bucket_origin(c, &mut origins, &want.origin_domain, changes);
    match origins.iter_mut().find(|o| o.id == ORIGIN_ID) {
        Some(o) => {
            changes.note("origin", o.domain_name.clone(), want.origin_domain.clone());
            changes.note(
                "origin access control",
                o.origin_access_control_id.clone().unwrap_or_default(),
                oac_id.to_string(),
            );
            let oai = o
                .s3_origin_config
                .as_ref()
                .map(|s| s.origin_access_identity.clone())
                .unwrap_or_default();
            changes.note("origin access identity", oai, String::new());
            o.domain_name = desired_origin.domain_name.clone();
            o.origin_access_control_id = desired_origin.origin_access_control_id.clone();
            o.s3_origin_config = desired_origin.s3_origin_config.clone();
            o.custom_origin_config = None;
        }
        None => {
            changes.note("origin", "missing".into(), want.origin_domain.clone());
            origins.push(desired_origin);
        }
    }
    c.origins = Some(
        Origins::builder()
            .quantity(origins.len() as i32)
            .set_items(Some(origins))
            .build()?,
    );
    Ok(())
}

/// A distribution cdnctl did not make (the CDK's) reads the bucket through
/// an origin of another id, often with an origin access identity. Rather
/// than add a second origin beside it, that origin becomes cdnctl's: renamed
/// to `ORIGIN_ID`, with the behaviors that named it following, so that one
/// update moves it to the OAC and the identity is left unused.
fn take_over_bucket_origin(
    c: &mut DistributionConfig,
    origins: &mut [Origin],
    bucket_domain: &str,
    changes: &mut Changes,
) {
    if origins.iter().any(|o| o.id == ORIGIN_ID) {
        return;
    }
    // An origin group names its members by id: such an origin keeps it.
    let grouped = |id: &str| {
        c.origin_groups
            .as_ref()
            .and_then(|g| g.items.as_ref())
            .is_some_and(|groups| {
                groups.iter().any(|g| {
                    g.members
                        .as_ref()
                        .is_some_and(|m| m.items.iter().any(|m| m.origin_id == id))
                })
            })
    };
    let Some(o) = origins.iter_mut().find(|o| {
        o.domain_name.eq_ignore_ascii_case(bucket_domain) && o.custom_origin_config.is_none() && !grouped(&o.id)
    }) else {
        return;
    };
    let old = std::mem::replace(&mut o.id, ORIGIN_ID.to_string());
    changes.note("origin id", old.clone(), ORIGIN_ID.into());
    if let Some(b) = c.default_cache_behavior.as_mut().filter(|b| b.target_origin_id == old) {
        b.target_origin_id = ORIGIN_ID.into();
    }
    if let Some(behaviors) = c.cache_behaviors.as_mut() {
        for b in behaviors.items.iter_mut().flatten() {
            if b.target_origin_id == old {
                b.target_origin_id = ORIGIN_ID.into();
            }
        }
    }
}

/// The default behavior: our origin over HTTPS, compressed, with the managed
/// cache and origin request policies and the stack's response headers policy.
fn set_default_behavior(
    c: &mut DistributionConfig,
    headers_policy_id: &str,
    changes: &mut Changes,
) -> anyhow::Result<()> {
    let mut b = c
        .default_cache_behavior
        .take()
        .unwrap_or_else(|| new_behavior().expect("valid behavior"));
    changes.note("default behavior origin", b.target_origin_id.clone(), ORIGIN_ID.into());
    changes.note(
        "viewer protocol policy",
        b.viewer_protocol_policy.as_str().into(),
        "redirect-to-https".into(),
    );
    changes.note("compress", format!("{}", b.compress.unwrap_or(false)), "true".into());
    changes.note(
        "cache policy",
        b.cache_policy_id.clone().unwrap_or_default(),
        CACHING_OPTIMIZED.into(),
    );
    changes.note(
        "origin request policy",
        b.origin_request_policy_id.clone().unwrap_or_default(),
        CORS_S3_ORIGIN.into(),
    );
    changes.note(
        "response headers policy",
        or_none(b.response_headers_policy_id.clone().unwrap_or_default()),
        headers_policy_id.into(),
    );
    let allowed = b.allowed_methods.as_ref();
    changes.note(
        "allowed methods",
        sorted_methods(allowed.map(|m| m.items.as_slice())),
        "GET,HEAD,OPTIONS".into(),
    );
    let cached = allowed.and_then(|m| m.cached_methods.as_ref());
    changes.note(
        "cached methods",
        sorted_methods(cached.map(|c| c.items.as_slice())),
        "GET,HEAD,OPTIONS".into(),
    );
    b.target_origin_id = ORIGIN_ID.into();
    b.viewer_protocol_policy = ViewerProtocolPolicy::RedirectToHttps;
    b.compress = Some(true);
    b.cache_policy_id = Some(CACHING_OPTIMIZED.into());
    b.origin_request_policy_id = Some(CORS_S3_ORIGIN.into());
    b.response_headers_policy_id = Some(headers_policy_id.into());
    b.allowed_methods = Some(get_head_options()?);
    // Legacy cache settings cannot be combined with a cache policy.
    #[allow(deprecated)]
    {
        b.forwarded_values = None;
        b.min_ttl = None;
        b.default_ttl = None;
        b.max_ttl = None;
    }
    c.default_cache_behavior = Some(b);
    Ok(())
}

/// The stack's viewer-request function on the default behavior: its ARN,
/// if the configuration runs it.
pub fn runs_function<'a>(c: &'a DistributionConfig, bucket: &str) -> Option<&'a str> {
    let ours = format!(":function/{}", crate::resources::function::name(bucket));
    c.default_cache_behavior
        .as_ref()
        .and_then(|b| b.function_associations.as_ref())
        .and_then(|f| f.items().iter().find(|a| a.function_arn.ends_with(&ours)))
        .map(|a| a.function_arn.as_str())
}

/// The default behavior's viewer-request function: the stack's with releases
/// on; without, the stack's is removed and any other kept. Associations of
/// other event types, and other behaviors', are left as they are.
fn set_function(
    c: &mut DistributionConfig,
    bucket: &str,
    function_arn: Option<&str>,
    changes: &mut Changes,
) -> anyhow::Result<()> {
    let Some(b) = c.default_cache_behavior.as_mut() else {
        return Ok(());
    };
    let mut items = b
        .function_associations
        .as_ref()
        .map(|f| f.items().to_vec())
        .unwrap_or_default();
    let viewer = |items: &[FunctionAssociation]| {
        items
            .iter()
            .find(|a| a.event_type == EventType::ViewerRequest)
            .map(|a| a.function_arn.clone())
    };
    let was = viewer(&items);
    let ours = format!(":function/{}", crate::resources::function::name(bucket));
    items.retain(|a| {
        a.event_type != EventType::ViewerRequest || (function_arn.is_none() && !a.function_arn.ends_with(&ours))
    });
    if let Some(arn) = function_arn {
        items.push(
            FunctionAssociation::builder()
                .function_arn(arn)
                .event_type(EventType::ViewerRequest)
                .build()?,
        );
    }
    let now = viewer(&items);
    if was == now {
        return Ok(());
    }
    changes.note(
        "viewer-request function",
        or_none(was.unwrap_or_default()),
        or_none(now.unwrap_or_default()),
    );
    b.function_associations = Some(
        FunctionAssociations::builder()
            .quantity(items.len() as i32)
            .set_items(Some(items))
            .build()?,
    );
    Ok(())
}

/// Methods as one comparable line ("" when there are none).
fn sorted_methods(methods: Option<&[Method]>) -> String {
    let mut v: Vec<&str> = methods.unwrap_or_default().iter().map(Method::as_str).collect();
    v.sort();
    v.join(",")
}

/// How the distribution serves: enabled, its comment, price class, HTTP
/// versions and IPv6.
fn set_delivery(c: &mut DistributionConfig, want: &DistributionSpec, changes: &mut Changes) {
    changes.note("enabled", c.enabled.to_string(), "true".into());
    c.enabled = true;
    changes.note("comment", c.comment.clone(), want.comment.clone());
    c.comment = want.comment.clone();
    let price = c
        .price_class
        .as_ref()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    changes.note("price class", price, want.price_class.clone());
    c.price_class = Some(PriceClass::from(want.price_class.as_str()));
    let http = c
        .http_version
        .as_ref()
        .map(|h| h.as_str().to_string())
        .unwrap_or_default();
    changes.note("HTTP versions", http, "http2and3".into());
    c.http_version = Some(HttpVersion::Http2and3);
    changes.note("IPv6", format!("{}", c.is_ipv6_enabled.unwrap_or(false)), "true".into());
    c.is_ipv6_enabled = Some(true);
}

/// The spec's names, then the old ones kept while the domain moves.
fn set_aliases(
    c: &mut DistributionConfig,
    want: &DistributionSpec,
    keep_aliases: &[String],
    changes: &mut Changes,
) -> anyhow::Result<()> {
    let aliases = |a: &Option<Aliases>| a.as_ref().map(|a| a.items().join(",")).unwrap_or_default();
    let mut wanted_aliases = want.aliases.clone();
    wanted_aliases.extend(keep_aliases.iter().filter(|a| !want.aliases.contains(a)).cloned());
    let desired_aliases = Aliases::builder()
        .quantity(wanted_aliases.len() as i32)
        .set_items((!wanted_aliases.is_empty()).then(|| wanted_aliases.clone()))
        .build()?;
    changes.note(
        "aliases",
        or_none(aliases(&c.aliases)),
        or_none(wanted_aliases.join(",")),
    );
    c.aliases = Some(desired_aliases);
    Ok(())
}

/// The ACM certificate (SNI, TLS 1.2 2021) or CloudFront's default one;
/// replaced only when one of those three differs.
fn set_certificate(c: &mut DistributionConfig, certificate_arn: Option<&str>, changes: &mut Changes) {
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
    let desired_cert = viewer_certificate(certificate_arn);
    changes.note(
        "certificate",
        cert(&c.viewer_certificate),
        cert(&Some(desired_cert.clone())),
    );
    if cert(&c.viewer_certificate) != cert(&Some(desired_cert.clone())) {
        c.viewer_certificate = Some(desired_cert);
    }
}

/// A web ACL attached outside cdnctl (Firewall Manager, a security team)
/// stays unless `Setting::WafArn` says otherwise.
fn set_web_acl(c: &mut DistributionConfig, waf: &Waf, changes: &mut Changes) {
    let current = c.web_acl_id.clone().unwrap_or_default();
    let desired = match waf {
        Waf::Unmanaged => current.clone(),
        Waf::Detach => String::new(),
        Waf::Acl(arn) => arn.clone(),
    };
    changes.note("WAF web ACL", or_none(current), or_none(desired.clone()));
    c.web_acl_id = Some(desired);
}

fn or_none(s: String) -> String {
    if s.is_empty() {
        "none".into()
    } else {
        s
    }
}

/// GET and HEAD, and OPTIONS for CORS preflights, all three cached (a
/// preflight's answer is the same for everyone: the policy decides it).
fn get_head_options() -> anyhow::Result<AllowedMethods> {
    let methods = vec![Method::Get, Method::Head, Method::Options];
    Ok(AllowedMethods::builder()
        .quantity(3)
        .set_items(Some(methods.clone()))
        .cached_methods(CachedMethods::builder().quantity(3).set_items(Some(methods)).build()?)
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

pub(super) fn tags(spec: &Spec) -> anyhow::Result<Tags> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Flags, Settings};

    /// The CDK's distribution: one bucket origin of its own id, read through
    /// an origin access identity, served over plain HTTP too.
    fn cdk_config(origin_domain: &str) -> DistributionConfig {
        let origin = Origin::builder()
            .id("SeedCdnStackCdnDistributionOrigin18EFCA8BB")
            .domain_name(origin_domain)
            .s3_origin_config(
                S3OriginConfig::builder()
                    .origin_access_identity("origin-access-identity/cloudfront/E2OAI")
                    .build(),
            )
            .build()
            .unwrap();
        let mut behavior = new_behavior().unwrap();
        behavior.target_origin_id = origin.id.clone();
        behavior.viewer_protocol_policy = ViewerProtocolPolicy::AllowAll;
        DistributionConfig::builder()
            .caller_reference("cdk")
            .comment("")
            .enabled(true)
            .origins(Origins::builder().quantity(1).items(origin).build().unwrap())
            .default_cache_behavior(behavior)
            .build()
            .unwrap()
    }

    #[test]
    fn the_cdk_origin_moves_from_its_identity_to_the_oac_in_place() {
        let env: BTreeMap<String, String> = [("BUCKET_NAME".to_string(), "b-1".to_string())].into_iter().collect();
        let spec = Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1");
        let links = Links {
            oac_id: "EOAC",
            headers_policy_id: "hp",
            certificate_arn: None,
            function_arn: None,
            keep_aliases: &[],
        };
        let current = cdk_config(&spec.distribution.origin_domain);
        let (config, changes) = reconcile(&current, &spec, links).unwrap();
        let origins = config.origins.as_ref().unwrap().items();
        assert_eq!(origins.len(), 1, "no second origin beside the CDK's");
        let o = &origins[0];
        assert_eq!(o.id, ORIGIN_ID);
        assert_eq!(o.origin_access_control_id.as_deref(), Some("EOAC"));
        assert_eq!(o.s3_origin_config.as_ref().unwrap().origin_access_identity, "");
        let b = config.default_cache_behavior.as_ref().unwrap();
        assert_eq!(b.target_origin_id, ORIGIN_ID);
        assert_eq!(b.viewer_protocol_policy, ViewerProtocolPolicy::RedirectToHttps);
        assert!(
            changes.iter().any(|c| c.starts_with("origin id: SeedCdnStack")),
            "{changes:?}"
        );
        assert!(
            changes
                .iter()
                .any(|c| c.starts_with("origin access identity: origin-access-identity/cloudfront/E2OAI")),
            "{changes:?}"
        );
        assert!(crate::resources::oai::used_by(&config).is_empty());
        // The first step alone: the origin and the comment, the behavior as it was.
        let (first, changes) = to_oac(&current, &spec, "EOAC").unwrap();
        assert!(crate::resources::oai::used_by(&first).is_empty());
        let b = first.default_cache_behavior.as_ref().unwrap();
        assert_eq!(b.target_origin_id, ORIGIN_ID);
        assert_eq!(b.viewer_protocol_policy, ViewerProtocolPolicy::AllowAll);
        assert_eq!(first.comment, spec.distribution.comment);
        assert_eq!(changes.len(), 4, "{changes:?}");
        assert_eq!(to_oac(&first, &spec, "EOAC").unwrap().1, Vec::<String>::new());
        // A second reconcile finds nothing more to do.
        assert_eq!(reconcile(&config, &spec, links).unwrap().1, Vec::<String>::new());
    }
}
