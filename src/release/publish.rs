//! Publishing DIR as a new release, switching to it, and pruning (see the
//! module above for the layout and what it costs). The plan is pure; the
//! writes follow it.

use std::collections::BTreeMap;

use anyhow::anyhow;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, ObjectIdentifier};
use futures_util::{stream, StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::store::{Pointer, Store};
use super::{assets, edge, prefix, Release, META};
use crate::aws::{describe, Clients, Waiting};
use crate::check::Http;
use crate::events::Events;
use crate::report::{Report, Text};
use crate::resources::function::is_hashed;
use crate::spec::Spec;
use crate::sync::listing::RemoteObject;
use crate::sync::scan::{self, LocalFile};
use crate::sync::{remote, SyncOptions};

/// What to do with one file of the release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send its bytes.
    Upload,
    /// Unchanged since the release `from`'s: copy it inside the bucket.
    Copy { from: String },
    /// A content-hashed file already stored with these bytes.
    Stored,
}

#[derive(Debug, Clone)]
pub struct Item<'a> {
    pub file: &'a LocalFile,
    pub key: String,
    pub cache_control: String,
    pub action: Action,
}

/// Each file's key and action. Refused (every such file named) when a
/// content-hashed name is already stored with other bytes: an asset is
/// shared by the kept releases and is never overwritten.
pub fn plan<'a>(
    files: &'a [LocalFile],
    id: &str,
    opts: &SyncOptions,
    previous: Option<(&str, &BTreeMap<String, RemoteObject>)>,
    stored: &BTreeMap<String, RemoteObject>,
) -> Result<Vec<Item<'a>>, Vec<String>> {
    let mut items = Vec::with_capacity(files.len());
    let mut refused = Vec::new();
    for f in files {
        let name = f.rel.rsplit('/').next().unwrap_or(&f.rel);
        let item = if is_hashed(name) {
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
            Item {
                file: f,
                key,
                cache_control: opts.rules.cache_control(&f.rel, true).to_string(),
                action,
            }
        } else {
            let action = previous
                .and_then(|(from, objects)| {
                    let o = objects.get(&format!("{}{}", prefix(from), f.rel))?;
                    f.same_content(&o.etag).then(|| Action::Copy { from: from.to_string() })
                })
                .unwrap_or(Action::Upload);
            Item {
                file: f,
                key: format!("{}{}", prefix(id), f.rel),
                cache_control: f.cache_control.clone(),
                action,
            }
        };
        items.push(item);
    }
    if refused.is_empty() {
        Ok(items)
    } else {
        Err(refused)
    }
}

/// A URL path of a page of the release, to ask the edge which release it
/// serves: the root's index, else the first page, else the first file not
/// content-hashed.
pub fn probe_page(items: &[Item]) -> Option<String> {
    let own: Vec<&str> = items
        .iter()
        .filter(|i| !matches!(i.action, Action::Stored) && !i.key.starts_with(&assets()))
        .map(|i| i.file.rel.as_str())
        .collect();
    if own.contains(&"index.html") {
        return Some("/".into());
    }
    own.iter()
        .find(|r| r.ends_with(".html"))
        .or(own.first())
        .map(|r| format!("/{}", crate::check::probes::encode(r)))
}

/// What a release's publication did.
#[derive(Debug, Serialize)]
pub struct Published {
    pub bucket: String,
    pub release: String,
    /// The release live before, if any.
    pub previous: Option<String>,
    pub files: u64,
    pub bytes: u64,
    /// Files sent, and their bytes.
    pub uploaded: usize,
    pub bytes_uploaded: u64,
    /// Files copied inside the bucket from the previous release.
    pub copied: usize,
    /// Content-hashed files already stored.
    pub assets_stored: usize,
    /// Copied or already stored: nothing sent.
    pub unchanged: usize,
    /// Seconds from the switch until the edge served it.
    pub edge_seconds: Option<f64>,
    pub pruned: Vec<String>,
    /// Files of pruned releases (and removed previews) deleted.
    pub deleted: usize,
    /// The preview published (`--preview NAME`), and where it is served.
    pub preview: Option<String>,
    pub preview_url: Option<String>,
    /// Previews removed: this one's replaced release, those past their days.
    pub previews_removed: Vec<String>,
    pub dry_run: bool,
}

