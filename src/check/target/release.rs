//! `check`'s target on a stack with releases: a route (the store's `live`,
//! or a preview's `preview:NAME`) and the files under every prefix it reads;
//! without a live route, the bucket's files outside `_cdnctl/`.

use std::collections::BTreeMap;

use super::{destination, observed_as, remote, serving_distribution, Serving, Target};
use crate::aws::{Clients, Waiting};
use crate::release::route::Route;
use crate::release::store::Store;
use crate::spec::Spec;
use crate::sync::listing::RemoteObject;

/// A stack with releases: the live release (the store's `live`) and its
/// files; without one, the bucket's files outside `_cdnctl/`.
pub(super) async fn find(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Target> {
    let (stack, seen) = tokio::join!(destination::find_destination(clients, spec, waiting), async {
        Store::find(clients, spec).await?.read().await
    });
    let (stack, seen) = (stack?, seen?);
    routed(clients, spec, stack, seen.route).await
}

/// A preview (`deploy --preview NAME`): the route `preview:NAME` holds,
/// probed at NAME.DOMAIN as a visitor of the preview gets it. The stack's
/// records and headers are the live site's, and so is the 404 page
/// (`Setting::NotFound` follows `live` alone): a preview's own page is not
/// compared with it.
pub async fn preview(clients: &Clients, spec: &Spec, waiting: &Waiting, name: &str) -> anyhow::Result<Target> {
    let previews = spec
        .previews
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--preview {name}: previews are off on this stack"))?;
    let (stack, seen) = tokio::join!(destination::find_destination(clients, spec, waiting), async {
        Store::find(clients, spec).await?.read().await
    });
    let (stack, seen) = (stack?, seen?);
    let route = seen
        .previews
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.route)
        .ok_or_else(|| anyhow::anyhow!("preview {name}: not in the store (removed meanwhile?)"))?;
    let mut target = routed(clients, spec, stack, Some(route)).await?;
    target.host = previews.host(name);
    if let Some(page) = &mut target.not_found {
        page.behind = None;
    }
    Ok(target)
}

/// The target served through `route`, or the files in place without one.
async fn routed(
    clients: &Clients,
    spec: &Spec,
    stack: destination::Destination,
    route: Option<Route>,
) -> anyhow::Result<Target> {
    let serving = match &route {
        Some(route) => Serving::Release(route.head().to_string()),
        None => Serving::NoRelease,
    };
    // The prefixes the route reads, or the bucket's files in place.
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
