//! The site's 404 page (`CDN_NOT_FOUND`), through the emulator's edge: a
//! missing page or script gets the page with status 404 (never a 200), in
//! place and with releases, where the page follows the live release and a
//! rollback; unsetting it removes cdnctl's error responses and no other;
//! a bad value or a DIR without the page is refused before any write.

use std::path::Path;

use aws_sdk_cloudfront::types::{CustomErrorResponse, CustomErrorResponses};
use serde_json::Value;

use crate::harness::{block_on, clients, to_edge, trust_emulator, write, Clients, Stack};
use crate::inspect::distribution_of;
use crate::releases::edge_get;

use crate::release_deploy::run;

/// (code, page, response code, min TTL) of each error response, by code.
fn error_responses(c: &Clients, bucket: &str) -> Vec<(i32, String, String, i64)> {
    let dist = block_on(distribution_of(c, bucket)).expect("the distribution exists");
    let mut out: Vec<_> = dist
        .config
        .custom_error_responses()
        .map(|r| r.items().to_vec())
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            (
                e.error_code(),
                e.response_page_path().unwrap_or_default().to_string(),
                e.response_code().unwrap_or_default().to_string(),
                e.error_caching_min_ttl().unwrap_or(-1),
            )
        })
        .collect();
    out.sort();
    out
}

fn site(dir: &Path, page: Option<&str>) {
    write(dir, "index.html", b"home");
    write(dir, "js/app.0123456789ab.js", b"console.log(1)");
    if let Some(page) = page {
        write(dir, "404.html", page.as_bytes());
    }
}

