//! The end of a run of `sync DIR` (`pipeline.rs`): the invalidation and the
//! record that gives the lease back (in one round when nothing is left to
//! delete), the deletes, and the outcome with the bucket as the run left it.

use std::collections::BTreeMap;

use super::*;

impl Sync<'_> {
    /// The happy path's last round: every file went up and nothing is to be
    /// deleted, so the record that gives the lease back (pending cleared)
    /// and the invalidation are sent at once. Should CloudFront refuse the
    /// invalidation, the state gets it back as pending (over the version
    /// just written), for the next run to send.
    pub(super) async fn invalidate_and_release(
        &self,
        destination: &Destination,
        d: &Decided,
        held: Held,
        work: &mut Work,
    ) -> anyhow::Result<()> {
        let fingerprint = self.opts.rules.fingerprint();
        // Recorded as if CloudFront has it: every file went up.
        let assumed = Work {
            invalidated: (d.batch.is_some() && destination.distribution_id.is_some()).then(String::new),
            ..Work::default()
        };
        let ((sent, shown), released) = tokio::join!(
            async {
                let mut id = None;
                let r = self.invalidate(destination, d, &mut id).await;
                (r, id)
            },
            held.release(|s| assumed.record(d, fingerprint, &self.opts.prefix, s))
        );
        work.invalidated = shown;
        let (state, version) = released?;
        if let Err(e) = sent {
            let mut kept = state;
            kept.pending = d.batch.as_ref().map(|b| Pending {
                paths: b.paths.clone(),
                reference: b.reference.clone(),
            });
            if lease::write(&self.s3, self.bucket, &self.key, &kept, &version)
                .await?
                .is_none()
            {
                return Err(Stop::PartWay(format!(
                    "{e:#}\nthe files are live, but another sync started meanwhile and the invalidation could not be kept in {}: \
                     run `cdnctl sync` again once it has finished, and invalidate {} by hand if it still serves the old files",
                    self.key,
                    d.batch.as_ref().map(|b| b.paths.join(" ")).unwrap_or_default()
                ))
                .into());
            }
            return Err(e);
        }
        Ok(())
    }

    /// Before the invalidation, also after a partial failure (what was
    /// uploaded is live and stale at the edge): the lease must still be this
    /// run's. Not once another run holds it: its state has this run's
    /// pending invalidation, which it sends.
    pub(super) async fn still_held_for(&self, held: &Held, d: &Decided) -> anyhow::Result<()> {
        if held.lost().await || d.batch.is_some() {
            self.still_held(held).await?;
        }
        Ok(())
    }

    /// Invalidate, stop on failed files, delete. `out` keeps what was
    /// achieved, also on error.
    pub(super) async fn finish(
        &self,
        destination: &Destination,
        d: &Decided,
        held: &Held,
        out: &mut Work,
    ) -> anyhow::Result<()> {
        self.still_held_for(held, d).await?;
        self.invalidate(destination, d, &mut out.invalidated).await?;
        self.stop_on_failures(&out.published)?;
        out.deleted = self.delete(d, held).await?;
        Ok(())
    }

    /// Stop when another run took over this run's lease while it was
    /// stalled: the lease is checked, not only remembered.
    pub(super) async fn still_held(&self, held: &Held) -> anyhow::Result<()> {
        match held.confirm().await {
            Ok(()) => Ok(()),
            Err(e) if held.lost().await => Err(Stop::PartWay(format!(
                "{e:#}\nnothing more was uploaded, invalidated or deleted by this run"
            ))
            .into()),
            Err(e) => Err(e),
        }
    }

    /// Invalidate what this run changed; `id` gets the invalidation's id as
    /// soon as CloudFront has it (before waiting for it, with --wait).
    pub(super) async fn invalidate(
        &self,
        destination: &Destination,
        d: &Decided,
        id: &mut Option<String>,
    ) -> anyhow::Result<()> {
        let events = self.events;
        let (Some(b), Some(dist)) = (&d.batch, &destination.distribution_id) else {
            if destination.distribution_id.is_none() && d.plan.invalidation.is_some() {
                events.warn(&format!(
                    "stack {} has no distribution yet: nothing to invalidate (run `cdnctl up`)",
                    self.bucket
                ));
            }
            return Ok(());
        };
        let room = crate::events::on_refusal(
            events,
            "invalidation",
            "CloudFront's limits (3,000 paths, 15 wildcards in progress) are full: waiting for room",
        );
        let cf = &self.clients.cloudfront;
        let sent = distribution::invalidate(cf, dist, &b.paths, &b.reference, self.waiting, room)
            .await
            .map_err(|e| {
                Stop::PartWay(format!(
                    "{e:#}\nthe files are live; the invalidation is kept in {} and sent by the next `cdnctl sync`; nothing was deleted",
                    self.key
                ))
            })?;
        events.info(&format!(
            "Invalidating {} path{} on {dist} ({sent}); CloudFront's first 1,000 paths a month are free",
            b.paths.len(),
            if b.paths.len() == 1 { "" } else { "s" }
        ));
        *id = Some(sent.clone());
        if self.opts.wait {
            let p = events.progress("invalidation", &format!("{sent} in progress"));
            transfer::wait_invalidated(cf, dist, &sent, self.waiting).await?;
            drop(p);
        }
        Ok(())
    }

    /// Files that failed stop the run before any delete.
    pub(super) fn stop_on_failures(&self, published: &Published) -> anyhow::Result<()> {
        let failures = &published.failures;
        if failures.is_empty() {
            return Ok(());
        }
        Err(Stop::PartWay(format!(
            "{}\n{} file(s) failed; nothing was deleted: run `cdnctl sync` again to finish",
            failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n"),
            failures.len()
        ))
        .into())
    }

    /// Delete what is gone from DIR, unless another run took the lease over
    /// while this one was stalled. Whether anything was deleted.
    pub(super) async fn delete(&self, d: &Decided, held: &Held) -> anyhow::Result<bool> {
        if d.plan.deletes.is_empty() {
            return Ok(false);
        }
        self.still_held(held).await?;
        transfer::delete(&self.s3, self.bucket, &d.plan.deletes, self.opts.jobs).await?;
        Ok(true)
    }

    /// The finished run's outcome: its figures, and the prefix's objects
    /// with this run's writes.
    pub(super) fn synced(
        &self,
        stack: &Destination,
        files: &[LocalFile],
        seen: &Seen,
        d: &Decided,
        published: &Published,
        invalidation_id: Option<&str>,
    ) -> Outcome {
        let report = report::Synced::new(
            &d.plan,
            report::Figures {
                bucket: self.bucket,
                prefix: &self.opts.prefix,
                distribution_id: stack.distribution_id.as_deref(),
                files: files.len(),
                published,
                headers_checked: d.heads_checked,
                listing_pages: seen.pages,
                batch: d.batch.as_ref(),
                invalidation_id,
            },
        );
        let mut objects = seen.objects.clone();
        let mut manifests = BTreeMap::new();
        if published.failures.is_empty() {
            for f in files
                .iter()
                .filter(|f| rules::is_manifest(&f.key) && f.parts.is_empty())
            {
                // Read again, and kept only if it is still what went up.
                if let Ok(bytes) = std::fs::read(&f.path) {
                    if <md5::Md5 as md5::Digest>::digest(&bytes)[..] == f.md5[..] {
                        manifests.insert(f.key.clone(), String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
            }
            for (i, _) in d.plan.uploads() {
                let f = &files[i];
                objects.insert(
                    f.key.clone(),
                    RemoteObject {
                        size: f.size,
                        etag: f.etag(),
                        last_modified: lease::now(),
                    },
                );
            }
            for key in &d.plan.deletes {
                objects.remove(key);
            }
        }
        Outcome::Synced {
            report,
            objects,
            manifests,
        }
    }
}
