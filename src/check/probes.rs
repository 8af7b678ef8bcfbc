//! The probes, all run at once. Each failure is one line: what was seen, the
//! likely cause, and the fix.

use std::future::Future;
use std::pin::Pin;

use futures_util::future::join_all;

use super::http::{Answer, Failure, Http};
use super::target::not_found::NotFoundPage;
use super::target::{Sample, Serving, Target};
use super::Outcome;
use crate::resources::dns;
use crate::sync::rules;

mod cors;
mod site;

use cors::cors;
use site::{dns, protocols, redirect, security, tls};

/// A certificate expiring sooner than this is reported (ACM renews 60 days
/// before expiry, so a healthy one never gets this close).
const EXPIRY_DAYS: i64 = 30;
/// Objects larger than this are probed by their first byte (`Range:
/// bytes=0-0`), so a large video never fails by timeout.
const WHOLE_BODY_MAX: i64 = 1 << 20;
/// What browsers send; CloudFront keeps br, gzip and identity apart.
const BROWSER_ENCODINGS: &str = "br, gzip";
/// The minimum TLS versions that refuse TLS 1.0 and 1.1 (`up` sets the first).
const MODERN_TLS: [&str; 3] = ["TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"];

type Probe<'a> = Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'a>>;

pub async fn run(http: &Http, target: &Target, now: i64) -> Vec<Outcome> {
    let mut probes: Vec<Probe> = vec![
        Box::pin(dns(http, target)),
        Box::pin(tls(http, target, now)),
        Box::pin(redirect(http, target)),
        Box::pin(root(http, target)),
        Box::pin(missing(http, target, now)),
        Box::pin(cors(http, target)),
        Box::pin(security(http, target)),
        Box::pin(protocols(http, target)),
        Box::pin(directories(http, target)),
        Box::pin(async move { release(target) }),
    ];
    for sample in &target.samples {
        probes.push(Box::pin(async move { object(http, target, sample).await }));
        if sample.path.contains('+') {
            probes.push(Box::pin(async move { vec![plus(http, target, sample).await] }));
        }
    }
    join_all(probes).await.into_iter().flatten().collect()
}

fn invalidation(target: &Target, path: &str) -> String {
    format!(
        "`aws cloudfront create-invalidation --distribution-id {} --paths '{path}'` fixes it (`cdnctl sync` invalidates what it changes)",
        target.distribution_id
    )
}

/// The explanation of an answer that is not the object.
fn refused(target: &Target, path: &str, a: &Answer) -> String {
    if a.is_cloudfront_page() {
        return cloudfront_page(target, a);
    }
    match a.s3_code().as_deref() {
        Some("AccessDenied") => format!(
            "AccessDenied from S3 through CloudFront for {path}: the bucket policy of {} lacks CloudFront's grant for distribution {} (or denies it); `cdnctl up` restores it",
            target.bucket, target.distribution_id
        ),
        Some("NoSuchKey") => format!(
            "NoSuchKey from S3 through CloudFront for {path}: the object is gone from {}; publish it again with {}",
            target.bucket,
            target.serving.publish()
        ),
        Some(code) => format!("{} {code} from S3 through CloudFront for {path}", a.status),
        None => format!("{} for {path} (x-cache: {})", a.status, a.header("x-cache").unwrap_or("none")),
    }
}

