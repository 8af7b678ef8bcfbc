//! `cdnctl up`: plan toward the spec, then apply.

use serde::Serialize;

use super::{now, refused};
use crate::apply::apply;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::UpArgs;
use crate::exit::{Exit, Failed};
use crate::observe::observe;
use crate::observe::World;
use crate::output::{Printer, Report, Text};
use crate::plan::{self, Plan, UpOptions};
use crate::resources::Kind;
use crate::settings::dotenv;
use crate::settings::Setting::{HostedZoneName, Subdomain};
use crate::spec::Spec;

/// `up`'s result: the plan it would carry out (`--dry-run`), or what it made.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum UpReport {
    Planned(PlanReport),
    Applied(Applied),
}

/// A plan's changes and notes, as `--dry-run --json` gives them.
#[derive(Debug, Serialize)]
pub struct PlanReport {
    pub changes: Vec<PlannedChange>,
    pub notes: Vec<String>,
    /// How many of the changes write.
    #[serde(skip)]
    pub writes: usize,
    #[serde(skip)]
    summary: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PlannedChange {
    pub resource: String,
    pub action: String,
    pub details: Vec<String>,
}

impl PlanReport {
    pub fn new(plan: &Plan, summary: &ci::StepSummary) -> PlanReport {
        PlanReport {
            changes: (plan.changes.iter())
                .map(|c| PlannedChange {
                    resource: c.resource.clone(),
                    action: c.action.clone(),
                    details: c.details.clone(),
                })
                .collect(),
            notes: plan.notes.clone(),
            writes: plan.writes().count(),
            summary: Some(summary.markdown()),
        }
    }

    /// Without a step summary.
    pub fn no_summary(&mut self) {
        self.summary = None;
    }

    /// 3 when something would change, as for `sync --dry-run`.
    pub fn exit(&self) -> Exit {
        if self.writes > 0 {
            Exit::Drift
        } else {
            Exit::Success
        }
    }
}

impl Report for PlanReport {
    /// The plan itself went to people as it was made.
    fn text(&self) -> Text {
        Text::default()
    }

    fn step_summary(&self) -> Option<String> {
        self.summary.clone()
    }
}

/// What `up` made: where the stack serves, and what it changed.
#[derive(Debug, Serialize)]
pub struct Applied {
    pub bucket: String,
    pub region: String,
    pub distribution_id: Option<String>,
    pub distribution_domain: String,
    pub url: String,
    pub custom_url: Option<String>,
    pub changes: usize,
    pub waited: bool,
    pub notes: Vec<String>,
    #[serde(skip)]
    summary: String,
}

impl Report for Applied {
    fn text(&self) -> Text {
        let mut text = Text::default();
        text.result
            .push(format!("bucket:       {} ({})", self.bucket, self.region));
        if let Some(id) = &self.distribution_id {
            text.result
                .push(format!("distribution: {id} ({})", self.distribution_domain));
        }
        text.result.push(format!("url:          {}", self.url));
        if let Some(c) = &self.custom_url {
            text.result.push(format!("custom url:   {c}"));
        }
        if !self.waited {
            text.info
                .push("CloudFront is still deploying: `cdnctl status` tells when it is done.".into());
        }
        text
    }

    fn step_summary(&self) -> Option<String> {
        Some(self.summary.clone())
    }
}

impl Report for UpReport {
    fn text(&self) -> Text {
        match self {
            UpReport::Planned(p) => p.text(),
            UpReport::Applied(a) => a.text(),
        }
    }

    fn step_summary(&self) -> Option<String> {
        match self {
            UpReport::Planned(p) => p.step_summary(),
            UpReport::Applied(a) => a.step_summary(),
        }
    }
}

impl UpReport {
    pub fn exit(&self) -> Exit {
        match self {
            UpReport::Planned(p) => p.exit(),
            UpReport::Applied(_) => Exit::Success,
        }
    }
}

/// Plan, and apply unless `--dry-run`. Progress and the plan go to people as
/// they happen (`events`); the result comes back as a value.
pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &UpArgs,
    printer: &Printer,
) -> anyhow::Result<UpReport> {
    Ok(outcome(clients, spec, waiting, args, printer).await?.report)
}

/// What `deploy` takes from `up`: its report, and the stack as observed when
/// up wrote nothing (it then stands as it was read, and `sync` and `check`
/// need not read it again).
pub struct Upshot {
    pub report: UpReport,
    pub unchanged: Option<World>,
    /// With releases off in the settings, the release the stack's function
    /// still serves (`plan::release_kept`).
    pub release_kept: Option<String>,
}

