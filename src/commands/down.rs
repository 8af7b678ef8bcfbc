//! `cdnctl down`: plan toward nothing (only this stack's resources), confirm,
//! then apply.

use std::io::{BufRead as _, Write as _};

use serde::Serialize;

use super::refused;
use super::up::PlanReport;
use crate::apply::apply;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::DownArgs;
use crate::exit::{Exit, Failed};
use crate::observe::observe;
use crate::output::{Printer, Report, Text};
use crate::plan::{self, DownOptions};
use crate::spec::Spec;

/// `down`'s result: the plan (`--dry-run`), or what it removed.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum DownReport {
    Planned(PlanReport),
    Removed(Removed),
}

#[derive(Debug, Serialize)]
pub struct Removed {
    pub removed: Vec<String>,
    /// Absent when nothing of the stack existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_objects: Option<u64>,
    pub notes: Vec<String>,
    #[serde(skip)]
    summary: String,
}

impl Report for Removed {
    /// Each removal and note went to people as it happened.
    fn text(&self) -> Text {
        Text::default()
    }

    fn step_summary(&self) -> Option<String> {
        Some(self.summary.clone())
    }
}

impl Report for DownReport {
    fn text(&self) -> Text {
        match self {
            DownReport::Planned(p) => p.text(),
            DownReport::Removed(r) => r.text(),
        }
    }

    fn step_summary(&self) -> Option<String> {
        match self {
            DownReport::Planned(p) => p.step_summary(),
            DownReport::Removed(r) => r.step_summary(),
        }
    }
}

impl DownReport {
    pub fn exit(&self) -> Exit {
        match self {
            DownReport::Planned(p) => p.exit(),
            DownReport::Removed(_) => Exit::Success,
        }
    }
}

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &DownArgs,
    printer: &Printer,
) -> anyhow::Result<DownReport> {
    // Count one past the limit, so the plan can tell "too many" from "exactly".
    let world = observe(clients, spec, waiting, Some(args.max_deletes.saturating_add(1))).await?;
    let opts = DownOptions {
        wait: !args.no_wait,
        purge: args.purge,
        max_deletes: args.max_deletes,
    };
    let plan = plan::down(spec, &world, &opts).map_err(refused)?;

    if args.dry_run {
        printer.lines(&plan.lines("cdnctl down would"));
        // No step summary for a dry run of `down`.
        let mut report = PlanReport::new(&plan, &ci::StepSummary::default());
        report.no_summary();
        return Ok(DownReport::Planned(report));
    }
    if world.nothing_exists() {
        let summary = ci::StepSummary::new(
            format!("cdnctl down {}: nothing to remove", ci::code(&spec.bucket)),
            &[],
        );
        printer.info(&format!("Nothing to remove: stack {} does not exist.", spec.bucket));
        return Ok(DownReport::Removed(Removed {
            removed: Vec::new(),
            deleted_objects: None,
            notes: plan.notes.clone(),
            summary: summary.markdown(),
        }));
    }
    if plan.writes().next().is_some() && !args.yes {
        printer.lines(&plan.lines("cdnctl down will"));
        if !confirm(printer).await? {
            return Err(Failed::NotConfirmed("down: not confirmed".into()).into());
        }
    }

    let facts = apply(clients, spec, &plan, plan::facts(spec, &world), waiting, printer).await?;
    let summary =
        ci::changes_summary(format!("cdnctl down {}: removed", ci::code(&spec.bucket)), &plan).notes(&facts.notes);
    let notes: Vec<String> = plan.notes.iter().chain(&facts.notes).cloned().collect();
    for note in &notes {
        printer.info(&format!("note: {note}"));
    }
    Ok(DownReport::Removed(Removed {
        removed: plan.writes().map(|c| format!("{}: {}", c.resource, c.action)).collect(),
        deleted_objects: Some(facts.deleted_objects),
        notes,
        summary: summary.markdown(),
    }))
}

/// Ask on a terminal; elsewhere `--yes` is required. The answer is read on a
/// blocking thread, so that Ctrl-C at the prompt ends the run at once (the
/// caller races every command against Ctrl-C).
async fn confirm(printer: &Printer) -> anyhow::Result<bool> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() || !printer.is_terminal() {
        return Err(Failed::NotConfirmed(
            "down: deleting needs confirmation: run `cdnctl down --yes` (or `--dry-run` to see the plan)".into(),
        )
        .into());
    }
    eprint!("Delete these? [y/N] ");
    std::io::stderr().flush()?;
    let answer = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map(|_| answer)
    })
    .await??;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}
