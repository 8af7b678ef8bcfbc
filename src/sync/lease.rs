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
//! "Not renewed for TTL" is judged by S3's clock (the state's Last-Modified
//! against the Date of the answer that read it), so that no two runners'
//! clocks need to agree.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use tokio::sync::Mutex;

use super::holder::{Lease, TTL};
use super::state::PrefixState;
use super::stop::Stop;
use crate::aws::{describe, Waiting};
use crate::events::{Events, Status};
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
    let (state, version, warning, _) = read_timed(s3, bucket, key).await?;
    Ok((state, version, warning))
}

/// When the state was last written and what time it is, both by S3's clock
/// (seconds since the epoch), as one answer told them.
#[derive(Debug, Clone, Copy, Default)]
pub struct S3Clock {
    pub written: Option<i64>,
    pub now: Option<i64>,
}

/// The Date header of the answers, S3's time: the earliest seen (of a
/// request and its retries, or of several requests), kept for
/// [`read_timed`] and the listing (`remote::list_ranges_dated`).
#[derive(Debug, Default, Clone)]
pub struct AnswerDate(std::sync::Arc<std::sync::Mutex<Option<i64>>>);

impl AnswerDate {
    /// The earliest Date seen, in seconds since the epoch.
    pub fn earliest(&self) -> Option<i64> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for AnswerDate {
    fn name(&self) -> &'static str {
        "AnswerDate"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let date =
            context.response().headers().get("date").and_then(|d| {
                aws_smithy_types::DateTime::from_str(d, aws_smithy_types::date_time::Format::HttpDate).ok()
            });
        if let Some(date) = date {
            let mut earliest = self.0.lock().unwrap_or_else(|e| e.into_inner());
            *earliest = Some(earliest.map_or(date.secs(), |e| e.min(date.secs())));
        }
        Ok(())
    }
}

