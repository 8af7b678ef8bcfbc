//! What this run does, and the record it leaves: the diff against the
//! listing, the header check when the rules changed, this deploy and the keys
//! it publishes noted in the prefix's state and, with --delete, the published
//! files it no longer holds (kept for the grace, and content-hashed ones
//! while one of the last deploys names them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::diff::{self, Publish};
use super::invalidation::Batch;
use super::listing::RemoteObject;
use super::scan::LocalFile;
use super::state::{self, PrefixState};
use super::{remote, rules, SyncOptions};
use crate::events::Events;

/// Where, and for whom.
pub struct Place<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub opts: &'a SyncOptions,
    /// Who publishes (the lease's holder), for the deploy's record.
    pub holder: &'a str,
    pub events: &'a dyn Events,
}

pub struct Decided {
    pub plan: Publish,
    pub heads_checked: usize,
    /// The header rules differ from the prefix's fingerprint.
    pub check_headers: bool,
    /// The state this run leaves (deploys, superseded files), without lease.
    pub state: PrefixState,
    /// This run's invalidation with an interrupted run's.
    pub batch: Option<Batch>,
}

/// The plan, and the state this run leaves: its deploy recorded, and with
/// --delete the content-hashed files it no longer names.
pub async fn decide(
    at: &Place<'_>,
    files: &[LocalFile],
    state: &PrefixState,
    objects: &BTreeMap<String, RemoteObject>,
) -> anyhow::Result<Decided> {
    let opts = at.opts;
    // Headers of unchanged files are looked at only when the rules changed.
    let fingerprint = opts.rules.fingerprint();
    let check_headers = state.fingerprint.as_deref() != Some(fingerprint.as_str());
    let heads = if check_headers {
        let keys: Vec<String> = diff::unchanged(files, objects).iter().map(|f| f.key.clone()).collect();
        if !keys.is_empty() {
            at.events.info(&format!(
                "The header rules changed: checking the headers of {} files",
                keys.len()
            ));
        }
        remote::heads(at.s3, at.bucket, keys, opts.jobs).await?
    } else {
        HashMap::new()
    };

    let now = super::lease::now();
    let prefix = opts.prefix.as_str();
    let mut next = PrefixState {
        lease: None,
        ..state.clone()
    };
    next.advance(&state::deploy_id(files), now, at.holder);
    let local: BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    // What is in DIR is published by this run (also a key another tool put
    // there first: this run overwrites it); what the bucket lost is forgotten.
    next.publish(prefix, local.iter().copied(), |k| objects.contains_key(k));
    let nested = nested_prefixes(objects, prefix);
    let gone: Vec<&str> = objects
        .keys()
        .map(String::as_str)
        .filter(|k| !local.contains(k) && !diff::is_reserved(k))
        .filter(|k| !nested.iter().any(|p| k.starts_with(p.as_str())) && next.is_published(prefix, k))
        .collect();
    let gone = if opts.delete && !gone.is_empty() {
        // The manifests being replaced name content-hashed files whatever their names.
        let named = remote::deployed_files(at.s3, at.bucket, files, objects, prefix).await?;
        gone.into_iter()
            .map(|k| (k, rules::looks_hashed(k) || named.contains(k)))
            .collect()
    } else {
        Vec::new()
    };
    let fresh = gone
        .iter()
        .filter(|(k, _)| !state.superseded.contains_key(*k))
        .map(|(k, _)| k.to_string())
        .collect();
    next.supersede(gone, &local, prefix, |k| objects.contains_key(k), now);
    let options = diff::Options {
        delete: opts.delete,
        delete_unpublished: opts.delete_unpublished,
        grace: opts.grace,
        now,
        protected: next.protected(opts.keep_deploys),
        superseded: next.since(),
        published: next.published.iter().map(|k| format!("{prefix}{k}")).collect(),
        fresh,
        nested,
    };
    let plan = diff::diff(files, objects, &heads, &options);
    let batch = state::with_pending(plan.invalidation.clone(), state.pending.clone());
    Ok(Decided {
        plan,
        heads_checked: heads.len(),
        check_headers,
        state: next,
        batch,
    })
}

/// Prefixes under `prefix` that hold a state of their own: synced on their own.
pub fn nested_prefixes(objects: &BTreeMap<String, RemoteObject>, prefix: &str) -> Vec<String> {
    objects
        .keys()
        .filter_map(|k| k.strip_suffix(".cdnctl/state.json"))
        .filter(|p| *p != prefix && (p.is_empty() || p.ends_with('/')))
        .map(str::to_string)
        .collect()
}
