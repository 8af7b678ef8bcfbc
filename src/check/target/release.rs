//! `check`'s target on a stack with releases: the live route (the store's
//! `live`) and the files under every prefix it reads; without one, the
//! bucket's files outside `_cdnctl/`.

use std::collections::BTreeMap;

use super::{observed_as, remote, serving_distribution, Serving, Target};
use crate::aws::{Clients, Waiting};
use crate::release::store::Store;
use crate::spec::Spec;
use crate::sync::listing::RemoteObject;

/// A stack with releases: the live release (the store's `live`) and its
/// files; without one, the bucket's files outside `_cdnctl/`.
pub(super) async fn find(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Target> {
    let (stack, seen) = tokio::join!(remote::find_destination(clients, spec, waiting), async {
        Store::find(clients, spec).await?.read().await
    });
    let (stack, seen) = (stack?, seen?);
    let (serving, route) = match seen.route {
        Some(route) => (Serving::Release(route.head().to_string()), Some(route)),
        None => (Serving::NoRelease, None),
    };
    // The prefixes the live route reads, or the bucket's files in place.
    let reads: Vec<String> = match &route {
        Some(r) => r.ids().map(crate::release::prefix).collect(),
        None => vec![String::new()],
    };
    let (dist, listed) = tokio::join!(
        serving_distribution(clients, spec, stack),
        futures_util::future::try_join_all(reads.iter().map(|p| remote::list(&clients.s3, &spec.bucket, p)))
    );
    let objects: BTreeMap<String, RemoteObject> = listed?.into_iter().flat_map(|(o, _)| o).collect();
    let dist = dist?;
    observed_as(
        clients,
        spec,
        &dist,
        &objects,
        &BTreeMap::new(),
        serving,
        route.as_ref(),
    )
    .await
}
