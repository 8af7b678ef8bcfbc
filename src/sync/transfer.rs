//! The writes: uploads (streamed from the file, in parts when large), header
//! updates in place, deletions, and the CloudFront invalidation. Each file's
//! MD5 goes with its upload as Content-MD5, and the ETag S3 answers is
//! compared with it: a file that changed while syncing is caught either way.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective, ObjectIdentifier};
use aws_sdk_s3::Client;
use aws_smithy_types::base64;
use futures_util::{stream, StreamExt as _, TryStreamExt as _};

use super::diff::Why;
use super::rules;
use super::scan::{LocalFile, PART_SIZE};
use crate::aws::describe;
use crate::aws::Waiting;

/// Parts of one file in flight at once.
const PART_JOBS: usize = 8;

/// Upload one file with its headers. A changed file whose extension has no
/// type in cdnctl's table keeps the object's Content-Type, if specific
/// (`rules::keeps_type`): one HEAD, for such files only.
pub async fn upload(s3: &Client, bucket: &str, f: &LocalFile, why: Why) -> anyhow::Result<()> {
    let content_type = match why {
        Why::Changed if f.content_type == rules::DEFAULT_TYPE => existing_type(s3, bucket, f).await?,
        _ => f.content_type.clone(),
    };
    if !f.parts.is_empty() {
        return upload_in_parts(s3, bucket, f, &content_type).await;
    }
    let body = body(f, 0, f.size).await?;
    let out = s3
        .put_object()
        .bucket(bucket)
        .key(&f.key)
        .body(body)
        .content_length(f.size as i64)
        .content_md5(base64::encode(f.md5))
        .content_type(&content_type)
        .cache_control(&f.cache_control)
        .send()
        .await
        .map_err(|e| changed_or(f, e))?;
    check_etag(f, out.e_tag(), &f.md5_hex())
}

/// The Content-Type `f` goes up with when cdnctl has none for it: the
/// object's, when specific; else the fallback.
async fn existing_type(s3: &Client, bucket: &str, f: &LocalFile) -> anyhow::Result<String> {
    match s3.head_object().bucket(bucket).key(&f.key).send().await {
        Ok(head) => Ok(type_for(f, head.content_type()).to_string()),
        Err(e) if crate::aws::is_not_found(&e) => Ok(f.content_type.clone()),
        Err(e) => Err(describe(format!("{}: HeadObject", f.key), e)),
    }
}

/// The Content-Type an object of `f` gets, given the one it has.
fn type_for<'a>(f: &'a LocalFile, existing: Option<&'a str>) -> &'a str {
    match existing {
        Some(t) if rules::keeps_type(&f.content_type, Some(t)) => t,
        _ => &f.content_type,
    }
}

async fn body(f: &LocalFile, offset: u64, length: u64) -> anyhow::Result<ByteStream> {
    ByteStream::read_from()
        .path(&f.path)
        .offset(offset)
        .length(Length::Exact(length))
        .build()
        .await
        .map_err(|e| {
            anyhow!(
                "{}: disappeared or became unreadable while syncing ({e}): run sync again",
                f.path.display()
            )
        })
}

fn changed_or<E>(
    f: &LocalFile,
    e: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> anyhow::Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let same_size = std::fs::metadata(&f.path).is_ok_and(|m| m.is_file() && m.len() == f.size);
    if crate::aws::is_bad_digest(&e) || !same_size {
        return anyhow!(
            "{}: changed or disappeared while syncing: run sync again",
            f.path.display()
        );
    }
    describe(format!("{}: upload", f.key), e)
}

fn check_etag(f: &LocalFile, etag: Option<&str>, expected: &str) -> anyhow::Result<()> {
    match etag.map(|e| e.trim_matches('"')) {
        Some(e) if e != expected => Err(anyhow!(
            "{}: changed while syncing (the bucket now has another version of it): run sync again",
            f.path.display()
        )),
        _ => Ok(()),
    }
}

