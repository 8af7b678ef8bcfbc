//! `status`'s report: one piece per resource, each saying whether it is
//! there, whose it is, its health, and what `up` would change (the plan's
//! writes for its kind).

use crate::access;
use crate::observe::World;
use crate::plan::Plan;
use crate::report::{Health, Resource};
use crate::resources::{bucket, bucket_policy, certificate, dns, function, Kind};
use crate::settings::Setting::WafArn;
use crate::settings::Waf;
use crate::spec::{Headers, Spec};

pub fn report(spec: &Spec, world: &World, plan: &Plan, now: i64) -> Vec<Resource> {
    let drift = |kind: Kind| -> Vec<String> {
        plan.changes
            .iter()
            .filter(|c| c.step.kind() == kind && c.step.is_write())
            .flat_map(|c| {
                if c.details.is_empty() {
                    vec![c.action.clone()]
                } else {
                    c.details.clone()
                }
            })
            .collect()
    };
    let mut out = vec![bucket_report(spec, world, &drift), oac_report(spec, world, &drift)];
    out.extend(headers_report(spec, world, &drift));
    out.push(distribution_report(spec, world, &drift));
    out.extend(releases_report(spec, world, &drift));
    out.extend(certificate_report(spec, world, now));
    out.extend(leftovers_report(world));
    out.extend(records_report(spec, world));
    out
}

/// With releases on: the store, with the live release, and the function.
fn releases_report(spec: &Spec, world: &World, drift: &dyn Fn(Kind) -> Vec<String>) -> Vec<Resource> {
    // With releases off, only what is left of them (still serving a
    // release, or unused until `down`).
    if spec.releases == 0 && world.store.is_none() && world.function.is_none() {
        return vec![];
    }
    let (name, comment) = (function::name(&spec.bucket), crate::spec::comment(&spec.bucket));
    let piece = |kind: Kind, present: bool, owned: bool, settling: bool, detail: String| {
        let health = match (present, owned) {
            (false, _) => Health::Missing,
            (true, false) => Health::Foreign,
            (true, true) if settling => Health::Deploying,
            (true, true) => Health::Ok,
        };
        Resource::new(kind, name.clone(), health)
            .present(present)
            .owned(owned)
            .detail(detail)
            .differences(if owned { drift(kind) } else { vec![] })
    };
    let store = world.store.as_ref();
    let live = store.map(|s| match &s.live {
        // `live` holds the live route: its newest release is the live one.
        Some(r) => match crate::release::route::Route::parse(r) {
            Some(route) => format!("{}; live release {}", s.arn, route.head()),
            None => format!("{}; `live` holds {r:?}, not a release's route", s.arn),
        },
        None => format!("{}; no release published yet (files served in place)", s.arn),
    });
    let f = world.function.as_ref();
    let published = f.map(|f| {
        let stage = if f.is_published() {
            "LIVE is DEVELOPMENT"
        } else {
            "LIVE differs from DEVELOPMENT"
        };
        format!("{}; {stage}", f.arn)
    });
    let rows = vec![
        piece(
            Kind::KeyValueStore,
            store.is_some(),
            store.is_some_and(|s| s.is_owned(&comment)),
            // CloudFront provisions a new store for a moment.
            store.is_some_and(|s| s.status != "READY"),
            live.unwrap_or_default(),
        ),
        piece(
            Kind::Function,
            f.is_some(),
            f.is_some_and(|f| f.is_owned(&comment)),
            false,
            published.unwrap_or_default(),
        ),
    ];
    rows.into_iter().filter(|r| spec.releases > 0 || r.present).collect()
}

/// What a visitor gets: a bucket CloudFront cannot read is not ok.
fn bucket_report(spec: &Spec, world: &World, drift: &dyn Fn(Kind) -> Vec<String>) -> Resource {
    let blocked = match (&world.bucket, &world.distribution) {
        (bucket::State::Present(b), Some(d)) => access::cloudfront_blocked(b.policy.as_ref(), &spec.bucket, &d.arn),
        _ => None,
    };
    let (present, owned, health) = match &world.bucket {
        bucket::State::Absent => (false, false, Health::Missing),
        bucket::State::Foreign => (true, false, Health::Foreign),
        bucket::State::Present(b) => {
            let health = if blocked.is_some() {
                Health::Unreadable
            } else {
                Health::Ok
            };
            (true, spec.is_owned(&b.tags), health)
        }
    };
    // Why CloudFront cannot read it, and what else the policy keeps.
    let detail = [blocked.unwrap_or_default(), foreign_statements(spec, world)]
        .into_iter()
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Resource::new(Kind::Bucket, spec.bucket.clone(), health)
        .present(present)
        .owned(owned)
        .detail(detail)
        .differences(if present { drift(Kind::Bucket) } else { vec![] })
}

