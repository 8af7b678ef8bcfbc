//! Turning releases off for a live site (`Setting::Releases` back to 0)
//! without a moment of a stale or missing site. Detaching the function
//! would serve the bucket's files in place, which are not the live release
//! (stale, or none), so `up` keeps it attached while a release is live
//! (`plan::release_kept`). `deploy DIR` then:
//!
//! 1. publishes DIR in place (`sync`), which visitors do not get yet;
//! 2. deletes the store's `live` (one write): the function, which serves the
//!    bucket's files in place when no release is live, now serves them, as
//!    atomic as a switch (the cache key changes with it);
//! 3. waits until the edge answers a page from the files in place.
//!
//! The next `up` detaches the function (nothing a visitor gets changes
//! then); the function and the store, with the records of past releases,
//! stay until `down`. The files of past releases stay under `_cdnctl/`.

use std::time::Duration;

use super::edge;
use super::store::Store;
use crate::aws::{Clients, Waiting};
use crate::check::Http;
use crate::events::Events;
use crate::spec::Spec;
use crate::sync::destination;

/// Steps 2 and 3: `live` deleted, then the edge asked for `page` (a URL
/// path the in-place files serve) until it answers without a release.
pub async fn serve_in_place(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    http: &Http,
    page: &str,
    events: &dyn Events,
) -> anyhow::Result<Duration> {
    let (store, destination) = tokio::join!(
        Store::find(clients, spec),
        destination::find_destination(clients, spec, waiting)
    );
    let (store, destination) = (store?, destination?);
    let host = edge::host(clients, spec, &destination).await?;
    store.unpoint().await?;
    edge::wait_in_place(http, &host, page, waiting, events).await
}
