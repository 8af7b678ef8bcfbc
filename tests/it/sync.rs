//! `cdnctl sync DIR` against the emulator: headers read back from the bucket,
//! a re-sync that only lists, header-only updates, targeted invalidations,
//! the delete guard, odd key names, large files, interruption and faults.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::{block_on, clients, Clients, Request, Stack};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "public, max-age=60, must-revalidate";

pub(crate) use crate::harness::write;

/// A small tree shaped like Django's collectstatic output with
/// ManifestStaticFilesStorage: originals, hashed copies, staticfiles.json.
fn django_tree(stack: &Stack, name: &str) -> PathBuf {
    let dir = stack.dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (rel, content) in [
        ("css/site.css", &b"body{color:red}"[..]),
        ("css/site.5af66c1b1797.css", b"body{color:red}"),
        ("js/app.js", b"console.log(1)"),
        ("js/app.0123456789ab.js", b"console.log(1)"),
        // Named in the manifest, though its name does not look hashed.
        ("img/logo.png", b"\x89PNG logo"),
        ("img/logo.deadbeefcafe.png", b"\x89PNG logo"),
        ("fonts/f.woff2", b"wOF2"),
        ("index.html", b"<h1>v1</h1>"),
        ("docs/index.html", b"<h1>docs v1</h1>"),
        ("robots.txt", b"User-agent: *"),
        ("data.json", b"{}"),
        ("noext", b"?"),
    ] {
        write(&dir, rel, content);
    }
    let manifest = json!({"paths": {
        "css/site.css": "css/site.5af66c1b1797.css",
        "js/app.js": "js/app.0123456789ab.js",
        "img/logo.png": "img/logo.deadbeefcafe.png",
    }, "version": "1.1"});
    write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    dir
}

/// A copy, with new modification times (as a fresh CI checkout would have).
fn fresh_copy(stack: &Stack, from: &Path, name: &str) -> PathBuf {
    let to = stack.dir().join(name);
    let _ = std::fs::remove_dir_all(&to);
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(&to)
        .status()
        .unwrap();
    assert!(status.success());
    to
}

pub(crate) fn sync(stack: &Stack, dir: &Path, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec!["sync", dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    stack.run(&args)
}

/// (Content-Type, Cache-Control, ETag) of an object.
pub(crate) fn head(c: &Clients, bucket: &str, key: &str) -> (String, String, String) {
    let h = block_on(c.s3.head_object().bucket(bucket).key(key).send()).unwrap_or_else(|e| panic!("{key}: {e:?}"));
    (
        h.content_type().unwrap_or("").to_string(),
        h.cache_control().unwrap_or("").to_string(),
        h.e_tag().unwrap_or("").trim_matches('"').to_string(),
    )
}

pub(crate) fn body(c: &Clients, bucket: &str, key: &str) -> Vec<u8> {
    block_on(async {
        let out = c.s3.get_object().bucket(bucket).key(key).send().await.unwrap();
        out.body.collect().await.unwrap().into_bytes().to_vec()
    })
}

pub(crate) fn all_keys(c: &Clients, bucket: &str) -> Vec<String> {
    block_on(async {
        let mut keys = Vec::new();
        let mut pages = c.s3.list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.unwrap()
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(String::from)),
            );
        }
        keys
    })
}

/// The stack's distribution's invalidations: (caller reference, sorted paths), oldest first.
pub(crate) fn invalidations(c: &Clients, bucket: &str) -> Vec<(String, Vec<String>)> {
    block_on(async {
        let d = crate::inspect::distribution_of(c, bucket).await.unwrap();
        let list = c
            .cloudfront
            .list_invalidations()
            .distribution_id(&d.id)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        let summaries = list.invalidation_list().map(|l| l.items().to_vec()).unwrap_or_default();
        for s in summaries {
            let i = c
                .cloudfront
                .get_invalidation()
                .distribution_id(&d.id)
                .id(s.id())
                .send()
                .await
                .unwrap()
                .invalidation
                .unwrap();
            let batch = i.invalidation_batch.unwrap();
            let mut paths = batch.paths.unwrap().items().to_vec();
            paths.sort();
            out.push((batch.caller_reference, paths));
        }
        out
    })
}

/// Requests since `before` that touch an object (a key after the bucket name).
pub(crate) fn object_requests<'a>(stack: &Stack, requests: &'a [Request]) -> Vec<&'a Request> {
    let bucket = format!("/{}/", stack.bucket);
    requests
        .iter()
        .filter(|r| {
            let path = r.op.split_once(' ').map(|(_, p)| p).unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            path.strip_prefix(&bucket).is_some_and(|key| !key.is_empty())
        })
        .collect()
}

fn count(requests: &[Request], method: &str, needle: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.op.starts_with(&format!("{method} ")) && r.op.contains(needle))
        .count()
}

fn listings(stack: &Stack, requests: &[Request]) -> usize {
    requests
        .iter()
        .filter(|r| r.op.starts_with(&format!("GET /{}", stack.bucket)) && r.op.contains("list-type=2"))
        .count()
}

