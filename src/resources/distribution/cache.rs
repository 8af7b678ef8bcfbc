//! The edge's cached copies: the one place cdnctl invalidates them
//! (`invalidate`: sync's changed paths, and up's `/*` once they may carry
//! CORS answers that the settings no longer allow, planned by
//! `steps::forget_cors_answers`).
//!
//! Why an invalidation, and not stopping S3's CORS answers at the source (no
//! longer forwarding the viewer's Origin): a preflight (OPTIONS) that reaches
//! S3 without an Origin is refused (403), so every preflight would then hang
//! on CloudFront answering it itself; a live site's allowed origins must keep
//! working throughout, on AWS and not only in the emulator. One `/*` is one
//! path of the thousand free each month, needed only when an origin is taken
//! out (`bucket::removed_origins`), and it clears cached preflight answers
//! as well. It runs after the bucket's rules have narrowed (it needs them written),
//! so what the edge fetches again no longer names a removed origin.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use aws_sdk_cloudfront::Client;

use crate::aws::{is_too_many_invalidations, Waiting};

/// Everything the edge holds.
pub const EVERYTHING: &str = "/*";

/// Create an invalidation of `paths` on distribution `id`; its id. Its
/// limits (3,000 paths and 15 wildcards) count every invalidation in
/// progress on the distribution: while others fill them
/// (TooManyInvalidationsInProgress), try again until `waiting` runs out,
/// telling `progress`. `sync` invalidates what it changed; `up` every path
/// after narrowed CORS rules.
pub async fn invalidate(
    cf: &Client,
    id: &str,
    paths: &[String],
    reference: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<String> {
    let batch = InvalidationBatch::builder()
        .caller_reference(reference)
        .paths(
            Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()?,
        )
        .build()?;
    let out = waiting
        .send(
            is_too_many_invalidations,
            progress,
            format!("distribution {id}: CreateInvalidation"),
            || {
                cf.create_invalidation()
                    .distribution_id(id)
                    .invalidation_batch(batch.clone())
                    .send()
            },
        )
        .await?;
    out.invalidation
        .map(|i| i.id)
        .ok_or_else(|| anyhow!("distribution {id}: CreateInvalidation returned no invalidation"))
}
