//! Taking over a live CDN that the CDK stack made (`cdnctl adopt
//! --from-stack`), with the site serving at every moment:
//!
//! 1. `preflight`: read-only. The stack (`stack.rs`) must have the seed's
//!    shape (`shape.rs`); the distribution, bucket, policy, records and
//!    certificate are read, and every reason to refuse is named before any
//!    write. The settings the stack implies come out of it.
//! 2. Detach (`stack.rs`): Retain on every resource through a change set,
//!    then DeleteStack; nothing is deleted.
//! 3. OAI → OAC in AWS's order (this file): the OAC granted beside the
//!    identity, the origin moved to the OAC, deployed, probed; then `up`'s
//!    own plan; only then the identity's grant removed and the identity
//!    deleted.
//!
//! Every step is decided from what exists in AWS, so a second run after an
//! interruption finishes the work. Nothing here prints: progress goes
//! through `Events`, results are returned.

pub mod shape;
pub mod stack;

use anyhow::{anyhow, Context as _};
use serde_json::Value;

use crate::aws::{describe, optional, Clients, Waiting};
use crate::events::Events;
use crate::resources::kit::{Action as _, Cx};
use crate::resources::{bucket_policy, distribution, dns, oac, oai};
use crate::settings::Setting;
use crate::spec::Spec;

pub use shape::Seed;

/// What the preflight found, for the plan and the steps after it.
#[derive(Debug, Clone)]
pub struct Found {
    pub seed: Seed,
    pub distribution: distribution::Observed,
    pub oai: Option<oai::Observed>,
    /// The hosted zone's name, when the stack has records.
    pub zone_name: Option<String>,
    /// The principals the stack's policy gives full access (the CDK's deploy
    /// principals).
    pub bucket_users: Vec<String>,
}

impl Found {
    /// The settings the stack implies, as `.env` lines would give them.
    pub fn settings(&self) -> Vec<(Setting, String)> {
        let mut out = vec![(Setting::BucketName, self.seed.bucket.clone())];
        if !self.bucket_users.is_empty() {
            out.push((Setting::BucketUsers, self.bucket_users.join(",")));
        }
        if let (Some((domain, zone_id)), Some(zone)) = (self.seed.domain(), &self.zone_name) {
            out.push((Setting::HostedZoneName, zone.clone()));
            out.push((Setting::HostedZoneId, zone_id.to_string()));
            out.push((Setting::Subdomain, domain.to_string()));
        }
        let certificate = self
            .distribution
            .config
            .viewer_certificate
            .as_ref()
            .and_then(|v| v.acm_certificate_arn.clone())
            .filter(|a| !a.is_empty());
        if let Some(arn) = certificate {
            out.push((Setting::CertificateArn, arn));
        }
        out
    }
}

/// Settings given (flags, environment, `.env`) that name another bucket,
/// domain or certificate than the stack's: `adopt` takes the CDN over as it
/// is; `up` changes it afterwards.
pub fn conflicts(found: &Found, settings: &crate::settings::Settings) -> Vec<String> {
    let implied = found.settings();
    let of = |setting| implied.iter().find(|(s, _)| *s == setting).map(|(_, v)| v.as_str());
    let mut out = Vec::new();
    let mut differ = |setting: Setting, given: Option<&str>, stack: Option<&str>| {
        if given != stack {
            out.push(format!(
                "{setting}: {} is set, the stack's is {}: unset it (adopt reads it from the stack), then change it with `cdnctl up` once adopted",
                given.unwrap_or("none"),
                stack.unwrap_or("none")
            ));
        }
    };
    differ(
        Setting::BucketName,
        Some(settings.bucket.as_str()),
        of(Setting::BucketName),
    );
    differ(
        Setting::Subdomain,
        settings.domain.as_ref().map(|d| d.name.as_str()),
        of(Setting::Subdomain),
    );
    differ(
        Setting::CertificateArn,
        settings.certificate_arn.as_deref(),
        of(Setting::CertificateArn),
    );
    out
}