#[test]
fn sync_refuses_when_the_stack_does_not_exist() {
    let stack = Stack::new("nostack");
    let dir = django_tree(&stack, "static");
    let run = sync(&stack, &dir, &[]).code(1);
    assert!(
        run.stderr.contains("does not exist") && run.stderr.contains("cdnctl up"),
        "{}",
        run.stderr
    );
    assert!(stack.writes().is_empty(), "{:?}", stack.writes());
}

#[test]
fn bad_sync_settings_are_one_line_usage_errors_before_any_request() {
    let stack = Stack::new("syncusage");
    let dir = django_tree(&stack, "static");
    for (setting, value, args) in [
        ("CDN_CACHE_RULES", "*.html", vec![]),
        ("CDN_CACHE_RULES", "*.html=max age", vec![]),
        ("CDN_SYNC_JOBS", "0", vec![]),
        ("CDN_SYNC_JOBS", "many", vec![]),
        ("--jobs", "", vec!["--jobs", "0"]),
        ("--max-deletes", "", vec!["--max-deletes", "lots"]),
        ("CDN_SYNC_MAX_DELETES", "lots", vec![]),
        ("--keep-deploys", "", vec!["--keep-deploys", "1"]),
        ("--delete-grace", "", vec!["--delete-grace", "soon"]),
        ("--prefix", "", vec!["--prefix", "/abs"]),
    ] {
        let mut s = Stack::new("syncusage");
        if !value.is_empty() {
            s.set(setting, value);
        }
        let run = sync(&s, &dir, &args).code(2);
        let line = run.stderr.trim();
        assert!(line.starts_with(&format!("cdnctl: {setting}:")), "{line}");
        assert_eq!(line.lines().count(), 1, "{line}");
        assert!(s.requests().is_empty());
    }
    let run = stack.run(&["sync", "/no/such/dir"]).code(2);
    assert!(
        run.stderr.contains("DIR:") && run.stderr.contains("not a directory"),
        "{}",
        run.stderr
    );
}

#[test]
fn fresh_sync_sets_headers_and_a_resync_from_a_fresh_checkout_only_lists() {
    let stack = Stack::new("syncfresh");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");

    // With latency, so that what goes together overlaps (500 ms, as the
    // round-trip tests: a loaded machine can be slow to take a request).
    stack.configure(json!({"delay_ms": 500}));
    let out = sync(&stack, &dir, &[]).ok().json();
    stack.configure(json!({"delay_ms": null}));
    assert_eq!(out["uploaded"], 13, "{out}");
    assert_eq!(
        out["invalidation"],
        Value::Null,
        "new files need no invalidation: {out}"
    );
    let mut keys = all_keys(&c, b);
    keys.sort();
    assert_eq!(keys.len(), 13 + 1, "the files and the prefix's state: {keys:?}");

    for (key, content_type, cache_control) in [
        ("css/site.5af66c1b1797.css", "text/css; charset=utf-8", IMMUTABLE),
        ("css/site.css", "text/css; charset=utf-8", REVALIDATE),
        ("js/app.0123456789ab.js", "text/javascript; charset=utf-8", IMMUTABLE),
        ("js/app.js", "text/javascript; charset=utf-8", REVALIDATE),
        // Hashed by the manifest alone.
        ("img/logo.deadbeefcafe.png", "image/png", IMMUTABLE),
        ("img/logo.png", "image/png", REVALIDATE),
        ("fonts/f.woff2", "font/woff2", REVALIDATE),
        ("index.html", "text/html; charset=utf-8", REVALIDATE),
        ("robots.txt", "text/plain; charset=utf-8", REVALIDATE),
        ("data.json", "application/json; charset=utf-8", REVALIDATE),
        ("staticfiles.json", "application/json; charset=utf-8", REVALIDATE),
        ("noext", "application/octet-stream", REVALIDATE),
    ] {
        let (ct, cc, _) = head(&c, b, key);
        assert_eq!((ct.as_str(), cc.as_str()), (content_type, cache_control), "{key}");
    }
    // Hashed files went up before the rest. The manifest, which names hashed
    // files only, went once they were all there (with the rest, not after
    // it), and the pages last, once everything else was.
    let requests = stack.requests();
    let puts: Vec<&Request> = requests
        .iter()
        .filter(|r| r.op.starts_with(&format!("PUT /{b}/")) && !r.op.contains(".cdnctl"))
        .collect();
    let put = |k: &str| {
        *puts
            .iter()
            .find(|r| r.op.split('?').next().unwrap().ends_with(&format!("/{k}")))
            .unwrap_or_else(|| panic!("{k} not uploaded: {puts:#?}"))
    };
    let landed = |k: &str| put(k).end.unwrap();
    let hashed = [
        "css/site.5af66c1b1797.css",
        "js/app.0123456789ab.js",
        "img/logo.deadbeefcafe.png",
    ];
    let rest = [
        "css/site.css",
        "js/app.js",
        "img/logo.png",
        "fonts/f.woff2",
        "robots.txt",
        "data.json",
        "noext",
    ];
    let pages = ["index.html", "docs/index.html"];
    for h in hashed {
        for later in rest.iter().chain(&["staticfiles.json"]).chain(&pages) {
            assert!(landed(h) <= put(later).start, "{h} before {later}: {puts:#?}");
        }
    }
    for before in rest.iter().chain(&["staticfiles.json"]) {
        for page in pages {
            assert!(landed(before) <= put(page).start, "{before} before {page}: {puts:#?}");
        }
    }
    // The manifest went with the rest, in the same round trip.
    let first_rest = rest.iter().map(|k| put(k).start).fold(f64::MAX, f64::min);
    let last_rest = rest.iter().map(|k| landed(k)).fold(0.0, f64::max);
    let manifest = put("staticfiles.json");
    assert!(
        manifest.start < last_rest && first_rest < landed("staticfiles.json"),
        "{puts:#?}"
    );
    let state = crate::sync_deploys::state(&c, b, "");
    assert_eq!(
        state["fingerprint"].as_str().map(str::len),
        Some(16),
        "the rules' fingerprint is kept in the prefix's state: {state}"
    );
    assert_eq!(state["lease"], Value::Null, "the lease is given back: {state}");

    // A fresh checkout of the same tree: new mtimes, same content; later
    // than the run before, as CI's deploys are (a run moments after another
    // lists again once it has read the state: see
    // the_listing_goes_with_the_states_read_unless_a_run_just_finished).
    let again = fresh_copy(&stack, &dir, "checkout");
    std::thread::sleep(LATER);
    let before = stack.requests().len();
    let out = sync(&stack, &again, &[]).ok().json();
    let requests = stack.requests()[before..].to_vec();
    assert_eq!(
        (out["uploaded"].as_u64(), out["unchanged"].as_u64()),
        (Some(0), Some(13)),
        "{out}"
    );
    assert!(requests.iter().all(|r| !r.write), "{requests:?}");
    let (state_reads, others): (Vec<&Request>, Vec<&Request>) = object_requests(&stack, &requests)
        .into_iter()
        .partition(|r| r.op.starts_with(&format!("GET /{b}/.cdnctl/state.json")));
    assert!(others.is_empty(), "no HEAD or GET per file: {requests:?}");
    assert_eq!(state_reads.len(), 1, "{requests:?}");
    assert_eq!(listings(&stack, &requests), 1);
    assert_eq!(out["listing_pages"], 1);

    // And --dry-run agrees: nothing to do, exit 0.
    let dry = stack
        .run_without_writes(&["sync", again.to_str().unwrap(), "--dry-run", "--json"])
        .ok()
        .json();
    assert_eq!(dry["upload"], json!([]));
}

