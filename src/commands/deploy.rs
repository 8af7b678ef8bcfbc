//! `cdnctl deploy DIR`: the CI job in one command. `up`, then `sync DIR`,
//! then `check`, each the command of that name, stopping at the first that
//! does not succeed; its exit code is deploy's. Each stage hands its result
//! back as a value, and deploy renders them as one report and one summary.
//!
//! On a stack with releases, the sync stage publishes a release and waits
//! until the edge serves it (`release/`); check then probes the live
//! release at the paths visitors use (`check::target` reads the store).
//! With `--preview NAME`, the release is NAME's and check probes it at
//! NAME.DOMAIN (unless previews ask for credentials, which probes lack).
//!
//! One observation serves the three: while `up` reads the stack, `sync`
//! reads its state and lists the prefix; when `up` wrote nothing, the stack
//! it read is the stack `sync` publishes to and `check` probes, and the
//! listing (with `sync`'s writes) is the bucket `check` samples.

use serde::Serialize;
use serde_json::Value;

use super::{check, releases, sync, up};
use crate::aws::{Clients, Waiting};
use crate::check::target;
use crate::ci;
use crate::cli::{CheckArgs, DeployArgs, UpArgs};
use crate::exit::{Exit, Failed};
use crate::output::{Printer, Report, Text};
use crate::release::preview;
use crate::spec::Spec;
use crate::sync::destination::Destination;
use crate::sync::{Outcome, Sync, SyncOptions};

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

/// A stage that ran to its end: its exit code, its result as its own
/// `--json` prints it, and its line in deploy's report.
struct Done {
    stage: Stage,
    exit: Exit,
    result: Value,
    line: String,
}

/// What the stages have left for deploy: their summaries, and what they did.
struct Deploy<'a> {
    printer: &'a Printer,
    spec: &'a Spec,
    captured: std::sync::Arc<std::sync::Mutex<crate::output::Captured>>,
    done: Vec<Done>,
    sections: Vec<String>,
}

