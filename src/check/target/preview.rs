//! `check`'s target for a preview (`deploy --preview NAME`): the release
//! `preview:NAME` names, probed at NAME.DOMAIN as a visitor of the preview
//! gets it. The stack's records and headers are the live site's.

use super::{observed_as, serving_distribution, Serving, Target};
use crate::aws::{Clients, Waiting};
use crate::release::store::Store;
use crate::spec::Spec;
use crate::sync::remote;

pub async fn find(clients: &Clients, spec: &Spec, waiting: &Waiting, name: &str) -> anyhow::Result<Target> {
    let previews = spec
        .previews
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("--preview {name}: previews are off on this stack"))?;
    let (stack, seen) = tokio::join!(remote::find_destination(clients, spec, waiting), async {
        Store::find(clients, spec).await?.read().await
    });
    let (stack, seen) = (stack?, seen?);
    let id = seen
        .previews
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.id)
        .ok_or_else(|| anyhow::anyhow!("preview {name}: not in the store (removed meanwhile?)"))?;
    let prefix = crate::release::prefix(&id);
    let (dist, objects) = tokio::join!(
        serving_distribution(clients, spec, stack),
        remote::list(&clients.s3, &spec.bucket, &prefix)
    );
    let (objects, _) = objects?;
    let mut target = observed_as(
        clients,
        spec,
        &dist?,
        &objects,
        &Default::default(),
        Serving::Release(id),
    )
    .await?;
    target.host = previews.host(name);
    Ok(target)
}
