//! The bucket side, read-only: find the stack (the bucket's existence, tags
//! and encryption, and the same distribution listing as `up`), list the
//! objects, read headers when the rules changed, and read the deployed
//! manifests. The prefix's own state
//! (rules' fingerprint, pending invalidation, deploys, lease) is `state.rs`
//! and `lease.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::anyhow;
use aws_sdk_s3::types::EncodingType;
use aws_sdk_s3::Client;
use futures_util::{stream, StreamExt as _};

use super::lease::AnswerDate;
use super::listing::{ObjectHeaders, RemoteObject};
use super::scan::LocalFile;
use super::stop::Stop;
use crate::aws::{describe, Clients, Waiting};
use crate::resources::{bucket, distribution};
use crate::spec::Spec;

pub struct Destination {
    pub distribution_id: Option<String>,
    /// Its ARN, for reading its tags and configuration.
    pub distribution_arn: Option<String>,
}

/// The stack's bucket and distribution, or a clear refusal.
pub async fn find_destination(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Destination> {
    let (state, listing) = tokio::join!(
        bucket::observe_reading(
            &clients.s3,
            &spec.bucket,
            &clients.region,
            waiting,
            bucket::Reads::Publishing
        ),
        distribution::list(&clients.cloudfront, spec)
    );
    match state? {
        bucket::State::Absent => anyhow::bail!(
            "stack {0}: the bucket {0} does not exist: run `cdnctl up` first (with the same settings)",
            spec.bucket
        ),
        bucket::State::Foreign => anyhow::bail!(
            "stack {0}: the bucket {0} belongs to another account or is not readable with these credentials",
            spec.bucket
        ),
        bucket::State::Present(b) if !spec.is_owned(&b.tags) => anyhow::bail!(
            "stack {0}: the bucket {0} was not created by cdnctl (no cdnctl:stack tag): run `cdnctl up --adopt` first",
            spec.bucket
        ),
        // Under SSE-KMS or DSSE-KMS, S3's ETags are not MD5s: sync, which
        // finds what changed by comparing them with the files' MD5s, would
        // upload everything on every run. Refuse before any write.
        bucket::State::Present(b) if b.encryption.as_deref().is_some_and(|e| e.starts_with("aws:kms")) => anyhow::bail!(
            "bucket {0}: its default encryption is {1}: S3's ETags are then not MD5 digests, and sync compares them \
             with the files' MD5s to find what changed, so it would upload every file on every run. \
             The stack's setting is SSE-S3 (AES256): run `cdnctl up` to restore it, then sync again\nnothing was uploaded or deleted",
            spec.bucket,
            b.encryption.as_deref().unwrap_or_default()
        ),
        bucket::State::Present(_) => {}
    };
    let owned = owned_distribution(clients, spec, listing?).await?;
    let (distribution_id, distribution_arn) = owned.unzip();
    Ok(Destination {
        distribution_id,
        distribution_arn,
    })
}

/// The stack's distribution among those carrying its comment: the one with
/// its ownership tag, as for `up`. A copy without the tag (made in the
/// console, say) is not the stack's and gets no invalidation, and the
/// stack's own is never left stale for it. Several tagged, or only untagged
/// ones: refused before any write, as `up` refuses them.
async fn owned_distribution(
    clients: &Clients,
    spec: &Spec,
    listing: distribution::Listing,
) -> anyhow::Result<Option<(String, String)>> {
    let tags = futures_util::future::try_join_all(
        listing
            .candidates
            .iter()
            .map(|(id, arn)| distribution::tags_of(&clients.cloudfront, id, arn)),
    )
    .await?;
    let (owned, foreign): (Vec<_>, Vec<_>) = listing
        .candidates
        .iter()
        .zip(&tags)
        .partition(|(_, tags)| spec.is_owned(tags));
    let owned: Vec<&(String, String)> = owned.into_iter().map(|(candidate, _)| candidate).collect();
    let refusal = match (owned.as_slice(), foreign.first()) {
        ([], Some(((id, _), _))) => Some(format!(
            "distribution {id}: carries this stack's comment but not its cdnctl:stack tag: run `cdnctl up --adopt` to take it over"
        )),
        ([_, rest @ ..], _) if !rest.is_empty() => Some(format!(
            "distribution: several carry this stack's comment and tag ({} besides the first): delete the extra ones by hand",
            rest.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ")
        )),
        _ => None,
    };
    if let Some(refusal) = refusal {
        return Err(Stop::Refused(vec![
            refusal,
            "sync sends its invalidation to the stack's own distribution only".into(),
        ])
        .into());
    }
    Ok(owned.first().map(|&candidate| candidate.clone()))
}

/// Every object under `prefix`: one paginated ListObjectsV2, no HEAD. Keys
/// come URL-encoded (EncodingType=url): one holding a control character
/// would otherwise make the page unreadable XML, and every later run fail.
pub async fn list(s3: &Client, bucket: &str, prefix: &str) -> anyhow::Result<(BTreeMap<String, RemoteObject>, usize)> {
    list_ranges(s3, bucket, prefix, &[]).await
}

/// Keys a range is cut for: a page holds up to 1,000, and the keys expected
/// are only a guess of what is there.
const RANGE: usize = 900;

/// [`list`], in ranges listed at once: one range per [`RANGE`] of the keys
/// expected (`expected`, sorted: those the prefix's state says it
/// published), so that a listing of many pages takes one round trip rather
/// than one per page. Range i holds the keys after its first bound up to
/// and including the next (ListObjectsV2's StartAfter); a range that holds
/// more than a page goes on with its continuation token. Keys the guess
/// missed are listed all the same, by the range they fall into.
pub async fn list_ranges(
    s3: &Client,
    bucket: &str,
    prefix: &str,
    expected: &[String],
) -> anyhow::Result<(BTreeMap<String, RemoteObject>, usize)> {
    list_ranges_dated(s3, bucket, prefix, expected, &AnswerDate::default()).await
}

/// [`list_ranges`], keeping in `date` the earliest Date (S3's clock) of its
/// answers: no page of the listing was served before it.
pub async fn list_ranges_dated(
    s3: &Client,
    bucket: &str,
    prefix: &str,
    expected: &[String],
    date: &AnswerDate,
) -> anyhow::Result<(BTreeMap<String, RemoteObject>, usize)> {
    let bounds: Vec<&str> = expected.iter().skip(RANGE).step_by(RANGE).map(String::as_str).collect();
    let ranges = (0..=bounds.len()).map(|i| {
        let after = i.checked_sub(1).map(|j| bounds[j]);
        let upto = bounds.get(i).copied();
        list_range(s3, bucket, prefix, after, upto, date)
    });
    let mut out = BTreeMap::new();
    let mut pages = 0;
    for range in futures_util::future::try_join_all(ranges).await? {
        out.extend(range.0);
        pages += range.1;
    }
    Ok((out, pages))
}

/// The keys under `prefix` after `after` up to and including `upto`.
async fn list_range(
    s3: &Client,
    bucket: &str,
    prefix: &str,
    after: Option<&str>,
    upto: Option<&str>,
    date: &AnswerDate,
) -> anyhow::Result<(BTreeMap<String, RemoteObject>, usize)> {
    let mut out = BTreeMap::new();
    let mut pages = 0;
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .encoding_type(EncodingType::Url)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_string()))
            .set_start_after(after.filter(|_| token.is_none()).map(String::from))
            .set_continuation_token(token.take())
            .customize()
            .interceptor(date.clone())
            .send()
            .await
            .map_err(|e| describe(format!("bucket {bucket}: ListObjectsV2"), e))?;
        pages += 1;
        let mut past = false;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            let key = bucket::decode_key(key)?;
            if upto.is_some_and(|u| key.as_str() > u) {
                past = true; // the next range's
                break;
            }
            out.insert(
                key,
                RemoteObject {
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().unwrap_or("").trim_matches('"').to_string(),
                    last_modified: o.last_modified().map(|t| t.secs()).unwrap_or(0),
                },
            );
        }
        match page.next_continuation_token() {
            Some(next) if !past && page.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => return Ok((out, pages)),
        }
    }
}

