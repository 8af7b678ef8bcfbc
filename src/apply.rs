//! Apply: carry out a plan's changes, stage by stage, the changes of a stage
//! concurrently. Ids that later stages need (the new OAC's, the new
//! distribution's ARN and domain) flow forward as `Facts`.

use anyhow::{anyhow, Context as _};
use futures_util::future::join_all;

use crate::aws::{Clients, Waiting};
use crate::observe::World;
use crate::output::Printer;
use crate::plan::{Change, Plan, Step};
use crate::resources::{bucket, certificate, distribution, dns, oac, response_headers};
use crate::spec::Spec;

/// What is known about the stack's resources as the plan proceeds.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub oac_id: Option<String>,
    pub headers_policy_id: Option<String>,
    pub certificate_arn: Option<String>,
    pub zone_id: Option<String>,
    pub distribution: Option<distribution::Written>,
    /// Old names the distribution keeps while the domain moves.
    pub keep_aliases: Vec<String>,
    pub deleted_objects: u64,
    /// The policy write drops statements letting anyone read (the plan's choice).
    pub drop_public_reads: bool,
    /// What was left for a later run, and why.
    pub notes: Vec<String>,
}

impl Facts {
    pub fn from(spec: &Spec, world: &World) -> Facts {
        Facts {
            oac_id: world.oac.as_ref().map(|o| o.id.clone()),
            headers_policy_id: crate::plan::headers_policy_id(spec, world).map(String::from),
            certificate_arn: crate::plan::certificate_arn(spec, world).map(String::from),
            zone_id: world.zone_id.clone(),
            distribution: world.distribution.as_ref().map(|d| distribution::Written {
                id: d.id.clone(),
                arn: d.arn.clone(),
                domain_name: d.domain_name.clone(),
            }),
            keep_aliases: world.moving.keep_aliases().to_vec(),
            deleted_objects: 0,
            drop_public_reads: false,
            notes: Vec::new(),
        }
    }

    fn links(&self) -> anyhow::Result<distribution::Links<'_>> {
        Ok(distribution::Links {
            oac_id: self
                .oac_id
                .as_deref()
                .context("origin access control: its id is not known yet")?,
            headers_policy_id: self
                .headers_policy_id
                .as_deref()
                .context("response headers policy: its id is not known yet")?,
            certificate_arn: self.certificate_arn.as_deref(),
            keep_aliases: &self.keep_aliases,
        })
    }

    fn zone_id(&self) -> anyhow::Result<&str> {
        self.zone_id.as_deref().context("DNS: the hosted zone is not known")
    }

    fn distribution(&self) -> anyhow::Result<&distribution::Written> {
        self.distribution.as_ref().context("distribution: not created yet")
    }
}

enum Learned {
    Nothing,
    Oac(String),
    HeadersPolicy(String),
    Certificate(String),
    Distribution(distribution::Written),
    Deleted(u64),
    Note(String),
}

pub async fn apply(
    clients: &Clients,
    spec: &Spec,
    plan: &Plan,
    mut facts: Facts,
    waiting: &Waiting,
    printer: &Printer,
) -> anyhow::Result<Facts> {
    facts.drop_public_reads = plan.drop_public_reads;
    let mut stages: Vec<u8> = plan.changes.iter().map(|c| c.step.stage()).collect();
    stages.sort();
    stages.dedup();
    for stage in stages {
        let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.step.stage() == stage).collect();
        let snapshot = facts.clone();
        let results = join_all(changes.iter().map(|c| {
            let snapshot = &snapshot;
            async move {
                let result = run(clients, spec, &c.step, snapshot, waiting, printer).await;
                if result.is_ok() && c.step.is_write() {
                    printer.done(&format!("{}: {}", c.resource, c.action));
                }
                result
            }
        }))
        .await;
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(Learned::Nothing) => {}
                Ok(Learned::Oac(id)) => facts.oac_id = Some(id),
                Ok(Learned::HeadersPolicy(id)) => facts.headers_policy_id = Some(id),
                Ok(Learned::Certificate(arn)) => facts.certificate_arn = Some(arn),
                Ok(Learned::Distribution(d)) => facts.distribution = Some(d),
                Ok(Learned::Deleted(n)) => facts.deleted_objects += n,
                Ok(Learned::Note(note)) => facts.notes.push(note),
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if !errors.is_empty() {
            return Err(anyhow!("{}", errors.join("\n")));
        }
    }
    Ok(facts)
}

