//! The CloudFront Function (viewer-request, `cloudfront-js-2.0`) on the
//! default cache behavior of a stack with releases (`Setting::Releases` above 0).
//! Found by its name (derived from the bucket) and taken as the stack's by
//! its comment; associated with the stack's key value store (`kvs.rs`).
//! Its code is `function/viewer_request.js`, with the stack's settings in
//! its `CONFIG` line.
//!
//! Releases in the bucket (what the function serves):
//!
//! - `_cdnctl/releases/<id>/<path>`: the files release `<id>` holds (what it
//!   changed, or every file for a whole one), so publishing one never
//!   touches another.
//! - `_cdnctl/assets/<path>`: content-hashed files (`is_hashed`: the name
//!   changes with the content), stored once and named by every release that
//!   has them, so a page of any kept release still loads its chunks (an open
//!   tab, a rollback). A false "hashed" is still served (the publisher uses
//!   the same rule and never overwrites an asset with other bytes); a missed
//!   one is only stored per release.
//! - For a request `/<path>`, the function reads the route in one key of
//!   the store, chosen by `routeKey` (`live`, or `preview:NAME` for the
//!   host NAME.DOMAIN with previews on), finds the release holding the path
//!   (`resolve`, as `release/route.rs` does) and rewrites the URI to one of
//!   those; the release is then part of the cache key, so switching `live`
//!   needs no invalidation. Without `live` (no release yet) the bucket's
//!   files are served in place, as before releases; an unknown preview is
//!   answered 404 by the function, and with `Setting::PreviewAuth` a
//!   preview host asks for basic auth (401).
//! - Visitors never name `_cdnctl/` themselves: `/_cdnctl/x` is rewritten
//!   under the release like any path.
//!
//! What the function adds, since CloudFront cannot do it alone:
//! - directory index: `/docs/` and `/docs` serve `docs/index.html`
//!   (DefaultRootObject works at the root only);
//! - SPA fallback (`Setting::SpaFallback`, e.g. `/index.html`): extensionless paths serve
//!   that page instead of a directory index; a path with an extension (a
//!   missing `.js`, `.css`, font) is never answered with HTML.
//!
//! Quotas (CloudFront "Quotas"): the code at most 10 KB (a unit test keeps it
//! under), one store per function, and about 1 ms of compute: one `kvs.get`
//! per request, no loops over data.
//!
//! Lifecycle: create or update DEVELOPMENT (If-Match), publish it to LIVE
//! (what the distribution runs), and delete only once no distribution
//! names it.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudfront::primitives::Blob;
use aws_sdk_cloudfront::types::{
    FunctionConfig, FunctionRuntime, FunctionStage, KeyValueStoreAssociation, KeyValueStoreAssociations,
};
use aws_sdk_cloudfront::Client;

use crate::aws::{created_or_found, optional, Guarded, Waiting};
use crate::resources::kit::{Action, Cx, Fact, Known, Learned, Part};
use crate::resources::Kind;
use crate::spec::Spec;

/// The function's source, with the default `CONFIG` line.
const SOURCE: &str = include_str!("function/viewer_request.js");
/// "Maximum function size: 10 KB".
#[cfg(test)]
const MAX_CODE: usize = 10 * 1024;
/// Where releases live in the bucket.
pub const ROOT: &str = "_cdnctl";
const RUNTIME: &str = "cloudfront-js-2.0";

/// The function's (and the store's) name: `[a-zA-Z0-9_-]{1,64}`, unique per
/// account, distinct for distinct buckets.
pub fn name(bucket: &str) -> String {
    let plain = format!("cdnctl-{}", bucket.replace('.', "-"));
    if plain.len() <= 64 && !bucket.contains('.') {
        return plain;
    }
    format!(
        "{}-{:08x}",
        &plain[..plain.len().min(55)],
        crate::spec::stable_hash(bucket) as u32
    )
}

