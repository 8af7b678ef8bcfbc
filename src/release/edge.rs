//! Waiting for the edge, not the API: a store write reaches CloudFront's
//! edges seconds after the write returns. Each release file carries its
//! release's id (`x-amz-meta-cdnctl-release`), and a page's URL is the same
//! for every release (the function adds the release to the cache key), so
//! asking the edge for one page tells which release a visitor now gets.

use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::META;
use crate::aws::{Clients, Poll, Waiting};
use crate::check::Http;
use crate::events::Events;
use crate::spec::Spec;
use crate::sync::remote::Destination;

/// Where visitors reach the stack: the custom domain, else the
/// distribution's own name.
pub async fn host(clients: &Clients, spec: &Spec, destination: &Destination) -> anyhow::Result<String> {
    if let Some(domain) = &spec.domain {
        return Ok(domain.name.clone());
    }
    let id = destination.distribution_id.as_deref().ok_or_else(|| {
        anyhow!(
            "stack {}: no distribution serves the bucket: run `cdnctl up` first",
            spec.bucket
        )
    })?;
    let out = clients
        .cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|e| crate::aws::describe(format!("distribution {id}: GetDistribution"), e))?;
    out.distribution()
        .map(|d| d.domain_name().to_string())
        .ok_or_else(|| anyhow!("distribution {id}: answered without its domain name"))
}

/// Ask the edge for `page` (with `headers`: a preview's credentials) until
/// its answer comes from release `id`; how long that took.
pub async fn wait_for(
    http: &Http,
    host: &str,
    page: &str,
    headers: &[(&str, &str)],
    id: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let progress = events.progress(
        &format!("release {id}"),
        &format!("waiting for the edge to serve it (https://{host}{page})"),
    );
    let header = format!("x-amz-meta-{META}");
    waiting
        .until(
            |status| progress.status(status),
            || async {
                let answer = http.request(true, host, "GET", page, headers).await;
                Ok(match answer {
                    Ok(a) if a.header(&header) == Some(id) => Poll::Ready(()),
                    Ok(a) => Poll::Pending(match a.header(&header) {
                        Some(other) => format!("the edge still serves release {other}"),
                        None => format!("the edge answers {} without a release", a.status),
                    }),
                    Err(e) => Poll::Pending(format!("the edge did not answer: {e}")),
                })
            },
            |status, waited| {
                anyhow!(
                    "release {id}: switched, but after {}s {status} (https://{host}{page}); \
                     the store's write reaches the edges by itself: run `cdnctl releases` later",
                    waited.as_secs()
                )
            },
        )
        .await?;
    Ok(start.elapsed())
}
