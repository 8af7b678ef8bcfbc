//! Publishing DIR as a new release, switching to it, and pruning (see the
//! module above for the layout and what it costs). The plan is pure
//! (`plan.rs`, `route.rs`); the writes follow it. A preview
//! (`--preview NAME`, `preview.rs`) is planned over the live route the same
//! way and switched through `preview:NAME` instead of `live`.

use anyhow::anyhow;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, ObjectIdentifier};
use futures_util::{stream, StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use super::plan::{live_files, plan, probe_page, Action, Item, Live};
use super::route::Shape;
use super::store::{Pointer, Store};
use super::{assets, edge, prefix, Release, META};
use crate::aws::{describe, Clients, Waiting};
use crate::check::Http;
use crate::events::Events;
use crate::report::{Report, Text};
use crate::spec::Spec;
use crate::sync::scan;
use crate::sync::{destination, remote, SyncOptions};

/// What a release's publication did.
#[derive(Debug, Serialize)]
pub struct Published {
    pub bucket: String,
    /// The new release; the live one when nothing changed.
    pub release: String,
    /// The release live before, if any.
    pub previous: Option<String>,
    /// Whether `live` was switched (not when no file that is not
    /// content-hashed changed).
    pub switched: bool,
    /// How its route was made: chained on the live one, squashed, or whole.
    pub shape: Option<Shape>,
    pub files: u64,
    pub bytes: u64,
    /// Files sent, and their bytes.
    pub uploaded: usize,
    pub bytes_uploaded: u64,
    /// Unchanged files the release holds, copied inside the bucket.
    pub copied: usize,
    /// Unchanged files left where an older release of its route holds them.
    pub kept: usize,
    /// Content-hashed files already stored.
    pub assets_stored: usize,
    /// Copied, kept or already stored: nothing sent.
    pub unchanged: usize,
    /// Paths of the previous release this one no longer has.
    pub removed: usize,
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
        let over = self.previous.as_deref().unwrap_or("no earlier release");
        result.push(format!(
            "  {} uploaded ({} bytes), {} copied, {} kept in the releases before {over}, {} removed, {} assets already stored",
            self.uploaded, self.bytes_uploaded, self.copied, self.kept, self.removed, self.assets_stored
        ));
        if !self.switched && !self.dry_run {
            result.push(format!(
                "  no file that is not content-hashed changed: {} stays live, nothing switched",
                self.release
            ));
        }
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
                "  pruned {} ({} files deleted; assets and what kept releases read kept)",
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
            tokio::task::spawn_blocking(move || scan::scan(&dir, "", &rules, ".cdnctl/", follow, hidden, |_| {}))
        };
        let s3 = self.clients.uploading_s3();
        let (destination, store) = tokio::join!(
            destination::find_destination(self.clients, spec, self.waiting),
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
        // Every release the live route reads, listed.
        let reads: Vec<String> = seen.route.iter().flat_map(|r| r.ids().map(String::from)).collect();
        let shared = assets();
        let (listed, stored, host) = tokio::join!(
            futures_util::future::try_join_all(reads.iter().map(|id| {
                let s3 = &s3;
                async move {
                    let (objects, _) = remote::list(s3, &spec.bucket, &prefix(id)).await?;
                    anyhow::Ok((id.clone(), objects))
                }
            })),
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
        super::not_found::ready(spec, opts, &local.files).map_err(crate::exit::Failed::Refused)?;
        let rules = opts.rules.fingerprint();
        let files = seen.route.as_ref().map(|r| live_files(r, &listed));
        let live = seen.route.as_ref().zip(files.as_ref()).map(|(route, files)| Live {
            route,
            files,
            same_rules: seen
                .releases
                .iter()
                .find(|r| Some(&r.id) == previous.as_ref())
                .is_some_and(|r| r.rules.as_deref() == Some(rules.as_str())),
            // A preview is always a release of its own, over the live route.
            always: self.preview.is_some(),
        });
        let id = super::new_id(std::time::SystemTime::now());
        let planned = plan(&local.files, &id, opts, live.as_ref(), &stored).map_err(crate::exit::Failed::Refused)?;
        let items = &planned.items;
        let page = probe_page(items);
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
            rules: Some(rules),
            previous: previous.clone(),
        };
        let count = |want: fn(&Action) -> bool| items.iter().filter(|i| want(&i.action)).count();
        let switched = planned.route.is_some();
        let mut out = Published {
            bucket: spec.bucket.clone(),
            release: if switched {
                id.clone()
            } else {
                previous.clone().unwrap_or_default()
            },
            previous: previous.clone(),
            switched,
            shape: planned.route.as_ref().map(|(_, s)| *s),
            files: release.files,
            bytes: release.bytes,
            uploaded: count(|a| *a == Action::Upload),
            bytes_uploaded: items
                .iter()
                .filter(|i| i.action == Action::Upload)
                .map(|i| i.file.size)
                .sum(),
            copied: count(|a| matches!(a, Action::Copy { .. })),
            kept: count(|a| matches!(a, Action::Kept { .. })),
            assets_stored: count(|a| *a == Action::Stored),
            unchanged: count(|a| *a != Action::Upload),
            removed: planned.removed.len(),
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

        // Assets first: a page of the release never names one not yet there.
        let (shared, own): (Vec<&Item>, Vec<&Item>) = items
            .iter()
            .filter(|i| matches!(i.action, Action::Upload | Action::Copy { .. }))
            .partition(|i| i.key.starts_with(&assets()));
        let Some((route, shape)) = &planned.route else {
            self.transfer(&s3, &id, &shared).await?;
            self.events.done(&format!(
                "release {}: no file that is not content-hashed changed: it stays live ({} new assets stored)",
                out.release,
                shared.len()
            ));
            return Ok(out);
        };
        self.events.info(&format!(
            "release {id} ({}): {} to upload, {} to copy, {} kept where older releases hold them, {} assets already stored",
            shape.words(),
            out.uploaded,
            out.copied,
            out.kept,
            out.assets_stored
        ));
        for batch in [shared, own] {
            self.transfer(&s3, &id, &batch).await?;
        }

        // The switch: one write. Nothing was visible before it.
        let etag = store.switch(&pointer, &release, route, &seen).await?;
        let was = match &pointer {
            Pointer::Live => previous.clone(),
            Pointer::Preview(name) => seen.previews.iter().find(|p| &p.name == name).map(|p| p.id.clone()),
        };
        self.events.done(&format!(
            "release {id}: switched (`{}`, {})",
            pointer.key(),
            match (was, &pointer) {
                (Some(p), _) => format!("was {p}"),
                (None, Pointer::Live) => "the first release".into(),
                (None, Pointer::Preview(_)) => "a new preview".into(),
            }
        ));
        if pointer == Pointer::Live {
            // The 404 page is the live site's: a preview leaves it alone.
            let dist = destination.distribution_id.as_deref();
            let holder = super::not_found::holder(Some(route), &id, spec);
            super::not_found::follow(self.clients, spec, dist, holder, true, self.waiting, self.events).await?;
        }
        match &page {
            Some(page) => {
                // A preview host asks for its credentials, when set.
                let auth = (spec.previews.as_ref())
                    .filter(|_| self.preview.is_some())
                    .and_then(|p| p.authorization());
                let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
                let took =
                    edge::wait_for(self.http, &host, page, &headers, &id, &id, self.waiting, self.events).await?;
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

        // Previews past their days or replaced by this one, then (for a
        // live release) the releases past the setting.
        self.after_switch(&store, &s3, seen, release, route, &etag, &mut out)
            .await?;
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

/// One file's write: a PUT with its bytes, or a copy from where an earlier
/// release holds it, with the headers set again (the rules may have changed).
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
                .copy_source(copy_source(bucket, from))
                .metadata_directive(MetadataDirective::Replace)
                .content_type(&f.content_type)
                .cache_control(&item.cache_control)
                .metadata(META, id)
                .send()
                .await
                .map_err(|e| describe(format!("{what}: CopyObject"), e))?;
        }
        Action::Stored | Action::Kept { .. } => {}
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