/// The code cdnctl publishes for this spec: `viewer_request.js` without
/// its comment lines, the CONFIG line set to the stack's values.
pub fn code(spec: &Spec) -> String {
    let previews = spec.previews.as_ref();
    let config = serde_json::json!({
        "root": ROOT,
        "spa": spec.spa_fallback,
        "domain": previews.map(|p| &p.domain),
        // As browsers send it; readable by anyone who can read the function.
        "auth": previews.and_then(|p| p.authorization()),
    });
    // Comment lines stay in the repository: the code sent counts against
    // the quota, and the function's comments are for its readers here.
    SOURCE
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| {
            if l.starts_with("const CONFIG = ") {
                format!("const CONFIG = {config};")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Whether a file name is content-hashed, by the function's rule (see
/// `isHashed` in viewer_request.js; they must agree). The release publisher
/// stores such files once, under `_cdnctl/assets/`.
pub fn is_hashed(file: &str) -> bool {
    let Some((stem, _)) = file.rsplit_once('.').filter(|(s, _)| !s.is_empty()) else {
        return false;
    };
    let Some(cut) = stem.rfind(['.', '-']).filter(|c| *c > 0) else {
        return false;
    };
    let hash = &stem[cut + 1..];
    (8..=64).contains(&hash.len())
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && hash.bytes().any(|b| b.is_ascii_digit())
        && hash.bytes().any(|b| b.is_ascii_alphabetic())
}

/// One stage of the function as CloudFront has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub comment: String,
    pub runtime: String,
    pub stores: Vec<String>,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    pub development: Stage,
    /// `None` when never published.
    pub live: Option<Stage>,
}

impl Observed {
    pub fn is_owned(&self, comment: &str) -> bool {
        self.development.comment == comment
    }

    /// LIVE is what DEVELOPMENT says.
    pub fn is_published(&self) -> bool {
        self.live.as_ref() == Some(&self.development)
    }
}

async fn stage(cf: &Client, name: &str, stage: FunctionStage) -> anyhow::Result<Option<(String, Stage)>> {
    let (described, got) = tokio::join!(
        cf.describe_function().name(name).stage(stage.clone()).send(),
        cf.get_function().name(name).stage(stage.clone()).send()
    );
    let what = format!("function {name} ({})", stage.as_str());
    let (Some(d), Some(g)) = (
        optional(format!("{what}: DescribeFunction"), described)?,
        optional(format!("{what}: GetFunction"), got)?,
    ) else {
        return Ok(None);
    };
    let summary = d
        .function_summary()
        .ok_or_else(|| anyhow!("{what}: DescribeFunction answered without a summary"))?;
    let config = summary.function_config();
    let arn = summary
        .function_metadata()
        .map(|m| m.function_arn().to_string())
        .unwrap_or_default();
    let code = g.function_code().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    Ok(Some((
        arn,
        Stage {
            comment: config.map(|c| c.comment().to_string()).unwrap_or_default(),
            runtime: config.map(|c| c.runtime().as_str().to_string()).unwrap_or_default(),
            stores: config
                .and_then(|c| c.key_value_store_associations())
                .map(|a| a.items().iter().map(|s| s.key_value_store_arn().to_string()).collect())
                .unwrap_or_default(),
            code: String::from_utf8_lossy(&code).into_owned(),
        },
    )))
}

/// The function's two stages, if it exists.
pub async fn observe(cf: &Client, name: &str) -> anyhow::Result<Option<Observed>> {
    let (dev, live) = tokio::join!(
        stage(cf, name, FunctionStage::Development),
        stage(cf, name, FunctionStage::Live)
    );
    let Some((arn, development)) = dev? else {
        return Ok(None);
    };
    Ok(Some(Observed {
        arn,
        development,
        live: live?.map(|(_, s)| s),
    }))
}

/// The stage cdnctl wants, with the store's ARN (`(new)` while it is made).
pub fn desired(spec: &Spec, store_arn: &str) -> Stage {
    Stage {
        comment: crate::spec::comment(&spec.bucket),
        runtime: RUNTIME.into(),
        stores: vec![store_arn.to_string()],
        code: code(spec),
    }
}

/// What differs in DEVELOPMENT, one line each.
pub fn differences(have: &Stage, want: &Stage) -> Vec<String> {
    let mut out = Vec::new();
    if have.runtime != want.runtime {
        out.push(format!("runtime: {} → {}", have.runtime, want.runtime));
    }
    if have.stores != want.stores {
        out.push(format!(
            "key value store: {} → {}",
            or_none(&have.stores.join(",")),
            want.stores.join(",")
        ));
    }
    if have.code != want.code {
        out.push(format!("code: {} bytes → {} bytes", have.code.len(), want.code.len()));
    }
    out
}

fn or_none(s: &str) -> &str {
    if s.is_empty() {
        "none"
    } else {
        s
    }
}

fn config(want: &Stage) -> anyhow::Result<FunctionConfig> {
    let stores = want
        .stores
        .iter()
        .map(|arn| KeyValueStoreAssociation::builder().key_value_store_arn(arn).build())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FunctionConfig::builder()
        .comment(&want.comment)
        .runtime(FunctionRuntime::from(want.runtime.as_str()))
        .key_value_store_associations(
            KeyValueStoreAssociations::builder()
                .quantity(stores.len() as i32)
                .set_items(Some(stores))
                .build()?,
        )
        .build()?)
}

/// Create DEVELOPMENT; answers the function's name and ARN.
pub async fn create(cf: &Client, name: &str, want: &Stage) -> anyhow::Result<Known> {
    let created = cf
        .create_function()
        .name(name)
        .function_config(config(want)?)
        .function_code(Blob::new(want.code.as_bytes()))
        .send()
        .await;
    let arn = created_or_found(
        format!("function {name}: CreateFunction"),
        created,
        |out| {
            out.function_summary()
                .and_then(|s| s.function_metadata())
                .map(|m| m.function_arn().to_string())
                .unwrap_or_default()
        },
        || async {
            observe(cf, name)
                .await?
                .map(|f| f.arn)
                .ok_or_else(|| anyhow!("function {name}: reported to exist but not described"))
        },
    )
    .await?;
    Ok(Known {
        id: name.to_string(),
        arn,
        domain_name: String::new(),
    })
}

fn guarded(name: &str, write: &'static str) -> Guarded {
    Guarded {
        what: format!("function {name}"),
        get: "DescribeFunction",
        write,
    }
}

/// Write DEVELOPMENT: config and code.
pub async fn update(cf: &Client, name: &str, want: &Stage) -> anyhow::Result<()> {
    let config = config(want)?;
    guarded(name, "UpdateFunction")
        .update(
            || {
                cf.describe_function()
                    .name(name)
                    .stage(FunctionStage::Development)
                    .send()
            },
            |current| current.e_tag().map(String::from),
            |etag| {
                cf.update_function()
                    .name(name)
                    .set_if_match(etag)
                    .function_config(config)
                    .function_code(Blob::new(want.code.as_bytes()))
                    .send()
            },
        )
        .await?;
    Ok(())
}

/// Copy DEVELOPMENT to LIVE, what the distribution runs.
pub async fn publish(cf: &Client, name: &str) -> anyhow::Result<()> {
    guarded(name, "PublishFunction")
        .update(
            || {
                cf.describe_function()
                    .name(name)
                    .stage(FunctionStage::Development)
                    .send()
            },
            |current| current.e_tag().map(String::from),
            |etag| cf.publish_function().name(name).set_if_match(etag).send(),
        )
        .await?;
    Ok(())
}

/// Delete it, waiting while CloudFront still counts it in use by the
/// distribution that no longer names it.
pub async fn delete(
    cf: &Client,
    name: &str,
    waiting: &Waiting,
    progress: impl FnMut(&str, Duration),
) -> anyhow::Result<()> {
    guarded(name, "DeleteFunction")
        .delete(
            || {
                cf.describe_function()
                    .name(name)
                    .stage(FunctionStage::Development)
                    .send()
            },
            |current| current.e_tag().map(String::from),
            |etag| cf.delete_function().name(name).set_if_match(etag).send(),
            waiting,
            progress,
        )
        .await
}

/// The function's steps, for `up` and `down`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create,
    Update,
    /// DEVELOPMENT to LIVE.
    Publish,
    Delete,
}