impl Report for Published {
    fn text(&self) -> Text {
        let mut result = vec![format!(
            "{}release {}: {} files, {} bytes{}",
            self.preview
                .as_deref()
                .map(|n| format!("preview {n}: "))
                .unwrap_or_default(),
            self.release,
            self.files,
            self.bytes,
            if self.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        )];
        result.push(format!(
            "  {} uploaded ({} bytes), {} copied from {}, {} assets already stored",
            self.uploaded,
            self.bytes_uploaded,
            self.copied,
            self.previous.as_deref().unwrap_or("no earlier release"),
            self.assets_stored
        ));
        match (self.edge_seconds, &self.preview_url) {
            (Some(s), Some(url)) => result.push(format!("  the edge serves it at {url}, {s:.1}s after the switch")),
            (Some(s), None) => result.push(format!("  live: the edge serves it, {s:.1}s after the switch")),
            _ => {}
        }
        if !self.previews_removed.is_empty() {
            result.push(format!("  previews removed: {}", self.previews_removed.join(", ")));
        }
        if let Some(url) = &self.preview_url {
            result.push(format!("preview: {url}"));
        }
        if !self.pruned.is_empty() {
            result.push(format!(
                "  pruned {} ({} files deleted; assets kept)",
                self.pruned.join(", "),
                self.deleted
            ));
        }
        Text { result, info: vec![] }
    }
}

/// Everything a publication needs.
pub struct Publisher<'a> {
    pub clients: &'a Clients,
    pub spec: &'a Spec,
    pub waiting: &'a Waiting,
    pub opts: &'a SyncOptions,
    pub http: &'a Http,
    pub events: &'a dyn Events,
    /// `--preview NAME`: publish to `preview:NAME` instead of `live`.
    pub preview: Option<&'a str>,
}

