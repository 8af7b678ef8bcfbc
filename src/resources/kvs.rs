//! The CloudFront KeyValueStore that holds the stack's release pointer, read
//! by the viewer-request function (`function.rs`) at every request. Found by
//! its name (derived from the bucket, like the function's) and taken as the
//! stack's by its comment, as the response headers policy is (a store's
//! CreateKeyValueStore takes no tags). Only with the releases setting (`Setting::Releases`) above 0.
//!
//! Its keys (the layout, with CloudFront's quotas: a key at most 512 bytes, a
//! value at most 1 KB, a store at most 5 MB):
//!
//! | key              | value                                    | written by   |
//! |------------------|------------------------------------------|--------------|
//! | `layout`         | `2`: this table's version                | `up`         |
//! | `live`           | the live release's route (`release/route.rs`): a plain id, or `id:codes,…,base` (≤ 1 KB) | deploy, rollback |
//! | `release:<id>`   | JSON: when, source, files, bytes, rules (< 1 KB) | deploy      |
//! | `route:<id>`     | that release's route, what a rollback writes to `live` | deploy |
//! | `preview:<name>` | a preview's route, planned over `live`'s, served at `<name>.<domain>` (its `release:<id>` names the preview; no `route:<id>`) | deploy --preview |
//!
//! There is no key per file: a route names at most `route::MAX_CHAIN + 1`
//! release prefixes and the codes of the paths each changed, so the store's
//! size does not grow with the site. Ten kept releases are 21 keys of at
//! most 1.1 KB each, about 23 KB of the 5 MB, for a site of 20,000 files or
//! 2 million (README, Releases, gives the measured figures). A switch
//! (deploy, rollback) is one write: the edge then serves the other release,
//! with no invalidation, since the release is part of the cache key's path.
//!
//! The data plane (`cloudfront-keyvaluestore`, SigV4A) is `Clients::kvs`;
//! every write names the store's current ETag (If-Match).

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudfront::Client;

use crate::aws::{created_or_found, describe, is_store_conflict, optional, Guarded, Poll, Waiting};
use crate::resources::kit::{Action, Cx, Fact, Known, Learned, Part};
use crate::resources::Kind;

/// The key holding the live release's route.
pub const LIVE: &str = "live";
/// The key saying which version of the layout above the store holds.
pub const LAYOUT: &str = "layout";
/// 1: `live` held a release id; 2: it holds a route (`release/route.rs`).
/// A store of a newer layout is refused (`refusal`): an older cdnctl would
/// read its values wrong.
pub const LAYOUT_VERSION: &str = "2";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub arn: String,
    pub comment: String,
    /// READY, PROVISIONING, …, as CloudFront says it.
    pub status: String,
    /// The data plane's view: the live release, and the layout version.
    pub live: Option<String>,
    pub layout: Option<String>,
    /// The data plane's ETag, read before anything a caller lists after:
    /// a write naming it fails (ConflictException) if any other write came
    /// between (`release::store`).
    pub etag: Option<String>,
}

impl Observed {
    /// Made by cdnctl for this stack (its comment says so).
    pub fn is_owned(&self, comment: &str) -> bool {
        self.comment == comment
    }
}

/// The store's name: unique per account, `[a-zA-Z0-9_-]{1,64}`.
pub fn name(bucket: &str) -> String {
    super::function::name(bucket)
}

/// The store of this name, with its release pointer, if it exists.
pub async fn observe(
    cf: &Client,
    plane: &aws_sdk_cloudfrontkeyvaluestore::Client,
    name: &str,
) -> anyhow::Result<Option<Observed>> {
    let what = format!("key value store {name}: DescribeKeyValueStore");
    let Some(out) = optional(&what, cf.describe_key_value_store().name(name).send().await)? else {
        return Ok(None);
    };
    let s = out
        .key_value_store()
        .ok_or_else(|| anyhow!("{what}: answered without the store"))?;
    let (live, layout, etag) = if s.status() == Some("READY") {
        let (live, layout, etag) = tokio::try_join!(
            get(plane, s.arn(), LIVE),
            get(plane, s.arn(), LAYOUT),
            current_etag(plane, s.arn())
        )?;
        (live, layout, Some(etag))
    } else {
        (None, None, None)
    };
    Ok(Some(Observed {
        id: s.id().to_string(),
        arn: s.arn().to_string(),
        comment: s.comment().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        live,
        layout,
        etag,
    }))
}

