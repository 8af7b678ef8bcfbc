//! The writes of files, in an order safe for rolling deploys:
//! 1. content-hashed files: nothing refers to them yet;
//! 2. the rest (images, scripts and styles with plain names, …) and the
//!    header corrections;
//! 3. manifests: whoever reads one (the app's servers, the next deploy)
//!    finds every file it names. One whose names cdnctl read
//!    (staticfiles.json, Vite's) names hashed files only, none a page: it
//!    goes with the rest, as soon as what it names is there, which saves
//!    collectstatic's every change a round trip;
//! 4. pages (`*.html`), last: a visitor who gets a new page finds everything
//!    it refers to, hashed or not, already there. Manifests go before them
//!    because a page may link one (a web app's `manifest.json`) and no
//!    manifest refers to a page; the servers that read a manifest never
//!    wait for a page.
//!
//! A stage starts only when the one before succeeded entirely.

use futures_util::{stream, StreamExt as _};

use super::diff::{Publish, Why};
use super::lease::Held;
use super::scan::LocalFile;
use super::{rules, transfer};
use crate::events::Events;

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
    Upload(usize, Why),
    Headers(usize),
}

impl Job {
    fn file(self) -> usize {
        match self {
            Job::Upload(i, _) | Job::Headers(i) => i,
        }
    }
}

/// Which of the four stages (module doc) a job belongs to.
fn stage(f: &LocalFile, job: Job) -> usize {
    if rules::is_page(&f.rel) {
        3
    } else if matches!(job, Job::Headers(_)) {
        1
    } else if f.hashed {
        0
    } else if f.manifest && !f.manifest_read {
        2
    } else {
        1
    }
}

pub async fn publish(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    files: &[LocalFile],
    plan: &Publish,
    jobs: usize,
    events: &dyn Events,
    held: &Held,
) -> Published {
    let uploads: Vec<(usize, Why)> = plan.uploads().collect();
    let total_bytes: u64 = uploads.iter().map(|(i, _)| files[*i].size).sum();
    let todo = uploads.len() + plan.header_updates.len();
    let progress = events.transfer(todo, total_bytes);
    let mut stages: [Vec<Job>; 4] = Default::default();
    let writes = uploads.iter().map(|(i, why)| Job::Upload(*i, *why));
    for job in writes.chain(plan.header_updates.iter().map(|i| Job::Headers(*i))) {
        stages[stage(&files[job.file()], job)].push(job);
    }
    let mut out = Published::default();
    let mut done = 0usize;
    for batch in stages {
        if !out.failures.is_empty() {
            break; // never publish manifests or pages that name files that failed
        }
        let confirmed = if batch.is_empty() { Ok(()) } else { held.confirm().await };
        if let Err(e) = confirmed {
            out.failures.push(format!("{e:#}"));
            break; // another run took the lease over: it writes now
        }
        let mut results = stream::iter(batch)
            .map(|job| async move {
                let result = match job {
                    Job::Upload(i, why) => transfer::upload(s3, bucket, &files[i], why).await,
                    Job::Headers(i) => transfer::update_headers(s3, bucket, &files[i]).await,
                };
                (job, result)
            })
            .buffer_unordered(jobs);
        while let Some((job, result)) = results.next().await {
            done += 1;
            match (job, result) {
                (Job::Upload(i, _), Ok(())) => {
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
