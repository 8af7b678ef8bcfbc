//! Finding the stack that sync (and deploy, check, rollback, a release)
//! publishes to: its bucket, which must exist, be this account's, carry the
//! stack's tag and not be under SSE-KMS; and its distribution, the only one
//! that gets invalidations.
//!
//! The distribution is found through the bucket policy: cdnctl's
//! `CloudFrontRead` statement names it (`AWS:SourceArn`), so GetBucketPolicy,
//! sent with the bucket's reads, then the named distribution's tags find it
//! in two round trips however many distributions the account holds. Its tags
//! decide: only one carrying this stack's ownership tag is taken. In every
//! other case (no policy or no right to read it, no such statement, the
//! distribution gone or not tagged as the stack's) the lookup falls back to
//! `up`'s: ListDistributions (100 a page, one round trip in a row per page)
//! and the tags of those carrying the stack's comment, with its refusals.

use super::stop::Stop;
use crate::aws::{describe, Clients, Waiting};
use crate::resources::{bucket, bucket_policy, distribution};
use crate::spec::Spec;

pub struct Destination {
    pub distribution_id: Option<String>,
    /// Its ARN, for reading its tags and configuration.
    pub distribution_arn: Option<String>,
}

/// The stack's bucket and distribution, or a clear refusal.
pub async fn find_destination(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Destination> {
    let (state, named) = tokio::join!(
        bucket::observe_reading(
            &clients.s3,
            &spec.bucket,
            &clients.region,
            waiting,
            bucket::Reads::Publishing
        ),
        named_by_policy(clients, spec)
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
    let owned = match named {
        Ok(Some(found)) => Some(found),
        found => {
            if let Err(e) = found {
                tracing::debug!("{e:#}: listing the distributions instead");
            }
            let listing = distribution::list(&clients.cloudfront, spec).await?;
            owned_distribution(clients, spec, listing).await?
        }
    };
    let (distribution_id, distribution_arn) = owned.unzip();
    Ok(Destination {
        distribution_id,
        distribution_arn,
    })
}

/// The distribution (id, ARN) that the bucket policy's `CloudFrontRead`
/// statement names, if it carries this stack's ownership tag. `None` (or an
/// error, which is not the caller's to show) sends the caller to the listing.
async fn named_by_policy(clients: &Clients, spec: &Spec) -> anyhow::Result<Option<(String, String)>> {
    let out = clients
        .s3
        .get_bucket_policy()
        .bucket(&spec.bucket)
        .send()
        .await
        .map_err(|e| describe(format!("bucket {}: GetBucketPolicy", spec.bucket), e))?;
    let Some(arn) = out
        .policy()
        .and_then(|p| serde_json::from_str(p).ok())
        .and_then(|p| bucket_policy::distribution_arn(&p))
    else {
        return Ok(None);
    };
    let Some(id) = distribution_id(&arn) else {
        return Ok(None);
    };
    let tags = distribution::tags_of(&clients.cloudfront, id, &arn).await?;
    Ok(spec.is_owned(&tags).then(|| (id.to_string(), arn.clone())))
}

/// A distribution ARN's id: its last path segment
/// (`arn:aws:cloudfront::ACCOUNT:distribution/ID`).
fn distribution_id(arn: &str) -> Option<&str> {
    let (head, id) = arn.rsplit_once('/')?;
    (head.starts_with("arn:") && head.ends_with(":distribution") && !id.is_empty()).then_some(id)
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

#[cfg(test)]
mod tests {
    use super::distribution_id;

    #[test]
    fn a_distribution_arns_id_is_its_last_segment() {
        assert_eq!(
            distribution_id("arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"),
            Some("E2QWRUHAPOMQZL")
        );
        assert_eq!(distribution_id("arn:aws-cn:cloudfront::1:distribution/E1"), Some("E1"));
        assert_eq!(distribution_id("arn:aws:cloudfront::1:distribution/"), None);
        assert_eq!(distribution_id("arn:aws:cloudfront::1:function/f"), None);
        assert_eq!(distribution_id("E2QWRUHAPOMQZL"), None);
        assert_eq!(distribution_id("*"), None);
    }
}
