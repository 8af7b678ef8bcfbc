//! A prefix's own record, `PREFIX.cdnctl/state.json`, kept beside the files
//! it describes (the bucket policy keeps CloudFront from serving `.cdnctl/`):
//!
//! - the fingerprint of the header rules its objects were last checked
//!   against (one per prefix, so a rules change corrects every prefix);
//! - the invalidation a run has yet to send (a run interrupted after its
//!   uploads leaves it, and the next run sends it with the same reference);
//! - the keys this prefix's syncs published (relative to the prefix): the
//!   only ones `--delete` may remove, so that it never removes what another
//!   tool or the app put beside them;
//! - the last deploys, and when a run first found each published file gone
//!   from DIR, so that re-runs never shorten its grace;
//! - the lease of the run that is writing (see `lease.rs`).
//!
//! Pure: reading and writing it is `lease.rs`'s job.

use std::collections::{BTreeMap, BTreeSet};

use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};

use super::invalidation::{collapse, Batch};
use super::scan::{hex, LocalFile};

/// Deploys remembered at most (the `--keep-deploys` setting is at most this).
pub const MAX_DEPLOYS: usize = 100;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixState {
    /// The header rules' fingerprint the prefix's objects were last checked against.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// The invalidation of a run that has not (surely) been sent yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Newest first.
    #[serde(default)]
    pub deploys: Vec<Deploy>,
    /// Published keys no longer in DIR, and since when.
    #[serde(default)]
    pub superseded: BTreeMap<String, Superseded>,
    /// The keys this prefix's syncs published that are still in the bucket,
    /// relative to the prefix. A state written before this was recorded has
    /// none: a key counts as published once a sync finds it in DIR.
    #[serde(default, with = "by_directory")]
    pub published: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<super::holder::Lease>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub paths: Vec<String>,
    pub reference: String,
}

/// One deploy: a tree with its own content-hashed files and manifests.
/// Re-runs of the same tree are the same deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    pub seq: u64,
    pub id: String,
    /// When it was first published (seconds since the epoch).
    pub at: i64,
    /// Who published it (the run, as the lease names it).
    pub by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Superseded {
    /// When a run first found the key gone from DIR.
    pub at: i64,
    /// That deploy's `seq`: every deploy before it named the key.
    pub deploy: u64,
    /// Content-hashed (by its name or a deployed manifest): the last deploys
    /// protect it. Records written before other files had one were all hashed.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub hashed: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

impl PrefixState {
    pub fn parse(text: &str) -> Result<PrefixState, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Compact: it is read and written on every run, and may name thousands of keys.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("serializable")
    }

    fn current(&self) -> u64 {
        self.deploys.first().map(|d| d.seq).unwrap_or(0)
    }

    /// Record this run's deploy, unless it re-runs the newest one (a CI
    /// retry, a second run of the same build): re-runs never push older
    /// deploys out of the window.
    pub fn advance(&mut self, id: &str, now: i64, by: &str) {
        if self.deploys.first().is_some_and(|d| d.id == id) {
            return;
        }
        let seq = self.current() + 1;
        self.deploys.insert(
            0,
            Deploy {
                seq,
                id: id.to_string(),
                at: now,
                by: by.to_string(),
            },
        );
        self.deploys.truncate(MAX_DEPLOYS);
    }

    /// Note the published keys gone from DIR (`gone`, with whether each is
    /// content-hashed), keeping the time of the first run that found each
    /// gone; forget keys that are in DIR again, no longer `listed` (deleted
    /// by someone) or that this prefix did not publish.
    pub fn supersede<'a>(
        &mut self,
        gone: impl IntoIterator<Item = (&'a str, bool)>,
        local: &BTreeSet<&str>,
        prefix: &str,
        listed: impl Fn(&str) -> bool,
        now: i64,
    ) {
        let published = &self.published;
        self.superseded.retain(|k, _| {
            !local.contains(k.as_str()) && listed(k) && k.strip_prefix(prefix).is_some_and(|r| published.contains(r))
        });
        let deploy = self.current();
        for (key, hashed) in gone {
            self.superseded.entry(key.to_string()).or_insert(Superseded {
                at: now,
                deploy,
                hashed,
            });
        }
    }

    /// Record what this run publishes (`local`, full keys under `prefix`)
    /// and forget published keys the bucket no longer holds.
    pub fn publish<'a>(
        &mut self,
        prefix: &str,
        local: impl IntoIterator<Item = &'a str>,
        listed: impl Fn(&str) -> bool,
    ) {
        self.published.retain(|rel| listed(&format!("{prefix}{rel}")));
        self.published.extend(
            local
                .into_iter()
                .filter_map(|k| k.strip_prefix(prefix))
                .map(str::to_string),
        );
    }

    /// Whether a sync of `prefix` published `key` (a full key).
    pub fn is_published(&self, prefix: &str, key: &str) -> bool {
        key.strip_prefix(prefix).is_some_and(|rel| self.published.contains(rel))
    }

    /// Forget keys this run deleted.
    pub fn deleted<'a>(&mut self, prefix: &str, keys: impl IntoIterator<Item = &'a String>) {
        for key in keys {
            self.superseded.remove(key);
            if let Some(rel) = key.strip_prefix(prefix) {
                self.published.remove(rel);
            }
        }
    }

    /// The superseded keys that one of the last `keep` deploys (this one
    /// included) still names: the running app may be any of them.
    pub fn protected(&self, keep: usize) -> BTreeSet<String> {
        let current = self.current();
        self.superseded
            .iter()
            // Superseded by deploy s: deploys up to s-1 named it.
            .filter(|(_, s)| s.hashed && s.deploy + (keep as u64) > current + 1)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// When each superseded key was first found gone, and whether it is hashed.
    pub fn since(&self) -> BTreeMap<String, (i64, bool)> {
        self.superseded
            .iter()
            .map(|(k, s)| (k.clone(), (s.at, s.hashed)))
            .collect()
    }

    /// The same record but for the lease.
    pub fn same_record(&self, other: &PrefixState) -> bool {
        PrefixState {
            lease: None,
            ..self.clone()
        } == PrefixState {
            lease: None,
            ..other.clone()
        }
    }
}

