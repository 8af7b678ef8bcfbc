//! The certificate's steps, for `up` and `down`, and how each is applied:
//! request, validate through DNS, delete with its validation record.

use anyhow::Context as _;

use super::Deleted;
use crate::resources::dns;
use crate::resources::kit::{Action, Cx, Fact, Known, Learned, Part};
use crate::resources::Kind;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Request a certificate for these names (the first is the primary),
    /// write its validation records, wait until issued.
    Request {
        names: Vec<String>,
        /// The distribution takes it in this run (not while a domain move
        /// keeps serving with the certificate it has).
        serve: bool,
    },
    /// Write the validation record of a pending certificate, wait until issued.
    Validate { arn: String },
    /// Delete a certificate cdnctl requested, then its validation record
    /// unless another certificate still needs it. With `wait`, wait through
    /// ACM's "in use" window; without, leave it for a later run if in use.
    Delete {
        arn: String,
        /// The zone of its validation record, when known.
        zone_id: Option<String>,
        wait: bool,
    },
}

impl Action for Step {
    const KIND: Kind = Kind::Certificate;

    fn needs(&self) -> Vec<Fact> {
        match self {
            Step::Request { .. } | Step::Validate { .. } => vec![],
            // Once the distribution serves another (deployed), or is gone.
            Step::Delete { .. } => Fact::unused_by(Kind::Distribution),
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Request { .. } | Step::Validate { .. } => vec![Fact::Exists(Self::KIND)],
            Step::Delete { .. } => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        apply(self, cx).await
    }
}

async fn apply(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    Ok(match step {
        Step::Request { names, serve } => {
            let arn = super::request(&cx.clients.acm, cx.spec, names, cx.waiting).await?;
            validate(cx, &arn, &names.join(", ")).await?;
            if *serve {
                Learned::Known(Kind::Certificate, Known::id(arn))
            } else {
                Learned::Nothing
            }
        }
        Step::Validate { arn } => {
            let domain = &cx
                .spec
                .domain
                .as_ref()
                .context("certificate: no custom domain is configured")?
                .name;
            validate(cx, arn, domain).await?;
            Learned::Known(Kind::Certificate, Known::id(arn.clone()))
        }
        Step::Delete { arn, zone_id, wait } => delete(cx, arn, zone_id.as_deref(), *wait).await?,
    })
}

/// Delete a certificate cdnctl requested, then its validation record, unless
/// another certificate still needs it: ACM renews a certificate only while
/// its record resolves, so the record goes only after the certificate.
async fn delete(cx: &Cx<'_>, arn: &str, zone_id: Option<&str>, wait: bool) -> anyhow::Result<Learned> {
    let (acm, route53, waiting) = (&cx.clients.acm, &cx.clients.route53, cx.waiting);
    let cert = super::observe(acm, arn).await?;
    let label = format!("certificate {arn}");
    let progress = crate::events::on_refusal(
        cx.events,
        &label,
        "waiting for ACM to release it (it stays in use for minutes after CloudFront stops using it)",
    );
    match super::delete(acm, arn, wait.then_some(waiting), progress).await? {
        Deleted::Done => {}
        Deleted::StillInUse if wait => anyhow::bail!(
            "certificate {arn}: ACM still counts it in use after {} minutes: run the command again later",
            waiting.timeout.as_secs() / 60
        ),
        Deleted::StillInUse => {
            return Ok(Learned::Note(format!(
                "certificate {arn}: ACM counts it in use for minutes after CloudFront stops using it: run the command again later to delete it (and its validation record)"
            )))
        }
    }
    let Some(cert) = cert else {
        return Ok(Learned::Nothing);
    };
    let mut kept = Vec::new();
    for (name, value) in &cert.validations {
        // `_x.static.example.com.` proves control of static.example.com.
        let domain = name.trim_end_matches('.').split_once('.').map(|(_, d)| d).unwrap_or("");
        if super::validation_record_shared(acm, name, domain, &[arn.to_string()]).await? {
            kept.push(format!(
                "DNS {name}: validation record kept: another certificate for {domain} still needs it"
            ));
            continue;
        }
        let zone = match zone_id {
            Some(z) if cert.validations.len() == 1 => Some(z.to_string()),
            _ => dns::zone_holding(route53, name.trim_end_matches('.')).await?,
        };
        if let Some(zone) = zone {
            dns::delete_cname(route53, &zone, name, value).await?;
        }
    }
    Ok(if kept.is_empty() {
        Learned::Nothing
    } else {
        Learned::Note(kept.join("\n"))
    })
}

/// Write the certificate's validation records (one per name) into their
/// zones and wait until ACM has issued it.
async fn validate(cx: &Cx<'_>, arn: &str, domain: &str) -> anyhow::Result<()> {
    let (acm, route53, waiting, events) = (&cx.clients.acm, &cx.clients.route53, cx.waiting, cx.events);
    let zone_id = cx.facts.zone_id()?;
    let zone_name = cx.spec.domain.as_ref().map(|d| d.zone_name.as_str()).unwrap_or("");
    for (name, value) in super::validation_records(acm, arn, waiting).await? {
        let bare = name.trim_end_matches('.');
        let zone = if bare.ends_with(&format!(".{zone_name}")) {
            Some(zone_id.to_string())
        } else {
            dns::zone_holding(route53, bare).await?
        };
        match zone {
            Some(zone) => dns::upsert_cname(route53, &zone, &name, &value).await?,
            None => {
                anyhow::bail!("DNS {bare}: no public hosted zone in this account holds it: cannot validate {domain}")
            }
        }
    }
    let label = format!("certificate for {domain}");
    let progress = events.progress(&label, "waiting for DNS validation");
    let result = super::wait_issued(acm, arn, domain, waiting, |s| progress.status(s)).await;
    drop(progress);
    result?;
    events.done(&format!("{label}: issued"));
    Ok(())
}

/// `down`: delete a certificate of the stack's once no distribution uses it
/// (`zone_id`: of its validation record, when known).
pub fn down(c: &super::Observed, users: &[String], zone_id: Option<String>, wait: bool) -> Part<Step> {
    let mut part = Part::default();
    if !users.is_empty() {
        part.note(format!(
            "certificate {}: still used by distribution {}: left alone",
            c.arn,
            users.join(", ")
        ));
        return part;
    }
    let step = Step::Delete {
        arn: c.arn.clone(),
        zone_id,
        wait,
    };
    part.step(
        step,
        &format!("certificate {}", c.arn),
        "delete, then its validation record",
        vec![],
    );
    part
}

/// `up`: request one for `names` (the first the domain), or validate the
/// one found while pending or while its validation record is missing
/// (`validation_record`: whether it is in the zone, when known).
pub fn up(
    observed: Option<&super::Observed>,
    domain: &str,
    names: Vec<String>,
    serve: bool,
    validation_record: Option<bool>,
) -> Part<Step> {
    let mut part = Part::default();
    let r = format!("certificate for {domain}");
    match observed {
        None => part.step(
            Step::Request { names, serve },
            &r,
            "request, validate through DNS",
            vec![],
        ),
        Some(c) if c.status != super::Status::Issued => part.step(
            Step::Validate { arn: c.arn.clone() },
            &r,
            "validate through DNS",
            vec![format!("{} is {}", c.arn, c.status)],
        ),
        // ACM renews a certificate only while its validation record resolves.
        Some(c) if validation_record == Some(false) => part.step(
            Step::Validate { arn: c.arn.clone() },
            &r,
            "restore its DNS validation record",
            vec![super::validation_missing(c)],
        ),
        Some(_) => {}
    }
    part
}

/// `up`: delete a certificate of the stack's it no longer needs, once no
/// distribution uses it (`serving`: a domain move still serves with it).
pub fn retire(c: &super::Observed, users: &[String], serving: bool, wait: bool) -> Part<Step> {
    let mut part = Part::default();
    if users.is_empty() && !serving {
        let step = Step::Delete {
            arn: c.arn.clone(),
            zone_id: None,
            wait,
        };
        let r = format!("certificate {}", c.arn);
        part.step(step, &r, "delete (no longer needed)", vec![super::spare_reason(c)]);
    }
    part
}
