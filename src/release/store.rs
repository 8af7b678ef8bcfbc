//! The releases as the stack's KeyValueStore records them (`kvs.rs`'s
//! keys): the live pointer and each release's metadata. Every write names
//! the ETag read just before it (If-Match); a conflict is read again.

use anyhow::anyhow;
use aws_sdk_cloudfrontkeyvaluestore::types::{DeleteKeyRequestListItem, PutKeyRequestListItem};

use super::Release;
use crate::aws::{describe, Clients};
use crate::resources::kvs;
use crate::spec::Spec;

/// The store's metadata keys: `release:<id>`.
const RELEASE: &str = "release:";

/// The stack's store, found by its name.
pub struct Store<'a> {
    plane: &'a aws_sdk_cloudfrontkeyvaluestore::Client,
    pub arn: String,
}

/// What the store says: the live release and every recorded one.
pub struct Seen {
    pub live: Option<String>,
    pub releases: Vec<Release>,
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

    /// The live release and the recorded ones (unreadable metadata is skipped).
    pub async fn read(&self) -> anyhow::Result<Seen> {
        let mut live = None;
        let mut releases = Vec::new();
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
        Ok(Seen { live, releases })
    }

    /// The switch: `live` and the release's metadata in one write.
    pub async fn switch(&self, release: &Release) -> anyhow::Result<()> {
        let mut value = serde_json::to_value(release)?;
        value.as_object_mut().map(|o| o.remove("id"));
        let puts = vec![
            PutKeyRequestListItem::builder()
                .key(format!("{RELEASE}{}", release.id))
                .value(value.to_string())
                .build()?,
            PutKeyRequestListItem::builder()
                .key(kvs::LIVE)
                .value(&release.id)
                .build()?,
        ];
        self.update(Some(puts), None).await
    }

    /// A rollback: `live` alone.
    pub async fn point(&self, id: &str) -> anyhow::Result<()> {
        kvs::put(self.plane, &self.arn, kvs::LIVE, id).await
    }

    /// Releases off: `live` deleted, so the function serves the bucket's
    /// files in place (one write; the records are kept).
    pub async fn unpoint(&self) -> anyhow::Result<()> {
        let delete = DeleteKeyRequestListItem::builder().key(kvs::LIVE).build()?;
        self.update(None, Some(vec![delete])).await
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
