//! `cdnctl status`: observe and plan as `up` would, never apply; report each
//! resource's presence, ownership, health and drift, and say it in the exit code.

use serde_json::json;

use super::now;
use crate::access;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::{Format, StatusArgs};
use crate::exit::Exit;
use crate::observe::{observe, World};
use crate::output::Printer;
use crate::plan::{self, Plan, UpOptions};
use crate::report::Resource;
use crate::resources::{bucket, bucket_policy, certificate, dns};
use crate::settings::Waf;
use crate::spec::Headers;
use crate::spec::Spec;

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &StatusArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let world = observe(clients, spec, waiting, None).await?;
    let opts = UpOptions {
        adopt: false,
        end_public_access: false,
        wait: false,
        now: now(),
    };
    // What up would change, and what would make it refuse to start.
    let plan = plan::changes(spec, &world, &opts);
    let problems: Vec<String> = plan::preflight(spec, &world, &opts).into_iter().map(|r| r.0).collect();
    let resources = report(spec, &world, &plan, opts.now);
    let state = if world.nothing_exists() {
        Exit::Absent
    } else if !problems.is_empty() || resources.iter().any(|r| !r.differences.is_empty() || !r.present) {
        Exit::Drift
    } else if resources
        .iter()
        .any(|r| matches!(r.health.as_str(), "deploying" | "pending"))
    {
        Exit::NotReady
    } else {
        Exit::Success
    };
    let state_name = match state {
        Exit::Success => "in_sync",
        Exit::Drift => "drift",
        Exit::NotReady => "not_ready",
        _ => "absent",
    };

    let urls: Vec<(&str, String)> = world
        .distribution
        .iter()
        .map(|d| ("CloudFront", format!("https://{}/", d.domain_name)))
        .chain(
            spec.domain
                .iter()
                .map(|d| ("custom domain", format!("https://{}/", d.name))),
        )
        .collect();
    ci::status_summary(&spec.bucket, state_name, state as u8, &resources, &problems, &urls).write(printer);

    let format = if printer.json { Format::Json } else { args.format };
    match format {
        Format::Json => {
            // The distribution's id, domain and URL as fields of their own.
            let mut resources = serde_json::to_value(&resources)?;
            if let (Some(d), Some(items)) = (&world.distribution, resources.as_array_mut()) {
                for r in items.iter_mut().filter(|r| r["type"] == "distribution") {
                    r["id"] = json!(d.id);
                    r["domain"] = json!(d.domain_name);
                    r["url"] = json!(format!("https://{}/", d.domain_name));
                }
            }
            printer.json(&json!({
                "stack": spec.bucket,
                "state": state_name,
                "exit_code": state as u8,
                "resources": resources,
                "problems": problems,
            }))
        }
        Format::Env => {
            let Some(d) = &world.distribution else {
                anyhow::bail!(
                    "status: stack {} has no distribution yet: run `cdnctl up` first",
                    spec.bucket
                );
            };
            let domain = spec
                .domain
                .as_ref()
                .map(|d| d.name.clone())
                .unwrap_or_else(|| d.domain_name.clone());
            printer.result(&format!(
                "AWS_STORAGE_BUCKET_NAME={}\nAWS_S3_REGION_NAME={}\nAWS_S3_CUSTOM_DOMAIN={domain}\nSTATIC_URL=https://{domain}/",
                spec.bucket, spec.region
            ));
        }
        Format::Text | Format::Github => {
            for r in &resources {
                let presence = match (r.present, r.owned) {
                    (false, _) => "absent",
                    (true, true) => "present",
                    (true, false) if r.r#type == "certificate" => "present (given)",
                    (true, false) if r.r#type == "response_headers_policy" => "CloudFront's own",
                    (true, false) => "present, not owned by this stack",
                };
                let kind = r.r#type.replace('_', " ");
                let detail = if r.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.detail)
                };
                printer.result(&format!("{kind} {}: {presence}; {}{detail}", r.name, r.health));
                for d in &r.differences {
                    printer.result(&format!("  - {d}"));
                }
            }
            for p in &problems {
                printer.result(&format!("problem: {p}"));
            }
            printer.result(&format!("state: {state_name} (exit code {})", state as u8));
            if format == Format::Github {
                for line in ci::status_annotations(&resources, &problems) {
                    printer.result(&line);
                }
            }
        }
    }
    Ok(state)
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

