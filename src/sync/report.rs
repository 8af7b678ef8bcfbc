//! What `sync` tells, typed: the dry run's plan ([`DryRun`]) and a finished
//! run's figures ([`Synced`]). Each is one `Serialize` value that the command
//! layer renders as JSON, as text and (a finished run) as the GitHub step
//! summary (`commands/sync.rs`), so that the three cannot disagree.

use serde::Serialize;

use super::diff::{Publish, Why};
use super::invalidation::Batch;
use super::scan::LocalFile;
use super::stages::Published;

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
