//! `cdnctl sync` across deploys, against the emulator: what re-runs keep,
//! what an empty or wrong DIR may not delete, one header fingerprint per
//! prefix, invalidation limits shared with the deploys before, two syncs at
//! once, and cdnctl's own state under the reserved prefix.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{block_on, emulator, stack_up, write, Clients, Stack};
use crate::inspect::{distribution_of, invalidate};
use crate::sync::{all_keys, body, sync};

/// A Django-like build of `version`: one hashed script named by the manifest.
fn build(stack: &Stack, name: &str, version: &str) -> PathBuf {
    let dir = stack.dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let hashed = format!("js/app.{}.js", hash_of(version));
    write(&dir, "js/app.js", format!("app {version}").as_bytes());
    write(&dir, &hashed, format!("app {version}").as_bytes());
    write(&dir, "index.html", format!("<h1>{version}</h1>").as_bytes());
    write(&dir, "robots.txt", b"User-agent: *");
    let manifest = json!({"paths": {"js/app.js": hashed}, "version": "1.1"});
    write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    dir
}

/// A 12-hex-digit content hash, as Django writes it.
fn hash_of(version: &str) -> String {
    let n = version
        .bytes()
        .fold(0x0123_4567_89ab_u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    format!("{:012x}", n & 0xffff_ffff_ffff)
}

/// The prefix's state object, as JSON (Null when there is none).
pub fn state(c: &Clients, bucket: &str, prefix: &str) -> Value {
    block_on(async {
        match c
            .s3
            .get_object()
            .bucket(bucket)
            .key(format!("{prefix}.cdnctl/state.json"))
            .send()
            .await
        {
            Ok(out) => serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap(),
            Err(_) => Value::Null,
        }
    })
}

fn put_state(c: &Clients, bucket: &str, prefix: &str, state: &Value) {
    block_on(
        c.s3.put_object()
            .bucket(bucket)
            .key(format!("{prefix}.cdnctl/state.json"))
            .body(state.to_string().into_bytes().into())
            .send(),
    )
    .unwrap();
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn re_runs_of_sync_delete_keep_what_the_live_app_uses_and_grace_counts_from_superseding() {
    let (stack, c) = stack_up("syncrerun");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let v1 = format!("js/app.{}.js", hash_of("v1"));
    // A grace long enough that the four syncs between v2 and v3 fit in it on
    // a busy machine: the test must not depend on how fast they run.
    let grace = ["--delete", "--delete-grace", "12s"];

    sync(&stack, &build(&stack, "v1", "v1"), &grace).ok();
    // v1's script is older than the grace when v2 replaces it.
    std::thread::sleep(Duration::from_secs(13));
    let v2 = build(&stack, "v2", "v2");
    let out = sync(&stack, &v2, &grace).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(0), Some(1)),
        "{out}"
    );
    // CI retries and second runs before the app rolled out: v1's script
    // stays, whatever its upload date, however often.
    for _ in 0..3 {
        let out = sync(&stack, &v2, &grace).ok().json();
        assert_eq!(out["deleted"], 0, "{out}");
        assert!(all_keys(&c, b).contains(&v1), "a re-run deleted what the live app uses");
    }
    let s = state(&c, b, "");
    assert_eq!(
        s["deploys"].as_array().unwrap().len(),
        2,
        "re-runs are not deploys: {s}"
    );

    // v3 with --keep-deploys 2: v1 is now two deploys back, but it was
    // superseded less than the grace ago (it was uploaded long before): it stays.
    let v3 = build(&stack, "v3", "v3");
    let keep2 = ["--delete", "--delete-grace", "12s", "--keep-deploys", "2"];
    let out = sync(&stack, &v3, &keep2).ok().json();
    assert_eq!(out["deleted"], 0, "{out}");
    assert!(all_keys(&c, b).contains(&v1));
    // Once the grace has passed since v2 superseded it, v1's script goes; v2's stays.
    std::thread::sleep(Duration::from_secs(12));
    let out = sync(&stack, &v3, &keep2).ok().json();
    assert_eq!(out["deleted"], 1, "{out}");
    let now_keys = all_keys(&c, b);
    assert!(!now_keys.contains(&v1), "{now_keys:?}");
    assert!(
        now_keys.contains(&format!("js/app.{}.js", hash_of("v2"))),
        "{now_keys:?}"
    );
    let s = state(&c, b, "");
    assert!(s["superseded"].get(&v1).is_none(), "deleted keys leave the record: {s}");

    // Bad values are usage errors naming the flag the user wrote.
    let run = sync(&stack, &v3, &["--delete", "--keep-deploys", "1"]).code(2);
    assert!(run.stderr.starts_with("cdnctl: --keep-deploys:"), "{}", run.stderr);
}

