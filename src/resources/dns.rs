//! Route53: find the hosted zone, and keep the custom domain's A and AAAA
//! alias records pointing at the distribution.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;

use crate::aws::{code, describe, message, optional};
use crate::settings::Domain;
use crate::spec::CLOUDFRONT_ZONE_ID;

pub const TYPES: [RrType; 2] = [RrType::A, RrType::Aaaa];

/// The zone's id: the one given (checked against the zone name), or the public
/// zone of that exact name.
pub async fn find_zone(r53: &Client, domain: &Domain) -> anyhow::Result<String> {
    let zone = &domain.zone_name;
    if let Some(id) = &domain.zone_id {
        let out = optional(
            format!("hosted zone {id}: GetHostedZone"),
            r53.get_hosted_zone().id(id).send().await,
        )?
        .ok_or_else(|| anyhow::anyhow!("HOSTED_ZONE_ID: hosted zone {id} does not exist in this account"))?;
        let name = out
            .hosted_zone()
            .map(|z| z.name().trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_default();
        if name != *zone {
            anyhow::bail!(
                "HOSTED_ZONE_ID: hosted zone {id} is {name}, but HOSTED_ZONE_NAME is {zone}: make them agree"
            );
        }
        return Ok(id.clone());
    }
    // Zones come back in order starting at this name; keep exact, public matches.
    let out = r53
        .list_hosted_zones_by_name()
        .dns_name(format!("{zone}."))
        .max_items(10)
        .send()
        .await
        .map_err(|e| describe(format!("hosted zone {zone}: ListHostedZonesByName"), e))?;
    let ids: Vec<String> = out
        .hosted_zones()
        .iter()
        .filter(|z| z.name().trim_end_matches('.').eq_ignore_ascii_case(zone))
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("HOSTED_ZONE_NAME: no public Route53 hosted zone named {zone} in this account"),
        _ => anyhow::bail!(
            "HOSTED_ZONE_NAME: several public hosted zones are named {zone}: set HOSTED_ZONE_ID to pick one"
        ),
    }
}

/// The A and AAAA records of the domain (absent ones are `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub a: Option<ResourceRecordSet>,
    pub aaaa: Option<ResourceRecordSet>,
}

impl Observed {
    pub fn records(&self) -> impl Iterator<Item = &ResourceRecordSet> {
        self.a.iter().chain(self.aaaa.iter())
    }
}

