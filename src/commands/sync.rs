//! `cdnctl sync DIR`: the pipeline (`sync/pipeline.rs`) with the printer as
//! its events; its outcome rendered as JSON, text and step summary, and its
//! reasons to stop turned into exit codes.

use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::exit::{Exit, Failed};
use crate::output::{Printer, Report, Text};
use crate::spec::Spec;
use crate::sync::report::{DryRun, Invalidation, Synced};
use crate::sync::{Outcome, Stop, Sync, SyncOptions};

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    opts: &SyncOptions,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    if spec.releases > 0 {
        return Err(Failed::Refused(vec![format!(
            "{}={}: the stack serves releases, which `cdnctl deploy DIR` publishes and switches to; \
             sync would write the bucket's files in place, which visitors no longer get",
            crate::settings::Setting::Releases,
            spec.releases
        )])
        .into());
    }
    let outcome = Sync::new(clients, spec, waiting, opts, printer)
        .run(None, None, None)
        .await
        .map_err(failed)?;
    Ok(render(printer, &outcome))
}

/// The outcome's report, and its exit code: 3 when a dry run would change
/// something.
pub fn render(printer: &Printer, outcome: &Outcome) -> Exit {
    match outcome {
        Outcome::DryRun { report, changes } => {
            printer.report(report);
            if *changes {
                Exit::Drift
            } else {
                Exit::Success
            }
        }
        Outcome::Synced { report, .. } => {
            printer.report(report);
            Exit::Success
        }
    }
}

/// A sync's reason to stop, as the kind of failure `run.rs` maps to its
/// exit code and closing words; any other error as it is.
pub fn failed(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<Stop>() {
        Ok(Stop::Refused(lines)) => Failed::Refused(lines).into(),
        Ok(Stop::PartWay(message)) => Failed::PartWay(message).into(),
        Err(e) => e,
    }
}

impl Report for DryRun {
    fn text(&self) -> Text {
        let mut result: Vec<String> = self
            .upload
            .iter()
            .map(|u| format!("upload      {} ({}; {})", u.key, u.reason, u.cache_control))
            .collect();
        result.extend(self.update_headers.iter().map(|k| format!("headers     {k}")));
        result.extend(self.invalidate.iter().map(|p| format!("invalidate  {p}")));
        result.extend(self.delete.iter().map(|k| format!("delete      {k}")));
        let info = format!(
            "cdnctl sync would upload {}, update headers of {}, invalidate {} paths, delete {} ({} unchanged, {} kept)",
            self.upload.len(),
            self.update_headers.len(),
            self.invalidate.len(),
            self.delete.len(),
            self.unchanged,
            self.kept
        );
        Text {
            result,
            info: vec![info],
        }
    }
}

impl Report for Synced {
    fn text(&self) -> Text {
        let mut result = vec![format!(
            "{}/{}: {} uploaded ({}), {} headers updated, {} unchanged, {} deleted, {} kept",
            self.bucket,
            self.prefix,
            self.uploaded,
            human_bytes(self.uploaded_bytes),
            self.headers_updated,
            self.unchanged,
            self.deleted,
            self.kept
        )];
        if let Some(Invalidation {
            id: Some(id),
            path_count,
            ..
        }) = &self.invalidation
        {
            result.push(format!("invalidation {id}: {path_count} paths"));
        }
        let info = (self.kept > 0).then(|| KEPT.replace("{}", &self.kept.to_string()));
        Text {
            result,
            info: info.into_iter().collect(),
        }
    }

    fn step_summary(&self) -> Option<String> {
        let mut step = ci::StepSummary::new(
            format!(
                "cdnctl sync {}: {} uploaded",
                ci::code(&format!("{}/{}", self.bucket, self.prefix)),
                self.uploaded
            ),
            &["what", "files"],
        );
        step.row(vec![
            "uploaded".into(),
            format!("{} ({})", self.uploaded, human_bytes(self.uploaded_bytes)),
        ]);
        step.row(vec!["headers updated".into(), self.headers_updated.to_string()]);
        step.row(vec!["unchanged".into(), self.unchanged.to_string()]);
        step.row(vec!["deleted".into(), self.deleted.to_string()]);
        step.row(vec!["kept (gone from DIR, still served)".into(), self.kept.to_string()]);
        step.row(vec![
            "invalidated paths".into(),
            self.invalidation
                .as_ref()
                .map(|i| i.paths.join("\n"))
                .unwrap_or_else(|| "none".into()),
        ]);
        Some(step.markdown())
    }
}

/// What "kept" means, for people reading the figures.
const KEPT: &str = "kept: {} published object(s) no longer in DIR stay in the bucket: without --delete nothing goes, \
and with it files stay for --delete-grace after a run first found them gone, and content-hashed files while recent \
deploys name them (--keep-deploys)";

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::diff::Publish;
    use crate::sync::invalidation::Batch;
    use crate::sync::report::Figures;
    use crate::sync::stages::Published;

    fn synced(id: Option<&str>) -> Synced {
        let plan = Publish {
            deletes: vec!["old.css".into()],
            kept: 2,
            unchanged: 5,
            ..Publish::default()
        };
        let published = Published {
            uploaded: 3,
            uploaded_bytes: 2048,
            headers_updated: 1,
            failures: vec![],
        };
        let batch = Batch {
            paths: vec!["/index.html".into(), "/old.css".into()],
            reference: "ref".into(),
            changed: 2,
        };
        Synced::new(
            &plan,
            Figures {
                bucket: "b",
                prefix: "static/",
                distribution_id: Some("E1"),
                files: 8,
                published: &published,
                headers_checked: 0,
                listing_pages: 1,
                batch: Some(&batch),
                invalidation_id: id,
            },
        )
    }

    #[test]
    fn a_finished_run_tells_the_same_figures_three_ways() {
        let r = synced(Some("I1"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["uploaded"], 3);
        assert_eq!(json["deleted"], 1);
        assert_eq!(json["invalidation"]["path_count"], 2);
        assert_eq!(json["invalidation"]["id"], "I1");
        assert_eq!(
            r.text().result,
            [
                "b/static/: 3 uploaded (2.0 KiB), 1 headers updated, 5 unchanged, 1 deleted, 2 kept",
                "invalidation I1: 2 paths"
            ]
        );
        let md = r.step_summary().unwrap();
        assert!(md.starts_with("### cdnctl sync `b/static/`: 3 uploaded\n"), "{md}");
        assert!(md.contains("| uploaded | 3 (2.0 KiB) |"), "{md}");
        assert!(md.contains("| deleted | 1 |"), "{md}");
        assert!(md.contains("| kept (gone from DIR, still served) | 2 |"), "{md}");
        assert!(
            r.text().info[0].starts_with("kept: 2 published object(s) no longer in DIR"),
            "{:?}",
            r.text().info
        );
        assert!(md.contains("| invalidated paths | /index.html<br>/old.css |"), "{md}");
        // No id yet (CloudFront never got the batch): no invalidation line.
        assert_eq!(synced(None).text().result.len(), 1);
    }
}
