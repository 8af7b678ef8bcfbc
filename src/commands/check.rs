//! `cdnctl check`: probe the deployed site through the CDN as a browser
//! would, and never write. Exit code 6 when a probe fails; 4 when every
//! failure may come from a deployment or an invalidation still in progress
//! (`--wait` waits for both first).

use serde::Serialize;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::check::{explain, probes, settle, target, Http, Outcome, Verdict};
use crate::ci;
use crate::cli::CheckArgs;
use crate::exit::Exit;
use crate::output::{Printer, Report, Text};
use crate::spec::Spec;

/// `check`'s result: every probe's outcome and the verdict.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub url: String,
    pub distribution: String,
    /// With releases: the live release probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    pub ok: bool,
    pub failed: usize,
    pub settling: bool,
    pub probes: Vec<Outcome>,
    #[serde(skip)]
    pub exit: Exit,
    #[serde(skip)]
    summary: String,
}

impl Report for CheckReport {
    /// Each probe and the verdict went to people as they were found.
    fn text(&self) -> Text {
        Text::default()
    }

    fn step_summary(&self) -> Option<String> {
        Some(self.summary.clone())
    }
}

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &CheckArgs,
    printer: &Printer,
) -> anyhow::Result<CheckReport> {
    let target = target::find(clients, spec, waiting).await?;
    run_on(clients, spec, waiting, target, args, printer).await
}

/// `check` of a target already found (`deploy` finds it from what `up` and
/// `sync` read); with `--wait`, after what is settling has settled.
pub async fn run_on(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    mut target: target::Target,
    args: &CheckArgs,
    printer: &Printer,
) -> anyhow::Result<CheckReport> {
    let http = Http::new(args.probe.ca_bundle.as_deref(), args.probe.connect_to.clone())?;
    if args.wait && target.settling.is_pending() {
        settle::wait(clients, &target, waiting, printer).await?;
        target = target::find(clients, spec, waiting).await?;
    }
    let what = match &target.serving {
        target::Serving::Release(id) => format!("files of release {id} in {}", target.bucket),
        _ => format!("objects of {}", target.bucket),
    };
    printer.info(&format!(
        "Checking https://{}/ (distribution {}, {} {what})",
        target.host,
        target.distribution_id,
        target.samples.len()
    ));
    let mut outcomes = probes::run(&http, &target, now()).await;
    let verdict = explain(&target.settling, &target.distribution_id, &mut outcomes);
    let failed = outcomes.iter().filter(|o| !o.ok).count();
    let exit = match verdict {
        Verdict::Passed => Exit::Success,
        Verdict::Settling => Exit::NotReady,
        Verdict::Failed => Exit::CheckFailed,
    };
    let summary = report(printer, &target, &outcomes, failed, exit);
    Ok(CheckReport {
        url: format!("https://{}/", target.host),
        distribution: target.distribution_id.clone(),
        release: match &target.serving {
            target::Serving::Release(id) => Some(id.clone()),
            _ => None,
        },
        ok: failed == 0,
        failed,
        settling: exit == Exit::NotReady,
        probes: outcomes,
        exit,
        summary: summary.markdown(),
    })
}

/// Each probe's line and the verdict for people, as found; the step summary.
fn report(
    printer: &Printer,
    target: &target::Target,
    outcomes: &[Outcome],
    failed: usize,
    exit: Exit,
) -> ci::StepSummary {
    for o in outcomes.iter().filter(|o| o.ok && !o.warning) {
        printer.done(&format!("{} {}: {}", o.probe, o.target, o.message));
    }
    for o in outcomes.iter().filter(|o| o.warning) {
        printer.warn(&format!("{} {}: {}", o.probe, o.target, o.message));
    }
    for o in outcomes.iter().filter(|o| !o.ok) {
        printer.failed(&format!("{} {}: {}", o.probe, o.target, o.message));
    }
    let verdict = match exit {
        Exit::Success => format!("all {} probes passed", outcomes.len()),
        Exit::NotReady => format!(
            "{failed} of {} probes failed while changes are still reaching the edges (exit code {}): `cdnctl check --wait` waits for them",
            outcomes.len(),
            Exit::NotReady as u8
        ),
        _ => format!(
            "{failed} of {} probes failed (exit code {})",
            outcomes.len(),
            Exit::CheckFailed as u8
        ),
    };
    printer.info(&format!("https://{}/: {verdict}", target.host));
    let mut summary = ci::StepSummary::new(
        format!("cdnctl check {}: {verdict}", ci::code(&target.host)),
        &["", "Probe", "Target", "Result"],
    );
    for o in outcomes
        .iter()
        .filter(|o| !o.ok)
        .chain(outcomes.iter().filter(|o| o.ok))
    {
        let mark = match (o.ok, o.warning) {
            (true, false) => "✓",
            (true, true) => "⚠",
            (false, _) => "✗",
        };
        summary.row(vec![mark.into(), o.probe.into(), o.target.clone(), o.message.clone()]);
    }
    summary.link("Site", &format!("https://{}/", target.host));
    summary
}
