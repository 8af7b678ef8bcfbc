//! `cdnctl sync DIR`: publish a directory to the stack's bucket, only what
//! changed, in an order safe for rolling deploys, then invalidate what
//! CloudFront holds stale, then delete what is gone; one writing run per
//! prefix at a time (a lease in the prefix's state, `sync/lease.rs`).

use std::collections::BTreeMap;

use anyhow::anyhow;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::exit::{Exit, Failed};
use crate::output::Printer;
use crate::spec::Spec;
use crate::sync::decide::{self, Decided};
use crate::sync::diff::{self, Publish};
use crate::sync::holder::{self, Lease};
use crate::sync::lease::{self, Held, Version};
use crate::sync::listing::RemoteObject;
use crate::sync::remote::{self, Destination};
use crate::sync::scan::{self, LocalFile};
use crate::sync::stages::{self, Published};
use crate::sync::state::{Pending, PrefixState};
use crate::sync::{report, transfer, SyncOptions};

/// How often to read the state again when another run changed it between
/// this run's read and its write.
const RACES: usize = 10;

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    opts: &SyncOptions,
    printer: &Printer,
) -> anyhow::Result<Exit> {
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
    let at = Pipeline {
        s3: &s3,
        bucket,
        key: format!("{reserved}state.json"),
        opts,
        waiting,
        printer,
        me: Lease::mine(now()),
    };

    // The local scan, the stack, and the state then the listing, all at once.
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
    let (stack, mut seen) = tokio::join!(remote::find_destination(clients, spec, waiting), at.look());
    let stack = stack?;
    let local = scanning.await.map_err(|e| anyhow!("scan: {e}"))??;
    for w in &local.warnings {
        printer.warn(w);
    }
    let files = local.files;
    if files.is_empty() && !(opts.delete && opts.max_deletes.is_unlimited()) {
        return Err(Failed::Refused(vec![format!(
            "DIR: {} holds no files to publish (did the build or collectstatic run?)",
            opts.dir.display()
        )])
        .into());
    }

    let mut races = 0;
    let (seen, decided, held) = loop {
        let s = seen?;
        let mut d = at.decide(&files, &s).await?;
        if stack.distribution_id.is_none() {
            d.batch = None;
        }
        at.check_deletes(&s, &d.plan)?;
        if opts.dry_run {
            printer.report(&report::DryRun::new(
                &files,
                &d.plan,
                d.batch.as_ref(),
                bucket,
                &opts.prefix,
            ));
            return Ok(if d.plan.has_writes() || d.batch.is_some() {
                Exit::Drift
            } else {
                Exit::Success
            });
        }
        match at.take(&s, &d).await? {
            Taken::Held(held) => break (s, d, held),
            Taken::Recorded => {
                printer.report(&at.summary(&stack, &files, &s, &d, &Published::default(), None));
                return Ok(Exit::Success);
            }
            Taken::Raced => {}
        }
        races += 1;
        if races > RACES {
            return Err(Failed::Refused(vec![format!(
                "{}: other runs keep changing it: run `cdnctl sync` again",
                at.key
            )])
            .into());
        }
        printer.info("another sync changed this prefix meanwhile: reading it again");
        seen = at.look().await;
    };

    let mut work = Work::default();
    let result = at.work(clients, &stack, &files, &decided, &held, &mut work).await;
    // Give the lease back with what this run achieved, whatever happened.
    let fingerprint = opts.rules.fingerprint();
    let released = held.release(|s| work.record(&decided, fingerprint, s)).await;
    result?;
    released?;
    printer.report(&at.summary(
        &stack,
        &files,
        &seen,
        &decided,
        &work.published,
        work.invalidated.as_deref(),
    ));
    Ok(Exit::Success)
}

/// The prefix being synced, and what every step needs.
struct Pipeline<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    /// The prefix's state object.
    key: String,
    opts: &'a SyncOptions,
    waiting: &'a Waiting,
    printer: &'a Printer,
    me: Lease,
}

/// The state (no other run holding it) and, read after it, the listing.
struct Seen {
    state: PrefixState,
    version: Version,
    objects: BTreeMap<String, RemoteObject>,
    pages: usize,
}

enum Taken {
    /// The lease, with the pending invalidation noted: go ahead.
    Held(Held),
    /// Nothing to publish; the record is up to date.
    Recorded,
    /// Another run wrote the state first: read it again.
    Raced,
}

#[derive(Default)]
struct Work {
    published: Published,
    /// The invalidation's id, once CloudFront has it.
    invalidated: Option<String>,
    deleted: bool,
}

impl Work {
    /// What this run achieved, into the state it leaves.
    fn record(&self, d: &Decided, fingerprint: String, state: &mut PrefixState) {
        if self.invalidated.is_some() {
            state.pending = None;
        }
        if d.check_headers && self.published.failures.is_empty() {
            state.fingerprint = Some(fingerprint);
        }
        if self.deleted {
            for key in &d.plan.deletes {
                state.superseded.remove(key);
            }
        }
    }
}

