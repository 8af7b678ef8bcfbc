//! The run of `sync DIR`: publish a directory to the stack's bucket, only
//! what changed, in an order safe for rolling deploys, then invalidate what
//! CloudFront holds stale, then delete what is gone; one writing run per
//! prefix at a time (a lease in the prefix's state, `lease.rs`).
//!
//! Round trips, in order (each a set of requests sent at once):
//! 1. the state ∥ the listing, in ranges cut where DIR's keys are, listed
//!    at once ∥ the stack's bucket and its policy (unless known); the
//!    listing goes again after the state only when it could miss a write
//!    of a run that gave its lease back moments before (`look_early`);
//! 2. the tags of the distribution the policy names, while the listing's
//!    pages are served (when it is not the stack's, the distributions are
//!    listed, then their tags read: `destination.rs`);
//! 3. the lease, with the invalidation this run owes;
//! 4. the stages of writes that have files (`stages.rs`), pages last: for
//!    a collectstatic change, the new hashed copies, then the rest with
//!    staticfiles.json;
//! 5. the invalidation ∥ the record, which gives the lease back.
//!
//! Progress goes to [`Events`]; the outcome and the reasons to stop come
//! back as values ([`Outcome`], [`Stop`]) for the command layer to render.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;

use super::decide::{self, Decided};
use super::destination::{self, Destination};
use super::diff::Publish;
use super::holder::{self, Lease};
use super::lease::{self, Held, Mark, Version};
use super::listing::RemoteObject;
use super::remote;
use super::scan::{self, LocalFile};
use super::stages::{self, Published};
use super::state::{Pending, PrefixState};
use super::stop::Stop;
use super::{hidden, report, rules, transfer, SyncOptions};

mod ending;
mod look;
use crate::aws::{Clients, Waiting};
use crate::events::Events;
use crate::resources::distribution;
use crate::spec::Spec;

/// How often to read the state again when another run changed it between
/// this run's read and its write.
const RACES: usize = 10;

/// How long after the state's last write (S3's clock, whole seconds) a
/// listing sent with the state's read must have been served to be kept
/// (`Sync::look_early`): the two clocks' truncation to seconds, the write's
/// own duration and the page's, with room to spare. A run that gave its
/// lease back less long ago costs one more round trip, not a stale listing.
const LISTED_AFTER: i64 = 5;

/// What a run ends with.
pub enum Outcome {
    /// `--dry-run`: what it would do, and whether that changes anything.
    DryRun { report: report::DryRun, changes: bool },
    /// Published (or nothing to publish): the figures, the prefix's
    /// objects as they now are (the listing with this run's writes), and
    /// the text of its manifests (`rules::is_manifest`), read from DIR:
    /// each the very content the bucket holds.
    Synced {
        report: report::Synced,
        objects: BTreeMap<String, RemoteObject>,
        manifests: BTreeMap<String, String>,
    },
}

/// One run of the pipeline, for one prefix.
pub struct Sync<'a> {
    clients: &'a Clients,
    spec: &'a Spec,
    /// Sends Content-MD5 with every upload (`Clients::uploading_s3`).
    s3: aws_sdk_s3::Client,
    bucket: &'a str,
    /// The prefix's state object.
    key: String,
    opts: &'a SyncOptions,
    waiting: &'a Waiting,
    events: &'a dyn Events,
    me: Lease,
}

/// The state (no other run holding it) and a listing that shows every write
/// of a run that released its lease before the read: listed after it, or
/// with it when that run is long finished (`Sync::look_early`).
pub struct Seen {
    state: PrefixState,
    version: Version,
    objects: BTreeMap<String, RemoteObject>,
    pages: usize,
}

enum Taken {
    /// The lease, with the pending invalidation noted: go ahead.
    Held(Box<Claimed>),
    /// Nothing more to do: a dry run, or nothing to publish and the record
    /// up to date.
    Done(Box<Outcome>),
}

/// What the pipeline starts from: where to publish, the local files, and
/// the state and listing (an error there waits for the diff, which reads
/// them again after a race).
struct Gathered {
    destination: Destination,
    files: Vec<LocalFile>,
    seen: anyhow::Result<Seen>,
}

/// DIR's scan under way ([`Sync::scan_ahead`]): its result, and DIR's keys
/// as soon as it has walked DIR, before hashing (for the listing's ranges).
pub struct Scanning {
    task: tokio::task::JoinHandle<anyhow::Result<scan::Scan>>,
    walked: tokio::sync::watch::Receiver<Option<std::sync::Arc<Vec<String>>>>,
}