impl Deploy<'_> {
    /// The stage's summaries, kept for the one summary.
    fn gather(&mut self) {
        let mut c = self.captured.lock().unwrap_or_else(|e| e.into_inner());
        c.json.clear();
        self.sections.append(&mut c.summaries);
    }

    /// A stage that failed: the summary so far, and the error as deploy's.
    fn stopped(self, stage: Stage, e: anyhow::Error) -> anyhow::Error {
        let stopped = format!("stopped at {} ({})", stage.name(), done_list(&self.done));
        let heading = format!("{stopped}, exit code {}", Exit::Failure as u8);
        let mut sections = self.sections;
        sections.push(format!("{}\n\n", ci::inline(&format!("{e:#}"))));
        self.printer.step_summary(&summary(self.spec, &heading, &sections));
        Failed::from(e).within(&format!("deploy: {stopped}")).into()
    }
}

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &DeployArgs,
    opts: &SyncOptions,
    printer: &Printer,
) -> anyhow::Result<DeployReport> {
    let dry_run = args.sync.dry_run;
    // A preview's name and whether the stack can serve one, before any write.
    if let Some(name) = &args.preview {
        preview::check_name(name).map_err(|e| Failed::Settings(vec![e]))?;
        if let Some(why) = preview::refusal(spec, name) {
            return Err(Failed::Refused(vec![why]).into());
        }
    }
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
    // A DIR without the site's 404 page: refused before `up` writes.
    if let Some(why) = crate::sync::pipeline::not_found_absent(spec, opts) {
        return Err(crate::exit::Failed::Refused(vec![why]).into());
    }
    // The stages report progress through a printer that keeps their step
    // summaries for deploy's one summary, and, as for JSON, prints no result
    // and draws no progress bar (deploy is for CI, where there is no
    // terminal anyway): their results come back as values.
    let (mut inner, captured) = printer.capturing();
    inner.json = true;
    let mut at = Deploy {
        printer,
        spec,
        captured,
        done: Vec::new(),
        sections: Vec::new(),
    };

    // up ∥ sync's first reads ∥ DIR's scan, which hashes every file (sync
    // would otherwise start it only once up is done). The state's read and
    // the listing go at once, the listing cut where DIR's keys are, as soon
    // as the scan has walked DIR (`look_early`). A release's publishing
    // scans DIR its own way: there, the state is read, then listed.
    printer.info("== deploy: up");
    let syncing = Sync::new(clients, spec, waiting, opts, &inner);
    let scanned = (spec.releases == 0).then(|| syncing.scan_ahead());
    let looking = async {
        match &scanned {
            Some(scanning) => syncing.look_early(scanning).await,
            None => syncing.look().await,
        }
    };
    let (up, ahead) = tokio::join!(up::outcome(clients, spec, waiting, &up_args, &inner), looking);
    if let Ok(up) = &up {
        inner.report(&up.report);
    }
    at.gather();
    let up = match up {
        Ok(up) => up,
        Err(e) => return Err(at.stopped(Stage::Up, e)),
    };
    let (line, url) = match &up.report {
        up::UpReport::Planned(p) => (format!("{} changes pending", p.writes), None),
        up::UpReport::Applied(a) => (
            format!(
                "{} changes; distribution {}",
                a.changes,
                a.distribution_id.as_deref().unwrap_or("-")
            ),
            Some(a.custom_url.clone().unwrap_or_else(|| a.url.clone())),
        ),
    };
    let up_exit = up.report.exit();
    at.done.push(Done {
        stage: Stage::Up,
        exit: up_exit,
        result: serde_json::to_value(&up.report).expect("serializable"),
        line,
    });
    if up_exit != Exit::Success {
        return Ok(report(&at, dry_run, url));
    }
    if spec.releases > 0 {
        printer.info("== deploy: release");
        let published = releases::publish(
            clients,
            spec,
            waiting,
            opts,
            &args.probe,
            args.preview.as_deref(),
            &inner,
        )
        .await;
        if let Ok(p) = &published {
            inner.report(p);
        }
        at.gather();
        let published = match published {
            Ok(p) => p,
            Err(e) => return Err(at.stopped(Stage::Sync, e)),
        };
        let line = format!(
            "{}release {}: {} uploaded, {} unchanged{}",
            published
                .preview
                .as_deref()
                .map(|n| format!("preview {n}, "))
                .unwrap_or_default(),
            published.release,
            published.uploaded,
            published.unchanged,
            if published.dry_run {
                " (dry run)"
            } else if !published.switched {
                " (nothing switched: it stays live)"
            } else {
                ""
            }
        );
        let exit = if published.dry_run { Exit::Drift } else { Exit::Success };
        at.done.push(Done {
            stage: Stage::Sync,
            exit,
            result: serde_json::to_value(&published).expect("serializable"),
            line,
        });
        if exit != Exit::Success || dry_run {
            return Ok(report(&at, dry_run, url));
        }
        if let Some(name) = &published.preview {
            let url = published.preview_url.clone();
            let where_ = format!("Preview {}: {}\n\n", ci::code(name), url.as_deref().unwrap_or("-"));
            if spec.previews.as_ref().is_some_and(|p| p.auth.is_some()) {
                // check's probes send no credentials: the edge serving the
                // preview's page at its host (waited for above) is its check.
                at.sections.push(format!(
                    "{where_}The edge serves its release {} (checked on one page: with {} set, `check`'s \
                     probes would all be refused).\n\n",
                    ci::code(&published.release),
                    crate::settings::Setting::PreviewAuth
                ));
                return Ok(report(&at, dry_run, url));
            }
            at.sections.push(where_);
            let found = target::release::preview(clients, spec, waiting, name).await;
            return check_stage(at, clients, spec, waiting, found, &check_args, &inner, dry_run).await;
        }
        // The release the store now names, read afresh: its files, at the
        // paths visitors use.
        let found = target::find(clients, spec, waiting).await;
        return check_stage(at, clients, spec, waiting, found, &check_args, &inner, dry_run).await;
    }
    // The stack as up read it, when up wrote nothing: sync's destination.
    let stack = up.unchanged.as_ref().map(|world| world.owned_distribution(spec));
    let known = stack.map(|owned| Destination {
        distribution_id: owned.map(|d| d.id.clone()),
        distribution_arn: owned.map(|d| d.arn.clone()),
    });
    let ahead = known.is_some().then_some(ahead);

    printer.info("== deploy: sync");
    let synced = syncing.run(known, ahead, scanned).await.map_err(sync::failed);
    at.gather();
    let synced = match synced {
        Ok(outcome) => outcome,
        Err(e) => return Err(at.stopped(Stage::Sync, e)),
    };
    let (exit, result, line, listed) = match synced {
        Outcome::DryRun { report, changes } => (
            if changes { Exit::Drift } else { Exit::Success },
            serde_json::to_value(&report).expect("serializable"),
            "changes pending (see above)".to_string(),
            None,
        ),
        Outcome::Synced {
            report,
            objects,
            manifests,
        } => {
            at.sections.extend(report.step_summary());
            let line = format!(
                "{} uploaded, {} headers updated, {} unchanged, {} deleted{}",
                report.uploaded,
                report.headers_updated,
                report.unchanged,
                report.deleted,
                match report.invalidation.as_ref().and_then(|i| i.id.as_deref()) {
                    Some(id) => format!(", invalidation {id}"),
                    None => String::new(),
                }
            );
            let value = serde_json::to_value(&report).expect("serializable");
            (Exit::Success, value, line, Some((objects, manifests)))
        }
    };
    at.done.push(Done {
        stage: Stage::Sync,
        exit,
        result,
        line,
    });
    if exit != Exit::Success || dry_run {
        return Ok(report(&at, dry_run, url));
    }
    // Releases turned off: DIR is now in place; serve it (release/off.rs).
    if let Some(release) = &up.release_kept {
        printer.info(&format!("== deploy: serve in place (release {release} was live)"));
        let page = listed.as_ref().and_then(|(objects, _)| in_place_page(objects.keys()));
        let off = match page {
            Some(page) => {
                let http = crate::check::Http::new(args.probe.ca_bundle.as_deref(), args.probe.connect_to.clone())?;
                crate::release::off::serve_in_place(clients, spec, waiting, &http, &page, &inner).await
            }
            None => Err(anyhow::anyhow!(
                "{}=0: no page of {} is in the bucket to serve in place; release {release} stays live",
                crate::settings::Setting::Releases.name(),
                args.sync.dir.display()
            )),
        };
        at.gather();
        match off {
            Ok(took) => at.done.push(Done {
                stage: Stage::Sync,
                exit: Exit::Success,
                result: serde_json::json!({"releases": "off", "was_live": release, "edge_seconds": took.as_secs_f64()}),
                line: format!(
                    "releases off: the edge serves the files in place after {}s",
                    took.as_secs()
                ),
            }),
            Err(e) => return Err(at.stopped(Stage::Sync, e)),
        }
    }

    // The distribution up read and the bucket as sync left it, when up
    // wrote nothing and sync listed the whole bucket; else read afresh.
    let found = match (stack.flatten(), listed.filter(|_| opts.prefix.is_empty())) {
        (Some(dist), Some((objects, texts))) => target::observed(clients, spec, dist, &objects, &texts).await,
        _ => target::find(clients, spec, waiting).await,
    };
    check_stage(at, clients, spec, waiting, found, &check_args, &inner, dry_run).await
}

