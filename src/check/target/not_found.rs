//! The site's 404 page as the distribution's custom error responses name
//! it (`Setting::NotFound`, `distribution::errors`), read from the bucket
//! so that the `missing` probe can tell the page from anything else.

use aws_sdk_cloudfront::types::DistributionConfig;

use crate::aws::{describe, Clients};

/// The error response S3's answer for a missing key meets (403 without
/// s3:ListBucket, else 404) and its page as the bucket holds it.
#[derive(Debug, Clone)]
pub struct NotFoundPage {
    /// `ResponsePagePath`, e.g. `/404.html` (with releases `/_cdnctl/404.html`).
    pub path: String,
    /// The status CloudFront answers with it.
    pub status: u16,
    /// The page's key, and its bytes; None when the bucket lacks it.
    pub key: String,
    pub body: Option<Vec<u8>>,
    /// With releases: the live release's page when the fixed key holds
    /// other bytes (a deploy or rollback stopped before copying it).
    pub behind: Option<String>,
}

/// The page of the distribution's 403 (else 404) error response, if it
/// has one; with `live`, the key of the live release's own page, compared
/// with it.
pub async fn read(
    clients: &Clients,
    bucket: &str,
    config: &DistributionConfig,
    live: Option<String>,
) -> anyhow::Result<Option<NotFoundPage>> {
    let items = config
        .custom_error_responses()
        .map(|r| r.items().to_vec())
        .unwrap_or_default();
    let entry = [403, 404]
        .iter()
        .find_map(|code| items.iter().find(|e| e.error_code() == *code));
    let Some((entry, path)) = entry.and_then(|e| Some((e, e.response_page_path().filter(|p| !p.is_empty())?))) else {
        return Ok(None);
    };
    let status = entry
        .response_code()
        .and_then(|c| c.parse().ok())
        .unwrap_or(entry.error_code() as u16);
    let key = path.trim_start_matches('/').to_string();
    let live_etag = async {
        match &live {
            Some(k) => etag(clients, bucket, k).await,
            None => Ok(None),
        }
    };
    let (got, live_etag) = tokio::join!(clients.s3.get_object().bucket(bucket).key(&key).send(), live_etag);
    let (body, fixed_etag) = match got {
        Ok(out) => {
            let tag = out.e_tag().map(String::from);
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| anyhow::anyhow!("bucket {bucket}: reading {key}: {e}"))?;
            (Some(bytes.into_bytes().to_vec()), tag)
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => (None, None),
        Err(e) => return Err(describe(format!("bucket {bucket}: GetObject {key}"), e)),
    };
    // A live release without the page (published before the setting) is
    // not "behind": the fixed key keeps the last page, as `follow` does.
    let behind = match live_etag? {
        Some(tag) if body.is_some() && fixed_etag.as_deref() != Some(tag.as_str()) => live,
        _ => None,
    };
    Ok(Some(NotFoundPage {
        path: path.to_string(),
        status,
        key,
        body,
        behind,
    }))
}

async fn etag(clients: &Clients, bucket: &str, key: &str) -> anyhow::Result<Option<String>> {
    match clients.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out.e_tag().map(String::from)),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(describe(format!("bucket {bucket}: HeadObject {key}"), e)),
    }
}
