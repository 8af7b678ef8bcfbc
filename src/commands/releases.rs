//! deploy's stage that publishes a release on a stack with releases
//! (`release::publish`).

use crate::aws::{Clients, Waiting};
use crate::check::Http;
use crate::cli::ProbeArgs;
use crate::exit::Exit;
use crate::output::Printer;
use crate::release::publish::Publisher;
use crate::spec::Spec;
use crate::sync::SyncOptions;

/// deploy's publishing stage with releases: a new release, switched to.
pub async fn publish(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    opts: &SyncOptions,
    probe: &ProbeArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    let http = Http::new(probe.ca_bundle.as_deref(), probe.connect_to.clone())?;
    let published = Publisher {
        clients,
        spec,
        waiting,
        opts,
        http: &http,
        events: printer,
    }
    .run()
    .await?;
    printer.report(&published);
    Ok(if published.dry_run { Exit::Drift } else { Exit::Success })
}
