//! `cdnctl check` through the emulator's CloudFront edge: a healthy site
//! passes every probe without a write, and each failure `check` diagnoses is
//! provoked here (the grant removed, a stale edge copy, no CORS policy, a
//! wrong Content-Type, no redirect, a certificate not covering the name, an
//! expiring one, a missing DNS record, a missing root object, a deployment
//! or an invalidation still in progress, a large file, a web ACL, a geo
//! restriction, IPv6 off, missing security headers, HTTP/1.1 only, an old
//! TLS minimum, a key with `+`, a directory URL).

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

/// `up`, then `sync` of the small site. (The edge caches S3's 403 no more
/// than CloudFront does: not at all without max-age, so a fix shows at once.)
fn deployed(stack: &Stack) {
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
    // An origin no earlier run sent (CDN_CORS_ORIGINS is `*`).
    failed_with(&run, "cors", "a font requested from https://cdnctl-check-");
    failed_with(&run, "cors", ".example.com gets Access-Control-Allow-Origin none");
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
    // The custom domain refuses a TLS 1.1 hello (a real handshake with the
    // edge), and offers HTTP/2.
    assert!(
        seen.iter().any(|p| p["probe"] == "tls"
            && p["target"] == format!("{domain} minimum version")
            && p["ok"] == true
            && p["message"]
                .as_str()
                .unwrap()
                .contains("TLSv1.2_2021: a TLS 1.1 hello is refused")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|p| p["probe"] == "http2" && p["ok"] == true),
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

    // IPv6 turned off with the AAAA record still there, and an old TLS minimum.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config.is_ipv6_enabled = Some(false);
        let viewer = config.viewer_certificate.as_mut().unwrap();
        viewer.minimum_protocol_version = Some(aws_sdk_cloudfront::types::MinimumProtocolVersion::TlSv12016);
    }));
    let run = check(&stack);
    failed_with(
        &run,
        "dns",
        &format!("Route 53 has an AAAA record for {domain} but distribution"),
    );
    failed_with(&run, "dns", "has IPv6 off (IsIPV6Enabled false)");
    failed_with(
        &run,
        "tls",
        &format!("has MinimumProtocolVersion TLSv1_2016: {domain} accepts TLS older than 1.2"),
    );
    assert!(
        probes(&run)
            .iter()
            .any(|p| p["probe"] == "dns" && p["target"] == format!("{domain} A") && p["ok"] == true),
        "{:#?}",
        probes(&run)
    );
    stack.run(&["up"]).ok();
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
    // Over http, the edge answers the name with its own 403 page.
    failed_with(
        &run,
        "redirect",
        &format!("does not list {domain} as an alias; `cdnctl up` adds it"),
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
    failed_with(&run, "object", "is disabled; `cdnctl up` enables it");
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

/// The probe of `probe` whose target ends with `end`.
fn probe_of(run: &Run, probe: &str, end: &str) -> Value {
    probes(run)
        .into_iter()
        .find(|p| p["probe"] == probe && p["target"].as_str().unwrap().ends_with(end))
        .unwrap_or_else(|| panic!("no {probe} probe of {end}: {:#?}", probes(run)))
}

#[test]
fn a_deployment_in_progress_is_not_called_broken_and_wait_waits_for_it() {
    let stack = Stack::new("chkdeploying");
    deployed(&stack);
    let c = clients(&stack);
    // Broken by hand, and live at once.
    block_on(edit_distribution(&c, &stack.bucket, |config| {
        let behavior = config.default_cache_behavior.as_mut().unwrap();
        behavior.viewer_protocol_policy = aws_sdk_cloudfront::types::ViewerProtocolPolicy::AllowAll;
    }));
    failed_with(&check(&stack), "redirect", "`cdnctl up` sets it");
    // `up --no-wait` repairs it; the edges keep the previous config until Deployed.
    stack.configure(json!({"deploy_seconds": 600}));
    stack.run(&["up", "--no-wait"]).ok();
    let run = check(&stack);
    let id = distribution_id(&stack);
    assert_eq!(run.code, 4, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let redirect = probes(&run).into_iter().find(|p| p["probe"] == "redirect").unwrap();
    let message = redirect["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("distribution {id} is deploying (since ")),
        "{redirect:#}"
    );
    assert!(
        message.contains("`cdnctl check --wait` waits until it is Deployed"),
        "{redirect:#}"
    );
    assert!(
        redirect["pending"].as_str().unwrap().contains("deploying"),
        "{redirect:#}"
    );
    assert_eq!(run.json()["settling"], true);
    assert!(
        run.stderr
            .contains("while changes are still reaching the edges (exit code 4)"),
        "{}",
        run.stderr
    );

    // --wait: waits for Deployed, then probes what visitors will get. The
    // deployment ends when the test says so: once check has polled it.
    let gets = |stack: &Stack| {
        stack
            .requests()
            .iter()
            .filter(|r| r.op == format!("GET /2020-05-31/distribution/{id}"))
            .count()
    };
    let before = gets(&stack);
    let mut args = vec!["check", "--json", "--wait"];
    let flags = [to_edge(), trust_emulator()].concat();
    args.extend(flags.iter().map(String::as_str));
    let child = stack
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // GetDistribution to observe it and for its LastModifiedTime, then polls.
    while gets(&stack) < before + 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "check --wait never polled the distribution"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Another update, by a key without deploy_seconds: Deployed at once.
    block_on(edit_distribution(&c, &stack.bucket, |_| {}));
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
    .ok();
    assert!(
        run.stderr.contains(&format!("distribution {id}: Deployed")),
        "{}",
        run.stderr
    );
    assert_eq!(probe_of(&run, "redirect", "")["ok"], true, "{}", run.stdout);
}

#[test]
fn an_invalidation_in_progress_is_told_apart_from_a_stale_copy() {
    let stack = Stack::new("chkinvalidating");
    deployed(&stack);
    check(&stack).ok(); // the edge holds every probed object
                        // The invalidation below is made with the inspecting clients' key.
    emulator().control(
        "POST",
        "/configure",
        &json!({"key": format!("INSPECT{}", stack.key), "invalidation_seconds": 600}).to_string(),
    );
    let c = clients(&stack);
    let put = |key: &str, body: &[u8], ctype: &str| {
        block_on(
            c.s3.put_object()
                .bucket(&stack.bucket)
                .key(key)
                .body(body.to_vec().into())
                .content_type(ctype)
                .cache_control("public, max-age=60, must-revalidate")
                .send(),
        )
        .unwrap();
    };
    put("robots.txt", b"User-agent: *\nDisallow: /", "text/plain; charset=utf-8");
    let id = distribution_id(&stack);
    block_on(invalidate(&c, &id, "check-inprogress", vec!["/robots.txt".into()]));
    let run = check(&stack);
    assert_eq!(run.code, 4, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let robots = probe_of(&run, "object", "/robots.txt");
    assert!(
        robots["message"].as_str().unwrap().starts_with("invalidation ")
            && robots["message"]
                .as_str()
                .unwrap()
                .contains("covers it: the edges may serve the old copy until it completes"),
        "{robots:#}"
    );
    // A file no invalidation covers is stale for good: that is broken.
    put("fonts/f.woff2", b"wOF2 new", "font/woff2");
    let run = check(&stack);
    failed_with(&run, "object", "/fonts/f.woff2: the edge serves a stale copy");
    assert!(probe_of(&run, "object", "/robots.txt")["pending"].is_string());
}

#[test]
fn a_large_file_is_probed_by_its_first_byte() {
    let stack = Stack::new("chklarge");
    deployed(&stack);
    let c = clients(&stack);
    block_on(
        c.s3.put_object()
            .bucket(&stack.bucket)
            .key("media/film.mp4")
            .body(vec![7u8; 3 << 20].into())
            .content_type("video/mp4")
            .send(),
    )
    .unwrap();
    let run = check(&stack).ok();
    let film = probe_of(&run, "object", "/media/film.mp4");
    assert!(
        film["message"].as_str().unwrap().contains(": 206 its first byte"),
        "{film:#}"
    );
    // Small files are fetched whole, as browsers ask (br, gzip) and uncompressed.
    let css = probe_of(&run, "object", "/css/site.5af66c1b1797.css");
    assert!(
        css["message"].as_str().unwrap().contains("as browsers ask (br, gzip)")
            && css["message"].as_str().unwrap().contains("uncompressed too"),
        "{css:#}"
    );
}

#[test]
fn cors_needs_the_stacks_headers_policy_even_when_s3_answers_cors() {
    let stack = Stack::new("chkcorspolicy");
    deployed(&stack);
    // Without the policy, S3's own CORS rule (`*`) still answers the
    // forwarded Origin: the requests pass, the configuration does not.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config
            .default_cache_behavior
            .as_mut()
            .unwrap()
            .response_headers_policy_id = None;
    }));
    let run = check(&stack);
    failed_with(
        &run,
        "cors",
        "has no response headers policy: `cdnctl up` adds one with CORS",
    );
    let font = probe_of(&run, "cors", "/fonts/f.woff2");
    assert_eq!(font["ok"], true, "{font:#}");
    assert!(
        font["message"].as_str().unwrap().contains("from https://cdnctl-check-"),
        "{font:#}"
    );
    stack.run(&["up"]).ok();
    check(&stack).ok();
}

#[test]
fn a_web_acl_and_a_geo_restriction_are_named_as_such() {
    let stack = Stack::new("chkwaf");
    deployed(&stack);
    let acl = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/corp/0d4e4b3e-0000-4000-8000-000000000000";
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config.web_acl_id = Some(acl.into());
    }));
    stack.configure(json!({"edge_waf_blocks": ["cdnctl-check/"]}));
    let run = check(&stack);
    let id = distribution_id(&stack);
    failed_with(
        &run,
        "object",
        &format!("the web ACL {acl} of distribution {id} blocks this request"),
    );
    failed_with(&run, "object", "check's User-Agent is cdnctl-check/");
    failed_with(&run, "object", "allow it in the web ACL");
    stack.configure(json!({"edge_waf_blocks": []}));
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        use aws_sdk_cloudfront::types::{GeoRestriction, GeoRestrictionType, Restrictions};
        config.restrictions = Some(
            Restrictions::builder()
                .geo_restriction(
                    GeoRestriction::builder()
                        .restriction_type(GeoRestrictionType::Whitelist)
                        .quantity(1)
                        .items("US")
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }));
    let run = check(&stack);
    failed_with(
        &run,
        "object",
        &format!("distribution {id} has a geo restriction (whitelist US)"),
    );
}