/// CloudFront's own 403 page, told apart by its words and the configuration.
fn cloudfront_page(target: &Target, a: &Answer) -> String {
    let (host, id) = (&target.host, &target.distribution_id);
    let text = String::from_utf8_lossy(&a.body);
    let config = &target.config;
    let acl = config.web_acl_id().filter(|w| !w.is_empty());
    if text.contains("Request blocked") {
        return match acl {
            Some(acl) => format!(
                "the web ACL {acl} of distribution {id} blocks this request ({} {}; check's User-Agent is {}): allow it in the web ACL (a rule that allows that User-Agent or this address), or run check from where visitors come",
                a.status,
                host,
                super::http::USER_AGENT
            ),
            None => format!("CloudFront's {} \"Request blocked\" page for {host}: a web ACL (AWS WAF) blocks the request", a.status),
        };
    }
    if text.contains("block access from your country") {
        let geo = config.restrictions().and_then(|r| r.geo_restriction());
        let rule = geo
            .map(|g| format!("{} {}", g.restriction_type().as_str(), g.items().join(",")))
            .unwrap_or_default();
        return format!(
            "distribution {id} has a geo restriction ({rule}) that refuses the country check runs from: visitors there get 403 too; `cdnctl up` sets none, so whoever added it can lift it (Restrictions in the distribution's settings)"
        );
    }
    if !config.enabled() {
        return format!(
            "CloudFront's own {} page for {host}: distribution {id} is disabled; `cdnctl up` enables it",
            a.status
        );
    }
    let aliases = config.aliases().map(|a| a.items().to_vec()).unwrap_or_default();
    if !host.eq_ignore_ascii_case(&target.distribution_domain) && !aliases.iter().any(|x| x.eq_ignore_ascii_case(host))
    {
        return format!(
            "CloudFront's own {} page for {host}: distribution {id} does not list {host} as an alias; `cdnctl up` adds it",
            a.status
        );
    }
    format!(
        "CloudFront's own {} page for {host} (\"{}\"): CloudFront refused the request itself",
        a.status,
        text.lines()
            .find(|l| l.contains("ERROR") || l.contains("Bad request"))
            .unwrap_or("")
            .trim()
    )
}

fn unreachable(target: &Target, url: &str, f: &Failure) -> String {
    match f {
        Failure::NotForName | Failure::Expired | Failure::Untrusted => format!("{url}: {f} (see the tls probe)"),
        Failure::Connect(e) => format!(
            "{url}: cannot connect ({e}): {} does not lead to CloudFront from here",
            target.host
        ),
        Failure::Other(e) => format!("{url}: {e}"),
    }
}

async fn root(http: &Http, target: &Target) -> Vec<Outcome> {
    let url = format!("https://{}/", target.host);
    if let Some(key) = &target.missing_root_object {
        let message = match &target.serving {
            Serving::Release(id) => format!(
                "release {id} has no {key}: `/` answers an error; publish DIR with its {key} with `cdnctl deploy DIR`"
            ),
            Serving::NoRelease => format!(
                "no release is live and the bucket {} has no {key}: `/` answers an error; `cdnctl deploy DIR` publishes the first release",
                target.bucket
            ),
            Serving::InPlace => format!(
                "the DefaultRootObject {key} is not in the bucket {}: `/` answers an error; publish it with `cdnctl sync DIR`",
                target.bucket
            ),
        };
        return vec![match target.serving {
            Serving::InPlace => Outcome::fail("root", &url, message),
            _ => Outcome::in_bucket("root", &url, message),
        }];
    }
    let Some(sample) = &target.default_root_object else {
        return Vec::new();
    };
    vec![match http.request(true, &target.host, "GET", "/", &[]).await {
        Ok(a) if a.status == 200 && etag_of(&a) == sample.etag => {
            Outcome::pass("root", &url, format!("serves {}", sample.path))
        }
        Ok(a) if a.status == 200 => Outcome::stale(
            "root",
            &url,
            "/",
            format!(
                "`/` serves a stale copy of {} (ETag {}, the bucket has {}): {}",
                sample.path,
                etag_of(&a),
                sample.etag,
                invalidation(target, "/")
            ),
        ),
        Ok(a) => Outcome::fail("root", &url, refused(target, "/", &a)),
        Err(f) => Outcome::fail("root", &url, unreachable(target, &url, &f)),
    }]
}

fn etag_of(a: &Answer) -> String {
    a.header("etag")
        .unwrap_or("")
        .trim_start_matches("W/")
        .trim_matches('"')
        .to_string()
}

