//! What AWS's refusals mean, matched in one place per kind: each service
//! spells "not found", "in use" or "already exists" its own way, and the
//! modules that talk to AWS ask by kind, never by code.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{code, Waiting};

/// Codes that mean "this thing does not exist" across the four services.
const NOT_FOUND: &[&str] = &[
    "NotFound",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchTagSet",
    "NoSuchTagSetError",
    "NoSuchPublicAccessBlockConfiguration",
    "OwnershipControlsNotFoundError",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchCORSConfiguration",
    "NoSuchBucketPolicy",
    "NoSuchWebsiteConfiguration",
    "NoSuchDistribution",
    "NoSuchOriginAccessControl",
    "NoSuchCloudFrontOriginAccessIdentity",
    "NoSuchResponseHeadersPolicy",
    "NoSuchHostedZone",
    "NoSuchResource",
    "ResourceNotFoundException",
    "NoSuchFunctionExists",
    "EntityNotFound",
];

/// The thing, or its subresource, does not exist (or the service answered
/// 404 without saying more).
pub fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    code(err).is_some_and(|c| NOT_FOUND.contains(&c)) || (code(err).is_none() && super::status(err) == Some(404))
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident => $($code:literal)|+;)*) => {$(
        $(#[$doc])*
        pub fn $name<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
            matches!(code(err), Some($($code)|+))
        }
    )*};
}

kinds! {
    /// Something else still uses it; AWS keeps saying so for minutes after
    /// the user is gone.
    is_in_use => "OriginAccessControlInUse" | "ResponseHeadersPolicyInUse" | "ResourceInUseException"
        | "FunctionInUse" | "CannotDeleteEntityWhileInUse" | "CloudFrontOriginAccessIdentityInUse";
    /// It exists already: an earlier, interrupted run created it after this
    /// run looked (for a bucket: one of this account's).
    already_exists => "OriginAccessControlAlreadyExists" | "ResponseHeadersPolicyAlreadyExists"
        | "DistributionAlreadyExists" | "BucketAlreadyOwnedByYou" | "FunctionAlreadyExists" | "EntityAlreadyExists";
    /// The bucket itself is not there (as opposed to one of its settings).
    is_bucket_missing => "NoSuchBucket";
    /// The bucket name belongs to another account.
    is_bucket_taken => "BucketAlreadyExists";
    is_access_denied => "AccessDenied";
    /// The ETag sent with If-Match is no longer the current one.
    is_stale_etag => "PreconditionFailed";
    /// A key value store changed between the read of its ETag and the write.
    is_store_conflict => "ConflictException";
    /// A conditional write lost: another writer came first (412), the object
    /// was removed (404 with If-Match), or S3 saw a concurrent write (409).
    is_lost_conditional_write => "PreconditionFailed" | "NoSuchKey" | "ConditionalRequestConflict";
    /// CloudFront has not finished disabling the distribution.
    is_not_disabled => "DistributionNotDisabled";
    /// Too many invalidations of the distribution are in progress; it passes
    /// as they complete.
    is_too_many_invalidations => "TooManyInvalidationsInProgress";
    /// CloudFront refuses the viewer certificate (for a while, a fresh one).
    is_certificate_refused => "InvalidViewerCertificate";
    is_malformed_policy => "MalformedPolicy";
    /// Route 53 refused the whole change batch.
    is_invalid_change_batch => "InvalidChangeBatch";
    /// The uploaded bytes do not match their checksum.
    is_bad_digest => "BadDigest" | "InvalidDigest";
    /// The multipart upload is gone (completed or aborted).
    is_upload_gone => "NoSuchUpload";
}

/// Send a delete again while AWS says the thing is still in use (`busy`),
/// within `waiting` (once, without it); a thing already gone is deleted.
pub async fn delete_through<T, E, F, Fut>(
    waiting: Option<&Waiting>,
    busy: impl Fn(&SdkError<E, HttpResponse>) -> bool,
    progress: impl FnMut(&str, Duration),
    send: F,
) -> Result<(), SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut send = send;
    let result = match waiting {
        Some(w) => w.through(busy, progress, send).await,
        None => send().await,
    };
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Tags as a map, whichever service's tag type they came in (a missing
/// value is empty).
pub fn tag_map<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.unwrap_or("").to_string()))
        .collect()
}

/// What a create made (`made`), or, when AWS says it exists already (an
/// earlier, interrupted run created it after this run looked), what `find`
/// finds instead.
pub async fn created_or_found<T, O, E, Fut>(
    what: impl std::fmt::Display,
    created: Result<T, SdkError<E, HttpResponse>>,
    made: impl FnOnce(T) -> O,
    find: impl FnOnce() -> Fut,
) -> anyhow::Result<O>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<O>>,
{
    match created {
        Ok(out) => Ok(made(out)),
        Err(e) if already_exists(&e) => find().await,
        Err(e) => Err(super::describe(what, e)),
    }
}