/// The store's ETag as the data plane has it now.
pub async fn current_etag(plane: &aws_sdk_cloudfrontkeyvaluestore::Client, arn: &str) -> anyhow::Result<String> {
    let out = plane.describe_key_value_store().kvs_arn(arn).send().await;
    Ok(out
        .map_err(|e| describe(format!("key value store {arn}: DescribeKeyValueStore"), e))?
        .e_tag)
}

/// A key's value, `None` when the key is not there.
pub async fn get(
    plane: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    key: &str,
) -> anyhow::Result<Option<String>> {
    let out = plane.get_key().kvs_arn(arn).key(key).send().await;
    Ok(optional(format!("key value store {arn}: GetKey {key}"), out)?.map(|o| o.value))
}

/// Write one key, naming the store's current ETag (`write_current`).
pub async fn put(
    plane: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    key: &str,
    value: &str,
) -> anyhow::Result<()> {
    write_current(plane, arn, &format!("PutKey {key}"), |etag| {
        plane.put_key().kvs_arn(arn).key(key).value(value).if_match(etag).send()
    })
    .await
}

/// Read the store's current ETag and `write` with it (If-Match). Another
/// writer between the read and the write makes it ConflictException: read
/// and write again, three times at most.
pub async fn write_current<T, E, Fut>(
    plane: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    op: &str,
    write: impl Fn(String) -> Fut,
) -> anyhow::Result<()>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    Fut: std::future::Future<
        Output = Result<
            T,
            aws_smithy_runtime_api::client::result::SdkError<
                E,
                aws_smithy_runtime_api::client::orchestrator::HttpResponse,
            >,
        >,
    >,
{
    let what = format!("key value store {arn}");
    let mut attempts = 0;
    loop {
        match write(current_etag(plane, arn).await?).await {
            Ok(_) => return Ok(()),
            Err(e) if is_store_conflict(&e) && attempts < 3 => attempts += 1,
            Err(e) => return Err(describe(format!("{what}: {op}"), e)),
        }
    }
}

/// What a step needs of a store: its id and ARN.
fn known(s: &aws_sdk_cloudfront::types::KeyValueStore) -> Known {
    Known {
        id: s.id().to_string(),
        arn: s.arn().to_string(),
        domain_name: String::new(),
    }
}

/// Create the store; answers what is known of it (its ARN for the function).
pub async fn create(cf: &Client, name: &str, comment: &str) -> anyhow::Result<Known> {
    let created = cf.create_key_value_store().name(name).comment(comment).send().await;
    created_or_found(
        format!("key value store {name}: CreateKeyValueStore"),
        created,
        |out| out.key_value_store().map(known).unwrap_or_default(),
        || async {
            let out = cf
                .describe_key_value_store()
                .name(name)
                .send()
                .await
                .map_err(|e| describe(format!("key value store {name}: DescribeKeyValueStore"), e))?;
            let s = out
                .key_value_store()
                .ok_or_else(|| anyhow!("key value store {name}: reported to exist but not described"))?;
            Ok(known(s))
        },
    )
    .await
}

/// Wait until CloudFront has provisioned it (a function can name it then).
pub async fn wait_ready(cf: &Client, name: &str, waiting: &Waiting, progress: impl FnMut(&str)) -> anyhow::Result<()> {
    waiting
        .until(
            progress,
            || async {
                let out = cf
                    .describe_key_value_store()
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| describe(format!("key value store {name}: DescribeKeyValueStore"), e))?;
                let status = out.key_value_store().and_then(|s| s.status()).unwrap_or("").to_string();
                Ok(match status.as_str() {
                    "READY" => Poll::Ready(()),
                    "PROVISIONING" | "" => Poll::Pending(status),
                    other => return Err(anyhow!("key value store {name}: status {other}, expected READY")),
                })
            },
            |status, waited| {
                anyhow!(
                    "key value store {name}: still {status} after {}s: run `cdnctl up` again later",
                    waited.as_secs()
                )
            },
        )
        .await
}