fn mime(value: &str) -> String {
    value.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// An object as a browser gets it (`Accept-Encoding: br, gzip`) and as a
/// client without compression does: CloudFront caches the two apart, so
/// either can be stale alone. A large object: its first byte only.
async fn object(http: &Http, target: &Target, sample: &Sample) -> Vec<Outcome> {
    if sample.size > WHOLE_BODY_MAX {
        return vec![object_as(http, target, sample, &[("range", "bytes=0-0")], "its first byte").await];
    }
    let (browser, plain) = tokio::join!(
        object_as(
            http,
            target,
            sample,
            &[("accept-encoding", BROWSER_ENCODINGS)],
            "as browsers ask (br, gzip)"
        ),
        object_as(http, target, sample, &[], "uncompressed")
    );
    match (browser.ok, plain.ok) {
        (true, true) => vec![Outcome::pass(
            "object",
            browser.target,
            format!("{}; uncompressed too", browser.message),
        )],
        (false, true) => vec![browser],
        (true, false) => vec![plain],
        (false, false) if browser.message == plain.message => vec![browser],
        (false, false) => vec![browser, plain],
    }
}

async fn object_as(http: &Http, target: &Target, sample: &Sample, headers: &[(&str, &str)], how: &str) -> Outcome {
    let path = sample.url_path();
    let url = format!("https://{}{path}", target.host);
    let a = match http.request(true, &target.host, "GET", &path, headers).await {
        Ok(a) => a,
        Err(f) => return Outcome::fail("object", &url, unreachable(target, &url, &f)),
    };
    if a.status != 200 && a.status != 206 {
        return Outcome::fail("object", &url, refused(target, &path, &a));
    }
    // A file carries the id of the release holding it: the edge serves the
    // one the live route resolves the path to (the sample's key).
    if let (Serving::Release(id), Some(holder)) = (&target.serving, crate::release::holder_of(&sample.key)) {
        let served = a.header(&format!("x-amz-meta-{}", crate::release::META));
        if served != Some(holder) {
            let from = if holder == id {
                String::new()
            } else {
                format!(" (its route serves this path from release {holder})")
            };
            return Outcome::fail(
                "object",
                &url,
                format!(
                    "{path}: the edge serves {} {how}, but the live release is {id}{from}: the store's `live` reaches the edges seconds after it is written; if it stays so, the function of distribution {} does not read the store (`cdnctl status` shows it)",
                    served.map(|r| format!("release {r}")).unwrap_or_else(|| "a file of no release".into()),
                    target.distribution_id
                ),
            );
        }
    }
    let edge = etag_of(&a);
    if edge != sample.etag {
        return Outcome::stale(
            "object",
            &url,
            &path,
            format!(
                "{path}: the edge serves a stale copy {how} (ETag {edge}, the bucket has {}): {}",
                sample.etag,
                invalidation(target, &path)
            ),
        );
    }
    let (edge_type, edge_cache) = (a.header("content-type"), a.header("cache-control"));
    if edge_type != sample.content_type.as_deref() || edge_cache != sample.cache_control.as_deref() {
        return Outcome::stale(
            "object",
            &url,
            &path,
            format!(
                "{path}: the edge serves older headers {how} (Content-Type {}, Cache-Control {}; the bucket has {}, {}): {}",
                edge_type.unwrap_or("none"),
                edge_cache.unwrap_or("none"),
                sample.content_type.as_deref().unwrap_or("none"),
                sample.cache_control.as_deref().unwrap_or("none"),
                invalidation(target, &path)
            ),
        );
    }
    let expected = rules::content_type(&sample.key);
    let held = sample.content_type.as_deref().unwrap_or("");
    if expected != rules::DEFAULT_TYPE && mime(held) != mime(expected) {
        return Outcome::in_bucket(
            "object",
            &url,
            format!(
                "{path} is served as {held:?}, not {}: browsers may refuse or misread it; `cdnctl sync DIR` publishes it with the right type",
                mime(expected)
            ),
        );
    }
    let encoding = a
        .header("content-encoding")
        .map(|e| format!(", {e}"))
        .unwrap_or_default();
    Outcome::pass(
        "object",
        &url,
        format!(
            "{}: {}{encoding} {how}, {}, {}",
            sample.why,
            a.status,
            held,
            sample.cache_control.as_deref().unwrap_or("no Cache-Control")
        ),
    )
}

/// A key with `+` requested as a page links it, `+` and all: S3 reads that
/// `+` as a space.
async fn plus(http: &Http, target: &Target, sample: &Sample) -> Outcome {
    let path = format!("/{}", encode(&sample.path).replace("%2B", "+"));
    let url = format!("https://{}{path}", target.host);
    match http.request(true, &target.host, "GET", &path, &[]).await {
        Ok(a) if a.status == 200 && etag_of(&a) == sample.etag => {
            Outcome::pass("object", &url, format!("{}: a link written with `+` gets it", sample.why))
        }
        Ok(a) => Outcome::in_bucket(
            "object",
            &url,
            format!(
                "a page linking {} as written gets {} (S3 reads `+` in a URL path as a space, the key {:?}): rename the file without `+`, or link it as {}",
                sample.path,
                a.status,
                sample.path.replace('+', " "),
                encode(&sample.path)
            ),
        ),
        Err(f) => Outcome::fail("object", &url, unreachable(target, &url, &f)),
    }
}

/// `dir/index.html` requested as pages link it, `dir/`: DefaultRootObject
/// applies at the root only, so CloudFront asks S3 for the key `dir/`. With
/// releases, the stack's function serves `dir/index.html` for it: anything
/// else is a failure.
async fn directories(http: &Http, target: &Target) -> Vec<Outcome> {
    let probes = target.directories.iter().map(|index| async move {
        let dir = index.trim_end_matches("index.html");
        let path = format!("/{}", encode(dir));
        let url = format!("https://{}{path}", target.host);
        let answer = http.request(true, &target.host, "GET", &path, &[]).await;
        if target.serving.by_function() {
            let held = target.samples.iter().find(|s| &s.path == index).map(|s| s.etag.as_str());
            return match answer {
                Ok(a) if a.status == 200 && held.is_none_or(|e| e == etag_of(&a)) => {
                    Outcome::pass("directory", &url, format!("{path} serves {index}"))
                }
                Ok(a) if a.status == 200 => Outcome::stale(
                    "directory",
                    &url,
                    &path,
                    format!(
                        "{path}: the edge serves a stale copy of {index} (ETag {}, the bucket has {}): {}",
                        etag_of(&a),
                        held.unwrap_or(""),
                        invalidation(target, &path)
                    ),
                ),
                Ok(a) => Outcome::fail(
                    "directory",
                    &url,
                    format!(
                        "{path} answers {} although {index} is published: the stack's function serves directory indexes; `cdnctl up` publishes it ({})",
                        a.status,
                        refused(target, &path, &a)
                    ),
                ),
                Err(f) => Outcome::fail("directory", &url, unreachable(target, &url, &f)),
            };
        }
        match answer {
            Ok(a) if a.status == 200 => Outcome::pass("directory", &url, format!("{path} serves {}", a.status)),
            Ok(a) => Outcome::warn(
                "directory",
                &url,
                format!(
                    "{path} answers {}, {index} is only served by its full name: DefaultRootObject applies at the root only, so pages must link {index}; a release (the CloudFront Function's directory index) serves {path}, publishing in place cannot",
                    a.status
                ),
            ),
            Err(f) => Outcome::fail("directory", &url, unreachable(target, &url, &f)),
        }
    });
    join_all(probes).await
}

/// With releases: which release visitors get (the store's `live`), and the
/// files its manifests and pages name that the bucket lacks.
fn release(target: &Target) -> Vec<Outcome> {
    let url = format!("https://{}/", target.host);
    let mut out = match &target.serving {
        Serving::InPlace => return Vec::new(),
        Serving::Release(id) => vec![Outcome::pass(
            "release",
            &url,
            format!("release {id} is live (the store's `live`); its files probed at the paths visitors use"),
        )],
        // Releases just turned on for a site published in place: the
        // function serves those files (probed as any) until the first release.
        Serving::NoRelease if !target.samples.is_empty() => vec![Outcome::pass(
            "release",
            &url,
            format!(
                "no release yet: the function serves the bucket {}'s files in place (probed below) until `cdnctl deploy DIR` publishes the first",
                target.bucket
            ),
        )],
        Serving::NoRelease => vec![Outcome::in_bucket(
            "release",
            &url,
            format!(
                "no release is live: the stack's store has no `live`, so the edge serves the bucket {}'s files in place, and it has none; `cdnctl deploy DIR` publishes the first release",
                target.bucket
            ),
        )],
    };
    for absent in &target.absent {
        let path = format!("/{}", encode(&absent.path));
        out.push(Outcome::in_bucket(
            "object",
            format!("https://{}{path}", target.host),
            format!(
                "{path}: {}, but {} is not in the bucket {}: visitors get an error for it; {} publishes it again",
                absent.why,
                absent.key,
                target.bucket,
                target.serving.publish()
            ),
        ));
    }
    out
}

async fn missing(http: &Http, target: &Target, now: i64) -> Vec<Outcome> {
    let path = format!("/cdnctl-check-{now}-no-such-file.txt");
    let url = format!("https://{}{path}", target.host);
    let answer = http.request(true, &target.host, "GET", &path, &[]).await;
    if let Some(page) = &target.not_found {
        return vec![match answer {
            Ok(a) => not_found_page(target, page, &path, &url, &a),
            Err(f) => Outcome::fail("missing", &url, unreachable(target, &url, &f)),
        }];
    }
    let outcome = match answer {
        Ok(a) if a.status == 403 && a.s3_code().as_deref() == Some("AccessDenied") => Outcome::pass(
            "missing",
            &url,
            "403 AccessDenied: S3 answers a missing key so when CloudFront may not list the bucket (as intended)",
        ),
        Ok(a) if a.status == 404 => Outcome::pass("missing", &url, "404: a missing key is reported as missing"),
        Ok(a) if a.status < 300 => Outcome::fail(
            "missing",
            &url,
            format!(
                "a file that cannot exist answers {}: a custom error response turns missing files into pages, so broken links go unnoticed",
                a.status
            ),
        ),
        Ok(a) => Outcome::fail("missing", &url, refused(target, &path, &a)),
        Err(f) => Outcome::fail("missing", &url, unreachable(target, &url, &f)),
    };
    vec![outcome]
}

/// With a 404 page (`Setting::NotFound`): a missing path must get that
/// page, with its status (404), never a 200.
fn not_found_page(target: &Target, page: &NotFoundPage, path: &str, url: &str, a: &Answer) -> Outcome {
    let Some(body) = &page.body else {
        return Outcome::in_bucket(
            "missing",
            url,
            format!(
                "the 404 page {} is not in bucket {} ({}): CloudFront then answers every missing path with S3's error; publish a DIR that has it with {}",
                page.path,
                target.bucket,
                page.key,
                target.serving.publish()
            ),
        );
    };
    if let (Some(live), Serving::Release(id)) = (&page.behind, &target.serving) {
        return Outcome::in_bucket(
            "missing",
            url,
            format!(
                "the 404 page {} ({}) is not release {id}'s ({live}): a deploy or rollback stopped before copying it; `cdnctl rollback {id}` copies it (and writes nothing else, {id} being live)",
                page.path, page.key
            ),
        );
    }
    if a.status < 300 && page.status < 300 {
        return Outcome::fail(
            "missing",
            url,
            format!(
                "a file that cannot exist answers {} with {}: distribution {}'s error responses turn missing files into pages, so search engines index them and broken links go unnoticed; remove them, or set {}={} and run `cdnctl up` (which answers 404)",
                a.status,
                page.path,
                target.distribution_id,
                crate::settings::Setting::NotFound,
                page.path
            ),
        );
    }
    if a.status < 300 {
        return Outcome::fail(
            "missing",
            url,
            format!(
                "a file that cannot exist answers {} (want {} with {}): search engines and visitors see a page where nothing is",
                a.status, page.status, page.path
            ),
        );
    }
    if a.status != page.status {
        return Outcome::fail(
            "missing",
            url,
            format!(
                "{} instead of the 404 page {} (its error responses are not applied): {}",
                a.status,
                page.path,
                refused(target, path, a)
            ),
        );
    }
    if a.body != *body {
        return Outcome::stale(
            "missing",
            url,
            &page.path,
            format!(
                "{} with another body than {} in bucket {} ({}): the edge holds an older copy of the page; {}",
                a.status,
                page.key,
                target.bucket,
                page.path,
                invalidation(target, &page.path)
            ),
        );
    }
    Outcome::pass(
        "missing",
        url,
        format!("{}: the site's 404 page ({})", a.status, page.path),
    )
}

/// A key as a URL path: every byte but unreserved characters and `/` percent-encoded.
pub fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::site::{pick, resolution};
    use super::*;

    #[test]
    fn each_address_family_is_compared_alone() {
        let v4: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let v6: std::net::IpAddr = "2001:db8::1".parse().unwrap();
        let other6: std::net::IpAddr = "2001:db8::2".parse().unwrap();
        let mine = [v4, other6];
        let theirs = [v4, v6];
        assert!(resolution("h", "d", "A", &pick(&mine, false), &pick(&theirs, false)).ok);
        let aaaa = resolution("h", "d", "AAAA", &pick(&mine, true), &pick(&theirs, true));
        assert!(!aaaa.ok && aaaa.message.contains("none of d's addresses"), "{aaaa:?}");
        assert!(!resolution("h", "d", "AAAA", &[], &[v6]).ok);
        assert!(resolution("h", "d", "AAAA", &[], &[]).ok);
    }

    #[test]
    fn keys_are_percent_encoded_but_slashes() {
        assert_eq!(encode("static/a b+é.css"), "static/a%20b%2B%C3%A9.css");
    }
}
