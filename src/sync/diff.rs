//! The pure diff between the local tree and the bucket's listing: what to
//! upload (content-hashed files first, manifests last), whose headers to
//! correct in place, what to delete and which paths to invalidate.
//!
//! Only keys this prefix's syncs published may be deleted: the bucket may
//! also hold another tool's files, the app's uploads and, under a nested
//! prefix with its own state, another site's. Those are left alone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::invalidation;
use super::listing::{ObjectHeaders, RemoteObject};
use super::rules;
use super::scan::LocalFile;

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub delete: bool,
    /// Said explicitly: also delete keys no sync of this prefix published.
    pub delete_unpublished: bool,
    /// Files gone from DIR less than this long ago (seconds) are never deleted.
    pub grace: i64,
    pub now: i64,
    /// Content-hashed keys one of the last deploys names: servers still
    /// running it refer to them, so they are never deleted now.
    pub protected: BTreeSet<String>,
    /// When a run first found each published key gone from DIR, and whether
    /// it is content-hashed; a key not in it is gone since this run (now).
    pub superseded: BTreeMap<String, (i64, bool)>,
    /// The keys this prefix's syncs published: the only ones --delete removes.
    pub published: BTreeSet<String>,
    /// Keys this run finds gone from DIR for the first time.
    pub fresh: BTreeSet<String>,
    /// Prefixes under this one that are synced on their own (they have
    /// their own state): their keys are never deleted from here.
    pub nested: Vec<String>,
}

/// cdnctl's own keys: `.cdnctl/` at the root or under any prefix (the bucket
/// policy keeps CloudFront from serving them). Never synced nor deleted.
pub fn is_reserved(key: &str) -> bool {
    key.starts_with(".cdnctl/") || key.contains("/.cdnctl/")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    New,
    Changed,
}

/// What a run publishes: the sync pipeline's plan (up's is `plan::Plan`).
#[derive(Debug, Default)]
pub struct Publish {
    /// Indexes into the local files, in upload order: hashed, then the rest, manifests last.
    pub hashed_uploads: Vec<(usize, Why)>,
    pub other_uploads: Vec<(usize, Why)>,
    /// Unchanged content whose headers differ from the rules.
    pub header_updates: Vec<usize>,
    pub deletes: Vec<String>,
    /// Published, gone locally but kept: gone less than the grace period ago,
    /// named by one of the last deploys, or everything when --delete is not given.
    pub kept: usize,
    /// Not in DIR and not published by this prefix's syncs (another tool's,
    /// the app's, or under a nested prefix synced on its own): left alone.
    pub unpublished: Vec<String>,
    /// Of those, under a nested prefix synced on its own.
    pub nested: usize,
    /// What --max-deletes judges: files not content-hashed that this run
    /// finds gone from DIR (deleted now or after the grace) or deletes as
    /// unpublished, of the `deletable` such files in the bucket.
    pub going: usize,
    pub deletable: usize,
    pub unchanged: usize,
    /// Invalidation paths (collapsed) and the deterministic caller reference.
    pub invalidation: Option<invalidation::Batch>,
}

impl Publish {
    pub fn uploads(&self) -> impl Iterator<Item = (usize, Why)> + '_ {
        self.hashed_uploads.iter().chain(&self.other_uploads).copied()
    }

    pub fn has_writes(&self) -> bool {
        !self.hashed_uploads.is_empty()
            || !self.other_uploads.is_empty()
            || !self.header_updates.is_empty()
            || !self.deletes.is_empty()
    }
}

/// Files present on both sides with the same content: the ones whose headers
/// may need a look when the rules changed.
pub fn unchanged<'a>(files: &'a [LocalFile], remote: &BTreeMap<String, RemoteObject>) -> Vec<&'a LocalFile> {
    files
        .iter()
        .filter(|f| remote.get(&f.key).is_some_and(|r| f.same_content(&r.etag)))
        .collect()
}

