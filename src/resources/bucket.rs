//! The S3 bucket that is the private origin: observe it, create it, correct
//! each of its settings, empty it and delete it.

mod cors;
mod objects;
mod public;
mod steps;

pub use cors::removed_origins;
pub use objects::{count_objects, decode_key, delete_objects, empty};
pub use public::{end_public_access, serves_public_refusal};
pub use steps::{down, up, Step};

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, Context as _};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CorsConfiguration, CorsRule, CreateBucketConfiguration, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use aws_sdk_s3::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::Value;

use crate::aws::{describe, is_bucket_missing, message, optional, tag_map, Waiting};
use crate::resources::bucket_policy;
use crate::settings::Setting::{BucketName, BucketUsers};
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
    observe_reading(s3, bucket, region, waiting, Reads::All).await
}

/// Which of the bucket's settings a read asks S3 for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Every setting `up` manages.
    All,
    /// What publishing into the bucket needs (sync's lookup): whether it
    /// exists and is this account's, its tags and its default encryption.
    /// The rest of [`Observed`] stays empty: not for drift.
    Publishing,
}

/// [`observe`], reading only what `reads` asks for.
pub async fn observe_reading(
    s3: &Client,
    bucket: &str,
    region: &str,
    waiting: &Waiting,
    reads: Reads,
) -> anyhow::Result<State> {
    let start = tokio::time::Instant::now();
    let settle = waiting.at_most(NEW_BUCKET_WINDOW);
    loop {
        match observe_once(s3, bucket, region, reads).await? {
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
async fn observe_once(s3: &Client, bucket: &str, region: &str, reads: Reads) -> anyhow::Result<Option<State>> {
    let what = |w: &str| format!("bucket {bucket}: {w}");
    let all = reads == Reads::All;
    let (head, tags, pab, ownership, encryption, cors, policy, website) = tokio::join!(
        s3.head_bucket().bucket(bucket).send(),
        s3.get_bucket_tagging().bucket(bucket).send(),
        when(all, s3.get_public_access_block().bucket(bucket).send()),
        when(all, s3.get_bucket_ownership_controls().bucket(bucket).send()),
        s3.get_bucket_encryption().bucket(bucket).send(),
        when(all, s3.get_bucket_cors().bucket(bucket).send()),
        when(all, s3.get_bucket_policy().bucket(bucket).send()),
        when(all, s3.get_bucket_website().bucket(bucket).send()),
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
        bucket_missing(tags.as_ref().err()),
        bucket_missing(pab.as_ref().and_then(|r| r.as_ref().err())),
        bucket_missing(ownership.as_ref().and_then(|r| r.as_ref().err())),
        bucket_missing(encryption.as_ref().err()),
        bucket_missing(cors.as_ref().and_then(|r| r.as_ref().err())),
        bucket_missing(policy.as_ref().and_then(|r| r.as_ref().err())),
        bucket_missing(website.as_ref().and_then(|r| r.as_ref().err())),
    ];
    if unsettled.contains(&true) {
        return Ok(None);
    }
    let tags = optional(what("GetBucketTagging"), tags)?
        .map(|t| tag_map(t.tag_set().iter().map(|t| (t.key(), Some(t.value())))))
        .unwrap_or_default();
    let public_access_block = read(what("GetPublicAccessBlock"), pab)?
        .and_then(|o| o.public_access_block_configuration().cloned())
        .map(|c| {
            [
                c.block_public_acls().unwrap_or(false),
                c.ignore_public_acls().unwrap_or(false),
                c.block_public_policy().unwrap_or(false),
                c.restrict_public_buckets().unwrap_or(false),
            ]
        });
    let ownership = read(what("GetBucketOwnershipControls"), ownership)?.and_then(|o| {
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
    let cors = read(what("GetBucketCors"), cors)?.and_then(|o| {
        o.cors_rules().first().map(|r| Cors {
            allowed_origins: r.allowed_origins().to_vec(),
            allowed_methods: r.allowed_methods().to_vec(),
            allowed_headers: r.allowed_headers().to_vec(),
            max_age_seconds: r.max_age_seconds().unwrap_or(0),
        })
    });
    let policy = read(what("GetBucketPolicy"), policy)?
        .and_then(|o| o.policy().map(String::from))
        .map(|p| serde_json::from_str(&p).unwrap_or(Value::String(p)));
    let website = read(what("GetBucketWebsite"), website)?.is_some();
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

/// `f`'s output, if `on`; else nothing is sent.
async fn when<F: std::future::Future>(on: bool, f: F) -> Option<F::Output> {
    if on {
        Some(f.await)
    } else {
        None
    }
}

/// [`optional`], for a read that may not have been sent (`None`).
fn read<T, E>(what: String, sent: Option<Result<T, SdkError<E, HttpResponse>>>) -> anyhow::Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    sent.map_or(Ok(None), |r| optional(what, r))
}

/// Whether a request failed because the bucket is not there.
fn bucket_missing<E: ProvideErrorMetadata>(err: Option<&SdkError<E, HttpResponse>>) -> bool {
    err.is_some_and(is_bucket_missing)
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
        Err(e) if crate::aws::already_exists(&e) => {}
        Err(e) if crate::aws::is_bucket_taken(&e) => {
            return Err(anyhow!(
                "{BucketName}: bucket {bucket:?} already exists in another AWS account: bucket names are global, choose another"
            ))
        }
        Err(e) if crate::aws::is_access_denied(&e) => {
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
            is_bucket_missing,
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
    crate::aws::is_malformed_policy(e) && message(e).is_some_and(|m| m.contains("Invalid principal"))
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
                .send(is_bucket_missing, &mut progress, what("PutPublicAccessBlock"), || {
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
                    is_bucket_missing,
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
                .send(is_bucket_missing, &mut progress, what("PutBucketEncryption"), || {
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
                .send(is_bucket_missing, &mut progress, what("PutBucketCors"), || {
                    s3.put_bucket_cors()
                        .bucket(bucket)
                        .cors_configuration(config.clone())
                        .send()
                })
                .await
                .map(drop)
        }
        Setting::Tags => put_missing_tags(s3, spec, waiting, progress).await,
        Setting::Policy => {
            let write = policy.context("bucket policy: the distribution's ARN is not known yet")?;
            put_policy(s3, spec, write, waiting, progress).await
        }
    }
}

/// Add the stack's tags, merged with those there, unless all are there.
async fn put_missing_tags(
    s3: &Client,
    spec: &Spec,
    waiting: &Waiting,
    mut progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    let bucket = spec.bucket.as_str();
    let what = |op: &str| format!("bucket {bucket}: {op}");
    let settle = waiting.at_most(NEW_BUCKET_WINDOW);
    // Read what is there now, to merge with it.
    let current = settle
        .through(is_bucket_missing, &mut progress, || {
            s3.get_bucket_tagging().bucket(bucket).send()
        })
        .await;
    let current: BTreeMap<String, String> = optional(what("GetBucketTagging"), current)?
        .map(|t| tag_map(t.tag_set().iter().map(|t| (t.key(), Some(t.value())))))
        .unwrap_or_default();
    // A bucket just created carries them already, unless the endpoint
    // ignored the tags given at creation (some S3-compatible ones do).
    if spec.tags.iter().all(|(k, v)| current.get(k) == Some(v)) {
        return Ok(());
    }
    put_tags(s3, spec, &current, waiting).await
}

/// Write cdnctl's statements into the bucket policy; every statement cdnctl
/// did not write stays.
async fn put_policy(
    s3: &Client,
    spec: &Spec,
    write: PolicyWrite<'_>,
    waiting: &Waiting,
    mut progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    let bucket = spec.bucket.as_str();
    let what = |op: &str| format!("bucket {bucket}: {op}");
    let settle = waiting.at_most(NEW_BUCKET_WINDOW);
    let current = settle
        .through(is_bucket_missing, &mut progress, || {
            s3.get_bucket_policy().bucket(bucket).send()
        })
        .await;
    let current = optional(what("GetBucketPolicy"), current)?
        .and_then(|o| o.policy)
        .map(|p| serde_json::from_str::<Value>(&p))
        .transpose()
        .with_context(|| format!("bucket {bucket}: its policy is not JSON"))?;
    let policy = bucket_policy::merge(current.as_ref(), spec, write.desired, write.drop_public).to_string();
    let settling = |e: &SdkError<_, HttpResponse>| is_bucket_missing(e) || invalid_principal(e);
    let result = waiting
        .at_most(IAM_PROPAGATION_WINDOW)
        .through(settling, &mut progress, || {
            s3.put_bucket_policy().bucket(bucket).policy(policy.clone()).send()
        })
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if crate::aws::is_malformed_policy(&e) => {
            let message = message(&e).unwrap_or("").to_string();
            Err(anyhow!(
                "{BucketUsers}: AWS rejected the bucket policy ({message}): check that each of {} exists \
                 (a role or user created in the last minutes may not have propagated yet: run `cdnctl up` again shortly)",
                spec.bucket_users.join(", ")
            ))
        }
        Err(e) => Err(describe(what("PutBucketPolicy"), e)),
    }
}

pub async fn delete(s3: &Client, bucket: &str) -> anyhow::Result<()> {
    match s3.delete_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if crate::aws::is_bucket_missing(&e) => Ok(()),
        Err(e) => Err(describe(format!("bucket {bucket}: DeleteBucket"), e)),
    }
}

/// Why `up` must not start because of the bucket: another account's, or not
/// this stack's and not to be adopted.
pub fn refusal(state: &State, spec: &Spec, adopt: bool) -> Option<String> {
    match state {
        State::Foreign => Some(format!(
            "{BucketName}: bucket {:?} exists but belongs to another AWS account (or these credentials may not read it): choose another name",
            spec.bucket
        )),
        State::Present(o) if !spec.is_owned(&o.tags) && !adopt => Some(format!(
            "bucket {}: exists but was not created by cdnctl for this stack (no cdnctl:stack tag): \
             run `cdnctl up --adopt` to take it over (its settings are corrected and cdnctl's statements added to its policy; \
             the policy's other statements and its files are kept)",
            spec.bucket
        )),
        _ => None,
    }
}
