//! `cdnctl check`: the deployed site as a browser sees it, through the CDN.
//!
//! ```text
//! find the stack (read-only): its config, deployment, invalidations in progress
//!    ∥ list the bucket └─> sample objects (HEAD)
//!    └─> (--wait: until Deployed and the invalidations completed, settle.rs)
//!    └─> probes, all at once: DNS, TLS, HTTP/2, redirect, root object,
//!        objects (as browsers ask and uncompressed), cross-origin requests,
//!        security headers, directory URLs, a key that cannot exist
//!          └─> one line per failure: the likely cause and the fix, or what
//!              still in progress may explain it (`explain`)
//! ```
//!
//! Nothing here writes: AWS is only read, and the site only requested.

pub mod http;
pub mod probes;
pub mod settle;
pub mod target;
mod tls;

pub use http::{ConnectTo, Http};

use serde::Serialize;

/// What one probe found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// dns, tls, redirect, root, object, cors, preflight, missing, security,
    /// http2, directory
    pub probe: &'static str,
    /// What was probed: a name, a URL or a path.
    pub target: String,
    pub ok: bool,
    /// For a pass, what was seen; for a failure, the likely cause and the fix.
    pub message: String,
    /// Passed, but something a visitor may meet: its message says what.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    /// A failure that a deployment or an invalidation still in progress may
    /// explain: what is in progress (then not counted as broken).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    /// For a stale copy at the edge: its URL path (an invalidation may cover it).
    #[serde(skip)]
    pub stale: Option<String>,
    /// A failure of what the bucket holds, whatever the edges serve: nothing
    /// in progress explains it.
    #[serde(skip)]
    pub in_bucket: bool,
}

impl Outcome {
    pub fn pass(probe: &'static str, target: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            probe,
            target: target.into(),
            ok: true,
            message: message.into(),
            warning: false,
            pending: None,
            stale: None,
            in_bucket: false,
        }
    }

    pub fn fail(probe: &'static str, target: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            ok: false,
            ..Outcome::pass(probe, target, message)
        }
    }

    pub fn warn(probe: &'static str, target: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            warning: true,
            ..Outcome::pass(probe, target, message)
        }
    }

    /// A failure of what the bucket holds (a wrong Content-Type).
    pub fn in_bucket(probe: &'static str, target: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            in_bucket: true,
            ..Outcome::fail(probe, target, message)
        }
    }

    /// A failure because the edge serves an older copy of `path`.
    pub fn stale(probe: &'static str, target: impl Into<String>, path: &str, message: impl Into<String>) -> Outcome {
        Outcome {
            stale: Some(path.to_string()),
            ..Outcome::fail(probe, target, message)
        }
    }
}

/// The run's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Every failure may come from a deployment or an invalidation in progress.
    Settling,
    Failed,
}

/// Marks the failures that what is still in progress explains: a stale copy
/// under an invalidation in progress; anything but DNS while the
/// distribution deploys (the edges may still serve the previous
/// configuration). Returns the verdict.
pub fn explain(settling: &target::Settling, distribution_id: &str, outcomes: &mut [Outcome]) -> Verdict {
    for o in outcomes.iter_mut().filter(|o| !o.ok) {
        let invalidation = o
            .stale
            .as_deref()
            .and_then(|path| settling.invalidations.iter().find(|i| i.covers(path)));
        if let Some(i) = invalidation {
            o.pending = Some(format!("invalidation {} in progress since {}", i.id, i.since));
            o.message = format!(
                "invalidation {} of distribution {distribution_id}, in progress since {}, covers it: the edges may serve the old copy until it completes; `cdnctl check --wait` waits for it (seen: {})",
                i.id, i.since, o.message
            );
        } else if let (Some(since), false, None, false) =
            (&settling.deploying_since, o.probe == "dns", &o.stale, o.in_bucket)
        {
            o.pending = Some(format!("distribution {distribution_id} deploying since {since}"));
            o.message = format!(
                "distribution {distribution_id} is deploying (since {since}): the edges may still serve the previous configuration; `cdnctl check --wait` waits until it is Deployed (seen: {})",
                o.message
            );
        }
    }
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    if failed.is_empty() {
        Verdict::Passed
    } else if failed.iter().all(|o| o.pending.is_some()) {
        Verdict::Settling
    } else {
        Verdict::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::target::settling::{Pending, Settling};
    use super::*;

    #[test]
    fn what_is_in_progress_explains_only_what_it_can() {
        let settling = Settling {
            deploying_since: None,
            invalidations: vec![Pending {
                id: "I1".into(),
                since: "t".into(),
                paths: vec!["/css/*".into(), "/robots.txt".into()],
            }],
        };
        let mut outcomes = vec![
            Outcome::stale("object", "u", "/css/a.css", "stale"),
            Outcome::stale("object", "u", "/js/a.js", "stale"),
        ];
        assert_eq!(explain(&settling, "E1", &mut outcomes), Verdict::Failed);
        assert!(outcomes[0].pending.is_some() && outcomes[1].pending.is_none());
        let deploying = Settling {
            deploying_since: Some("t".into()),
            invalidations: Vec::new(),
        };
        let mut outcomes = vec![Outcome::fail("redirect", "u", "not redirected")];
        assert_eq!(explain(&deploying, "E1", &mut outcomes), Verdict::Settling);
        assert!(outcomes[0]
            .message
            .starts_with("distribution E1 is deploying (since t)"));
        let mut outcomes = vec![Outcome::fail("dns", "u", "no AAAA"), Outcome::pass("root", "u", "ok")];
        assert_eq!(explain(&deploying, "E1", &mut outcomes), Verdict::Failed);
        let mut outcomes = vec![Outcome::in_bucket("object", "u", "served as text/plain")];
        assert_eq!(explain(&deploying, "E1", &mut outcomes), Verdict::Failed);
    }
}
