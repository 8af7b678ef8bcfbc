//! `cdnctl check` through the emulator's CloudFront edge: a healthy site
//! passes every probe without a write, and each failure `check` diagnoses is
//! provoked here (the grant removed, a stale edge copy, no CORS policy, a
//! wrong Content-Type, no redirect, a certificate not covering the name, an
//! expiring one, a missing DNS record, a missing root object).

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::harness::{block_on, clients, collectstatic_site, emulator, to_edge, trust_emulator, Run, Stack};
use crate::inspect::{change_record, distribution_of, edit_distribution, invalidate};

/// A small site: a Django manifest and its hashed files, a font, a module
/// script, a page.
fn site(stack: &Stack) -> PathBuf {
    let dir = stack.dir().join("site");
    let _ = std::fs::remove_dir_all(&dir);
    collectstatic_site(dir, &[("index.html", b"<h1>v1</h1>")])
}

/// `up`, then `sync` of the small site; error responses are not kept at the
/// edge, so a fix shows at once.
fn deployed(stack: &Stack) {
    stack.configure(json!({"edge_error_ttl": 0}));
    stack.run(&["up"]).ok();
    let dir = site(stack);
    stack.run(&["sync", dir.to_str().unwrap()]).ok();
}

/// `cdnctl check --json` through the emulator's edge, trusting its CA; it
/// must write nothing.
fn check(stack: &Stack) -> Run {
    check_with(stack, &[to_edge(), trust_emulator()].concat())
}

/// `cdnctl check --json` with `flags`; it must write nothing.
fn check_with(stack: &Stack, flags: &[String]) -> Run {
    let mut args = vec!["check", "--json"];
    args.extend(flags.iter().map(String::as_str));
    stack.run_without_writes(&args)
}

