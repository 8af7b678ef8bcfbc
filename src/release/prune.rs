//! After a switch: the previews past `Setting::PreviewDays` or replaced by
//! this one, then, for a live release, the releases past `Setting::Releases`.
//! A prefix is deleted only when no route still kept reads it: the kept
//! releases' routes and every remaining preview's (a preview reads the live
//! route's releases, pruned or not).

use super::publish::{delete, Published, Publisher};
use super::route::Route;
use super::store::{Preview, Seen, Store};
use super::{prefix, Release};
use crate::sync::remote;

impl Publisher<'_> {
    /// `seen`: the store before the switch; `release` and `route`: what the
    /// switch wrote (to `preview:NAME` with `self.preview`, else `live`).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn after_switch(
        &self,
        store: &Store<'_>,
        s3: &aws_sdk_s3::Client,
        seen: Seen,
        release: Release,
        route: &Route,
        etag: &str,
        out: &mut Published,
    ) -> anyhow::Result<()> {
        let spec = self.spec;
        let id = release.id.clone();
        let mut routes = seen.routes;
        let mut all = seen.releases;
        let mut previews = seen.previews;
        let mut replaced = Vec::new();
        match self.preview {
            Some(name) => {
                let (old, others): (Vec<Preview>, Vec<Preview>) = previews.into_iter().partition(|p| p.name == name);
                replaced = old;
                previews = others;
                previews.push(Preview {
                    name: name.to_string(),
                    id: id.clone(),
                    route: route.clone(),
                    release: Some(release),
                });
            }
            None => {
                routes.insert(id.clone(), route.clone());
                all.push(release);
            }
        }
        let route_of = |r: &str| routes.get(r).cloned().unwrap_or_else(|| Route::whole(r));
        let kept_of = |releases: &[&Release], previews: &[Preview]| -> Vec<Route> {
            releases
                .iter()
                .map(|r| route_of(&r.id))
                .chain(routes.values().cloned())
                .chain(seen.route.clone())
                .chain(previews.iter().map(|p| p.route.clone()))
                .collect()
        };

        // Previews past their days (never the one just published), and the
        // release this preview replaced.
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now()).secs();
        let expired = spec.previews.as_ref().map_or_else(Vec::new, |p| {
            super::preview::expired(&previews, p.days, now)
                .into_iter()
                .filter(|e| Some(e.name.as_str()) != self.preview)
                .collect()
        });
        // Prune first (a live release only; a preview never counts among
        // the releases), while nothing else was written since the switch:
        // the records past the setting, and the prefixes no kept route
        // reads (the previews about to go still count: their removal below
        // deletes what only they read).
        let pruned = match self.preview {
            Some(_) => Vec::new(),
            None => super::to_prune(&all, Some(&id), spec.releases as usize),
        };
        if !pruned.is_empty() {
            let left: Vec<&Release> = all.iter().filter(|r| !pruned.contains(&r.id)).collect();
            // The pruned releases' own routes are no longer kept.
            let kept: Vec<Route> = kept_of(&left, &previews)
                .into_iter()
                .filter(|r| !pruned.iter().any(|p| p == r.head()))
                .collect();
            let doomed = super::unreferenced(&pruned, &kept, route_of);
            if !store.forget(&pruned, etag).await? {
                // A rollback or another deploy wrote since the switch: what
                // this run planned to prune may be what is live now.
                self.events.warn(&format!(
                    "release {id}: the store changed after the switch: nothing pruned or removed (the next deploy does)"
                ));
                return Ok(());
            }
            for old in &doomed {
                let (objects, _) = remote::list(s3, &spec.bucket, &prefix(old)).await?;
                out.deleted += objects.len();
                delete(s3, &spec.bucket, objects.into_keys().collect()).await?;
            }
            self.events.done(&format!(
                "pruned {}{}",
                pruned.join(", "),
                if doomed.is_empty() {
                    String::new()
                } else {
                    format!(" (files of {} deleted)", doomed.join(", "))
                }
            ));
        }
        all.retain(|r| !pruned.contains(&r.id));
        out.pruned = pruned;

        // Then the previews past their days, and the release this preview
        // replaced.
        previews.retain(|p| !expired.iter().any(|e| e.name == p.name));
        if !expired.is_empty() || !replaced.is_empty() {
            let kept = kept_of(&all.iter().collect::<Vec<_>>(), &previews);
            out.deleted += super::preview::remove(store, s3, &spec.bucket, &expired, &replaced, &kept).await?;
            out.previews_removed = expired.iter().map(|p| p.name.clone()).collect();
            out.previews_removed
                .extend(replaced.iter().map(|r| format!("{} (replaced)", r.id)));
            self.events
                .done(&format!("previews removed: {}", out.previews_removed.join(", ")));
        }
        Ok(())
    }
}
