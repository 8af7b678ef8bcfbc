//! The probes of the site as a whole: DNS (A and AAAA apart), TLS, the
//! redirect to HTTPS, security headers, HTTP/2 and the minimum TLS version.

use super::*;

pub(super) async fn dns(http: &Http, target: &Target) -> Vec<Outcome> {
    let Some(records) = &target.records else {
        return Vec::new(); // no custom domain: CloudFront's own name, nothing of ours in DNS
    };
    let host = &target.host;
    let edge_name = &target.distribution_domain;
    let mut out = Vec::new();
    let ipv6 = target.config.is_ipv6_enabled().unwrap_or(true);
    let id = &target.distribution_id;
    match records {
        Err(why) => out.push(Outcome::fail("dns", host, format!("Route 53: {why}"))),
        Ok(records) => {
            for (kind, record) in [("A", &records.a), ("AAAA", &records.aaaa)] {
                if kind == "AAAA" && !ipv6 {
                    out.push(match record {
                        Some(_) => Outcome::fail(
                            "dns",
                            format!("{host} AAAA"),
                            format!("Route 53 has an AAAA record for {host} but distribution {id} has IPv6 off (IsIPV6Enabled false): IPv6 visitors get no address; `cdnctl up` turns IPv6 on"),
                        ),
                        None => Outcome::pass("dns", format!("{host} AAAA"), format!("none, as distribution {id} has IPv6 off")),
                    });
                    continue;
                }
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
            for (family, v6) in [("A", false), ("AAAA", true)] {
                out.push(resolution(host, edge_name, family, &pick(&mine, v6), &pick(&theirs, v6)));
            }
            return out;
        }
        (Ok(_), Err(e)) => Outcome::fail("dns", edge_name, format!("{edge_name} does not resolve ({e}): no DNS here?")),
    });
    out
}

pub(super) fn pick(ips: &[std::net::IpAddr], v6: bool) -> Vec<std::net::IpAddr> {
    ips.iter().copied().filter(|ip| ip.is_ipv6() == v6).collect()
}

/// One address family of the name against the distribution's: a broken
/// AAAA is not hidden behind a working A.
pub(super) fn resolution(
    host: &str,
    edge_name: &str,
    family: &str,
    mine: &[std::net::IpAddr],
    theirs: &[std::net::IpAddr],
) -> Outcome {
    let what = format!("{host} {family} resolution");
    match (mine.is_empty(), theirs.is_empty()) {
        (true, true) => Outcome::pass("dns", what, format!("no {family} addresses, nor for {edge_name}")),
        (false, _) if mine.iter().any(|ip| theirs.contains(ip)) => {
            Outcome::pass("dns", what, format!("{family}: {edge_name}'s addresses"))
        }
        (true, false) => Outcome::fail(
            "dns",
            what,
            format!("{host} has no {family} address but {edge_name} has: visitors over {} cannot reach it; `cdnctl up` writes the record", if family == "A" { "IPv4" } else { "IPv6" }),
        ),
        (false, _) => Outcome::fail(
            "dns",
            what,
            format!("{host} resolves ({family}) to {mine:?}, none of {edge_name}'s addresses: a resolver still caches an older answer, or another record wins"),
        ),
    }
}