impl Scanning {
    /// DIR's keys, once walked; none if the walk failed (the scan's error
    /// then stops the run).
    pub async fn keys(&self) -> std::sync::Arc<Vec<String>> {
        let mut walked = self.walked.clone();
        let keys = match walked.wait_for(Option::is_some).await {
            Ok(keys) => keys.clone().unwrap_or_default(),
            Err(_) => Default::default(),
        };
        keys
    }
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

/// cdnctl's own keys under the prefix (its state): never synced nor deleted.
fn reserved(opts: &SyncOptions) -> String {
    format!("{}.cdnctl/", opts.prefix)
}

impl<'a> Sync<'a> {
    pub fn new(
        clients: &'a Clients,
        spec: &'a Spec,
        waiting: &'a Waiting,
        opts: &'a SyncOptions,
        events: &'a dyn Events,
    ) -> Sync<'a> {
        Sync {
            clients,
            spec,
            s3: clients.uploading_s3(),
            bucket: spec.bucket.as_str(),
            key: format!("{}state.json", reserved(opts)),
            opts,
            waiting,
            events,
            me: Lease::mine(lease::now()),
        }
    }

    /// The pipeline: scan ∥ find the destination ∥ read the state and list →
    /// diff, and take the lease → transfer → invalidate ∥ record → delete.
    /// `destination` and `seen`, when the caller already has them (`deploy`
    /// observed the stack and read ahead), save their requests; `scanned`
    /// (from [`Sync::scan_ahead`]) is DIR's scan, started earlier.
    pub async fn run(
        &self,
        destination: Option<Destination>,
        seen: Option<anyhow::Result<Seen>>,
        scanned: Option<Scanning>,
    ) -> anyhow::Result<Outcome> {
        let Gathered {
            destination,
            files,
            seen,
        } = self.gather(destination, seen, scanned).await?;
        let Claimed { seen, decided, held } = match self.diff_and_take(&destination, &files, seen).await? {
            Taken::Held(claimed) => *claimed,
            Taken::Done(outcome) => return Ok(*outcome),
        };
        let work = self.publish(&destination, &files, &decided, held).await?;
        Ok(self.synced(
            &destination,
            &files,
            &seen,
            &decided,
            &work.published,
            work.invalidated.as_deref(),
        ))
    }

    /// DIR's walk and hashing, started now on a thread of its own: for a
    /// caller (`deploy`) with other work to do first, while the disk and a
    /// core are idle.
    pub fn scan_ahead(&self) -> Scanning {
        let opts = self.opts;
        let (keys, walked) = tokio::sync::watch::channel(None);
        let (dir, prefix, rules, reserved, follow, hidden) = (
            opts.dir.clone(),
            opts.prefix.clone(),
            opts.rules.clone(),
            reserved(opts),
            opts.follow_links,
            opts.include_hidden,
        );
        let task = tokio::task::spawn_blocking(move || {
            scan::scan(&dir, &prefix, &rules, &reserved, follow, hidden, |k| {
                let _ = keys.send(Some(std::sync::Arc::new(k)));
            })
        });
        Scanning { task, walked }
    }

