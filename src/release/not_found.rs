//! The site's 404 page on a stack with releases (`Setting::NotFound`).
//!
//! CloudFront answers a missing key with the distribution's custom error
//! response, whose page it fetches at a fixed `ResponsePagePath`, without
//! running the function: the page cannot follow `live` by itself. So the
//! error responses name a fixed key, `_cdnctl/404.html`
//! (`distribution::errors::release_page_key`), and after a switch or a
//! rollback [`follow`] makes it a copy of the live release's page: a
//! CopyObject inside the bucket and an invalidation of that one path, and
//! only when the two releases' pages differ (their ETags). A release that
//! keeps the page costs nothing more than the one store write.
//!
//! Between the store write and the invalidation's completion (seconds in
//! the emulator, minutes on AWS) a missing path of the new release may get
//! the previous release's 404 page, still with status 404; every file that
//! exists is the new release's from the switch on.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::types::MetadataDirective;

use super::{assets, prefix};
use crate::aws::{describe, Clients, Waiting};
use crate::events::Events;
use crate::resources::distribution::{self, errors::release_page_key};
use crate::resources::function::is_hashed;
use crate::spec::Spec;
use crate::sync::scan::LocalFile;
use crate::sync::SyncOptions;

/// What [`follow`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    /// No page is set.
    Off,
    /// The fixed key already held the release's page.
    Same,
    /// Copied from the release, and its path invalidated (the id).
    Copied { invalidation: String },
    /// The release has no such page (published before the setting): the
    /// fixed key is left as it was.
    Absent,
}

/// Refused before any write (one line each): DIR lacks the page the
/// setting names.
pub fn ready(spec: &Spec, opts: &SyncOptions, files: &[LocalFile]) -> Result<(), Vec<String>> {
    match crate::sync::pipeline::not_found_missing(spec, opts, files) {
        Some(why) => Err(vec![why]),
        None => Ok(()),
    }
}

/// Where release `id` holds the page `path` (`/404.html`).
pub fn release_key(id: &str, path: &str) -> String {
    let rel = path.trim_start_matches('/');
    if is_hashed(rel.rsplit('/').next().unwrap_or(rel)) {
        format!("{}{rel}", assets())
    } else {
        format!("{}{rel}", prefix(id))
    }
}

/// Where the live route (release `id`'s, when there is one) holds the page:
/// in the release the route resolves its path to.
pub fn live_key(route: Option<&super::route::Route>, id: &str, page: &str) -> String {
    release_key(resolve(route, id, page), page)
}

/// The release holding the setting's page once `route` (release `id`'s) is
/// live: a release holds only what it changed, so that may be an older one.
pub fn holder<'a>(route: Option<&'a super::route::Route>, id: &'a str, spec: &Spec) -> &'a str {
    match spec.not_found.as_deref() {
        Some(page) => resolve(route, id, page),
        None => id,
    }
}

fn resolve<'a>(route: Option<&'a super::route::Route>, id: &'a str, page: &str) -> &'a str {
    route.map_or(id, |r| r.resolve(page.trim_start_matches('/')))
}

/// The fixed key made a copy of release `id`'s page (`holder`'s answer), its path invalidated,
/// and with `wait` the invalidation waited for (the edges then serve the
/// page); nothing when they already match. Called once the store names `id`.
pub async fn follow(
    clients: &Clients,
    spec: &Spec,
    distribution_id: Option<&str>,
    id: &str,
    wait: bool,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Followed> {
    let Some(page) = spec.not_found.as_deref() else {
        return Ok(Followed::Off);
    };
    let bucket = spec.bucket.as_str();
    let (source, fixed) = (release_key(id, page), release_page_key());
    let (from, to) = tokio::join!(etag(clients, bucket, &source), etag(clients, bucket, &fixed));
    let Some(from) = from? else {
        events.warn(&format!(
            "release {id}: has no {page}: the 404 page stays as it was ({fixed})"
        ));
        return Ok(Followed::Absent);
    };
    if to?.as_deref() == Some(from.as_str()) {
        return Ok(Followed::Same);
    }
    clients
        .uploading_s3()
        .copy_object()
        .bucket(bucket)
        .key(&fixed)
        .copy_source(format!("{bucket}/{}", crate::check::probes::encode(&source)))
        .metadata_directive(MetadataDirective::Copy)
        .send()
        .await
        .map_err(|e| describe(format!("bucket {bucket}: {fixed}: CopyObject"), e))?;
    let dist = distribution_id
        .ok_or_else(|| anyhow::anyhow!("stack {bucket}: no distribution serves the bucket: run `cdnctl up` first"))?;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let progress = events.progress("404 page", &format!("invalidating /{fixed}"));
    let invalidation = distribution::invalidate(
        &clients.cloudfront,
        dist,
        &[format!("/{fixed}")],
        &format!("cdnctl-404-{id}-{millis}"),
        waiting,
        |s, _| progress.status(s),
    )
    .await?;
    if wait {
        progress.status(&format!("waiting for invalidation {invalidation} of /{fixed}"));
        crate::sync::transfer::wait_invalidated(&clients.cloudfront, dist, &invalidation, waiting).await?;
    }
    events.done(&format!(
        "404 page: release {id}'s {page} (copied to {fixed}, invalidation {invalidation})"
    ));
    Ok(Followed::Copied { invalidation })
}

/// The object's ETag, None when it is missing.
async fn etag(clients: &Clients, bucket: &str, key: &str) -> anyhow::Result<Option<String>> {
    match clients.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out.e_tag().map(String::from)),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(describe(format!("bucket {bucket}: HeadObject {key}"), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_read_where_the_function_would_find_it() {
        assert_eq!(release_key("r1", "/404.html"), "_cdnctl/releases/r1/404.html");
        assert_eq!(
            release_key("r1", "/errors/404.html"),
            "_cdnctl/releases/r1/errors/404.html"
        );
        assert_eq!(
            release_key("r1", "/404.5af66c1b1797.html"),
            "_cdnctl/assets/404.5af66c1b1797.html"
        );
        assert_eq!(release_page_key(), "_cdnctl/404.html");
    }
}
