//! `cdnctl status`: observe and plan as `up` would, never apply; report each
//! resource's presence, ownership, health and drift, and say it in the exit code.

use serde::Serialize;
use serde_json::json;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::{Format, StatusArgs};
use crate::exit::Exit;
use crate::observe::{observe, World};
use crate::output::{Report, Text};
use crate::plan::{self, UpOptions};
use crate::report::Resource;
use crate::resources::Kind;
use crate::spec::Spec;

mod report;

/// `status`'s result: every resource's row, the problems, the verdict; in
/// the format asked for. The exit code is the verdict.
#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub stack: String,
    pub state: &'static str,
    pub exit_code: u8,
    pub resources: Vec<serde_json::Value>,
    pub problems: Vec<String>,
    #[serde(skip)]
    pub exit: Exit,
    #[serde(skip)]
    rows: Vec<Resource>,
    #[serde(skip)]
    format: Format,
    /// `--format env`: the settings django-storages needs.
    #[serde(skip)]
    env: Option<String>,
    #[serde(skip)]
    summary: String,
}

impl Report for StatusReport {
    fn text(&self) -> Text {
        let mut text = Text::default();
        match self.format {
            Format::Env => text.result.extend(self.env.clone()),
            Format::Text | Format::Github | Format::Json => {
                text.result = text_lines(&self.rows, &self.problems, self.state, self.exit_code);
                if self.format == Format::Github {
                    text.result.extend(ci::status_annotations(&self.rows, &self.problems));
                }
            }
        }
        text
    }

    fn step_summary(&self) -> Option<String> {
        Some(self.summary.clone())
    }
}

pub async fn run(clients: &Clients, spec: &Spec, waiting: &Waiting, args: &StatusArgs) -> anyhow::Result<StatusReport> {
    let world = observe(clients, spec, waiting, None).await?;
    let found = Findings::of(spec, &world);
    let summary = ci::status_summary(
        &spec.bucket,
        found.state_name(),
        found.state as u8,
        &found.resources,
        &found.problems,
        &urls(spec, &world),
    );
    let env = match args.format {
        Format::Env => Some(env_lines(spec, &world)?),
        _ => None,
    };
    // The distribution's id, domain and URL as fields of their own.
    let mut resources = Vec::new();
    for r in &found.resources {
        let mut value = serde_json::to_value(r)?;
        if let (Some(d), true) = (&world.distribution, r.kind == Kind::Distribution) {
            value["id"] = json!(d.id);
            value["domain"] = json!(d.domain_name);
            value["url"] = json!(format!("https://{}/", d.domain_name));
        }
        resources.push(value);
    }
    Ok(StatusReport {
        stack: spec.bucket.clone(),
        state: found.state_name(),
        exit_code: found.state as u8,
        resources,
        problems: found.problems.clone(),
        exit: found.state,
        rows: found.resources,
        format: args.format,
        env,
        summary: summary.markdown(),
    })
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

/// The settings django-storages needs to serve through the stack.
fn env_lines(spec: &Spec, world: &World) -> anyhow::Result<String> {
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
    Ok(format!(
        "AWS_STORAGE_BUCKET_NAME={}\nAWS_S3_REGION_NAME={}\nAWS_S3_CUSTOM_DOMAIN={domain}\nSTATIC_URL=https://{domain}/",
        spec.bucket, spec.region
    ))
}

/// One line per resource and per difference, the problems, the verdict.
fn text_lines(rows: &[Resource], problems: &[String], state: &str, exit_code: u8) -> Vec<String> {
    let mut out = Vec::new();
    for r in rows {
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
        out.push(format!("{kind} {}: {presence}; {}{detail}", r.name, r.health));
        out.extend(r.differences.iter().map(|d| format!("  - {d}")));
    }
    out.extend(problems.iter().map(|p| format!("problem: {p}")));
    out.push(format!("state: {state} (exit code {exit_code})"));
    out
}
