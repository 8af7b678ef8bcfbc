//! The bucket's objects, read-only: list them, read headers when the rules
//! changed, and read the deployed manifests. Finding the stack is
//! `destination.rs`; the prefix's own state
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
use crate::aws::describe;
use crate::resources::bucket;

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