/// The failed probes: (probe, message).
fn failures(run: &Run) -> Vec<(String, String)> {
    run.json()["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ok"] == false)
        .map(|p| {
            (
                p["probe"].as_str().unwrap().to_string(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn probes(run: &Run) -> Vec<Value> {
    run.json()["probes"].as_array().unwrap().clone()
}

#[track_caller]
fn failed_with(run: &Run, probe: &str, text: &str) {
    assert_eq!(run.code, 6, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let found = failures(run);
    assert!(
        found.iter().any(|(p, m)| p == probe && m.contains(text)),
        "no failed {probe} probe saying {text:?}: {found:#?}"
    );
    // Each failure is also one line on stderr.
    assert!(
        run.stderr.lines().any(|l| l.starts_with("✗") && l.contains(text)),
        "{}",
        run.stderr
    );
}

fn distribution_id(stack: &Stack) -> String {
    block_on(distribution_of(&clients(stack), &stack.bucket)).unwrap().id
}

#[test]
fn a_healthy_site_passes_every_probe_and_writes_nothing() {
    let stack = Stack::new("chkok");
    deployed(&stack);
    let run = check(&stack).ok();
    let report = run.json();
    assert_eq!(report["ok"], true, "{report:#}");
    let seen: Vec<(String, String)> = probes(&run)
        .iter()
        .map(|p| {
            (
                p["probe"].as_str().unwrap().into(),
                p["target"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |probe: &str, target_end: &str| seen.iter().any(|(p, t)| p == probe && t.ends_with(target_end));
    assert!(has("tls", ".cloudfront.net"), "{seen:?}");
    assert!(
        seen.iter().any(|(p, t)| p == "redirect" && t.starts_with("http://")),
        "{seen:?}"
    );
    for key in [
        "/staticfiles.json",
        "/css/site.5af66c1b1797.css",
        "/js/app.0123456789ab.js",
        "/fonts/f.woff2",
        "/robots.txt",
    ] {
        assert!(has("object", key), "{key} not probed: {seen:?}");
    }
    assert!(has("cors", "/fonts/f.woff2"), "{seen:?}");
    assert!(has("cors", "/js/app.0123456789ab.js"), "{seen:?}");
    assert!(seen.iter().any(|(p, _)| p == "preflight"), "{seen:?}");
    let missing = probes(&run).into_iter().find(|p| p["probe"] == "missing").unwrap();
    assert!(
        missing["message"].as_str().unwrap().contains("403 AccessDenied"),
        "{missing}"
    );
    assert!(run.stderr.contains("probes passed"), "{}", run.stderr);
}

#[test]
fn access_denied_when_the_bucket_policy_lacks_cloudfronts_grant() {
    let mut stack = Stack::new("chkgrant");
    deployed(&stack);
    let c = clients(&stack);
    // Keep every statement but CloudFront's grant.
    let policy = block_on(c.s3.get_bucket_policy().bucket(&stack.bucket).send())
        .unwrap()
        .policy
        .unwrap();
    let mut doc: Value = serde_json::from_str(&policy).unwrap();
    let statements = doc["Statement"].as_array_mut().unwrap();
    let before = statements.len();
    statements.retain(|s| !(s["Principal"]["Service"] == "cloudfront.amazonaws.com" && s["Effect"] == "Allow"));
    assert_eq!(statements.len(), before - 1, "{policy}");
    block_on(
        c.s3.put_bucket_policy()
            .bucket(&stack.bucket)
            .policy(doc.to_string())
            .send(),
    )
    .unwrap();
    let summary = stack.dir().join("summary.md");
    stack.set("GITHUB_STEP_SUMMARY", summary.to_str().unwrap());
    let run = check(&stack);
    let id = distribution_id(&stack);
    failed_with(
        &run,
        "object",
        &format!("lacks CloudFront's grant for distribution {id}"),
    );
    failed_with(&run, "object", "`cdnctl up` restores it");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("probes failed (exit code 6)"), "{md}");
    assert!(md.contains("lacks CloudFront's grant"), "{md}");
    // As it says: `up` restores the grant, and the check passes.
    stack.run(&["up"]).ok();
    check(&stack).ok();
}

#[test]
fn a_stale_edge_copy_names_the_invalidation_that_fixes_it() {
    let stack = Stack::new("chkstale");
    deployed(&stack);
    check(&stack).ok(); // the edge now holds every probed object
    let c = clients(&stack);
    // An upload without an invalidation.
    block_on(
        c.s3.put_object()
            .bucket(&stack.bucket)
            .key("robots.txt")
            .body(b"User-agent: *\nDisallow: /".to_vec().into())
            .content_type("text/plain; charset=utf-8")
            .cache_control("public, max-age=60, must-revalidate")
            .send(),
    )
    .unwrap();
    let run = check(&stack);
    let id = distribution_id(&stack);
    failed_with(&run, "object", "/robots.txt: the edge serves a stale copy");
    failed_with(
        &run,
        "object",
        &format!("aws cloudfront create-invalidation --distribution-id {id} --paths '/robots.txt'"),
    );
    // The invalidation it names fixes it.
    block_on(invalidate(&c, &id, "check-test", vec!["/robots.txt".into()]));
    check(&stack).ok();
}

#[test]
fn a_font_without_cors_and_a_refused_preflight() {
    let stack = Stack::new("chkcors");
    deployed(&stack);
    let c = clients(&stack);
    block_on(edit_distribution(&c, &stack.bucket, |config| {
        let behavior = config.default_cache_behavior.as_mut().unwrap();
        behavior.response_headers_policy_id = None;
    }));
    // Nor S3's CORS answer (which, without a policy, depends on the Origin of
    // whichever request filled the edge cache).
    block_on(c.s3.delete_bucket_cors().bucket(&stack.bucket).send()).unwrap();
    let run = check(&stack);
    failed_with(
        &run,
        "cors",
        "a font requested from https://example.com gets Access-Control-Allow-Origin none",
    );
    failed_with(
        &run,
        "cors",
        "has no response headers policy: `cdnctl up` adds one with CORS",
    );
    failed_with(&run, "preflight", "without Access-Control-Allow-Origin");
    stack.run(&["up"]).ok();
    check(&stack).ok();
}

#[test]
fn a_wrong_content_type_is_reported_with_the_fix() {
    let stack = Stack::new("chktype");
    deployed(&stack);
    let c = clients(&stack);
    // Sorted first among the .css files, so it is the one of its kind probed.
    block_on(
        c.s3.put_object()
            .bucket(&stack.bucket)
            .key("css/a.css")
            .body(b"body{}".to_vec().into())
            .content_type("text/plain")
            .send(),
    )
    .unwrap();
    let run = check(&stack);
    failed_with(&run, "object", "/css/a.css is served as \"text/plain\", not text/css");
    failed_with(&run, "object", "`cdnctl sync DIR` publishes it with the right type");
}

#[test]
fn http_not_redirected_and_a_missing_root_object() {
    let stack = Stack::new("chkredirect");
    deployed(&stack);
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        let behavior = config.default_cache_behavior.as_mut().unwrap();
        behavior.viewer_protocol_policy = aws_sdk_cloudfront::types::ViewerProtocolPolicy::AllowAll;
        config.default_root_object = Some("home.html".into());
    }));
    let run = check(&stack);
    failed_with(&run, "redirect", "http is not redirected to https (200 )");
    failed_with(&run, "redirect", "should be redirect-to-https; `cdnctl up` sets it");
    failed_with(&run, "root", "the DefaultRootObject home.html is not in the bucket");
    // With the root object published, `/` serves it.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config.default_root_object = Some("index.html".into());
    }));
    let run = check(&stack);
    assert!(
        probes(&run).iter().any(|p| p["probe"] == "root" && p["ok"] == true),
        "{:#?}",
        probes(&run)
    );
}

#[test]
fn a_custom_domain_its_records_and_its_certificate() {
    let (stack, zone_id, domain) = Stack::new("chkdomain").with_domain();
    deployed(&stack);
    let run = check(&stack).ok();
    let seen = probes(&run);
    assert!(
        seen.iter()
            .any(|p| p["probe"] == "tls" && p["target"] == domain.as_str()),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|p| p["probe"] == "dns" && p["target"] == format!("{domain} A")),
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .any(|p| p["probe"] == "dns" && p["target"] == format!("{domain} AAAA")),
        "{seen:#?}"
    );
    // --connect-to: DNS from Route 53's records only, no resolution of the name.
    assert!(
        !seen
            .iter()
            .any(|p| p["probe"] == "dns" && p["target"] == domain.as_str()),
        "{seen:#?}"
    );

    // A certificate about to expire.
    stack.configure(json!({"edge_certificate_days": 5}));
    let run = check(&stack);
    failed_with(&run, "tls", &format!("the certificate for {domain} expires in "));
    stack.configure(json!({"edge_certificate_days": 90}));

    // The AAAA record gone.
    use aws_sdk_route53::types::{AliasTarget, ChangeAction, ResourceRecordSet, RrType};
    let c = clients(&stack);
    let records = block_on(
        c.route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .start_record_name(format!("{domain}."))
            .start_record_type(RrType::Aaaa)
            .max_items(1)
            .send(),
    )
    .unwrap();
    let aaaa = records.resource_record_sets()[0].clone();
    assert_eq!(aaaa.r#type(), &RrType::Aaaa);
    block_on(change_record(&c, &zone_id, ChangeAction::Delete, aaaa));
    let run = check(&stack);
    failed_with(&run, "dns", &format!("Route 53: no AAAA record for {domain}"));
    stack.run(&["up"]).ok();

    // The A record pointing at another distribution.
    let elsewhere = ResourceRecordSet::builder()
        .name(format!("{domain}."))
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .dns_name("d2elsewhere0000.cloudfront.net.")
                .evaluate_target_health(false)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    block_on(change_record(&c, &zone_id, ChangeAction::Upsert, elsewhere));
    let run = check(&stack);
    failed_with(
        &run,
        "dns",
        &format!("the A record of {domain} points at d2elsewhere0000.cloudfront.net"),
    );
    stack.run(&["up", "--adopt"]).ok();
    check(&stack).ok();

    // The alias gone from the distribution: CloudFront answers the name with
    // its *.cloudfront.net certificate, which does not cover it.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config.aliases = Some(
            aws_sdk_cloudfront::types::Aliases::builder()
                .quantity(0)
                .build()
                .unwrap(),
        );
    }));
    let run = check(&stack);
    failed_with(
        &run,
        "tls",
        &format!("the certificate CloudFront serves for {domain} does not cover it"),
    );
}