fn missing_probe(check: &Value) -> Value {
    check["probes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["probe"] == "missing")
        .cloned()
        .unwrap_or_else(|| panic!("no missing probe in {check:#}"))
}

#[test]
fn a_bad_value_is_refused_with_no_write() {
    for bad in ["404.html", "/errors/", "/_cdnctl/404.html", "/404", "/a b.html"] {
        let stack = Stack::new("nfbad").with("CDN_NOT_FOUND", bad);
        let run = stack.run_without_writes(&["up"]);
        assert_ne!(run.code, 0, "{bad}: {}", run.stdout);
        let line = run.stderr.lines().find(|l| l.contains("CDN_NOT_FOUND")).unwrap_or("");
        assert!(line.contains("e.g. /404.html"), "{bad}: {}", run.stderr);
    }
}

#[test]
fn in_place_a_missing_path_gets_the_page_with_404_and_unsetting_removes_it() {
    let mut stack = Stack::new("nfplace").with("CDN_NOT_FOUND", "/404.html");
    let dir = stack.dir().join("site");
    site(&dir, None);
    let d = dir.to_str().unwrap();

    // A DIR without the page: refused before any write, by sync and by deploy.
    stack.run(&["up"]).ok();
    let refused = stack.run_without_writes(&["sync", d]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("CDN_NOT_FOUND: /404.html is not in DIR"),
        "{}",
        refused.stderr
    );
    let refused = stack.run_without_writes(&["deploy", d]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("CDN_NOT_FOUND: /404.html is not in DIR"),
        "{}",
        refused.stderr
    );

    site(&dir, Some("<h1>lost</h1>"));
    run(&stack, &["deploy", d, "--json"]);
    let c = clients(&stack);
    let cdn = block_on(distribution_of(&c, &stack.bucket)).unwrap().domain_name;
    assert_eq!(
        error_responses(&c, &stack.bucket),
        vec![
            (403, "/404.html".into(), "404".into(), 10),
            (404, "/404.html".into(), "404".into(), 10)
        ]
    );
    assert_eq!(edge_get(&cdn, "/nothing.html"), (404, "<h1>lost</h1>".into()));
    assert_eq!(edge_get(&cdn, "/docs/"), (404, "<h1>lost</h1>".into()));
    // A missing script: 404, never a 200 page.
    assert_eq!(edge_get(&cdn, "/js/gone.0123456789ab.js").0, 404);
    assert_eq!(edge_get(&cdn, "/index.html"), (200, "home".into()));
    let check = run(&stack, &["check", "--json"]);
    let probe = missing_probe(&check);
    assert_eq!(probe["ok"], true, "{probe:#}");
    assert!(
        probe["message"]
            .as_str()
            .unwrap()
            .contains("the site's 404 page (/404.html)"),
        "{probe:#}"
    );
    stack.run(&["status"]).ok();

    // A hand-made error response of another code stays through everything.
    let dist = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let got = block_on(c.cloudfront.get_distribution_config().id(&dist.id).send()).unwrap();
    let mut config = got.distribution_config.unwrap();
    let mut items = config
        .custom_error_responses()
        .map(|r| r.items().to_vec())
        .unwrap_or_default();
    items.push(
        CustomErrorResponse::builder()
            .error_code(503)
            .response_page_path("/down.html")
            .response_code("503")
            .build()
            .unwrap(),
    );
    config.custom_error_responses = Some(
        CustomErrorResponses::builder()
            .quantity(items.len() as i32)
            .set_items(Some(items))
            .build()
            .unwrap(),
    );
    block_on(
        c.cloudfront
            .update_distribution()
            .id(&dist.id)
            .if_match(got.e_tag.unwrap())
            .distribution_config(config)
            .send(),
    )
    .unwrap();

    // The page removed from the bucket: check names it.
    block_on(c.s3.delete_object().bucket(&stack.bucket).key("404.html").send()).unwrap();
    let answer = stack.run(
        &[
            &["check", "--json"][..],
            &to_edge().iter().map(String::as_str).collect::<Vec<_>>(),
            &trust_emulator().iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat(),
    );
    assert_ne!(answer.code, 0);
    let probe = missing_probe(&answer.json());
    assert!(
        probe["message"]
            .as_str()
            .unwrap()
            .contains("the 404 page /404.html is not in bucket"),
        "{probe:#}"
    );

    // Unset: status shows the drift, up removes cdnctl's two and keeps the 503.
    stack.unset("CDN_NOT_FOUND");
    let status = stack.run(&["status"]);
    assert_ne!(status.code, 0);
    assert!(status.stdout.contains("404 page"), "{}", status.stdout);
    stack.run(&["up"]).ok();
    assert_eq!(
        error_responses(&c, &stack.bucket),
        vec![(503, "/down.html".into(), "503".into(), -1)]
    );
    let (status, body) = edge_get(&cdn, "/still-nothing.html");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("AccessDenied"), "{body}");
}

#[test]
fn with_releases_the_page_follows_the_live_release_and_a_rollback() {
    let stack = Stack::new("nfrel")
        .with("CDN_RELEASES", "3")
        .with("CDN_NOT_FOUND", "/404.html");
    let cdn = stack.run(&["up", "--json"]).ok().json()["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let c = clients(&stack);
    assert_eq!(
        error_responses(&c, &stack.bucket),
        vec![
            (403, "/_cdnctl/404.html".into(), "404".into(), 10),
            (404, "/_cdnctl/404.html".into(), "404".into(), 10)
        ]
    );
    let (a, b, bb, none) = (
        stack.dir().join("a"),
        stack.dir().join("b"),
        stack.dir().join("bb"),
        stack.dir().join("none"),
    );
    site(&a, Some("lost A"));
    site(&b, Some("lost B"));
    site(&bb, Some("lost B"));
    write(&bb, "extra.txt", b"more");
    site(&none, None);

    let refused = stack.run_without_writes(&["deploy", none.to_str().unwrap()]);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("CDN_NOT_FOUND: /404.html is not in DIR"),
        "{}",
        refused.stderr
    );

    let first = run(&stack, &["deploy", a.to_str().unwrap(), "--json"]);
    let release_a = first["stages"][1]["result"]["release"].as_str().unwrap().to_string();
    assert_eq!(edge_get(&cdn, "/missing.html"), (404, "lost A".into()));
    assert_eq!(edge_get(&cdn, "/gone/"), (404, "lost A".into()));
    assert_eq!(edge_get(&cdn, "/js/gone.0123456789ab.js"), (404, "lost A".into()));
    assert_eq!(edge_get(&cdn, "/"), (200, "home".into()));

    // A new page: the edge serves it once deploy returns (the same paths),
    // though invalidations take 2 s to complete.
    stack.configure(serde_json::json!({"invalidation_seconds": 2}));
    run(&stack, &["deploy", b.to_str().unwrap(), "--json"]);
    // A path asked for before the switch may resolve to the same key in
    // the release that holds it (a release holds only what it changed), so
    // CloudFront may answer its cached 404 for ErrorCachingMinTTL (10 s):
    // a path not asked for yet gets the new page at once.
    assert_eq!(edge_get(&cdn, "/missing-b.html"), (404, "lost B".into()));
    // A missing hashed name is shared by the releases (`_cdnctl/assets/`):
    // its 404 is the one CloudFront keeps for ErrorCachingMinTTL (10 s),
    // then the new page.
    assert_eq!(edge_get(&cdn, "/js/gone.0123456789ab.js"), (404, "lost A".into()));
    assert_eq!(edge_get(&cdn, "/js/other.0123456789ab.js"), (404, "lost B".into()));
    let check = run(&stack, &["check", "--json"]);
    assert_eq!(missing_probe(&check)["ok"], true, "{check:#}");

    // The same page again: no copy, no invalidation.
    let before = stack.writes().len();
    run(&stack, &["deploy", bb.to_str().unwrap(), "--json"]);
    let ops: Vec<String> = stack.writes()[before..].iter().map(|r| r.op.clone()).collect();
    assert!(
        ops.iter()
            .all(|o| !o.contains("_cdnctl/404.html") && !o.contains("invalidation")),
        "{ops:#?}"
    );
    assert_eq!(edge_get(&cdn, "/missing-bb.html"), (404, "lost B".into()));

    // Rolling back to A brings A's page back, waited for.
    let before = stack.writes().len();
    let rolled = run(&stack, &["rollback", &release_a, "--json"]);
    assert_eq!(rolled["release"], release_a.as_str(), "{rolled:#}");
    let ops: Vec<String> = stack.writes()[before..].iter().map(|r| r.op.clone()).collect();
    assert!(ops.iter().any(|o| o.contains("_cdnctl/404.html")), "{ops:#?}");
    assert!(ops.iter().any(|o| o.contains("invalidation")), "{ops:#?}");
    assert_eq!(edge_get(&cdn, "/missing-a.html"), (404, "lost A".into()));
    assert_eq!(edge_get(&cdn, "/another.css"), (404, "lost A".into()));
}

/// Error responses made by hand that answer missing files with a page and
/// 200: check fails and says how to get a 404; `up` with the setting
/// refuses to overwrite them, before any write.
#[test]
fn a_hand_made_200_page_fails_check_and_is_not_overwritten() {
    let stack = Stack::new("nfhand");
    let dir = stack.dir().join("site");
    site(&dir, Some("lost"));
    run(&stack, &["deploy", dir.to_str().unwrap(), "--json"]);
    let c = clients(&stack);
    let dist = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let got = block_on(c.cloudfront.get_distribution_config().id(&dist.id).send()).unwrap();
    let mut config = got.distribution_config.unwrap();
    let items: Vec<CustomErrorResponse> = [403, 404]
        .into_iter()
        .map(|code| {
            CustomErrorResponse::builder()
                .error_code(code)
                .response_page_path("/404.html")
                .response_code("200")
                .build()
                .unwrap()
        })
        .collect();
    config.custom_error_responses = Some(
        CustomErrorResponses::builder()
            .quantity(2)
            .set_items(Some(items))
            .build()
            .unwrap(),
    );
    block_on(
        c.cloudfront
            .update_distribution()
            .id(&dist.id)
            .if_match(got.e_tag.unwrap())
            .distribution_config(config)
            .send(),
    )
    .unwrap();
    assert_eq!(edge_get(&dist.domain_name, "/nothing.html"), (200, "lost".into()));
    let args: Vec<String> = ["check", "--json"]
        .into_iter()
        .map(String::from)
        .chain(to_edge())
        .chain(trust_emulator())
        .collect();
    let answer = stack.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(answer.code, 0);
    let probe = missing_probe(&answer.json());
    let message = probe["message"].as_str().unwrap();
    assert!(message.contains("answers 200 with /404.html"), "{probe:#}");
    assert!(
        message.contains("set CDN_NOT_FOUND=/404.html and run `cdnctl up`"),
        "{probe:#}"
    );

    let stack = stack.with("CDN_NOT_FOUND", "/404.html");
    let refused = stack.run_without_writes(&["up"]);
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("custom error responses cdnctl did not make (403 → /404.html with 200"),
        "{}",
        refused.stderr
    );
}

