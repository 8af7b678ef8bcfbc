//! Route53: find the hosted zone, and keep the custom domain's A and AAAA
//! alias records pointing at the distribution.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;

use crate::aws::{describe, is_invalid_change_batch, message, optional};
use crate::resources::kit::{Action, Cx, Fact, Learned, Part};
use crate::resources::Kind;
use crate::settings::Domain;
use crate::settings::Setting::{HostedZoneId, HostedZoneName};
use crate::spec::CLOUDFRONT_ZONE_ID;
use anyhow::Context as _;

pub const TYPES: [RrType; 2] = [RrType::A, RrType::Aaaa];

/// The hosted zone of the custom domain, or why there is none to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    Found(String),
    /// Missing, private or not the named zone: what to tell the user.
    Unusable(String),
}

/// The zone's id: the one given (checked against the zone name, and public),
/// or the public zone of that exact name.
pub async fn find_zone(r53: &Client, domain: &Domain) -> anyhow::Result<Zone> {
    let zone = &domain.zone_name;
    if let Some(id) = &domain.zone_id {
        let Some(out) = optional(
            format!("hosted zone {id}: GetHostedZone"),
            r53.get_hosted_zone().id(id).send().await,
        )?
        else {
            return Ok(Zone::Unusable(format!(
                "{HostedZoneId}: hosted zone {id} does not exist in this account"
            )));
        };
        let hosted = out.hosted_zone();
        let name = hosted
            .map(|z| z.name().trim_end_matches('.').to_ascii_lowercase())
            .unwrap_or_default();
        if name != *zone {
            return Ok(Zone::Unusable(format!(
                "{HostedZoneId}: hosted zone {id} is {name}, but {HostedZoneName} is {zone}: make them agree"
            )));
        }
        if hosted.and_then(|z| z.config()).is_some_and(|c| c.private_zone()) {
            return Ok(Zone::Unusable(format!(
                "{HostedZoneId}: hosted zone {id} is a private zone (served only inside its VPCs): give the id of the public zone {zone}, or remove {HostedZoneId} to look it up"
            )));
        }
        return Ok(Zone::Found(id.clone()));
    }
    let ids = public_zones_named(r53, zone).await?;
    Ok(match ids.as_slice() {
        [one] => Zone::Found(one.clone()),
        [] => Zone::Unusable(format!(
            "{HostedZoneName}: no public Route53 hosted zone named {zone} in this account"
        )),
        _ => Zone::Unusable(format!(
            "{HostedZoneName}: several public hosted zones are named {zone}: set {HostedZoneId} to pick one"
        )),
    })
}

/// The ids of the public zones of exactly this name.
async fn public_zones_named(r53: &Client, zone: &str) -> anyhow::Result<Vec<String>> {
    // Zones come back in order starting at this name; keep exact, public matches.
    let out = r53
        .list_hosted_zones_by_name()
        .dns_name(format!("{zone}."))
        .max_items(10)
        .send()
        .await
        .map_err(|e| describe(format!("hosted zone {zone}: ListHostedZonesByName"), e))?;
    Ok(out
        .hosted_zones()
        .iter()
        .filter(|z| z.name().trim_end_matches('.').eq_ignore_ascii_case(zone))
        .filter(|z| !z.config().is_some_and(|c| c.private_zone()))
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .collect())
}

