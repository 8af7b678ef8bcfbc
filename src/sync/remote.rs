//! The bucket side, read-only but for cdnctl's own notes: find the stack
//! (the same bucket observation and distribution listing as `up`), list the
//! objects, read headers when the rules changed, and keep the rules'
//! fingerprint in a bucket tag.

use std::collections::{BTreeMap, HashMap};

use anyhow::anyhow;
use aws_sdk_s3::types::{EncodingType, Tag, Tagging};
use aws_sdk_s3::Client;
use futures_util::{stream, StreamExt as _};

use super::diff::{Headers, RemoteObject};
use crate::aws::{describe, Clients, Waiting};
use crate::resources::{bucket, distribution};
use crate::spec::Spec;

/// The bucket tag that holds the fingerprint of the header rules the bucket's
/// objects were last checked against.
pub const HEADERS_TAG: &str = "cdnctl:headers";

pub struct Stack {
    pub tags: BTreeMap<String, String>,
    pub distribution_id: Option<String>,
}

/// The stack's bucket and distribution, or a clear refusal.
pub async fn find_stack(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Stack> {
    let (state, listing) = tokio::join!(
        bucket::observe(&clients.s3, &spec.bucket, &clients.region, waiting),
        distribution::list(&clients.cloudfront, spec)
    );
    let tags = match state? {
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
        bucket::State::Present(b) => b.tags,
    };
    let distribution_id = listing?.candidates.first().map(|(id, _)| id.clone());
    Ok(Stack { tags, distribution_id })
}

/// Every object under `prefix`: one paginated ListObjectsV2, no HEAD. Keys
/// come URL-encoded (EncodingType=url): one holding a control character
/// would otherwise make the page unreadable XML, and every later run fail.
pub async fn list(s3: &Client, bucket: &str, prefix: &str) -> anyhow::Result<(BTreeMap<String, RemoteObject>, usize)> {
    let mut out = BTreeMap::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .encoding_type(EncodingType::Url)
        .set_prefix((!prefix.is_empty()).then(|| prefix.to_string()))
        .into_paginator()
        .send();
    let mut count = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe(format!("bucket {bucket}: ListObjectsV2"), e))?;
        count += 1;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            out.insert(
                bucket::decode_key(key)?,
                RemoteObject {
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().unwrap_or("").trim_matches('"').to_string(),
                    last_modified: o.last_modified().map(|t| t.secs()).unwrap_or(0),
                },
            );
        }
    }
    Ok((out, count))
}

/// Content-Type and Cache-Control of each key, `jobs` HEADs at a time.
pub async fn heads(
    s3: &Client,
    bucket: &str,
    keys: Vec<String>,
    jobs: usize,
) -> anyhow::Result<HashMap<String, Headers>> {
    let results: Vec<anyhow::Result<(String, Headers)>> = stream::iter(keys)
        .map(|key| async move {
            let out = s3
                .head_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| describe(format!("{key}: HeadObject"), e))?;
            let headers = Headers {
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

/// Write the fingerprint into the bucket's tags, keeping every other tag
/// (PutBucketTagging replaces the whole set; system `aws:` tags must be kept
/// as they are and none added).
pub async fn put_fingerprint(
    s3: &Client,
    bucket: &str,
    existing: &BTreeMap<String, String>,
    fingerprint: &str,
) -> anyhow::Result<()> {
    let mut tags = existing.clone();
    tags.insert(HEADERS_TAG.to_string(), fingerprint.to_string());
    if tags.len() > 50 {
        return Err(anyhow!(
            "bucket {bucket}: has 50 tags already: no room for {HEADERS_TAG} (the next sync will check headers again)"
        ));
    }
    let set = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(Tagging::builder().set_tag_set(Some(set)).build()?)
        .send()
        .await
        .map(drop)
        .map_err(|e| describe(format!("bucket {bucket}: PutBucketTagging"), e))
}

/// A small object's text (`None` if it is gone).
pub async fn get_text(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<String>> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if crate::aws::is_not_found(&e) || crate::aws::code(&e) == Some("NoSuchKey") => return Ok(None),
        Err(e) => return Err(describe(format!("{key}: GetObject"), e)),
    };
    let body = out.body.collect().await.map_err(|e| anyhow!("{key}: GetObject: {e}"))?;
    Ok(Some(String::from_utf8_lossy(&body.into_bytes()).into_owned()))
}

/// An interrupted run's pending invalidation: (paths, reference).
pub async fn read_pending(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<Option<(Vec<String>, String)>> {
    let Some(text) = get_text(s3, bucket, key).await? else {
        return Ok(None);
    };
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let paths: Vec<String> = json["paths"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p.as_str().map(String::from)).collect())
        .unwrap_or_default();
    let reference = json["reference"].as_str().unwrap_or("").to_string();
    if paths.is_empty() || reference.is_empty() {
        return Ok(None);
    }
    Ok(Some((paths, reference)))
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
