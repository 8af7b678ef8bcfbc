//! `cdnctl sync DIR`: publish a directory to the stack's bucket, only what
//! changed, in an order safe for rolling deploys, then invalidate what
//! CloudFront holds stale, then delete what is gone; one writing run per
//! prefix at a time (a lease in the prefix's state, `sync/lease.rs`).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;

use super::now;
use crate::aws::{Clients, Waiting};
use crate::exit::{Exit, Failed};
use crate::output::Printer;
use crate::resources::distribution;
use crate::spec::Spec;
use crate::sync::decide::{self, Decided};
use crate::sync::diff::Publish;
use crate::sync::hidden;
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

/// The pipeline: scan ∥ find the destination ∥ read the state and list →
/// diff, and take the lease → transfer → invalidate → delete.
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
    let s3 = uploading_client(clients);
    let at = Pipeline {
        s3: &s3,
        bucket: spec.bucket.as_str(),
        key: format!("{}state.json", reserved(opts)),
        opts,
        waiting,
        printer,
        me: Lease::mine(now()),
    };
    let Gathered {
        destination,
        files,
        seen,
    } = at.gather(clients, spec).await?;
    let Claimed { seen, decided, held } = match at.diff_and_take(&destination, &files, seen).await? {
        Taken::Held(claimed) => *claimed,
        Taken::Done(exit) => return Ok(exit),
    };
    let work = at.publish(clients, &destination, &files, &decided, held).await?;
    printer.report(&at.summary(
        &destination,
        &files,
        &seen,
        &decided,
        &work.published,
        work.invalidated.as_deref(),
    ));
    Ok(Exit::Success)
}

/// Content-MD5 goes with every upload; the SDK's own checksums would make
/// it read each streamed body twice (or send it aws-chunked).
fn uploading_client(clients: &Clients) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        clients
            .s3
            .config()
            .to_builder()
            .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
            .build(),
    )
}

/// cdnctl's own keys under the prefix (its state): never synced nor deleted.
fn reserved(opts: &SyncOptions) -> String {
    format!("{}.cdnctl/", opts.prefix)
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
    Held(Box<Claimed>),
    /// Nothing more to do: a dry run, or nothing to publish and the record
    /// up to date (reported already).
    Done(Exit),
}

/// What the pipeline starts from: where to publish, the local files, and
/// the state and listing (an error there waits for the diff, which reads
/// them again after a race).
struct Gathered {
    destination: Destination,
    files: Vec<LocalFile>,
    seen: anyhow::Result<Seen>,
}

/// What the diff decided, from what was seen, and the lease to write it.
struct Claimed {
    seen: Seen,
    decided: Decided,
    held: Held,
}

/// What one attempt to take the lease found.
enum Attempt {
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
    fn record(&self, d: &Decided, fingerprint: String, prefix: &str, state: &mut PrefixState) {
        if self.invalidated.is_some() {
            state.pending = None;
        }
        if d.check_headers && self.published.failures.is_empty() {
            state.fingerprint = Some(fingerprint);
        }
        if self.deleted {
            state.deleted(prefix, &d.plan.deletes);
        }
    }
}

