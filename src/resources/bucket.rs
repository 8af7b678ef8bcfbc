//! The S3 bucket that is the private origin: observe it, create it, correct
//! each of its settings, empty it and delete it.

use std::collections::BTreeMap;

use std::time::Duration;

use anyhow::{anyhow, Context as _};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration, Delete, EncodingType,
    ObjectIdentifier, ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use crate::aws::{describe, message, optional, Waiting};
use crate::resources::bucket_policy;
use crate::spec::{policy_differences, Cors, Spec};

#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Absent,
    /// Exists, but not in this account (or not readable by these credentials).
    Foreign,
    Present(Observed),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub tags: BTreeMap<String, String>,
    /// BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets.
    pub public_access_block: Option<[bool; 4]>,
    pub ownership: Option<String>,
    pub encryption: Option<String>,
    pub cors: Option<Cors>,
    pub policy: Option<Value>,
    /// Static website hosting is configured.
    pub website: bool,
}

/// A bucket created moments ago can answer NoSuchBucket to its subresource
/// calls (S3's eventual consistency) for a few seconds.
const NEW_BUCKET_WINDOW: Duration = Duration::from_secs(120);

/// All reads at once: one round trip. A bucket that HeadBucket finds but
/// whose settings answer NoSuchBucket has just been created: read again
/// rather than take that for "no tags" (and the stack's own bucket for
/// someone else's).
pub async fn observe(s3: &Client, bucket: &str, region: &str, waiting: &Waiting) -> anyhow::Result<State> {
    let start = tokio::time::Instant::now();
    let settle = waiting.at_most(NEW_BUCKET_WINDOW);
    loop {
        match observe_once(s3, bucket, region).await? {
            Some(state) => return Ok(state),
            None if start.elapsed() < settle.timeout => {
                tokio::time::sleep(settle.every.min(Duration::from_secs(2))).await
            }
            None => anyhow::bail!(
                "bucket {bucket}: exists, but S3 still answers NoSuchBucket for its settings after {}s: run the command again in a minute",
                settle.timeout.as_secs()
            ),
        }
    }
}

