//! The releases as the stack's KeyValueStore records them (`kvs.rs`'s
//! keys): the live route, each release's metadata and its route (`route.rs`).
//!
//! The switch, a rollback and pruning write only if the store is as they read
//! it: they name the ETag read before the listing (If-Match), so another
//! writer in between (a deploy, a rollback, a preview) makes AWS refuse the
//! write (ConflictException). The store is then read again, and the write
//! made only if `live` is still what was planned on; else refused, with
//! nothing switched. Two racing deploys or a deploy racing a rollback can
//! then never undo each other, nor point `live` at files pruned meanwhile.

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

/// The stack's store, found by its name.
pub struct Store<'a> {
    plane: &'a aws_sdk_cloudfrontkeyvaluestore::Client,
    pub arn: String,
    /// The data plane's ETag when found, before any listing.
    etag: String,
}

/// What the store says: the live release and every recorded one.
pub struct Seen {
    /// The live release: the newest of the live route.
    pub live: Option<String>,
    /// The live route (a plain id before chains: a base).
    pub route: Option<Route>,
    pub releases: Vec<Release>,
    /// Each recorded route, by release.
    pub routes: std::collections::BTreeMap<String, Route>,
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

    /// The live release and the recorded ones (unreadable metadata is skipped).
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
        super::newest_first(&mut releases);
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
            value: live,
            etag,
        })
    }

    /// The switch, in one write: the release's metadata, its route, and
    /// `live` set to that route.
    /// Answers the ETag after it, for pruning. Refused when `live` changed
    /// since `seen` was read.
    pub async fn switch(&self, release: &Release, route: &Route, seen: &Seen) -> anyhow::Result<String> {
        let mut value = serde_json::to_value(release)?;
        value.as_object_mut().map(|o| o.remove("id"));
        let route = route.encode();
        let puts = vec![
            PutKeyRequestListItem::builder()
                .key(format!("{RELEASE}{}", release.id))
                .value(value.to_string())
                .build()?,
            PutKeyRequestListItem::builder()
                .key(format!("{ROUTE}{}", release.id))
                .value(&route)
                .build()?,
            PutKeyRequestListItem::builder().key(kvs::LIVE).value(&route).build()?,
        ];
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
        let what = format!("release {}", release.id);
        self.update_as_read(&what, seen, Some(puts), None, Some(&route), |_| true)
            .await
    }

    /// A rollback: `live` alone, set to the release's route; refused when
    /// `live` changed since `seen`, or the release is no longer kept.
    pub async fn point(&self, id: &str, route: &Route, seen: &Seen) -> anyhow::Result<()> {
        let value = route.encode();
        let put = PutKeyRequestListItem::builder().key(kvs::LIVE).value(&value).build()?;
        let kept = |now: &Seen| now.releases.iter().any(|r| r.id == id);
        self.update_as_read(
            &format!("rollback to {id}"),
            seen,
            Some(vec![put]),
            None,
            Some(&value),
            kept,
        )
        .await
        .map(|_| ())
    }

    /// Releases off: `live` deleted, so the function serves the bucket's
    /// files in place (one write; the records are kept).
    pub async fn unpoint(&self) -> anyhow::Result<()> {
        let delete = DeleteKeyRequestListItem::builder().key(kvs::LIVE).build()?;
        self.update(None, Some(vec![delete])).await
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

    /// The write, if the store is as `seen` read it; after another writer,
    /// again if `live` is unchanged and `still` holds of the store now
    /// (other keys, a preview's or a record, may change meanwhile).
    async fn update_as_read(
        &self,
        what: &str,
        seen: &Seen,
        puts: Option<Vec<PutKeyRequestListItem>>,
        deletes: Option<Vec<DeleteKeyRequestListItem>>,
        landed: Option<&str>,
        still: impl Fn(&Seen) -> bool,
    ) -> anyhow::Result<String> {
        let mut etag = seen.etag.clone();
        for _ in 0..4 {
            if let Some(done) = self.update_if(&etag, puts.clone(), deletes.clone()).await? {
                return Ok(done);
            }
            let now = self.reread().await?;
            // This very write, landed though its answer was lost.
            if now.value.is_some() && now.value.as_deref() == landed {
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