    /// The local scan ∥ the destination ∥ the state then the listing, all at
    /// once. The listing's error waits: the diff reads it again on a race.
    async fn gather(
        &self,
        known: Option<Destination>,
        seen: Option<anyhow::Result<Seen>>,
        scanned: Option<Scanning>,
    ) -> anyhow::Result<Gathered> {
        let opts = self.opts;
        let scanning = scanned.unwrap_or_else(|| self.scan_ahead());
        let destination = async {
            match known {
                Some(d) => Ok(d),
                None => destination::find_destination(self.clients, self.spec, self.waiting).await,
            }
        };
        let seen = async {
            match seen {
                Some(seen) => seen,
                None => self.look_early(&scanning).await,
            }
        };
        // The state's read and the listing first: the listing is the
        // longest request of the round.
        let (seen, destination) = tokio::join!(seen, destination);
        let destination = destination?;
        let local = scanning.task.await.map_err(|e| anyhow!("scan: {e}"))??;
        for w in &local.warnings {
            self.events.warn(w);
        }
        let mut local = local;
        if let Ok(s) = &seen {
            self.leave_nested(&mut local.files, &s.objects);
        }
        if local.files.is_empty() && !(opts.delete && opts.max_deletes.is_unlimited()) {
            return Err(Stop::Refused(vec![format!(
                "DIR: {} holds no files to publish (did the build or collectstatic run?)",
                opts.dir.display()
            )])
            .into());
        }
        if let Some(why) = not_found_missing(self.spec, opts, &local.files) {
            return Err(Stop::Refused(vec![why]).into());
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
            self.events.warn(&format!(
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
                return Ok(Taken::Done(Box::new(self.dry_run(files, &d))));
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
                    return Ok(Taken::Done(Box::new(self.synced(
                        destination,
                        files,
                        &s,
                        &d,
                        &Published::default(),
                        None,
                    ))));
                }
                Attempt::Raced if attempt == RACES => break,
                Attempt::Raced => {}
            }
            self.events
                .info("another sync changed this prefix meanwhile: reading it again");
            seen = self.look().await;
        }
        Err(Stop::Refused(vec![format!(
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
        self.events.info(&format!(
            "{n} object(s) under {}/{} not published by cdnctl here{nested}: left alone{remedy}",
            self.bucket, self.opts.prefix
        ));
        for key in plan.unpublished.iter().take(10) {
            tracing::info!("  left alone: {key}");
        }
    }

    /// The dry run's report, and whether anything would change.
    fn dry_run(&self, files: &[LocalFile], d: &Decided) -> Outcome {
        Outcome::DryRun {
            report: report::DryRun::new(files, &d.plan, d.batch.as_ref(), self.bucket, &self.opts.prefix),
            changes: d.plan.has_writes() || d.batch.is_some(),
        }
    }

    /// Transfer, invalidate, delete; then give the lease back with what this
    /// run achieved, whatever happened. When every file went up and nothing
    /// is to be deleted, the invalidation and the record go at once (see
    /// [`Sync::invalidate_and_release`]).
    async fn publish(
        &self,
        destination: &Destination,
        files: &[LocalFile],
        d: &Decided,
        held: Held,
    ) -> anyhow::Result<Work> {
        let mut work = Work {
            published: stages::publish(
                &self.s3,
                self.bucket,
                files,
                &d.plan,
                self.opts.jobs,
                self.events,
                &held,
            )
            .await,
            ..Work::default()
        };
        let result = if work.published.failures.is_empty() && d.plan.deletes.is_empty() && !self.opts.wait {
            match self.still_held_for(&held, d).await {
                Ok(()) => {
                    self.invalidate_and_release(destination, d, held, &mut work).await?;
                    return Ok(work);
                }
                Err(e) => Err(e),
            }
        } else {
            self.finish(destination, d, &held, &mut work).await
        };
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
            let now = lease::now();
            next.lease = Some(Lease {
                since: now,
                expires: now + holder::TTL,
                ..self.me.clone()
            });
        }
        let sent = Mark::now();
        Ok(
            match lease::write(&self.s3, self.bucket, &self.key, &next, &seen.version).await? {
                None => Attempt::Raced,
                Some(_) if idle => Attempt::Recorded,
                Some(version) => Attempt::Held(Held::new(&self.s3, self.bucket, &self.key, next, version, sent)),
            },
        )
    }

    async fn decide(&self, files: &[LocalFile], seen: &Seen) -> anyhow::Result<Decided> {
        let place = decide::Place {
            s3: &self.s3,
            bucket: self.bucket,
            opts: self.opts,
            holder: &self.me.holder,
            events: self.events,
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
        Err(Stop::Refused(vec![format!(
            "--max-deletes: {going} of the {of} files under {}/{} that are not content-hashed are gone from {} and would be deleted \
             (at once or after --delete-grace), more than --max-deletes {limit} allows: \
             check DIR and --prefix; if that is right, run again with a larger --max-deletes (100% for any)",
            self.bucket,
            self.opts.prefix,
            self.opts.dir.display(),
        )])
        .into())
    }
}

/// `Setting::NotFound` names a page of the site: a sync of the whole site
/// (no prefix) whose DIR lacks it is refused before any write, since every
/// missing path would then get S3's error (or a page left from an older
/// build) instead of the site's 404 page. A sync of a prefix publishes part
/// of the site, and the page may be another part's.
pub fn not_found_missing(spec: &Spec, opts: &SyncOptions, files: &[LocalFile]) -> Option<String> {
    let page = spec.not_found.as_deref()?;
    let rel = page.trim_start_matches('/');
    (opts.prefix.is_empty() && !files.iter().any(|f| f.rel == rel)).then(|| not_in_dir(page, opts))
}

/// The same, from the file system alone: for `deploy` to refuse before
/// `up` writes anything (the scan then decides as above).
pub fn not_found_absent(spec: &Spec, opts: &SyncOptions) -> Option<String> {
    let page = spec.not_found.as_deref()?;
    let path = opts.dir.join(page.trim_start_matches('/'));
    (opts.prefix.is_empty() && !path.is_file()).then(|| not_in_dir(page, opts))
}

fn not_in_dir(page: &str, opts: &SyncOptions) -> String {
    let setting = crate::settings::Setting::NotFound;
    format!(
        "{setting}: {page} is not in DIR ({}): build the site's 404 page there, or unset {setting}",
        opts.dir.display()
    )
}
