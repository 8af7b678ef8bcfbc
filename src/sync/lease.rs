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
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::state::State;
use crate::aws::{describe, Waiting};
use crate::output::Printer;

/// A lease expires this long after its holder last renewed it.
pub const TTL: i64 = 300;
/// The holder renews it this often.
const RENEW_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// For people: the CI run, or user@host and pid.
    pub holder: String,
    pub token: String,
    pub host: String,
    pub pid: u32,
    /// The process-id namespace (Linux): containers sharing a host name do
    /// not see each other's processes.
    #[serde(default)]
    pub pid_ns: Option<String>,
    /// `REPOSITORY/RUN_ID` and attempt, on GitHub Actions.
    #[serde(default)]
    pub ci_run: Option<String>,
    #[serde(default)]
    pub attempt: u32,
    pub since: i64,
    pub expires: i64,
}

impl Lease {
    /// This process's lease, from `now` for [`TTL`].
    pub fn mine(now: i64) -> Lease {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let host = var("HOSTNAME")
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown host".into());
        let pid = std::process::id();
        let ci_run = var("GITHUB_RUN_ID").map(|id| format!("{}/{id}", var("GITHUB_REPOSITORY").unwrap_or_default()));
        let attempt = var("GITHUB_RUN_ATTEMPT").and_then(|a| a.parse().ok()).unwrap_or(0);
        let holder = match &ci_run {
            Some(run) => format!(
                "GitHub Actions run {run} (attempt {attempt}{}) on {host}",
                var("GITHUB_JOB").map(|j| format!(", job {j}")).unwrap_or_default()
            ),
            None => format!(
                "{}@{host} (pid {pid})",
                var("USER")
                    .or_else(|| var("USERNAME"))
                    .unwrap_or_else(|| "someone".into())
            ),
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Lease {
            holder,
            token: format!("{host}-{pid}-{nanos}"),
            host,
            pid,
            pid_ns: pid_namespace(),
            ci_run,
            attempt,
            since: now,
            expires: now + TTL,
        }
    }

    /// Whether `other`'s lease no longer protects a run: expired, or its
    /// holder is known to be gone.
    pub fn is_stale_for(&self, me: &Lease, now: i64) -> bool {
        if self.expires <= now {
            return true;
        }
        if self.ci_run.is_some() && self.ci_run == me.ci_run && self.attempt < me.attempt {
            return true; // a re-run starts only once the earlier attempt ended
        }
        // A process of this very machine (same host name and process
        // namespace) that no longer exists.
        self.host == me.host
            && self.pid_ns.is_some()
            && self.pid_ns == me.pid_ns
            && self.pid != me.pid
            && !std::path::Path::new("/proc").join(self.pid.to_string()).exists()
    }

    /// "GitHub Actions run … (since 42s, expires in 4m18s)".
    pub fn describe(&self, now: i64) -> String {
        format!(
            "{} (started {} ago; its lease expires in {} unless renewed)",
            self.holder,
            human(now - self.since),
            human(self.expires - now)
        )
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Linux only (`/proc`); elsewhere a lease of a dead process expires with [`TTL`].
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

fn human(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// What a conditional write needs: the ETag read, or none if there was no state.
#[derive(Debug, Clone)]
pub struct Version(pub Option<String>);

/// The state and its version (`None`: no state yet). A state that is not
/// cdnctl's JSON is taken as empty, with a warning.
pub async fn read(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<(State, Version, Option<String>)> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if crate::aws::is_not_found(&e) => return Ok((State::default(), Version(None), None)),
        Err(e) => return Err(describe(format!("{key}: GetObject"), e)),
    };
    let etag = out.e_tag().map(String::from);
    let body = out.body.collect().await.map_err(|e| anyhow!("{key}: GetObject: {e}"))?;
    let text = String::from_utf8_lossy(&body.into_bytes()).into_owned();
    let (state, warning) = match State::parse(&text) {
        Ok(s) => (s, None),
        Err(e) => (
            State::default(),
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
    state: &State,
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
    state: &State,
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
) -> anyhow::Result<(State, Version)> {
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
                    anyhow::bail!(
                        "{bucket}/{key}: {what}\nwaited {}s for it (CDN_WAIT_MINUTES); nothing was changed: run `cdnctl sync` again once it has finished",
                        start.elapsed().as_secs()
                    );
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
    shared: Arc<Mutex<(State, Version, bool)>>,
    renewer: tokio::task::JoinHandle<()>,
    s3: Client,
    bucket: String,
    key: String,
}

impl Held {
    pub fn new(s3: &Client, bucket: &str, key: &str, state: State, version: Version) -> Held {
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

    /// Give the lease back, writing `finish(state)` as the final state.
    pub async fn release(self, finish: impl FnOnce(&mut State)) -> anyhow::Result<()> {
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
    state: &State,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(host: &str, pid: u32, ns: &str, ci: Option<(&str, u32)>) -> Lease {
        Lease {
            holder: "someone".into(),
            token: format!("{host}-{pid}"),
            host: host.into(),
            pid,
            pid_ns: Some(ns.into()),
            ci_run: ci.map(|(r, _)| r.to_string()),
            attempt: ci.map(|(_, a)| a).unwrap_or(0),
            since: 100,
            expires: 100 + TTL,
        }
    }

    #[test]
    fn a_lease_is_stale_once_expired_or_its_holder_is_known_gone() {
        let me = lease("h", std::process::id(), "pid:[1]", None);
        // Alive elsewhere: not stale until it expires.
        let other = lease("other", 1, "pid:[1]", None);
        assert!(!other.is_stale_for(&me, 200));
        assert!(other.is_stale_for(&me, 100 + TTL));
        // A process of this machine that is gone (pid beyond any pid_max).
        assert!(lease("h", u32::MAX - 1, "pid:[1]", None).is_stale_for(&me, 200));
        // Same host name, another container: its processes are not ours to see.
        assert!(!lease("h", u32::MAX - 1, "pid:[2]", None).is_stale_for(&me, 200));
        // An earlier attempt of the same CI run has ended; a parallel job has not.
        let me = lease("runner", 5, "pid:[1]", Some(("o/r/42", 2)));
        assert!(lease("runner-2", 5, "pid:[1]", Some(("o/r/42", 1))).is_stale_for(&me, 200));
        assert!(!lease("runner-2", 5, "pid:[1]", Some(("o/r/42", 2))).is_stale_for(&me, 200));
        assert!(!lease("runner-2", 5, "pid:[1]", Some(("o/r/43", 1))).is_stale_for(&me, 200));
    }
}
