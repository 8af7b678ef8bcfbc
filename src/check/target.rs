//! What `check` probes, read from AWS without writing: the distribution (its
//! configuration, whether it is deploying, the invalidations in progress), the
//! name the site is served at, the DNS records, the response headers the
//! stack wants, and a sample of the bucket's objects with the headers S3
//! holds for them.
//!
//! On a stack with releases, visitors never name the bucket's keys: the
//! stack's function serves `/<path>` from the release the live route
//! resolves it to (`_cdnctl/releases/<id>/<path>`, `release::route`) or, for
//! a content-hashed name, from the shared assets (`_cdnctl/assets/<path>`).
//! So the sample is the live release's files (the prefixes the store's
//! `live` route reads, each path where the route resolves it), each probed at
//! the path a visitor uses and expected from the release holding it, and the
//! shared assets its manifests and pages name, each looked up in the bucket:
//! one named but missing is a broken page.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::anyhow;
use aws_sdk_cloudfront::types::DistributionConfig;
use futures_util::future::join_all;

use crate::aws::{describe, Clients, Waiting};
use crate::release::route::Route;
use crate::resources::distribution::Deployment;
use crate::resources::function::{is_hashed, ROOT};
use crate::resources::{distribution, dns, response_headers};
use crate::spec::{Headers, Spec, CORS_WITH_PREFLIGHT_AND_SECURITY};
use crate::sync::listing::RemoteObject;
use crate::sync::rules;
use crate::sync::warnings;
use crate::sync::{destination, remote};

pub mod not_found;
pub mod release;
pub mod settling;

pub use settling::Settling;
use settling::{in_progress, last_modified};

/// Objects probed per kind, so a large bucket stays a quick check.
const MANIFESTS: usize = 5;
const PER_MANIFEST: usize = 10;
const KINDS: usize = 25;
/// Keys with `+` and directory indexes probed (`dir/index.html` as `dir/`).
const PLUS_KEYS: usize = 5;
const DIRECTORIES: usize = 5;
/// In-progress invalidations read in full (their paths).
/// A release's pages read for the assets they name, and assets per page.
const PAGES: usize = 3;
const PER_PAGE: usize = 10;
/// Pages larger than this are not read.
const PAGE_MAX: u64 = 2 << 20;

/// How a visitor's URL path reaches the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// `/<key>` is the key (releases off).
    InPlace,
    /// The stack's function serves this release, the store's `live`.
    Release(String),
    /// Releases on, but none is live: the function serves the bucket's
    /// files in place (and directory indexes).
    NoRelease,
}

impl Serving {
    /// Whether the stack's function serves the requests (directory indexes).
    pub fn by_function(&self) -> bool {
        *self != Serving::InPlace
    }

    /// The command that publishes the files again.
    pub fn publish(&self) -> &'static str {
        match self {
            Serving::InPlace => "`cdnctl sync DIR`",
            _ => "`cdnctl deploy DIR`",
        }
    }
}

/// A file a release's manifest or page names that is not in the bucket.
#[derive(Debug, Clone)]
pub struct Absent {
    /// The URL path, without the leading `/`.
    pub path: String,
    /// Where it should be.
    pub key: String,
    /// "named by staticfiles.json".
    pub why: String,
}

/// One object of the bucket and what S3 holds for it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Its key in the bucket, which HEAD reads.
    pub key: String,
    /// The path a visitor requests it at, without the leading `/`: the key
    /// in place, its path in the release with releases.
    pub path: String,
    /// Why it is probed: "manifest", "named by staticfiles.json", "a .css file".
    pub why: String,
    /// Without quotes.
    pub etag: String,
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    /// Bytes: a large object is probed by its first byte only.
    pub size: i64,
}

