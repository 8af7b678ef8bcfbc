//! `cdnctl sync DIR`: publish a directory to the stack's bucket, only what
//! changed, in an order safe for rolling deploys, then invalidate what
//! CloudFront holds stale.

use std::collections::HashMap;

use anyhow::anyhow;
use futures_util::{stream, StreamExt as _};
use serde_json::json;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::output::Printer;
use crate::run::Exit;
use crate::settings::Environment;
use crate::spec::Spec;
use crate::sync::diff::{self, Plan, Why};
use crate::sync::invalidation::{collapse, Batch};
use crate::sync::progress::Progress;
use crate::sync::remote::{self, HEADERS_TAG};
use crate::sync::scan::{self, LocalFile};
use crate::sync::{transfer, SyncArgs, SyncOptions};

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &SyncArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let opts = SyncOptions::resolve(args, &Environment)?;
    // Content-MD5 goes with every upload; the SDK's own checksums would make
    // it read each streamed body twice (or send it aws-chunked).
    let s3 = aws_sdk_s3::Client::from_conf(
        clients
            .s3
            .config()
            .to_builder()
            .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
            .build(),
    );
    let bucket = spec.bucket.as_str();
    let reserved = format!("{}.cdnctl/", opts.prefix);
    let pending_key = format!("{reserved}pending-invalidation.json");

    // The local scan, the stack and the listing, all at once.
    let scanning = {
        let (dir, prefix, rules, reserved, follow) = (
            opts.dir.clone(),
            opts.prefix.clone(),
            opts.rules.clone(),
            reserved.clone(),
            opts.follow_links,
        );
        tokio::task::spawn_blocking(move || scan::scan(&dir, &prefix, &rules, &reserved, follow))
    };
    let (stack, listing) = tokio::join!(
        remote::find_stack(clients, spec, waiting),
        remote::list(&s3, bucket, &opts.prefix)
    );
    let stack = stack?;
    let (objects, pages) = listing?;
    let local = scanning.await.map_err(|e| anyhow!("scan: {e}"))??;
    for w in &local.warnings {
        printer.warn(w);
    }
    let files = local.files;

    // Headers of unchanged files are looked at only when the rules changed.
    let fingerprint = opts.rules.fingerprint();
    let check_headers = stack.tags.get(HEADERS_TAG) != Some(&fingerprint);
    let heads = if check_headers {
        let keys = diff::unchanged(&files, &objects)
            .iter()
            .map(|f| f.key.clone())
            .collect::<Vec<_>>();
        if !keys.is_empty() {
            printer.info(&format!(
                "The header rules changed: checking the headers of {} files",
                keys.len()
            ));
        }
        remote::heads(&s3, bucket, keys, opts.jobs).await?
    } else {
        HashMap::new()
    };
    let mut diff_options = diff::Options {
        delete: opts.delete,
        grace: opts.grace,
        now: now(),
        reserved: reserved.clone(),
        protected: Default::default(),
    };
    let mut plan = diff::diff(&files, &objects, &heads, &diff_options);
    if !plan.deletes.is_empty() {
        // The deployed manifests name what the running servers still use.
        diff_options.protected = deployed_files(&s3, bucket, &files, &objects, &opts.prefix).await?;
        if !diff_options.protected.is_empty() {
            plan = diff::diff(&files, &objects, &heads, &diff_options);
        }
    }

    // An interrupted run's invalidation that may not have been sent.
    let pending = match (&stack.distribution_id, objects.contains_key(&pending_key)) {
        (Some(_), true) => remote::read_pending(&s3, bucket, &pending_key).await?,
        _ => None,
    };
    let batch = match (plan.invalidation.clone(), pending.clone()) {
        (b, None) => b,
        (None, Some((paths, reference))) => Some(Batch::resumed(paths, reference)),
        (Some(b), Some((paths, reference))) => Some(Batch {
            reference: format!(
                "{}-{}",
                &b.reference[..b.reference.len().min(60)],
                &reference[reference.len().saturating_sub(60)..]
            ),
            changed: b.changed + paths.len(),
            paths: collapse(b.paths.into_iter().chain(paths).collect()),
        }),
    };
    let batch = batch.filter(|_| stack.distribution_id.is_some());

    if plan.deletes.len() as u64 > opts.max_deletes {
        anyhow::bail!(
            "--max-deletes: {} objects are gone from {} and would be deleted, more than --max-deletes {}: \
             check DIR and --prefix, then raise --max-deletes if that is right\nnothing was changed",
            plan.deletes.len(),
            opts.dir.display(),
            opts.max_deletes
        );
    }

    if opts.dry_run {
        report_dry_run(printer, &files, &plan, batch.as_ref(), bucket, &opts);
        return Ok(if plan.has_writes() || batch.is_some() {
            Exit::Drift
        } else {
            Exit::Success
        });
    }

    // Note what this run must invalidate before changing anything, so a run
    // interrupted after its uploads still invalidates when run again.
    if let Some(b) = &batch {
        if pending.as_ref().is_none_or(|(_, r)| *r != b.reference) {
            let note = json!({"paths": b.paths, "reference": b.reference}).to_string();
            transfer::put_note(&s3, bucket, &pending_key, note).await?;
        }
    }

    // Content-hashed files first: nothing refers to them yet. Then the rest
    // and the header updates, manifests last: whoever reads one finds every
    // file it names.
    let uploads: Vec<(usize, Why)> = plan.uploads().collect();
    let total_bytes: u64 = uploads.iter().map(|(i, _)| files[*i].size).sum();
    let progress = Progress::new(printer, uploads.len() + plan.header_updates.len(), total_bytes);
    let mut failures = Vec::new();
    let mut done = 0usize;
    let todo = uploads.len() + plan.header_updates.len();
    let manifests: Vec<usize> = plan
        .other_uploads
        .iter()
        .filter(|(i, _)| files[*i].manifest)
        .map(|(i, _)| *i)
        .collect();
    let stages: [Vec<Job>; 3] = [
        plan.hashed_uploads.iter().map(|(i, _)| Job::Upload(*i)).collect(),
        plan.other_uploads
            .iter()
            .filter(|(i, _)| !files[*i].manifest)
            .map(|(i, _)| Job::Upload(*i))
            .chain(plan.header_updates.iter().map(|i| Job::Headers(*i)))
            .collect(),
        manifests.iter().map(|i| Job::Upload(*i)).collect(),
    ];
    let mut uploaded = 0usize;
    let mut uploaded_bytes = 0u64;
    let mut headers_updated = 0usize;
    for stage in stages {
        if !failures.is_empty() {
            break; // never publish manifests that name files that failed
        }
        let mut results = stream::iter(stage)
            .map(|job| {
                let s3 = &s3;
                let files = &files;
                async move {
                    let result = match job {
                        Job::Upload(i) => transfer::upload(s3, bucket, &files[i]).await,
                        Job::Headers(i) => transfer::update_headers(s3, bucket, &files[i]).await,
                    };
                    (job, result)
                }
            })
            .buffer_unordered(opts.jobs);
        while let Some((job, result)) = results.next().await {
            done += 1;
            match (job, result) {
                (Job::Upload(i), Ok(())) => {
                    uploaded += 1;
                    uploaded_bytes += files[i].size;
                    progress.file_done(files[i].size, done, todo);
                }
                (Job::Headers(_), Ok(())) => {
                    headers_updated += 1;
                    progress.file_done(0, done, todo);
                }
                (_, Err(e)) => failures.push(format!("{e:#}")),
            }
        }
    }
    progress.finish();

    // Invalidate what this run changed (also after a partial failure: what
    // was uploaded is live and stale at the edge).
    let mut invalidation_id = None;
    if let (Some(b), Some(dist)) = (&batch, &stack.distribution_id) {
        let id = transfer::invalidate(&clients.cloudfront, dist, &b.paths, &b.reference).await?;
        printer.info(&format!(
            "Invalidating {} path{} on {dist} ({id}); CloudFront's first 1,000 paths a month are free",
            b.paths.len(),
            if b.paths.len() == 1 { "" } else { "s" }
        ));
        if opts.wait {
            let p = printer.progress("invalidation", &format!("{id} in progress"));
            transfer::wait_invalidated(&clients.cloudfront, dist, &id, waiting).await?;
            p.finish();
        }
        transfer::delete_note(&s3, bucket, &pending_key).await?;
        invalidation_id = Some(id);
    } else if stack.distribution_id.is_none() && plan.invalidation.is_some() {
        printer.warn(&format!(
            "stack {bucket} has no distribution yet: nothing to invalidate (run `cdnctl up`)"
        ));
    }

    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(10);
        anyhow::bail!(
            "{}\n{n} file(s) failed; nothing was deleted: run `cdnctl sync` again to finish",
            failures.join("\n")
        );
    }

    if !plan.deletes.is_empty() {
        transfer::delete(&s3, bucket, &plan.deletes, opts.jobs).await?;
    }
    if check_headers {
        // Every object now has the headers these rules give it.
        if let Err(e) = remote::put_fingerprint(&s3, bucket, &stack.tags, &fingerprint).await {
            printer.warn(&format!("{e:#}"));
        }
    }

    let summary = json!({
        "bucket": bucket,
        "prefix": opts.prefix,
        "distribution_id": stack.distribution_id,
        "dry_run": false,
        "files": files.len(),
        "unchanged": plan.unchanged,
        "uploaded": uploaded,
        "uploaded_bytes": uploaded_bytes,
        "headers_updated": headers_updated,
        "headers_checked": heads.len(),
        "deleted": plan.deletes.len(),
        "kept": plan.kept,
        "listing_pages": pages,
        "invalidation": batch.as_ref().map(|b| json!({
            "id": invalidation_id,
            "paths": b.paths,
            "path_count": b.paths.len(),
            "caller_reference": b.reference,
        })),
    });
    let mut step = ci::Summary::new(
        format!(
            "cdnctl sync {}: {uploaded} uploaded",
            ci::code(&format!("{bucket}/{}", opts.prefix))
        ),
        &["what", "files"],
    );
    step.row(vec![
        "uploaded".into(),
        format!("{uploaded} ({})", human_bytes(uploaded_bytes)),
    ]);
    step.row(vec!["headers updated".into(), headers_updated.to_string()]);
    step.row(vec!["unchanged".into(), plan.unchanged.to_string()]);
    step.row(vec!["deleted".into(), plan.deletes.len().to_string()]);
    step.row(vec![
        "invalidated paths".into(),
        batch
            .as_ref()
            .map(|b| b.paths.join("\n"))
            .unwrap_or_else(|| "none".into()),
    ]);
    step.write(printer);
    if printer.json {
        printer.json(&summary);
    } else {
        printer.result(&format!(
            "{bucket}/{}: {uploaded} uploaded ({}), {headers_updated} headers updated, {} unchanged, {} deleted, {} kept",
            opts.prefix,
            human_bytes(uploaded_bytes),
            plan.unchanged,
            plan.deletes.len(),
            plan.kept
        ));
        if let (Some(b), Some(id)) = (&batch, &invalidation_id) {
            printer.result(&format!("invalidation {id}: {} paths", b.paths.len()));
        }
    }
    Ok(Exit::Success)
}

/// The files named by the bucket's manifests where they differ from the
/// local ones (the version being replaced), as keys.
async fn deployed_files(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    files: &[LocalFile],
    objects: &std::collections::BTreeMap<String, diff::RemoteObject>,
    prefix: &str,
) -> anyhow::Result<std::collections::BTreeSet<String>> {
    let mut out = std::collections::BTreeSet::new();
    for f in files.iter().filter(|f| f.manifest) {
        if objects.get(&f.key).is_none_or(|r| f.same_content(&r.etag)) {
            continue;
        }
        if let Some(text) = remote::get_text(s3, bucket, &f.key).await? {
            let names = crate::sync::rules::manifest_files(&f.rel, &text).unwrap_or_default();
            out.extend(names.into_iter().map(|n| format!("{prefix}{n}")));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy)]
enum Job {
    Upload(usize),
    Headers(usize),
}

fn report_dry_run(
    printer: &Printer,
    files: &[LocalFile],
    plan: &Plan,
    batch: Option<&Batch>,
    bucket: &str,
    opts: &SyncOptions,
) {
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
            "prefix": opts.prefix,
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

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}