impl Publisher<'_> {
    /// Scan ∥ the store ∥ the bucket → plan → transfer → switch → the edge → prune.
    pub async fn run(&self) -> anyhow::Result<Published> {
        let (spec, opts) = (self.spec, self.opts);
        if !opts.prefix.is_empty() {
            anyhow::bail!(
                "--prefix {}: a release is the whole site, published under its own prefix: drop --prefix \
                 (or set CDN_RELEASES=0 to publish in place)",
                opts.prefix
            );
        }
        let scanning = {
            let (dir, rules, follow, hidden) = (
                opts.dir.clone(),
                opts.rules.clone(),
                opts.follow_links,
                opts.include_hidden,
            );
            tokio::task::spawn_blocking(move || scan::scan(&dir, "", &rules, ".cdnctl/", follow, hidden))
        };
        let s3 = self.clients.uploading_s3();
        let (destination, store) = tokio::join!(
            remote::find_destination(self.clients, spec, self.waiting),
            Store::find(self.clients, spec)
        );
        let (destination, store) = (destination?, store?);
        let seen = store.read().await?;
        let previous = seen.live.clone();
        let (pointer, preview_host) = match (self.preview, &spec.previews) {
            (Some(name), Some(p)) => (Pointer::Preview(name.to_string()), Some(p.host(name))),
            (Some(name), None) => anyhow::bail!("--preview {name}: previews are off on this stack"),
            (None, _) => (Pointer::Live, None),
        };
        let shared = assets();
        let (listed, stored, host) = tokio::join!(
            async {
                match &previous {
                    Some(p) => remote::list(&s3, &spec.bucket, &prefix(p)).await.map(|(o, _)| o),
                    None => Ok(BTreeMap::new()),
                }
            },
            remote::list(&s3, &spec.bucket, &shared),
            edge::host(self.clients, spec, &destination)
        );
        let (listed, (stored, _), host) = (listed?, stored?, host?);
        let host = preview_host.clone().unwrap_or(host);
        let local = scanning.await.map_err(|e| anyhow!("scan: {e}"))??;
        for w in &local.warnings {
            self.events.warn(w);
        }
        if local.files.is_empty() {
            anyhow::bail!(
                "DIR: {} holds no files to publish (did the build run?)",
                opts.dir.display()
            );
        }
        let id = super::new_id(std::time::SystemTime::now());
        let items = plan(
            &local.files,
            &id,
            opts,
            previous.as_deref().map(|p| (p, &listed)),
            &stored,
        )
        .map_err(crate::exit::Failed::Refused)?;
        let page = probe_page(&items);
        let release = Release {
            id: id.clone(),
            // To the second: a column people read.
            when: aws_smithy_types::DateTime::from_secs(
                aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs(),
            )
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default(),
            source: super::source(),
            files: local.files.len() as u64,
            bytes: local.files.iter().map(|f| f.size).sum(),
            page: page.clone(),
            preview: self.preview.map(String::from),
        };
        let count = |want: fn(&Action) -> bool| items.iter().filter(|i| want(&i.action)).count();
        let mut out = Published {
            bucket: spec.bucket.clone(),
            release: id.clone(),
            previous: previous.clone(),
            files: release.files,
            bytes: release.bytes,
            uploaded: count(|a| *a == Action::Upload),
            bytes_uploaded: items
                .iter()
                .filter(|i| i.action == Action::Upload)
                .map(|i| i.file.size)
                .sum(),
            copied: count(|a| matches!(a, Action::Copy { .. })),
            assets_stored: count(|a| *a == Action::Stored),
            unchanged: count(|a| *a != Action::Upload),
            edge_seconds: None,
            pruned: vec![],
            deleted: 0,
            preview: self.preview.map(String::from),
            preview_url: preview_host.as_ref().map(|h| format!("https://{h}/")),
            previews_removed: vec![],
            dry_run: opts.dry_run,
        };
        if opts.dry_run {
            return Ok(out);
        }

        self.events.info(&format!(
            "release {id}: {} to upload, {} to copy from {}, {} assets already stored",
            out.uploaded,
            out.copied,
            previous.as_deref().unwrap_or("no earlier release"),
            out.assets_stored
        ));
        // Assets first: a page of the release never names one not yet there.
        let (shared, own): (Vec<&Item>, Vec<&Item>) = items
            .iter()
            .filter(|i| i.action != Action::Stored)
            .partition(|i| i.key.starts_with(&assets()));
        for batch in [shared, own] {
            self.transfer(&s3, &id, &batch).await?;
        }

        // The switch: one write. Nothing was visible before it.
        store.switch(&pointer, &release).await?;
        let replaced: Vec<String> = match &pointer {
            Pointer::Live => vec![],
            Pointer::Preview(name) => seen
                .previews
                .iter()
                .filter(|p| &p.name == name && p.id != id)
                .map(|p| p.id.clone())
                .collect(),
        };
        self.events.done(&format!(
            "release {id}: switched (`{}`, {})",
            pointer.key(),
            match (&pointer, previous.as_deref(), replaced.first()) {
                (Pointer::Live, Some(p), _) => format!("was {p}"),
                (Pointer::Live, None, _) => "the first release".into(),
                (Pointer::Preview(_), _, Some(r)) => format!("was {r}"),
                (Pointer::Preview(_), _, None) => "a new preview".into(),
            }
        ));
        match &page {
            Some(page) => {
                // A preview host asks for its credentials, when set.
                let auth = (spec.previews.as_ref())
                    .filter(|_| self.preview.is_some())
                    .and_then(|p| p.authorization());
                let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
                let took = edge::wait_for(self.http, &host, page, &headers, &id, self.waiting, self.events).await?;
                out.edge_seconds = Some(took.as_secs_f64());
                self.events.done(&format!(
                    "release {id}: the edge serves it ({:.1}s)",
                    took.as_secs_f64()
                ));
            }
            None => self.events.warn(&format!(
                "release {id}: every file is content-hashed, so no page tells which release the edge \
                 serves: not waited for (a store write reaches the edges within seconds)"
            )),
        }

        // Previews past their days, and the release this preview replaced.
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
        let expired = spec.previews.as_ref().map_or_else(Vec::new, |p| {
            super::preview::expired(&seen.previews, p.days, now)
                .into_iter()
                .filter(|e| Some(e.name.as_str()) != self.preview)
                .collect()
        });
        if !expired.is_empty() || !replaced.is_empty() {
            out.deleted += super::preview::remove(&store, &s3, &spec.bucket, &expired, &replaced).await?;
            out.previews_removed = expired.iter().map(|p| p.name.clone()).collect();
            out.previews_removed
                .extend(replaced.iter().map(|r| format!("{r} (replaced)")));
            self.events
                .done(&format!("previews removed: {}", out.previews_removed.join(", ")));
        }
        if self.preview.is_some() {
            // A preview never counts among the releases: nothing to prune.
            return Ok(out);
        }

        // Prune, now that the release is live.
        let mut all = seen.releases;
        all.push(release);
        let pruned = super::to_prune(&all, Some(&id), spec.releases as usize);
        if !pruned.is_empty() {
            store.forget(&pruned).await?;
            for old in &pruned {
                let (objects, _) = remote::list(&s3, &spec.bucket, &prefix(old)).await?;
                out.deleted += objects.len();
                delete(&s3, &spec.bucket, objects.into_keys().collect()).await?;
            }
            self.events.done(&format!("pruned {}", pruned.join(", ")));
        }
        out.pruned = pruned;
        Ok(out)
    }

    /// Upload or copy each item, `jobs` at a time, with progress.
    async fn transfer(&self, s3: &aws_sdk_s3::Client, id: &str, items: &[&Item<'_>]) -> anyhow::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let total: u64 = items.iter().map(|i| i.file.size).sum();
        let progress = self.events.transfer(items.len(), total);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let bucket = self.spec.bucket.as_str();
        stream::iter(items)
            .map(|item| {
                let (progress, done) = (&progress, &done);
                async move {
                    send(s3, bucket, id, item).await?;
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress.file_done(item.file.size, n, items.len());
                    anyhow::Ok(())
                }
            })
            .buffer_unordered(self.opts.jobs.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        progress.finish();
        Ok(())
    }
}

/// One file's write: a PUT with its bytes, or a copy from the earlier
/// release with the headers set again (the rules may have changed).
async fn send(s3: &aws_sdk_s3::Client, bucket: &str, id: &str, item: &Item<'_>) -> anyhow::Result<()> {
    let f = item.file;
    let what = format!("bucket {bucket}: {}", item.key);
    match &item.action {
        Action::Upload => {
            let body = ByteStream::from_path(&f.path)
                .await
                .map_err(|e| anyhow!("{}: {e}", f.path.display()))?;
            let mut put = s3
                .put_object()
                .bucket(bucket)
                .key(&item.key)
                .body(body)
                .content_length(f.size as i64)
                .content_type(&f.content_type)
                .cache_control(&item.cache_control)
                .metadata(META, id);
            if f.parts.is_empty() {
                put = put.content_md5(aws_smithy_types::base64::encode(f.md5));
            }
            put.send()
                .await
                .map_err(|e| describe(format!("{what}: PutObject"), e))?;
        }
        Action::Copy { from } => {
            s3.copy_object()
                .bucket(bucket)
                .key(&item.key)
                .copy_source(copy_source(bucket, &format!("{}{}", prefix(from), f.rel)))
                .metadata_directive(MetadataDirective::Replace)
                .content_type(&f.content_type)
                .cache_control(&item.cache_control)
                .metadata(META, id)
                .send()
                .await
                .map_err(|e| describe(format!("{what}: CopyObject"), e))?;
        }
        Action::Stored => {}
    }
    Ok(())
}

/// `bucket/key`, the key percent-encoded (CopySource is a URL path).
fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", crate::check::probes::encode(key))
}