impl Action for Step {
    const KIND: Kind = Kind::Function;

    fn needs(&self) -> Vec<Fact> {
        match self {
            // It names the store.
            Step::Create | Step::Update => vec![Fact::Exists(Kind::KeyValueStore)],
            Step::Publish => vec![Fact::Exists(Self::KIND), Fact::Written(Self::KIND)],
            // Once no distribution of the stack's names it.
            Step::Delete => Fact::unused_by(Kind::Distribution),
        }
    }

    fn provides(&self) -> Vec<Fact> {
        match self {
            Step::Create => vec![Fact::Exists(Self::KIND), Fact::Written(Self::KIND)],
            Step::Update => vec![Fact::Written(Self::KIND)],
            // LIVE is what associations run: "deployed" for the distribution.
            Step::Publish => vec![Fact::Deployed(Self::KIND)],
            Step::Delete => vec![Fact::Gone(Self::KIND)],
        }
    }

    async fn apply(&self, cx: &Cx<'_>) -> anyhow::Result<Learned> {
        let (cf, name) = (&cx.clients.cloudfront, name(&cx.spec.bucket));
        let want = || -> anyhow::Result<Stage> { Ok(desired(cx.spec, &cx.facts.known(Kind::KeyValueStore)?.arn)) };
        Ok(match self {
            Step::Create => Learned::Known(Self::KIND, create(cf, &name, &want()?).await?),
            Step::Update => {
                update(cf, &name, &want()?).await?;
                Learned::Nothing
            }
            Step::Publish => {
                publish(cf, &name).await?;
                Learned::Nothing
            }
            Step::Delete => {
                let label = format!("function {name}");
                let progress = crate::events::on_refusal(
                    cx.events,
                    &label,
                    "waiting for CloudFront to release it from the distribution",
                );
                delete(cf, &name, cx.waiting, progress).await?;
                Learned::Nothing
            }
        })
    }
}