impl Pipeline<'_> {
    /// The local scan ∥ the destination ∥ the state then the listing, all at
    /// once. The listing's error waits: the diff reads it again on a race.
    async fn gather(&self, clients: &Clients, spec: &Spec) -> anyhow::Result<Gathered> {
        let opts = self.opts;
        let scanning = {
            let (dir, prefix, rules, reserved, follow, hidden) = (
                opts.dir.clone(),
                opts.prefix.clone(),
                opts.rules.clone(),
                reserved(opts),
                opts.follow_links,
                opts.include_hidden,
            );
            tokio::task::spawn_blocking(move || scan::scan(&dir, &prefix, &rules, &reserved, follow, hidden))
        };
        let (destination, seen) = tokio::join!(remote::find_destination(clients, spec, self.waiting), self.look());
        let destination = destination?;
        let local = scanning.await.map_err(|e| anyhow!("scan: {e}"))??;
        for w in &local.warnings {
            self.printer.warn(w);
        }
        let mut local = local;
        if let Ok(s) = &seen {
            self.leave_nested(&mut local.files, &s.objects);
        }
        if local.files.is_empty() && !(opts.delete && opts.max_deletes.is_unlimited()) {
            return Err(Failed::Refused(vec![format!(
                "DIR: {} holds no files to publish (did the build or collectstatic run?)",
                opts.dir.display()
            )])
            .into());
        }
        Ok(Gathered {
            destination,
            files: local.files,
            seen,
        })
    }

    /// Files of DIR under a nested prefix that is synced on its own (it has
    /// its own `.cdnctl/state.json`) are that prefix's: never overwritten
    /// from here, with one warning.
    fn leave_nested(&self, files: &mut Vec<LocalFile>, objects: &BTreeMap<String, RemoteObject>) {
        let nested = decide::nested_prefixes(objects, &self.opts.prefix);
        if nested.is_empty() {
            return;
        }
        let before = files.len();
        let mut under: BTreeSet<&str> = BTreeSet::new();
        files.retain(|f| match nested.iter().find(|p| f.key.starts_with(p.as_str())) {
            Some(p) => {
                under.insert(p.as_str());
                false
            }
            None => true,
        });
        if files.len() < before {
            let prefixes = under.into_iter().collect::<Vec<_>>().join(", ");
            self.printer.warn(&format!(
                "skipped {} file(s) under {prefixes}: published on its own (it has a .cdnctl/state.json), \
                 so sync them there with --prefix; nothing under it is uploaded or deleted from here",
                before - files.len()
            ));
        }
    }

    /// Diff, then take the lease before any write; read again (up to
    /// [`RACES`] times) when another run wrote the state meanwhile.
    async fn diff_and_take(
        &self,
        destination: &Destination,
        files: &[LocalFile],
        mut seen: anyhow::Result<Seen>,
    ) -> anyhow::Result<Taken> {
        for attempt in 0..=RACES {
            let s = seen?;
            let d = self.diff(destination, files, &s).await?;
            if self.opts.dry_run {
                return Ok(Taken::Done(self.dry_run(files, &d)));
            }
            match self.take(&s, &d).await? {
                Attempt::Held(held) => {
                    return Ok(Taken::Held(Box::new(Claimed {
                        seen: s,
                        decided: d,
                        held,
                    })))
                }
                Attempt::Recorded => {
                    self.printer
                        .report(&self.summary(destination, files, &s, &d, &Published::default(), None));
                    return Ok(Taken::Done(Exit::Success));
                }
                Attempt::Raced if attempt == RACES => break,
                Attempt::Raced => {}
            }
            self.printer
                .info("another sync changed this prefix meanwhile: reading it again");
            seen = self.look().await;
        }
        Err(Failed::Refused(vec![format!(
            "{}: other runs keep changing it: run `cdnctl sync` again",
            self.key
        )])
        .into())
    }

    /// What to upload, correct, invalidate and delete; refused when it would
    /// delete more than --max-deletes allows.
    async fn diff(&self, destination: &Destination, files: &[LocalFile], seen: &Seen) -> anyhow::Result<Decided> {
        let mut d = self.decide(files, seen).await?;
        if destination.distribution_id.is_none() {
            d.batch = None;
        }
        self.check_deletes(&d.plan)?;
        self.left_alone(&d.plan);
        Ok(d)
    }

    /// With --delete, one line for what it does not delete because cdnctl
    /// did not publish it (the first keys with -v).
    fn left_alone(&self, plan: &Publish) {
        let n = plan.unpublished.len();
        if !self.opts.delete || n == 0 {
            return;
        }
        let nested = match plan.nested {
            0 => String::new(),
            m => format!(", {m} of them under prefixes synced on their own"),
        };
        let remedy = if self.opts.delete_unpublished {
            ""
        } else {
            "; --delete-unpublished deletes those not under such a prefix"
        };
        self.printer.info(&format!(
            "{n} object(s) under {}/{} not published by cdnctl here{nested}: left alone{remedy}",
            self.bucket, self.opts.prefix
        ));
        for key in plan.unpublished.iter().take(10) {
            tracing::info!("  left alone: {key}");
        }
    }

    /// The dry run's report; 3 when anything would change.
    fn dry_run(&self, files: &[LocalFile], d: &Decided) -> Exit {
        self.printer.report(&report::DryRun::new(
            files,
            &d.plan,
            d.batch.as_ref(),
            self.bucket,
            &self.opts.prefix,
        ));
        if d.plan.has_writes() || d.batch.is_some() {
            Exit::Drift
        } else {
            Exit::Success
        }
    }

    /// Transfer, invalidate, delete; then give the lease back with what this
    /// run achieved, whatever happened.
    async fn publish(
        &self,
        clients: &Clients,
        destination: &Destination,
        files: &[LocalFile],
        d: &Decided,
        held: Held,
    ) -> anyhow::Result<Work> {
        let mut work = Work::default();
        let result = self.work(clients, destination, files, d, &held, &mut work).await;
        let fingerprint = self.opts.rules.fingerprint();
        let released = held
            .release(|s| work.record(d, fingerprint, &self.opts.prefix, s))
            .await;
        result?;
        released?;
        Ok(work)
    }

    /// Note what this run must invalidate, and take the lease, before
    /// changing anything: a run interrupted after its uploads still
    /// invalidates when run again. With nothing to publish, only the record
    /// is written (if it changed).
    async fn take(&self, seen: &Seen, d: &Decided) -> anyhow::Result<Attempt> {
        let mut next = d.state.clone();
        let idle = !d.plan.has_writes() && d.batch.is_none();
        if idle {
            if d.check_headers {
                next.fingerprint = Some(self.opts.rules.fingerprint());
            }
            if next.same_record(&seen.state) && seen.state.lease.is_none() {
                return Ok(Attempt::Recorded);
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
                None => Attempt::Raced,
                Some(_) if idle => Attempt::Recorded,
                Some(version) => Attempt::Held(Held::new(self.s3, self.bucket, &self.key, next, version)),
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
        let (mut objects, pages) = remote::list(self.s3, self.bucket, &self.opts.prefix).await?;
        // What sync does not publish (hidden files) is not its to delete.
        objects.retain(|key, _| hidden::in_scope(key, &self.opts.prefix, self.opts.include_hidden));
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

    /// An empty or wrong DIR must not wipe the site. Judged on the files
    /// that are not content-hashed, gone from DIR since this run: a routine
    /// deploy replaces every hashed file (and keeps them a while), a wrong
    /// DIR loses the pages.
    fn check_deletes(&self, plan: &Publish) -> anyhow::Result<()> {
        let limit = self.opts.max_deletes;
        let (going, of) = (plan.going, plan.deletable);
        if going == 0 || limit.allows(going, of) {
            return Ok(());
        }
        Err(Failed::Refused(vec![format!(
            "--max-deletes: {going} of the {of} files under {}/{} that are not content-hashed are gone from {} and would be deleted \
             (at once or after --delete-grace), more than --max-deletes {limit} allows: \
             check DIR and --prefix; if that is right, run again with a larger --max-deletes (100% for any)",
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
        destination: &Destination,
        files: &[LocalFile],
        d: &Decided,
        held: &Held,
        out: &mut Work,
    ) -> anyhow::Result<()> {
        out.published = stages::publish(self.s3, self.bucket, files, &d.plan, self.opts.jobs, self.printer, held).await;
        // Also after a partial failure: what was uploaded is live and stale at
        // the edge. Not once another run holds the lease: its state has this
        // run's pending invalidation, which it sends.
        if held.lost().await || d.batch.is_some() {
            self.still_held(held).await?;
        }
        self.invalidate(clients, destination, d, &mut out.invalidated).await?;
        self.stop_on_failures(&out.published)?;
        out.deleted = self.delete(d, held).await?;
        Ok(())
    }

    /// Stop when another run took over this run's lease while it was
    /// stalled: the lease is checked, not only remembered.
    async fn still_held(&self, held: &Held) -> anyhow::Result<()> {
        match held.confirm().await {
            Ok(()) => Ok(()),
            Err(e) if held.lost().await => Err(Failed::PartWay(format!(
                "{e:#}\nnothing more was uploaded, invalidated or deleted by this run"
            ))
            .into()),
            Err(e) => Err(e),
        }
    }

    /// Invalidate what this run changed; `id` gets the invalidation's id as
    /// soon as CloudFront has it (before waiting for it, with --wait).
    async fn invalidate(
        &self,
        clients: &Clients,
        destination: &Destination,
        d: &Decided,
        id: &mut Option<String>,
    ) -> anyhow::Result<()> {
        let printer = self.printer;
        let (Some(b), Some(dist)) = (&d.batch, &destination.distribution_id) else {
            if destination.distribution_id.is_none() && d.plan.invalidation.is_some() {
                printer.warn(&format!(
                    "stack {} has no distribution yet: nothing to invalidate (run `cdnctl up`)",
                    self.bucket
                ));
            }
            return Ok(());
        };
        let room = printer.on_refusal(
            "invalidation",
            "CloudFront's limits (3,000 paths, 15 wildcards in progress) are full: waiting for room",
        );
        let sent = distribution::invalidate(&clients.cloudfront, dist, &b.paths, &b.reference, self.waiting, room)
            .await
            .map_err(|e| {
                Failed::PartWay(format!(
                    "{e:#}\nthe files are live; the invalidation is kept in {} and sent by the next `cdnctl sync`; nothing was deleted",
                    self.key
                ))
            })?;
        printer.info(&format!(
            "Invalidating {} path{} on {dist} ({sent}); CloudFront's first 1,000 paths a month are free",
            b.paths.len(),
            if b.paths.len() == 1 { "" } else { "s" }
        ));
        *id = Some(sent.clone());
        if self.opts.wait {
            let p = printer.progress("invalidation", &format!("{sent} in progress"));
            transfer::wait_invalidated(&clients.cloudfront, dist, &sent, self.waiting).await?;
            p.finish();
        }
        Ok(())
    }

    /// Files that failed stop the run before any delete.
    fn stop_on_failures(&self, published: &Published) -> anyhow::Result<()> {
        let failures = &published.failures;
        if failures.is_empty() {
            return Ok(());
        }
        Err(Failed::PartWay(format!(
            "{}\n{} file(s) failed; nothing was deleted: run `cdnctl sync` again to finish",
            failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
            failures.len()
        ))
        .into())
    }

    /// Delete what is gone from DIR, unless another run took the lease over
    /// while this one was stalled. Whether anything was deleted.
    async fn delete(&self, d: &Decided, held: &Held) -> anyhow::Result<bool> {
        if d.plan.deletes.is_empty() {
            return Ok(false);
        }
        self.still_held(held).await?;
        transfer::delete(self.s3, self.bucket, &d.plan.deletes, self.opts.jobs).await?;
        Ok(true)
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
