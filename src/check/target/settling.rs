//! What may still change at the edges without anything being broken: a
//! deployment of the distribution, invalidations in progress (and which
//! paths they cover), read for `check` to tell "settling" from "broken".

use futures_util::future::join_all;

use crate::aws::{describe, Clients};

/// In-progress invalidations read in full (their paths).
const INVALIDATIONS: usize = 10;

/// What may still change at the edges without anything being broken: a
/// deployment of the distribution, invalidations not yet completed.
#[derive(Debug, Clone, Default)]
pub struct Settling {
    /// The distribution is InProgress, last modified at this time.
    pub deploying_since: Option<String>,
    pub invalidations: Vec<Pending>,
}

impl Settling {
    pub fn is_pending(&self) -> bool {
        self.deploying_since.is_some() || !self.invalidations.is_empty()
    }
}

/// An invalidation in progress.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: String,
    pub since: String,
    pub paths: Vec<String>,
}

impl Pending {
    /// Whether it covers a URL path (`*` only at the end, as CloudFront reads it).
    pub fn covers(&self, path: &str) -> bool {
        self.paths.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => p == path,
        })
    }
}

/// The invalidations of the distribution still in progress, with their paths.
pub(super) async fn in_progress(clients: &Clients, id: &str) -> anyhow::Result<Vec<Pending>> {
    let out = clients
        .cloudfront
        .list_invalidations()
        .distribution_id(id)
        .send()
        .await
        .map_err(|e| describe(format!("distribution {id}: ListInvalidations"), e))?;
    let running: Vec<_> = out
        .invalidation_list()
        .map(|l| l.items())
        .unwrap_or_default()
        .iter()
        .filter(|i| i.status().eq_ignore_ascii_case("inprogress"))
        .take(INVALIDATIONS)
        .collect();
    let details = join_all(running.iter().map(|i| {
        clients
            .cloudfront
            .get_invalidation()
            .distribution_id(id)
            .id(i.id())
            .send()
    }))
    .await;
    let mut pending = Vec::new();
    for (summary, detail) in running.iter().zip(details) {
        let detail = detail.map_err(|e| describe(format!("invalidation {}: GetInvalidation", summary.id()), e))?;
        let paths = detail
            .invalidation()
            .and_then(|i| i.invalidation_batch())
            .and_then(|b| b.paths())
            .map(|p| p.items().to_vec())
            .unwrap_or_default();
        pending.push(Pending {
            id: summary.id().to_string(),
            since: time(summary.create_time()),
            paths,
        });
    }
    Ok(pending)
}

pub(super) async fn last_modified(clients: &Clients, id: &str) -> anyhow::Result<String> {
    let out = clients
        .cloudfront
        .get_distribution()
        .id(id)
        .send()
        .await
        .map_err(|e| describe(format!("distribution {id}: GetDistribution"), e))?;
    Ok(out
        .distribution()
        .map(|d| time(d.last_modified_time()))
        .unwrap_or_default())
}

fn time(t: &aws_smithy_types::DateTime) -> String {
    t.fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| t.secs().to_string())
}