/// The last stage: `check` of the target found, its line and the report.
#[allow(clippy::too_many_arguments)]
async fn check_stage(
    mut at: Deploy<'_>,
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    found: anyhow::Result<target::Target>,
    check_args: &CheckArgs,
    inner: &Printer,
    dry_run: bool,
) -> anyhow::Result<DeployReport> {
    at.printer.info("== deploy: check");
    let checked = match found {
        Ok(target) => check::run_on(clients, spec, waiting, target, check_args, inner).await,
        Err(e) => Err(e),
    };
    if let Ok(checked) = &checked {
        inner.report(checked);
    }
    at.gather();
    let checked = match checked {
        Ok(checked) => checked,
        Err(e) => return Err(at.stopped(Stage::Check, e)),
    };
    let exit = checked.exit;
    let total = checked.probes.len();
    let line = match checked.failed {
        0 => format!("all {total} probes passed"),
        f => format!("{f} of {total} probes failed"),
    };
    let url = Some(checked.url.clone());
    at.done.push(Done {
        stage: Stage::Check,
        exit,
        result: serde_json::to_value(&checked).expect("serializable"),
        line,
    });
    Ok(report(&at, dry_run, url))
}

/// A page of the files in place to ask the edge for, by its key (the home
/// page first), never a release's file or the stack's notes.
fn in_place_page<'a>(keys: impl Iterator<Item = &'a String>) -> Option<String> {
    let pages: Vec<&String> = keys
        .filter(|k| !k.starts_with("_cdnctl/") && !k.starts_with(".cdnctl/") && k.ends_with(".html"))
        .filter(|k| k.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b)))
        .collect();
    let home = pages.iter().find(|k| k.as_str() == "index.html");
    home.or(pages.first()).map(|k| format!("/{k}"))
}