/// `None` when the bucket exists but its settings are not readable yet.
async fn observe_once(s3: &Client, bucket: &str, region: &str) -> anyhow::Result<Option<State>> {
    let what = |w: &str| format!("bucket {bucket}: {w}");
    let (head, tags, pab, ownership, encryption, cors, policy, website) = tokio::join!(
        s3.head_bucket().bucket(bucket).send(),
        s3.get_bucket_tagging().bucket(bucket).send(),
        s3.get_public_access_block().bucket(bucket).send(),
        s3.get_bucket_ownership_controls().bucket(bucket).send(),
        s3.get_bucket_encryption().bucket(bucket).send(),
        s3.get_bucket_cors().bucket(bucket).send(),
        s3.get_bucket_policy().bucket(bucket).send(),
        s3.get_bucket_website().bucket(bucket).send(),
    );
    if head
        .as_ref()
        .is_err_and(|e| e.raw_response().is_some_and(|r| r.status().as_u16() == 403))
    {
        return Ok(Some(State::Foreign));
    }
    // S3 names the bucket's region in a header, also on a 301 from the wrong region.
    let elsewhere = match &head {
        Err(e) => e
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(String::from),
        Ok(h) => h.bucket_region().map(String::from),
    };
    if let Some(actual) = elsewhere.filter(|r| r != region) {
        anyhow::bail!(
            "bucket {bucket}: exists in region {actual}, but AWS_REGION is {region}: set AWS_REGION={actual}"
        );
    }
    if optional(what("HeadBucket"), head)?.is_none() {
        return Ok(Some(State::Absent));
    }
    let unsettled = [
        code(&tags) == Some("NoSuchBucket"),
        code(&pab) == Some("NoSuchBucket"),
        code(&ownership) == Some("NoSuchBucket"),
        code(&encryption) == Some("NoSuchBucket"),
        code(&cors) == Some("NoSuchBucket"),
        code(&policy) == Some("NoSuchBucket"),
        code(&website) == Some("NoSuchBucket"),
    ];
    if unsettled.contains(&true) {
        return Ok(None);
    }
    let tags = optional(what("GetBucketTagging"), tags)?
        .map(|t| {
            t.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let public_access_block = optional(what("GetPublicAccessBlock"), pab)?
        .and_then(|o| o.public_access_block_configuration().cloned())
        .map(|c| {
            [
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ]
        });
    let ownership = optional(what("GetBucketOwnershipControls"), ownership)?.and_then(|o| {
        o.ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string())
    });
    let encryption = optional(what("GetBucketEncryption"), encryption)?.and_then(|o| {
        o.server_side_encryption_configuration()
            .and_then(|c| c.rules().first())
            .and_then(|r| r.apply_server_side_encryption_by_default())
            .map(|d| d.sse_algorithm().as_str().to_string())
    });
    let cors = optional(what("GetBucketCors"), cors)?.and_then(|o| {
        o.cors_rules().first().map(|r| Cors {
            allowed_origins: r.allowed_origins().to_vec(),
            allowed_methods: r.allowed_methods().to_vec(),
            allowed_headers: r.allowed_headers().to_vec(),
            max_age_seconds: r.max_age_seconds().unwrap_or(0),
        })
    });
    let policy = optional(what("GetBucketPolicy"), policy)?
        .and_then(|o| o.policy().map(String::from))
        .map(|p| serde_json::from_str(&p).unwrap_or(Value::String(p)));
    let website = match website {
        Err(e) if code_of(&e) == Some("NoSuchWebsiteConfiguration") => false,
        other => optional(what("GetBucketWebsite"), other)?.is_some(),
    };
    Ok(Some(State::Present(Observed {
        tags,
        public_access_block,
        ownership,
        encryption,
        cors,
        policy,
        website,
    })))
}

fn code_of<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<&str> {
    crate::aws::code(e)
}

/// The error code of a failed request, if it failed with one.
fn code<T, E: ProvideErrorMetadata>(result: &Result<T, SdkError<E, HttpResponse>>) -> Option<&str> {
    result.as_ref().err().and_then(crate::aws::code)
}

/// What differs from the spec, one line per setting. `policy` is the desired
/// policy when the distribution's ARN is known.
pub fn differences(actual: &Observed, spec: &Spec, policy: Option<&Value>) -> Vec<(Setting, Vec<String>)> {
    let mut out = Vec::new();
    match actual.public_access_block {
        Some(flags) if flags == [true; 4] => {}
        Some(flags) => {
            let names = [
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            ];
            let off = names
                .iter()
                .zip(flags)
                .filter(|(_, on)| !on)
                .map(|(n, _)| format!("public access block: {n} is false"));
            out.push((Setting::PublicAccessBlock, off.collect()));
        }
        None => out.push((Setting::PublicAccessBlock, vec!["public access block: not set".into()])),
    }
    if actual.ownership.as_deref() != Some("BucketOwnerEnforced") {
        let was = actual.ownership.as_deref().unwrap_or("not set");
        out.push((
            Setting::Ownership,
            vec![format!("object ownership: {was}, expected BucketOwnerEnforced")],
        ));
    }
    if actual.encryption.as_deref() != Some("AES256") {
        let was = actual.encryption.as_deref().unwrap_or("not set");
        out.push((
            Setting::Encryption,
            vec![format!("default encryption: {was}, expected AES256 (SSE-S3)")],
        ));
    }
    if actual.cors.as_ref() != Some(&spec.cors) {
        let line = match &actual.cors {
            None => "CORS: no rules".to_string(),
            Some(c) if c.allowed_origins != spec.cors.allowed_origins => format!(
                "CORS: allowed origins {}, expected {}",
                c.allowed_origins.join(","),
                spec.cors.allowed_origins.join(",")
            ),
            Some(_) => "CORS: rule differs from the settings".to_string(),
        };
        out.push((Setting::Cors, vec![line]));
    }
    let tag_lines: Vec<String> = spec
        .tags
        .iter()
        .filter(|(k, v)| actual.tags.get(*k) != Some(v))
        .map(|(k, v)| {
            format!(
                "tag {k}: {}, expected {v}",
                actual.tags.get(k).map(String::as_str).unwrap_or("missing")
            )
        })
        .collect();
    if !tag_lines.is_empty() {
        out.push((Setting::Tags, tag_lines));
    }
    if let Some(want) = policy {
        // Only cdnctl's own statements: the others are kept as they are.
        let lines = match &actual.policy {
            None => vec!["bucket policy: not set".to_string()],
            Some(have) => policy_differences(&bucket_policy::own(have, spec, want), want),
        };
        if !lines.is_empty() {
            out.push((Setting::Policy, lines));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    PublicAccessBlock,
    Ownership,
    Encryption,
    Cors,
    Tags,
    Policy,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::PublicAccessBlock => "block public access",
            Setting::Ownership => "enforce bucket owner (ACLs off)",
            Setting::Encryption => "default encryption",
            Setting::Cors => "CORS rules",
            Setting::Tags => "tags",
            Setting::Policy => "bucket policy",
        }
    }
}

/// Create the bucket, tagged as this stack's in the same request, so that a
/// run interrupted right after creating it leaves a bucket the next run
/// recognises as its own.
pub async fn create(s3: &Client, spec: &Spec) -> anyhow::Result<()> {
    let (bucket, region) = (spec.bucket.as_str(), spec.region.as_str());
    let mut config = CreateBucketConfiguration::builder().set_tags(Some(tag_set(&spec.tags)?));
    if region != "us-east-1" {
        config = config.location_constraint(BucketLocationConstraint::from(region));
    }
    let request = s3
        .create_bucket()
        .bucket(bucket)
        // Set at creation: ACLs are never enabled, not even for a moment.
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .create_bucket_configuration(config.build());
    match request.send().await {
        Ok(_) => {}
        // An earlier, interrupted run created it.
        Err(e) if crate::aws::code(&e) == Some("BucketAlreadyOwnedByYou") => {}
        Err(e) if crate::aws::code(&e) == Some("BucketAlreadyExists") => {
            return Err(anyhow!(
                "BUCKET_NAME: bucket {bucket:?} already exists in another AWS account: bucket names are global, choose another"
            ))
        }
        Err(e) if crate::aws::code(&e) == Some("AccessDenied") => {
            let message = message(&e).unwrap_or("").to_string();
            return Err(anyhow!(
                "bucket {bucket}: CreateBucket: AccessDenied: {message}\n\
                 cdnctl tags the bucket as it creates it, which needs s3:TagResource besides s3:CreateBucket \
                 (roles written for the CDK stack often grant only s3:PutBucketTagging): add s3:TagResource \
                 to the role's policy (see README, Permissions)"
            ));
        }
        Err(e) => return Err(describe(format!("bucket {bucket}: CreateBucket"), e)),
    }
    Ok(())
}

fn no_such_bucket<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    crate::aws::code(e) == Some("NoSuchBucket")
}