impl Sample {
    /// The URL path a visitor requests: `/` and the path, percent-encoded.
    pub fn url_path(&self) -> String {
        format!("/{}", super::probes::encode(&self.path))
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    /// The name a browser uses: the custom domain, else the distribution's.
    pub host: String,
    pub distribution_id: String,
    pub distribution_domain: String,
    pub bucket: String,
    /// How visitors' paths reach the bucket.
    pub serving: Serving,
    /// What `/` serves: the DefaultRootObject, or with releases the
    /// function's `index.html`.
    pub default_root_object: Option<Sample>,
    /// The DefaultRootObject (or a release's `index.html`) is not in the bucket.
    pub missing_root_object: Option<String>,
    /// Files a release's manifests or pages name, missing from the bucket.
    pub absent: Vec<Absent>,
    pub samples: Vec<Sample>,
    pub headers_policy_id: Option<String>,
    /// The response headers policy the stack's settings want on the default
    /// behavior (None: the stack's own policy does not exist).
    pub wanted_headers_policy: Option<String>,
    /// The security headers that policy adds: (name, value).
    pub security_headers: Vec<(String, String)>,
    /// The Origin cross-origin probes send: one no earlier run used where the
    /// allowed origins allow it (`*`, or a wildcard subdomain).
    pub cors_origin: String,
    /// The custom domain's A/AAAA records, or why they could not be read.
    pub records: Option<Result<dns::Observed, String>>,
    /// The distribution's whole configuration, as the API last returned it.
    pub config: DistributionConfig,
    pub settling: Settling,
    /// `dir/index.html` paths, probed as `dir/` (how pages link directories).
    pub directories: Vec<String>,
    /// The page missing files get (`Setting::NotFound`), if one is configured.
    pub not_found: Option<not_found::NotFoundPage>,
}

pub async fn find(clients: &Clients, spec: &Spec, waiting: &Waiting) -> anyhow::Result<Target> {
    if spec.releases > 0 {
        return release::find(clients, spec, waiting).await;
    }
    let bucket = spec.bucket.as_str();
    // The stack's own distribution (its ownership tag, as for `sync`), never
    // a copy carrying only its comment.
    let (stack, objects) = tokio::join!(
        destination::find_destination(clients, spec, waiting),
        remote::list(&clients.s3, bucket, "")
    );
    let dist = serving_distribution(clients, spec, stack?).await?;
    let (objects, _) = objects?;
    observed(clients, spec, &dist, &objects, &BTreeMap::new()).await
}

/// The distribution that serves the stack's bucket.
async fn serving_distribution(
    clients: &Clients,
    spec: &Spec,
    stack: destination::Destination,
) -> anyhow::Result<distribution::Observed> {
    let (Some(id), Some(arn)) = (stack.distribution_id, stack.distribution_arn) else {
        anyhow::bail!(
            "stack {}: no distribution serves the bucket: run `cdnctl up` first",
            spec.bucket
        );
    };
    distribution::observe(&clients.cloudfront, &id, &arn)
        .await?
        .ok_or_else(|| anyhow!("distribution {id}: gone while checking: run `cdnctl up`"))
}

/// The target of a stack already read: its distribution, every object of
/// its bucket, and the text of manifests known to be what the bucket holds
/// (`deploy` has them from `up` and `sync`); other manifests are read. The
/// records, the wanted headers policy and what is still settling are read
/// beside the sampling. The bucket's files are served in place.
pub async fn observed(
    clients: &Clients,
    spec: &Spec,
    dist: &distribution::Observed,
    objects: &BTreeMap<String, RemoteObject>,
    texts: &BTreeMap<String, String>,
) -> anyhow::Result<Target> {
    observed_as(clients, spec, dist, objects, texts, Serving::InPlace, None).await
}

/// `observed`, the objects served as `serving` says (with a release:
/// `objects` are the files under the prefixes its `route` reads).
async fn observed_as(
    clients: &Clients,
    spec: &Spec,
    dist: &distribution::Observed,
    objects: &BTreeMap<String, RemoteObject>,
    texts: &BTreeMap<String, String>,
    serving: Serving,
    route: Option<&Route>,
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
    let wanted_policy = async {
        match &spec.headers {
            Headers::Managed { id, .. } => anyhow::Ok(Some(id.to_string())),
            Headers::Owned(owned) => Ok(response_headers::observe(&clients.cloudfront, &owned.name)
                .await?
                .map(|p| p.id)),
        }
    };
    let settling = async {
        let deploying_since = async {
            match &dist.status {
                Deployment::Deployed => anyhow::Ok(None),
                Deployment::InProgress(_) => Ok(Some(last_modified(clients, &dist.id).await?)),
            }
        };
        let (invalidations, deploying_since) = tokio::join!(in_progress(clients, &dist.id), deploying_since);
        anyhow::Ok(Settling {
            deploying_since: deploying_since?,
            invalidations: invalidations?,
        })
    };
    let live_page = match (&serving, &spec.not_found) {
        (Serving::Release(id), Some(page)) => Some(crate::release::not_found::live_key(route, id, page)),
        _ => None,
    };
    let (target, records, wanted_headers_policy, settling, page) = tokio::join!(
        sample(clients, spec, dist, objects, texts, serving, route),
        records,
        wanted_policy,
        settling,
        not_found::read(clients, &spec.bucket, &dist.config, live_page)
    );
    Ok(Target {
        not_found: page?,
        records: records?,
        wanted_headers_policy: wanted_headers_policy?,
        settling: settling?,
        ..target?
    })
}

async fn sample(
    clients: &Clients,
    spec: &Spec,
    dist: &distribution::Observed,
    objects: &BTreeMap<String, RemoteObject>,
    texts: &BTreeMap<String, String>,
    serving: Serving,
    route: Option<&Route>,
) -> anyhow::Result<Target> {
    let bucket = spec.bucket.as_str();
    // What `/` serves: with releases, the function's directory index.
    let root = match serving {
        Serving::InPlace => dist
            .config
            .default_root_object()
            .filter(|r| !r.is_empty())
            .map(|r| r.trim_start_matches('/').to_string()),
        _ => Some("index.html".to_string()),
    };
    // The files as visitors reach them: URL path (no leading `/`) → key;
    // with a release, each path from the release its route resolves it to
    // (a path a newer release of the route removed is no file of it).
    let release = route.filter(|_| matches!(serving, Serving::Release(_)));
    let ours = format!("{ROOT}/");
    let releases = format!("{ROOT}/releases/");
    let files: BTreeMap<String, String> = objects
        .keys()
        .filter_map(|k| match (&serving, release) {
            (Serving::InPlace, _) => Some((k.clone(), k.clone())),
            (_, Some(route)) => {
                let (id, path) = k.strip_prefix(&releases)?.split_once('/')?;
                (route.resolve(path) == id).then(|| (path.to_string(), k.clone()))
            }
            (_, None) => (!k.starts_with(&ours)).then(|| (k.clone(), k.clone())),
        })
        .collect();
    let size = |path: &str| files.get(path).and_then(|k| objects.get(k)).map_or(0, |o| o.size);

    // Which objects to probe: the manifests, what they name, one per kind.
    let visible: Vec<&String> = files
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
    // With a release, its pages too: the assets they name are shared.
    let mut pages: Vec<&String> = Vec::new();
    if release.is_some() {
        pages.extend(visible.iter().copied().filter(|p| *p == "index.html"));
        pages.extend(
            visible
                .iter()
                .copied()
                .filter(|p| *p != "index.html" && (p.ends_with(".html") || p.ends_with(".htm"))),
        );
        pages.retain(|p| size(p) <= PAGE_MAX);
        pages.truncate(PAGES);
    }
    let read = manifests.iter().chain(&pages).map(|path| async {
        let key = &files[*path];
        match texts.get(key) {
            Some(text) => Ok(text.clone()),
            None => read_text(clients, bucket, key).await,
        }
    });
    let mut read = join_all(read).await.into_iter();
    for path in &manifests {
        let text = read.next().expect("one text per manifest")?;
        wanted.insert((*path).clone(), "manifest".into());
        let named = rules::manifest_files(path, &text).unwrap_or_default();
        let file = path.rsplit('/').next().unwrap_or(path);
        // In place, what is not in the bucket is not probed; a release's
        // manifest names files of the release or shared assets, all looked up.
        for name in named
            .into_iter()
            .filter(|n| files.contains_key(n) || release.is_some())
            .take(PER_MANIFEST)
        {
            wanted.entry(name).or_insert_with(|| format!("named by {file}"));
        }
    }
    for page in &pages {
        let text = read.next().expect("one text per page")?;
        let hashed = warnings::page_links(&text)
            .into_iter()
            .filter_map(|link| warnings::resolve(page, &link))
            .filter(|p| is_hashed(p.rsplit('/').next().unwrap_or(p)))
            .filter(|p| !wanted.contains_key(p))
            .collect::<BTreeSet<_>>();
        for name in hashed.into_iter().take(PER_PAGE) {
            wanted.insert(name, format!("named by {page}"));
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
    if let Some(root) = root.as_ref().filter(|r| files.contains_key(*r)) {
        let why = match serving {
            Serving::InPlace => "DefaultRootObject",
            _ => "the release's home page",
        };
        wanted.entry(root.clone()).or_insert_with(|| why.into());
    }
    for key in visible.iter().filter(|k| k.contains('+')).take(PLUS_KEYS) {
        wanted.entry((*key).clone()).or_insert_with(|| "a key with `+`".into());
    }
    let directories: Vec<String> = visible
        .iter()
        .filter(|k| k.ends_with("/index.html"))
        .take(DIRECTORIES)
        .map(|k| k.to_string())
        .collect();
    for key in &directories {
        wanted.entry(key.clone()).or_insert_with(|| "a directory index".into());
    }
    // Each path's key: listed, else (a release's manifest or page named
    // it) a shared asset, else where the route would read it.
    let located: Vec<(String, String, String, bool)> = wanted
        .into_iter()
        .map(|(path, why)| match (files.get(&path), release) {
            (Some(key), _) => (key.clone(), path, why, false),
            (None, Some(_)) if is_hashed(path.rsplit('/').next().unwrap_or(&path)) => {
                (format!("{}{path}", crate::release::assets()), path, why, true)
            }
            (None, Some(route)) => (
                format!("{}{path}", crate::release::prefix(route.resolve(&path))),
                path,
                why,
                true,
            ),
            (None, None) => (path.clone(), path, why, true),
        })
        .collect();
    let heads = join_all(
        located
            .iter()
            .map(|(key, path, why, _)| head(clients, bucket, key, path, why)),
    )
    .await;
    let mut samples = Vec::new();
    let mut absent = Vec::new();
    for ((key, path, why, named), sample) in located.into_iter().zip(heads) {
        match sample? {
            Some(sample) => samples.push(sample),
            // Named by the release but not in the bucket: a broken page.
            None if named => absent.push(Absent { path, key, why }),
            // Deleted since the listing: nothing to probe.
            None => {}
        }
    }
    let default_root_object = root
        .as_ref()
        .and_then(|r| samples.iter().find(|s| &s.path == r).cloned());
    let missing_root_object = root.filter(|_| default_root_object.is_none());

    let host = spec
        .domain
        .as_ref()
        .map(|d| d.name.clone())
        .unwrap_or_else(|| dist.domain_name.clone());
    let cors_origin = fresh_origin(&spec.cors.allowed_origins, &unique());
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
        serving,
        default_root_object,
        missing_root_object,
        absent,
        samples,
        headers_policy_id,
        wanted_headers_policy: None,
        security_headers: security_headers(spec),
        cors_origin,
        records: None,
        config: dist.config.clone(),
        settling: Settling::default(),
        directories,
        not_found: None,
    })
}

/// An origin the allowed origins allow and no earlier run sent, so that no
/// answer cached for another origin can satisfy the probe: a random name
/// where `*` is allowed, a random subdomain for `https://*.example.com`,
/// else the first origin listed.
pub fn fresh_origin(allowed: &[String], unique: &str) -> String {
    if allowed.is_empty() || allowed.iter().any(|o| o == "*") {
        return format!("https://cdnctl-check-{unique}.example.com");
    }
    if let Some(wild) = allowed.iter().find(|o| o.contains("*.")) {
        return wild.replacen('*', &format!("cdnctl-check-{unique}"), 1);
    }
    allowed[0].clone()
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

/// The security headers the stack's response headers policy adds (see
/// `resources::response_headers::config` and CloudFront's managed
/// SecurityHeadersPolicy).
fn security_headers(spec: &Spec) -> Vec<(String, String)> {
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    match &spec.headers {
        Headers::Managed { id, .. } if *id == CORS_WITH_PREFLIGHT_AND_SECURITY => vec![
            pair("x-content-type-options", "nosniff"),
            pair("referrer-policy", "strict-origin-when-cross-origin"),
            pair("x-frame-options", "SAMEORIGIN"),
            pair("strict-transport-security", "max-age=31536000"),
        ],
        Headers::Managed { .. } => Vec::new(),
        Headers::Owned(owned) if owned.security_headers => {
            let mut out = vec![
                pair("x-content-type-options", "nosniff"),
                pair("referrer-policy", "strict-origin-when-cross-origin"),
            ];
            if let Some(h) = owned.hsts {
                let mut value = format!("max-age={}", h.max_age);
                if h.include_subdomains {
                    value.push_str("; includeSubDomains");
                }
                if h.preload {
                    value.push_str("; preload");
                }
                out.push(("strict-transport-security".into(), value));
            }
            out
        }
        Headers::Owned(_) => Vec::new(),
    }
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

async fn head(clients: &Clients, bucket: &str, key: &str, path: &str, why: &str) -> anyhow::Result<Option<Sample>> {
    let out = clients.s3.head_object().bucket(bucket).key(key).send().await;
    let out = match out {
        Ok(out) => out,
        // Not there (deleted since the listing, or named but missing).
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => return Ok(None),
        Err(e) => return Err(describe(format!("bucket {bucket}: HeadObject {key}"), e)),
    };
    Ok(Some(Sample {
        key: key.to_string(),
        path: path.to_string(),
        why: why.to_string(),
        etag: out.e_tag().unwrap_or("").trim_matches('"').to_string(),
        content_type: out.content_type().map(String::from),
        cache_control: out.cache_control().map(String::from),
        size: out.content_length().unwrap_or(0),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cors_origin_is_one_no_earlier_run_sent_where_allowed() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            fresh_origin(&list(&["*"]), "ab12"),
            "https://cdnctl-check-ab12.example.com"
        );
        assert_eq!(
            fresh_origin(&list(&["https://app.example", "https://*.example.org"]), "ab12"),
            "https://cdnctl-check-ab12.example.org"
        );
        assert_eq!(
            fresh_origin(&list(&["https://app.example"]), "ab12"),
            "https://app.example"
        );
        assert_ne!(unique(), "");
    }
}
