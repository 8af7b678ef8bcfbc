//! One writing `sync` per prefix at a time, with S3's conditional writes.
//!
//! The lease lives in the prefix's state object (`state.rs`): a run takes it
//! by writing the state with `If-Match` (the ETag it read) or, for the first
//! run, `If-None-Match: *`; of two runs that read the same state, S3 lets one
//! write and answers the other 412 PreconditionFailed. The holder renews it
//! every minute while it works and gives it back with its final state (again
//! `If-Match`). A lease not renewed for [`TTL`] seconds (its run died) is
//! stale, and so is one held by a process of this host that no longer exists
//! or by an earlier attempt of the same CI run: the next run takes it over.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use tokio::sync::Mutex;

use super::holder::{Lease, TTL};
use super::state::PrefixState;
use crate::aws::{describe, Waiting};
use crate::exit::Failed;
use crate::output::Printer;
use crate::settings::Setting::WaitMinutes;

/// The holder renews it this often.
const RENEW_EVERY: Duration = Duration::from_secs(60);

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// What a conditional write needs: the ETag read, or none if there was no state.
#[derive(Debug, Clone)]
pub struct Version(pub Option<String>);

/// The state and its version (`None`: no state yet). A state that is not
/// cdnctl's JSON is taken as empty, with a warning.
pub async fn read(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<(PrefixState, Version, Option<String>)> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if crate::aws::is_not_found(&e) => return Ok((PrefixState::default(), Version(None), None)),
        Err(e) => return Err(describe(format!("{key}: GetObject"), e)),
    };
    let etag = out.e_tag().map(String::from);
    let body = out.body.collect().await.map_err(|e| anyhow!("{key}: GetObject: {e}"))?;
    let text = String::from_utf8_lossy(&body.into_bytes()).into_owned();
    let (state, warning) = match PrefixState::parse(&text) {
        Ok(s) => (s, None),
        Err(e) => (
            PrefixState::default(),
            Some(format!(
                "{key}: not a state cdnctl can read ({e}): starting afresh (headers are checked once)"
            )),
        ),
    };
    Ok((state, Version(etag.or(Some(String::new()))), warning))
}

/// Write the state only over `version`. `Ok(None)`: someone else wrote it
/// first. A 412 for a write that was applied but whose answer was lost (the
/// SDK's retry then fails its own condition) is recognised by reading the
/// state back: it is exactly what this run wrote (its lease token included).
pub async fn write(
    s3: &Client,
    bucket: &str,
    key: &str,
    state: &PrefixState,
    version: &Version,
) -> anyhow::Result<Option<Version>> {
    if let Some(v) = write_once(s3, bucket, key, state, version).await? {
        return Ok(Some(v));
    }
    let (now, v, _) = read(s3, bucket, key).await?;
    Ok((v.0.is_some() && now == *state).then_some(v))
}

async fn write_once(
    s3: &Client,
    bucket: &str,
    key: &str,
    state: &PrefixState,
    version: &Version,
) -> anyhow::Result<Option<Version>> {
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .cache_control("no-store")
        .body(ByteStream::from(state.to_json().into_bytes()));
    let put = match &version.0 {
        Some(etag) => put.if_match(etag),
        None => put.if_none_match("*"),
    };
    match put.send().await {
        Ok(out) => Ok(Some(Version(out.e_tag().map(String::from).or(Some(String::new()))))),
        // 412: another writer came first; 404 (If-Match): the state was removed;
        // 409: S3 saw a concurrent conditional write (retry after a re-read).
        Err(e) if crate::aws::is_lost_conditional_write(&e) => Ok(None),
        Err(e) => Err(describe(format!("{key}: PutObject"), e)),
    }
}

