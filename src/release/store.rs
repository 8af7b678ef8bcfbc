//! The releases as the stack's KeyValueStore records them (`kvs.rs`'s
//! keys): the pointers (`live`, and `preview:NAME` for each preview), each
//! holding a route (`route.rs`), each release's metadata (`release:<id>`; a
//! preview's names its preview) and each live release's route (`route:<id>`,
//! what a rollback writes; a preview's route is its pointer's value). A
//! pointer's value is written as `Route::encode` gives it and read back with
//! `Route::parse`, so `live` and a preview hold the same kind of value.
//!
//! The switch, a rollback and pruning write only if the store is as they read
//! it: they name the ETag read before the listing (If-Match), so another
//! writer in between (a deploy, a rollback, a preview) makes AWS refuse the
//! write (ConflictException). The store is then read again, and the write
//! made only if `live` is still what was planned on; else refused, with
//! nothing switched. Two racing deploys or a deploy racing a rollback can
//! then never undo each other, nor point `live` at files pruned meanwhile.
//! Other writes (a preview's removal, releases turned off) name the ETag
//! read just before them.

use anyhow::anyhow;
use aws_sdk_cloudfrontkeyvaluestore::types::{DeleteKeyRequestListItem, PutKeyRequestListItem};

use super::route::{Route, KEY_MAX, VALUE_MAX};
use super::Release;
use crate::aws::{describe, Clients};
use crate::resources::kvs;
use crate::spec::Spec;

/// The store's metadata keys: `release:<id>`.
const RELEASE: &str = "release:";
/// Each release's route: `route:<id>` (what a rollback writes to `live`).
const ROUTE: &str = "route:";
/// A preview's pointer: `preview:NAME` (the function's `routeKey`).
const PREVIEW: &str = "preview:";

/// A key the function reads a route from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pointer {
    Live,
    Preview(String),
}

impl Pointer {
    pub fn key(&self) -> String {
        match self {
            Pointer::Live => kvs::LIVE.to_string(),
            Pointer::Preview(name) => format!("{PREVIEW}{name}"),
        }
    }
}

/// A preview: its name, its route (`preview:NAME`'s value), the release it
/// publishes (the route's head) and that release's metadata, when read.
#[derive(Debug, Clone)]
pub struct Preview {
    pub name: String,
    pub id: String,
    pub route: Route,
    pub release: Option<Release>,
}

/// The stack's store, found by its name.
pub struct Store<'a> {
    plane: &'a aws_sdk_cloudfrontkeyvaluestore::Client,
    pub arn: String,
    /// The data plane's ETag when found, before any listing.
    etag: String,
}

/// What the store says: the live release, every recorded one (previews'
/// apart), and the previews.
pub struct Seen {
    /// The live release: the newest of the live route.
    pub live: Option<String>,
    /// The live route (a plain id before chains: a base).
    pub route: Option<Route>,
    pub releases: Vec<Release>,
    /// Each recorded route, by release.
    pub routes: std::collections::BTreeMap<String, Route>,
    /// By name.
    pub previews: Vec<Preview>,
    /// `live` as stored, and the ETag read before the listing.
    pub value: Option<String>,
    pub etag: String,
}

impl Seen {
    /// A release's route: recorded, else (recorded before chains) the
    /// release whole.
    pub fn route_of(&self, id: &str) -> Route {
        self.routes.get(id).cloned().unwrap_or_else(|| Route::whole(id))
    }
}