/// Delete the store (If-Match its ETag), waiting while CloudFront still counts
/// it in use by the function being deleted.
pub async fn delete(
    cf: &Client,
    name: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    Guarded {
        what: format!("key value store {name}"),
        get: "DescribeKeyValueStore",
        write: "DeleteKeyValueStore",
    }
    .delete(
        || cf.describe_key_value_store().name(name).send(),
        |current| current.e_tag().map(String::from),
        |etag| cf.delete_key_value_store().name(name).set_if_match(etag).send(),
        waiting,
        progress,
    )
    .await
}

/// The key value store's steps, for `up` and `down`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    /// Write the layout's version, the first key of a new store.
    Seed,
    Delete,
}

impl Action for Step {
    const KIND: Kind = Kind::KeyValueStore;

    fn needs(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![],
            Step::Seed => vec![Fact::Exists(Self::KIND)],
            // Once no function names it.
            Step::Delete => vec![Fact::Gone(Kind::Function)],
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![Fact::Exists(Self::KIND)],
            Step::Seed => vec![Fact::Written(Self::KIND)],
            Step::Delete => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        let (cf, name) = (&cx.clients.cloudfront, name(&cx.spec.bucket));
        let label = format!("key value store {name}");
        Ok(match self {
            Step::Create => {
                let known = create(cf, &name, &crate::spec::comment(&cx.spec.bucket)).await?;
                let progress = cx.events.progress(&label, "waiting for CloudFront to provision it");
                let ready = wait_ready(cf, &name, cx.waiting, |s| progress.status(s)).await;
                drop(progress);
                ready?;
                Learned::Known(Self::KIND, known)
            }
            Step::Seed => {
                let arn = &cx.facts.known(Self::KIND)?.arn;
                put(&cx.clients.kvs, arn, LAYOUT, LAYOUT_VERSION).await?;
                Learned::Nothing
            }
            Step::Delete => {
                let progress = crate::events::on_refusal(
                    cx.events,
                    &label,
                    "waiting for CloudFront to release it from the deleted function",
                );
                delete(cf, &name, cx.waiting, progress).await?;
                Learned::Nothing
            }
        })
    }
}

/// `up`: create it and write its layout version; a store of this name that
/// is not the stack's is left alone.
pub fn up(observed: Option<&Observed>, name: &str, comment: &str) -> Part<Step> {
    let mut part = Part::default();
    let r = format!("key value store {name}");
    match observed {
        None => {
            part.step(
                Step::Create,
                &r,
                "create",
                vec!["holds the release pointer (`live`)".into()],
            );
            part.step(Step::Seed, &r, "write its layout version", vec![]);
        }
        Some(s) if !s.is_owned(comment) => part.note(format!(
            "{r}: exists with the comment {:?}, not this stack's: left alone (releases stay off)",
            s.comment
        )),
        Some(s) if s.layout.as_deref() != Some(LAYOUT_VERSION) => part.step(
            Step::Seed,
            &r,
            "write its layout version",
            vec![format!(
                "layout: {}, expected {LAYOUT_VERSION}",
                s.layout.as_deref().unwrap_or("missing")
            )],
        ),
        Some(_) => {}
    }
    part
}

/// A store written by a newer cdnctl (a layout above this one's): nothing
/// is written, since this version would read its values wrong.
pub fn refusal(observed: &Observed, comment: &str) -> Option<String> {
    let theirs: u32 = observed.layout.as_deref()?.parse().ok()?;
    let ours: u32 = LAYOUT_VERSION.parse().ok()?;
    (observed.is_owned(comment) && theirs > ours).then(|| {
        format!(
            "key value store {}: its layout is version {theirs}, written by a newer cdnctl (this one knows \
             {ours}): upgrade cdnctl here; every publisher of a stack must run the same version",
            observed.id
        )
    })
}

/// `down`: delete it once the function that names it is gone.
pub fn down(observed: &Observed, name: &str, comment: &str) -> Part<Step> {
    let mut part = Part::default();
    if observed.is_owned(comment) {
        part.step(Step::Delete, &format!("key value store {name}"), "delete", vec![]);
    }
    part
}
