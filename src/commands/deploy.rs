//! `cdnctl deploy DIR`: the CI job in one command. `up`, then `sync DIR`,
//! then `check`, each the command of that name, stopping at the first that
//! does not succeed; its exit code is deploy's. The stages' results and step
//! summaries are gathered into one report and one summary.

use serde_json::{json, Value};

use super::{check, releases, sync, up};
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::{CheckArgs, DeployArgs, UpArgs};
use crate::exit::{Exit, Failed};
use crate::output::Printer;
use crate::spec::Spec;
use crate::sync::SyncOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Up,
    Sync,
    Check,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Up => "up",
            Stage::Sync => "sync",
            Stage::Check => "check",
        }
    }
}

/// A stage that ran to its end: its exit code and its JSON result.
struct Done {
    stage: Stage,
    exit: Exit,
    result: Value,
}

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &DeployArgs,
    opts: &SyncOptions,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let dry_run = args.sync.dry_run;
    // With releases, publishing waits for the edge to serve the new release
    // itself; check does not know the releases' layout yet.
    let stages: &[Stage] = if dry_run || spec.releases > 0 {
        &[Stage::Up, Stage::Sync]
    } else {
        &[Stage::Up, Stage::Sync, Stage::Check]
    };
    let up_args = UpArgs {
        settings: args.sync.settings.clone(),
        dry_run,
        no_wait: false,
        adopt: false,
        // Ending a bucket's public access, or removing anything, is a
        // decision for `up` alone.
        end_public_access: false,
        remove_domain: false,
        keep_everything: true,
    };
    let check_args = CheckArgs {
        settings: args.sync.settings.clone(),
        probe: args.probe.clone(),
        // What sync invalidated (and up deployed) reaches the edges first.
        wait: true,
    };
    // The stages give deploy their results as JSON and their summaries, and
    // deploy alone prints the result and writes the summary (so sync draws no
    // progress bar: deploy is for CI, where there is no terminal anyway).
    let (mut inner, captured) = printer.capturing();
    inner.json = true;

    let mut done: Vec<Done> = Vec::new();
    let mut sections: Vec<String> = Vec::new();
    for &stage in stages {
        printer.info(&format!("== deploy: {}", stage.name()));
        let outcome = match stage {
            Stage::Up => up::run(clients, spec, waiting, &up_args, &inner).await.map(|report| {
                inner.report(&report);
                report.exit()
            }),
            Stage::Sync if spec.releases > 0 => {
                releases::publish(clients, spec, waiting, opts, &args.probe, &inner).await
            }
            Stage::Sync => sync::run(clients, spec, waiting, opts, &inner).await,
            Stage::Check => check::run(clients, spec, waiting, &check_args, &inner)
                .await
                .map(|report| {
                    inner.report(&report);
                    report.exit
                }),
        };
        let (result, summaries) = {
            let mut c = captured.lock().unwrap_or_else(|e| e.into_inner());
            (c.json.pop().unwrap_or(Value::Null), std::mem::take(&mut c.summaries))
        };
        sections.extend(summaries);
        let exit = match outcome {
            Ok(exit) => exit,
            Err(e) => {
                let stopped = format!("stopped at {} ({})", stage.name(), done_list(&done));
                let heading = format!("{stopped}, exit code {}", Exit::Failure as u8);
                let mut sections = sections;
                sections.push(format!("{}\n\n", ci::inline(&format!("{e:#}"))));
                write_summary(printer, spec, &heading, &sections);
                return Err(Failed::from(e).within(&format!("deploy: {stopped}")).into());
            }
        };
        done.push(Done { stage, exit, result });
        if exit != Exit::Success {
            break;
        }
    }
    Ok(report(printer, spec, dry_run, &done, &sections))
}

/// "up and sync done", "nothing done".
fn done_list(done: &[Done]) -> String {
    match done.iter().map(|d| d.stage.name()).collect::<Vec<_>>().as_slice() {
        [] => "nothing done".to_string(),
        [one] => format!("{one} done"),
        [first @ .., last] => format!("{} and {last} done", first.join(", ")),
    }
}

/// The verdict, the result (text or JSON) and the one step summary.
fn report(printer: &Printer, spec: &Spec, dry_run: bool, done: &[Done], sections: &[String]) -> Exit {
    let last = done.last().expect("up always runs");
    let exit = last.exit;
    let url = done
        .iter()
        .rev()
        .find_map(|d| d.result["custom_url"].as_str().or(d.result["url"].as_str()))
        .map(String::from);
    let verdict = match (exit, dry_run) {
        (Exit::Success, false) if last.stage != Stage::Check => "published a release; the edge serves it".to_string(),
        (Exit::Success, false) => "published, and every check passed".to_string(),
        (Exit::Success, true) => "dry run: nothing would change".to_string(),
        (Exit::Drift, true) => format!(
            "dry run: {} would change something (exit code {})",
            last.stage.name(),
            exit as u8
        ),
        _ => format!(
            "stopped at {} (exit code {}; {})",
            last.stage.name(),
            exit as u8,
            done_list(&done[..done.len() - 1])
        ),
    };
    write_summary(printer, spec, &verdict, sections);
    if printer.json {
        printer.json(&json!({
            "bucket": spec.bucket,
            "url": url,
            "ok": exit == Exit::Success,
            "exit_code": exit as u8,
            "stopped_at": (exit != Exit::Success).then(|| last.stage.name()),
            "dry_run": dry_run,
            "stages": done.iter().map(|d| json!({
                "stage": d.stage.name(),
                "exit_code": d.exit as u8,
                "result": d.result,
            })).collect::<Vec<_>>(),
        }));
        return exit;
    }
    for d in done {
        printer.result(&format!("{:<7}{}", format!("{}:", d.stage.name()), line(d)));
    }
    if let Some(url) = &url {
        printer.result(&format!("url:   {url}"));
    }
    printer.info(&format!("cdnctl deploy {}: {verdict}", spec.bucket));
    exit
}

/// One stage's result in a line, from its JSON.
fn line(d: &Done) -> String {
    let r = &d.result;
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    match d.stage {
        Stage::Up if r["changes"].is_array() => {
            format!("{} changes pending", r["changes"].as_array().map_or(0, Vec::len))
        }
        Stage::Up => format!(
            "{} changes; distribution {}",
            n("changes"),
            r["distribution_id"].as_str().unwrap_or("-")
        ),
        Stage::Sync if d.exit == Exit::Drift || r["dry_run"] == true => "changes pending (see above)".to_string(),
        Stage::Sync => format!(
            "{} uploaded, {} headers updated, {} unchanged, {} deleted{}",
            n("uploaded"),
            n("headers_updated"),
            n("unchanged"),
            n("deleted"),
            match r["invalidation"]["id"].as_str() {
                Some(id) => format!(", invalidation {id}"),
                None => String::new(),
            }
        ),
        Stage::Check => {
            let total = r["probes"].as_array().map_or(0, Vec::len);
            match n("failed") {
                0 => format!("all {total} probes passed"),
                f => format!("{f} of {total} probes failed"),
            }
        }
    }
}

/// One summary: deploy's verdict, then each stage's own, a level down.
fn write_summary(printer: &Printer, spec: &Spec, verdict: &str, sections: &[String]) {
    let mut md = format!("### cdnctl deploy {}: {}\n\n", ci::code(&spec.bucket), verdict);
    for s in sections {
        let s = s.replace("\n### ", "\n#### ");
        match s.strip_prefix("### ") {
            Some(rest) => md.push_str(&format!("#### {rest}")),
            None => md.push_str(&s),
        }
    }
    printer.step_summary(&md);
}
