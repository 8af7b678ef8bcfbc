//! What `check` probes, read from AWS without writing: the distribution, the
//! name the site is served at, the DNS records, and a sample of the bucket's
//! objects with the headers S3 holds for them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use futures_util::future::join_all;

use crate::aws::{describe, Clients, Waiting};
use crate::resources::{distribution, dns};
use crate::spec::Spec;
use crate::sync::listing::RemoteObject;
use crate::sync::remote;
use crate::sync::rules;

/// Objects probed per kind, so a large bucket stays a quick check.
const MANIFESTS: usize = 5;
const PER_MANIFEST: usize = 10;
const KINDS: usize = 25;

/// One object of the bucket and what S3 holds for it.
#[derive(Debug, Clone)]
pub struct Sample {
    pub key: String,
    /// Why it is probed: "manifest", "named by staticfiles.json", "a .css file".
    pub why: String,
    /// Without quotes.
    pub etag: String,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Target {
    /// The name a browser uses: the custom domain, else the distribution's.
    pub host: String,
    pub distribution_id: String,
    pub distribution_domain: String,
    pub bucket: String,
    pub default_root_object: Option<Sample>,
    /// The DefaultRootObject is set but not in the bucket.
    pub missing_root_object: Option<String>,
    pub samples: Vec<Sample>,
    pub headers_policy_id: Option<String>,
    /// The Origin cross-origin probes send.
    pub cors_origin: String,
    /// The custom domain's A/AAAA records, or why they could not be read.
    pub records: Option<Result<dns::Observed, String>>,
}

pub async fn find(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Target> {
    let bucket = spec.bucket.as_str();
    // The stack's own distribution (its ownership tag, as for `sync`), never
    // a copy carrying only its comment.
    let (stack, objects) = tokio::join!(
        remote::find_destination(clients, spec, waiting),
        remote::list(&clients.s3, bucket, "")
    );
    let stack = stack?;
    let (Some(id), Some(arn)) = (stack.distribution_id, stack.distribution_arn) else {
        anyhow::bail!("stack {bucket}: no distribution serves the bucket: run `cdnctl up` first");
    };
    let dist = distribution::observe(&clients.cloudfront, &id, &arn)
        .await?
        .ok_or_else(|| anyhow!("distribution {id}: gone while checking: run `cdnctl up`"))?;
    let (objects, _) = objects?;
    observed(clients, spec, &dist, &objects, &BTreeMap::new()).await
}

/// The target of a stack already read: its distribution, every object of
/// its bucket, and the text of manifests known to be what the bucket holds
/// (`deploy` has them from `up` and `sync`); other manifests are read.
pub async fn observed(
    clients: &Clients,
    spec: &Spec,
    dist: &distribution::Observed,
    objects: &BTreeMap<String, RemoteObject>,
    texts: &BTreeMap<String, String>,
) -> anyhow::Result<Target> {
    let records = async {
        let Some(domain) = &spec.domain else {
            return anyhow::Ok(None);
        };
        Ok(Some(match dns::find_zone(&clients.route53, domain).await? {
            dns::Zone::Found(id) => Ok(dns::observe(&clients.route53, &id, &domain.name).await?),
            dns::Zone::Unusable(why) => Err(why),
        }))
    };
    let (target, records) = tokio::join!(sample(clients, spec, dist, objects, texts), records);
    Ok(Target {
        records: records?,
        ..target?
    })
}

async fn sample(
    clients: &Clients,
    spec: &Spec,
    dist: &distribution::Observed,
    objects: &BTreeMap<String, RemoteObject>,
    texts: &BTreeMap<String, String>,
) -> anyhow::Result<Target> {
    let bucket = spec.bucket.as_str();
    let root = dist
        .config
        .default_root_object()
        .filter(|r| !r.is_empty())
        .map(|r| r.trim_start_matches('/').to_string());

    // Which objects to probe: the manifests, what they name, one per kind.
    let visible: Vec<&String> = objects
        .keys()
        .filter(|k| !k.ends_with('/') && !k.starts_with(".cdnctl/") && !k.contains("/.cdnctl/"))
        .collect();
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    let manifests: Vec<&String> = visible
        .iter()
        .copied()
        .filter(|k| rules::is_manifest(k))
        .take(MANIFESTS)
        .collect();
    let texts = join_all(manifests.iter().map(|k| async move {
        match texts.get(*k) {
            Some(text) => Ok(text.clone()),
            None => read_text(clients, bucket, k).await,
        }
    }))
    .await;
    for (key, text) in manifests.iter().zip(texts) {
        wanted.insert((*key).clone(), "manifest".into());
        let named = rules::manifest_files(key, &text?).unwrap_or_default();
        let file = key.rsplit('/').next().unwrap_or(key);
        for name in named.into_iter().filter(|n| objects.contains_key(n)).take(PER_MANIFEST) {
            wanted.entry(name).or_insert_with(|| format!("named by {file}"));
        }
    }
    let mut kinds = BTreeSet::new();
    for key in &visible {
        let name = key.rsplit('/').next().unwrap_or(key);
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if kinds.len() < KINDS && kinds.insert(ext.clone()) {
            let kind = if ext.is_empty() {
                "a file without extension".to_string()
            } else {
                format!("a .{ext} file")
            };
            wanted.entry((*key).clone()).or_insert(kind);
        }
    }
    if let Some(root) = root.as_ref().filter(|r| objects.contains_key(*r)) {
        wanted.entry(root.clone()).or_insert_with(|| "DefaultRootObject".into());
    }
    let heads = join_all(wanted.iter().map(|(key, why)| head(clients, bucket, key, why))).await;
    let mut samples = Vec::new();
    for sample in heads {
        if let Some(sample) = sample? {
            samples.push(sample);
        }
    }
    let default_root_object = root
        .as_ref()
        .and_then(|r| samples.iter().find(|s| &s.key == r).cloned());
    let missing_root_object = root.filter(|_| default_root_object.is_none());

    let host = spec
        .domain
        .as_ref()
        .map(|d| d.name.clone())
        .unwrap_or_else(|| dist.domain_name.clone());
    let cors_origin = spec
        .cors
        .allowed_origins
        .iter()
        .find(|o| *o != "*")
        .cloned()
        .unwrap_or_else(|| "https://example.com".to_string());
    let headers_policy_id = dist
        .config
        .default_cache_behavior()
        .and_then(|b| b.response_headers_policy_id())
        .filter(|p| !p.is_empty())
        .map(String::from);
    Ok(Target {
        host,
        distribution_id: dist.id.clone(),
        distribution_domain: dist.domain_name.clone(),
        bucket: bucket.to_string(),
        default_root_object,
        missing_root_object,
        samples,
        headers_policy_id,
        cors_origin,
        records: None,
    })
}

async fn read_text(clients: &Clients, bucket: &str, key: &str) -> anyhow::Result<String> {
    let out = clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| describe(format!("bucket {bucket}: GetObject {key}"), e))?;
    let bytes = out
        .body
        .collect()
        .await
        .map_err(|e| anyhow!("bucket {bucket}: reading {key}: {e}"))?;
    Ok(String::from_utf8_lossy(&bytes.into_bytes()).into_owned())
}

async fn head(clients: &Clients, bucket: &str, key: &str, why: &str) -> anyhow::Result<Option<Sample>> {
    let out = clients.s3.head_object().bucket(bucket).key(key).send().await;
    let out = match out {
        Ok(out) => out,
        // Deleted since the listing: nothing to probe.
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(None),
        Err(e) => return Err(describe(format!("bucket {bucket}: HeadObject {key}"), e)),
    };
    Ok(Some(Sample {
        key: key.to_string(),
        why: why.to_string(),
        etag: out.e_tag().unwrap_or("").trim_matches('"').to_string(),
        content_type: out.content_type().map(String::from),
        cache_control: out.cache_control().map(String::from),
    }))
}