pub(super) async fn tls(http: &Http, target: &Target, now: i64) -> Vec<Outcome> {
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

pub(super) async fn redirect(http: &Http, target: &Target) -> Vec<Outcome> {
    let host = &target.host;
    // A file that exists, so that a missing redirect shows as the file served.
    let path = target
        .samples
        .first()
        .map(Sample::url_path)
        .unwrap_or_else(|| "/".into());
    let url = format!("http://{host}{path}");
    let outcome = match http.request(false, host, "GET", &path, &[]).await {
        Ok(a) if matches!(a.status, 301 | 302 | 307 | 308)
            && a.header("location") == Some(format!("https://{host}{path}").as_str()) =>
        {
            Outcome::pass("redirect", &url, format!("{} to https", a.status))
        }
        Ok(a) if a.is_cloudfront_page() => Outcome::fail("redirect", &url, cloudfront_page(target, &a)),
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

/// The security headers (HSTS among them) the stack's response headers
/// policy adds, on a page of the site.
pub(super) async fn security(http: &Http, target: &Target) -> Vec<Outcome> {
    if target.security_headers.is_empty() {
        return Vec::new();
    }
    let path = match (&target.default_root_object, target.samples.first()) {
        (Some(_), _) => "/".to_string(),
        (None, Some(s)) => s.url_path(),
        (None, None) => return Vec::new(),
    };
    let url = format!("https://{}{path}", target.host);
    let a = match http.request(true, &target.host, "GET", &path, &[]).await {
        Ok(a) => a,
        Err(f) => return vec![Outcome::fail("security", &url, unreachable(target, &url, &f))],
    };
    let wrong: Vec<String> = target
        .security_headers
        .iter()
        .filter(|(name, value)| a.header(name) != Some(value.as_str()))
        .map(|(name, value)| format!("{name}: {} (wanted {value})", a.header(name).unwrap_or("none")))
        .collect();
    let policy = target.headers_policy_id.as_deref().unwrap_or("none");
    vec![if wrong.is_empty() {
        let names: Vec<&str> = target.security_headers.iter().map(|(n, _)| n.as_str()).collect();
        Outcome::pass("security", &url, names.join(", "))
    } else {
        Outcome::fail(
            "security",
            &url,
            format!(
                "{}: the response headers policy of distribution {} ({policy}) does not add them; `cdnctl up` sets it",
                wrong.join("; "),
                target.distribution_id
            ),
        )
    }]
}

/// HTTP/2 offered in ALPN, and TLS older than 1.2 refused on the custom
/// domain (MinimumProtocolVersion, and a TLS 1.1 hello).
pub(super) async fn protocols(http: &Http, target: &Target) -> Vec<Outcome> {
    let host = &target.host;
    let config = &target.config;
    let mut out = Vec::new();
    let wanted = config
        .http_version()
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    let id = &target.distribution_id;
    out.push(match http.alpn(host).await {
        Ok((Some(p), version)) if p == "h2" => {
            Outcome::pass("http2", host, format!("ALPN h2 ({version}); HttpVersion {wanted}"))
        }
        Ok((p, _)) if !wanted.contains("http2") => Outcome::fail(
            "http2",
            host,
            format!(
                "distribution {id} has HttpVersion {wanted}: browsers get HTTP/1.1 ({}); `cdnctl up` sets http2and3",
                p.unwrap_or_else(|| "no ALPN".into())
            ),
        ),
        Ok((p, _)) => Outcome::fail(
            "http2",
            host,
            format!(
                "HttpVersion is {wanted} but the edge does not offer h2 in ALPN ({}): something between here and CloudFront answers TLS",
                p.unwrap_or_else(|| "no ALPN".into())
            ),
        ),
        Err(f) => Outcome::fail("http2", host, unreachable(target, &format!("https://{host}/"), &f)),
    });
    if target.records.is_none() {
        return out; // CloudFront's own name: its TLS policy is CloudFront's, not the distribution's
    }
    let minimum = config
        .viewer_certificate()
        .and_then(|v| v.minimum_protocol_version())
        .map(|v| v.as_str().to_string())
        .unwrap_or_default();
    out.push(if !MODERN_TLS.contains(&minimum.as_str()) {
        Outcome::fail(
            "tls",
            format!("{host} minimum version"),
            format!(
                "distribution {id} has MinimumProtocolVersion {minimum}: {host} accepts TLS older than 1.2; `cdnctl up` sets TLSv1.2_2021"
            ),
        )
    } else {
        match crate::check::tls::accepts_tls11(http, host).await {
            Ok(false) => Outcome::pass(
                "tls",
                format!("{host} minimum version"),
                format!("{minimum}: a TLS 1.1 hello is refused"),
            ),
            Ok(true) => Outcome::fail(
                "tls",
                format!("{host} minimum version"),
                format!("{host} accepts a TLS 1.1 hello although distribution {id} has {minimum}: something between here and CloudFront answers TLS"),
            ),
            Err(f) => Outcome::fail(
                "tls",
                format!("{host} minimum version"),
                unreachable(target, &format!("https://{host}/"), &f),
            ),
        }
    });
    out
}