/// Read everything the takeover touches and say whether it may go on: the
/// found resources, or every refusal (one line each). Sends no write.
pub async fn preflight(
    clients: &Clients,
    stack: &stack::Observed,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Result<Found, Vec<String>>> {
    let seed = match shape::seed(stack) {
        Ok(seed) => seed,
        Err(refusals) => return Ok(Err(refusals)),
    };
    let mut refusals = Vec::new();
    let cf = &clients.cloudfront;
    let Some(d) = observe_distribution(cf, &seed.distribution).await? else {
        return Ok(Err(vec![format!(
            "distribution {}: the stack's, but it does not exist",
            seed.distribution
        )]));
    };
    refusals.extend(origin_refusals(&d, &seed.bucket, &clients.region, seed.oai.as_deref()));
    let oai = match &seed.oai {
        Some(id) => oai::observe(cf, id).await?,
        None => None,
    };
    let s3 = &clients.s3;
    let policy = optional(
        format!("bucket {}: GetBucketPolicy", seed.bucket),
        s3.get_bucket_policy().bucket(&seed.bucket).send().await,
    )?
    .and_then(|p| p.policy)
    .map(|p| serde_json::from_str::<Value>(&p))
    .transpose()
    .with_context(|| format!("bucket {}: its policy is not JSON", seed.bucket))?;
    refusals.extend(acl_refusals(clients, &seed.bucket).await?);
    let mut zone_name = None;
    if let Some((domain, zone_id)) = seed.domain() {
        let zone = clients
            .route53
            .get_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .map_err(|e| describe(format!("hosted zone {zone_id}: GetHostedZone"), e))?;
        zone_name = zone.hosted_zone().map(|z| z.name().trim_end_matches('.').to_string());
        let records = dns::observe(&clients.route53, zone_id, domain).await?;
        for r in &seed.records {
            let live = if r.kind == "A" { &records.a } else { &records.aaaa };
            if !live.as_ref().is_some_and(|l| dns::points_at(l, &d.domain_name)) {
                refusals.push(format!(
                    "DNS {domain}: the stack's {} record does not point at distribution {} ({}) any more",
                    r.kind, d.id, d.domain_name
                ));
            }
        }
        let aliases = d
            .config
            .aliases
            .as_ref()
            .map(|a| a.items().to_vec())
            .unwrap_or_default();
        if aliases != [domain.to_string()] {
            refusals.push(format!(
                "distribution {}: answers to {}, the stack's records name {domain} alone",
                d.id,
                aliases.join(", ")
            ));
        }
    }
    if let Some(arn) = d
        .config
        .viewer_certificate
        .as_ref()
        .and_then(|v| v.acm_certificate_arn.as_deref())
    {
        let cert = clients
            .acm
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .map_err(|e| describe(format!("certificate {arn}: DescribeCertificate"), e))?;
        let status = cert
            .certificate()
            .and_then(|c| c.status())
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if status != "ISSUED" {
            refusals.push(format!("certificate {arn}: {status}, expected ISSUED"));
        }
    }
    let drifts = match stack.is_deleted() {
        true => Vec::new(),
        false => stack::drift(&clients.cloudformation, stack, waiting, events).await?,
    };
    for drift in drifts {
        refusals.push(format!(
            "stack {}: {drift}: drift on a resource cdnctl would retain; put it back as the stack says (or update the stack), then run `cdnctl adopt` again",
            stack.name
        ));
    }
    if !refusals.is_empty() {
        return Ok(Err(refusals));
    }
    let bucket_users = policy.as_ref().map(deploy_principals).unwrap_or_default();
    Ok(Ok(Found {
        seed,
        distribution: d,
        oai,
        zone_name,
        bucket_users,
    }))
}

/// A distribution by its id alone (its ARN read first, for its tags).
pub async fn observe_distribution(
    cf: &aws_sdk_cloudfront::Client,
    id: &str,
) -> anyhow::Result<Option<distribution::Observed>> {
    let found = optional(
        format!("distribution {id}: GetDistribution"),
        cf.get_distribution().id(id).send().await,
    )?;
    let Some(arn) = found.and_then(|d| d.distribution).map(|d| d.arn) else {
        return Ok(None);
    };
    distribution::observe(cf, id, &arn).await
}

/// The distribution must read the bucket, alone, through the stack's OAI
/// (or already through an OAC), at the endpoint cdnctl uses.
fn origin_refusals(d: &distribution::Observed, bucket: &str, region: &str, oai_id: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let id = &d.id;
    let origins = d.config.origins.as_ref().map(|o| o.items()).unwrap_or_default();
    let want = format!("{bucket}.s3.{region}.amazonaws.com");
    for o in origins {
        let domain = o.domain_name.to_ascii_lowercase();
        if domain.contains(".s3-website") || (o.custom_origin_config.is_some() && domain.starts_with(bucket)) {
            out.push(format!(
                "distribution {id}: its origin {domain} is the bucket's S3 website endpoint, which an origin access control cannot sign for: move it to the bucket's REST endpoint first"
            ));
        } else if domain != want {
            out.push(format!(
                "distribution {id}: reads from {domain}, cdnctl reads the bucket at {want} (set AWS_REGION to the bucket's region)"
            ));
        }
        let used = o
            .s3_origin_config
            .as_ref()
            .and_then(|s| oai::id_in_origin(&s.origin_access_identity));
        if used.is_some() && used != oai_id {
            out.push(format!(
                "distribution {id}: its origin uses origin access identity {}, not the stack's",
                used.unwrap_or_default()
            ));
        }
    }
    if origins.len() > 1 {
        out.push(format!(
            "distribution {id}: has {} origins, the CDK stack cdnctl replaces has one",
            origins.len()
        ));
    }
    if d.config.cache_behaviors.as_ref().is_some_and(|c| c.quantity > 0) {
        out.push(format!(
            "distribution {id}: has cache behaviors beside the default one, which the CDK stack cdnctl replaces has not"
        ));
    }
    out
}

/// An Object Ownership other than BucketOwnerEnforced while an object
/// carries another owner's grant: OAC reads need ACLs off, and turning them
/// off would cut those grants.
async fn acl_refusals(clients: &Clients, bucket: &str) -> anyhow::Result<Vec<String>> {
    let s3 = &clients.s3;
    let ownership = optional(
        format!("bucket {bucket}: GetBucketOwnershipControls"),
        s3.get_bucket_ownership_controls().bucket(bucket).send().await,
    )?;
    let enforced = ownership.and_then(|o| o.ownership_controls).is_some_and(|c| {
        c.rules()
            .iter()
            .any(|r| r.object_ownership().as_str() == "BucketOwnerEnforced")
    });
    if enforced {
        return Ok(Vec::new());
    }
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(1000)
        .send()
        .await
        .map_err(|e| describe(format!("bucket {bucket}: ListObjectsV2"), e))?;
    let mut out = Vec::new();
    for object in listed.contents() {
        let Some(key) = object.key() else { continue };
        let acl = s3
            .get_object_acl()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| describe(format!("bucket {bucket}: GetObjectAcl {key}"), e))?;
        let owner = acl.owner().and_then(|o| o.id()).unwrap_or_default().to_string();
        let others = acl.grants().iter().any(|g| {
            g.grantee()
                .is_some_and(|who| who.id().is_none_or(|id| id != owner) || who.uri().is_some())
        });
        if others {
            out.push(format!(
                "bucket {bucket}: object {key} carries an ACL grant to someone other than the bucket owner, and Object Ownership is not BucketOwnerEnforced: ACLs are needed here, which an origin access control cannot honour; move those grants into the bucket policy first"
            ));
            break;
        }
    }
    Ok(out)
}