impl<'a> Store<'a> {
    /// The stack's store, refused when releases are off or `up` has not made it.
    pub async fn find(clients: &'a Clients, spec: &Spec) -> anyhow::Result<Store<'a>> {
        let name = kvs::name(&spec.bucket);
        let found = kvs::observe(&clients.cloudfront, &clients.kvs, &name).await?;
        let comment = crate::spec::comment(&spec.bucket);
        if let Some(why) = found.as_ref().and_then(|s| kvs::refusal(s, &comment)) {
            return Err(anyhow!(why));
        }
        match found {
            Some(s) if s.is_owned(&comment) && s.status == "READY" => Ok(Store {
                plane: &clients.kvs,
                arn: s.arn,
                etag: s.etag.unwrap_or_default(),
            }),
            Some(s) if s.status != "READY" => Err(anyhow!(
                "key value store {name}: {}, not READY yet: run `cdnctl up` (it waits for it)",
                s.status
            )),
            Some(_) => Err(anyhow!(
                "key value store {name}: not this stack's (its comment differs): releases cannot be published"
            )),
            None => Err(anyhow!(
                "key value store {name}: missing: run `cdnctl up` with CDN_RELEASES set first"
            )),
        }
    }

    /// The live release, the recorded ones and the previews (unreadable
    /// metadata, and a preview whose value is no route, are skipped).
    pub async fn read(&self) -> anyhow::Result<Seen> {
        self.list(self.etag.clone()).await
    }

    /// Read again, after another writer: the ETag first, then the keys.
    async fn reread(&self) -> anyhow::Result<Seen> {
        let etag = kvs::current_etag(self.plane, &self.arn).await?;
        self.list(etag).await
    }

    async fn list(&self, etag: String) -> anyhow::Result<Seen> {
        let mut live = None;
        let mut releases = Vec::new();
        let mut routes = std::collections::BTreeMap::new();
        let mut pointers = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .plane
                .list_keys()
                .kvs_arn(&self.arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| describe(format!("key value store {}: ListKeys", self.arn), e))?;
            for item in page.items() {
                if item.key() == kvs::LIVE {
                    live = Some(item.value().to_string());
                } else if let Some(name) = item.key().strip_prefix(PREVIEW) {
                    if let Some(route) = Route::parse(item.value()) {
                        pointers.push((name.to_string(), route));
                    }
                } else if let Some(id) = item.key().strip_prefix(ROUTE) {
                    if let Some(route) = Route::parse(item.value()) {
                        routes.insert(id.to_string(), route);
                    }
                } else if let Some(id) = item.key().strip_prefix(RELEASE) {
                    if let Ok(mut r) = serde_json::from_str::<Release>(item.value()) {
                        r.id = id.to_string();
                        releases.push(r);
                    }
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        // A preview's release is not among the releases: never pruned,
        // never a rollback's target. Its metadata without its pointer (an
        // interrupted write) is left out too.
        let (previewed, mut releases): (Vec<Release>, Vec<Release>) =
            releases.into_iter().partition(|r| r.preview.is_some());
        super::newest_first(&mut releases);
        let previews = pointers
            .into_iter()
            .map(|(name, route)| Preview {
                id: route.head().to_string(),
                release: previewed.iter().find(|r| r.id == route.head()).cloned(),
                name,
                route,
            })
            .collect();
        let route = match &live {
            Some(value) => Some(Route::parse(value).ok_or_else(|| {
                anyhow!(
                    "key value store {}: `live` holds {value:?}, not a release's route: \
                     `cdnctl rollback RELEASE` writes a kept one",
                    self.arn
                )
            })?),
            None => None,
        };
        Ok(Seen {
            live: route.as_ref().map(|r| r.head().to_string()),
            route,
            releases,
            routes,
            previews,
            value: live,
            etag,
        })
    }

    /// The switch, in one write: the release's metadata and `pointer` set to
    /// its route; for `live`, the route is recorded too (`route:<id>`, what
    /// a rollback writes). The only write of a new route to a pointer.
    /// Refused when `live` changed since `seen` was read (a preview is
    /// planned over the live route too); answers the ETag after it.
    pub async fn switch(
        &self,
        pointer: &Pointer,
        release: &Release,
        route: &Route,
        seen: &Seen,
    ) -> anyhow::Result<String> {
        let written = route.clone();
        let mut value = serde_json::to_value(release)?;
        value.as_object_mut().map(|o| o.remove("id"));
        let route = route.encode();
        let mut puts = vec![PutKeyRequestListItem::builder()
            .key(format!("{RELEASE}{}", release.id))
            .value(value.to_string())
            .build()?];
        if *pointer == Pointer::Live {
            puts.push(
                PutKeyRequestListItem::builder()
                    .key(format!("{ROUTE}{}", release.id))
                    .value(&route)
                    .build()?,
            );
        }
        puts.push(
            PutKeyRequestListItem::builder()
                .key(pointer.key())
                .value(route)
                .build()?,
        );
        // Refused here, with what is too long, rather than by the store.
        for put in &puts {
            if put.key().len() > KEY_MAX || put.value().len() > VALUE_MAX {
                anyhow::bail!(
                    "release {}: its key {} would hold {} bytes under a {}-byte key; a store takes keys of \
                     at most {KEY_MAX} bytes and values of at most {VALUE_MAX} (CloudFront quotas)",
                    release.id,
                    put.key(),
                    put.value().len(),
                    put.key().len()
                );
            }
        }
        let landed = |now: &Seen| match pointer {
            Pointer::Live => now.route.as_ref() == Some(&written),
            Pointer::Preview(name) => now.previews.iter().any(|p| &p.name == name && p.route == written),
        };
        let what = format!("release {}", release.id);
        self.update_as_read(&what, seen, Some(puts), None, landed, |_| true)
            .await
    }

    /// A rollback: `live` alone, set to the release's route; refused when
    /// `live` changed since `seen`, or the release is no longer kept.
    pub async fn point(&self, id: &str, route: &Route, seen: &Seen) -> anyhow::Result<()> {
        let put = PutKeyRequestListItem::builder()
            .key(kvs::LIVE)
            .value(route.encode())
            .build()?;
        let landed = |now: &Seen| now.route.as_ref() == Some(route);
        let kept = |now: &Seen| now.releases.iter().any(|r| r.id == id);
        self.update_as_read(&format!("rollback to {id}"), seen, Some(vec![put]), None, landed, kept)
            .await
            .map(|_| ())
    }

    /// Releases off: `live` deleted, so the function serves the bucket's
    /// files in place (one write; the records are kept).
    pub async fn unpoint(&self) -> anyhow::Result<()> {
        let delete = DeleteKeyRequestListItem::builder().key(kvs::LIVE).build()?;
        self.update(None, Some(vec![delete])).await
    }

    /// Forget previews (their pointers) and their releases (their
    /// metadata), in one write.
    pub async fn forget_previews(&self, names: &[String], ids: &[String]) -> anyhow::Result<()> {
        let keys = names
            .iter()
            .map(|n| Pointer::Preview(n.clone()).key())
            .chain(ids.iter().map(|id| format!("{RELEASE}{id}")));
        let deletes = keys
            .map(|key| DeleteKeyRequestListItem::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()?;
        if deletes.is_empty() {
            return Ok(());
        }
        self.update(None, Some(deletes)).await
    }

    /// Forget pruned releases (their metadata and routes), in one write,
    /// only if nothing was written since the switch (`etag`, what it
    /// answered): `false` when something was, and nothing is forgotten.
    pub async fn forget(&self, ids: &[String], etag: &str) -> anyhow::Result<bool> {
        let deletes = ids
            .iter()
            .flat_map(|id| [format!("{RELEASE}{id}"), format!("{ROUTE}{id}")])
            .map(|key| DeleteKeyRequestListItem::builder().key(key).build())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.update_if(etag, None, Some(deletes)).await?.is_some())
    }

    /// One UpdateKeys naming `etag`: the new ETag, or `None` when another
    /// write came first (ConflictException).
    async fn update_if(
        &self,
        etag: &str,
        puts: Option<Vec<PutKeyRequestListItem>>,
        deletes: Option<Vec<DeleteKeyRequestListItem>>,
    ) -> anyhow::Result<Option<String>> {
        let out = self
            .plane
            .update_keys()
            .kvs_arn(&self.arn)
            .set_puts(puts)
            .set_deletes(deletes)
            .if_match(etag)
            .send()
            .await;
        match out {
            Ok(out) => Ok(Some(out.e_tag)),
            Err(e) if crate::aws::is_store_conflict(&e) => Ok(None),
            Err(e) => Err(describe(format!("key value store {}: UpdateKeys", self.arn), e)),
        }
    }

    /// The write, if the store is as `seen` read it. After another writer,
    /// read again: done if this very write landed (its answer lost), again
    /// if `live` is unchanged and `still` holds (other keys, a preview's or
    /// a record, may change meanwhile), else refused.
    async fn update_as_read(
        &self,
        what: &str,
        seen: &Seen,
        puts: Option<Vec<PutKeyRequestListItem>>,
        deletes: Option<Vec<DeleteKeyRequestListItem>>,
        landed: impl Fn(&Seen) -> bool,
        still: impl Fn(&Seen) -> bool,
    ) -> anyhow::Result<String> {
        let mut etag = seen.etag.clone();
        for _ in 0..4 {
            if let Some(done) = self.update_if(&etag, puts.clone(), deletes.clone()).await? {
                return Ok(done);
            }
            let now = self.reread().await?;
            if landed(&now) {
                return Ok(now.etag);
            }
            if now.value != seen.value || !still(&now) {
                anyhow::bail!(
                    "{what}: not written: the store changed since it was read (`live` is now {}; another \
                     deploy or a rollback ran meanwhile): nothing switched; run the command again",
                    now.live.as_deref().unwrap_or("none")
                );
            }
            etag = now.etag;
        }
        anyhow::bail!("{what}: not written: the store kept changing (ConflictException); run the command again")
    }

    async fn update(
        &self,
        puts: Option<Vec<PutKeyRequestListItem>>,
        deletes: Option<Vec<DeleteKeyRequestListItem>>,
    ) -> anyhow::Result<()> {
        kvs::write_current(self.plane, &self.arn, "UpdateKeys", |etag| {
            self.plane
                .update_keys()
                .kvs_arn(&self.arn)
                .set_puts(puts.clone())
                .set_deletes(deletes.clone())
                .if_match(etag)
                .send()
        })
        .await
    }
}
