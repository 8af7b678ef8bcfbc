//! What `sync` tells: the dry run's plan, and the result (JSON, text and the
//! GitHub step summary).

use serde_json::json;

use super::diff::{Plan, Why};
use super::invalidation::Batch;
use super::scan::LocalFile;
use super::stages::Published;
use crate::ci;
use crate::output::Printer;

pub fn dry_run(printer: &Printer, files: &[LocalFile], plan: &Plan, batch: Option<&Batch>, bucket: &str, prefix: &str) {
    let uploads: Vec<serde_json::Value> = plan
        .uploads()
        .map(|(i, why)| {
            json!({"key": files[i].key, "reason": if why == Why::New { "new" } else { "changed" },
                   "content_type": files[i].content_type, "cache_control": files[i].cache_control})
        })
        .collect();
    let headers: Vec<&str> = plan.header_updates.iter().map(|i| files[*i].key.as_str()).collect();
    let paths: Vec<&str> = batch
        .map(|b| b.paths.iter().map(String::as_str).collect())
        .unwrap_or_default();
    if printer.json {
        printer.json(&json!({
            "bucket": bucket,
            "prefix": prefix,
            "dry_run": true,
            "files": files.len(),
            "unchanged": plan.unchanged,
            "upload": uploads,
            "update_headers": headers,
            "invalidate": paths,
            "delete": plan.deletes,
            "kept": plan.kept,
        }));
        return;
    }
    for (i, why) in plan.uploads() {
        let reason = if why == Why::New { "new" } else { "changed" };
        printer.result(&format!(
            "upload      {} ({reason}; {})",
            files[i].key, files[i].cache_control
        ));
    }
    for key in &headers {
        printer.result(&format!("headers     {key}"));
    }
    for p in &paths {
        printer.result(&format!("invalidate  {p}"));
    }
    for key in &plan.deletes {
        printer.result(&format!("delete      {key}"));
    }
    printer.info(&format!(
        "cdnctl sync would upload {}, update headers of {}, invalidate {} paths, delete {} ({} unchanged, {} kept)",
        plan.uploads().count(),
        headers.len(),
        paths.len(),
        plan.deletes.len(),
        plan.unchanged,
        plan.kept
    ));
}

/// A finished run.
pub struct Done<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub distribution_id: Option<&'a str>,
    pub files: usize,
    pub plan: &'a Plan,
    pub published: &'a Published,
    pub headers_checked: usize,
    pub listing_pages: usize,
    pub batch: Option<&'a Batch>,
    pub invalidation_id: Option<&'a str>,
}

pub fn done(printer: &Printer, d: &Done) {
    let (bucket, p, plan) = (d.bucket, d.published, d.plan);
    let summary = json!({
        "bucket": bucket,
        "prefix": d.prefix,
        "distribution_id": d.distribution_id,
        "dry_run": false,
        "files": d.files,
        "unchanged": plan.unchanged,
        "uploaded": p.uploaded,
        "uploaded_bytes": p.uploaded_bytes,
        "headers_updated": p.headers_updated,
        "headers_checked": d.headers_checked,
        "deleted": plan.deletes.len(),
        "kept": plan.kept,
        "listing_pages": d.listing_pages,
        "invalidation": d.batch.map(|b| json!({
            "id": d.invalidation_id,
            "paths": b.paths,
            "path_count": b.paths.len(),
            "caller_reference": b.reference,
        })),
    });
    let mut step = ci::Summary::new(
        format!(
            "cdnctl sync {}: {} uploaded",
            ci::code(&format!("{bucket}/{}", d.prefix)),
            p.uploaded
        ),
        &["what", "files"],
    );
    step.row(vec![
        "uploaded".into(),
        format!("{} ({})", p.uploaded, human_bytes(p.uploaded_bytes)),
    ]);
    step.row(vec!["headers updated".into(), p.headers_updated.to_string()]);
    step.row(vec!["unchanged".into(), plan.unchanged.to_string()]);
    step.row(vec!["deleted".into(), plan.deletes.len().to_string()]);
    step.row(vec![
        "invalidated paths".into(),
        d.batch.map(|b| b.paths.join("\n")).unwrap_or_else(|| "none".into()),
    ]);
    step.write(printer);
    if printer.json {
        printer.json(&summary);
        return;
    }
    printer.result(&format!(
        "{bucket}/{}: {} uploaded ({}), {} headers updated, {} unchanged, {} deleted, {} kept",
        d.prefix,
        p.uploaded,
        human_bytes(p.uploaded_bytes),
        p.headers_updated,
        plan.unchanged,
        plan.deletes.len(),
        plan.kept
    ));
    if let (Some(b), Some(id)) = (d.batch, d.invalidation_id) {
        printer.result(&format!("invalidation {id}: {} paths", b.paths.len()));
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