/// The bucket policy's statements that cdnctl did not write (and keeps).
fn foreign_statements(spec: &Spec, world: &World) -> String {
    let (bucket::State::Present(b), Some(d)) = (&world.bucket, &world.distribution) else {
        return String::new();
    };
    let desired = spec.policy(&d.arn);
    let foreign = b
        .policy
        .as_ref()
        .map(|p| bucket_policy::foreign(p, spec, &desired))
        .unwrap_or_default();
    if foreign.is_empty() {
        return String::new();
    }
    let list: Vec<String> = foreign.iter().map(bucket_policy::describe).collect();
    format!(
        "policy keeps {} statement(s) cdnctl did not write: {}",
        list.len(),
        list.join("; ")
    )
}

fn oac_report(spec: &Spec, world: &World, drift: &dyn Fn(Kind) -> Vec<String>) -> Resource {
    let present = world.oac.is_some();
    let health = if present { Health::Ok } else { Health::Missing };
    Resource::new(Kind::OriginAccessControl, spec.oac_name.clone(), health)
        .present(present)
        .owned(present)
        .differences(if present {
            drift(Kind::OriginAccessControl)
        } else {
            vec![]
        })
}

/// What browsers see: a managed policy, or the stack's own.
fn headers_report(spec: &Spec, world: &World, drift: &dyn Fn(Kind) -> Vec<String>) -> Vec<Resource> {
    let comment = crate::spec::comment(&spec.bucket);
    let own = world.headers_policy.as_ref();
    let kind = Kind::ResponseHeadersPolicy;
    match &spec.headers {
        Headers::Managed { id, name } => {
            let mut out = vec![Resource::new(kind, name.to_string(), Health::Ok)
                .owned(false)
                .detail(format!("managed, {id}"))];
            if let Some(p) = own.filter(|p| p.is_owned(&comment)) {
                out.push(
                    Resource::new(kind, p.config.name().to_string(), Health::Leftover)
                        .detail(p.id.clone())
                        .differences(vec![format!(
                            "no longer needed ({name} replaces it): `cdnctl up` deletes it"
                        )]),
                );
            }
            out
        }
        Headers::Owned(want) => {
            let health = match own {
                None => Health::Missing,
                Some(p) if !p.is_owned(&comment) => Health::Foreign,
                Some(_) => Health::Ok,
            };
            vec![Resource::new(kind, want.name.clone(), health)
                .present(own.is_some())
                .owned(own.is_some_and(|p| p.is_owned(&comment)))
                .detail(own.map(|p| p.id.clone()).unwrap_or_default())
                .differences(if own.is_some() { drift(kind) } else { vec![] })]
        }
    }
}

fn distribution_report(spec: &Spec, world: &World, drift: &dyn Fn(Kind) -> Vec<String>) -> Resource {
    let d = world.distribution.as_ref();
    let health = match d {
        None => Health::Missing,
        Some(d) if !d.config.enabled => Health::Disabled,
        Some(d) if d.status != crate::resources::distribution::Deployment::Deployed => Health::Deploying,
        Some(_) => Health::Ok,
    };
    let name = d
        .map(|d| format!("{} ({})", d.id, d.domain_name))
        .unwrap_or_else(|| spec.distribution.caller_reference.clone());
    let detail = d
        .map(|d| {
            let acl = d.config.web_acl_id.as_deref().filter(|a| !a.is_empty());
            match (acl, &spec.distribution.waf) {
                (Some(acl), Waf::Unmanaged) => {
                    format!(
                        "{}; web ACL {acl} attached outside cdnctl (kept: {WafArn} is unset)",
                        d.status
                    )
                }
                _ => d.status.to_string(),
            }
        })
        .unwrap_or_default();
    Resource::new(Kind::Distribution, name, health)
        .present(d.is_some())
        .owned(d.is_some_and(|d| spec.is_owned(&d.tags)))
        .detail(detail)
        .differences(if d.is_some() { drift(Kind::Distribution) } else { vec![] })
}

