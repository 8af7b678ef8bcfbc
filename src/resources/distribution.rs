//! The CloudFront distribution: find it (by its comment, confirmed by the
//! ownership tag), create it, update only the fields cdnctl manages (whole
//! config back with If-Match), disable, wait for and delete it.

mod cache;
mod config;
pub mod errors;
mod steps;

pub use cache::invalidate;
use config::tags;
pub use config::{new_config, reconcile, runs_function, tag_differences, to_oac, Links};
pub use steps::{down, forget_cors_answers, up, Step};

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudfront::types::{DistributionConfig, DistributionConfigWithTags};
use aws_sdk_cloudfront::Client;

use crate::aws::{
    already_exists, delete_through, describe, is_certificate_refused, is_not_disabled, is_stale_etag, message,
    optional, tag_map, Poll, Waiting,
};
use crate::resources::kit::Known;
use crate::settings::Setting::Subdomain;
use crate::spec::Spec;

/// CloudFront refuses a certificate issued moments ago for about a minute.
const FRESH_CERTIFICATE_WINDOW: Duration = Duration::from_secs(180);

/// Where CloudFront's deployment of the distribution stands, read once when
/// observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployment {
    Deployed,
    /// "InProgress" (or whatever else CloudFront says, as it says it).
    InProgress(String),
}

impl Deployment {
    pub fn parse(s: &str) -> Deployment {
        match s {
            "Deployed" => Deployment::Deployed,
            other => Deployment::InProgress(other.to_string()),
        }
    }

    /// As CloudFront spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Deployment::Deployed => "Deployed",
            Deployment::InProgress(s) => s,
        }
    }
}

impl From<&str> for Deployment {
    fn from(s: &str) -> Deployment {
        Deployment::parse(s)
    }
}

impl std::fmt::Display for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub arn: String,
    pub domain_name: String,
    pub status: Deployment,
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
    /// Every distribution but the first candidate: what each reads from and
    /// uses, so that nothing another one still needs is deleted.
    pub others: Vec<Other>,
}

/// Another distribution, as ListDistributions summarises it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Other {
    pub id: String,
    /// Its origins' domain names, lower case.
    pub origins: Vec<String>,
    pub oac_ids: Vec<String>,
    pub certificate_arn: Option<String>,
    pub headers_policy_ids: Vec<String>,
}

/// Whether `domain` is one of the bucket's S3 endpoints (regional, global,
/// website).
fn is_bucket_endpoint(domain: &str, bucket: &str) -> bool {
    domain
        .to_ascii_lowercase()
        .strip_prefix(&format!("{bucket}.s3"))
        .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('-'))
}

/// Whether this distribution has an origin in the bucket.
pub fn reads_from(config: &DistributionConfig, bucket: &str) -> bool {
    config
        .origins
        .as_ref()
        .is_some_and(|o| o.items().iter().any(|o| is_bucket_endpoint(&o.domain_name, bucket)))
}

impl Listing {
    /// Other distributions whose origin is this bucket.
    pub fn serving(&self, bucket: &str) -> Vec<String> {
        self.others
            .iter()
            .filter(|o| o.origins.iter().any(|d| is_bucket_endpoint(d, bucket)))
            .map(|o| o.id.clone())
            .collect()
    }

    pub fn using_oac(&self, oac_id: &str) -> Vec<String> {
        self.others
            .iter()
            .filter(|o| o.oac_ids.iter().any(|i| i == oac_id))
            .map(|o| o.id.clone())
            .collect()
    }

    pub fn using_headers_policy(&self, id: &str) -> Vec<String> {
        self.others
            .iter()
            .filter(|o| o.headers_policy_ids.iter().any(|i| i == id))
            .map(|o| o.id.clone())
            .collect()
    }

    pub fn using_certificate(&self, arn: &str) -> Vec<String> {
        self.others
            .iter()
            .filter(|o| o.certificate_arn.as_deref() == Some(arn))
            .map(|o| o.id.clone())
            .collect()
    }
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
            if !ours || listing.candidates.len() > 1 {
                let origins = d.origins.as_ref().map(|o| o.items()).unwrap_or_default();
                listing.others.push(Other {
                    id: d.id.clone(),
                    origins: origins.iter().map(|o| o.domain_name.to_ascii_lowercase()).collect(),
                    oac_ids: origins
                        .iter()
                        .filter_map(|o| o.origin_access_control_id.clone())
                        .filter(|i| !i.is_empty())
                        .collect(),
                    certificate_arn: d
                        .viewer_certificate
                        .as_ref()
                        .and_then(|v| v.acm_certificate_arn.clone())
                        .filter(|a| !a.is_empty()),
                    headers_policy_ids: d
                        .default_cache_behavior
                        .as_ref()
                        .and_then(|b| b.response_headers_policy_id.clone())
                        .into_iter()
                        .chain(
                            d.cache_behaviors
                                .as_ref()
                                .map(|c| c.items())
                                .unwrap_or_default()
                                .iter()
                                .filter_map(|b| b.response_headers_policy_id.clone()),
                        )
                        .filter(|i| !i.is_empty())
                        .collect(),
                });
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
        status: Deployment::parse(&d.status),
        etag,
        config,
        tags,
    }))
}

