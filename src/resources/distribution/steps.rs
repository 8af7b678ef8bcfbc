//! The distribution's steps, for `up` and `down`, and how each is applied.

use aws_sdk_cloudfront::types::DistributionConfig;

use super::Links;
use crate::resources::kit::{Action, Cx, Fact, Learned, Part};
use crate::resources::Kind;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    Update {
        id: String,
        etag: String,
        config: Box<DistributionConfig>,
    },
    Tag {
        arn: String,
    },
    Disable {
        id: String,
        etag: String,
        config: Box<DistributionConfig>,
    },
    /// Wait until deployed; an empty id means the one created in this run.
    WaitDeployed {
        id: String,
    },
    Delete {
        id: String,
    },
    /// Invalidate every cached copy: S3's answers may allow origins that
    /// the bucket's CORS rules (`removed`) no longer do (`cache.rs`).
    Invalidate {
        id: String,
        reference: String,
        removed: String,
    },
}

impl Action for Step {
    const KIND: Kind = Kind::Distribution;

    fn needs(&self) -> Vec<Fact> {
        match self {
            // What it names: the origin, its access control, headers policy
            // and certificate; and a removed name's records gone first.
            Step::Create | Step::Update { .. } => vec![
                Fact::Exists(Kind::Bucket),
                Fact::Exists(Kind::OriginAccessControl),
                Fact::Written(Kind::OriginAccessControl),
                Fact::Exists(Kind::ResponseHeadersPolicy),
                Fact::Written(Kind::ResponseHeadersPolicy),
                Fact::Exists(Kind::Certificate),
                Fact::Gone(Kind::DnsRecord),
                // The function's ARN, published: associations run LIVE.
                Fact::Exists(Kind::Function),
                Fact::Deployed(Kind::Function),
            ],
            Step::Tag { .. } => vec![Fact::Exists(Self::KIND)],
            // Beside the records' removal: neither needs the other.
            Step::Disable { .. } => vec![],
            Step::WaitDeployed { .. } => vec![Fact::Exists(Self::KIND), Fact::Written(Self::KIND)],
            // Once the bucket's CORS rules have narrowed: what the edge then
            // fetches is answered by them.
            Step::Invalidate { .. } => vec![Fact::Written(Kind::Bucket)],
            Step::Delete { .. } => vec![
                Fact::Written(Self::KIND),
                Fact::Deployed(Self::KIND),
                Fact::Gone(Kind::DnsRecord),
            ],
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![Fact::Exists(Self::KIND), Fact::Written(Self::KIND)],
            Step::Update { .. } | Step::Tag { .. } | Step::Disable { .. } => vec![Fact::Written(Self::KIND)],
            Step::WaitDeployed { .. } => vec![Fact::Deployed(Self::KIND)],
            Step::Invalidate { .. } => vec![],
            Step::Delete { .. } => vec![Fact::Gone(Self::KIND)],
        }
    }

    fn is_write(&self) -> bool {
        !matches!(self, Step::WaitDeployed { .. })
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        apply(self, cx).await
    }
}

async fn apply(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    let (spec, cf, waiting, events) = (cx.spec, &cx.clients.cloudfront, cx.waiting, cx.events);
    Ok(match step {
        Step::Create => {
            let progress = crate::events::on_refusal(
                events,
                "distribution",
                "waiting for CloudFront to accept the new certificate",
            );
            Learned::Known(
                Kind::Distribution,
                super::create(cf, spec, Links::known(cx.facts)?, waiting, progress).await?,
            )
        }
        Step::Update { id, etag, config } => {
            // The OAC or certificate may have been made in an earlier stage of this run.
            let links = Links::known(cx.facts)?;
            let (config, _) = super::reconcile(config, spec, links)?;
            let applied = |now: &_| super::reconcile(now, spec, links).is_ok_and(|(_, changes)| changes.is_empty());
            let label = format!("distribution {id}");
            let progress =
                crate::events::on_refusal(events, &label, "waiting for CloudFront to accept the new certificate");
            super::update(cf, id, etag, config, Some(links), waiting, progress, applied).await?;
            Learned::Nothing
        }
        Step::Tag { arn } => {
            super::put_tags(cf, arn, spec).await?;
            Learned::Nothing
        }
        Step::Disable { id, etag, config } => {
            super::disable(cf, id, etag, config, waiting).await?;
            Learned::Nothing
        }
        Step::WaitDeployed { id } => {
            let id = if id.is_empty() {
                cx.facts.id(Kind::Distribution)?.to_string()
            } else {
                id.clone()
            };
            let label = format!("distribution {id}");
            let progress = events.progress(&label, "waiting for CloudFront to deploy");
            let result = super::wait_deployed(cf, &id, waiting, |s| progress.status(s)).await;
            drop(progress);
            result?;
            events.done(&format!("{label}: deployed"));
            Learned::Nothing
        }
        Step::Invalidate { id, reference, removed } => {
            let label = format!("distribution {id}");
            let progress = crate::events::on_refusal(events, &label, "waiting for other invalidations to complete");
            let made =
                super::cache::invalidate(cf, id, &[super::cache::EVERYTHING.into()], reference, waiting, progress)
                    .await
                    .map_err(|e| {
                        e.context(format!(
                            "the edge may still serve cached CORS answers allowing {removed}: \
                         `aws cloudfront create-invalidation --distribution-id {id} --paths '/*'` removes them"
                        ))
                    })?;
            Learned::Note(format!(
                "distribution {id}: invalidation {made} of /* in progress, for cached CORS answers allowing {removed}: \
                 CloudFront finishes it within minutes (not waited for)"
            ))
        }
        Step::Delete { id } => {
            let label = format!("distribution {id}");
            let progress = crate::events::on_refusal(
                events,
                &label,
                "disabled and deployed, waiting for CloudFront to allow the delete",
            );
            super::delete(cf, id, waiting, progress).await?;
            Learned::Nothing
        }
    })
}