fn report(spec: &Spec, world: &World, plan: &Plan, now: i64) -> Vec<Resource> {
    let drift = |prefix: &str| -> Vec<String> {
        plan.changes
            .iter()
            .filter(|c| c.resource.starts_with(prefix) && c.step.is_write())
            .flat_map(|c| {
                if c.details.is_empty() {
                    vec![c.action.clone()]
                } else {
                    c.details.clone()
                }
            })
            .collect()
    };
    let mut out = Vec::new();

    // What a visitor gets: a bucket CloudFront cannot read is not ok.
    let blocked = match (&world.bucket, &world.distribution) {
        (bucket::State::Present(b), Some(d)) => access::cloudfront_blocked(b.policy.as_ref(), &spec.bucket, &d.arn),
        _ => None,
    };
    let (present, owned, health) = match &world.bucket {
        bucket::State::Absent => (false, false, "missing"),
        bucket::State::Foreign => (true, false, "foreign"),
        bucket::State::Present(b) => {
            let health = if blocked.is_some() { "unreadable" } else { "ok" };
            (true, spec.is_owned(&b.tags), health)
        }
    };
    out.push(Resource {
        r#type: "bucket",
        name: spec.bucket.clone(),
        present,
        owned,
        health: health.into(),
        // Why CloudFront cannot read it, and what else the policy keeps.
        detail: [blocked.unwrap_or_default(), foreign_statements(spec, world)]
            .into_iter()
            .filter(|d| !d.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
        differences: if present { drift("bucket ") } else { vec![] },
    });

    out.push(Resource {
        r#type: "origin_access_control",
        name: spec.oac_name.clone(),
        present: world.oac.is_some(),
        owned: world.oac.is_some(),
        health: if world.oac.is_some() { "ok" } else { "missing" }.into(),
        detail: String::new(),
        differences: if world.oac.is_some() {
            drift("origin access control")
        } else {
            vec![]
        },
    });

    // What browsers see: a managed policy, or the stack's own.
    let comment = crate::spec::comment(&spec.bucket);
    let own = world.headers_policy.as_ref();
    match &spec.headers {
        Headers::Managed { id, name } => {
            out.push(Resource {
                r#type: "response_headers_policy",
                name: name.to_string(),
                present: true,
                owned: false,
                health: "ok".into(),
                detail: format!("managed, {id}"),
                differences: vec![],
            });
            if let Some(p) = own.filter(|p| p.is_owned(&comment)) {
                out.push(Resource {
                    r#type: "response_headers_policy",
                    name: p.config.name().to_string(),
                    present: true,
                    owned: true,
                    health: "leftover".into(),
                    detail: p.id.clone(),
                    differences: vec![format!("no longer needed ({name} replaces it): `cdnctl up` deletes it")],
                });
            }
        }
        Headers::Owned(want) => out.push(Resource {
            r#type: "response_headers_policy",
            name: want.name.clone(),
            present: own.is_some(),
            owned: own.is_some_and(|p| p.is_owned(&comment)),
            health: match own {
                None => "missing",
                Some(p) if !p.is_owned(&comment) => "foreign",
                Some(_) => "ok",
            }
            .into(),
            detail: own.map(|p| p.id.clone()).unwrap_or_default(),
            differences: if own.is_some() {
                drift("response headers policy")
            } else {
                vec![]
            },
        }),
    }

    let d = world.distribution.as_ref();
    out.push(Resource {
        r#type: "distribution",
        name: d
            .map(|d| format!("{} ({})", d.id, d.domain_name))
            .unwrap_or_else(|| spec.distribution.caller_reference.clone()),
        present: d.is_some(),
        owned: d.is_some_and(|d| spec.is_owned(&d.tags)),
        health: match d {
            None => "missing",
            Some(d) if !d.config.enabled => "disabled",
            Some(d) if d.status != "Deployed" => "deploying",
            Some(_) => "ok",
        }
        .into(),
        detail: d
            .map(|d| {
                let acl = d.config.web_acl_id.as_deref().filter(|a| !a.is_empty());
                match (acl, &spec.distribution.waf) {
                    (Some(acl), Waf::Unmanaged) => {
                        format!(
                            "{}; web ACL {acl} attached outside cdnctl (kept: WAF_ARN is unset)",
                            d.status
                        )
                    }
                    _ => d.status.clone(),
                }
            })
            .unwrap_or_default(),
        differences: if d.is_some() { drift("distribution") } else { vec![] },
    });

    if let Some(domain) = &spec.domain {
        let c = world.certificate.as_ref();
        let given = spec.distribution.certificate_arn.as_ref();
        let (health, detail) = match c {
            None => ("missing", String::new()),
            Some(c) => match (c.status.as_str(), certificate::days_left(c, now)) {
                ("ISSUED", Some(days)) if days < 0 => ("expired", String::new()),
                ("ISSUED", Some(days)) if days < 30 => ("expiring", format!("{days} days left")),
                ("ISSUED", Some(days)) => ("ok", format!("{days} days left")),
                ("ISSUED", None) => ("ok", String::new()),
                ("PENDING_VALIDATION", _) => ("pending", "waiting for DNS validation".into()),
                (other, _) => ("failed", other.to_string()),
            },
        };
        let wanted = given.map(String::as_str).or(c.map(|c| c.arn.as_str()));
        let in_use = d
            .and_then(|d| d.config.viewer_certificate.as_ref())
            .and_then(|v| v.acm_certificate_arn.as_deref());
        let mut differences = match (in_use, wanted) {
            (Some(used), Some(wanted)) if used != wanted => vec![format!("the distribution uses {used}, not {wanted}")],
            _ => vec![],
        };
        if let (Some(c), Some(false)) = (c.filter(|c| c.owned), world.validation_record) {
            differences.push(plan::validation_missing(c));
        }
        out.push(Resource {
            r#type: "certificate",
            name: wanted.map(String::from).unwrap_or_else(|| domain.name.clone()),
            present: c.is_some(),
            owned: c.is_some_and(|c| c.owned),
            health: health.into(),
            detail,
            differences,
        });
    }

    // The stack's certificates it no longer needs, and records of a domain
    // no longer in the settings: `up` deletes them, `down` too.
    for c in &world.spare_certificates {
        out.push(Resource {
            r#type: "certificate",
            name: c.arn.clone(),
            present: true,
            owned: true,
            health: match c.status.as_str() {
                "EXPIRED" => "expired",
                s if certificate::is_live(s) => "leftover",
                _ => "failed",
            }
            .into(),
            detail: c.status.clone(),
            differences: vec![format!("{}: `cdnctl up` deletes it", plan::spare_reason(c))],
        });
    }
    for (_, name, records) in &world.stale_records {
        for r in records {
            out.push(Resource {
                r#type: "dns_record",
                name: format!("{name} {}", r.r#type().as_str()),
                present: true,
                owned: true,
                health: "leftover".into(),
                detail: dns::target(r),
                differences: vec![format!(
                    "{name} is no longer in the settings: `cdnctl up` deletes this record"
                )],
            });
        }
    }

    if let Some(domain) = &spec.domain {
        let records = world.records.clone().unwrap_or_default();
        for (kind, record) in [("A", &records.a), ("AAAA", &records.aaaa)] {
            let points = record
                .as_ref()
                .is_some_and(|r| d.is_some_and(|d| dns::points_at(r, &d.domain_name)));
            out.push(Resource {
                r#type: "dns_record",
                name: format!("{} {kind}", domain.name),
                present: record.is_some(),
                owned: points,
                health: match record {
                    None => "missing",
                    Some(_) if points => "ok",
                    Some(_) => "wrong_target",
                }
                .into(),
                detail: record.as_ref().map(dns::target).unwrap_or_default(),
                differences: match record {
                    Some(r) if !points => vec![format!(
                        "points at {}, not at this stack's distribution",
                        dns::target(r)
                    )],
                    _ => vec![],
                },
            });
        }
    }
    out
}