async fn run(
    clients: &Clients,
    spec: &Spec,
    step: &Step,
    facts: &Facts,
    waiting: &Waiting,
    printer: &Printer,
) -> anyhow::Result<Learned> {
    let cf = &clients.cloudfront;
    Ok(match step {
        Step::CreateBucket => {
            bucket::create(&clients.s3, spec).await?;
            Learned::Nothing
        }
        Step::PutBucket(setting) => {
            let desired = match setting {
                bucket::Setting::Policy => Some(spec.policy(&facts.distribution()?.arn)),
                _ => None,
            };
            let policy = desired.as_ref().map(|desired| bucket::PolicyWrite {
                desired,
                drop_public: facts.drop_public_reads,
            });
            let label = format!("bucket {}", spec.bucket);
            let what = match setting {
                bucket::Setting::Policy => {
                    "waiting for S3 to accept the policy (a new bucket, or IAM propagating new principals)"
                }
                _ => "waiting for the new bucket to settle",
            };
            bucket::put(
                &clients.s3,
                spec,
                *setting,
                policy,
                waiting,
                printer.on_refusal(&label, what),
            )
            .await?;
            Learned::Nothing
        }
        Step::CreateOac => Learned::Oac(oac::create(cf, &spec.oac_name).await?),
        Step::UpdateOac { id } => {
            oac::update(cf, id, &spec.oac_name).await?;
            Learned::Nothing
        }
        Step::CreateHeadersPolicy => Learned::HeadersPolicy(response_headers::create(cf, owned_headers(spec)?).await?),
        Step::UpdateHeadersPolicy { id } => {
            response_headers::update(cf, id, owned_headers(spec)?).await?;
            Learned::Nothing
        }
        Step::DeleteHeadersPolicy { id } => {
            let name = crate::spec::headers_policy_name(&spec.bucket);
            let label = format!("response headers policy {name}");
            let progress = printer.on_refusal(&label, "waiting for CloudFront to release it");
            response_headers::delete(cf, id, &name, waiting, progress).await?;
            Learned::Nothing
        }
        Step::RequestCertificate { names, serve } => {
            let arn = certificate::request(&clients.acm, spec, names, waiting).await?;
            let domain = names.join(", ");
            validate_certificate(clients, spec, &arn, &domain, facts.zone_id()?, waiting, printer).await?;
            if *serve {
                Learned::Certificate(arn)
            } else {
                Learned::Nothing
            }
        }
        Step::ValidateCertificate { arn } => {
            let domain = &spec
                .domain
                .as_ref()
                .context("certificate: no custom domain is configured")?
                .name;
            validate_certificate(clients, spec, arn, domain, facts.zone_id()?, waiting, printer).await?;
            Learned::Certificate(arn.clone())
        }
        Step::DeleteCertificate { arn, zone_id, wait } => {
            delete_certificate(clients, arn, zone_id.as_deref(), *wait, waiting, printer).await?
        }
        Step::CreateDistribution => {
            let progress = printer.on_refusal("distribution", "waiting for CloudFront to accept the new certificate");
            Learned::Distribution(distribution::create(cf, spec, facts.links()?, waiting, progress).await?)
        }
        Step::UpdateDistribution { id, etag, config } => {
            // The OAC or certificate may have been made in an earlier stage of this run.
            let links = facts.links()?;
            let (config, _) = distribution::reconcile(config, spec, links)?;
            let applied =
                |now: &_| distribution::reconcile(now, spec, links).is_ok_and(|(_, changes)| changes.is_empty());
            let label = format!("distribution {id}");
            let progress = printer.on_refusal(&label, "waiting for CloudFront to accept the new certificate");
            distribution::update(cf, id, etag, config, Some(links), waiting, progress, applied).await?;
            Learned::Nothing
        }
        Step::TagDistribution { arn } => {
            distribution::put_tags(cf, arn, spec).await?;
            Learned::Nothing
        }
        Step::UpsertRecords { zone_id } => {
            let domain = spec.domain.as_ref().context("DNS: no custom domain is configured")?;
            dns::upsert(
                &clients.route53,
                zone_id,
                &domain.name,
                &facts.distribution()?.domain_name,
            )
            .await?;
            Learned::Nothing
        }
        Step::DeleteRecords { zone_id, name, .. } => {
            let d = &facts.distribution()?.domain_name;
            let left = dns::delete_pointing_at(&clients.route53, zone_id, name, d).await?;
            if left.is_empty() {
                Learned::Nothing
            } else {
                Learned::Note(format!(
                    "DNS {name}: the {} record no longer points at this stack's distribution: left alone",
                    left.join(" and ")
                ))
            }
        }
        Step::DisableDistribution { id, etag, config } => {
            distribution::disable(cf, id, etag, config, waiting).await?;
            Learned::Nothing
        }
        Step::WaitDeployed { id } => {
            let id = if id.is_empty() {
                facts.distribution()?.id.clone()
            } else {
                id.clone()
            };
            let label = format!("distribution {id}");
            let progress = printer.progress(&label, "waiting for CloudFront to deploy");
            let result =
                distribution::wait_deployed(cf, &id, waiting.every, waiting.timeout, |s| progress.status(s)).await;
            progress.finish();
            result?;
            printer.done(&format!("{label}: deployed"));
            Learned::Nothing
        }
        Step::DeleteDistribution { id } => {
            let label = format!("distribution {id}");
            let progress = printer.on_refusal(
                &label,
                "disabled and deployed, waiting for CloudFront to allow the delete",
            );
            distribution::delete(cf, id, waiting, progress).await?;
            Learned::Nothing
        }
        Step::DeleteOac { id } => {
            let label = format!("origin access control {}", spec.oac_name);
            let progress = printer.on_refusal(
                &label,
                "waiting for CloudFront to release it (minutes after the distribution is deleted)",
            );
            oac::delete(cf, id, &spec.oac_name, waiting, progress).await?;
            Learned::Nothing
        }
        Step::EmptyBucket => {
            // Look once more, right before deleting files: a distribution
            // made since the plan was drawn must not lose its origin.
            let listing = distribution::list(cf, spec).await?;
            let serving = listing.serving(&spec.bucket);
            let ours = listing.candidates.first().map(|(id, _)| id.clone());
            let serving: Vec<_> = serving.into_iter().filter(|id| Some(id) != ours.as_ref()).collect();
            if !serving.is_empty() {
                anyhow::bail!(
                    "bucket {}: --purge refused: distribution {} now serves files from it: nothing was deleted from the bucket",
                    spec.bucket,
                    serving.join(", ")
                );
            }
            Learned::Deleted(bucket::empty(&clients.s3, &spec.bucket).await?)
        }
        Step::DeleteBucket => {
            bucket::delete(&clients.s3, &spec.bucket).await?;
            Learned::Nothing
        }
    })
}