/// [`read`], with S3's clock.
async fn read_timed(
    s3: &Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<(PrefixState, Version, Option<String>, S3Clock)> {
    let date = AnswerDate::default();
    let sent = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .customize()
        .interceptor(date.clone())
        .send()
        .await;
    let now = date.earliest();
    let out = match sent {
        Ok(out) => out,
        Err(e) if crate::aws::is_not_found(&e) => {
            return Ok((PrefixState::default(), Version(None), None, S3Clock::default()))
        }
        Err(e) => return Err(describe(format!("{key}: GetObject"), e)),
    };
    let clock = S3Clock {
        written: out.last_modified().map(|t| t.secs()),
        now,
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
    Ok((state, Version(etag.or(Some(String::new()))), warning, clock))
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
/// does not wait: it warns that its plan may change. With the state, S3's
/// clock as its first read told it when that read found no other run's
/// lease (`None` after a wait or a takeover, or in a dry run that found one).
pub async fn unleased(
    s3: &Client,
    bucket: &str,
    key: &str,
    me: &Lease,
    waiting: &Waiting,
    dry_run: bool,
    events: &dyn Events,
) -> anyhow::Result<(PrefixState, Version, Option<S3Clock>)> {
    let start = Instant::now();
    let mut shown: Option<Box<dyn Status>> = None;
    let mut first = true;
    loop {
        let (state, version, warning, clock) = read_timed(s3, bucket, key).await?;
        let now = now();
        let other = state.lease.as_ref().filter(|l| l.token != me.token);
        let settled = (first && other.is_none()).then_some(clock);
        first = false;
        match other {
            Some(l) if !l.is_stale_for(me, now, clock) => {
                let what = format!("another sync is publishing here: {}", l.describe(now, clock));
                if dry_run {
                    events.warn(&format!("{bucket}/{key}: {what}; this plan may change"));
                } else if start.elapsed() >= waiting.timeout {
                    return Err(Stop::Refused(vec![
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
                        None => shown = Some(events.progress("sync", &format!("waiting: {what}"))),
                    }
                    tokio::time::sleep(waiting.every.clamp(Duration::from_millis(100), Duration::from_secs(5))).await;
                    continue;
                }
            }
            Some(l) => events.info(&format!(
                "taking over the lease of a sync that is gone: {}",
                l.describe(now, clock)
            )),
            None => {}
        }
        if let Some(w) = warning {
            events.warn(&w);
        }
        return Ok((state, version, settled));
    }
}

/// How long a lease is known to be this run's after the write that took,
/// renewed or confirmed it was *sent*, without asking S3 again. Another run
/// takes a lease over only once it has not been renewed for [`TTL`]; this
/// window is a small part of that (1/30), so the clocks' rates need not
/// agree closely. Past it (a stage that took long, a stalled or suspended
/// runner), the next stage starts only after one HeadObject has confirmed
/// the lease. At 2 s, a collectstatic deploy's four stages of writes at
/// 500 ms a request crossed it, for one round trip in a row more.
pub const CONFIRMED_FOR: Duration = Duration::from_secs(10);

/// A moment on two clocks. Linux's monotonic clock stops while the machine
/// is suspended and the wall clock may be set back: the time elapsed since
/// is the larger of the two, so neither can make a lease look fresher than
/// it is.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    at: Instant,
    wall: std::time::SystemTime,
}

impl Mark {
    pub fn now() -> Mark {
        Mark {
            at: Instant::now(),
            wall: std::time::SystemTime::now(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.at.elapsed().max(self.wall.elapsed().unwrap_or_default())
    }
}

/// What a held lease knows: the state this run last wrote, its version,
/// whether another run took it over, and when it was last known to be this
/// run's (the sending of the write or read that showed it).
struct Holding {
    state: PrefixState,
    version: Version,
    lost: bool,
    confirmed: Mark,
}

/// A lease this run holds: renewed in the background until released.
pub struct Held {
    shared: Arc<Mutex<Holding>>,
    renewer: tokio::task::JoinHandle<()>,
    s3: Client,
    bucket: String,
    key: String,
}

impl Held {
    /// The lease written as `version`, by a write sent at `sent`.
    pub fn new(s3: &Client, bucket: &str, key: &str, state: PrefixState, version: Version, sent: Mark) -> Held {
        let shared = Arc::new(Mutex::new(Holding {
            state,
            version,
            lost: false,
            confirmed: sent,
        }));
        let renewer = {
            let (shared, s3, bucket, key) = (shared.clone(), s3.clone(), bucket.to_string(), key.to_string());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    let mut guard = shared.lock().await;
                    let h = &mut *guard;
                    if h.lost {
                        return;
                    }
                    let Some(lease) = &mut h.state.lease else { return };
                    lease.expires = now() + TTL;
                    let token = lease.token.clone();
                    let sent = Mark::now();
                    match write_mine(&s3, &bucket, &key, &h.state, &h.version, Some(&token)).await {
                        Ok(Some(v)) => {
                            h.version = v;
                            h.confirmed = sent;
                        }
                        Ok(None) => h.lost = true,
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
        self.shared.lock().await.lost
    }

    /// Make sure the lease is still this run's before its next stage of
    /// writes: a run stalled past [`TTL`] (a suspended laptop, a frozen CI
    /// runner) may have been taken over without its renewer noticing yet.
    /// Within [`CONFIRMED_FOR`] of the last write or read that showed it
    /// this run's, that is known without a request. Past it, one HeadObject
    /// `If-Match` the version this run last wrote; when that differs (a
    /// renewal whose answer was lost, or another run), the state read back
    /// tells whose lease it is.
    pub async fn confirm(&self) -> anyhow::Result<()> {
        let mut guard = self.shared.lock().await;
        let h = &mut *guard;
        if !h.lost {
            if h.confirmed.elapsed() < CONFIRMED_FOR {
                return Ok(());
            }
            let sent = Mark::now();
            if let Some(etag) = h.version.0.as_deref().filter(|e| !e.is_empty()) {
                let head = self.s3.head_object().bucket(&self.bucket).key(&self.key).if_match(etag);
                if head.send().await.is_ok() {
                    h.confirmed = sent;
                    return Ok(());
                }
            }
            let (now, current, _) = read(&self.s3, &self.bucket, &self.key).await?;
            let mine = h.state.lease.as_ref().map(|l| l.token.as_str());
            match now.lease {
                Some(l) if Some(l.token.as_str()) == mine => {
                    h.version = current;
                    h.confirmed = sent;
                    return Ok(());
                }
                _ => h.lost = true,
            }
        }
        Err(anyhow!(
            "{}: another sync took over this run's lease while it was stalled: this run stopped before its next writes; \
             run `cdnctl sync` again once the other has finished",
            self.key
        ))
    }

    /// Give the lease back, writing `finish(state)` as the final state;
    /// that state and its version.
    pub async fn release(self, finish: impl FnOnce(&mut PrefixState)) -> anyhow::Result<(PrefixState, Version)> {
        self.renewer.abort();
        let mut guard = self.shared.lock().await;
        let h = &mut *guard;
        let taken = || {
            anyhow!(
                "{}: another sync took over this run's lease while it was stalled: run `cdnctl sync` again to check the result",
                self.key
            )
        };
        if h.lost {
            return Err(taken());
        }
        finish(&mut h.state);
        let token = h.state.lease.take().map(|l| l.token);
        match write_mine(
            &self.s3,
            &self.bucket,
            &self.key,
            &h.state,
            &h.version,
            token.as_deref(),
        )
        .await?
        {
            Some(version) => Ok((h.state.clone(), version)),
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