pub(super) async fn delete(s3: &aws_sdk_s3::Client, bucket: &str, keys: Vec<String>) -> anyhow::Result<()> {
    for chunk in keys.chunks(1000) {
        let ids = chunk
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()?;
        crate::resources::bucket::delete_objects(s3, bucket, ids).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, body: &[u8]) -> LocalFile {
        use md5::{Digest as _, Md5};
        LocalFile {
            key: rel.into(),
            rel: rel.into(),
            path: rel.into(),
            size: body.len() as u64,
            md5: Md5::digest(body).into(),
            parts: vec![],
            whole_md5: Default::default(),
            hashed: false,
            manifest: false,
            content_type: "text/html".into(),
            cache_control: "no-cache".into(),
        }
    }

    fn object(body: &[u8]) -> RemoteObject {
        use md5::{Digest as _, Md5};
        RemoteObject {
            size: body.len() as u64,
            etag: scan::hex(&Md5::digest(body)),
            last_modified: 0,
        }
    }

    fn opts() -> SyncOptions {
        let request = crate::sync::options::SyncRequest {
            dir: ".".into(),
            prefix: None,
            settings: Default::default(),
            delete: false,
            delete_unpublished: false,
            delete_grace: "7d".into(),
            dry_run: false,
            wait: false,
            follow_links: false,
            include_hidden: false,
        };
        SyncOptions::resolve(&request, &BTreeMap::<String, String>::new()).unwrap()
    }

    /// Three changed files of many: three uploads; the rest copied or stored.
    #[test]
    fn only_what_changed_is_uploaded() {
        let files = vec![
            file("index.html", b"new home"),
            file("about.html", b"about"),
            file("js/app.0123456789ab.js", b"app"),
            file("js/new.abcdef012345.js", b"new chunk"),
            file("robots.txt", b"changed robots"),
        ];
        let previous: BTreeMap<String, RemoteObject> = [
            ("_cdnctl/releases/r1/index.html", object(b"old home")),
            ("_cdnctl/releases/r1/about.html", object(b"about")),
            ("_cdnctl/releases/r1/robots.txt", object(b"robots")),
        ]
        .into_iter()
        .map(|(k, o)| (k.to_string(), o))
        .collect();
        let stored: BTreeMap<String, RemoteObject> =
            [("_cdnctl/assets/js/app.0123456789ab.js".to_string(), object(b"app"))].into();
        let o = opts();
        let items = plan(&files, "r2", &o, Some(("r1", &previous)), &stored).unwrap();
        let got: Vec<(&str, &Action)> = items.iter().map(|i| (i.key.as_str(), &i.action)).collect();
        let copy = Action::Copy { from: "r1".into() };
        assert_eq!(
            got,
            vec![
                ("_cdnctl/releases/r2/index.html", &Action::Upload),
                ("_cdnctl/releases/r2/about.html", &copy),
                ("_cdnctl/assets/js/app.0123456789ab.js", &Action::Stored),
                ("_cdnctl/assets/js/new.abcdef012345.js", &Action::Upload),
                ("_cdnctl/releases/r2/robots.txt", &Action::Upload),
            ]
        );
        assert_eq!(probe_page(&items).as_deref(), Some("/"));
    }

    #[test]
    fn an_asset_is_never_overwritten_with_other_bytes() {
        let files = vec![file("js/app.0123456789ab.js", b"other bytes")];
        let stored: BTreeMap<String, RemoteObject> =
            [("_cdnctl/assets/js/app.0123456789ab.js".to_string(), object(b"app"))].into();
        let refused = plan(&files, "r2", &opts(), None, &stored).unwrap_err();
        assert_eq!(refused.len(), 1);
        assert!(refused[0].starts_with("js/app.0123456789ab.js: "), "{refused:?}");
    }
}
