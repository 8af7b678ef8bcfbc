//! What a new release writes (pure): each content-hashed file stored once
//! under the shared assets; each other file either held by the new release
//! (uploaded when changed, copied inside the bucket when its route makes it
//! hold an unchanged one) or left where an older release of the route holds
//! it. The route itself comes from `route::next`.

use std::collections::{BTreeMap, BTreeSet};

use super::route::{self, Route, Shape};
use super::{assets, prefix};
use crate::resources::function::is_hashed;
use crate::sync::listing::RemoteObject;
use crate::sync::scan::LocalFile;
use crate::sync::SyncOptions;

/// What to do with one file of the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send its bytes.
    Upload,
    /// Unchanged, but the new release holds it (a new base, a squashed
    /// chain, a path whose code another changed path shares): copy it from
    /// this key inside the bucket.
    Copy { from: String },
    /// A content-hashed file already stored with these bytes.
    Stored,
    /// Unchanged and held by this older release of the route: nothing written.
    Kept { by: String },
}

#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub file: &'a LocalFile,
    pub key: String,
    pub cache_control: String,
    pub action: Action,
}

/// The live release, as the new one is published over it.
pub struct Live<'a> {
    pub route: &'a Route,
    /// Each path it serves (not content-hashed): the key holding it and what
    /// the listing says of it.
    pub files: &'a BTreeMap<String, (String, RemoteObject)>,
    /// Its files carry this run's header rules (else the new release is a
    /// whole one, each file's headers set again).
    pub same_rules: bool,
    /// A release is made even when nothing changed (a preview: its own
    /// release, holding one page, so that the edge tells it is served).
    pub always: bool,
}

#[derive(Debug)]
pub struct Planned<'a> {
    pub items: Vec<Item<'a>>,
    /// The new release's route and how it was made; `None` when no file
    /// that is not content-hashed changed: nothing to switch.
    pub route: Option<(Route, Shape)>,
    /// Paths of the live release that this one no longer has.
    pub removed: Vec<String>,
}

/// The live release's paths, each where its route resolves it: `listed` is
/// every release of the route with the objects under its prefix.
pub fn live_files(
    route: &Route,
    listed: &[(String, BTreeMap<String, RemoteObject>)],
) -> BTreeMap<String, (String, RemoteObject)> {
    let mut files = BTreeMap::new();
    for (id, objects) in listed {
        let under = prefix(id);
        for (key, object) in objects {
            if let Some(path) = key.strip_prefix(&under) {
                if route.resolve(path) == id {
                    files.insert(path.to_string(), (key.clone(), object.clone()));
                }
            }
        }
    }
    files
}

/// Each file's key and action, and the new route. Refused (every such file
/// named) when a content-hashed name is already stored with other bytes: an
/// asset is shared by the kept releases and is never overwritten.
pub fn plan<'a>(
    files: &'a [LocalFile],
    id: &str,
    opts: &SyncOptions,
    live: Option<&Live>,
    stored: &BTreeMap<String, RemoteObject>,
) -> Result<Planned<'a>, Vec<String>> {
    let mut items = Vec::with_capacity(files.len());
    let mut refused = Vec::new();
    let mut own: Vec<&LocalFile> = Vec::new();
    for f in files {
        let name = f.rel.rsplit('/').next().unwrap_or(&f.rel);
        if !is_hashed(name) {
            own.push(f);
            continue;
        }
        let key = format!("{}{}", assets(), f.rel);
        let action = match stored.get(&key) {
            Some(o) if f.same_content(&o.etag) => Action::Stored,
            Some(_) => {
                refused.push(format!(
                    "{}: its name says its content is hashed, but {key} holds other bytes: a build \
                     that changes a file must change its hashed name (an asset is shared by every \
                     kept release and never overwritten)",
                    f.rel
                ));
                continue;
            }
            None => Action::Upload,
        };
        items.push(Item {
            file: f,
            key,
            cache_control: opts.rules.cache_control(&f.rel, true).to_string(),
            action,
        });
    }
    if !refused.is_empty() {
        return Err(refused);
    }

    let unchanged = |f: &LocalFile| {
        live.and_then(|l| l.files.get(&f.rel))
            .filter(|(_, o)| f.same_content(&o.etag))
            .map(|(key, _)| key.clone())
    };
    let paths: BTreeSet<&str> = own.iter().map(|f| f.rel.as_str()).collect();
    let removed: Vec<String> = live
        .map(|l| {
            l.files
                .keys()
                .filter(|p| !paths.contains(p.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut changed: BTreeSet<&str> = own
        .iter()
        .filter(|f| unchanged(f).is_none())
        .map(|f| f.rel.as_str())
        .collect();
    let route = match live {
        None => Some(route::next(None, id, [])),
        Some(l) if !l.same_rules => Some((Route::whole(id), Shape::Whole)),
        Some(l) if changed.is_empty() && removed.is_empty() && !l.always => None,
        Some(l) => {
            // A release that only removes paths (or a preview that changes
            // nothing) holds a copy of one page, so that asking the edge for
            // it tells which release it serves.
            if changed.is_empty() {
                if let Some(page) = probe_path(own.iter().map(|f| f.rel.as_str())) {
                    changed.insert(page);
                }
            }
            let named = changed.iter().copied().chain(removed.iter().map(String::as_str));
            Some(route::next(Some(l.route), id, named))
        }
    };
    for f in own {
        let held = route.as_ref().is_some_and(|(r, _)| r.resolve(&f.rel) == id);
        let action = match (held, unchanged(f)) {
            (true, Some(from)) => Action::Copy { from },
            (true, None) => Action::Upload,
            (false, _) => Action::Kept {
                by: live.map(|l| l.route.resolve(&f.rel).to_string()).unwrap_or_default(),
            },
        };
        items.push(Item {
            file: f,
            key: format!("{}{}", prefix(id), f.rel),
            cache_control: f.cache_control.clone(),
            action,
        });
    }
    Ok(Planned { items, route, removed })
}

/// The path to ask the edge for among `paths`: the root's index, else the
/// first page, else the first.
pub fn probe_path<'p>(paths: impl Iterator<Item = &'p str>) -> Option<&'p str> {
    let paths: Vec<&str> = paths.collect();
    paths
        .iter()
        .find(|p| **p == "index.html")
        .or_else(|| paths.iter().find(|p| p.ends_with(".html")))
        .or(paths.first())
        .copied()
}

/// The URL path a visitor requests for a path of a release.
pub fn url_path(path: &str) -> String {
    if path == "index.html" {
        return "/".into();
    }
    format!("/{}", crate::check::probes::encode(path))
}

/// A URL path of a page the new release holds itself, to ask the edge
/// which release it serves.
pub fn probe_page(items: &[Item]) -> Option<String> {
    let held = items
        .iter()
        .filter(|i| matches!(i.action, Action::Upload | Action::Copy { .. }) && !i.key.starts_with(&assets()))
        .map(|i| i.file.rel.as_str());
    probe_path(held).map(url_path)
}

#[cfg(test)]
mod tests;