/// The principals a policy gives `s3:*` on the bucket (the CDK's deploy grant).
fn deploy_principals(policy: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in bucket_policy::statements(policy) {
        let everything = match s.get("Action") {
            Some(Value::String(a)) => a == "s3:*",
            Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some("s3:*")),
            _ => false,
        };
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") || !everything {
            continue;
        }
        match s.pointer("/Principal/AWS") {
            Some(Value::String(p)) => out.push(p.clone()),
            Some(Value::Array(ps)) => out.extend(ps.iter().filter_map(|p| p.as_str().map(String::from))),
            _ => {}
        }
    }
    out.dedup();
    out
}

/// The bucket's policy, parsed (`None` without one).
pub async fn policy(clients: &Clients, bucket: &str) -> anyhow::Result<Option<Value>> {
    optional(
        format!("bucket {bucket}: GetBucketPolicy"),
        clients.s3.get_bucket_policy().bucket(bucket).send().await,
    )?
    .and_then(|p| p.policy)
    .map(|p| serde_json::from_str::<Value>(&p))
    .transpose()
    .with_context(|| format!("bucket {bucket}: its policy is not JSON"))
}

async fn put_policy(clients: &Clients, bucket: &str, policy: &Value) -> anyhow::Result<()> {
    clients
        .s3
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| describe(format!("bucket {bucket}: PutBucketPolicy"), e))?;
    Ok(())
}

