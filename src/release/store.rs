//! The releases as the stack's KeyValueStore records them (`kvs.rs`'s
//! keys): the pointers (`live`, and `preview:NAME` for each preview) and
//! each release's metadata (`release:<id>`; a preview's names its preview).
//! A pointer's value is written by `route` alone and read by `release_of`
//! alone, so `live` and a preview hold the same kind of value. Every write
//! names the ETag read just before it (If-Match); a conflict is read again.

use anyhow::anyhow;
use aws_sdk_cloudfrontkeyvaluestore::types::{DeleteKeyRequestListItem, PutKeyRequestListItem};

use super::Release;
use crate::aws::{describe, Clients};
use crate::resources::kvs;
use crate::spec::Spec;

/// The store's metadata keys: `release:<id>`.
const RELEASE: &str = "release:";
/// A preview's pointer: `preview:NAME` (the function's `routeKey`).
const PREVIEW: &str = "preview:";

/// A key the function reads to pick a release.
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

/// The value a pointer holds to serve release `id` (the function's
/// `resolve` reads it).
pub fn route(id: &str) -> String {
    id.to_string()
}

/// The release a pointer's value serves (`route`'s inverse).
pub fn release_of(value: &str) -> String {
    value.to_string()
}

/// A preview: its name and the release it serves (the metadata, when read).
#[derive(Debug, Clone)]
pub struct Preview {
    pub name: String,
    pub id: String,
    pub release: Option<Release>,
}

/// The stack's store, found by its name.
pub struct Store<'a> {
    plane: &'a aws_sdk_cloudfrontkeyvaluestore::Client,
    pub arn: String,
}

/// What the store says: the live release, every recorded one (previews'
/// apart), and the previews.
pub struct Seen {
    pub live: Option<String>,
    pub releases: Vec<Release>,
    pub previews: Vec<Preview>,
}

impl<'a> Store<'a> {
    /// The stack's store, refused when releases are off or `up` has not made it.
    pub async fn find(clients: &'a Clients, spec: &Spec) -> anyhow::Result<Store<'a>> {
        let name = kvs::name(&spec.bucket);
        let found = kvs::observe(&clients.cloudfront, &clients.kvs, &name).await?;
        match found {
            Some(s) if s.is_owned(&crate::spec::comment(&spec.bucket)) && s.status == "READY" => Ok(Store {
                plane: &clients.kvs,
                arn: s.arn,
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
    /// metadata is skipped).
    pub async fn read(&self) -> anyhow::Result<Seen> {
        let mut live = None;
        let mut releases = Vec::new();
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
                    live = Some(release_of(item.value()));
                } else if let Some(name) = item.key().strip_prefix(PREVIEW) {
                    pointers.push((name.to_string(), release_of(item.value())));
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
            .map(|(name, id)| Preview {
                release: previewed.iter().find(|r| r.id == id).cloned(),
                name,
                id,
            })
            .collect();
        Ok(Seen {
            live,
            releases,
            previews,
        })
    }

    /// The switch: the pointer and the release's metadata in one write.
    pub async fn switch(&self, pointer: &Pointer, release: &Release) -> anyhow::Result<()> {
        let mut value = serde_json::to_value(release)?;
        value.as_object_mut().map(|o| o.remove("id"));
        let puts = vec![
            PutKeyRequestListItem::builder()
                .key(format!("{RELEASE}{}", release.id))
                .value(value.to_string())
                .build()?,
            PutKeyRequestListItem::builder()
                .key(pointer.key())
                .value(route(&release.id))
                .build()?,
        ];
        self.update(Some(puts), None).await
    }

    /// A rollback: `live` alone.
    pub async fn point(&self, id: &str) -> anyhow::Result<()> {
        kvs::put(self.plane, &self.arn, kvs::LIVE, &route(id)).await
    }

    /// Forget previews (their pointers) and releases (their metadata), in one write.
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

    /// Forget pruned releases, in one write.
    pub async fn forget(&self, ids: &[String]) -> anyhow::Result<()> {
        let deletes = ids
            .iter()
            .map(|id| {
                DeleteKeyRequestListItem::builder()
                    .key(format!("{RELEASE}{id}"))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.update(None, Some(deletes)).await
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