#[test]
fn a_disabled_distribution_and_a_preflight_cloudfront_refuses() {
    let stack = Stack::new("chkdisabled");
    deployed(&stack);
    // OPTIONS no longer allowed: CloudFront itself refuses the preflight.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        use aws_sdk_cloudfront::types::{AllowedMethods, CachedMethods, Method};
        let behavior = config.default_cache_behavior.as_mut().unwrap();
        let get_head = || vec![Method::Get, Method::Head];
        behavior.allowed_methods = Some(
            AllowedMethods::builder()
                .quantity(2)
                .set_items(Some(get_head()))
                .cached_methods(
                    CachedMethods::builder()
                        .quantity(2)
                        .set_items(Some(get_head()))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
    }));
    let run = check(&stack);
    failed_with(&run, "preflight", "does not allow OPTIONS; `cdnctl up` sets it");
    // Disabled: CloudFront's own 403 page for every request.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config.enabled = false;
    }));
    let run = check(&stack);
    failed_with(&run, "object", "CloudFront's own 403 page");
    failed_with(&run, "object", "is disabled or does not list");
}

#[test]
fn an_origin_the_cors_policy_does_not_list() {
    let mut stack = Stack::new("chkorigin").with("CDN_CORS_ORIGINS", "https://a.example");
    deployed(&stack);
    check(&stack).ok();
    // The setting changed, `up` not run yet.
    stack.set("CDN_CORS_ORIGINS", "https://b.example");
    let run = check(&stack);
    failed_with(
        &run,
        "cors",
        "does not allow https://b.example: list it in CDN_CORS_ORIGINS and run `cdnctl up`",
    );
    stack.run(&["up"]).ok();
    check(&stack).ok();
}