#[test]
fn changed_files_are_uploaded_and_only_stale_paths_invalidated() {
    let stack = Stack::new("syncchange");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();

    // A deploy: a new hashed CSS, index pages and robots.txt changed.
    write(&dir, "css/site.css", b"body{color:blue}");
    write(&dir, "css/site.9f8e7d6c5b4a.css", b"body{color:blue}");
    write(&dir, "index.html", b"<h1>v2</h1>");
    write(&dir, "docs/index.html", b"<h1>docs v2</h1>");
    write(&dir, "robots.txt", b"User-agent: *\nDisallow: /x");
    let before = stack.requests().len();
    let dry = stack
        .run_without_writes(&["sync", dir.to_str().unwrap(), "--dry-run", "--json"])
        .code(3)
        .json();
    assert_eq!(dry["upload"].as_array().unwrap().len(), 5, "{dry}");
    assert_eq!(
        dry["invalidate"],
        json!([
            "/",
            "/css/site.css",
            "/docs/",
            "/docs/index.html",
            "/index.html",
            "/robots.txt"
        ])
    );
    let out = sync(&stack, &dir, &[]).ok().json();
    let requests = stack.requests()[before..].to_vec();
    assert_eq!(out["uploaded"], 5, "{out}");
    assert_eq!(count(&requests, "PUT", &format!("/{b}/css/site.9f8e7d6c5b4a.css")), 1);
    assert_eq!(out["invalidation"]["path_count"], 6, "{out}");
    let sent = invalidations(&c, b);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].1,
        vec![
            "/",
            "/css/site.css",
            "/docs/",
            "/docs/index.html",
            "/index.html",
            "/robots.txt"
        ]
    );
    assert_eq!(body(&c, b, "index.html"), b"<h1>v2</h1>");
    // The pending invalidation is gone from the state once it is sent.
    assert_eq!(crate::sync_deploys::state(&c, b, "")["pending"], Value::Null);

    // Nothing changed since: no invalidation. Then index.html goes back to v1
    // and forward to v2 again: each deploy gets its own invalidation (a
    // reused CallerReference would silently return the earlier one).
    sync(&stack, &dir, &[]).ok();
    assert_eq!(invalidations(&c, b).len(), 1);
    write(&dir, "index.html", b"<h1>v1</h1>");
    sync(&stack, &dir, &[]).ok();
    write(&dir, "index.html", b"<h1>v2</h1>");
    sync(&stack, &dir, &[]).ok();
    let sent = invalidations(&c, b);
    assert_eq!(sent.len(), 3, "{sent:?}");
    let refs: std::collections::BTreeSet<&String> = sent.iter().map(|(r, _)| r).collect();
    assert_eq!(refs.len(), 3, "{sent:?}");
}