/// `down`: disable, wait, delete. Whether it is gone by the end of the run
/// (without waiting, only a distribution already disabled and deployed is).
pub fn down(d: &super::Observed, wait: bool) -> (Part<Step>, bool) {
    let mut part = Part::default();
    let r = format!("distribution {}", d.id);
    if d.config.enabled {
        let step = Step::Disable {
            id: d.id.clone(),
            etag: d.etag.clone(),
            config: Box::new(d.config.clone()),
        };
        part.step(step, &r, "disable", vec![]);
    }
    let deployed_disabled = !d.config.enabled && d.status == super::Deployment::Deployed;
    if !(deployed_disabled || wait) {
        part.note(format!(
            "distribution {}: disabling takes CloudFront several minutes; run `cdnctl down` again to delete it, the origin access control and the bucket",
            d.id
        ));
        return (part, false);
    }
    if !deployed_disabled {
        let step = Step::WaitDeployed { id: d.id.clone() };
        part.step(step, &r, "wait until disabled everywhere", vec![]);
    }
    part.step(Step::Delete { id: d.id.clone() }, &r, "delete", vec![]);
    (part, true)
}

/// What a new distribution will be, for the plan: where it reads from, the
/// names it answers to, and what it costs, not only its comment.
fn new_distribution(d: &crate::spec::DistributionSpec) -> Vec<String> {
    let mut out = vec![format!(
        "origin: {} (through the origin access control)",
        d.origin_domain
    )];
    out.push(match d.aliases.as_slice() {
        [] => "name: dxxxx.cloudfront.net, given by CloudFront".to_string(),
        names => format!("names: {}", names.join(", ")),
    });
    if let Some(arn) = &d.certificate_arn {
        out.push(format!("certificate: {arn}"));
    }
    out.push(format!("price class: {}", d.price_class));
    out.push(format!("comment: {}", d.comment));
    out
}

/// `up`: create it, or update what differs from the spec (with `links`:
/// the ids it names) and its tags.
pub fn up(observed: Option<&super::Observed>, spec: &crate::spec::Spec, links: super::Links) -> Part<Step> {
    let mut part = Part::default();
    let Some(d) = observed else {
        part.step(
            Step::Create,
            "distribution",
            "create",
            new_distribution(&spec.distribution),
        );
        return part;
    };
    let r = format!("distribution {}", d.id);
    if let Ok((config, details)) = super::reconcile(&d.config, spec, links) {
        if !details.is_empty() {
            let step = Step::Update {
                id: d.id.clone(),
                etag: d.etag.clone(),
                config: Box::new(config),
            };
            part.step(step, &r, "update", details);
        }
    }
    let tags = super::tag_differences(&d.tags, spec);
    if !tags.is_empty() {
        part.step(Step::Tag { arn: d.arn.clone() }, &r, "tag", tags);
    }
    part
}

/// `up`: invalidate the distribution's (`id`) cached copies when the
/// bucket's CORS rules stop allowing `removed` origins. `now` makes the
/// CallerReference new for each narrowing (a reused one returns the earlier
/// invalidation and removes nothing).
pub fn forget_cors_answers(id: Option<&str>, removed: &[String], now: i64) -> Part<Step> {
    let mut part = Part::default();
    let Some(id) = id.filter(|_| !removed.is_empty()) else {
        return part;
    };
    let removed = removed.join(", ");
    let reference = format!(
        "cdnctl-cors-{:016x}",
        crate::spec::stable_hash(&format!("{id}\n{removed}\n{now}"))
    );
    part.step(
        Step::Invalidate {
            id: id.to_string(),
            reference,
            removed: removed.clone(),
        },
        &format!("distribution {id}"),
        &format!("invalidate {} (cached CORS answers)", super::cache::EVERYTHING),
        vec![
            format!(
                "S3's answers allowing {removed} may be cached and would be served to that origin until they expire"
            ),
            "after the bucket's CORS rules narrow; CloudFront finishes it within minutes, not waited for".into(),
        ],
    );
    part
}