/// `up`, printing as it goes, with what it did as a value.
pub async fn outcome(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &UpArgs,
    printer: &Printer,
) -> anyhow::Result<Upshot> {
    let world = observe(clients, spec, waiting, None).await?;
    let opts = UpOptions {
        adopt: args.adopt,
        end_public_access: args.end_public_access,
        wait: !args.no_wait && !args.dry_run,
        now: now(),
    };
    let plan = plan::up(spec, &world, &opts).map_err(refused)?;
    let release_kept = plan::release_kept(spec, &world);
    if !args.dry_run || args.keep_everything {
        withhold(spec, &world, &plan, args)?;
    }

    let changes = plan.writes().count();
    if args.dry_run {
        let summary = ci::changes_summary(
            format!(
                "cdnctl up --dry-run {}: {changes} changes pending",
                ci::code(&spec.bucket)
            ),
            &plan,
        );
        printer.lines(&plan.lines("cdnctl up would"));
        if let Err(Failed::Withheld(lines)) = withhold(spec, &world, &plan, args) {
            printer.info("note: `cdnctl up` as run here would refuse this plan:");
            printer.lines(&lines);
        }
        let report = PlanReport::new(&plan, &summary);
        let unchanged = (report.writes == 0).then_some(world);
        return Ok(Upshot {
            report: UpReport::Planned(report),
            unchanged,
            release_kept,
        });
    }

    if plan.changes.is_empty() {
        printer.info("Everything is up to date.");
    }
    let unchanged = (plan.writes().next().is_none() && !world.moving.is_moving()).then(|| world.clone());
    let mut facts = apply(clients, spec, &plan, plan::facts(spec, &world), waiting, printer).await?;
    // A move to another name goes in steps, each once the one before has
    // deployed (resources::domain_move): waiting, take them in this run.
    let mut world = world;
    for _ in 0..3 {
        if !opts.wait || !world.moving.is_moving() {
            break;
        }
        world = observe(clients, spec, waiting, None).await?;
        let next = plan::up(spec, &world, &opts).map_err(refused)?;
        if args.keep_everything && !plan::removals(&next, &world, spec).is_empty() {
            facts.notes.push(
                "the custom domain's move ends with removing the old name, which `deploy` never does: run `cdnctl up` to finish it (the old name keeps serving meanwhile)".into(),
            );
            break;
        }
        let more = apply(clients, spec, &next, plan::facts(spec, &world), waiting, printer).await?;
        facts.set(Kind::Distribution, more.get(Kind::Distribution).cloned());
        facts.notes.extend(more.notes);
    }
    for note in plan.notes.iter().chain(&facts.notes) {
        printer.info(&format!("note: {note}"));
    }

    let d = facts.get(Kind::Distribution);
    let cdn_domain = d.map(|d| d.domain_name.clone()).unwrap_or_default();
    let custom = spec.domain.as_ref().map(|d| format!("https://{}/", d.name));
    let mut summary = ci::changes_summary(
        format!("cdnctl up {}: {changes} changes", ci::code(&spec.bucket)),
        &plan,
    )
    .notes(&facts.notes);
    if d.is_some() {
        summary.link("CloudFront", &format!("https://{cdn_domain}/"));
    }
    if let Some(c) = &custom {
        summary.link("custom domain", c);
    }
    let report = UpReport::Applied(Applied {
        bucket: spec.bucket.clone(),
        region: spec.region.clone(),
        distribution_id: d.map(|d| d.id.clone()),
        url: format!("https://{cdn_domain}/"),
        distribution_domain: cdn_domain,
        custom_url: custom,
        changes,
        waited: opts.wait,
        notes: plan.notes.iter().chain(&facts.notes).cloned().collect(),
        summary: summary.markdown(),
    });
    Ok(Upshot {
        report,
        unchanged,
        release_kept,
    })
}

/// Removals `up` makes only when asked: none at all inside `deploy` (the
/// command CI runs many times a day), and the custom domain only with
/// `--remove-domain` (restoring it takes a new certificate and its DNS
/// validation). Found before any write.
fn withhold(spec: &Spec, world: &World, plan: &Plan, args: &UpArgs) -> Result<(), Failed> {
    let all = plan::removals(plan, world, spec);
    if args.keep_everything {
        if all.is_empty() {
            return Ok(());
        }
        let mut lines = plan::explain(
            "deploy never removes anything, and this plan would:",
            &all,
            dotenv::loaded(),
        );
        if let (true, Some(domain)) = (world.moving.is_moving(), &spec.domain) {
            lines.push(format!(
                "the custom domain is moving to {}: `cdnctl up` moves it (the old name serves until the new one works)",
                domain.name
            ));
        }
        lines.push("run `cdnctl up` to see the plan and make these removals on purpose".into());
        return Err(Failed::Withheld(lines));
    }
    let domain: Vec<_> = all.into_iter().filter(|r| r.domain).collect();
    if spec.domain.is_none() && !args.remove_domain && !domain.is_empty() {
        let mut lines = plan::explain(
            "the settings name no custom domain, and this plan would remove the stack's:",
            &domain,
            dotenv::loaded(),
        );
        lines.push(
            format!("set {Subdomain} and {HostedZoneName} to keep it, or run `cdnctl up --remove-domain` to remove it (restoring it takes a new certificate and minutes of DNS validation)"),
        );
        return Err(Failed::Withheld(lines));
    }
    Ok(())
}