/// A distribution's tags (none if it has gone).
pub async fn tags_of(cf: &Client, id: &str, arn: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let out = optional(
        format!("distribution {id}: ListTagsForResource"),
        cf.list_tags_for_resource().resource(arn).send().await,
    )?;
    Ok(out
        .and_then(|t| t.tags)
        .map(|t| tag_map(t.items().iter().map(|t| (t.key.as_str(), t.value.as_deref()))))
        .unwrap_or_default())
}

/// Create the distribution, tagged, with the stack's CallerReference.
///
/// CloudFront answers DistributionAlreadyExists, naming the distribution, for
/// any reference used before, even by the same request retried after a lost
/// answer. If that distribution is this stack's, it is the one wanted. If it no
/// longer exists, the reference belonged to a deleted distribution (whether
/// CloudFront keeps those is not documented): create with a fresh reference.
pub async fn create(
    cf: &Client,
    spec: &Spec,
    links: Links<'_>,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration) + Clone,
) -> anyhow::Result<Known> {
    let reference = &spec.distribution.caller_reference;
    let id = match send_create(cf, spec, links, reference, waiting, progress.clone()).await? {
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
        return match send_create(cf, spec, links, &fresh, waiting, progress).await? {
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
    Ok(Known {
        id: d.id,
        arn: d.arn,
        domain_name: d.domain_name,
    })
}

enum Created {
    New(Known),
    /// The id CloudFront names as already holding the caller reference.
    Exists(String),
}

async fn send_create(
    cf: &Client,
    spec: &Spec,
    links: Links<'_>,
    reference: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<Created> {
    let mut config = new_config(spec, links)?;
    config.caller_reference = reference.to_string();
    let config = DistributionConfigWithTags::builder()
        .distribution_config(config)
        .tags(tags(spec)?)
        .build();
    let send = || {
        cf.create_distribution_with_tags()
            .distribution_config_with_tags(config.clone())
            .send()
    };
    match waiting
        .at_most(FRESH_CERTIFICATE_WINDOW)
        .through(fresh_certificate(links), progress, send)
        .await
    {
        Ok(out) => {
            let d = out
                .distribution
                .ok_or_else(|| anyhow!("distribution: CreateDistribution returned nothing"))?;
            Ok(Created::New(Known {
                id: d.id,
                arn: d.arn,
                domain_name: d.domain_name,
            }))
        }
        Err(e) if already_exists(&e) => {
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
        Err(e) => Err(certificate_refused(
            links,
            describe("distribution: CreateDistributionWithTags", e),
        )),
    }
}

/// InvalidViewerCertificate for a certificate that cdnctl found ISSUED: the
/// window after issue in which CloudFront does not accept it yet.
fn fresh_certificate<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    links: Links<'_>,
) -> impl Fn(
    &aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> bool {
    let with_certificate = links.certificate_arn.is_some();
    // A certificate that does not cover an alias never will: no waiting on it.
    let lasting = |e: &aws_smithy_runtime_api::client::result::SdkError<E, _>| {
        message(e).is_some_and(|m| m.contains("doesn't cover") || m.contains("key algorithm"))
    };
    move |e| with_certificate && is_certificate_refused(e) && !lasting(e)
}

fn certificate_refused(links: Links<'_>, err: anyhow::Error) -> anyhow::Error {
    match links.certificate_arn {
        Some(arn) if format!("{err}").contains("InvalidViewerCertificate") => anyhow!(
            "{err:#}\ncertificate {arn}: CloudFront still refuses it: check that it is ISSUED, in us-east-1 and covers the domain, then run the command again"
        ),
        _ => err,
    }
}

/// Send back the whole config with If-Match. `done` tells whether a config
/// already has what this update wants: if the ETag changed because an earlier
/// attempt of this very update went through (its answer lost), that is success.
#[allow(clippy::too_many_arguments)]
pub async fn update(
    cf: &Client,
    id: &str,
    etag: &str,
    config: DistributionConfig,
    links: Option<Links<'_>>,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
    done: impl Fn(&DistributionConfig) -> bool,
) -> anyhow::Result<()> {
    let send = || {
        cf.update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(config.clone())
            .send()
    };
    let passing = |e: &_| links.is_some_and(|l| fresh_certificate(l)(e));
    match waiting
        .at_most(FRESH_CERTIFICATE_WINDOW)
        .through(passing, progress, send)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_stale_etag(&e) => {
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
        Err(e) => {
            let err = describe(format!("distribution {id}: UpdateDistribution"), e);
            Err(match links {
                Some(l) => certificate_refused(l, err),
                None => err,
            })
        }
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
pub async fn disable(
    cf: &Client,
    id: &str,
    etag: &str,
    observed: &DistributionConfig,
    waiting: &Waiting,
) -> anyhow::Result<()> {
    let mut config = observed.clone();
    config.enabled = false;
    update(cf, id, etag, config, None, waiting, |_, _| {}, |c| !c.enabled).await
}

/// Delete with the latest ETag. A distribution already gone is fine.
/// CloudFront can still answer DistributionNotDisabled for a while after the
/// disabled distribution turned Deployed: wait through that.
pub async fn delete(
    cf: &Client,
    id: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    let Some(current) = optional(
        format!("distribution {id}: GetDistribution"),
        cf.get_distribution().id(id).send().await,
    )?
    else {
        return Ok(());
    };
    if current
        .distribution
        .as_ref()
        .and_then(|d| d.distribution_config.as_ref())
        .is_some_and(|c| c.enabled)
    {
        anyhow::bail!("distribution {id}: was enabled again by someone else: run `cdnctl down` again to disable it");
    }
    let etag = current.e_tag;
    let send = || cf.delete_distribution().id(id).set_if_match(etag.clone()).send();
    match delete_through(Some(waiting), is_not_disabled, progress, send).await {
        Ok(()) => Ok(()),
        Err(e) if is_not_disabled(&e) => Err(anyhow!(
            "distribution {id}: CloudFront still says it is not disabled after {} minutes: run `cdnctl down` again later",
            waiting.timeout.as_secs() / 60
        )),
        Err(e) => Err(describe(format!("distribution {id}: DeleteDistribution"), e)),
    }
}

/// Poll until the distribution is Deployed. The SDK's waiter polls no more
/// often than once a minute, which leaves a finished deployment idle for up to
/// a minute; this polls at `waiting.every`, and calls `progress` with each status.
pub async fn wait_deployed(cf: &Client, id: &str, waiting: &Waiting, progress: impl FnMut(&str)) -> anyhow::Result<()> {
    let look = || async {
        let out = cf
            .get_distribution()
            .id(id)
            .send()
            .await
            .map_err(|e| describe(format!("distribution {id}: GetDistribution"), e))?;
        let status = out.distribution.map(|d| d.status).unwrap_or_default();
        Ok(if status == "Deployed" {
            Poll::Ready(())
        } else {
            Poll::Pending(status)
        })
    };
    waiting
        .until(progress, look, |status, waited| {
            anyhow!(
                "distribution {id}: still {status} after {}s: CloudFront is still deploying; run the command again later",
                waited.as_secs()
            )
        })
        .await
}

/// Why `up` must not start because of the distributions found: the stack's
/// untagged (and not to be adopted), several with its comment, or its alias
/// on another.
pub fn refusals(
    observed: Option<&Observed>,
    duplicates: &[String],
    alias_taken_by: Option<&str>,
    spec: &Spec,
    adopt: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(d) = observed.filter(|d| !spec.is_owned(&d.tags) && !adopt) {
        out.push(format!(
            "distribution {}: carries this stack's comment but not its cdnctl:stack tag: run `cdnctl up --adopt` to take it over",
            d.id
        ));
    }
    out.extend(observed.and_then(|d| errors::refusal(&d.config, spec, &d.id)));
    if !duplicates.is_empty() {
        out.push(format!(
            "distribution: several carry this stack's comment ({} besides the first): delete the extra ones by hand",
            duplicates.join(", ")
        ));
    }
    if let (Some(taken), Some(domain)) = (alias_taken_by, &spec.domain) {
        out.push(format!(
            "{Subdomain}: {} is already an alias of distribution {taken}: remove it there first (CloudFront allows one distribution per alias)",
            domain.name
        ));
    }
    out
}