fn tag_set(tags: &BTreeMap<String, String>) -> anyhow::Result<Vec<Tag>> {
    Ok(tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<Vec<_>, _>>()?)
}

/// PutBucketTagging replaces the whole set, and S3 refuses a set that drops
/// a system tag (`aws:cloudformation:*` on a bucket the CDK made): keep every
/// tag there is, user tags too, and set the stack's over them.
async fn put_tags(
    s3: &Client,
    spec: &Spec,
    current: &BTreeMap<String, String>,
    waiting: &Waiting,
) -> anyhow::Result<()> {
    let bucket = spec.bucket.as_str();
    let mut merged = current.clone();
    merged.extend(spec.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    let tagging = Tagging::builder().set_tag_set(Some(tag_set(&merged)?)).build()?;
    waiting
        .at_most(NEW_BUCKET_WINDOW)
        .through(
            no_such_bucket,
            |_, _| {},
            || s3.put_bucket_tagging().bucket(bucket).tagging(tagging.clone()).send(),
        )
        .await
        .map(drop)
        .map_err(|e| describe(format!("bucket {bucket}: PutBucketTagging"), e))
}

/// An IAM role or user created moments ago is unknown to S3's policy check
/// until IAM propagates, a minute or two.
const IAM_PROPAGATION_WINDOW: Duration = Duration::from_secs(180);

fn invalid_principal<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    crate::aws::code(e) == Some("MalformedPolicy") && message(e).is_some_and(|m| m.contains("Invalid principal"))
}

/// cdnctl's statements of the bucket policy, and whether to drop the
/// statements letting anyone read (`up --end-public-access`).
#[derive(Debug, Clone, Copy)]
pub struct PolicyWrite<'a> {
    pub desired: &'a Value,
    pub drop_public: bool,
}