async fn upload_in_parts(s3: &Client, bucket: &str, f: &LocalFile, content_type: &str) -> anyhow::Result<()> {
    let what = |op: &str| format!("{}: {op}", f.key);
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(&f.key)
        .content_type(content_type)
        .cache_control(&f.cache_control)
        .send()
        .await
        .map_err(|e| describe(what("CreateMultipartUpload"), e))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| anyhow!("{}", what("CreateMultipartUpload returned no upload id")))?
        .to_string();
    let result = async {
        let parts: Vec<CompletedPart> = stream::iter(f.parts.iter().enumerate())
            .map(|(i, md5)| {
                let upload_id = &upload_id;
                async move {
                    let offset = i as u64 * PART_SIZE;
                    let length = PART_SIZE.min(f.size - offset);
                    let out = s3
                        .upload_part()
                        .bucket(bucket)
                        .key(&f.key)
                        .upload_id(upload_id)
                        .part_number(i as i32 + 1)
                        .body(body(f, offset, length).await?)
                        .content_length(length as i64)
                        .content_md5(base64::encode(md5))
                        .send()
                        .await
                        .map_err(|e| changed_or(f, e))?;
                    check_etag(f, out.e_tag(), &super::scan::hex(md5))?;
                    anyhow::Ok(
                        CompletedPart::builder()
                            .part_number(i as i32 + 1)
                            .set_e_tag(out.e_tag().map(String::from))
                            .build(),
                    )
                }
            })
            .buffered(PART_JOBS)
            .try_collect()
            .await?;
        let done = s3
            .complete_multipart_upload()
            .bucket(bucket)
            .key(&f.key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await;
        match done {
            Ok(out) => check_etag(f, out.e_tag(), &f.etag()),
            // The answer to a completion that succeeded was lost and the retry
            // found the upload gone: the object tells whether it took.
            Err(e) if crate::aws::is_upload_gone(&e) => {
                let head = s3.head_object().bucket(bucket).key(&f.key).send().await;
                match head {
                    Ok(h) if h.e_tag().is_some_and(|t| t.trim_matches('"') == f.etag()) => Ok(()),
                    _ => Err(describe(what("CompleteMultipartUpload"), e)),
                }
            }
            Err(e) => Err(describe(what("CompleteMultipartUpload"), e)),
        }
    }
    .await;
    if result.is_err() {
        // Best effort: an incomplete upload is stored (and billed) until aborted.
        let _ = s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&f.key)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    result
}

/// S3's largest source for one CopyObject; above it, a multipart copy.
const COPY_LIMIT: u64 = 5 * 1024 * 1024 * 1024;

/// Correct an object's headers without uploading it again: a copy onto
/// itself that replaces its metadata. REPLACE replaces *all* of it, so what
/// sync does not manage is read first (HeadObject) and given again:
/// Content-Encoding, Content-Disposition, Content-Language, Expires,
/// `x-amz-meta-*`, the website redirect, the storage class and the KMS key.
/// The copy is of the version read (x-amz-copy-source-if-match). A file sent
/// in parts (and any object over CopyObject's 5 GB) is copied in parts of
/// cdnctl's part size, which keeps its ETag.
pub async fn update_headers(s3: &Client, bucket: &str, f: &LocalFile) -> anyhow::Result<()> {
    let what = |op: &str| format!("{}: {op} (header update)", f.key);
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(&f.key)
        .send()
        .await
        .map_err(|e| describe(what("HeadObject"), e))?;
    let size = head.content_length().unwrap_or(0).max(0) as u64;
    let etag = head.e_tag().unwrap_or_default().to_string();
    // A file sent in parts is copied in the same parts: its ETag stays the
    // one computed locally (a CopyObject may give it a plain MD5 instead).
    if f.parts.is_empty() && size <= COPY_LIMIT {
        let copy = keep!(
            s3.copy_object()
                .bucket(bucket)
                .key(&f.key)
                .copy_source(copy_source(bucket, &f.key))
                .copy_source_if_match(&etag)
                .metadata_directive(MetadataDirective::Replace)
                .content_type(type_for(f, head.content_type()))
                .cache_control(&f.cache_control),
            head
        );
        return copy.send().await.map(drop).map_err(|e| describe(what("CopyObject"), e));
    }
    copy_in_parts(s3, bucket, f, &head, size, &etag).await
}

/// Give a CopyObject or CreateMultipartUpload builder everything of `head`
/// that sync does not manage (the builders share the setters' names).
macro_rules! keep {
    ($builder:expr, $head:expr) => {{
        let head = &$head;
        let mut b = $builder
            .set_content_encoding(head.content_encoding().map(String::from))
            .set_content_disposition(head.content_disposition().map(String::from))
            .set_content_language(head.content_language().map(String::from))
            .set_metadata(head.metadata().cloned())
            .set_website_redirect_location(head.website_redirect_location().map(String::from))
            .set_storage_class(
                head.storage_class()
                    .filter(|c| **c != aws_sdk_s3::types::StorageClass::Standard)
                    .cloned(),
            );
        if let Some(sse) = head
            .server_side_encryption()
            .filter(|s| s.as_str().starts_with("aws:kms"))
        {
            b = b
                .server_side_encryption(sse.clone())
                .set_ssekms_key_id(head.ssekms_key_id().map(String::from))
                .set_bucket_key_enabled(head.bucket_key_enabled());
        }
        // S3 keeps Expires as the text it was given: send it back as is.
        let expires = head.expires_string().map(String::from);
        b.customize().mutate_request(move |request| {
            if let Some(value) = &expires {
                request.headers_mut().insert("Expires", value.clone());
            }
        })
    }};
}
use keep;

