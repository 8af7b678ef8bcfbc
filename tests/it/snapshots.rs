//! Whole-output tests, as uv's `uv_snapshot!` and just's `Test` do: each pins
//! a command's exit code, its whole stdout and its whole stderr, after
//! replacing what differs from run to run (the stack's name and key, the
//! ids AWS gives, the distribution's domain). A new warning, a lost line or
//! a changed word fails them; substring checks would let it through.
//!
//! The steps of a plan that run at once finish in any order: their `✓`
//! lines and the lines saying a wait began are compared as a set (sorted),
//! every other line in order. To change a snapshot on purpose, run the
//! tests with `CDNCTL_SNAPSHOTS_TO=FILE`: each run's output is appended to
//! FILE instead of compared, to paste in.

use crate::harness::{block_on, clients, Run, Stack};

/// What a run printed, as compared: the exit code, then stdout, then stderr.
fn shown(stack: &Stack, run: &Run) -> String {
    let clean = |text: &str| normalize(stack, text);
    format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        run.code,
        clean(&run.stdout),
        sorted_marks(&clean(&run.stderr))
    )
}

fn normalize(stack: &Stack, text: &str) -> String {
    let text = text.replace(&stack.bucket, "[bucket]").replace(&stack.key, "[key]");
    let rules: &[(&str, &str)] = &[
        (r"\b[a-z0-9]{10,16}\.cloudfront\.net", "[cdn].cloudfront.net"),
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "[uuid]",
        ),
        (r"\b[A-Z0-9]{12,14}\b", "[id]"),
        (r"127\.0\.0\.1:[0-9]+", "127.0.0.1:[port]"),
        // check's fresh origin and missing key, new every run.
        (r"cdnctl-check-[0-9a-f]+", "cdnctl-check-[n]"),
        (r"\b[0-9]+ days left", "[n] days left"),
    ];
    let mut out = text;
    for (pattern, with) in rules {
        out = regex_lite::Regex::new(pattern)
            .unwrap()
            .replace_all(&out, *with)
            .into_owned();
    }
    out
}

/// Runs of consecutive lines about steps (`✓` lines, and the line saying a
/// wait began), sorted: concurrent steps end in any order.
fn sorted_marks(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('✓') || line.contains(": waiting for ") {
            run.push(line.to_string());
            continue;
        }
        run.sort();
        out.append(&mut run);
        out.push(line.to_string());
    }
    run.sort();
    out.append(&mut run);
    out.iter().map(|l| format!("{l}\n")).collect()
}

#[track_caller]
fn assert_shown(stack: &Stack, run: &Run, want: &str) {
    let got = shown(stack, run);
    if let Some(path) = std::env::var_os("CDNCTL_SNAPSHOTS_TO") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(f, "=== {}\n{got}", std::panic::Location::caller()).unwrap();
        return;
    }
    assert!(got == want, "whole output differs\n--- got\n{got}\n--- want\n{want}");
}

