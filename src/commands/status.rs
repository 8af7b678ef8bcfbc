//! `cdnctl status`: observe and plan as `up` would, never apply; report each
//! resource's presence, ownership, health and drift, and say it in the exit code.

use serde_json::json;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::{Format, StatusArgs};
use crate::exit::Exit;
use crate::observe::{observe, World};
use crate::output::Printer;
use crate::plan::{self, UpOptions};
use crate::report::Resource;
use crate::resources::Kind;
use crate::spec::Spec;

mod report;

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &StatusArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let world = observe(clients, spec, waiting, None).await?;
    let found = Findings::of(spec, &world);
    ci::status_summary(
        &spec.bucket,
        found.state_name(),
        found.state as u8,
        &found.resources,
        &found.problems,
        &urls(spec, &world),
    )
    .write(printer);
    let format = if printer.json { Format::Json } else { args.format };
    match format {
        Format::Json => print_json(spec, &world, &found, printer)?,
        Format::Env => print_env(spec, &world, printer)?,
        Format::Text | Format::Github => print_text(&found, format, printer),
    }
    Ok(found.state)
}

/// What `status` found: each resource's row, what would make `up` refuse to
/// start, and the verdict the exit code carries.
struct Findings {
    resources: Vec<Resource>,
    problems: Vec<String>,
    state: Exit,
}

impl Findings {
    /// Plans as `up` would, without adopting or ending public access.
    fn of(spec: &Spec, world: &World) -> Findings {
        let opts = UpOptions {
            adopt: false,
            end_public_access: false,
            wait: false,
            now: now(),
        };
        // What up would change, and what would make it refuse to start.
        let plan = plan::changes(spec, world, &opts);
        let problems: Vec<String> = plan::preflight(spec, world, &opts).into_iter().map(|r| r.0).collect();
        let resources = report::report(spec, world, &plan, opts.now);
        let state = if world.nothing_exists() {
            Exit::Absent
        } else if !problems.is_empty() || resources.iter().any(|r| !r.differences.is_empty() || !r.present) {
            Exit::Drift
        } else if resources.iter().any(|r| r.health.is_waiting()) {
            Exit::NotReady
        } else {
            Exit::Success
        };
        Findings {
            resources,
            problems,
            state,
        }
    }

    fn state_name(&self) -> &'static str {
        match self.state {
            Exit::Success => "in_sync",
            Exit::Drift => "drift",
            Exit::NotReady => "not_ready",
            _ => "absent",
        }
    }
}

/// The distribution's URL, and the custom domain's.
fn urls(spec: &Spec, world: &World) -> Vec<(&'static str, String)> {
    world
        .distribution
        .iter()
        .map(|d| ("CloudFront", format!("https://{}/", d.domain_name)))
        .chain(
            spec.domain
                .iter()
                .map(|d| ("custom domain", format!("https://{}/", d.name))),
        )
        .collect()
}

fn print_json(spec: &Spec, world: &World, found: &Findings, printer: &Printer) -> anyhow::Result<()> {
    // The distribution's id, domain and URL as fields of their own.
    let mut resources = serde_json::to_value(&found.resources)?;
    if let (Some(d), Some(items)) = (&world.distribution, resources.as_array_mut()) {
        for r in items.iter_mut().filter(|r| r["type"] == "distribution") {
            r["id"] = json!(d.id);
            r["domain"] = json!(d.domain_name);
            r["url"] = json!(format!("https://{}/", d.domain_name));
        }
    }
    printer.json(&json!({
        "stack": spec.bucket,
        "state": found.state_name(),
        "exit_code": found.state as u8,
        "resources": resources,
        "problems": found.problems,
    }));
    Ok(())
}

/// The settings django-storages needs to serve through the stack.
fn print_env(spec: &Spec, world: &World, printer: &Printer) -> anyhow::Result<()> {
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
    Ok(())
}

/// One line per resource and per difference, the problems, the verdict, and
/// with `--format github` the annotations.
fn print_text(found: &Findings, format: Format, printer: &Printer) {
    for r in &found.resources {
        let presence = match (r.present, r.owned) {
            (false, _) => "absent",
            (true, true) => "present",
            (true, false) if r.kind == Kind::Certificate => "present (given)",
            (true, false) if r.kind == Kind::ResponseHeadersPolicy => "CloudFront's own",
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
    for p in &found.problems {
        printer.result(&format!("problem: {p}"));
    }
    printer.result(&format!(
        "state: {} (exit code {})",
        found.state_name(),
        found.state as u8
    ));
    if format == Format::Github {
        for line in ci::status_annotations(&found.resources, &found.problems) {
            printer.result(&line);
        }
    }
}