#[test]
fn changed_rules_update_headers_in_place_and_unchanged_rules_are_not_rechecked() {
    let mut stack = Stack::new("syncrules").with("CDN_TAGS", "team=web");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();

    stack.set("CDN_CACHE_RULES", "*.txt=no-cache; fonts/**=public, max-age=604800");
    let before = stack.requests().len();
    let out = sync(&stack, &dir, &[]).ok().json();
    let requests = stack.requests()[before..].to_vec();
    assert_eq!(
        (out["uploaded"].as_u64(), out["headers_updated"].as_u64()),
        (Some(0), Some(2)),
        "{out}"
    );
    let heads = object_requests(&stack, &requests)
        .into_iter()
        // (The lease's check before each stage of writes is on the state.)
        .filter(|r| r.op.starts_with("HEAD ") && !r.op.contains("/.cdnctl/"))
        .count();
    // One HEAD per unchanged file, and one more before each of the two
    // corrections (to keep the metadata sync does not manage).
    assert_eq!(heads, 13 + 2, "one HEAD per unchanged file");
    let copies: Vec<&Request> = requests
        .iter()
        .filter(|r| r.op.starts_with("PUT") && !r.op.contains("tagging"))
        .collect();
    assert!(
        copies
            .iter()
            .filter(|r| !r.op.contains(".cdnctl/"))
            .all(|r| r.op.contains("CopyObject")),
        "{copies:?}"
    );
    // Two copies (robots.txt, the font), the state (lease taken and given
    // back, with the new fingerprint) and nothing else: no upload.
    assert_eq!(copies.len(), 2 + 2, "{copies:?}");
    assert_eq!(head(&c, b, "robots.txt").1, "no-cache");
    assert_eq!(head(&c, b, "fonts/f.woff2").1, "public, max-age=604800");
    assert_eq!(head(&c, b, "fonts/f.woff2").0, "font/woff2");
    assert_eq!(head(&c, b, "index.html").1, REVALIDATE);
    assert_eq!(body(&c, b, "robots.txt"), b"User-agent: *");
    let sent = invalidations(&c, b);
    assert_eq!(sent.last().unwrap().1, vec!["/fonts/f.woff2", "/robots.txt"]);
    // The bucket's tags are left alone.
    let tags = block_on(crate::inspect::bucket(&c, b)).tags;
    assert_eq!(tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(tags.get("cdnctl:stack").map(String::as_str), Some(b));

    // Same rules again: no HEAD (the prefix's state only), no write.
    let before = stack.requests().len();
    sync(&stack, &dir, &[]).ok();
    let requests = stack.requests()[before..].to_vec();
    let objects = object_requests(&stack, &requests);
    assert!(
        objects.iter().all(|r| r.op.contains("/.cdnctl/state.json")),
        "{requests:?}"
    );
    assert!(requests.iter().all(|r| !r.write));
    // And `up` still finds nothing to change.
    stack.run_without_writes(&["up"]).ok();
}

#[test]
fn deletes_need_the_flag_respect_the_limit_and_spare_young_hashed_files() {
    let stack = Stack::new("syncdel");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");
    write(&dir, "old.txt", b"old");
    write(&dir, "old/page.html", b"old");
    sync(&stack, &dir, &[]).ok();
    for rel in ["old.txt", "old/page.html", "css/site.5af66c1b1797.css"] {
        std::fs::remove_file(dir.join(rel)).unwrap();
    }

    // Without --delete, nothing goes.
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(0), Some(3)),
        "{out}"
    );
    // Over the limit: refused, nothing changed.
    let run = stack
        .run_without_writes(&["sync", dir.to_str().unwrap(), "--delete", "--max-deletes", "1"])
        .code(1);
    assert!(run.stderr.contains("--max-deletes"), "{}", run.stderr);
    assert_eq!(all_keys(&c, b).len(), 15 + 1);
    // Dry run lists them (past the grace).
    let dry = stack
        .run_without_writes(&[
            "sync",
            dir.to_str().unwrap(),
            "--delete",
            "--delete-grace",
            "0",
            "--dry-run",
            "--json",
        ])
        .code(3)
        .json();
    assert_eq!(dry["delete"], json!(["old.txt", "old/page.html"]));
    // The unhashed go (and are invalidated); the hashed file, which the
    // deploy before this one names, stays.
    let out = sync(&stack, &dir, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(2), Some(1)),
        "{out}"
    );
    assert_eq!(out["invalidation"]["paths"], json!(["/old.txt", "/old/page.html"]));
    let keys = all_keys(&c, b);
    assert!(keys.contains(&"css/site.5af66c1b1797.css".to_string()));
    assert!(!keys.contains(&"old.txt".to_string()));
    // A re-run of the same deploy, even with no grace: the deploy that
    // superseded it is the current one, which the app may not run yet.
    let out = sync(&stack, &dir, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(0), Some(1)),
        "{out}"
    );

    // A deploy that replaces a hashed file: with --keep-deploys 2, what the
    // deploy before last named goes now (past the grace, without an
    // invalidation); the replaced file stays, however often this is re-run,
    // and goes with the next deploy.
    std::fs::remove_file(dir.join("js/app.0123456789ab.js")).unwrap();
    write(&dir, "js/app.js", b"console.log(2)");
    write(&dir, "js/app.aaaa11112222.js", b"console.log(2)");
    let manifest = json!({"paths": {
        "js/app.js": "js/app.aaaa11112222.js",
        "img/logo.png": "img/logo.deadbeefcafe.png",
    }, "version": "1.1"});
    write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    let args = ["--delete", "--delete-grace", "0", "--keep-deploys", "2"];
    for _ in 0..2 {
        let out = sync(&stack, &dir, &args).ok().json();
        assert_eq!(out["kept"], 1, "{out}");
        assert!(all_keys(&c, b).contains(&"js/app.0123456789ab.js".to_string()));
        assert!(!all_keys(&c, b).contains(&"css/site.5af66c1b1797.css".to_string()));
    }
    // The next deploy: collectstatic names its new hashed file in the manifest.
    write(&dir, "js/more.bbbb33334444.js", b"more");
    let manifest = json!({"paths": {
        "js/app.js": "js/app.aaaa11112222.js",
        "js/more.js": "js/more.bbbb33334444.js",
        "img/logo.png": "img/logo.deadbeefcafe.png",
    }, "version": "1.1"});
    write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    let out = sync(&stack, &dir, &args).ok().json();
    assert_eq!(out["deleted"], 1, "{out}");
    assert!(!all_keys(&c, b).contains(&"js/app.0123456789ab.js".to_string()));
}

