//! The probes, all run at once. Each failure is one line: what was seen, the
//! likely cause, and the fix.

use std::future::Future;
use std::pin::Pin;

use futures_util::future::join_all;

use super::http::{Answer, Failure, Http};
use super::target::{Sample, Target};
use super::Outcome;
use crate::resources::dns;
use crate::settings::Setting::CorsOrigins;
use crate::sync::rules;

/// A certificate expiring sooner than this is reported (ACM renews 60 days
/// before expiry, so a healthy one never gets this close).
const EXPIRY_DAYS: i64 = 30;

type Probe<'a> = Pin<Box<dyn Future<Output = Vec<Outcome>> + Send + 'a>>;

pub async fn run(http: &Http, target: &Target, now: i64) -> Vec<Outcome> {
    let mut probes: Vec<Probe> = vec![
        Box::pin(dns(http, target)),
        Box::pin(tls(http, target, now)),
        Box::pin(redirect(http, target)),
        Box::pin(root(http, target)),
        Box::pin(missing(http, target, now)),
        Box::pin(cors(http, target)),
    ];
    for sample in &target.samples {
        probes.push(Box::pin(async move { vec![object(http, target, sample).await] }));
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
    let host = &target.host;
    if a.is_cloudfront_page() {
        return format!(
            "CloudFront's own {} page for {host}: the distribution {} is disabled or does not list {host} as an alias; `cdnctl up` restores it",
            a.status, target.distribution_id
        );
    }
    match a.s3_code().as_deref() {
        Some("AccessDenied") => format!(
            "AccessDenied from S3 through CloudFront for {path}: the bucket policy of {} lacks CloudFront's grant for distribution {} (or denies it); `cdnctl up` restores it",
            target.bucket, target.distribution_id
        ),
        Some("NoSuchKey") => format!(
            "NoSuchKey from S3 through CloudFront for {path}: the object is gone from {}; publish it again with `cdnctl sync DIR`",
            target.bucket
        ),
        Some(code) => format!("{} {code} from S3 through CloudFront for {path}", a.status),
        None => format!("{} for {path} (x-cache: {})", a.status, a.header("x-cache").unwrap_or("none")),
    }
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

async fn dns(http: &Http, target: &Target) -> Vec<Outcome> {
    let Some(records) = &target.records else {
        return Vec::new(); // no custom domain: CloudFront's own name, nothing of ours in DNS
    };
    let host = &target.host;
    let edge_name = &target.distribution_domain;
    let mut out = Vec::new();
    match records {
        Err(why) => out.push(Outcome::fail("dns", host, format!("Route 53: {why}"))),
        Ok(records) => {
            for (kind, record) in [("A", &records.a), ("AAAA", &records.aaaa)] {
                out.push(match record {
                    Some(r) if dns::points_at(r, edge_name) => {
                        Outcome::pass("dns", format!("{host} {kind}"), format!("Route 53: alias to {edge_name}"))
                    }
                    Some(r) => Outcome::fail(
                        "dns",
                        format!("{host} {kind}"),
                        format!(
                            "Route 53: the {kind} record of {host} points at {}, not at {edge_name}: visitors reach something else; `cdnctl up --adopt` points it here",
                            dns::target(r)
                        ),
                    ),
                    None => Outcome::fail(
                        "dns",
                        format!("{host} {kind}"),
                        format!("Route 53: no {kind} record for {host}: visitors cannot find the site; `cdnctl up` writes it"),
                    ),
                });
            }
        }
    }
    if http.redirected() {
        return out; // --connect-to: the records above are all there is to check
    }
    let (mine, theirs) = tokio::join!(
        tokio::net::lookup_host((host.as_str(), 443)),
        tokio::net::lookup_host((edge_name.as_str(), 443))
    );
    out.push(match (mine, theirs) {
        (Err(e), _) => Outcome::fail(
            "dns",
            host,
            format!("{host} does not resolve ({e}): the records are new (wait for Route 53 to answer) or the zone is not delegated to Route 53"),
        ),
        (Ok(mine), Ok(theirs)) => {
            let mine: Vec<_> = mine.map(|a| a.ip()).collect();
            let theirs: Vec<_> = theirs.map(|a| a.ip()).collect();
            if mine.iter().any(|ip| theirs.contains(ip)) {
                Outcome::pass("dns", host, format!("resolves to {edge_name}'s addresses"))
            } else {
                Outcome::fail(
                    "dns",
                    host,
                    format!("{host} resolves to {mine:?}, none of {edge_name}'s addresses: a resolver still caches an older answer, or another record wins"),
                )
            }
        }
        (Ok(_), Err(e)) => Outcome::fail("dns", edge_name, format!("{edge_name} does not resolve ({e}): no DNS here?")),
    });
    out
}

async fn tls(http: &Http, target: &Target, now: i64) -> Vec<Outcome> {
    let host = &target.host;
    let outcome = match http.certificate_expiry(host).await {
        Ok(Some(not_after)) if not_after - now < EXPIRY_DAYS * 86400 => Outcome::fail(
            "tls",
            host,
            format!(
                "the certificate for {host} expires in {} days: ACM renews a DNS-validated certificate only while its validation CNAME resolves; `cdnctl status` shows whether it is there",
                (not_after - now).div_euclid(86400)
            ),
        ),
        Ok(Some(not_after)) => Outcome::pass(
            "tls",
            host,
            format!("valid for {host}, {} days left", (not_after - now) / 86400),
        ),
        Ok(None) => Outcome::pass("tls", host, format!("valid for {host}")),
        Err(Failure::NotForName) => Outcome::fail(
            "tls",
            host,
            format!(
                "the certificate CloudFront serves for {host} does not cover it: distribution {} does not list {host} as an alias with an ACM certificate naming it; `cdnctl up` sets both",
                target.distribution_id
            ),
        ),
        Err(Failure::Expired) => Outcome::fail(
            "tls",
            host,
            format!("the certificate for {host} has expired: ACM renews only while the validation CNAME resolves; run `cdnctl up` to request a new one"),
        ),
        Err(Failure::Untrusted) => Outcome::fail(
            "tls",
            host,
            format!("the certificate for {host} is not signed by a trusted authority: for a private CA, pass --ca-bundle"),
        ),
        Err(f) => Outcome::fail("tls", host, unreachable(target, &format!("https://{host}/"), &f)),
    };
    vec![outcome]
}

async fn redirect(http: &Http, target: &Target) -> Vec<Outcome> {
    let host = &target.host;
    // A file that exists, so that a missing redirect shows as the file served.
    let path = target
        .samples
        .first()
        .map(|s| format!("/{}", encode(&s.key)))
        .unwrap_or_else(|| "/".into());
    let url = format!("http://{host}{path}");
    let outcome = match http.request(false, host, "GET", &path, &[]).await {
        Ok(a) if matches!(a.status, 301 | 302 | 307 | 308)
            && a.header("location") == Some(format!("https://{host}{path}").as_str()) =>
        {
            Outcome::pass("redirect", &url, format!("{} to https", a.status))
        }
        Ok(a) => Outcome::fail(
            "redirect",
            &url,
            format!(
                "http is not redirected to https ({} {}): the viewer protocol policy of distribution {} should be redirect-to-https; `cdnctl up` sets it",
                a.status,
                a.header("location").unwrap_or(""),
                target.distribution_id
            ),
        ),
        Err(f) => Outcome::fail("redirect", &url, unreachable(target, &url, &f)),
    };
    vec![outcome]
}

async fn root(http: &Http, target: &Target) -> Vec<Outcome> {
    let url = format!("https://{}/", target.host);
    if let Some(key) = &target.missing_root_object {
        return vec![Outcome::fail(
            "root",
            &url,
            format!("the DefaultRootObject {key} is not in the bucket {}: `/` answers an error; publish it with `cdnctl sync DIR`", target.bucket),
        )];
    }
    let Some(sample) = &target.default_root_object else {
        return Vec::new();
    };
    vec![match http.request(true, &target.host, "GET", "/", &[]).await {
        Ok(a) if a.status == 200 && etag_of(&a) == sample.etag => {
            Outcome::pass("root", &url, format!("serves {}", sample.key))
        }
        Ok(a) if a.status == 200 => Outcome::fail(
            "root",
            &url,
            format!(
                "`/` serves a stale copy of {} (ETag {}, the bucket has {}): {}",
                sample.key,
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

async fn object(http: &Http, target: &Target, sample: &Sample) -> Outcome {
    let path = format!("/{}", encode(&sample.key));
    let url = format!("https://{}{path}", target.host);
    let a = match http.request(true, &target.host, "GET", &path, &[]).await {
        Ok(a) => a,
        Err(f) => return Outcome::fail("object", &url, unreachable(target, &url, &f)),
    };
    if a.status != 200 {
        return Outcome::fail("object", &url, refused(target, &path, &a));
    }
    let edge = etag_of(&a);
    if edge != sample.etag {
        return Outcome::fail(
            "object",
            &url,
            format!(
                "{path}: the edge serves a stale copy (ETag {edge}, the bucket has {}): {}",
                sample.etag,
                invalidation(target, &path)
            ),
        );
    }
    let (edge_type, edge_cache) = (a.header("content-type"), a.header("cache-control"));
    if edge_type != sample.content_type.as_deref() || edge_cache != sample.cache_control.as_deref() {
        return Outcome::fail(
            "object",
            &url,
            format!(
                "{path}: the edge serves older headers (Content-Type {}, Cache-Control {}; the bucket has {}, {}): {}",
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
        return Outcome::fail(
            "object",
            &url,
            format!(
                "{path} is served as {held:?}, not {}: browsers may refuse or misread it; `cdnctl sync DIR` publishes it with the right type",
                mime(expected)
            ),
        );
    }
    Outcome::pass(
        "object",
        &url,
        format!(
            "{}: 200, {}, {}",
            sample.why,
            held,
            sample.cache_control.as_deref().unwrap_or("no Cache-Control")
        ),
    )
}

async fn missing(http: &Http, target: &Target, now: i64) -> Vec<Outcome> {
    let path = format!("/cdnctl-check-{now}-no-such-file.txt");
    let url = format!("https://{}{path}", target.host);
    let outcome = match http.request(true, &target.host, "GET", &path, &[]).await {
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

/// A font and a module script fetched from another origin, and a preflight.
async fn cors(http: &Http, target: &Target) -> Vec<Outcome> {
    let origin = target.cors_origin.as_str();
    let pick = |exts: &[&str]| {
        target.samples.iter().find(|s| {
            let ext = s.key.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
            exts.contains(&ext.as_str())
        })
    };
    let font = pick(&["woff2", "woff", "ttf", "otf", "eot"]);
    let script = pick(&["mjs", "js"]);
    let mut probes: Vec<Pin<Box<dyn Future<Output = Outcome> + Send + '_>>> = Vec::new();
    for (what, sample) in [("font", font), ("module script", script)] {
        if let Some(sample) = sample {
            probes.push(Box::pin(cross_origin(http, target, sample, what, origin)));
        }
    }
    if let Some(sample) = font.or(script).or(target.samples.first()) {
        probes.push(Box::pin(preflight(http, target, sample, origin)));
    }
    join_all(probes).await
}

fn no_cors(target: &Target, origin: &str) -> String {
    match &target.headers_policy_id {
        None => format!(
            "distribution {} has no response headers policy: `cdnctl up` adds one with CORS",
            target.distribution_id
        ),
        Some(id) => format!(
            "the response headers policy {id} does not allow {origin}: list it in {CorsOrigins} and run `cdnctl up`"
        ),
    }
}

async fn cross_origin(http: &Http, target: &Target, sample: &Sample, what: &str, origin: &str) -> Outcome {
    let path = format!("/{}", encode(&sample.key));
    let url = format!("https://{}{path}", target.host);
    match http
        .request(true, &target.host, "GET", &path, &[("origin", origin)])
        .await
    {
        Ok(a) if a.status == 200 => match a.header("access-control-allow-origin") {
            Some(v) if v == "*" || v == origin => Outcome::pass(
                "cors",
                &url,
                format!("a {what} from {origin}: Access-Control-Allow-Origin {v}"),
            ),
            other => Outcome::fail(
                "cors",
                &url,
                format!(
                    "a {what} requested from {origin} gets Access-Control-Allow-Origin {}: browsers refuse it; {}",
                    other.unwrap_or("none"),
                    no_cors(target, origin)
                ),
            ),
        },
        Ok(a) => Outcome::fail("cors", &url, refused(target, &path, &a)),
        Err(f) => Outcome::fail("cors", &url, unreachable(target, &url, &f)),
    }
}

async fn preflight(http: &Http, target: &Target, sample: &Sample, origin: &str) -> Outcome {
    let path = format!("/{}", encode(&sample.key));
    let url = format!("https://{}{path}", target.host);
    let headers = [("origin", origin), ("access-control-request-method", "GET")];
    match http.request(true, &target.host, "OPTIONS", &path, &headers).await {
        Ok(a) if (200..300).contains(&a.status)
            && a.header("access-control-allow-origin").is_some_and(|v| v == "*" || v == origin) =>
        {
            Outcome::pass("preflight", &url, format!("OPTIONS from {origin}: {}", a.status))
        }
        Ok(a) if a.is_cloudfront_page() => Outcome::fail(
            "preflight",
            &url,
            format!(
                "a preflight (OPTIONS) from {origin} is refused by CloudFront ({}): the cache behavior of distribution {} does not allow OPTIONS; `cdnctl up` sets it",
                a.status, target.distribution_id
            ),
        ),
        Ok(a) => Outcome::fail(
            "preflight",
            &url,
            format!(
                "a preflight (OPTIONS) from {origin} answers {} without Access-Control-Allow-Origin: {}",
                a.status,
                no_cors(target, origin)
            ),
        ),
        Err(f) => Outcome::fail("preflight", &url, unreachable(target, &url, &f)),
    }
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
    use super::*;

    #[test]
    fn keys_are_percent_encoded_but_slashes() {
        assert_eq!(encode("static/a b+é.css"), "static/a%20b%2B%C3%A9.css");
    }
}
