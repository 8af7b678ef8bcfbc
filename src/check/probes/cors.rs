//! The CORS probes: the stack's response headers policy on the default
//! behavior, a cross-origin font and module script from an origin no earlier
//! run sent, and a preflight.

use super::*;
use crate::settings::Setting::CorsOrigins;

/// A font and a module script fetched from another origin, and a preflight.
pub(super) async fn cors(http: &Http, target: &Target) -> Vec<Outcome> {
    let origin = target.cors_origin.as_str();
    let pick = |exts: &[&str]| {
        target.samples.iter().find(|s| {
            let ext = s.path.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
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
    let mut out = vec![cors_policy(target)];
    out.extend(join_all(probes).await);
    out
}

/// From the configuration: the default behavior carries the stack's
/// response headers policy. Without it, S3's own CORS answer, cached at the
/// edge for whichever origin asked first, can pass the probes.
pub(super) fn cors_policy(target: &Target) -> Outcome {
    let what = format!("distribution {}", target.distribution_id);
    let attached = target.headers_policy_id.as_deref();
    match (attached, target.wanted_headers_policy.as_deref()) {
        (Some(a), Some(w)) if a == w => Outcome::pass("cors", what, format!("the stack's response headers policy {a} is on the default behavior")),
        (None, _) => Outcome::fail(
            "cors",
            what,
            format!(
                "distribution {} has no response headers policy: `cdnctl up` adds one with CORS (without it, CORS answers depend on which origin filled the edge cache)",
                target.distribution_id
            ),
        ),
        (Some(a), Some(w)) => Outcome::fail(
            "cors",
            what,
            format!("the default behavior has the response headers policy {a}, not the stack's {w}: `cdnctl up` sets it"),
        ),
        (Some(a), None) => Outcome::fail(
            "cors",
            what,
            format!("the default behavior has the response headers policy {a}, and the stack's own does not exist: `cdnctl up` creates and sets it"),
        ),
    }
}

pub(super) fn no_cors(target: &Target, origin: &str) -> String {
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

pub(super) async fn cross_origin(http: &Http, target: &Target, sample: &Sample, what: &str, origin: &str) -> Outcome {
    let path = sample.url_path();
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

pub(super) async fn preflight(http: &Http, target: &Target, sample: &Sample, origin: &str) -> Outcome {
    let path = sample.url_path();
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