/// `up`: create or update DEVELOPMENT as `want` says, then publish it when
/// LIVE differs. A function of this name that is not the stack's is left
/// alone.
pub fn up(observed: Option<&Observed>, name: &str, want: &Stage) -> Part<Step> {
    let mut part = Part::default();
    let r = format!("function {name}");
    match observed {
        None => {
            part.step(
                Step::Create,
                &r,
                "create",
                vec![format!("viewer-request, {RUNTIME}, {} bytes", want.code.len())],
            );
            part.step(Step::Publish, &r, "publish", vec![]);
        }
        Some(f) if !f.is_owned(&want.comment) => part.note(format!(
            "{r}: exists with the comment {:?}, not this stack's: left alone (releases stay off)",
            f.development.comment
        )),
        Some(f) => {
            let diff = differences(&f.development, want);
            let changed = !diff.is_empty();
            if changed {
                part.step(Step::Update, &r, "update", diff);
            }
            if changed || !f.is_published() {
                let why = if f.live.is_none() {
                    "never published"
                } else {
                    "LIVE differs from DEVELOPMENT"
                };
                let details = if changed { vec![] } else { vec![why.to_string()] };
                part.step(Step::Publish, &r, "publish", details);
            }
        }
    }
    part
}

/// `down`: delete it once the distribution no longer names it.
pub fn down(observed: &Observed, name: &str, comment: &str) -> Part<Step> {
    let mut part = Part::default();
    if observed.is_owned(comment) {
        part.step(Step::Delete, &format!("function {name}"), "delete", vec![]);
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_fits_the_quota_with_the_longest_settings() {
        let env: std::collections::BTreeMap<String, String> = [
            ("BUCKET_NAME".to_string(), "b-1".to_string()),
            ("CDN_RELEASES".to_string(), "3".to_string()),
            ("CDN_SPA_FALLBACK".to_string(), format!("/{}.html", "a".repeat(200))),
            ("HOSTED_ZONE_NAME".to_string(), "example.com".to_string()),
            ("SUBDOMAIN".to_string(), "a".repeat(50)),
            ("CDN_PREVIEWS".to_string(), "on".to_string()),
            ("CDN_PREVIEW_AUTH".to_string(), format!("u:{}", "p".repeat(190))),
        ]
        .into();
        let settings = crate::settings::Settings::resolve(&Default::default(), &env).unwrap();
        let code = code(&Spec::new(&settings, "eu-west-1"));
        assert!(code.len() < MAX_CODE / 2, "{} bytes", code.len());
        let config = code.lines().find(|l| l.starts_with("const CONFIG = ")).unwrap();
        for part in [
            "\"root\":\"_cdnctl\"",
            "\"spa\":\"/aaa",
            "\"domain\":\"aaaa",
            "\"auth\":\"Basic dTpw",
        ] {
            assert!(config.contains(part), "{part} in {config}");
        }
        assert_eq!(code.matches("const CONFIG").count(), 1);
    }

    #[test]
    fn names_fit_and_stay_distinct() {
        assert_eq!(name("example-static"), "cdnctl-example-static");
        let (a, b) = (name(&"a".repeat(63)), name(&format!("{}b", "a".repeat(62))));
        let dotted = name("static.example.com");
        for n in [&a, &b, &dotted] {
            assert!(
                n.len() <= 64 && n.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'),
                "{n}"
            );
        }
        assert_ne!(a, b);
        assert_ne!(dotted, name("static-example-com"));
    }

    #[test]
    fn hashed_names_by_the_functions_rule() {
        for f in [
            "app.5af66c1b1797.css",
            "index-B1x9kQ2z.js",
            "chunk.0123456789ab.js",
            "a_b-1234abcd.woff2",
        ] {
            assert!(is_hashed(f), "{f}");
        }
        for f in [
            "app.css",
            "my-component.js",
            "jquery-3.7.1.min.js",
            "report-20241231.pdf",
            "index.html",
            "README",
            ".5af66c1b1797.css",
            "5af66c1b1797.css",
        ] {
            assert!(!is_hashed(f), "{f}");
        }
    }

    /// The function's `routeKey`, run by node with the CONFIG `code` writes:
    /// a preview's key only for one label under the stack's domain.
    #[test]
    fn route_key_picks_a_preview_by_its_host() {
        let env: std::collections::BTreeMap<String, String> = [
            ("BUCKET_NAME".to_string(), "b-1".to_string()),
            ("CDN_RELEASES".to_string(), "3".to_string()),
            ("HOSTED_ZONE_NAME".to_string(), "example.com".to_string()),
            ("SUBDOMAIN".to_string(), "static".to_string()),
            ("CDN_PREVIEWS".to_string(), "on".to_string()),
        ]
        .into();
        let settings = crate::settings::Settings::resolve(&Default::default(), &env).unwrap();
        let code = code(&Spec::new(&settings, "eu-west-1"));
        let config = code.lines().find(|l| l.starts_with("const CONFIG = ")).unwrap();
        let start = code.find("function routeKey(").unwrap();
        let end = start + code[start..].find("\n}\n").unwrap() + 2;
        let hosts = [
            ("static.example.com", "live"),
            ("pr-1.static.example.com", "preview:pr-1"),
            ("PR-2.Static.Example.COM", "preview:pr-2"),
            ("a.b.static.example.com", "live"),
            ("xstatic.example.com", "live"),
            (".static.example.com", "live"),
            ("other.example.com", "live"),
        ];
        let script = format!(
            "{config}\n{}\nconst hosts = {};\nconsole.log(JSON.stringify(hosts.map(h => routeKey({{headers: {{host: {{value: h}}}}}}))));",
            &code[start..end],
            serde_json::to_string(&hosts.iter().map(|(h, _)| *h).collect::<Vec<_>>()).unwrap(),
        );
        let out = std::process::Command::new("node")
            .arg("-e")
            .arg(&script)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let keys: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        let want: Vec<&str> = hosts.iter().map(|(_, k)| *k).collect();
        assert_eq!(keys, want);
    }
}