/// The public zone that holds `name` (the longest zone name it ends with),
/// for a domain known only from a distribution's aliases.
pub async fn zone_holding(r53: &Client, name: &str) -> anyhow::Result<Option<String>> {
    let labels: Vec<&str> = name.split('.').collect();
    let suffixes: Vec<String> = (1..labels.len().saturating_sub(1))
        .map(|i| labels[i..].join("."))
        .collect();
    let found = futures_util::future::join_all(suffixes.iter().map(|s| public_zones_named(r53, s))).await;
    for ids in found {
        if let Some(id) = ids?.into_iter().next() {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The records at the custom domain that matter to cdnctl: its A and AAAA
/// (absent ones are `None`), and a CNAME, which Route53 lets no other record
/// stand beside.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub a: Option<ResourceRecordSet>,
    pub aaaa: Option<ResourceRecordSet>,
    pub cname: Option<ResourceRecordSet>,
}

impl Observed {
    /// The A and AAAA records.
    pub fn records(&self) -> impl Iterator<Item = &ResourceRecordSet> {
        self.a.iter().chain(self.aaaa.iter())
    }

    /// Whether both A and AAAA point at the distribution.
    pub fn points_at(&self, distribution_domain: &str) -> bool {
        let at = |r: &Option<ResourceRecordSet>| r.as_ref().is_some_and(|r| points_at(r, distribution_domain));
        at(&self.a) && at(&self.aaaa)
    }
}

/// Why `up` must not write the domain's records: a CNAME there (Route53
/// allows nothing beside it), or a record pointing elsewhere (unless adopting).
pub fn refusals(records: &Observed, domain: &str, distribution_domain: Option<&str>, adopt: bool) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(cname) = &records.cname {
        out.push(format!(
            "DNS {domain}: has a CNAME record (to {}), and Route53 allows no A or AAAA record beside a CNAME: \
             remove that CNAME from the zone yourself (cdnctl never deletes it, not even with --adopt), then run `cdnctl up` again",
            target(cname)
        ));
    }
    for r in records.records() {
        let ours = distribution_domain.is_some_and(|d| points_at(r, d));
        if !ours && !adopt {
            out.push(format!(
                "DNS {domain}: a {} record already points at {}: cdnctl will not overwrite it; remove it, or run `cdnctl up --adopt` to replace it",
                r.r#type().as_str(),
                target(r)
            ));
        }
    }
    out
}

pub async fn observe(r53: &Client, zone_id: &str, name: &str) -> anyhow::Result<Observed> {
    let all = observe_all(r53, zone_id, name).await?;
    let pick = |t: RrType| all.iter().find(|r| *r.r#type() == t).cloned();
    Ok(Observed {
        a: pick(RrType::A),
        aaaa: pick(RrType::Aaaa),
        cname: pick(RrType::Cname),
    })
}

/// Whether the CNAME `name` → `value` is in the zone.
pub async fn has_cname(r53: &Client, zone_id: &str, name: &str, value: &str) -> anyhow::Result<bool> {
    let name = name.trim_end_matches('.');
    Ok(observe_all(r53, zone_id, name)
        .await?
        .iter()
        .any(|r| is_cname_to(r, value)))
}

fn is_cname_to(r: &ResourceRecordSet, value: &str) -> bool {
    *r.r#type() == RrType::Cname
        && r.resource_records().iter().any(|v| {
            v.value()
                .trim_end_matches('.')
                .eq_ignore_ascii_case(value.trim_end_matches('.'))
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
        .filter(|r| is_cname_to(r, value))
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
        Err(e) if is_invalid_change_batch(&e) && message(&e).is_some_and(|m| m.contains("not found")) => {
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

/// Delete the A and AAAA records at `name` that point at the distribution,
/// read again now and repeated exactly as they are (Route53 refuses a DELETE
/// whose values differ from the current ones, and the plan's reading may be
/// minutes old: a confirmation, a certificate's validation). A record that
/// points elsewhere by now is left alone; its type is returned.
pub async fn delete_pointing_at(
    r53: &Client,
    zone_id: &str,
    name: &str,
    distribution_domain: &str,
) -> anyhow::Result<Vec<String>> {
    let now = observe(r53, zone_id, name).await?;
    let (ours, theirs): (Vec<_>, Vec<_>) = now.records().cloned().partition(|r| points_at(r, distribution_domain));
    delete(r53, zone_id, name, ours).await?;
    Ok(theirs.iter().map(|r| r.r#type().as_str().to_string()).collect())
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
        // Route53 lists `*` as `\\052` (RFC 1035's escape).
        .filter(|r| r.name().replace("\\052", "*").eq_ignore_ascii_case(&fqdn))
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

/// The DNS records' steps, for `up` and `down`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Point the custom domain's A and AAAA records at the distribution.
    Upsert { zone_id: String },
    /// Point `*.DOMAIN`'s A and AAAA records at the distribution (previews).
    Wildcard { zone_id: String, name: String },
    /// Delete these records of `name`, where they still point at the stack's distribution.
    Delete {
        zone_id: String,
        name: String,
        records: Vec<ResourceRecordSet>,
    },
}

impl Action for Step {
    const KIND: Kind = Kind::DnsRecord;

    fn needs(&self) -> Vec<Fact> {
        match self {
            // Once the distribution answers for the name.
            Step::Upsert { .. } | Step::Wildcard { .. } => {
                vec![Fact::Exists(Kind::Distribution), Fact::Written(Kind::Distribution)]
            }
            Step::Delete { .. } => vec![],
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Upsert { .. } | Step::Wildcard { .. } => vec![Fact::Exists(Self::KIND)],
            Step::Delete { .. } => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        apply(self, cx).await
    }
}

async fn apply(step: &Step, cx: &Cx<'_>) -> anyhow::Result<Learned> {
    let route53 = &cx.clients.route53;
    Ok(match step {
        Step::Upsert { zone_id } => {
            let domain = cx.spec.domain.as_ref().context("DNS: no custom domain is configured")?;
            upsert(
                route53,
                zone_id,
                &domain.name,
                &cx.facts.known(Kind::Distribution)?.domain_name,
            )
            .await?;
            Learned::Nothing
        }
        Step::Wildcard { zone_id, name } => {
            upsert(route53, zone_id, name, &cx.facts.known(Kind::Distribution)?.domain_name).await?;
            Learned::Nothing
        }
        Step::Delete { zone_id, name, .. } => {
            let d = &cx.facts.known(Kind::Distribution)?.domain_name;
            let left = delete_pointing_at(route53, zone_id, name, d).await?;
            if left.is_empty() {
                Learned::Nothing
            } else {
                Learned::Note(format!(
                    "DNS {name}: the {} record no longer points at this stack's distribution: left alone",
                    left.join(" and ")
                ))
            }
        }
    })
}

/// Records pointing at the stack's distribution for a name no longer in the
/// settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Stale {
    pub zone_id: String,
    pub name: String,
    pub records: Vec<ResourceRecordSet>,
}

/// `down`: delete the domain's records that point at the stack's
/// distribution (`dist_domain`); those pointing elsewhere are left, noted.
pub fn down(records: &Observed, zone_id: &str, domain: &str, dist_domain: Option<&str>) -> Part<Step> {
    let mut part = Part::default();
    let (ours, theirs): (Vec<_>, Vec<_>) = records
        .records()
        .cloned()
        .partition(|r| dist_domain.is_some_and(|d| points_at(r, d)));
    for r in &theirs {
        part.note(format!(
            "DNS {domain}: the {} record points at {}, not at this stack's distribution: left alone",
            r.r#type().as_str(),
            target(r)
        ));
    }
    if !ours.is_empty() {
        let types = ours
            .iter()
            .map(|r| r.r#type().as_str().to_string())
            .collect::<Vec<_>>()
            .join(" and ");
        let step = Step::Delete {
            zone_id: zone_id.to_string(),
            name: domain.to_string(),
            records: ours,
        };
        part.step(step, &format!("DNS {domain}"), &format!("delete {types}"), vec![]);
    }
    part
}

/// Delete what a domain removed from the settings left pointing at the
/// stack's distribution.
pub fn delete_stale(stale: &[Stale], action: &str) -> Part<Step> {
    let mut part = Part::default();
    for s in stale {
        let step = Step::Delete {
            zone_id: s.zone_id.clone(),
            name: s.name.clone(),
            records: s.records.clone(),
        };
        part.step(step, &format!("DNS {}", s.name), action, vec![]);
    }
    part
}

/// `up`: point the domain's A and AAAA records at the distribution, unless
/// they do (`in_place`).
pub fn up(domain: &str, zone_id: &str, in_place: bool) -> Part<Step> {
    let mut part = Part::default();
    if !in_place {
        let step = Step::Upsert {
            zone_id: zone_id.to_string(),
        };
        part.step(
            step,
            &format!("DNS {domain}"),
            "point A and AAAA at the distribution",
            vec![],
        );
    }
    part
}

/// `up` with previews: point `*.DOMAIN`'s A and AAAA records at the
/// distribution, unless they do (`in_place`).
pub fn wildcard(name: &str, zone_id: &str, in_place: bool) -> Part<Step> {
    let mut part = Part::default();
    if !in_place {
        let step = Step::Wildcard {
            zone_id: zone_id.to_string(),
            name: name.to_string(),
        };
        part.step(
            step,
            &format!("DNS {name}"),
            "point A and AAAA at the distribution (previews)",
            vec![],
        );
    }
    part
}