/// Correct one setting. Each waits through the NoSuchBucket window of a new
/// bucket; the policy also through IAM's propagation of new principals.
pub async fn put(
    s3: &Client,
    spec: &Spec,
    setting: Setting,
    policy: Option<PolicyWrite<'_>>,
    waiting: &Waiting,
    mut progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    let bucket = spec.bucket.as_str();
    let what = |op: &str| format!("bucket {bucket}: {op}");
    let settle = waiting.at_most(NEW_BUCKET_WINDOW);
    match setting {
        Setting::PublicAccessBlock => {
            let config = PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build();
            settle
                .send(no_such_bucket, &mut progress, what("PutPublicAccessBlock"), || {
                    s3.put_public_access_block()
                        .bucket(bucket)
                        .public_access_block_configuration(config.clone())
                        .send()
                })
                .await
                .map(drop)
        }
        Setting::Ownership => {
            let controls = OwnershipControls::builder()
                .rules(
                    OwnershipControlsRule::builder()
                        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                        .build()?,
                )
                .build()?;
            settle
                .send(
                    no_such_bucket,
                    &mut progress,
                    what("PutBucketOwnershipControls"),
                    || {
                        s3.put_bucket_ownership_controls()
                            .bucket(bucket)
                            .ownership_controls(controls.clone())
                            .send()
                    },
                )
                .await
                .map(drop)
        }
        Setting::Encryption => {
            let config = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?;
            settle
                .send(no_such_bucket, &mut progress, what("PutBucketEncryption"), || {
                    s3.put_bucket_encryption()
                        .bucket(bucket)
                        .server_side_encryption_configuration(config.clone())
                        .send()
                })
                .await
                .map(drop)
        }
        Setting::Cors => {
            let rule = CorsRule::builder()
                .set_allowed_origins(Some(spec.cors.allowed_origins.clone()))
                .set_allowed_methods(Some(spec.cors.allowed_methods.clone()))
                .set_allowed_headers(Some(spec.cors.allowed_headers.clone()))
                .max_age_seconds(spec.cors.max_age_seconds)
                .build()?;
            let config = CorsConfiguration::builder().cors_rules(rule).build()?;
            settle
                .send(no_such_bucket, &mut progress, what("PutBucketCors"), || {
                    s3.put_bucket_cors()
                        .bucket(bucket)
                        .cors_configuration(config.clone())
                        .send()
                })
                .await
                .map(drop)
        }
        Setting::Tags => {
            // Read what is there now, to merge with it.
            let current = settle
                .through(no_such_bucket, &mut progress, || {
                    s3.get_bucket_tagging().bucket(bucket).send()
                })
                .await;
            let current: BTreeMap<String, String> = optional(what("GetBucketTagging"), current)?
                .map(|t| {
                    t.tag_set()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            // A bucket just created carries them already, unless the endpoint
            // ignored the tags given at creation (some S3-compatible ones do).
            if spec.tags.iter().all(|(k, v)| current.get(k) == Some(v)) {
                return Ok(());
            }
            put_tags(s3, spec, &current, waiting).await
        }
        Setting::Policy => {
            let write = policy.context("bucket policy: the distribution's ARN is not known yet")?;
            // Read what is there now: every statement cdnctl did not write stays.
            let current = settle
                .through(no_such_bucket, &mut progress, || {
                    s3.get_bucket_policy().bucket(bucket).send()
                })
                .await;
            let current = optional(what("GetBucketPolicy"), current)?
                .and_then(|o| o.policy)
                .map(|p| serde_json::from_str::<Value>(&p))
                .transpose()
                .with_context(|| format!("bucket {bucket}: its policy is not JSON"))?;
            let policy = bucket_policy::merge(current.as_ref(), spec, write.desired, write.drop_public).to_string();
            let settling = |e: &SdkError<_, HttpResponse>| no_such_bucket(e) || invalid_principal(e);
            let result = waiting
                .at_most(IAM_PROPAGATION_WINDOW)
                .through(settling, &mut progress, || {
                    s3.put_bucket_policy().bucket(bucket).policy(policy.clone()).send()
                })
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if crate::aws::code(&e) == Some("MalformedPolicy") => {
                    let message = message(&e).unwrap_or("").to_string();
                    Err(anyhow!(
                        "BUCKET_USERS: AWS rejected the bucket policy ({message}): check that each of {} exists \
                         (a role or user created in the last minutes may not have propagated yet: run `cdnctl up` again shortly)",
                        spec.bucket_users.join(", ")
                    ))
                }
                Err(e) => Err(describe(what("PutBucketPolicy"), e)),
            }
        }
    }
}

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

pub async fn delete(s3: &Client, bucket: &str) -> anyhow::Result<()> {
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if crate::aws::code(&e) == Some("NoSuchBucket") => Ok(()),
        Err(e) => Err(describe(format!("bucket {bucket}: DeleteBucket"), e)),
    }
}