/// A copy onto itself in parts of [`PART_SIZE`] (UploadPartCopy), for objects
/// CopyObject cannot copy. The object's ETag stays the one cdnctl computes.
async fn copy_in_parts(
    s3: &Client,
    bucket: &str,
    f: &LocalFile,
    head: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    size: u64,
    etag: &str,
) -> anyhow::Result<()> {
    let what = |op: &str| format!("{}: {op} (header update)", f.key);
    let created = keep!(
        s3.create_multipart_upload()
            .bucket(bucket)
            .key(&f.key)
            .content_type(type_for(f, head.content_type()))
            .cache_control(&f.cache_control),
        head
    )
    .send()
    .await
    .map_err(|e| describe(what("CreateMultipartUpload"), e))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| anyhow!("{}", what("CreateMultipartUpload returned no upload id")))?
        .to_string();
    let parts = size.div_ceil(PART_SIZE).max(1);
    let result = async {
        let done: Vec<CompletedPart> = stream::iter(0..parts)
            .map(|i| {
                let upload_id = &upload_id;
                async move {
                    let start = i * PART_SIZE;
                    let end = (start + PART_SIZE).min(size).max(1) - 1;
                    let out = s3
                        .upload_part_copy()
                        .bucket(bucket)
                        .key(&f.key)
                        .upload_id(upload_id)
                        .part_number(i as i32 + 1)
                        .copy_source(copy_source(bucket, &f.key))
                        .copy_source_if_match(etag)
                        .copy_source_range(format!("bytes={start}-{end}"))
                        .send()
                        .await
                        .map_err(|e| describe(what("UploadPartCopy"), e))?;
                    anyhow::Ok(
                        CompletedPart::builder()
                            .part_number(i as i32 + 1)
                            .set_e_tag(out.copy_part_result().and_then(|r| r.e_tag()).map(String::from))
                            .build(),
                    )
                }
            })
            .buffered(PART_JOBS)
            .try_collect()
            .await?;
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(&f.key)
            .upload_id(&upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
            .send()
            .await
            .map_err(|e| describe(what("CompleteMultipartUpload"), e))
    }
    .await;
    match result {
        Ok(out) => check_etag(f, out.e_tag(), &f.etag()),
        Err(e) => {
            // Best effort: an incomplete upload is stored (and billed) until aborted.
            let _ = s3
                .abort_multipart_upload()
                .bucket(bucket)
                .key(&f.key)
                .upload_id(&upload_id)
                .send()
                .await;
            Err(e)
        }
    }
}

/// `bucket/key`, the key percent-encoded (CopySource is a URL path).
fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for &b in key.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Delete keys, 1,000 a request.
pub async fn delete(s3: &Client, bucket: &str, keys: &[String], jobs: usize) -> anyhow::Result<()> {
    stream::iter(keys.chunks(1000))
        .map(|chunk| async move {
            let ids = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<Result<Vec<_>, _>>()?;
            crate::resources::bucket::delete_objects(s3, bucket, ids).await?;
            anyhow::Ok(())
        })
        .buffer_unordered(jobs.min(4))
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

/// Poll until the invalidation is Completed.
pub async fn wait_invalidated(
    cf: &aws_sdk_cloudfront::Client,
    distribution_id: &str,
    id: &str,
    waiting: &Waiting,
) -> anyhow::Result<()> {
    let start = std::time::Instant::now();
    loop {
        let out = cf
            .get_invalidation()
            .distribution_id(distribution_id)
            .id(id)
            .send()
            .await
            .map_err(|e| describe(format!("invalidation {id}: GetInvalidation"), e))?;
        let status = out.invalidation.map(|i| i.status).unwrap_or_default();
        if status.eq_ignore_ascii_case("completed") {
            return Ok(());
        }
        if start.elapsed() > waiting.timeout {
            anyhow::bail!(
                "invalidation {id}: still {status} after {:?}: it goes on; check later",
                waiting.timeout
            );
        }
        tokio::time::sleep(waiting.every.max(Duration::from_millis(100))).await;
    }
}
