//! How a run of `sync DIR` sees the prefix (`pipeline.rs`): the state, read
//! while no other run holds its lease, and a listing that shows every write
//! of a run that gave its lease back before the read, sent with the read
//! when it can be.

use super::*;

impl Sync<'_> {
    /// Read the state, waiting while another live run holds its lease, then
    /// list: a run that released its lease before the read has finished
    /// every write the listing must show. The listing goes in ranges at
    /// once, cut where the state says the published keys are.
    pub async fn look(&self) -> anyhow::Result<Seen> {
        let (state, version, _) = self.unleased().await?;
        self.list_after(state, version).await
    }

    /// [`Sync::look`] in one round trip when it can be: the listing is sent
    /// with the state's read, in ranges cut where DIR's keys are (from
    /// `scanning`'s walk, before any file is hashed). It is kept only
    /// when it cannot miss a write of a run that gave its lease back before
    /// the read: the read found no other run's lease, and S3 served every
    /// page of the listing at least [`LISTED_AFTER`] after the state's last
    /// write (its Last-Modified against the listing's Date, both S3's
    /// clock), or there is no state yet (no run has finished). Otherwise
    /// (a run finished moments ago, a wait, a takeover) it lists again,
    /// after the read, as `look` does: as soon as the read shows it must
    /// (S3's clock at the read is not yet [`LISTED_AFTER`] past the state's
    /// last write), not once the first listing is in.
    pub async fn look_early(&self, scanning: &Scanning) -> anyhow::Result<Seen> {
        let prefix = &self.opts.prefix;
        let date = lease::AnswerDate::default();
        let listing = async {
            let guess = scanning.keys().await;
            remote::list_ranges_dated(&self.s3, self.bucket, prefix, &guess, &date).await
        };
        let reading = async {
            let (state, version, clock) = self.unleased().await?;
            let later = |c: &lease::S3Clock| c.now.zip(c.written).is_some_and(|(now, w)| now >= w + LISTED_AFTER);
            let again = if version.0.is_some() && !clock.as_ref().is_some_and(later) {
                Some(self.list_after(state.clone(), version.clone()).await)
            } else {
                None
            };
            anyhow::Ok((state, version, clock, again))
        };
        let (read, listed) = tokio::join!(reading, listing);
        let (state, version, clock, again) = read?;
        let listed_after = |written: Option<i64>| match (version.0.is_some(), written, date.earliest()) {
            (false, _, _) => true,
            (true, Some(written), Some(served)) => served >= written + LISTED_AFTER,
            _ => false,
        };
        match (again, listed, clock) {
            (Some(seen), _, _) => seen,
            (None, Ok((objects, pages)), Some(clock)) if listed_after(clock.written) => {
                Ok(self.seen(state, version, objects, pages))
            }
            _ => self.list_after(state, version).await,
        }
    }

    /// Read the state, waiting while another live run holds its lease.
    async fn unleased(&self) -> anyhow::Result<(PrefixState, Version, Option<lease::S3Clock>)> {
        lease::unleased(
            &self.s3,
            self.bucket,
            &self.key,
            &self.me,
            self.waiting,
            self.opts.dry_run,
            self.events,
        )
        .await
    }

    /// List, after the state was read: a run that released its lease before
    /// the read has finished every write the listing must show. The listing
    /// goes in ranges at once, cut where the state says the published keys
    /// are.
    async fn list_after(&self, state: PrefixState, version: Version) -> anyhow::Result<Seen> {
        let prefix = &self.opts.prefix;
        let expected: Vec<String> = state.published.iter().map(|k| format!("{prefix}{k}")).collect();
        let (objects, pages) = remote::list_ranges(&self.s3, self.bucket, prefix, &expected).await?;
        Ok(self.seen(state, version, objects, pages))
    }

    /// What was seen, the listing kept to what sync publishes: what it does
    /// not (hidden files) is not its to delete.
    fn seen(
        &self,
        state: PrefixState,
        version: Version,
        mut objects: BTreeMap<String, RemoteObject>,
        pages: usize,
    ) -> Seen {
        let prefix = &self.opts.prefix;
        objects.retain(|key, _| hidden::in_scope(key, prefix, self.opts.include_hidden));
        Seen {
            state,
            version,
            objects,
            pages,
        }
    }
}