pub fn diff(
    files: &[LocalFile],
    remote: &BTreeMap<String, RemoteObject>,
    heads: &HashMap<String, ObjectHeaders>,
    opts: &Options,
) -> Publish {
    let mut plan = Publish::default();
    // What the invalidation's reference depends on: each path's old and new state.
    let mut changes: Vec<invalidation::Stale> = Vec::new();
    let mut manifests = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if remote.contains_key(&f.key) && !f.hashed {
            plan.deletable += 1;
        }
        let why = match remote.get(&f.key) {
            None => Why::New,
            Some(r) if f.same_content(&r.etag) => {
                plan.unchanged += 1;
                if let Some(h) = heads.get(&f.key) {
                    if rules::type_differs(&f.content_type, h.content_type.as_deref())
                        || h.cache_control.as_deref() != Some(f.cache_control.as_str())
                    {
                        plan.header_updates.push(i);
                        plan.unchanged -= 1;
                        // The edge holds it with the old headers, hashed or not.
                        changes.push(invalidation::Stale::new(
                            &f.key,
                            Some(r),
                            &format!("{}:{}:{}", r.etag, f.content_type, f.cache_control),
                        ));
                    }
                }
                continue;
            }
            Some(_) => Why::Changed,
        };
        if why == Why::Changed {
            // A changed file is stale at the edge, even one whose name looked hashed.
            changes.push(invalidation::Stale::new(&f.key, remote.get(&f.key), &f.etag()));
        }
        if f.hashed {
            plan.hashed_uploads.push((i, why));
        } else if f.manifest {
            manifests.push((i, why));
        } else {
            plan.other_uploads.push((i, why));
        }
    }
    plan.other_uploads.extend(manifests);

    let local: BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    for (key, r) in remote {
        if local.contains(key.as_str()) || is_reserved(key) {
            continue;
        }
        if opts.nested.iter().any(|p| key.starts_with(p.as_str())) {
            plan.unpublished.push(key.clone());
            plan.nested += 1;
            continue;
        }
        if !opts.published.contains(key) {
            if !(opts.delete && opts.delete_unpublished) {
                plan.unpublished.push(key.clone());
                continue;
            }
            // Said explicitly: deleted now, whatever its name, and judged by the limit.
            plan.going += 1;
            plan.deletable += 1;
            plan.deletes.push(key.clone());
            if !rules::looks_hashed(key) {
                changes.push(invalidation::Stale::new(key, Some(r), "deleted"));
            }
            continue;
        }
        let (since, recorded_hashed) = opts.superseded.get(key).copied().unzip();
        let hashed = rules::looks_hashed(key) || opts.protected.contains(key) || recorded_hashed == Some(true);
        if !hashed {
            plan.deletable += 1;
            if opts.delete && opts.fresh.contains(key) {
                plan.going += 1;
            }
        }
        // The grace counts from the run that first found the file gone, not
        // from its upload: pages cached at the edge or open in a browser may
        // refer to it until then.
        let young = opts.now - since.unwrap_or(opts.now) < opts.grace;
        if !opts.delete || opts.protected.contains(key) || young {
            plan.kept += 1;
            continue;
        }
        plan.deletes.push(key.clone());
        if !hashed {
            changes.push(invalidation::Stale::new(key, Some(r), "deleted"));
        }
    }
    plan.invalidation = invalidation::Batch::of(changes, opts.now);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, content: &[u8]) -> LocalFile {
        use md5::{Digest as _, Md5};
        let hashed = rules::looks_hashed(key);
        LocalFile {
            key: key.into(),
            rel: key.into(),
            path: key.into(),
            size: content.len() as u64,
            md5: Md5::digest(content).into(),
            parts: vec![],
            whole_md5: Default::default(),
            hashed,
            manifest: rules::is_manifest(key),
            manifest_read: false,
            content_type: rules::content_type(key).into(),
            cache_control: rules::CacheRules::default().cache_control(key, hashed).into(),
        }
    }

    fn remote_of(f: &LocalFile, age: i64) -> RemoteObject {
        RemoteObject {
            size: f.size,
            etag: f.md5_hex(),
            last_modified: 1_000_000 - age,
        }
    }

    /// Every listed key published by this prefix's syncs.
    fn opts(delete: bool, remote: &BTreeMap<String, RemoteObject>) -> Options {
        Options {
            delete,
            grace: 3600,
            now: 1_000_000,
            published: remote.keys().cloned().collect(),
            ..Options::default()
        }
    }

    #[test]
    fn hashed_first_manifest_last_and_targeted_invalidation() {
        let files = vec![
            file("css/a.0123456789ab.css", b"a2"),
            file("index.html", b"<h1>2"),
            file("robots.txt", b"same"),
            file("staticfiles.json", b"{}2"),
            file("new.txt", b"new"),
        ];
        let mut remote = BTreeMap::new();
        remote.insert("index.html".to_string(), remote_of(&file("index.html", b"<h1>1"), 10));
        remote.insert("robots.txt".to_string(), remote_of(&files[2], 10));
        remote.insert(
            "staticfiles.json".to_string(),
            remote_of(&file("staticfiles.json", b"{}1"), 10),
        );
        remote.insert("css/a.111111111aaa.css".to_string(), remote_of(&file("x", b"old"), 10));
        remote.insert("old.txt".to_string(), remote_of(&file("old.txt", b"old"), 10));
        let options = Options {
            superseded: [("old.txt".to_string(), (1_000_000 - 7200, false))].into(),
            ..opts(true, &remote)
        };
        let plan = diff(&files, &remote, &HashMap::new(), &options);
        assert_eq!(plan.hashed_uploads, vec![(0, Why::New)]);
        assert_eq!(
            plan.other_uploads,
            vec![(1, Why::Changed), (4, Why::New), (3, Why::Changed)]
        );
        assert_eq!(plan.unchanged, 1);
        // The hashed file gone only now stays; the file gone two hours ago goes.
        assert_eq!(plan.deletes, vec!["old.txt"]);
        assert_eq!(plan.kept, 1);
        let batch = plan.invalidation.unwrap();
        assert_eq!(batch.paths, vec!["/", "/index.html", "/old.txt", "/staticfiles.json"]);
    }

    #[test]
    fn without_delete_nothing_goes_and_long_superseded_hashed_go_with_it() {
        let files = vec![file("index.html", b"x")];
        let mut remote = BTreeMap::new();
        remote.insert("index.html".to_string(), remote_of(&files[0], 10));
        remote.insert("a.0123456789ab.css".to_string(), remote_of(&file("y", b"y"), 7200));
        remote.insert(".cdnctl/state.json".to_string(), remote_of(&file("s", b"{}"), 10));
        remote.insert(
            "static/.cdnctl/state.json".to_string(),
            remote_of(&file("s", b"{}"), 10),
        );
        let plan = diff(&files, &remote, &HashMap::new(), &opts(false, &remote));
        assert!(!plan.has_writes());
        assert!(plan.invalidation.is_none());
        assert_eq!(plan.kept, 1);
        // Uploaded two hours ago, but superseded only now: it stays.
        let plan = diff(&files, &remote, &HashMap::new(), &opts(true, &remote));
        assert!(plan.deletes.is_empty());
        assert_eq!(plan.kept, 1);
        // Superseded two hours ago: past the grace, it goes (any prefix's state stays).
        let superseded = Options {
            superseded: [("a.0123456789ab.css".to_string(), (1_000_000 - 7200, true))].into(),
            ..opts(true, &remote)
        };
        let plan = diff(&files, &remote, &HashMap::new(), &superseded);
        assert_eq!(plan.deletes, vec!["a.0123456789ab.css"]);
        assert!(plan.invalidation.is_none(), "old hashed files need no invalidation");
        // Unless one of the last deploys still names it.
        let protected = Options {
            protected: ["a.0123456789ab.css".to_string()].into(),
            ..superseded
        };
        let plan = diff(&files, &remote, &HashMap::new(), &protected);
        assert!(plan.deletes.is_empty());
        assert_eq!(plan.kept, 1);
    }

    #[test]
    fn header_updates_only_where_headers_differ() {
        let files = vec![file("a.txt", b"a"), file("b.txt", b"b")];
        let remote: BTreeMap<_, _> = files.iter().map(|f| (f.key.clone(), remote_of(f, 10))).collect();
        let mut heads = HashMap::new();
        heads.insert(
            "a.txt".to_string(),
            ObjectHeaders {
                content_type: Some(files[0].content_type.clone()),
                cache_control: Some("no-cache".into()),
            },
        );
        heads.insert(
            "b.txt".to_string(),
            ObjectHeaders {
                content_type: Some(files[1].content_type.clone()),
                cache_control: Some(files[1].cache_control.clone()),
            },
        );
        let plan = diff(&files, &remote, &heads, &opts(false, &remote));
        assert_eq!(plan.header_updates, vec![0]);
        assert!(plan.uploads().next().is_none());
        assert_eq!(plan.invalidation.unwrap().paths, vec!["/a.txt"]);

        // A hashed file whose headers change is stale at the edge too.
        let files = vec![file("a.0123456789ab.css", b"a")];
        let remote: BTreeMap<_, _> = files.iter().map(|f| (f.key.clone(), remote_of(f, 10))).collect();
        let heads: HashMap<_, _> = [("a.0123456789ab.css".to_string(), ObjectHeaders::default())].into();
        let plan = diff(&files, &remote, &heads, &opts(false, &remote));
        assert_eq!(plan.invalidation.unwrap().paths, vec!["/a.0123456789ab.css"]);
    }

    #[test]
    fn only_published_keys_go_and_never_a_nested_prefix() {
        let files = vec![file("index.html", b"x")];
        let mut remote = BTreeMap::new();
        for key in [
            "index.html",
            "old.txt",
            "media/photo.jpg",
            "blog/index.html",
            "blog/.cdnctl/state.json",
        ] {
            remote.insert(key.to_string(), remote_of(&file(key, key.as_bytes()), 10));
        }
        let gone_long_ago = |keys: &[&str]| -> BTreeMap<String, (i64, bool)> {
            keys.iter()
                .map(|k| (k.to_string(), (1_000_000 - 7200, false)))
                .collect()
        };
        let options = Options {
            published: ["index.html", "old.txt", "blog/index.html"].map(String::from).into(),
            superseded: gone_long_ago(&["old.txt", "blog/index.html"]),
            nested: vec!["blog/".into()],
            ..opts(true, &remote)
        };
        let plan = diff(&files, &remote, &HashMap::new(), &options);
        assert_eq!(plan.deletes, vec!["old.txt"]);
        assert_eq!(plan.unpublished, vec!["blog/index.html", "media/photo.jpg"]);
        assert_eq!(plan.nested, 1);
        // Said explicitly: the unpublished go too, and count against the limit; a nested prefix's never.
        let all = Options {
            delete_unpublished: true,
            ..options.clone()
        };
        let plan = diff(&files, &remote, &HashMap::new(), &all);
        assert_eq!(plan.deletes, vec!["media/photo.jpg", "old.txt"]);
        assert_eq!(plan.unpublished, vec!["blog/index.html"]);
        assert_eq!((plan.going, plan.deletable), (1, 3));
        // Without --delete, neither.
        let plan = diff(&files, &remote, &HashMap::new(), &Options { delete: false, ..all });
        assert!(plan.deletes.is_empty());
        assert_eq!((plan.kept, plan.unpublished.len()), (1, 2));
    }

    #[test]
    fn every_file_gets_the_grace_and_the_limit_judges_files_not_hashed() {
        // index.html, robots.txt and favicon.ico, 21 hashed assets; DIR holds
        // only the assets (at the wrong place).
        let mut remote = BTreeMap::new();
        let mut files = vec![];
        for i in 0..21 {
            let key = format!("assets/index-Ab{i:02}x_9Q.js");
            files.push(file(&key.replace("assets/", ""), key.as_bytes()));
            remote.insert(key.clone(), remote_of(&file(&key, key.as_bytes()), 10));
        }
        for key in ["index.html", "robots.txt", "favicon.ico"] {
            remote.insert(key.to_string(), remote_of(&file(key, key.as_bytes()), 10));
        }
        let options = Options {
            fresh: remote.keys().cloned().collect(),
            grace: 0,
            ..opts(true, &remote)
        };
        let plan = diff(&files, &remote, &HashMap::new(), &options);
        assert_eq!((plan.going, plan.deletable), (3, 3));
        // With a grace, nothing goes now, and the limit judges the same files.
        let plan = diff(
            &files,
            &remote,
            &HashMap::new(),
            &Options {
                grace: 60,
                ..options.clone()
            },
        );
        assert!(plan.deletes.is_empty());
        assert_eq!((plan.going, plan.deletable, plan.kept), (3, 3, 24));
        // Found gone by an earlier run: judged then, not again.
        let plan = diff(
            &files,
            &remote,
            &HashMap::new(),
            &Options {
                fresh: BTreeSet::new(),
                ..options
            },
        );
        assert_eq!((plan.going, plan.deletable), (0, 3));
    }

    #[test]
    fn every_file_gets_the_grace() {
        let files = vec![file("index.html", b"x")];
        let mut remote = BTreeMap::new();
        remote.insert("index.html".to_string(), remote_of(&files[0], 7200));
        for key in ["chunks/main-3f1c2b7a9d0e4f21.js", "about.html"] {
            remote.insert(key.to_string(), remote_of(&file(key, key.as_bytes()), 7200));
        }
        // Uploaded two hours ago, gone from DIR only now: kept.
        let plan = diff(&files, &remote, &HashMap::new(), &opts(true, &remote));
        assert!(plan.deletes.is_empty());
        assert_eq!(plan.kept, 2);
        // Gone two hours ago: past the grace, they go, and are invalidated.
        let options = Options {
            superseded: ["chunks/main-3f1c2b7a9d0e4f21.js", "about.html"]
                .map(|k| (k.to_string(), (1_000_000 - 7200, false)))
                .into(),
            ..opts(true, &remote)
        };
        let plan = diff(&files, &remote, &HashMap::new(), &options);
        assert_eq!(plan.deletes, vec!["about.html", "chunks/main-3f1c2b7a9d0e4f21.js"]);
        assert_eq!(
            plan.invalidation.unwrap().paths,
            vec!["/about.html", "/chunks/main-3f1c2b7a9d0e4f21.js"]
        );
    }
}
