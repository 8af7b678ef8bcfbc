//! Which paths to invalidate, and the batch's CallerReference. Pure.
//!
//! Only paths whose cached copy is now wrong: changed or header-updated files
//! (a changed file even when its name looked hashed, since its name was not a
//! content hash after all), and deleted files that are not content-hashed. `dir/index.html` (that exact name) is also invalidated as
//! `dir/`. Paths are percent-encoded as CloudFront expects (non-ASCII and RFC
//! 1738's unsafe characters, plus `?` and a literal `*`), a directory with
//! more than [`DIR_LIMIT`] paths becomes `dir/*`, and past CloudFront's limits
//! everything becomes `/*`.

use md5::{Digest as _, Md5};

use super::listing::RemoteObject;
use super::scan::hex;

/// More paths than this in one directory are invalidated as `dir/*`.
pub const DIR_LIMIT: usize = 10;
/// CloudFront allows 3,000 paths, 15 of them wildcards, in progress at once.
pub const MAX_PATHS: usize = 3000;
pub const MAX_WILDCARDS: usize = 15;

/// A key whose cached copy is stale, with what it was and what it is now.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stale {
    key: String,
    state: String,
}

impl Stale {
    pub fn new(key: &str, old: Option<&RemoteObject>, new: &str) -> Stale {
        let old = old
            .map(|r| format!("{}@{}", r.etag, r.last_modified))
            .unwrap_or_default();
        Stale {
            key: key.to_string(),
            state: format!("{old}>{new}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub paths: Vec<String>,
    /// Depends on every path's old and new content and on the run's start
    /// time: a later deploy that changes the same paths again gets a new
    /// reference (a reused one would silently not invalidate). A retry sends
    /// the same reference (CloudFront then returns the earlier invalidation):
    /// the SDK's retries reuse the request, and a run that was interrupted
    /// left the batch, reference included, in a note that the next run sends.
    pub reference: String,
    /// Paths before collapsing to wildcards (what the deploy changed).
    pub changed: usize,
}

impl Batch {
    pub fn of(mut changes: Vec<Stale>, now: i64) -> Option<Batch> {
        if changes.is_empty() {
            return None;
        }
        changes.sort();
        changes.dedup();
        let mut digest = Md5::new();
        digest.update(now.to_be_bytes());
        let mut paths = Vec::new();
        for c in &changes {
            digest.update(c.key.as_bytes());
            digest.update([0]);
            digest.update(c.state.as_bytes());
            digest.update([0]);
            let path = format!("/{}", encode(&c.key));
            // Only a file named exactly index.html stands for its directory
            // (`myindex.html` is not `/my`).
            if let Some(dir) = path.strip_suffix("index.html").filter(|d| d.ends_with('/')) {
                paths.push(dir.to_string());
            }
            paths.push(path);
        }
        let changed = paths.len();
        Some(Batch {
            paths: collapse(paths),
            reference: format!("cdnctl-sync-{}", hex(&digest.finalize())),
            changed,
        })
    }

    /// A batch for paths already decided (a pending batch of an interrupted run).
    pub fn resumed(paths: Vec<String>, reference: String) -> Batch {
        Batch {
            changed: paths.len(),
            paths,
            reference,
        }
    }
}

/// Percent-encode a key for an invalidation path (`/` kept).
pub fn encode(key: &str) -> String {
    const UNSAFE: &[u8] = b" \"#%<>?*[\\]^`{|}~";
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        if b.is_ascii_graphic() && !UNSAFE.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn dir_of(path: &str) -> &str {
    &path[..path.rfind('/').map(|i| i + 1).unwrap_or(0)]
}

/// Wildcards for crowded directories, nothing a wildcard covers, and `/*`
/// past CloudFront's limits. Sorted, without duplicates.
pub fn collapse(mut paths: Vec<String>) -> Vec<String> {
    paths.sort();
    paths.dedup();
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in &paths {
        *counts.entry(dir_of(p)).or_default() += 1;
    }
    let wildcards: Vec<String> = counts
        .iter()
        .filter(|(_, n)| **n > DIR_LIMIT)
        .map(|(d, _)| format!("{d}*"))
        .collect();
    let covered = |p: &str, except: Option<&str>| {
        wildcards
            .iter()
            .filter(|w| Some(w.as_str()) != except)
            .any(|w| p.starts_with(&w[..w.len() - 1]))
    };
    let mut out: Vec<String> = paths.iter().filter(|p| !covered(p, None)).cloned().collect();
    out.extend(wildcards.iter().filter(|w| !covered(w, Some(w))).cloned());
    out.sort();
    let wild = out.iter().filter(|p| p.ends_with('*')).count();
    if out.len() > MAX_PATHS || wild > MAX_WILDCARDS || out.iter().any(|p| p == "/*") {
        return vec!["/*".to_string()];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_percent_encoded_like_urls() {
        assert_eq!(encode("a b+c.txt"), "a%20b+c.txt");
        assert_eq!(encode("q?.txt#x"), "q%3F.txt%23x");
        assert_eq!(encode("café/ü.css"), "caf%C3%A9/%C3%BC.css");
        assert_eq!(encode("100%.txt"), "100%25.txt");
        assert_eq!(encode("a*b~c"), "a%2Ab%7Ec");
    }

    #[test]
    fn index_html_is_also_its_directory() {
        let b = Batch::of(vec![Stale::new("docs/index.html", None, "x")], 0).unwrap();
        assert_eq!(b.paths, vec!["/docs/", "/docs/index.html"]);
        let b = Batch::of(vec![Stale::new("index.html", None, "x")], 0).unwrap();
        assert_eq!(b.paths, vec!["/", "/index.html"]);
        let b = Batch::of(vec![Stale::new("myindex.html", None, "x")], 0).unwrap();
        assert_eq!(b.paths, vec!["/myindex.html"]);
        let b = Batch::of(vec![Stale::new("docs/myindex.html", None, "x")], 0).unwrap();
        assert_eq!(b.paths, vec!["/docs/myindex.html"]);
    }

    #[test]
    fn crowded_directories_collapse_and_too_many_become_everything() {
        let mut paths: Vec<String> = (0..12).map(|i| format!("/img/{i}.png")).collect();
        paths.push("/img/sub/x.png".into());
        paths.push("/a.txt".into());
        assert_eq!(collapse(paths), vec!["/a.txt", "/img/*"]);
        let many: Vec<String> = (0..20)
            .flat_map(|d| (0..11).map(move |i| format!("/d{d}/{i}")))
            .collect();
        assert_eq!(collapse(many), vec!["/*"]);
        let root: Vec<String> = (0..11).map(|i| format!("/{i}.txt")).collect();
        assert_eq!(collapse(root), vec!["/*"]);
    }

    #[test]
    fn the_reference_follows_the_content() {
        let old = RemoteObject {
            size: 1,
            etag: "aa".into(),
            last_modified: 5,
        };
        let a = Batch::of(vec![Stale::new("index.html", Some(&old), "bb")], 7).unwrap();
        let again = Batch::of(vec![Stale::new("index.html", Some(&old), "bb")], 7).unwrap();
        assert_eq!(a.reference, again.reference);
        let later = RemoteObject {
            last_modified: 9,
            ..old.clone()
        };
        let b = Batch::of(vec![Stale::new("index.html", Some(&later), "bb")], 7).unwrap();
        assert_ne!(a.reference, b.reference);
        let next_second = Batch::of(vec![Stale::new("index.html", Some(&old), "bb")], 8).unwrap();
        assert_ne!(a.reference, next_second.reference);
        assert!(a.reference.len() <= 128);
    }
}