#[test]
fn security_headers_and_http2_are_probed() {
    let stack = Stack::new("chksecurity");
    deployed(&stack);
    let run = check(&stack).ok();
    let security = probe_of(&run, "security", "");
    assert!(
        security["message"]
            .as_str()
            .unwrap()
            .contains("strict-transport-security"),
        "{security:#}"
    );
    // CORS alone (no security headers), and HTTP/1.1 only.
    block_on(edit_distribution(&clients(&stack), &stack.bucket, |config| {
        config
            .default_cache_behavior
            .as_mut()
            .unwrap()
            .response_headers_policy_id = Some("5cc3b908-e619-4b99-88e5-2cf7f45965bd".into());
        config.http_version = Some(aws_sdk_cloudfront::types::HttpVersion::Http11);
    }));
    let run = check(&stack);
    failed_with(
        &run,
        "security",
        "strict-transport-security: none (wanted max-age=31536000)",
    );
    failed_with(&run, "http2", "has HttpVersion http1.1: browsers get HTTP/1.1");
    stack.run(&["up"]).ok();
    check(&stack).ok();
}

#[test]
fn a_key_with_plus_and_a_directory_url_are_requested_as_pages_link_them() {
    let stack = Stack::new("chkplus");
    deployed(&stack);
    let c = clients(&stack);
    for (key, ctype) in [("css/a+b.css", "text/css"), ("docs/index.html", "text/html")] {
        block_on(
            c.s3.put_object()
                .bucket(&stack.bucket)
                .key(key)
                .body(b"x".to_vec().into())
                .content_type(ctype)
                .send(),
        )
        .unwrap();
    }
    let run = check(&stack);
    failed_with(
        &run,
        "object",
        "a page linking css/a+b.css as written gets 403 (S3 reads `+` in a URL path as a space",
    );
    failed_with(&run, "object", "link it as css/a%2Bb.css");
    let docs = probe_of(&run, "directory", "/docs/");
    assert_eq!(docs["ok"], true);
    assert_eq!(docs["warning"], true);
    assert!(
        docs["message"]
            .as_str()
            .unwrap()
            .contains("/docs/ answers 403, docs/index.html is only served by its full name"),
        "{docs:#}"
    );
    assert!(run
        .stderr
        .lines()
        .any(|l| l.contains("directory") && l.contains("DefaultRootObject applies at the root only")));
}

#[test]
fn sync_warns_of_links_that_visitors_would_find_broken() {
    let stack = Stack::new("chklinks");
    stack.run(&["up"]).ok();
    let dir = stack.dir().join("linked");
    let _ = std::fs::remove_dir_all(&dir);
    crate::harness::write(
        &dir,
        "index.html",
        br#"<link href="css/a+b.css"><a href="docs/">Docs</a>"#,
    );
    crate::harness::write(&dir, "css/a+b.css", b"a{}");
    crate::harness::write(&dir, "docs/index.html", b"<h1>docs</h1>");
    let run = stack.run(&["sync", dir.to_str().unwrap()]).ok();
    assert!(
        run.stderr
            .contains("1 link with `+` to a file with `+` in its name (index.html links css/a+b.css)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 link to a directory whose index.html is published (index.html links docs/)"),
        "{}",
        run.stderr
    );
    // What check then finds through the edge: the same two.
    let run = check(&stack);
    failed_with(&run, "object", "a page linking css/a+b.css as written gets 403");
    assert_eq!(probe_of(&run, "directory", "/docs/")["warning"], true);
}