#[test]
fn an_empty_or_wrong_dir_does_not_wipe_the_site() {
    let (stack, c) = stack_up("syncempty");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let site = build(&stack, "site", "v1");
    write(&site, "css/a.css", b"a");
    write(&site, "css/b.css", b"b");
    sync(&stack, &site, &[]).ok();
    let before = all_keys(&c, b);

    // An empty DIR (collectstatic never ran): refused, with or without
    // --delete, naming the directory, before any request.
    let empty = stack.dir().join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    for extra in [&[][..], &["--delete"][..]] {
        let requests = stack.requests().len();
        let run = sync(&stack, &empty, extra).code(2);
        assert!(
            run.stderr.contains("DIR:") && run.stderr.contains("holds no files") && run.stderr.contains("empty"),
            "{}",
            run.stderr
        );
        assert_eq!(stack.requests().len(), requests);
    }
    // A wrong DIR (a subdirectory of the build): most of the site would go. Refused.
    let run = stack
        .run_without_writes(&["sync", site.join("css").to_str().unwrap(), "--delete"])
        .code(1);
    assert!(
        run.stderr.contains("--max-deletes")
            && run.stderr.contains("6 of the 6 files")
            && run.stderr.contains("not content-hashed")
            && run.stderr.contains("50%"),
        "{}",
        run.stderr
    );
    assert_eq!(all_keys(&c, b), before);
    // An absolute cap works too.
    write(&site, "extra.txt", b"x");
    sync(&stack, &site, &[]).ok();
    std::fs::remove_file(site.join("extra.txt")).unwrap();
    std::fs::remove_file(site.join("robots.txt")).unwrap();
    let run = stack
        .run_without_writes(&["sync", site.to_str().unwrap(), "--delete", "--max-deletes", "1"])
        .code(1);
    assert!(run.stderr.contains("--max-deletes 1"), "{}", run.stderr);
    // Said explicitly: everything under the prefix may go, but for the
    // content-hashed script the deployed app still names.
    let out = sync(
        &stack,
        &empty,
        &["--delete", "--max-deletes", "100%", "--delete-grace", "0"],
    )
    .ok()
    .json();
    assert_eq!(
        (out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(7), Some(1)),
        "{out}"
    );
    let hashed = format!("js/app.{}.js", hash_of("v1"));
    assert_eq!(all_keys(&c, b), vec![".cdnctl/state.json".to_string(), hashed]);
}