fn owned_headers(spec: &Spec) -> anyhow::Result<&crate::spec::OwnedHeaders> {
    match &spec.headers {
        crate::spec::Headers::Owned(h) => Ok(h),
        crate::spec::Headers::Managed { .. } => Err(anyhow!(
            "response headers policy: the settings need none of the stack's own"
        )),
    }
}

/// Delete a certificate cdnctl requested, then its validation record, unless
/// another certificate still needs it: ACM renews a certificate only while
/// its record resolves, so the record goes only after the certificate.
async fn delete_certificate(
    clients: &Clients,
    arn: &str,
    zone_id: Option<&str>,
    wait: bool,
    waiting: &Waiting,
    printer: &Printer,
) -> anyhow::Result<Learned> {
    let cert = certificate::observe(&clients.acm, arn).await?;
    let label = format!("certificate {arn}");
    let progress = printer.on_refusal(
        &label,
        "waiting for ACM to release it (it stays in use for minutes after CloudFront stops using it)",
    );
    match certificate::delete(&clients.acm, arn, wait.then_some(waiting), progress).await? {
        certificate::Deleted::Done => {}
        certificate::Deleted::StillInUse if wait => anyhow::bail!(
            "certificate {arn}: ACM still counts it in use after {} minutes: run the command again later",
            waiting.timeout.as_secs() / 60
        ),
        certificate::Deleted::StillInUse => {
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
        if certificate::validation_record_shared(&clients.acm, name, domain, &[arn.to_string()]).await? {
            kept.push(format!(
                "DNS {name}: validation record kept: another certificate for {domain} still needs it"
            ));
            continue;
        }
        let zone = match zone_id {
            Some(z) if cert.validations.len() == 1 => Some(z.to_string()),
            _ => dns::zone_holding(&clients.route53, name.trim_end_matches('.')).await?,
        };
        if let Some(zone) = zone {
            dns::delete_cname(&clients.route53, &zone, name, value).await?;
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
async fn validate_certificate(
    clients: &Clients,
    spec: &Spec,
    arn: &str,
    domain: &str,
    zone_id: &str,
    waiting: &Waiting,
    printer: &Printer,
) -> anyhow::Result<()> {
    let zone_name = spec.domain.as_ref().map(|d| d.zone_name.as_str()).unwrap_or("");
    for (name, value) in certificate::validation_records(&clients.acm, arn, waiting.every).await? {
        let bare = name.trim_end_matches('.');
        let zone = if bare.ends_with(&format!(".{zone_name}")) {
            Some(zone_id.to_string())
        } else {
            dns::zone_holding(&clients.route53, bare).await?
        };
        match zone {
            Some(zone) => dns::upsert_cname(&clients.route53, &zone, &name, &value).await?,
            None => {
                anyhow::bail!("DNS {bare}: no public hosted zone in this account holds it: cannot validate {domain}")
            }
        }
    }
    let label = format!("certificate for {domain}");
    let progress = printer.progress(&label, "waiting for DNS validation");
    let result = certificate::wait_issued(&clients.acm, arn, domain, waiting.every, waiting.timeout, |s| {
        progress.status(s)
    })
    .await;
    progress.finish();
    result?;
    printer.done(&format!("{label}: issued"));
    Ok(())
}
