//! The bucket's files: count them, and delete them all (every version and
//! delete marker) for `down --purge`.

use anyhow::anyhow;
use aws_sdk_s3::types::{Delete, EncodingType, ObjectIdentifier};
use aws_sdk_s3::Client;

use crate::aws::describe;

/// Count object versions and delete markers, stopping past `limit`.
/// (ListObjectVersions has no SDK paginator: it pages by key and version markers.)
pub async fn count_objects(s3: &Client, bucket: &str, limit: u64) -> anyhow::Result<u64> {
    let mut count = 0u64;
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .encoding_type(EncodingType::Url)
            .set_key_marker(key_marker)
            .set_version_id_marker(version_marker)
            .send()
            .await
            .map_err(|e| describe(format!("bucket {bucket}: ListObjectVersions"), e))?;
        count += (page.versions().len() + page.delete_markers().len()) as u64;
        if count > limit || !page.is_truncated().unwrap_or(false) {
            return Ok(count);
        }
        key_marker = page.next_key_marker().map(decode_key).transpose()?;
        version_marker = page.next_version_id_marker().map(String::from);
    }
}

/// Delete every object version and delete marker, a page (≤1000) at a time.
/// Returns how many were deleted.
pub async fn empty(s3: &Client, bucket: &str) -> anyhow::Result<u64> {
    let mut deleted = 0u64;
    loop {
        // Always list from the start: what was deleted is gone from the listing.
        let page = s3
            .list_object_versions()
            .bucket(bucket)
            .encoding_type(EncodingType::Url)
            .send()
            .await
            .map_err(|e| describe(format!("bucket {bucket}: ListObjectVersions"), e))?;
        let mut ids = Vec::new();
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        for (key, version) in versions.chain(page.delete_markers().iter().map(|m| (m.key(), m.version_id()))) {
            let Some(key) = key else { continue };
            ids.push(
                ObjectIdentifier::builder()
                    .key(decode_key(key)?)
                    .set_version_id(version.map(String::from))
                    .build()?,
            );
        }
        if ids.is_empty() {
            return Ok(deleted);
        }
        let n = ids.len() as u64;
        delete_objects(s3, bucket, ids).await?;
        deleted += n;
    }
}

/// A key from a listing made with EncodingType=url, which S3 encodes as a
/// form does (`+` for a space). Listings ask for it because a key may hold a
/// control character, which XML 1.0 cannot carry: without it, the whole
/// page would be unreadable.
pub fn decode_key(encoded: &str) -> anyhow::Result<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| anyhow!("S3 listed a key that is not URL-encoded as asked: {encoded:?}"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| anyhow!("S3 listed a key that is not UTF-8 once decoded: {encoded:?}"))
}

/// One DeleteObjects request (at most 1,000 objects); a single object S3
/// could not delete fails the whole.
pub async fn delete_objects(s3: &Client, bucket: &str, ids: Vec<ObjectIdentifier>) -> anyhow::Result<()> {
    // A key with a character XML 1.0 cannot carry (most control characters)
    // cannot go in DeleteObjects' XML body: it goes alone, in the URL.
    let xml_char = |c: char| c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}' || matches!(c, '\t' | '\n' | '\r');
    let (ids, alone): (Vec<_>, Vec<_>) = ids.into_iter().partition(|id| id.key().chars().all(xml_char));
    for id in alone {
        s3.delete_object()
            .bucket(bucket)
            .key(id.key())
            .set_version_id(id.version_id().map(String::from))
            .send()
            .await
            .map_err(|e| describe(format!("bucket {bucket}: DeleteObject {:?}", id.key()), e))?;
    }
    if ids.is_empty() {
        return Ok(());
    }
    let out = s3
        .delete_objects()
        .bucket(bucket)
        .delete(Delete::builder().set_objects(Some(ids)).quiet(true).build()?)
        .send()
        .await
        .map_err(|e| describe(format!("bucket {bucket}: DeleteObjects"), e))?;
    if let Some(err) = out.errors().first() {
        anyhow::bail!(
            "bucket {bucket}: could not delete {}: {}",
            err.key().unwrap_or(""),
            err.message().or(err.code()).unwrap_or("unknown error")
        );
    }
    Ok(())
}