#[test]
fn each_prefix_keeps_its_own_header_fingerprint() {
    let (mut stack, c) = stack_up("syncfp");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let site = build(&stack, "site", "v1");
    sync(&stack, &site, &["--prefix", "a"]).ok();
    sync(&stack, &site, &["--prefix", "b"]).ok();
    let head = |key: &str| {
        block_on(c.s3.head_object().bucket(b).key(key).send())
            .unwrap()
            .cache_control()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(head("b/robots.txt"), "public, max-age=60, must-revalidate");

    // The rules change: each prefix's files are corrected when it is synced,
    // not only the first prefix synced after the change.
    stack.set("CDN_CACHE_RULES", "*.txt=no-cache");
    let out = sync(&stack, &site, &["--prefix", "a"]).ok().json();
    assert_eq!(out["headers_updated"], 1, "{out}");
    let out = sync(&stack, &site, &["--prefix", "b"]).ok().json();
    assert_eq!(out["headers_updated"], 1, "{out}");
    assert_eq!(head("a/robots.txt"), "no-cache");
    assert_eq!(head("b/robots.txt"), "no-cache");
    let (a, bb) = (state(&c, b, "a/"), state(&c, b, "b/"));
    assert!(
        a["fingerprint"].is_string() && a["fingerprint"] == bb["fingerprint"],
        "{a} {bb}"
    );
    // Each recorded: the next runs look at no header.
    for prefix in ["a", "b"] {
        let out = sync(&stack, &site, &["--prefix", prefix]).ok().json();
        assert_eq!(out["headers_checked"], 0, "{out}");
    }
}

#[test]
fn invalidations_wait_for_room_left_by_the_deploys_before() {
    let (mut stack, c) = stack_up("syncroom");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let site = build(&stack, "site", "v1");
    sync(&stack, &site, &[]).ok();
    // A deploy minutes ago left 2,999 paths in progress on the distribution.
    let inspector = format!("INSPECT{}", stack.key);
    emulator().control(
        "POST",
        "/configure",
        &json!({"key": inspector, "invalidation_seconds": 6}).to_string(),
    );
    let dist = block_on(distribution_of(&c, b)).unwrap().id;
    let paths: Vec<String> = (0..2999).map(|i| format!("/old/{i}.html")).collect();
    block_on(invalidate(&c, &dist, "earlier-deploy", paths));
    write(&site, "index.html", b"<h1>v2</h1>");
    std::fs::remove_file(site.join("robots.txt")).unwrap();

    // Out of budget: the files are live, the invalidation is kept for the
    // next run, and nothing is deleted.
    stack.set("CDN_WAIT_MINUTES", "0.01");
    let run = sync(&stack, &site, &["--delete", "--delete-grace", "0"]).code(1);
    assert!(run.stderr.contains("TooManyInvalidationsInProgress"), "{}", run.stderr);
    assert!(run.stderr.contains("kept in .cdnctl/state.json"), "{}", run.stderr);
    assert!(all_keys(&c, b).contains(&"robots.txt".to_string()));
    let s = state(&c, b, "");
    assert_eq!(s["pending"]["paths"], json!(["/", "/index.html", "/robots.txt"]), "{s}");
    assert_eq!(s["lease"], Value::Null, "{s}");

    // Within the budget: it waits for room, then invalidates and deletes.
    stack.unset("CDN_WAIT_MINUTES");
    let run = sync(&stack, &site, &["--delete", "--delete-grace", "0"]).ok();
    assert!(run.stderr.contains("waiting for room"), "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["deleted"], 1, "{out}");
    assert!(out["invalidation"]["id"].is_string(), "{out}");
    assert!(!all_keys(&c, b).contains(&"robots.txt".to_string()));
    let s = state(&c, b, "");
    assert_eq!((&s["pending"], &s["lease"]), (&Value::Null, &Value::Null), "{s}");
}

/// Requests signed with `key` and answered (not held by `stall_after_writes`):
/// (operation, is write, start, end).
fn requests_of(key: &str) -> Vec<(String, bool, f64, f64)> {
    let body = emulator().control("GET", &format!("/requests?key={key}"), "");
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    list.iter()
        .filter(|r| r["stalled"] != true)
        .map(|r| {
            (
                r["op"].as_str().unwrap_or("").to_string(),
                r["write"].as_bool().unwrap_or(false),
                r["start"].as_f64().unwrap_or(0.0),
                r["end"].as_f64().unwrap_or(f64::MAX),
            )
        })
        .collect()
}

#[test]
fn a_second_sync_waits_for_the_first_and_names_it() {
    let (stack, c) = stack_up("synclease");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    sync(&stack, &build(&stack, "v1", "v1"), &[]).ok();
    let (v2, v3) = (build(&stack, "v2", "v2"), build(&stack, "v3", "v3"));

    // The first holds the lease, then hangs on its first upload a while.
    stack.configure(json!({"stall_after_writes": 1, "stall_seconds": 3}));
    let mut first = stack
        .command(&["sync", v2.to_str().unwrap(), "--jobs", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::inspect::wait_for_stall(&stack, &mut first);
    stack.configure(json!({"stall_after_writes": null}));
    // The second (another CI job, its own credentials) starts meanwhile.
    let other_key = format!("{}B", stack.key);
    let second = stack
        .command(&["sync", v3.to_str().unwrap()])
        .env("AWS_ACCESS_KEY_ID", &other_key)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let first_pid = first.id();
    assert!(first.wait().unwrap().success());
    let second = second.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains("another sync is publishing here") && stderr.contains(&format!("pid {first_pid}")),
        "{stderr}"
    );
    // The second wrote nothing until the first had finished.
    let first_end = requests_of(&stack.key)
        .iter()
        .filter(|r| r.1)
        .map(|r| r.3)
        .fold(0.0, f64::max);
    let second_start = requests_of(&other_key)
        .iter()
        .filter(|r| r.1)
        .map(|r| r.2)
        .fold(f64::MAX, f64::min);
    assert!(
        second_start >= first_end,
        "the second wrote at {second_start}, the first until {first_end}"
    );
    // And the bucket is the second's deploy, entirely.
    assert_eq!(body(&c, b, "index.html"), b"<h1>v3</h1>");
    let s = state(&c, b, "");
    assert_eq!((&s["lease"], &s["pending"]), (&Value::Null, &Value::Null), "{s}");
}

#[test]
fn a_live_lease_stops_a_sync_with_its_holder_and_a_stale_one_is_taken_over() {
    let (mut stack, c) = stack_up("syncstale");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let site = build(&stack, "site", "v1");
    sync(&stack, &site, &[]).ok();
    write(&site, "index.html", b"<h1>v2</h1>");
    let mut s = state(&c, b, "");
    let t = now();
    s["lease"] = json!({
        "holder": "GitHub Actions run octo/app/4242 (attempt 1, job deploy) on runner-7",
        "token": "runner-7-1-1", "host": "runner-7", "pid": 1,
        "ci_run": "octo/app/4242", "attempt": 1,
        "since": t - 30, "expires": t + 600,
    });
    put_state(&c, b, "", &s);

    stack.set("CDN_WAIT_MINUTES", "0.02");
    let before = stack.writes().len();
    let run = sync(&stack, &site, &[]).code(1);
    assert!(
        run.stderr.contains("GitHub Actions run octo/app/4242") && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(stack.writes().len(), before, "{:?}", &stack.writes()[before..]);
    // A dry run does not wait: it warns.
    let run = stack
        .run_without_writes(&["sync", site.to_str().unwrap(), "--dry-run"])
        .code(3);
    assert!(run.stderr.contains("this plan may change"), "{}", run.stderr);

    // The holder died: its lease expired (no renewal for 5 minutes). Taken over.
    s["lease"]["expires"] = json!(t - 1);
    put_state(&c, b, "", &s);
    let run = sync(&stack, &site, &[]).ok();
    assert!(run.stderr.contains("taking over the lease"), "{}", run.stderr);
    assert_eq!(run.json()["uploaded"], 1);
    assert_eq!(state(&c, b, "")["lease"], Value::Null);
}

#[test]
fn sync_state_stays_under_the_reserved_prefix_with_no_extra_writes() {
    let (stack, c) = stack_up("syncreserved");
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let site = build(&stack, "site", "v1");
    sync(&stack, &site, &["--prefix", "static"]).ok();
    write(&site, "index.html", b"<h1>v2</h1>");
    let before = stack.requests().len();
    let out = sync(&stack, &site, &["--prefix", "static"]).ok().json();
    assert!(out["invalidation"]["id"].is_string(), "{out}");
    let requests = stack.requests()[before..].to_vec();
    let writes: Vec<&str> = requests.iter().filter(|r| r.write).map(|r| r.op.as_str()).collect();
    // The upload, the invalidation and the state twice (lease taken with the
    // pending invalidation, given back): no note PUT and DELETE besides.
    let state_key = format!("/{b}/static/.cdnctl/state.json");
    assert_eq!(
        writes.iter().filter(|w| w.contains(&state_key)).count(),
        2,
        "{writes:?}"
    );
    assert_eq!(writes.len(), 4, "{writes:?}");
    assert!(!writes.iter().any(|w| w.starts_with("DELETE")), "{writes:?}");
    assert!(all_keys(&c, b)
        .iter()
        .filter(|k| k.contains(".cdnctl/"))
        .all(|k| k == "static/.cdnctl/state.json"));

    // A sync of the root, even one told to delete everything, never deletes
    // another prefix's files nor its state.
    let out = sync(
        &stack,
        &build(&stack, "root", "r1"),
        &[
            "--delete",
            "--delete-unpublished",
            "--max-deletes",
            "100%",
            "--delete-grace",
            "0",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        (out["deleted"].as_u64(), out["unpublished"].as_u64()),
        (Some(0), Some(5)),
        "another prefix's files are left alone: {out}"
    );
    let now_keys = all_keys(&c, b);
    assert_eq!(
        now_keys.iter().filter(|k| k.starts_with("static/")).count(),
        6,
        "{now_keys:?}"
    );
}