#[test]
fn odd_names_round_trip_and_links_are_followed() {
    let stack = Stack::new("syncnames");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = stack.dir().join("odd");
    let names = [
        "a b.txt",
        "plus+sign.css",
        "ünïcödé/日本.js",
        "hash#tag.txt",
        "what?.txt",
        "100%.txt",
        "semi;colon=eq&amp.txt",
        "tilde~star*.txt",
    ];
    for n in names {
        write(&dir, n, n.as_bytes());
    }
    write(&stack.dir().join("elsewhere"), "real.css", b"linked");
    std::os::unix::fs::symlink(stack.dir().join("elsewhere/real.css"), dir.join("link.css")).unwrap();
    std::os::unix::fs::symlink(stack.dir().join("elsewhere"), dir.join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(".", dir.join("loop")).unwrap();
    // The links lead out of DIR: published only when asked.
    let out = sync(&stack, &dir, &["--follow-links"]).ok().json();
    assert_eq!(out["uploaded"], names.len() + 2, "{out}");
    for n in names {
        assert_eq!(body(&c, b, n), n.as_bytes(), "{n}");
    }
    assert_eq!(body(&c, b, "link.css"), b"linked");
    assert_eq!(body(&c, b, "linked-dir/real.css"), b"linked");
    let out = sync(&stack, &fresh_copy(&stack, &dir, "odd-copy"), &["--follow-links"])
        .ok()
        .json();
    assert_eq!(out["uploaded"], 0, "{out}");

    // Changed: the invalidation paths are percent-encoded like the URLs.
    for n in names {
        write(&dir, n, b"v2");
    }
    let out = sync(&stack, &dir, &["--follow-links"]).ok().json();
    let mut paths: Vec<String> = serde_json::from_value(out["invalidation"]["paths"].clone()).unwrap();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "/100%25.txt",
            "/a%20b.txt",
            "/hash%23tag.txt",
            "/plus+sign.css",
            "/semi;colon=eq&amp.txt",
            "/tilde%7Estar%2A.txt",
            "/what%3F.txt",
            "/%C3%BCn%C3%AFc%C3%B6d%C3%A9/%E6%97%A5%E6%9C%AC.js",
        ]
        .into_iter()
        .map(String::from)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
}