impl Pipeline<'_> {
    /// Note what this run must invalidate, and take the lease, before
    /// changing anything: a run interrupted after its uploads still
    /// invalidates when run again. With nothing to publish, only the record
    /// is written (if it changed).
    async fn take(&self, seen: &Seen, d: &Decided) -> anyhow::Result<Taken> {
        let mut next = d.state.clone();
        let idle = !d.plan.has_writes() && d.batch.is_none();
        if idle {
            if d.check_headers {
                next.fingerprint = Some(self.opts.rules.fingerprint());
            }
            if next.same_record(&seen.state) && seen.state.lease.is_none() {
                return Ok(Taken::Recorded);
            }
        } else {
            next.pending = d.batch.as_ref().map(|b| Pending {
                paths: b.paths.clone(),
                reference: b.reference.clone(),
            });
            let now = now();
            next.lease = Some(Lease {
                since: now,
                expires: now + holder::TTL,
                ..self.me.clone()
            });
        }
        Ok(
            match lease::write(self.s3, self.bucket, &self.key, &next, &seen.version).await? {
                None => Taken::Raced,
                Some(_) if idle => Taken::Recorded,
                Some(version) => Taken::Held(Held::new(self.s3, self.bucket, &self.key, next, version)),
            },
        )
    }

    /// Read the state, waiting while another live run holds its lease, then
    /// list: a run that released its lease before the read has finished
    /// every write the listing must show.
    async fn look(&self) -> anyhow::Result<Seen> {
        let (state, version) = lease::unleased(
            self.s3,
            self.bucket,
            &self.key,
            &self.me,
            self.waiting,
            self.opts.dry_run,
            self.printer,
        )
        .await?;
        let (objects, pages) = remote::list(self.s3, self.bucket, &self.opts.prefix).await?;
        Ok(Seen {
            state,
            version,
            objects,
            pages,
        })
    }

    async fn decide(&self, files: &[LocalFile], seen: &Seen) -> anyhow::Result<Decided> {
        let place = decide::Place {
            s3: self.s3,
            bucket: self.bucket,
            opts: self.opts,
            holder: &self.me.holder,
            printer: self.printer,
        };
        decide::decide(&place, files, &seen.state, &seen.objects).await
    }

    /// An empty or wrong DIR must not wipe the site.
    fn check_deletes(&self, seen: &Seen, plan: &Publish) -> anyhow::Result<()> {
        let under = seen.objects.keys().filter(|k| !diff::is_reserved(k)).count();
        let limit = self.opts.max_deletes;
        if plan.deletes.is_empty() || limit.allows(plan.deletes.len(), under) {
            return Ok(());
        }
        Err(Failed::Refused(vec![format!(
            "--max-deletes: {} of the {under} objects under {}/{} are gone from {} and would be deleted, more than --max-deletes {limit} allows: \
             check DIR and --prefix; if that is right, run again with a larger --max-deletes (100% for any)",
            plan.deletes.len(),
            self.bucket,
            self.opts.prefix,
            self.opts.dir.display(),
        )])
        .into())
    }

    /// Upload, invalidate, delete. `out` keeps what was achieved, also on error.
    async fn work(
        &self,
        clients: &Clients,
        stack: &Destination,
        files: &[LocalFile],
        d: &Decided,
        held: &Held,
        out: &mut Work,
    ) -> anyhow::Result<()> {
        let (bucket, printer) = (self.bucket, self.printer);
        out.published = stages::publish(self.s3, bucket, files, &d.plan, self.opts.jobs, printer).await;

        // Invalidate what this run changed (also after a partial failure: what
        // was uploaded is live and stale at the edge).
        if let (Some(b), Some(dist)) = (&d.batch, &stack.distribution_id) {
            let room = printer.on_refusal(
                "invalidation",
                "CloudFront's limits (3,000 paths, 15 wildcards in progress) are full: waiting for room",
            );
            let id = transfer::invalidate(&clients.cloudfront, dist, &b.paths, &b.reference, self.waiting, room)
                .await
                .map_err(|e| {
                    Failed::PartWay(format!(
                        "{e:#}\nthe files are live; the invalidation is kept in {} and sent by the next `cdnctl sync`; nothing was deleted",
                        self.key
                    ))
                })?;
            printer.info(&format!(
                "Invalidating {} path{} on {dist} ({id}); CloudFront's first 1,000 paths a month are free",
                b.paths.len(),
                if b.paths.len() == 1 { "" } else { "s" }
            ));
            out.invalidated = Some(id.clone());
            if self.opts.wait {
                let p = printer.progress("invalidation", &format!("{id} in progress"));
                transfer::wait_invalidated(&clients.cloudfront, dist, &id, self.waiting).await?;
                p.finish();
            }
        } else if stack.distribution_id.is_none() && d.plan.invalidation.is_some() {
            printer.warn(&format!(
                "stack {bucket} has no distribution yet: nothing to invalidate (run `cdnctl up`)"
            ));
        }

        let failures = &out.published.failures;
        if !failures.is_empty() {
            return Err(Failed::PartWay(format!(
                "{}\n{} file(s) failed; nothing was deleted: run `cdnctl sync` again to finish",
                failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
                failures.len()
            ))
            .into());
        }
        if !d.plan.deletes.is_empty() {
            if held.lost().await {
                return Err(Failed::PartWay(format!(
                    "{}: another sync took over this run's lease while it was stalled; nothing was deleted: run `cdnctl sync` again",
                    self.key
                ))
                .into());
            }
            transfer::delete(self.s3, bucket, &d.plan.deletes, self.opts.jobs).await?;
            out.deleted = true;
        }
        Ok(())
    }

    fn summary(
        &self,
        stack: &Destination,
        files: &[LocalFile],
        seen: &Seen,
        d: &Decided,
        published: &Published,
        invalidation_id: Option<&str>,
    ) -> report::Synced {
        report::Synced::new(
            &d.plan,
            report::Figures {
                bucket: self.bucket,
                prefix: &self.opts.prefix,
                distribution_id: stack.distribution_id.as_deref(),
                files: files.len(),
                published,
                headers_checked: d.heads_checked,
                listing_pages: seen.pages,
                batch: d.batch.as_ref(),
                invalidation_id,
            },
        )
    }
}
