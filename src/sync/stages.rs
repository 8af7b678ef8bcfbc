//! The writes of files, in an order safe for rolling deploys: content-hashed
//! files first (nothing refers to them yet), then the rest and the header
//! corrections, manifests last (whoever reads one finds every file it names).
//! A stage starts only when the one before succeeded entirely.

use futures_util::{stream, StreamExt as _};

use super::diff::{Publish, Why};
use super::lease::Held;
use super::scan::LocalFile;
use super::transfer;
use crate::output::Printer;

#[derive(Debug, Default)]
pub struct Published {
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub headers_updated: usize,
    /// One line per file that failed.
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Upload(usize),
    Headers(usize),
}

pub async fn publish(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    files: &[LocalFile],
    plan: &Publish,
    jobs: usize,
    printer: &Printer,
    held: &Held,
) -> Published {
    let uploads: Vec<(usize, Why)> = plan.uploads().collect();
    let total_bytes: u64 = uploads.iter().map(|(i, _)| files[*i].size).sum();
    let todo = uploads.len() + plan.header_updates.len();
    let progress = printer.transfer(todo, total_bytes);
    let stages: [Vec<Job>; 3] = [
        plan.hashed_uploads.iter().map(|(i, _)| Job::Upload(*i)).collect(),
        plan.other_uploads
            .iter()
            .filter(|(i, _)| !files[*i].manifest)
            .map(|(i, _)| Job::Upload(*i))
            .chain(plan.header_updates.iter().map(|i| Job::Headers(*i)))
            .collect(),
        plan.other_uploads
            .iter()
            .filter(|(i, _)| files[*i].manifest)
            .map(|(i, _)| Job::Upload(*i))
            .collect(),
    ];
    let mut out = Published::default();
    let mut done = 0usize;
    for stage in stages {
        if !out.failures.is_empty() {
            break; // never publish manifests that name files that failed
        }
        let confirmed = if stage.is_empty() { Ok(()) } else { held.confirm().await };
        if let Err(e) = confirmed {
            out.failures.push(format!("{e:#}"));
            break; // another run took the lease over: it writes now
        }
        let mut results = stream::iter(stage)
            .map(|job| async move {
                let result = match job {
                    Job::Upload(i) => transfer::upload(s3, bucket, &files[i]).await,
                    Job::Headers(i) => transfer::update_headers(s3, bucket, &files[i]).await,
                };
                (job, result)
            })
            .buffer_unordered(jobs);
        while let Some((job, result)) = results.next().await {
            done += 1;
            match (job, result) {
                (Job::Upload(i), Ok(())) => {
                    out.uploaded += 1;
                    out.uploaded_bytes += files[i].size;
                    progress.file_done(files[i].size, done, todo);
                }
                (Job::Headers(_), Ok(())) => {
                    out.headers_updated += 1;
                    progress.file_done(0, done, todo);
                }
                (_, Err(e)) => out.failures.push(format!("{e:#}")),
            }
        }
    }
    progress.finish();
    out
}