pub async fn observe(r53: &Client, zone_id: &str, name: &str) -> anyhow::Result<Observed> {
    let fqdn = format!("{name}.");
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(&fqdn)
        .start_record_type(RrType::A)
        .max_items(4)
        .send()
        .await
        .map_err(|e| describe(format!("DNS {name}: ListResourceRecordSets"), e))?;
    let pick = |t: RrType| {
        out.resource_record_sets()
            .iter()
            .find(|r| r.name().eq_ignore_ascii_case(&fqdn) && *r.r#type() == t)
            .cloned()
    };
    Ok(Observed {
        a: pick(RrType::A),
        aaaa: pick(RrType::Aaaa),
    })
}

/// Where a record points: the alias target's DNS name, or its values.
pub fn target(record: &ResourceRecordSet) -> String {
    match record.alias_target() {
        Some(a) => a.dns_name().trim_end_matches('.').to_ascii_lowercase(),
        None => record
            .resource_records()
            .iter()
            .map(|r| r.value().to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub fn points_at(record: &ResourceRecordSet, distribution_domain: &str) -> bool {
    record.alias_target().is_some_and(|a| {
        a.hosted_zone_id() == CLOUDFRONT_ZONE_ID
            && a.dns_name()
                .trim_end_matches('.')
                .eq_ignore_ascii_case(distribution_domain.trim_end_matches('.'))
    })
}

fn alias(name: &str, kind: RrType, distribution_domain: &str) -> anyhow::Result<ResourceRecordSet> {
    Ok(ResourceRecordSet::builder()
        .name(format!("{name}."))
        .r#type(kind)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(CLOUDFRONT_ZONE_ID)
                .dns_name(format!("{distribution_domain}."))
                .evaluate_target_health(false)
                .build()?,
        )
        .build()?)
}

/// Point A and AAAA at the distribution, in one change batch.
pub async fn upsert(r53: &Client, zone_id: &str, name: &str, distribution_domain: &str) -> anyhow::Result<()> {
    let changes = TYPES
        .iter()
        .map(|t| {
            Ok(Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(alias(name, t.clone(), distribution_domain)?)
                .build()?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    send(
        r53,
        zone_id,
        name,
        changes,
        "cdnctl: point the CDN's domain at its distribution",
    )
    .await
}

/// Write the CNAME that proves control of the domain to ACM.
pub async fn upsert_cname(r53: &Client, zone_id: &str, name: &str, value: &str) -> anyhow::Result<()> {
    let record = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build()?)
        .build()?;
    let change = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(record)
        .build()?;
    send(
        r53,
        zone_id,
        name,
        vec![change],
        "cdnctl: validate the CDN's certificate",
    )
    .await
}

/// Delete the validation CNAME `name` if it still has exactly `value`.
pub async fn delete_cname(r53: &Client, zone_id: &str, name: &str, value: &str) -> anyhow::Result<()> {
    let name = name.trim_end_matches('.');
    let matching: Vec<_> = observe_all(r53, zone_id, name)
        .await?
        .into_iter()
        .filter(|r| {
            *r.r#type() == RrType::Cname
                && r.resource_records()
                    .iter()
                    .any(|v| v.value().trim_end_matches('.') == value.trim_end_matches('.'))
        })
        .collect();
    delete(r53, zone_id, name, matching).await
}

/// Delete these records, repeating each exactly as Route53 requires.
pub async fn delete(r53: &Client, zone_id: &str, name: &str, records: Vec<ResourceRecordSet>) -> anyhow::Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let batch = |records: &[ResourceRecordSet]| -> anyhow::Result<ChangeBatch> {
        let changes = records
            .iter()
            .map(|r| {
                Ok(Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(r.clone())
                    .build()?)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(ChangeBatch::builder()
            .comment("cdnctl: remove the CDN's domain")
            .set_changes(Some(changes))
            .build()?)
    };
    let what = || format!("DNS {name}: ChangeResourceRecordSets");
    match r53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch(&records)?)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Some are gone already (an earlier attempt whose answer was lost, or
        // someone else): delete those still there exactly as they were.
        Err(e) if code(&e) == Some("InvalidChangeBatch") && message(&e).is_some_and(|m| m.contains("not found")) => {
            let now = observe_all(r53, zone_id, name).await?;
            let left: Vec<_> = records.into_iter().filter(|r| now.contains(r)).collect();
            if left.is_empty() {
                return Ok(());
            }
            r53.change_resource_record_sets()
                .hosted_zone_id(zone_id)
                .change_batch(batch(&left)?)
                .send()
                .await
                .map_err(|e| describe(what(), e))?;
            Ok(())
        }
        Err(e) => Err(describe(what(), e)),
    }
}

/// Every record set named `name` in the zone.
async fn observe_all(r53: &Client, zone_id: &str, name: &str) -> anyhow::Result<Vec<ResourceRecordSet>> {
    let fqdn = format!("{name}.");
    let out = r53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(&fqdn)
        .max_items(10)
        .send()
        .await
        .map_err(|e| describe(format!("DNS {name}: ListResourceRecordSets"), e))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().eq_ignore_ascii_case(&fqdn))
        .cloned()
        .collect())
}

async fn send(r53: &Client, zone_id: &str, name: &str, changes: Vec<Change>, comment: &str) -> anyhow::Result<()> {
    r53.change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            ChangeBatch::builder()
                .comment(comment)
                .set_changes(Some(changes))
                .build()?,
        )
        .send()
        .await
        .map_err(|e| describe(format!("DNS {name}: ChangeResourceRecordSets"), e))?;
    Ok(())
}