/// Content-Type and Cache-Control of each key, `jobs` HEADs at a time.
pub async fn heads(
    s3: &Client,
    bucket: &str,
    keys: Vec<String>,
    jobs: usize,
) -> anyhow::Result<HashMap<String, ObjectHeaders>> {
    let results: Vec<anyhow::Result<(String, ObjectHeaders)>> = stream::iter(keys)
        .map(|key| async move {
            let out = s3
                .head_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| describe(format!("{key}: HeadObject"), e))?;
            let headers = ObjectHeaders {
                content_type: out.content_type().map(String::from),
                cache_control: out.cache_control().map(String::from),
            };
            Ok((key, headers))
        })
        .buffer_unordered(jobs)
        .collect()
        .await;
    results.into_iter().collect()
}

/// A small object's text (`None` if it is gone).
pub async fn get_text(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<String>> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if crate::aws::is_not_found(&e) => return Ok(None),
        Err(e) => return Err(describe(format!("{key}: GetObject"), e)),
    };
    let body = out.body.collect().await.map_err(|e| anyhow!("{key}: GetObject: {e}"))?;
    Ok(Some(String::from_utf8_lossy(&body.into_bytes()).into_owned()))
}

/// The files named by the bucket's manifests where they differ from the
/// local ones (the version being replaced), as keys: content-hashed even when
/// their names do not say so.
pub async fn deployed_files(
    s3: &Client,
    bucket: &str,
    files: &[LocalFile],
    objects: &BTreeMap<String, RemoteObject>,
    prefix: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for f in files.iter().filter(|f| f.manifest) {
        if objects.get(&f.key).is_none_or(|r| f.same_content(&r.etag)) {
            continue;
        }
        if let Some(text) = get_text(s3, bucket, &f.key).await? {
            let names = super::rules::manifest_files(&f.rel, &text).unwrap_or_default();
            out.extend(names.into_iter().map(|n| format!("{prefix}{n}")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::resources::bucket::decode_key;

    #[test]
    fn listed_keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(decode_key("a+b%2Bc.txt").unwrap(), "a b+c.txt");
        assert_eq!(decode_key("bell%07%0A.txt").unwrap(), "bell\u{7}\n.txt");
        assert_eq!(decode_key("caf%C3%A9/%E6%97%A5.js").unwrap(), "café/日.js");
        assert_eq!(decode_key("a%20b~*.txt").unwrap(), "a b~*.txt");
        assert!(decode_key("100%.txt").is_err());
        assert!(decode_key("%FF").is_err());
    }
}