#[test]
fn unreadable_entries_are_errors_and_nothing_is_deleted() {
    let stack = Stack::new("syncbad");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();
    std::fs::remove_file(dir.join("robots.txt")).unwrap();

    // A dangling link: an error naming it, and nothing written or deleted.
    std::os::unix::fs::symlink(dir.join("missing.css"), dir.join("dangling.css")).unwrap();
    let before = stack.writes().len();
    let run = sync(&stack, &dir, &["--delete"]).code(1);
    assert!(
        run.stderr.contains("dangling.css") && run.stderr.contains("nothing was uploaded or deleted"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(dir.join("dangling.css")).unwrap();

    // A name that is not UTF-8 cannot be an S3 key.
    use std::os::unix::ffi::OsStrExt as _;
    let bad = dir.join(std::ffi::OsStr::from_bytes(b"bad-\xff.txt"));
    std::fs::write(&bad, b"x").unwrap();
    let run = sync(&stack, &dir, &["--delete"]).code(1);
    assert!(run.stderr.contains("not valid UTF-8"), "{}", run.stderr);
    assert_eq!(stack.writes().len(), before, "{:?}", stack.writes());
    assert!(all_keys(&c, b).contains(&"robots.txt".to_string()));
}

#[test]
fn large_files_go_up_in_parts_with_the_etag_computed_locally() {
    let stack = Stack::new("syncbig");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = stack.dir().join("big");
    let data: Vec<u8> = (0..(9 * 1024 * 1024 + 17)).map(|i: u32| (i % 253) as u8).collect();
    write(&dir, "video.mp4", &data);
    write(&dir, "small.txt", b"x");
    sync(&stack, &dir, &[]).ok();
    let (ct, _, etag) = head(&c, b, "video.mp4");
    assert_eq!(ct, "video/mp4");
    assert!(etag.ends_with("-2"), "{etag}");
    assert_eq!(body(&c, b, "video.mp4"), data);
    let before = stack.requests().len();
    let out = sync(&stack, &fresh_copy(&stack, &dir, "big-copy"), &[]).ok().json();
    assert_eq!(out["uploaded"], 0, "{out}");
    assert!(stack.requests()[before..].iter().all(|r| !r.write));
}

#[test]
fn an_interrupted_sync_converges_when_run_again() {
    let stack = Stack::new("syncint");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();
    for i in 0..30 {
        write(&dir, &format!("pages/p{i}.html"), format!("page {i}").as_bytes());
    }
    write(&dir, "index.html", b"<h1>v2</h1>");

    // Dies after the note and a few uploads, before the invalidation.
    stack.configure(json!({"stall_after_writes": 6}));
    let mut child = stack
        .command(&["sync", dir.to_str().unwrap(), "--jobs", "2"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::inspect::wait_for_stall(&stack, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    stack.configure(json!({"stall_after_writes": null}));
    assert!(invalidations(&c, b).is_empty());
    let done_before = all_keys(&c, b).iter().filter(|k| k.starts_with("pages/")).count();
    assert!(done_before < 30);
    let remaining = 30 - done_before + usize::from(body(&c, b, "index.html") != b"<h1>v2</h1>");

    let before = stack.requests().len();
    let out = sync(&stack, &dir, &[]).ok().json();
    let requests = stack.requests()[before..].to_vec();
    // Only what the first run did not finish.
    assert_eq!(out["uploaded"].as_u64().unwrap() as usize, remaining, "{out}");
    assert_eq!(count(&requests, "PUT", &format!("/{b}/pages/")), 30 - done_before);
    // The interrupted run's invalidation (index.html) is sent all the same.
    let sent = invalidations(&c, b);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, vec!["/", "/index.html"]);
    let state = crate::sync_deploys::state(&c, b, "");
    assert_eq!(
        (&state["pending"], &state["lease"]),
        (&Value::Null, &Value::Null),
        "{state}"
    );
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(out["uploaded"], 0);
}

#[test]
fn sync_comes_through_twenty_percent_faults() {
    for seed in [1, 2, 3] {
        let mut stack = Stack::new("syncfault");
        stack.run(&["up"]).ok();
        let c = clients(&stack);
        let bucket = stack.bucket.clone();
        let b = bucket.as_str();
        let dir = django_tree(&stack, "static");
        stack.configure(json!({"fault_rate": 0.2, "seed": seed}));
        sync(&stack, &dir, &[]).ok();
        write(&dir, "index.html", b"<h1>v2</h1>");
        std::fs::remove_file(dir.join("robots.txt")).unwrap();
        // A deploy that changes content, deletes and changes the rules at once.
        let run = sync(
            &stack,
            &dir,
            &["--delete", "--delete-grace", "0", "--cache-rules", "js/*=no-cache"],
        );
        assert_eq!(run.code, 0, "seed {seed}: {}", run.stderr);
        let faults = stack.requests().iter().filter(|r| r.fault.is_some()).count();
        assert!(faults > 0, "seed {seed}: no fault injected");
        stack.configure(json!({"fault_rate": 0.0}));
        let mut keys = all_keys(&c, b);
        keys.sort();
        assert_eq!(keys.len(), 12 + 1, "seed {seed}: the files and the state: {keys:?}");
        assert_eq!(body(&c, b, "index.html"), b"<h1>v2</h1>", "seed {seed}");
        assert_eq!(head(&c, b, "js/app.js").1, "no-cache", "seed {seed}");
        let sent = invalidations(&c, b);
        assert_eq!(
            sent.len(),
            1,
            "seed {seed}: one invalidation, even when an answer was lost: {sent:?}"
        );
        stack.set("CDN_CACHE_RULES", "js/*=no-cache");
        let out = sync(&stack, &dir, &[]).ok().json();
        assert_eq!(
            (out["uploaded"].as_u64(), out["headers_updated"].as_u64()),
            (Some(0), Some(0)),
            "seed {seed}"
        );
    }
}

#[test]
fn wait_waits_for_the_invalidation() {
    let stack = Stack::new("syncwait");
    stack.run(&["up"]).ok();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();
    write(&dir, "index.html", b"<h1>v2</h1>");
    let out = sync(&stack, &dir, &["--wait"]).ok().json();
    assert!(out["invalidation"]["id"].is_string(), "{out}");
    let requests = stack.requests();
    assert!(requests
        .iter()
        .any(|r| r.op.starts_with("GET /2020-05-31/distribution/") && r.op.contains("/invalidation/")));
}

#[test]
fn a_file_that_changes_or_disappears_while_syncing_is_reported_and_nothing_is_deleted() {
    let mut stack = Stack::new("syncrace");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();
    std::fs::remove_file(dir.join("robots.txt")).unwrap();
    write(&dir, "changes.txt", b"first");
    write(&dir, "vanishes.txt", b"here");

    // New rules make the run HEAD every unchanged file first (slowly); the
    // two files change between the scan and their upload.
    stack.set("CDN_CACHE_RULES", "*.json=no-cache");
    stack.configure(json!({"delay_ms": 1500}));
    let child = stack
        .command(&["sync", dir.to_str().unwrap(), "--delete"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !stack
        .requests()
        .iter()
        .any(|r| r.op.starts_with("HEAD ") && r.op.contains("/data.json"))
    {
        assert!(start.elapsed().as_secs() < 30, "no HEAD seen");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    write(&dir, "changes.txt", b"second");
    std::fs::remove_file(dir.join("vanishes.txt")).unwrap();
    let out = child.wait_with_output().unwrap();
    stack.configure(json!({"delay_ms": 0}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("changes.txt") && stderr.contains("changed"), "{stderr}");
    assert!(
        stderr.contains("vanishes.txt") && stderr.contains("disappeared"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was deleted"), "{stderr}");
    assert!(all_keys(&c, b).contains(&"robots.txt".to_string()));

    // The next run converges: the new content goes up, robots.txt goes.
    let out = sync(&stack, &dir, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(out["deleted"], 1, "{out}");
    assert_eq!(body(&c, b, "changes.txt"), b"second");
}

#[test]
fn progress_on_a_terminal_and_quiet_elsewhere() {
    let stack = Stack::new("syncterm").with("TERM", "xterm");
    stack.run(&["up"]).ok();
    let dir = django_tree(&stack, "static");
    // Slow enough for the bar to be drawn (indicatif draws nothing when TERM is unset or dumb).
    stack.configure(json!({"delay_ms": 400}));
    let run = stack.run_in_terminal(&["sync", dir.to_str().unwrap(), "--jobs", "4"], "");
    stack.configure(json!({"delay_ms": 0}));
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("/13 files"), "{}", run.stdout);
    assert!(run.stdout.contains("13 uploaded"), "{}", run.stdout);

    write(&dir, "index.html", b"<h1>v2</h1>");
    let run = stack.run(&["sync", dir.to_str().unwrap()]).ok();
    assert!(run.stderr.contains("Invalidating 2 paths"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("1 uploaded") && run.stdout.contains("invalidation"),
        "{}",
        run.stdout
    );
    let run = stack.run(&["sync", dir.to_str().unwrap(), "-q"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn a_prefix_keeps_the_sync_within_it() {
    let stack = Stack::new("syncprefix");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    block_on(crate::inspect::put_objects(
        &c,
        b,
        &["media/upload.png", "static-old.txt"],
    ));
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &["--prefix", "static"]).ok();
    assert_eq!(head(&c, b, "static/css/site.5af66c1b1797.css").1, IMMUTABLE);
    write(&dir, "index.html", b"<h1>v2</h1>");
    std::fs::remove_file(dir.join("robots.txt")).unwrap();
    let before = stack.requests().len();
    let out = sync(
        &stack,
        &dir,
        &["--prefix", "static/", "--delete", "--delete-grace", "0"],
    )
    .ok()
    .json();
    assert!(stack.requests()[before..]
        .iter()
        .any(|r| r.op.contains("list-type=2") && r.op.contains("prefix=static")));
    assert_eq!(out["deleted"], 1, "{out}");
    assert_eq!(
        out["invalidation"]["paths"],
        json!(["/static/", "/static/index.html", "/static/robots.txt"])
    );
    let keys = all_keys(&c, b);
    assert!(keys.contains(&"media/upload.png".to_string()) && keys.contains(&"static-old.txt".to_string()));
    assert!(!keys.contains(&"static/robots.txt".to_string()));
}

#[test]
fn a_listing_in_ranges_at_once_misses_no_key() {
    let stack = Stack::new("syncranges");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let dir = stack.dir().join("many");
    for i in 0..1_000 {
        write(&dir, &format!("d{}/f{i:04}.txt", i % 7), format!("file {i}").as_bytes());
    }
    sync(&stack, &dir, &[]).ok();
    // Behind sync's back: another tool's objects before, between and after
    // the ranges the state suggests, and one published file gone.
    let put = |key: &str| {
        block_on(
            c.s3.put_object()
                .bucket(b)
                .key(key)
                .body(b"other".to_vec().into())
                .send(),
        )
        .unwrap();
    };
    for key in ["+first.txt", "d3/f0500-other.txt", "zz/last.txt"] {
        put(key);
    }
    block_on(c.s3.delete_object().bucket(b).key("d5/f0999.txt").send()).unwrap();
    // Later than a run that just finished, so that the listing sent with the
    // state's read is the one kept (see below).
    std::thread::sleep(LATER);

    let before = stack.requests().len();
    let out = sync(&stack, &dir, &["--delete"]).ok().json();
    // Two ranges of DIR's 1,000 keys, listed at once: every key seen.
    assert_eq!(out["listing_pages"], 2, "{out}");
    assert_eq!(out["uploaded"], 1, "the file gone from the bucket goes up again: {out}");
    assert_eq!(
        out["unpublished"], 3,
        "another tool's objects are seen and left alone: {out}"
    );
    assert_eq!(out["unchanged"], 999, "{out}");
    let lists = stack.requests()[before..]
        .iter()
        .filter(|r| r.op.starts_with(&format!("GET /{b}")) && r.op.contains("list-type=2"))
        .count();
    assert_eq!(lists, 2);
    assert_eq!(body(&c, b, "d5/f0999.txt"), b"file 999");
}

/// Longer after a run gave its lease back than the pipeline's LISTED_AFTER.
pub(crate) const LATER: std::time::Duration = std::time::Duration::from_secs(6);

#[test]
fn the_listing_goes_with_the_states_read_unless_a_run_just_finished() {
    let stack = Stack::new("synclistearly");
    stack.run(&["up"]).ok();
    let dir = stack.dir().join("site");
    for i in 0..30 {
        write(&dir, &format!("f{i:02}.txt"), format!("file {i}").as_bytes());
    }
    sync(&stack, &dir, &[]).ok();
    stack.configure(json!({"delay_ms": 500}));
    let b = stack.bucket.clone();
    let is_list = |r: &Request| r.op.starts_with(&format!("GET /{b}")) && r.op.contains("list-type=2");
    let changed = |rel: &str| {
        write(&dir, rel, b"changed");
        let before = stack.requests().len();
        let out = sync(&stack, &dir, &[]).ok().json();
        assert_eq!(out["uploaded"], 1, "{out}");
        assert_eq!(out["unchanged"], 29, "{out}");
        let requests = stack.requests()[before..].to_vec();
        let read = requests
            .iter()
            .find(|r| r.op.starts_with(&format!("GET /{b}/.cdnctl/state.json")))
            .and_then(|r| r.end)
            .expect("the state is read");
        let lists: Vec<f64> = requests.iter().filter(|r| is_list(r)).map(|r| r.start).collect();
        (lists, read, requests)
    };

    // Right after a run gave its lease back, a listing sent with the read
    // could miss that run's last writes: it lists again once the state is read.
    let (lists, read, _) = changed("f00.txt");
    assert!(lists.iter().any(|&start| start >= read), "{lists:?} {read}");

    // Later (as CI's deploys are): one listing, sent with the state's read,
    // in the first round trip, and 5 round trips in a row in all.
    std::thread::sleep(LATER);
    let (lists, read, requests) = changed("f01.txt");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(
        lists[0] < read,
        "listed at {} after the read answered at {read}",
        lists[0]
    );
    let rounds = crate::harness::depth_of_one_stack(&requests);
    assert!(rounds <= 5, "{rounds} round trips in a row: {requests:#?}");
}

#[test]
fn a_collectstatic_change_takes_six_round_trips_in_a_row() {
    let stack = Stack::new("synccollect");
    stack.run(&["up"]).ok();
    let dir = django_tree(&stack, "static");
    sync(&stack, &dir, &[]).ok();
    std::thread::sleep(LATER);
    stack.configure(json!({"delay_ms": 500}));

    // What collectstatic leaves after a stylesheet changed: the original,
    // its new hashed copy, the manifest naming the copy; and robots.txt.
    write(&dir, "css/site.css", b"body{color:teal}");
    write(&dir, "css/site.0a1b2c3d4e5f.css", b"body{color:teal}");
    write(&dir, "robots.txt", b"User-agent: *\nDisallow: /admin/");
    let manifest = json!({"paths": {
        "css/site.css": "css/site.0a1b2c3d4e5f.css",
        "js/app.js": "js/app.0123456789ab.js",
        "img/logo.png": "img/logo.deadbeefcafe.png",
    }, "version": "1.1"});
    write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    let before = stack.requests().len();
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(out["uploaded"], 4, "{out}");
    let requests = stack.requests()[before..].to_vec();
    // The state's read, the listing and the bucket's reads; the
    // distribution's tags (named by the bucket policy); the lease; the
    // hashed copy; the rest with the manifest; the invalidation with the
    // record. The tags come while the listing is served.
    let rounds = crate::harness::depth_of_one_stack(&requests);
    assert!(rounds <= 6, "{rounds} round trips in a row: {requests:#?}");
}