/// With releases, a fixed key that is not the live release's page (a
/// deploy stopped between the switch and the copy) fails check, which
/// names the fix; the fix (`rollback` to the live release) copies it only.
#[test]
fn check_finds_a_404_page_left_behind_and_rollback_to_the_live_release_fixes_it() {
    let stack = Stack::new("nfbehind")
        .with("CDN_RELEASES", "2")
        .with("CDN_NOT_FOUND", "/404.html");
    stack.run(&["up"]).ok();
    let dir = stack.dir().join("a");
    site(&dir, Some("lost A"));
    let deployed = run(&stack, &["deploy", dir.to_str().unwrap(), "--json"]);
    let id = deployed["stages"][1]["result"]["release"].as_str().unwrap().to_string();
    let c = clients(&stack);
    block_on(
        c.s3.put_object()
            .bucket(&stack.bucket)
            .key("_cdnctl/404.html")
            .body(b"an older page".to_vec().into())
            .content_type("text/html")
            .send(),
    )
    .unwrap();
    let args: Vec<String> = ["check", "--json"]
        .into_iter()
        .map(String::from)
        .chain(to_edge())
        .chain(trust_emulator())
        .collect();
    let answer = stack.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(answer.code, 0);
    let probe = missing_probe(&answer.json());
    let message = probe["message"].as_str().unwrap();
    assert!(message.contains(&format!("is not release {id}'s")), "{probe:#}");
    assert!(
        message.contains(&format!("`cdnctl rollback {id}` copies it")),
        "{probe:#}"
    );

    let before = stack.writes().len();
    run(&stack, &["rollback", &id, "--json"]);
    let ops: Vec<String> = stack.writes()[before..].iter().map(|r| r.op.clone()).collect();
    assert!(ops.iter().all(|o| !o.contains("key-value-stores")), "{ops:#?}");
    assert!(ops.iter().any(|o| o.contains("_cdnctl/404.html")), "{ops:#?}");
    let check = run(&stack, &["check", "--json"]);
    assert_eq!(missing_probe(&check)["ok"], true, "{check:#}");
    let cdn = block_on(distribution_of(&c, &stack.bucket)).unwrap().domain_name;
    assert_eq!(edge_get(&cdn, "/missing.html"), (404, "lost A".into()));
}