#[test]
fn headers_changed_in_the_bucket_but_not_at_the_edge() {
    let stack = Stack::new("chkheaders");
    deployed(&stack);
    check(&stack).ok();
    let c = clients(&stack);
    // New headers in place (as `sync` corrects them), the edge not invalidated.
    let key = "robots.txt";
    block_on(
        c.s3.copy_object()
            .bucket(&stack.bucket)
            .key(key)
            .copy_source(format!("{}/{key}", stack.bucket))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type("text/plain; charset=utf-8")
            .cache_control("public, max-age=300")
            .send(),
    )
    .unwrap();
    let run = check(&stack);
    failed_with(&run, "object", "/robots.txt: the edge serves older headers");
    failed_with(&run, "object", "--paths '/robots.txt'");
}

#[test]
fn an_untrusted_or_expired_certificate() {
    let (stack, _zone_id, domain) = Stack::new("chkexpired").with_domain();
    deployed(&stack);
    // Without --ca-bundle, the emulator's CA is not trusted.
    let run = check_with(&stack, &to_edge());
    failed_with(
        &run,
        "tls",
        &format!("the certificate for {domain} is not signed by a trusted authority"),
    );
    // ACM says EXPIRED: the edge serves an expired certificate.
    let d = block_on(distribution_of(&clients(&stack), &stack.bucket)).unwrap();
    let arn = d.config.viewer_certificate.unwrap().acm_certificate_arn.unwrap();
    emulator().control(
        "POST",
        "/certificate-status",
        &json!({"arn": arn, "status": "EXPIRED"}).to_string(),
    );
    let run = check(&stack);
    failed_with(&run, "tls", &format!("the certificate for {domain} has expired"));
}

#[test]
fn without_connect_to_the_name_must_resolve() {
    let (stack, _zone_id, domain) = Stack::new("chkresolve").with_domain();
    deployed(&stack);
    // The emulated zone is not delegated anywhere: the name does not resolve,
    // and nothing can be fetched.
    let run = check_with(&stack, &trust_emulator());
    failed_with(&run, "dns", &format!("{domain} does not resolve"));
    failed_with(&run, "tls", "cannot connect");
    // Route 53's records themselves are right.
    let records = probes(&run);
    assert!(
        records
            .iter()
            .any(|p| p["probe"] == "dns" && p["target"] == format!("{domain} A") && p["ok"] == true),
        "{records:#?}"
    );
}