/// This run's invalidation and an interrupted run's, as one batch.
pub fn with_pending(batch: Option<Batch>, pending: Option<Pending>) -> Option<Batch> {
    match (batch, pending) {
        (b, None) => b,
        (None, Some(p)) => Some(Batch::resumed(p.paths, p.reference)),
        (Some(b), Some(p)) => Some(Batch {
            reference: format!(
                "{}-{}",
                &b.reference[..b.reference.len().min(60)],
                &p.reference[p.reference.len().saturating_sub(60)..]
            ),
            changed: b.changed + p.paths.len(),
            paths: collapse(b.paths.into_iter().chain(p.paths).collect()),
        }),
    }
}

/// A deploy's identity: its content-hashed files and manifests with their
/// content. Changing only an unhashed file (a page, robots.txt) is not a new
/// deploy of the app's assets.
pub fn deploy_id(files: &[LocalFile]) -> String {
    let mut named: Vec<(&str, String)> = files
        .iter()
        .filter(|f| f.hashed || f.manifest)
        .map(|f| (f.key.as_str(), f.etag()))
        .collect();
    named.sort();
    let mut digest = Md5::new();
    for (key, etag) in named {
        digest.update(key.as_bytes());
        digest.update([0]);
        digest.update(etag.as_bytes());
        digest.update([0]);
    }
    hex(&digest.finalize())
}

