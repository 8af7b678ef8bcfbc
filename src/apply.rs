//! Apply: carry out a plan's changes, stage by stage, the changes of a stage
//! concurrently. Ids that later stages need (the new OAC's, the new
//! distribution's ARN and domain) flow forward as `Facts`.

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use futures_util::future::join_all;

use crate::aws::Clients;
use crate::observe::World;
use crate::output::Printer;
use crate::plan::{Change, Plan, Step};
use crate::resources::{bucket, certificate, distribution, dns, oac};
use crate::spec::Spec;

/// What is known about the stack's resources as the plan proceeds.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub oac_id: Option<String>,
    pub certificate_arn: Option<String>,
    pub zone_id: Option<String>,
    pub distribution: Option<distribution::Written>,
    pub deleted_objects: u64,
}

impl Facts {
    pub fn from(spec: &Spec, world: &World) -> Facts {
        Facts {
            oac_id: world.oac.as_ref().map(|o| o.id.clone()),
            certificate_arn: crate::plan::certificate_arn(spec, world).map(String::from),
            zone_id: world.zone_id.clone(),
            distribution: world.distribution.as_ref().map(|d| distribution::Written {
                id: d.id.clone(),
                arn: d.arn.clone(),
                domain_name: d.domain_name.clone(),
            }),
            deleted_objects: 0,
        }
    }

    fn links(&self) -> anyhow::Result<distribution::Links<'_>> {
        Ok(distribution::Links {
            oac_id: self
                .oac_id
                .as_deref()
                .context("origin access control: its id is not known yet")?,
            certificate_arn: self.certificate_arn.as_deref(),
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
    Certificate(String),
    Distribution(distribution::Written),
    Deleted(u64),
}

pub struct Waiting {
    pub every: Duration,
    pub timeout: Duration,
}

pub async fn apply(
    clients: &Clients,
    spec: &Spec,
    plan: &Plan,
    mut facts: Facts,
    waiting: &Waiting,
    printer: &Printer,
) -> anyhow::Result<Facts> {
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
                Ok(Learned::Certificate(arn)) => facts.certificate_arn = Some(arn),
                Ok(Learned::Distribution(d)) => facts.distribution = Some(d),
                Ok(Learned::Deleted(n)) => facts.deleted_objects += n,
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
            let policy = match setting {
                bucket::Setting::Policy => Some(spec.policy(&facts.distribution()?.arn)),
                _ => None,
            };
            bucket::put(&clients.s3, spec, *setting, policy.as_ref()).await?;
            Learned::Nothing
        }
        Step::CreateOac => Learned::Oac(oac::create(cf, &spec.oac_name).await?),
        Step::UpdateOac { id } => {
            oac::update(cf, id, &spec.oac_name).await?;
            Learned::Nothing
        }
        Step::RequestCertificate => {
            let domain = &spec
                .domain
                .as_ref()
                .context("certificate: no custom domain is configured")?
                .name;
            let arn = certificate::request(&clients.acm, spec, domain).await?;
            validate_certificate(clients, &arn, domain, facts.zone_id()?, waiting, printer).await?;
            Learned::Certificate(arn)
        }
        Step::ValidateCertificate { arn } => {
            let domain = &spec
                .domain
                .as_ref()
                .context("certificate: no custom domain is configured")?
                .name;
            validate_certificate(clients, arn, domain, facts.zone_id()?, waiting, printer).await?;
            Learned::Certificate(arn.clone())
        }
        Step::DeleteCertificate { arn } => {
            // Its validation record first, if it is still the one ACM asked for.
            if let (Some(cert), Some(zone_id)) = (certificate::observe(&clients.acm, arn).await?, &facts.zone_id) {
                if let Some((name, value)) = cert.validation {
                    dns::delete_cname(&clients.route53, zone_id, &name, &value).await?;
                }
            }
            certificate::delete(&clients.acm, arn).await?;
            Learned::Nothing
        }
        Step::CreateDistribution => Learned::Distribution(distribution::create(cf, spec, facts.links()?).await?),
        Step::UpdateDistribution { id, etag, config } => {
            // The OAC or certificate may have been made in an earlier stage of this run.
            let links = facts.links()?;
            let (config, _) = distribution::reconcile(config, spec, links)?;
            let applied =
                |now: &_| distribution::reconcile(now, spec, links).is_ok_and(|(_, changes)| changes.is_empty());
            distribution::update(cf, id, etag, config, applied).await?;
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
        Step::DeleteRecords { zone_id, records } => {
            let domain = spec.domain.as_ref().context("DNS: no custom domain is configured")?;
            dns::delete(&clients.route53, zone_id, &domain.name, records.clone()).await?;
            Learned::Nothing
        }
        Step::DisableDistribution { id, etag, config } => {
            distribution::disable(cf, id, etag, config).await?;
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
            distribution::delete(cf, id).await?;
            Learned::Nothing
        }
        Step::DeleteOac { id } => {
            oac::delete(cf, id, &spec.oac_name).await?;
            Learned::Nothing
        }
        Step::EmptyBucket => Learned::Deleted(bucket::empty(&clients.s3, &spec.bucket).await?),
        Step::DeleteBucket => {
            bucket::delete(&clients.s3, &spec.bucket).await?;
            Learned::Nothing
        }
    })
}

/// Write the certificate's validation record into the zone and wait until ACM
/// has issued it.
async fn validate_certificate(
    clients: &Clients,
    arn: &str,
    domain: &str,
    zone_id: &str,
    waiting: &Waiting,
    printer: &Printer,
) -> anyhow::Result<()> {
    let (name, value) = certificate::validation_record(&clients.acm, arn, waiting.every).await?;
    dns::upsert_cname(&clients.route53, zone_id, &name, &value).await?;
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