/// Read the state, waiting while another live run holds its lease (up to
/// `waiting`'s budget, with progress), or taking over a stale one. A dry run
/// does not wait: it warns that its plan may change.
pub async fn unleased(
    s3: &Client,
    bucket: &str,
    key: &str,
    me: &Lease,
    waiting: &Waiting,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<(PrefixState, Version)> {
    let start = Instant::now();
    let mut shown: Option<crate::output::Progress> = None;
    loop {
        let (state, version, warning) = read(s3, bucket, key).await?;
        let now = now();
        match state.lease.as_ref().filter(|l| l.token != me.token) {
            Some(l) if !l.is_stale_for(me, now) => {
                let what = format!("another sync is publishing here: {}", l.describe(now));
                if dry_run {
                    printer.warn(&format!("{bucket}/{key}: {what}; this plan may change"));
                } else if start.elapsed() >= waiting.timeout {
                    return Err(Failed::Refused(vec![
                        format!("{bucket}/{key}: {what}"),
                        format!(
                            "waited {}s for it ({WaitMinutes}): run `cdnctl sync` again once it has finished",
                            start.elapsed().as_secs()
                        ),
                    ])
                    .into());
                } else {
                    match &shown {
                        Some(p) => p.status(&what),
                        None => shown = Some(printer.progress("sync", &format!("waiting: {what}"))),
                    }
                    tokio::time::sleep(waiting.every.clamp(Duration::from_millis(100), Duration::from_secs(5))).await;
                    continue;
                }
            }
            Some(l) => printer.info(&format!(
                "taking over the lease of a sync that is gone: {}",
                l.describe(now)
            )),
            None => {}
        }
        if let Some(w) = warning {
            printer.warn(&w);
        }
        return Ok((state, version));
    }
}

/// A lease this run holds: renewed in the background until released.
pub struct Held {
    shared: Arc<Mutex<(PrefixState, Version, bool)>>,
    renewer: tokio::task::JoinHandle<()>,
    s3: Client,
    bucket: String,
    key: String,
}

impl Held {
    pub fn new(s3: &Client, bucket: &str, key: &str, state: PrefixState, version: Version) -> Held {
        let shared = Arc::new(Mutex::new((state, version, false)));
        let renewer = {
            let (shared, s3, bucket, key) = (shared.clone(), s3.clone(), bucket.to_string(), key.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    let mut guard = shared.lock().await;
                    let (state, version, lost) = &mut *guard;
                    if *lost {
                        return;
                    }
                    let Some(lease) = &mut state.lease else { return };
                    lease.expires = now() + TTL;
                    let token = lease.token.clone();
                    match write_mine(&s3, &bucket, &key, state, version, Some(&token)).await {
                        Ok(Some(v)) => *version = v,
                        Ok(None) => *lost = true,
                        Err(e) => tracing::warn!("{key}: renewing the lease: {e:#}"),
                    }
                }
            })
        };
        Held {
            shared,
            renewer,
            s3: s3.clone(),
            bucket: bucket.to_string(),
            key: key.to_string(),
        }
    }

    /// Whether another run took the lease over (this one was stalled past [`TTL`]).
    pub async fn lost(&self) -> bool {
        self.shared.lock().await.2
    }

    /// Make sure the lease is still this run's before its next stage of
    /// writes: a run stalled past [`TTL`] (a suspended laptop, a frozen CI
    /// runner) may have been taken over without its renewer noticing yet.
    /// One HeadObject `If-Match` the version this run last wrote; when that
    /// differs (a renewal whose answer was lost, or another run), the state
    /// read back tells whose lease it is.
    pub async fn confirm(&self) -> anyhow::Result<()> {
        let mut guard = self.shared.lock().await;
        let (state, version, lost) = &mut *guard;
        if !*lost {
            if let Some(etag) = version.0.as_deref().filter(|e| !e.is_empty()) {
                let head = self.s3.head_object().bucket(&self.bucket).key(&self.key).if_match(etag);
                if head.send().await.is_ok() {
                    return Ok(());
                }
            }
            let (now, current, _) = read(&self.s3, &self.bucket, &self.key).await?;
            let mine = state.lease.as_ref().map(|l| l.token.as_str());
            match now.lease {
                Some(l) if Some(l.token.as_str()) == mine => {
                    *version = current;
                    return Ok(());
                }
                _ => *lost = true,
            }
        }
        Err(anyhow!(
            "{}: another sync took over this run's lease while it was stalled: this run stopped before its next writes; \
             run `cdnctl sync` again once the other has finished",
            self.key
        ))
    }

    /// Give the lease back, writing `finish(state)` as the final state.
    pub async fn release(self, finish: impl FnOnce(&mut PrefixState)) -> anyhow::Result<()> {
        self.renewer.abort();
        let mut guard = self.shared.lock().await;
        let (state, version, lost) = &mut *guard;
        let taken = || {
            anyhow!(
                "{}: another sync took over this run's lease while it was stalled: run `cdnctl sync` again to check the result",
                self.key
            )
        };
        if *lost {
            return Err(taken());
        }
        finish(state);
        let token = state.lease.take().map(|l| l.token);
        match write_mine(&self.s3, &self.bucket, &self.key, state, version, token.as_deref()).await? {
            Some(_) => Ok(()),
            None => Err(taken()),
        }
    }
}

/// `write`, also over a version this run wrote itself without learning its
/// ETag (a renewal cut short): the lease read back is still `token`'s.
async fn write_mine(
    s3: &Client,
    bucket: &str,
    key: &str,
    state: &PrefixState,
    version: &Version,
    token: Option<&str>,
) -> anyhow::Result<Option<Version>> {
    if let Some(v) = write(s3, bucket, key, state, version).await? {
        return Ok(Some(v));
    }
    let (now, current, _) = read(s3, bucket, key).await?;
    match now.lease {
        Some(l) if Some(l.token.as_str()) == token => write(s3, bucket, key, state, &current).await,
        _ => Ok(None),
    }
}