/// The published keys, grouped by directory (`{"assets/": ["a.js", …]}`):
/// each directory is written once, however many files it holds.
mod by_directory {
    use std::collections::{BTreeMap, BTreeSet};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(keys: &BTreeSet<String>, s: S) -> Result<S::Ok, S::Error> {
        let mut dirs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for key in keys {
            let (dir, name) = key.rsplit_once('/').map_or(("", key.as_str()), |(d, n)| (d, n));
            dirs.entry(dir).or_default().push(name);
        }
        s.collect_map(dirs)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeSet<String>, D::Error> {
        let dirs = BTreeMap::<String, Vec<String>>::deserialize(d)?;
        Ok(dirs
            .into_iter()
            .flat_map(|(dir, names)| {
                names.into_iter().map(move |n| match dir.as_str() {
                    "" => n,
                    dir => format!("{dir}/{n}"),
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone_after(state: &mut PrefixState, id: &str, now: i64, gone: &[&str]) {
        state.advance(id, now, "test");
        state.published.extend(gone.iter().map(|k| k.to_string()));
        state.supersede(gone.iter().map(|k| (*k, true)), &BTreeSet::new(), "", |_| true, now);
    }

    #[test]
    fn the_last_deploys_keep_their_files_whatever_the_reruns() {
        let mut s = PrefixState::default();
        gone_after(&mut s, "A", 100, &[]);
        // B drops A's asset: named by A, the previous deploy.
        gone_after(&mut s, "B", 200, &["a.111.js"]);
        assert!(s.protected(2).contains("a.111.js"));
        // Any number of re-runs of B: still protected, still superseded at 200.
        for t in [300, 400, 500] {
            gone_after(&mut s, "B", t, &["a.111.js"]);
            assert!(s.protected(2).contains("a.111.js"));
        }
        assert_eq!(s.since()["a.111.js"], (200, true));
        assert_eq!(s.deploys.len(), 2);
        // C: A is now two deploys back; N=2 lets it go, N=3 keeps it.
        gone_after(&mut s, "C", 600, &["a.111.js"]);
        assert!(!s.protected(2).contains("a.111.js"));
        assert!(s.protected(3).contains("a.111.js"));
        assert_eq!(s.since()["a.111.js"], (200, true));
    }

    #[test]
    fn republished_or_vanished_keys_are_forgotten() {
        let mut s = PrefixState::default();
        gone_after(&mut s, "A", 100, &["x.111.js", "y.222.js"]);
        let published: BTreeSet<&str> = ["x.111.js"].into();
        s.supersede(std::iter::empty(), &published, "", |k| k != "y.222.js", 200);
        assert!(s.superseded.is_empty(), "{s:?}");
        // Only hashed files are protected by the last deploys; every file has its grace.
        gone_after(&mut s, "B", 300, &["x.111.js"]);
        s.published.insert("page.html".into());
        s.supersede([("page.html", false)], &BTreeSet::new(), "", |_| true, 300);
        assert_eq!(s.since()["page.html"], (300, false));
        assert_eq!(s.protected(3), ["x.111.js".to_string()].into());
        s.superseded.clear();
        assert!(s.superseded.is_empty(), "{s:?}");
    }

    #[test]
    fn a_record_round_trips_and_old_fields_may_be_missing() {
        let mut s = PrefixState::default();
        gone_after(&mut s, "A", 100, &["x.111.js"]);
        s.fingerprint = Some("f".into());
        assert_eq!(PrefixState::parse(&s.to_json()).unwrap(), s);
        assert_eq!(PrefixState::parse("{}").unwrap(), PrefixState::default());
        // A superseded record of an earlier version: content-hashed.
        let old = r#"{"superseded": {"a.111.js": {"at": 5, "deploy": 1}}}"#;
        assert!(PrefixState::parse(old).unwrap().superseded["a.111.js"].hashed);
    }

    #[test]
    fn published_keys_are_recorded_by_directory_and_forgotten_once_gone() {
        let mut s = PrefixState::default();
        let listed = |k: &str| k != "site/gone.txt";
        s.publish("site/", ["site/index.html", "site/a/b/c.js", "site/a/b/d.js"], listed);
        s.published.insert("gone.txt".into());
        s.publish("site/", ["site/robots.txt"], listed);
        assert!(s.is_published("site/", "site/a/b/c.js") && !s.is_published("site/", "site/gone.txt"));
        assert!(!s.is_published("site/", "other/index.html"));
        let json = s.to_json();
        assert!(
            json.contains(r#""published":{"":["index.html","robots.txt"],"a/b":["c.js","d.js"]}"#),
            "{json}"
        );
        assert_eq!(PrefixState::parse(&json).unwrap(), s);
        s.deleted("site/", [&"site/a/b/c.js".to_string()]);
        assert!(!s.is_published("site/", "site/a/b/c.js"));
    }

    /// What a prefix of 10,000 files costs in the state read and written on
    /// every run: a Django-like tree, each file with its hashed copy.
    #[test]
    fn ten_thousand_published_keys_stay_compact() {
        let mut s = PrefixState::default();
        let keys: Vec<String> = (0..5_000)
            .flat_map(|i| {
                let dir = format!("app{}/static/app{}/js/widgets", i % 40, i % 40);
                [
                    format!("{dir}/widget{i}.js"),
                    format!("{dir}/widget{i}.{:012x}.js", i * 7919),
                ]
            })
            .collect();
        s.publish("", keys.iter().map(String::as_str), |_| true);
        let size = s.to_json().len();
        eprintln!("10,000 published keys: {size} bytes");
        assert!(size < 300_000, "{size} bytes");
    }
}
