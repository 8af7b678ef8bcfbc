//! `cdnctl releases`: the kept releases (id, when, source, files, bytes,
//! which is live), from the stack's store. And deploy's stage that publishes
//! a release on a stack with releases (`release::publish`).

use serde::Serialize;

use crate::aws::{Clients, Waiting};
use crate::check::Http;
use crate::cli::ProbeArgs;
use crate::output::Printer;
use crate::release::publish::{Published, Publisher};
use crate::release::store::Store;
use crate::release::Release;
use crate::report::{Report, Text};
use crate::settings::Setting::Releases;
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
) -> anyhow::Result<Published> {
    let http = Http::new(probe.ca_bundle.as_deref(), probe.connect_to.clone())?;
    Publisher {
        clients,
        spec,
        waiting,
        opts,
        http: &http,
        events: printer,
    }
    .run()
    .await
}

#[derive(Debug, Serialize)]
pub struct Listed {
    pub bucket: String,
    pub live: Option<String>,
    /// Newest first.
    pub releases: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub release: Release,
    pub live: bool,
}

impl Report for Listed {
    fn text(&self) -> Text {
        let mut result = vec![format!(
            "{:<26} {:<21} {:>7} {:>12}  SOURCE",
            "RELEASE", "WHEN", "FILES", "BYTES"
        )];
        for r in &self.releases {
            let mark = if r.live { "* " } else { "  " };
            result.push(format!(
                "{mark}{:<24} {:<21} {:>7} {:>12}  {}",
                r.release.id, r.release.when, r.release.files, r.release.bytes, r.release.source
            ));
        }
        let info = match (&self.live, self.releases.is_empty()) {
            (_, true) => vec![format!(
                "{}: no release yet: `cdnctl deploy DIR` publishes the first",
                self.bucket
            )],
            (Some(live), false) => vec![format!("* live: {live}")],
            (None, false) => vec![],
        };
        Text { result, info }
    }
}

pub async fn run(clients: &Clients, spec: &Spec) -> anyhow::Result<Listed> {
    if spec.releases == 0 {
        anyhow::bail!("{Releases} is 0 (releases are off): set it to the number of releases to keep, then `cdnctl up`");
    }
    let seen = Store::find(clients, spec).await?.read().await?;
    Ok(Listed {
        bucket: spec.bucket.clone(),
        releases: seen
            .releases
            .into_iter()
            .map(|release| Row {
                live: seen.live.as_deref() == Some(release.id.as_str()),
                release,
            })
            .collect(),
        live: seen.live,
    })
}
