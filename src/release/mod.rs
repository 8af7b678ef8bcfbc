//! Releases (`Setting::Releases` above 0): publishing a directory as a new
//! release, switching the edge to it in one write, rolling back, listing and
//! pruning. The bucket layout and the function that serves it are
//! `resources/function.rs`'s; the store's keys are `resources/kvs.rs`'s.
//!
//! ```text
//! scan DIR (sync's scan and header rules) ∥ the store: live route, releases
//! ∥ list the prefixes the live route reads, and the assets
//!    └─> plan (pure, plan.rs): the files that changed since the live release,
//!        the new route (route.rs: chained, squashed or whole), each file
//!        uploaded, copied, kept where an older release holds it, or an asset
//!        already stored; refused if an asset would change bytes
//!          └─> transfer (bounded): assets, then the release's files
//!                └─> switch: one UpdateKeys (`live`, `release:<id>`, `route:<id>`;
//!                    a preview: `preview:NAME`, `release:<id>`; If-Match)
//!                      └─> wait for the edge to serve a path the release holds
//!                            └─> remove previews expired or replaced, then
//!                                prune releases past the setting (`prune.rs`)
//! ```
//!
//! Layout, as the function reads it:
//! - `_cdnctl/releases/<id>/<path>`: the files release `<id>` holds (not
//!   content-hashed), each carrying `x-amz-meta-cdnctl-release: <id>`, so
//!   the edge's answer says which release it came from (how the switch and a
//!   rollback know the edge serves it);
//! - `_cdnctl/assets/<path>`: content-hashed files (`function::is_hashed`),
//!   uploaded only when absent, never overwritten with other bytes (a
//!   different file under the same hashed name is refused before any write);
//!   shared by every release, so an open tab of an older release still loads
//!   its chunks.
//!
//! What a release costs: it holds only what it changed. Its route
//! (`route.rs`, the value of `live`) names, per path, the release whose
//! prefix holds it: the new release for the paths it changed (added,
//! modified or removed), else the live route's answer. So a release that
//! changes 3 files uploads those 3 and copies nothing; the bookkeeping is
//! one store write (the switch), one more when a release is pruned, and a
//! DeleteObjects for a pruned prefix no kept route reads. When the chain
//! would pass `route::MAX_CHAIN` or the store's value quota, the new release
//! folds the chain into one entry (copying the files the chain changed) or,
//! when even that does not fit, holds every file again (a copy each, as a
//! first release uploads each): the README gives the amortized figures.
//! When the header rules changed since the live release, the release is
//! whole too, so each file's headers are set again. A release in which no
//! file that is not content-hashed changed switches nothing: its new
//! assets are stored and the live release stays.
//!
//! Pruning keeps the newest `Setting::Releases` releases, and always the live
//! one and the one before it (a rollback's target: the release live when
//! the live one was published). A pruned release loses
//! its metadata and route keys; its prefix is deleted once no kept release's
//! route, nor any preview's route, reads it (`unreferenced`; a preview is
//! planned over the live route and reads its releases: `preview.rs`). Assets
//! are kept (a kept release may name them, and whether one does is not
//! recorded): they grow with every distinct hashed file ever published.

pub mod edge;
pub mod not_found;
pub mod off;
pub mod plan;
pub mod preview;
mod prune;
pub mod publish;
pub mod route;
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
    /// The fingerprint of the header rules its files were written with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<String>,
    /// The release live when it was published: where a rollback from it
    /// goes (after a rollback, not the newest older one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// Where a release's files live.
pub fn prefix(id: &str) -> String {
    format!("{ROOT}/releases/{id}/")
}

/// The release whose prefix holds `key`, if it is a release's file.
pub fn holder_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(ROOT)?.strip_prefix("/releases/")?;
    rest.split_once('/').map(|(id, _)| id)
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

/// The release before `live`: the one live when it was published, if kept
/// (after a rollback to T and a deploy, T, not the release rolled back
/// from), else the newest older one. Where a rollback goes.
pub fn before<'a>(releases: &'a [Release], live: &str) -> Option<&'a Release> {
    let recorded = releases
        .iter()
        .find(|r| r.id == live)
        .and_then(|r| r.previous.as_deref())
        .and_then(|p| releases.iter().find(|r| r.id == p));
    recorded.or_else(|| {
        releases
            .iter()
            .filter(|r| r.id.as_str() < live)
            .max_by(|a, b| a.id.cmp(&b.id))
    })
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

/// The releases whose prefixes can go once `pruned` are: those their routes
/// read that no route of a `kept` release reads.
pub fn unreferenced(pruned: &[String], kept: &[route::Route], route_of: impl Fn(&str) -> route::Route) -> Vec<String> {
    let read: std::collections::BTreeSet<&str> = kept.iter().flat_map(|r| r.ids()).collect();
    let candidates: std::collections::BTreeSet<String> = pruned
        .iter()
        .flat_map(|p| route_of(p).ids().map(String::from).collect::<Vec<_>>())
        .collect();
    candidates.into_iter().filter(|c| !read.contains(c.as_str())).collect()
}

#[cfg(test)]
mod figures;

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
            rules: None,
            previous: None,
        }
    }

    /// A pruned release's prefix stays while a kept route reads it, and goes
    /// with the last release whose route did.
    #[test]
    fn pruning_keeps_the_prefixes_kept_routes_read() {
        use route::{next, Route};
        let (r1, _) = next(None, "r1", []);
        let (r2, _) = next(Some(&r1), "r2", ["a.html"]);
        let (r3, _) = next(Some(&r2), "r3", ["b.html"]);
        let (r4, _) = next(Some(&r3), "r4", ["a.html"]);
        let routes: std::collections::BTreeMap<&str, Route> =
            [("r1", r1), ("r2", r2), ("r3", r3.clone()), ("r4", r4.clone())].into();
        let route_of = |id: &str| routes[id].clone();
        // r1 and r2 pruned; r3 and r4 read both.
        let pruned = vec!["r1".to_string(), "r2".to_string()];
        assert!(unreferenced(&pruned, &[r3.clone(), r4.clone()], route_of).is_empty());
        // A new base r5 kept with r4: r1, r2 (read by r3 only) and r3 go.
        let r5 = Route::whole("r5");
        let pruned = vec!["r3".to_string()];
        assert_eq!(
            unreferenced(&pruned, &[r4.clone(), r5.clone()], route_of),
            Vec::<String>::new()
        );
        let pruned = vec!["r3".to_string(), "r4".to_string()];
        assert_eq!(unreferenced(&pruned, &[r5], route_of), vec!["r1", "r2", "r3", "r4"]);
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