#[test]
fn status_up_status_down_print_exactly_this() {
    let stack = Stack::new("snap");

    let run = stack.run(&["status"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 5
--- stdout
bucket [bucket]: absent; missing
origin access control cdnctl-[bucket]: absent; missing
response headers policy Managed-CORS-with-preflight-and-SecurityHeadersPolicy: CloudFront's own; ok (managed, [uuid])
distribution cdnctl-[bucket]: absent; missing
state: absent (exit code 5)
--- stderr
"#,
    );

    let run = stack.run(&["up", "--dry-run"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 3
--- stdout
--- stderr
cdnctl up would:
  bucket [bucket]: create
      in eu-west-1
  bucket [bucket]: block public access
  bucket [bucket]: default encryption
  bucket [bucket]: CORS rules
  bucket [bucket]: tags
  bucket [bucket]: bucket policy
  origin access control cdnctl-[bucket]: create
  distribution: create
      origin: [bucket].s3.eu-west-1.amazonaws.com (through the origin access control)
      name: dxxxx.cloudfront.net, given by CloudFront
      price class: PriceClass_100
      comment: cdnctl: [bucket]
"#,
    );

    let run = stack.run(&["up"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
bucket:       [bucket] (eu-west-1)
distribution: [id] ([cdn].cloudfront.net)
url:          https://[cdn].cloudfront.net/
--- stderr
distribution [id]: waiting for CloudFront to deploy
✓ bucket [bucket]: CORS rules
✓ bucket [bucket]: block public access
✓ bucket [bucket]: bucket policy
✓ bucket [bucket]: create
✓ bucket [bucket]: default encryption
✓ bucket [bucket]: tags
✓ distribution [id]: deployed
✓ distribution: create
✓ origin access control cdnctl-[bucket]: create
"#,
    );

    let run = stack.run(&["up"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
bucket:       [bucket] (eu-west-1)
distribution: [id] ([cdn].cloudfront.net)
url:          https://[cdn].cloudfront.net/
--- stderr
Everything is up to date.
"#,
    );

    let run = stack.run(&["status"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
bucket [bucket]: present; ok
origin access control cdnctl-[bucket]: present; ok
response headers policy Managed-CORS-with-preflight-and-SecurityHeadersPolicy: CloudFront's own; ok (managed, [uuid])
distribution [id] ([cdn].cloudfront.net): present; ok (Deployed)
state: in_sync (exit code 0)
--- stderr
"#,
    );

    let run = stack.run(&["down", "--dry-run"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 3
--- stdout
--- stderr
cdnctl down would:
  distribution [id]: disable
  distribution [id]: wait until disabled everywhere
  distribution [id]: delete
  origin access control cdnctl-[bucket]: delete
  bucket [bucket]: delete (empty)
"#,
    );

    let run = stack.run(&["down", "--yes"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
--- stderr
distribution [id]: waiting for CloudFront to deploy
✓ bucket [bucket]: delete (empty)
✓ distribution [id]: delete
✓ distribution [id]: deployed
✓ distribution [id]: disable
✓ origin access control cdnctl-[bucket]: delete
"#,
    );
}

#[test]
fn bad_settings_and_refusals_print_exactly_this() {
    let stack = Stack::new("snapbad").with("CDN_PRICE_CLASS", "PriceClass_7");
    let run = stack.run(&["up"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 2
--- stdout
--- stderr
cdnctl: CDN_PRICE_CLASS: "PriceClass_7" is not valid: expected one of PriceClass_100, PriceClass_200, PriceClass_All
"#,
    );
    let run = stack.run(&["status", "--json"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 2
--- stdout
{
  "error": "CDN_PRICE_CLASS: \"PriceClass_7\" is not valid: expected one of PriceClass_100, PriceClass_200, PriceClass_All",
  "exit_code": 2,
  "kind": "settings"
}
--- stderr
cdnctl: CDN_PRICE_CLASS: "PriceClass_7" is not valid: expected one of PriceClass_100, PriceClass_200, PriceClass_All
"#,
    );

    // A bucket of that name that the stack did not make: refused, unasked.
    let stack = Stack::new("snapforeign");
    block_on(crate::inspect::make_bucket_in(
        &clients(&stack),
        &stack.bucket,
        crate::harness::REGION,
    ));
    let run = stack.run(&["up"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 1
--- stdout
--- stderr
cdnctl: bucket [bucket]: exists but was not created by cdnctl for this stack (no cdnctl:stack tag): run `cdnctl up --adopt` to take it over (its settings are corrected and cdnctl's statements added to its policy; the policy's other statements and its files are kept)
cdnctl: nothing was changed
"#,
    );
    let run = stack.run(&["up", "--json"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 1
--- stdout
{
  "error": "bucket [bucket]: exists but was not created by cdnctl for this stack (no cdnctl:stack tag): run `cdnctl up --json --adopt` to take it over (its settings are corrected and cdnctl's statements added to its policy; the policy's other statements and its files are kept)\nnothing was changed",
  "exit_code": 1,
  "kind": "refused"
}
--- stderr
cdnctl: bucket [bucket]: exists but was not created by cdnctl for this stack (no cdnctl:stack tag): run `cdnctl up --json --adopt` to take it over (its settings are corrected and cdnctl's statements added to its policy; the policy's other statements and its files are kept)
cdnctl: nothing was changed
"#,
    );
    let run = stack.run(&["down"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
--- stderr
note: bucket [bucket]: not tagged as this stack's, left alone
"#,
    );
}

#[test]
fn sync_check_and_deploy_print_exactly_this() {
    let stack = Stack::new("snapsite");
    stack.run(&["up"]).ok();
    let site = crate::harness::collectstatic_site(
        stack.dir().join("site"),
        &[("index.html", b"<!doctype html><title>t</title>")],
    );
    let site = site.to_str().unwrap();
    let mut edge = crate::harness::to_edge();
    edge.extend(crate::harness::trust_emulator());
    let edge: Vec<&str> = edge.iter().map(String::as_str).collect();

    let run = stack.run(&["sync", site, "--dry-run"]);
    assert_shown(
        &stack,
        &run,
        r#"exit 3
--- stdout
upload      css/site.5af66c1b1797.css (new; public, max-age=31536000, immutable)
upload      js/app.0123456789ab.js (new; public, max-age=31536000, immutable)
upload      fonts/f.woff2 (new; public, max-age=60, must-revalidate)
upload      index.html (new; public, max-age=60, must-revalidate)
upload      robots.txt (new; public, max-age=60, must-revalidate)
upload      staticfiles.json (new; public, max-age=60, must-revalidate)
--- stderr
cdnctl sync would upload 6, update headers of 0, invalidate 0 paths, delete 0 (0 unchanged, 0 kept)
"#,
    );
    let run = stack.run(&["sync", site]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
[bucket]/: 6 uploaded (189 B), 0 headers updated, 0 unchanged, 0 deleted, 0 kept
--- stderr
"#,
    );
    let run = stack.run(&["sync", site]);
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
[bucket]/: 0 uploaded (0 B), 0 headers updated, 6 unchanged, 0 deleted, 0 kept
--- stderr
"#,
    );
    let run = stack.run(&[&["check"][..], &edge].concat());
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
--- stderr
Checking https://[cdn].cloudfront.net/ (distribution [id], 6 objects of [bucket])
✓ cors distribution [id]: the stack's response headers policy [uuid] is on the default behavior
✓ cors https://[cdn].cloudfront.net/fonts/f.woff2: a font from https://cdnctl-check-[n].example.com: Access-Control-Allow-Origin *
✓ cors https://[cdn].cloudfront.net/js/app.0123456789ab.js: a module script from https://cdnctl-check-[n].example.com: Access-Control-Allow-Origin *
✓ http2 [cdn].cloudfront.net: ALPN h2 (TLS 1.3); HttpVersion http2and3
✓ missing https://[cdn].cloudfront.net/cdnctl-check-[n]-no-such-file.txt: 403 AccessDenied: S3 answers a missing key so when CloudFront may not list the bucket (as intended)
✓ object https://[cdn].cloudfront.net/css/site.5af66c1b1797.css: named by staticfiles.json: 200 as browsers ask (br, gzip), text/css; charset=utf-8, public, max-age=31536000, immutable; uncompressed too
✓ object https://[cdn].cloudfront.net/fonts/f.woff2: a .woff2 file: 200 as browsers ask (br, gzip), font/woff2, public, max-age=60, must-revalidate; uncompressed too
✓ object https://[cdn].cloudfront.net/index.html: a .html file: 200 as browsers ask (br, gzip), text/html; charset=utf-8, public, max-age=60, must-revalidate; uncompressed too
✓ object https://[cdn].cloudfront.net/js/app.0123456789ab.js: named by staticfiles.json: 200 as browsers ask (br, gzip), text/javascript; charset=utf-8, public, max-age=31536000, immutable; uncompressed too
✓ object https://[cdn].cloudfront.net/robots.txt: a .txt file: 200 as browsers ask (br, gzip), text/plain; charset=utf-8, public, max-age=60, must-revalidate; uncompressed too
✓ object https://[cdn].cloudfront.net/staticfiles.json: manifest: 200 as browsers ask (br, gzip), application/json; charset=utf-8, public, max-age=60, must-revalidate; uncompressed too
✓ preflight https://[cdn].cloudfront.net/fonts/f.woff2: OPTIONS from https://cdnctl-check-[n].example.com: 200
✓ redirect http://[cdn].cloudfront.net/css/site.5af66c1b1797.css: 301 to https
✓ security https://[cdn].cloudfront.net/css/site.5af66c1b1797.css: x-content-type-options, referrer-policy, x-frame-options, strict-transport-security
✓ tls [cdn].cloudfront.net: valid for [cdn].cloudfront.net, [n] days left
https://[cdn].cloudfront.net/: all 15 probes passed
"#,
    );
    let run = stack.run(&[&["deploy", site][..], &edge].concat());
    assert_shown(
        &stack,
        &run,
        r#"exit 0
--- stdout
up:    0 changes; distribution [id]
sync:  0 uploaded, 0 headers updated, 6 unchanged, 0 deleted
check: all 15 probes passed
url:   https://[cdn].cloudfront.net/
--- stderr
== deploy: up
Everything is up to date.
== deploy: sync
== deploy: check
Checking https://[cdn].cloudfront.net/ (distribution [id], 6 objects of [bucket])
✓ cors distribution [id]: the stack's response headers policy [uuid] is on the default behavior
✓ cors https://[cdn].cloudfront.net/fonts/f.woff2: a font from https://cdnctl-check-[n].example.com: Access-Control-Allow-Origin *
✓ cors https://[cdn].cloudfront.net/js/app.0123456789ab.js: a module script from https://cdnctl-check-[n].example.com: Access-Control-Allow-Origin *
✓ http2 [cdn].cloudfront.net: ALPN h2 (TLS 1.3); HttpVersion http2and3
✓ missing https://[cdn].cloudfront.net/cdnctl-check-[n]-no-such-file.txt: 403 AccessDenied: S3 answers a missing key so when CloudFront may not list the bucket (as intended)
✓ object https://[cdn].cloudfront.net/css/site.5af66c1b1797.css: named by staticfiles.json: 200 as browsers ask (br, gzip), text/css; charset=utf-8, public, max-age=31536000, immutable; uncompressed too
✓ object https://[cdn].cloudfront.net/fonts/f.woff2: a .woff2 file: 200 as browsers ask (br, gzip), font/woff2, public, max-age=60, must-revalidate; uncompressed too
✓ object https://[cdn].cloudfront.net/index.html: a .html file: 200 as browsers ask (br, gzip), text/html; charset=utf-8, public, max-age=60, must-revalidate; uncompressed too
✓ object https://[cdn].cloudfront.net/js/app.0123456789ab.js: named by staticfiles.json: 200 as browsers ask (br, gzip), text/javascript; charset=utf-8, public, max-age=31536000, immutable; uncompressed too
✓ object https://[cdn].cloudfront.net/robots.txt: a .txt file: 200 as browsers ask (br, gzip), text/plain; charset=utf-8, public, max-age=60, must-revalidate; uncompressed too
✓ object https://[cdn].cloudfront.net/staticfiles.json: manifest: 200 as browsers ask (br, gzip), application/json; charset=utf-8, public, max-age=60, must-revalidate; uncompressed too
✓ preflight https://[cdn].cloudfront.net/fonts/f.woff2: OPTIONS from https://cdnctl-check-[n].example.com: 200
✓ redirect http://[cdn].cloudfront.net/css/site.5af66c1b1797.css: 301 to https
✓ security https://[cdn].cloudfront.net/css/site.5af66c1b1797.css: x-content-type-options, referrer-policy, x-frame-options, strict-transport-security
✓ tls [cdn].cloudfront.net: valid for [cdn].cloudfront.net, [n] days left
https://[cdn].cloudfront.net/: all 15 probes passed
cdnctl deploy [bucket]: published, and every check passed
"#,
    );
}
