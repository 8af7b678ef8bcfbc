//! `cdnctl releases`: the kept releases (id, when, source, files, bytes,
//! which is live) and the previews (with their URLs), from the stack's
//! store; `--remove NAME` removes a preview. And deploy's stage that
//! publishes a release on a stack with releases (`release::publish`).

use serde::Serialize;

use crate::aws::{Clients, Waiting};
use crate::check::Http;
use crate::cli::{ProbeArgs, ReleasesArgs};
use crate::exit::Failed;
use crate::output::Printer;
use crate::release::preview;
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
    preview: Option<&str>,
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
        preview,
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
    /// By name.
    pub previews: Vec<PreviewRow>,
    /// `--remove NAME`: the preview removed, and its files deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<usize>,
}

#[derive(Debug, Serialize)]
pub struct PreviewRow {
    pub name: String,
    pub url: String,
    /// Its release (`id`, when, source, files, bytes), when its record is readable.
    pub release: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    pub preview: bool,
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
        for p in &self.previews {
            result.push(format!(
                "  {:<24} {:<21} {:>7} {:>12}  {}",
                format!("preview {}", p.name),
                p.when.as_deref().unwrap_or("-"),
                "",
                "",
                p.url
            ));
        }
        if let Some(name) = &self.removed {
            result.push(format!(
                "removed preview {name} ({} files deleted; shared assets kept)",
                self.deleted.unwrap_or(0)
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

pub async fn run(clients: &Clients, spec: &Spec, args: &ReleasesArgs) -> anyhow::Result<Listed> {
    if spec.releases == 0 {
        anyhow::bail!("{Releases} is 0 (releases are off): set it to the number of releases to keep, then `cdnctl up`");
    }
    let store = Store::find(clients, spec).await?;
    let mut seen = store.read().await?;
    let mut deleted = None;
    if let Some(name) = &args.remove {
        preview::check_name(name).map_err(|e| Failed::Settings(vec![e.replace("--preview", "--remove")]))?;
        let Some(at) = seen.previews.iter().position(|p| &p.name == name) else {
            let known: Vec<&str> = seen.previews.iter().map(|p| p.name.as_str()).collect();
            return Err(Failed::Refused(vec![format!(
                "--remove {name}: no such preview (previews: {}): see `cdnctl releases`",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )])
            .into());
        };
        let kept = preview::kept_routes(&seen, &[name.as_str()]);
        let gone = seen.previews.remove(at);
        let s3 = clients.uploading_s3();
        deleted = Some(preview::remove(&store, &s3, &spec.bucket, &[gone], &[], &kept).await?);
    }
    let host = |name: &str| match &spec.previews {
        Some(p) => p.host(name),
        None => spec
            .domain
            .as_ref()
            .map_or_else(|| name.to_string(), |d| format!("{name}.{}", d.name)),
    };
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
        previews: seen
            .previews
            .into_iter()
            .map(|p| PreviewRow {
                url: format!("https://{}/", host(&p.name)),
                when: p.release.as_ref().map(|r| r.when.clone()),
                source: p.release.as_ref().map(|r| r.source.clone()),
                release: p.id,
                name: p.name,
                preview: true,
            })
            .collect(),
        live: seen.live,
        removed: args.remove.clone(),
        deleted,
    })
}