/// "up and sync done", "nothing done".
fn done_list(done: &[Done]) -> String {
    match done.iter().map(|d| d.stage.name()).collect::<Vec<_>>().as_slice() {
        [] => "nothing done".to_string(),
        [one] => format!("{one} done"),
        [first @ .., last] => format!("{} and {last} done", first.join(", ")),
    }
}

/// deploy's result: each stage's exit code and its own result, the verdict.
#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub bucket: String,
    pub url: Option<String>,
    pub ok: bool,
    pub exit_code: u8,
    pub stopped_at: Option<&'static str>,
    pub dry_run: bool,
    pub stages: Vec<StageReport>,
    #[serde(skip)]
    pub exit: Exit,
    #[serde(skip)]
    lines: Vec<String>,
    #[serde(skip)]
    verdict: String,
    #[serde(skip)]
    summary: String,
}

#[derive(Debug, Serialize)]
pub struct StageReport {
    pub stage: &'static str,
    pub exit_code: u8,
    pub result: Value,
}

impl Report for DeployReport {
    fn text(&self) -> Text {
        let mut result = self.lines.clone();
        if let Some(url) = &self.url {
            result.push(format!("url:   {url}"));
        }
        Text {
            result,
            info: vec![format!("cdnctl deploy {}: {}", self.bucket, self.verdict)],
        }
    }

    fn step_summary(&self) -> Option<String> {
        Some(self.summary.clone())
    }
}

/// The verdict, and the one report of the stages that ran.
fn report(at: &Deploy, dry_run: bool, url: Option<String>) -> DeployReport {
    let (spec, done) = (at.spec, &at.done);
    let last = done.last().expect("up always runs");
    let exit = last.exit;
    let verdict = match (exit, dry_run) {
        (Exit::Success, false)
            if done
                .iter()
                .any(|d| d.result.get("preview_url").is_some_and(|u| u.is_string())) =>
        {
            format!(
                "published preview at {}, and the edge serves it{}",
                url.as_deref().unwrap_or("-"),
                if last.stage == Stage::Check {
                    ", and every check passed"
                } else {
                    ""
                }
            )
        }
        (Exit::Success, false) if spec.releases > 0 => {
            "published a release, the edge serves it, and every check passed".to_string()
        }
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
    DeployReport {
        bucket: spec.bucket.clone(),
        url,
        ok: exit == Exit::Success,
        exit_code: exit as u8,
        stopped_at: (exit != Exit::Success).then(|| last.stage.name()),
        dry_run,
        stages: done
            .iter()
            .map(|d| StageReport {
                stage: d.stage.name(),
                exit_code: d.exit as u8,
                result: d.result.clone(),
            })
            .collect(),
        exit,
        lines: done
            .iter()
            .map(|d| format!("{:<7}{}", format!("{}:", d.stage.name()), d.line))
            .collect(),
        summary: summary(spec, &verdict, &at.sections),
        verdict,
    }
}

/// One summary: deploy's verdict, then each stage's own, a level down.
fn summary(spec: &Spec, verdict: &str, sections: &[String]) -> String {
    let mut md = format!("### cdnctl deploy {}: {}\n\n", ci::code(&spec.bucket), verdict);
    for s in sections {
        let s = s.replace("\n### ", "\n#### ");
        match s.strip_prefix("### ") {
            Some(rest) => md.push_str(&format!("#### {rest}")),
            None => md.push_str(&s),
        }
    }
    md
}
