//! Releases (`Setting::Releases` above 0): publishing a directory as a new
//! release, switching the edge to it in one write, rolling back, listing and
//! pruning. The bucket layout and the function that serves it are
//! `resources/function.rs`'s; the store's keys are `resources/kvs.rs`'s.
//!
//! ```text
//! scan DIR (sync's scan and header rules) ∥ the store: live, releases ∥ list
//! the live release's prefix and the assets
//!    └─> plan (pure): each file uploaded, copied from the live release, or an
//!        asset already stored; refused if an asset would change bytes
//!          └─> transfer (bounded): assets, then the release's files
//!                └─> switch: one UpdateKeys (`live` + `release:<id>`, If-Match)
//!                      └─> wait for the edge to serve the release
//!                            └─> prune releases past the setting
//! ```
//!
//! Layout, as the function reads it:
//! - `_cdnctl/releases/<id>/<path>`: every file of the release that is not
//!   content-hashed, each carrying `x-amz-meta-cdnctl-release: <id>`, so
//!   the edge's answer says which release it came from (how the switch and a
//!   rollback know the edge serves it);
//! - `_cdnctl/assets/<path>`: content-hashed files (`function::is_hashed`),
//!   uploaded only when absent, never overwritten with other bytes (a
//!   different file under the same hashed name is refused before any write);
//!   shared by every release, so an open tab of an older release still loads
//!   its chunks.
//!
//! What a release costs (the design choice): a release prefix must hold the
//! release whole, since the function picks one prefix per request and cannot
//! ask S3 whether a file exists there. So a file unchanged since the live
//! release is not uploaded but copied inside S3 (CopyObject: no bytes sent,
//! headers set again from the rules), a changed or new one is uploaded, and
//! a hashed one already stored costs nothing. Bytes sent grow with what
//! changed; the requests grow with the number of files that are not hashed
//! (one copy each), and the bookkeeping is one store write (the switch) plus
//! one more when an old release is pruned. The cheaper alternative, letting
//! the function fall back to an older release for files a release did not
//! change, needs per-path knowledge at the edge: a filter of changed paths in
//! the release's value (a value is at most 1 KB), with its own hash in the
//! function and here. It would make the copies go too; it is not done yet.
//!
//! Pruning keeps the newest `Setting::Releases` releases, and always the live
//! one and the one before it (a rollback's target). A pruned release loses
//! its metadata key and its prefix; assets are kept (a kept release may
//! name them, and whether one does is not recorded): they grow with every
//! distinct hashed file ever published.

pub mod edge;
pub mod preview;
pub mod publish;
pub mod store;

use serde::{Deserialize, Serialize};

use crate::resources::function::ROOT;

/// The metadata header each release file carries (S3 user metadata).
pub const META: &str = "cdnctl-release";

/// A release as the store records it under `release:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The key's suffix; not repeated in the value.
    #[serde(default)]
    pub id: String,
    /// When it was published, RFC 3339 (UTC).
    pub when: String,
    /// The CI run (`REPOSITORY/RUN_ID`) or user@host.
    pub source: String,
    pub files: u64,
    pub bytes: u64,
    /// A URL path of one of its pages, to ask the edge which release it serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// The preview it serves (`preview:NAME`), for a preview's release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
}

/// Where a release's files live.
pub fn prefix(id: &str) -> String {
    format!("{ROOT}/releases/{id}/")
}

/// Where content-hashed files live.
pub fn assets() -> String {
    format!("{ROOT}/assets/")
}

/// A new release id: `r` then the UTC time to the millisecond and 4 hex
/// digits, so ids sort as they were published.
pub fn new_id(now: std::time::SystemTime) -> String {
    let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let stamp = aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).take(14).collect();
    let salt = crate::spec::stable_hash(&format!("{}-{}", since.as_nanos(), std::process::id())) as u16;
    format!(
        "r{}-{}{:03}-{salt:04x}",
        &digits[..8.min(digits.len())],
        &digits[8.min(digits.len())..],
        since.subsec_millis()
    )
}

/// Who published: the CI run, else user@host.
pub fn source() -> String {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let source = match var("GITHUB_RUN_ID") {
        Some(run) => format!("{}/actions/runs/{run}", var("GITHUB_REPOSITORY").unwrap_or_default()),
        None => {
            let host = var("HOSTNAME")
                .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "unknown-host".into());
            format!(
                "{}@{host}",
                var("USER")
                    .or_else(|| var("USERNAME"))
                    .unwrap_or_else(|| "someone".into())
            )
        }
    };
    // A value is at most 1 KB with the rest of the metadata.
    source.chars().take(200).collect()
}

/// Newest first.
pub fn newest_first(releases: &mut [Release]) {
    releases.sort_by(|a, b| b.id.cmp(&a.id));
}

/// The release before `live` (the newest older one): where a rollback goes.
pub fn before<'a>(releases: &'a [Release], live: &str) -> Option<&'a Release> {
    releases
        .iter()
        .filter(|r| r.id.as_str() < live)
        .max_by(|a, b| a.id.cmp(&b.id))
}

/// The releases to prune: past the newest `keep`, never the live one nor
/// the one before it.
pub fn to_prune(releases: &[Release], live: Option<&str>, keep: usize) -> Vec<String> {
    let mut sorted = releases.to_vec();
    newest_first(&mut sorted);
    let spared: Vec<&str> = live
        .into_iter()
        .chain(live.and_then(|l| before(releases, l)).map(|r| r.id.as_str()))
        .collect();
    sorted
        .iter()
        .skip(keep)
        .filter(|r| !spared.contains(&r.id.as_str()))
        .map(|r| r.id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: &str) -> Release {
        Release {
            id: id.into(),
            when: String::new(),
            source: String::new(),
            files: 0,
            bytes: 0,
            page: None,
            preview: None,
        }
    }

    #[test]
    fn ids_sort_as_published() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_796_437_503_042);
        let a = new_id(t);
        let b = new_id(t + std::time::Duration::from_millis(1));
        assert!(a < b, "{a} {b}");
        assert!(a.starts_with("r20261205-"), "{a}");
        assert_eq!(a.len(), "r20261205-012503042-abcd".len(), "{a}");
    }

    #[test]
    fn pruning_keeps_the_newest_the_live_and_the_one_before() {
        let all: Vec<Release> = ["r1", "r2", "r3", "r4", "r5"].into_iter().map(r).collect();
        assert_eq!(to_prune(&all, Some("r5"), 2), vec!["r3", "r2", "r1"]);
        // Rolled back to r2: r2 and r1 stay.
        assert_eq!(to_prune(&all, Some("r2"), 2), vec!["r3"]);
        assert_eq!(to_prune(&all, Some("r5"), 1), vec!["r3", "r2", "r1"]);
        assert!(to_prune(&all, None, 10).is_empty());
    }

    #[test]
    fn a_rollback_goes_to_the_release_before_the_live_one() {
        let all: Vec<Release> = ["r3", "r1", "r2"].into_iter().map(r).collect();
        assert_eq!(before(&all, "r3").map(|r| r.id.as_str()), Some("r2"));
        assert_eq!(before(&all, "r2").map(|r| r.id.as_str()), Some("r1"));
        assert_eq!(before(&all, "r1"), None);
    }
}
