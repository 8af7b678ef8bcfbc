//! `cdnctl down`: plan toward nothing (only this stack's resources), confirm,
//! then apply.

use std::io::{BufRead as _, Write as _};

use serde_json::json;

use super::refused;
use crate::apply::apply;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::DownArgs;
use crate::exit::{Exit, Failed};
use crate::observe::observe;
use crate::output::Printer;
use crate::plan::{self, DownOptions};
use crate::spec::Spec;

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &DownArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
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
        if printer.json {
            printer.json(&plan.json());
        }
        // As for `up --dry-run` and `sync --dry-run`: 3 when something would change.
        return Ok(if plan.writes().next().is_some() {
            Exit::Drift
        } else {
            Exit::Success
        });
    }
    if world.nothing_exists() {
        ci::StepSummary::new(
            format!("cdnctl down {}: nothing to remove", ci::code(&spec.bucket)),
            &[],
        )
        .write(printer);
        printer.info(&format!("Nothing to remove: stack {} does not exist.", spec.bucket));
        if printer.json {
            printer.json(&json!({"removed": [], "notes": plan.notes}));
        }
        return Ok(Exit::Success);
    }
    if plan.writes().next().is_some() && !args.yes {
        printer.lines(&plan.lines("cdnctl down will"));
        if !confirm(printer).await? {
            return Err(Failed::NotConfirmed("down: not confirmed".into()).into());
        }
    }

    let facts = apply(clients, spec, &plan, plan::facts(spec, &world), waiting, printer).await?;
    ci::changes_summary(format!("cdnctl down {}: removed", ci::code(&spec.bucket)), &plan)
        .notes(&facts.notes)
        .write(printer);
    let notes: Vec<&String> = plan.notes.iter().chain(&facts.notes).collect();
    for note in &notes {
        printer.info(&format!("note: {note}"));
    }
    if printer.json {
        printer.json(&json!({
            "removed": plan.writes().map(|c| format!("{}: {}", c.resource, c.action)).collect::<Vec<_>>(),
            "deleted_objects": facts.deleted_objects,
            "notes": notes,
        }));
    }
    Ok(Exit::Success)
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
