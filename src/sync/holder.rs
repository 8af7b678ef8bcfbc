//! Who holds a prefix: the lease record kept in the prefix's state
//! (`state.rs`), and when it stops protecting its run. Taking, renewing and
//! giving it back are in `lease.rs`.

use serde::{Deserialize, Serialize};

use super::lease::S3Clock;

/// A lease expires this long after its holder last renewed it.
pub const TTL: i64 = 300;

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
    /// By the holder's clock, for people and for earlier versions of cdnctl.
    pub expires: i64,
    /// How long the lease protects its run after the state's last write
    /// (taken or renewed), by S3's clock: what runs judge it by. Leases
    /// written by earlier versions have none, and are judged by `expires`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
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
            ttl: Some(TTL),
        }
    }

    /// Seconds until the lease expires: by S3's clock when the lease has a
    /// `ttl` and the read told S3's times, else by `expires` and `now`.
    pub fn expires_in(&self, now: i64, clock: S3Clock) -> i64 {
        match (self.ttl, clock.written, clock.now) {
            (Some(ttl), Some(written), Some(s3_now)) => written + ttl - s3_now,
            _ => self.expires - now,
        }
    }

    /// Whether `other`'s lease no longer protects a run: expired, or its
    /// holder is known to be gone.
    pub fn is_stale_for(&self, me: &Lease, now: i64, clock: S3Clock) -> bool {
        if self.expires_in(now, clock) <= 0 {
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
    pub fn describe(&self, now: i64, clock: S3Clock) -> String {
        format!(
            "{} (started {} ago; its lease expires in {} unless renewed)",
            self.holder,
            human(now - self.since),
            human(self.expires_in(now, clock))
        )
    }
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
            ttl: None,
        }
    }

    const NO_CLOCK: S3Clock = S3Clock {
        written: None,
        now: None,
    };

    #[test]
    fn a_lease_is_stale_once_expired_or_its_holder_is_known_gone() {
        let me = lease("h", std::process::id(), "pid:[1]", None);
        // Alive elsewhere: not stale until it expires.
        let other = lease("other", 1, "pid:[1]", None);
        assert!(!other.is_stale_for(&me, 200, NO_CLOCK));
        assert!(other.is_stale_for(&me, 100 + TTL, NO_CLOCK));
        // A process of this machine that is gone (pid beyond any pid_max).
        assert!(lease("h", u32::MAX - 1, "pid:[1]", None).is_stale_for(&me, 200, NO_CLOCK));
        // Same host name, another container: its processes are not ours to see.
        assert!(!lease("h", u32::MAX - 1, "pid:[2]", None).is_stale_for(&me, 200, NO_CLOCK));
        // An earlier attempt of the same CI run has ended; a parallel job has not.
        let me = lease("runner", 5, "pid:[1]", Some(("o/r/42", 2)));
        assert!(lease("runner-2", 5, "pid:[1]", Some(("o/r/42", 1))).is_stale_for(&me, 200, NO_CLOCK));
        assert!(!lease("runner-2", 5, "pid:[1]", Some(("o/r/42", 2))).is_stale_for(&me, 200, NO_CLOCK));
        assert!(!lease("runner-2", 5, "pid:[1]", Some(("o/r/43", 1))).is_stale_for(&me, 200, NO_CLOCK));
    }

    #[test]
    fn expiry_goes_by_s3s_clock_whatever_the_runners_clocks_say() {
        let me = lease("h", std::process::id(), "pid:[1]", None);
        let other = Lease {
            ttl: Some(TTL),
            ..lease("other", 1, "pid:[1]", None)
        };
        // The holder's clock was an hour behind: its `expires` says long
        // gone, but S3 last saw it write 10 s ago.
        let s3 = |written, now| S3Clock {
            written: Some(written),
            now: Some(now),
        };
        assert!(!other.is_stale_for(&me, 100 + TTL + 3600, s3(5_000, 5_010)));
        assert_eq!(other.expires_in(0, s3(5_000, 5_010)), TTL - 10);
        // Not renewed for TTL by S3's clock: stale, even if `expires` is ahead.
        assert!(other.is_stale_for(&me, 0, s3(5_000, 5_000 + TTL)));
        // Without S3's times (or a lease of an earlier version), `expires`.
        assert!(other.is_stale_for(&me, 100 + TTL, NO_CLOCK));
    }
}
