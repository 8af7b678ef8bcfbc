//! What `sync` tells, typed: the dry run's plan ([`DryRun`]) and a finished
//! run's figures ([`Synced`]). Each is one `Serialize` value that the printer
//! renders as JSON, as text and (a finished run) as the GitHub step summary,
//! so that the three cannot disagree.

use serde::Serialize;

use super::diff::{Publish, Why};
use super::invalidation::Batch;
use super::scan::LocalFile;
use super::stages::Published;
use crate::ci;
use crate::output::{Report, Text};

/// `sync --dry-run`: what a run would do.
#[derive(Debug, Serialize)]
pub struct DryRun {
    pub bucket: String,
    pub prefix: String,
    /// Always true: tells the two reports apart in JSON.
    pub dry_run: bool,
    pub files: usize,
    pub unchanged: usize,
    pub upload: Vec<Upload>,
    pub update_headers: Vec<String>,
    pub invalidate: Vec<String>,
    pub delete: Vec<String>,
    pub kept: usize,
    /// Gone from DIR, not published by cdnctl here: left alone.
    pub unpublished: usize,
}

#[derive(Debug, Serialize)]
pub struct Upload {
    pub key: String,
    /// new | changed
    pub reason: &'static str,
    pub content_type: String,
    pub cache_control: String,
}

impl DryRun {
    pub fn new(files: &[LocalFile], plan: &Publish, batch: Option<&Batch>, bucket: &str, prefix: &str) -> DryRun {
        DryRun {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            dry_run: true,
            files: files.len(),
            unchanged: plan.unchanged,
            upload: plan
                .uploads()
                .map(|(i, why)| Upload {
                    key: files[i].key.clone(),
                    reason: if why == Why::New { "new" } else { "changed" },
                    content_type: files[i].content_type.clone(),
                    cache_control: files[i].cache_control.clone(),
                })
                .collect(),
            update_headers: plan.header_updates.iter().map(|i| files[*i].key.clone()).collect(),
            invalidate: batch.map(|b| b.paths.clone()).unwrap_or_default(),
            delete: plan.deletes.clone(),
            kept: plan.kept,
            unpublished: plan.unpublished.len(),
        }
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

/// A finished run (or one that found nothing to publish).
#[derive(Debug, Serialize)]
pub struct Synced {
    pub bucket: String,
    pub prefix: String,
    pub distribution_id: Option<String>,
    /// Always false: tells the two reports apart in JSON.
    pub dry_run: bool,
    pub files: usize,
    pub unchanged: usize,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub headers_updated: usize,
    pub headers_checked: usize,
    pub deleted: usize,
    pub kept: usize,
    /// Gone from DIR, not published by cdnctl here: left alone.
    pub unpublished: usize,
    pub listing_pages: usize,
    pub invalidation: Option<Invalidation>,
}

#[derive(Debug, Serialize)]
pub struct Invalidation {
    /// CloudFront's id, once it has the batch.
    pub id: Option<String>,
    pub paths: Vec<String>,
    pub path_count: usize,
    pub caller_reference: String,
}

/// What a finished run needs to tell, besides the plan.
pub struct Figures<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub distribution_id: Option<&'a str>,
    pub files: usize,
    pub published: &'a Published,
    pub headers_checked: usize,
    pub listing_pages: usize,
    pub batch: Option<&'a Batch>,
    pub invalidation_id: Option<&'a str>,
}

impl Synced {
    pub fn new(plan: &Publish, f: Figures<'_>) -> Synced {
        Synced {
            bucket: f.bucket.to_string(),
            prefix: f.prefix.to_string(),
            distribution_id: f.distribution_id.map(str::to_string),
            dry_run: false,
            files: f.files,
            unchanged: plan.unchanged,
            uploaded: f.published.uploaded,
            uploaded_bytes: f.published.uploaded_bytes,
            headers_updated: f.published.headers_updated,
            headers_checked: f.headers_checked,
            deleted: plan.deletes.len(),
            kept: plan.kept,
            unpublished: plan.unpublished.len(),
            listing_pages: f.listing_pages,
            invalidation: f.batch.map(|b| Invalidation {
                id: f.invalidation_id.map(str::to_string),
                paths: b.paths.clone(),
                path_count: b.paths.len(),
                caller_reference: b.reference.clone(),
            }),
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
