//! A release's route: which release's prefix holds each path, as the
//! function reads it from the store (`live`, `route:<id>`, and a preview's
//! key) in one `kvs.get`.
//!
//! A release holds only what it changed. Its route lists, newest first, each
//! release of a short chain with the set of paths it changed (added,
//! modified or deleted), as 30-bit codes of the paths, and ends with a
//! whole "base" release:
//!
//! ```text
//! r20261205-0901…:AbCdEfGhIj,r20261204-1730…:KlMnO,r20261201-0800…
//! ```
//!
//! For a path, the first release of the chain whose set has the path's code
//! holds it (a deleted path: that release lacks it, S3 answers 403/404);
//! otherwise the base does. A plain id (a base, no chain) is also how
//! releases before chains were recorded. `viewer_request.js` resolves the
//! same way (`resolve`, `pathCode`; a unit test runs it under node against
//! this module): both must agree.
//!
//! A new release's route is the live one with one more entry (`next`):
//! - chained while the chain stays at most `MAX_CHAIN` long and the value
//!   fits the store's value quota;
//! - otherwise squashed: one entry whose set is every path changed since the
//!   base, over the same base (the new release then holds, by copies, the
//!   files changed by the entries it replaces);
//! - otherwise whole: a new base holding every file.
//!
//! A path whose code happens to equal a changed path's resolves to the new
//! release too: the publisher knows every path of the release and copies
//! such a file in, so a collision costs one copy and never a wrong answer.

use std::collections::BTreeSet;

/// CloudFront's quotas (Developer Guide, "Quotas": "Quotas on CloudFront
/// Functions" and "Quotas on key value stores"; the same figures in "File
/// format for key-value pairs"): a value at most 1 KB.
pub const VALUE_MAX: usize = 1024;
/// A key at most 512 bytes.
pub const KEY_MAX: usize = 512;
/// A store at most 5 MB.
#[cfg(test)]
pub const STORE_MAX: usize = 5 * 1024 * 1024;
/// A function's code at most 10 KB (`function.rs` keeps its code under it).
#[cfg(test)]
pub const FUNCTION_MAX: usize = 10 * 1024;
/// Releases of a chain before the base: bounds the function's walk and the
/// prefixes a route keeps from pruning.
pub const MAX_CHAIN: usize = 10;

/// Digits of a path's code, 6 bits each (none of them `,` or `:`).
const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// Characters per code: 5 digits, 30 bits.
pub const WIDTH: usize = 5;

/// One release of a chain and the codes of the paths it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delta {
    pub id: String,
    pub codes: BTreeSet<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Newest first.
    pub chain: Vec<Delta>,
    /// The whole release the chain ends with.
    pub base: String,
}

/// How a new release's route was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// One more entry on the live route.
    Chained,
    /// The live chain folded into one entry over its base.
    Squashed,
    /// A new base: the release holds every file.
    Whole,
}

impl Shape {
    /// What it means, for a line of progress.
    pub fn words(self) -> &'static str {
        match self {
            Shape::Chained => "chained on the live release",
            Shape::Squashed => "the live chain folded into it",
            Shape::Whole => "holding every file",
        }
    }
}

/// A path's code: FNV-1a (32 bits) over its UTF-16 code units, folded to 30
/// bits. The path is the key under the release's prefix (`docs/index.html`).
pub fn code(path: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in path.encode_utf16() {
        h ^= u32::from(unit);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 30)) & 0x3fff_ffff
}

fn digits(code: u32) -> [u8; WIDTH] {
    let mut out = [0u8; WIDTH];
    let mut c = code;
    for d in out.iter_mut().rev() {
        *d = DIGITS[(c & 63) as usize];
        c >>= 6;
    }
    out
}

fn undigits(text: &[u8]) -> Option<u32> {
    text.iter().try_fold(0u32, |acc, b| {
        let d = DIGITS.iter().position(|x| x == b)? as u32;
        Some((acc << 6) | d)
    })
}

impl Route {
    /// A whole release: every path is its own.
    pub fn whole(id: &str) -> Route {
        Route {
            chain: Vec::new(),
            base: id.to_string(),
        }
    }

    /// A value as the store holds it; `None` when it is not a route.
    pub fn parse(value: &str) -> Option<Route> {
        let mut parts: Vec<&str> = value.split(',').collect();
        let base = parts.pop().filter(|b| valid_id(b))?.to_string();
        let chain = parts
            .into_iter()
            .map(|entry| {
                let (id, set) = entry.split_once(':')?;
                if !valid_id(id) || set.len() % WIDTH != 0 {
                    return None;
                }
                let codes = set
                    .as_bytes()
                    .chunks(WIDTH)
                    .map(undigits)
                    .collect::<Option<BTreeSet<u32>>>()?;
                Some(Delta {
                    id: id.to_string(),
                    codes,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Route { chain, base })
    }

    /// The value the store holds.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for d in &self.chain {
            out.push_str(&d.id);
            out.push(':');
            for c in &d.codes {
                out.push_str(std::str::from_utf8(&digits(*c)).expect("ASCII digits"));
            }
            out.push(',');
        }
        out.push_str(&self.base);
        out
    }

    /// The length of `encode()`, without building it.
    pub fn encoded_len(&self) -> usize {
        self.base.len()
            + self
                .chain
                .iter()
                .map(|d| d.id.len() + 2 + WIDTH * d.codes.len())
                .sum::<usize>()
    }

    /// The release whose prefix holds `path` (or lacks it: deleted).
    pub fn resolve(&self, path: &str) -> &str {
        let c = code(path);
        self.chain
            .iter()
            .find(|d| d.codes.contains(&c))
            .map_or(self.base.as_str(), |d| d.id.as_str())
    }

    /// The release this route serves: the newest of it.
    pub fn head(&self) -> &str {
        self.chain.first().map_or(self.base.as_str(), |d| d.id.as_str())
    }

    /// Every release whose prefix the route reads.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.chain
            .iter()
            .map(|d| d.id.as_str())
            .chain(std::iter::once(self.base.as_str()))
    }
}

/// A release id as `new_id` makes them, or an older plain one: no
/// separators, nothing a prefix cannot hold.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The route of a new release `id` that changed `changed` (paths added,
/// modified or deleted since `live`, the route it is published over; none
/// for a first release). Deploy and previews both publish this way.
pub fn next<'a>(live: Option<&Route>, id: &str, changed: impl IntoIterator<Item = &'a str>) -> (Route, Shape) {
    let Some(live) = live else {
        return (Route::whole(id), Shape::Whole);
    };
    let codes: BTreeSet<u32> = changed.into_iter().map(code).collect();
    let fits = |r: &Route| r.encoded_len() <= VALUE_MAX;
    let mut chained = live.clone();
    chained.chain.insert(
        0,
        Delta {
            id: id.to_string(),
            codes: codes.clone(),
        },
    );
    if chained.chain.len() <= MAX_CHAIN && fits(&chained) {
        return (chained, Shape::Chained);
    }
    let squashed = Route {
        chain: vec![Delta {
            id: id.to_string(),
            codes: live
                .chain
                .iter()
                .flat_map(|d| d.codes.iter().copied())
                .chain(codes)
                .collect(),
        }],
        base: live.base.clone(),
    };
    if fits(&squashed) {
        return (squashed, Shape::Squashed);
    }
    (Route::whole(id), Shape::Whole)
}

#[cfg(test)]
mod tests;