/// The certificate the distribution should use, when there is a custom domain.
fn certificate_report(spec: &Spec, world: &World, now: i64) -> Option<Resource> {
    use certificate::Status;
    let domain = spec.domain.as_ref()?;
    let c = world.certificate.as_ref();
    let given = spec.distribution.certificate_arn.as_ref();
    let (health, detail) = match c {
        None => (Health::Missing, String::new()),
        Some(c) => match (&c.status, certificate::days_left(c, now)) {
            (Status::Issued, Some(days)) if days < 0 => (Health::Expired, String::new()),
            (Status::Issued, Some(days)) if days < 30 => (Health::Expiring, format!("{days} days left")),
            (Status::Issued, Some(days)) => (Health::Ok, format!("{days} days left")),
            (Status::Issued, None) => (Health::Ok, String::new()),
            (Status::PendingValidation, _) => (Health::Pending, "waiting for DNS validation".into()),
            (other, _) => (Health::Failed, other.to_string()),
        },
    };
    let wanted = given.map(String::as_str).or(c.map(|c| c.arn.as_str()));
    let in_use = (world.distribution.as_ref())
        .and_then(|d| d.config.viewer_certificate.as_ref())
        .and_then(|v| v.acm_certificate_arn.as_deref());
    let mut differences = match (in_use, wanted) {
        (Some(used), Some(wanted)) if used != wanted => vec![format!("the distribution uses {used}, not {wanted}")],
        _ => vec![],
    };
    if let (Some(c), Some(false)) = (c.filter(|c| c.owned), world.validation_record) {
        differences.push(certificate::validation_missing(c));
    }
    let name = wanted.map(String::from).unwrap_or_else(|| domain.name.clone());
    Some(
        Resource::new(Kind::Certificate, name, health)
            .present(c.is_some())
            .owned(c.is_some_and(|c| c.owned))
            .detail(detail)
            .differences(differences),
    )
}

/// The stack's certificates it no longer needs, and records of a domain no
/// longer in the settings: `up` deletes them, `down` too.
fn leftovers_report(world: &World) -> Vec<Resource> {
    let certificates = world.spare_certificates.iter().map(|c| {
        let health = match &c.status {
            certificate::Status::Expired => Health::Expired,
            s if s.is_live() => Health::Leftover,
            _ => Health::Failed,
        };
        Resource::new(Kind::Certificate, c.arn.clone(), health)
            .detail(c.status.to_string())
            .differences(vec![format!(
                "{}: `cdnctl up` deletes it",
                certificate::spare_reason(c)
            )])
    });
    let records = world.stale_records.iter().flat_map(|stale| {
        let name = &stale.name;
        stale.records.iter().map(move |r| {
            Resource::new(
                Kind::DnsRecord,
                format!("{name} {}", r.r#type().as_str()),
                Health::Leftover,
            )
            .detail(dns::target(r))
            .differences(vec![format!(
                "{name} is no longer in the settings: `cdnctl up` deletes this record"
            )])
        })
    });
    certificates.chain(records).collect()
}

/// The custom domain's A and AAAA records, and with previews `*.DOMAIN`'s.
fn records_report(spec: &Spec, world: &World) -> Vec<Resource> {
    let Some(domain) = &spec.domain else {
        return Vec::new();
    };
    let d = world.distribution.as_ref();
    let mut names = vec![(domain.name.clone(), world.records.clone().unwrap_or_default())];
    if let Some(p) = &spec.previews {
        names.push((p.wildcard(), world.wildcard_records.clone().unwrap_or_default()));
    }
    names
        .into_iter()
        .flat_map(|(name, records)| {
            [("A", records.a), ("AAAA", records.aaaa)]
                .into_iter()
                .map(move |(kind, record)| (name.clone(), kind, record))
        })
        .map(|(name, kind, record)| {
            let points = record
                .as_ref()
                .is_some_and(|r| d.is_some_and(|d| dns::points_at(r, &d.domain_name)));
            let health = match record {
                None => Health::Missing,
                Some(_) if points => Health::Ok,
                Some(_) => Health::WrongTarget,
            };
            let differences = match &record {
                Some(r) if !points => vec![format!(
                    "points at {}, not at this stack's distribution",
                    dns::target(r)
                )],
                _ => vec![],
            };
            Resource::new(Kind::DnsRecord, format!("{name} {kind}"), health)
                .present(record.is_some())
                .owned(points)
                .detail(record.as_ref().map(dns::target).unwrap_or_default())
                .differences(differences)
        })
        .collect()
}
