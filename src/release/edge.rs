//! Waiting for the edge, not the API: a store write reaches CloudFront's
//! edges seconds after the write returns. Each release file carries the id
//! of the release holding it (`x-amz-meta-cdnctl-release`), and a page's URL
//! is the same for every release (the function adds the release to the
//! cache key), so asking the edge for a path that the two routes resolve to
//! different releases tells which route a visitor now gets: after a deploy,
//! a path the new release holds itself; after a rollback, one `probe` finds.

use std::time::{Duration, Instant};

use anyhow::anyhow;

use std::collections::{BTreeMap, BTreeSet};

use super::route::Route;
use super::{prefix, META};
use crate::aws::{Clients, Poll, Waiting};
use crate::check::Http;
use crate::events::Events;
use crate::spec::Spec;
use crate::sync::destination::Destination;
use crate::sync::remote;

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
/// its answer comes from release `holder` (the one the route of release
/// `id` resolves it to); how long that took.
#[allow(clippy::too_many_arguments)]
pub async fn wait_for(
    http: &Http,
    host: &str,
    page: &str,
    headers: &[(&str, &str)],
    holder: &str,
    id: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Duration> {
    let label = format!("release {id}");
    let ask = Ask { host, page, headers };
    wait_until(http, &ask, Some(holder), &label, "switched", waiting, events).await
}

/// Ask the edge for `page` until a 200 comes from the bucket's files in
/// place (no release header): releases turned off (`off.rs`).
pub async fn wait_in_place(
    http: &Http,
    host: &str,
    page: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Duration> {
    let ask = Ask {
        host,
        page,
        headers: &[],
    };
    wait_until(http, &ask, None, "releases off", "`live` deleted", waiting, events).await
}

/// What the edge is asked: `page` at `host`, with `headers`.
#[derive(Clone, Copy)]
struct Ask<'a> {
    host: &'a str,
    page: &'a str,
    headers: &'a [(&'a str, &'a str)],
}

/// Ask the edge for `page` until it answers from release `want`, or with
/// `None` from the files in place; `done` says what was written.
async fn wait_until(
    http: &Http,
    ask: &Ask<'_>,
    want: Option<&str>,
    label: &str,
    done: &str,
    waiting: &Waiting,
    events: &dyn Events,
) -> anyhow::Result<Duration> {
    let Ask { host, page, headers } = *ask;
    let start = Instant::now();
    let wanted = if want.is_some() { "it" } else { "the files in place" };
    let progress = events.progress(
        label,
        &format!("waiting for the edge to serve {wanted} (https://{host}{page})"),
    );
    let header = format!("x-amz-meta-{META}");
    waiting
        .until(
            |status| progress.status(status),
            || async {
                let answer = http.request(true, host, "GET", page, headers).await;
                Ok(match answer {
                    Ok(a) if a.header(&header) == want && (want.is_some() || a.status == 200) => Poll::Ready(()),
                    Ok(a) => Poll::Pending(match (a.header(&header), want) {
                        (Some(other), Some(holder)) => {
                            format!("the edge still serves {page} from release {other}, not {holder}")
                        }
                        (Some(other), None) => format!("the edge still serves {page} from release {other}"),
                        (None, _) => format!("the edge answers {} without a release", a.status),
                    }),
                    Err(e) => Poll::Pending(format!("the edge did not answer: {e}")),
                })
            },
            |status, waited| {
                anyhow!(
                    "{label}: {done}, but after {}s {status} (https://{host}{page}); \
                     the store's write reaches the edges by itself: run `cdnctl releases` later",
                    waited.as_secs()
                )
            },
        )
        .await?;
    Ok(start.elapsed())
}

/// A path to ask the edge for once `live` is switched from route `from` to
/// `to`: one that `to` resolves to a release holding it, and `from` to
/// another (else, when the routes serve it alike, any one `to` holds). The
/// prefixes only one of the routes reads are listed (small, unless the
/// bases differ), then a few HEADs check where `to` would read it.
/// `(URL path, the release holding it)`, or `None` when none is found.
pub async fn probe(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    from: &Route,
    to: &Route,
) -> anyhow::Result<Option<(String, String)>> {
    let theirs: BTreeSet<&str> = from.ids().collect();
    let ours: BTreeSet<&str> = to.ids().collect();
    let mut read: BTreeSet<&str> = theirs.symmetric_difference(&ours).copied().collect();
    read.insert(to.head());
    let listed = futures_util::future::try_join_all(read.iter().map(|id| async move {
        let (objects, _) = remote::list(s3, bucket, &prefix(id)).await?;
        let under = prefix(id);
        let paths: BTreeSet<String> = objects
            .into_keys()
            .filter_map(|k| k.strip_prefix(&under).map(String::from))
            .collect();
        anyhow::Ok((id.to_string(), paths))
    }))
    .await?;
    let listed: BTreeMap<String, BTreeSet<String>> = listed.into_iter().collect();
    let mut candidates: Vec<(bool, &str)> = listed
        .values()
        .flatten()
        .filter(|p| !crate::resources::function::is_hashed(p.rsplit('/').next().unwrap_or(p)))
        .map(|p| (to.resolve(p) == from.resolve(p), p.as_str()))
        .collect();
    // Those that tell the routes apart first, pages first among them.
    candidates.sort_by_key(|(same, p)| (*same, *p != "index.html", !p.ends_with(".html"), *p));
    candidates.dedup();
    for (_, path) in candidates.into_iter().take(PROBES) {
        let holder = to.resolve(path);
        let there = match listed.get(holder) {
            Some(paths) => paths.contains(path),
            None => {
                let key = format!("{}{path}", prefix(holder));
                let out = s3.head_object().bucket(bucket).key(&key).send().await;
                match out {
                    Ok(_) => true,
                    Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => false,
                    Err(e) => return Err(crate::aws::describe(format!("bucket {bucket}: HeadObject {key}"), e)),
                }
            }
        };
        if there {
            return Ok(Some((super::plan::url_path(path), holder.to_string())));
        }
    }
    Ok(None)
}

/// Paths `probe` tries at most.
const PROBES: usize = 20;
