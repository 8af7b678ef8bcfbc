//! `cdnctl check`: probe the deployed site through the CDN as a browser
//! would, and never write. Exit code 6 when a probe fails.

use serde::Serialize;
use serde_json::json;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::check::{probes, target, Http, Outcome};
use crate::ci;
use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::output::Printer;
use crate::spec::Spec;

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &CheckArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let target = target::find(clients, spec, waiting).await?;
    Ok(run_on(&target, args, printer).await?.0)
}

/// What the probes found, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Checked {
    pub url: String,
    pub distribution: String,
    pub ok: bool,
    pub failed: usize,
    pub probes: Vec<Outcome>,
}

/// `check` of a target already found (`deploy` finds it from what `up`
/// and `sync` read): the exit code, and what the probes found.
pub async fn run_on(target: &target::Target, args: &CheckArgs, printer: &Printer) -> anyhow::Result<(Exit, Checked)> {
    let http = Http::new(args.probe.ca_bundle.as_deref(), args.probe.connect_to.clone())?;
    printer.info(&format!(
        "Checking https://{}/ (distribution {}, {} objects of {})",
        target.host,
        target.distribution_id,
        target.samples.len(),
        target.bucket
    ));
    let outcomes = probes::run(&http, target, now()).await;
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    report(printer, target, &outcomes, failed);
    let exit = if failed > 0 { Exit::CheckFailed } else { Exit::Success };
    Ok((
        exit,
        Checked {
            url: format!("https://{}/", target.host),
            distribution: target.distribution_id.clone(),
            ok: failed == 0,
            failed,
            probes: outcomes,
        },
    ))
}

fn report(printer: &Printer, target: &target::Target, outcomes: &[Outcome], failed: usize) {
    for o in outcomes.iter().filter(|o| o.ok) {
        printer.done(&format!("{} {}: {}", o.probe, o.target, o.message));
    }
    for o in outcomes.iter().filter(|o| !o.ok) {
        printer.failed(&format!("{} {}: {}", o.probe, o.target, o.message));
    }
    let verdict = if failed == 0 {
        format!("all {} probes passed", outcomes.len())
    } else {
        format!(
            "{failed} of {} probes failed (exit code {})",
            outcomes.len(),
            Exit::CheckFailed as u8
        )
    };
    printer.info(&format!("https://{}/: {verdict}", target.host));
    if printer.json {
        printer.json(&json!({
            "url": format!("https://{}/", target.host),
            "distribution": target.distribution_id,
            "ok": failed == 0,
            "failed": failed,
            "probes": outcomes,
        }));
    }
    let mut summary = ci::StepSummary::new(
        format!("cdnctl check {}: {verdict}", ci::code(&target.host)),
        &["", "Probe", "Target", "Result"],
    );
    for o in outcomes
        .iter()
        .filter(|o| !o.ok)
        .chain(outcomes.iter().filter(|o| o.ok))
    {
        let mark = if o.ok { "✓" } else { "✗" };
        summary.row(vec![mark.into(), o.probe.into(), o.target.clone(), o.message.clone()]);
    }
    summary.link("Site", &format!("https://{}/", target.host));
    summary.write(printer);
}
