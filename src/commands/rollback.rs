//! `cdnctl rollback [RELEASE]`: point `live` back at the release before the
//! live one (or the one named): its route, recorded at its deploy, written to
//! `live`. One store write: no upload, no invalidation (the release is part
//! of the cache key); with a 404 page (`Setting::NotFound`) that differs
//! between the two releases, also its copy to the fixed key and a one-path
//! invalidation (`release::not_found`). Then wait until the edge serves it (a
//! path the two routes serve from different releases), and say when.

use serde::Serialize;

use crate::aws::{Clients, Waiting};
use crate::check::Http;
use crate::cli::RollbackArgs;
use crate::exit::Failed;
use crate::output::Printer;
use crate::release::store::Store;
use crate::release::{self, edge};
use crate::report::{Report, Text};
use crate::settings::Setting::Releases;
use crate::spec::Spec;
use crate::sync::destination;

#[derive(Debug, Serialize)]
pub struct RolledBack {
    pub bucket: String,
    pub release: String,
    /// The release live before.
    pub was: Option<String>,
    /// Whether `live` was written (not when it already named the release).
    pub switched: bool,
    /// Seconds from the write until the edge served it; none with --no-wait.
    pub edge_seconds: Option<f64>,
}

impl Report for RolledBack {
    fn text(&self) -> Text {
        let was = self.was.as_deref().unwrap_or("none");
        let mut result = vec![if self.switched {
            format!("live: {} (was {was})", self.release)
        } else {
            format!("live: {} already: nothing written", self.release)
        }];
        result.push(match self.edge_seconds {
            Some(s) => format!("the edge serves {} ({s:.1}s after the write)", self.release),
            None => format!(
                "the edge serves {} within seconds of the write (not waited for)",
                self.release
            ),
        });
        Text { result, info: vec![] }
    }
}

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &RollbackArgs,
    printer: &Printer,
) -> anyhow::Result<RolledBack> {
    if spec.releases == 0 {
        anyhow::bail!("{Releases} is 0 (releases are off): there is nothing to roll back to");
    }
    let store = Store::find(clients, spec).await?;
    let seen = store.read().await?;
    let kept = || {
        seen.releases
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let target = match (&args.release, &seen.live) {
        (Some(id), _) => seen.releases.iter().find(|r| &r.id == id).ok_or_else(|| {
            Failed::Refused(vec![format!(
                "RELEASE: {id} is not a kept release (kept: {}): see `cdnctl releases`",
                kept()
            )])
        })?,
        (None, Some(live)) => release::before(&seen.releases, live).ok_or_else(|| {
            Failed::Refused(vec![format!(
                "no release before the live one ({live}) is kept: name one (kept: {})",
                kept()
            )])
        })?,
        (None, None) => {
            return Err(Failed::Refused(vec![
                "no release is live yet: `cdnctl deploy DIR` publishes the first".to_string()
            ])
            .into())
        }
    };
    let switched = seen.live.as_deref() != Some(target.id.as_str());
    let route = seen.route_of(&target.id);
    if switched {
        store.point(&target.id, &route, &seen).await?;
        printer.done(&format!(
            "live: {} (one write; was {})",
            target.id,
            seen.live.as_deref().unwrap_or("none")
        ));
    }
    let destination = destination::find_destination(clients, spec, waiting).await?;
    let dist = destination.distribution_id.as_deref();
    let holder = release::not_found::holder(Some(&route), &target.id, spec);
    release::not_found::follow(clients, spec, dist, holder, !args.no_wait, waiting, printer).await?;
    let mut out = RolledBack {
        bucket: spec.bucket.clone(),
        release: target.id.clone(),
        was: seen.live.clone(),
        switched,
        edge_seconds: None,
    };
    if args.no_wait {
        return Ok(out);
    }
    let from = seen.route.clone().unwrap_or_else(|| route.clone());
    let Some((page, holder)) = edge::probe(&clients.s3, &spec.bucket, &from, &route).await? else {
        printer.warn(&format!(
            "release {}: no file of it tells it from the release that was live: not waited for",
            target.id
        ));
        return Ok(out);
    };
    let host = edge::host(clients, spec, &destination).await?;
    let http = Http::new(args.probe.ca_bundle.as_deref(), args.probe.connect_to.clone())?;
    let took = edge::wait_for(&http, &host, &page, &[], &holder, &target.id, waiting, printer).await?;
    out.edge_seconds = Some(took.as_secs_f64());
    Ok(out)
}