/// The stack's OAC, made if missing; its id.
pub async fn ensure_oac(clients: &Clients, spec: &Spec, events: &dyn Events) -> anyhow::Result<String> {
    let cf = &clients.cloudfront;
    if let Some(o) = oac::observe(cf, &spec.oac_name).await? {
        return Ok(o.id);
    }
    let id = oac::create(cf, &spec.oac_name).await?;
    events.done(&format!("origin access control {}: create", spec.oac_name));
    Ok(id)
}

/// The bucket policy granting the OAC (cdnctl's statements) beside every
/// statement there, the identity's grant among them. Whether it wrote.
pub async fn grant_oac(
    clients: &Clients,
    spec: &Spec,
    distribution_arn: &str,
    events: &dyn Events,
) -> anyhow::Result<bool> {
    let current = policy(clients, &spec.bucket).await?;
    let merged = bucket_policy::merge(current.as_ref(), spec, &spec.policy(distribution_arn), false);
    if current.as_ref() == Some(&merged) {
        return Ok(false);
    }
    put_policy(clients, &spec.bucket, &merged).await?;
    events.done(&format!(
        "bucket {}: policy grants the origin access control beside the origin access identity",
        spec.bucket
    ));
    Ok(true)
}

/// Tag the distribution as the stack's (TagResource adds to CloudFormation's
/// tags), then move its origin to the OAC and wait until deployed. Whether it
/// changed the origin.
pub async fn switch_origin(
    clients: &Clients,
    spec: &Spec,
    id: &str,
    oac_id: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<bool> {
    let cf = &clients.cloudfront;
    let d = observe_distribution(cf, id)
        .await?
        .ok_or_else(|| anyhow!("distribution {id}: gone"))?;
    if !spec.is_owned(&d.tags) {
        distribution::put_tags(cf, &d.arn, spec).await?;
        events.done(&format!("distribution {id}: tag (beside CloudFormation's tags)"));
    }
    let (config, changes) = distribution::to_oac(&d.config, spec, oac_id)?;
    let changed = !changes.is_empty();
    if changed {
        let applied = |now: &_| distribution::to_oac(now, spec, oac_id).is_ok_and(|(_, c)| c.is_empty());
        distribution::update(cf, id, &d.etag, config, None, waiting, |_, _| {}, applied).await?;
        events.done(&format!(
            "distribution {id}: origin reads through the origin access control ({})",
            changes.join("; ")
        ));
    }
    let label = format!("distribution {id}");
    let progress = events.progress(&label, "waiting for CloudFront to deploy");
    let result = distribution::wait_deployed(cf, id, waiting, |s| progress.status(s)).await;
    drop(progress);
    result?;
    Ok(changed)
}

/// The identity's grants removed from the bucket policy, then the identity
/// deleted, once no origin of `distribution` uses it.
pub async fn retire_oai(
    clients: &Clients,
    spec: &Spec,
    distribution_config: &aws_sdk_cloudfront::types::DistributionConfig,
    identity: &oai::Observed,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<()> {
    let label = format!("origin access identity {}", identity.id);
    if oai::used_by(distribution_config).contains(&identity.id) {
        return Err(anyhow!(
            "{label}: still used by the distribution: run `cdnctl adopt` again"
        ));
    }
    if let Some(current) = policy(clients, &spec.bucket).await? {
        if let Some(without) = oai::without_grants(&current, identity)? {
            put_policy(clients, &spec.bucket, &without).await?;
            events.done(&format!("bucket {}: policy no longer grants {label}", spec.bucket));
        }
    }
    // The identity's own step, as `down` would plan it.
    let facts = crate::resources::kit::Facts::default();
    let cx = Cx {
        clients,
        spec,
        facts: &facts,
        waiting,
        events,
    };
    for planned in oai::down(identity, &[]).steps {
        planned.step.apply(&cx).await?;
        events.done(&format!("{}: {}", planned.resource, planned.action));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cdk_deploy_principals() {
        let policy = json!({"Statement": [
            {"Action": "s3:*", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::1:user/deployer", "arn:aws:iam::1:role/ci"]}, "Resource": ["a", "a/*"]},
            {"Action": "s3:GetObject", "Effect": "Allow", "Principal": {"CanonicalUser": "c"}, "Resource": "a/*"}
        ]});
        assert_eq!(
            deploy_principals(&policy),
            vec![
                "arn:aws:iam::1:user/deployer".to_string(),
                "arn:aws:iam::1:role/ci".to_string()
            ]
        );
    }
}
