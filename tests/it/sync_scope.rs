//! Which keys `cdnctl sync --delete` may delete, and when: only what this
//! prefix's syncs published (never another site's prefix nor the app's
//! uploads), after the grace for every file, judged by --max-deletes on the
//! files that are not content-hashed; and a run whose lease was taken over
//! stops before its next stage.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::harness::{block_on, clients, Clients, Stack};
use crate::sync::{all_keys, body, sync, write};
use crate::sync_deploys::state;

fn put(c: &Clients, bucket: &str, key: &str, content: &[u8]) {
    block_on(
        c.s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(content.to_vec().into())
            .send(),
    )
    .unwrap();
}

fn put_state(c: &Clients, bucket: &str, prefix: &str, state: &Value) {
    put(
        c,
        bucket,
        &format!("{prefix}.cdnctl/state.json"),
        state.to_string().as_bytes(),
    );
}

fn tree(stack: &Stack, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = stack.dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for (rel, content) in files {
        write(&dir, rel, content.as_bytes());
    }
    dir
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

fn gone(dir: &Path, rel: &str) {
    std::fs::remove_file(dir.join(rel)).unwrap();
}

#[test]
fn a_root_sync_deletes_neither_another_prefix_nor_the_apps_uploads() {
    let stack = Stack::new("scoperoot");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let blog = tree(
        &stack,
        "blog",
        &[("index.html", "blog"), ("post.html", "post"), ("style.css", "b{}")],
    );
    sync(&stack, &blog, &["--prefix", "blog"]).ok();
    let root = tree(
        &stack,
        "root",
        &[
            ("index.html", "home"),
            ("about.html", "about"),
            ("a.css", "a"),
            ("b.css", "b"),
            ("c.css", "c"),
            ("robots.txt", "User-agent: *"),
        ],
    );
    sync(&stack, &root, &[]).ok();
    // The app's uploads (django-storages), beside the static files.
    put(&c, b, "media/uploads/photo.jpg", b"jpeg");
    put(&c, b, "media/uploads/cv.pdf", b"%PDF");
    let before = sorted(all_keys(&c, b));

    // Nothing gone from DIR that cdnctl published here: nothing deleted, and
    // what it did not publish is left alone, said in one line (the keys with -v).
    let run = sync(&stack, &root, &["--delete", "--delete-grace", "0", "-v"]).ok();
    let out = run.json();
    assert_eq!(
        (out["deleted"].as_u64(), out["unpublished"].as_u64()),
        (Some(0), Some(5)),
        "{out}"
    );
    assert!(
        run.stderr.contains("5 object(s) under")
            && run
                .stderr
                .contains("3 of them under prefixes synced on their own: left alone")
            && run.stderr.contains("left alone: media/uploads/photo.jpg"),
        "{}",
        run.stderr
    );
    assert_eq!(sorted(all_keys(&c, b)), before);

    // What cdnctl published and DIR lost goes; the rest stays.
    gone(&root, "about.html");
    let out = sync(&stack, &root, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(out["deleted"], 1, "{out}");
    let keys = all_keys(&c, b);
    assert!(!keys.contains(&"about.html".to_string()), "{keys:?}");
    let expected: Vec<String> = before.iter().filter(|k| *k != "about.html").cloned().collect();
    assert_eq!(sorted(keys), expected);

    // Said explicitly, the unpublished go too, but never another prefix's files.
    let run = sync(&stack, &root, &["--delete-unpublished"]).code(2);
    assert!(
        run.stderr.contains("--delete-unpublished: only with --delete"),
        "{}",
        run.stderr
    );
    let out = sync(
        &stack,
        &root,
        &[
            "--delete",
            "--delete-unpublished",
            "--delete-grace",
            "0",
            "--max-deletes",
            "100%",
        ],
    )
    .ok()
    .json();
    assert_eq!(
        (out["deleted"].as_u64(), out["unpublished"].as_u64()),
        (Some(2), Some(3)),
        "{out}"
    );
    let keys = sorted(all_keys(&c, b));
    assert!(keys.iter().all(|k| !k.starts_with("media/")), "{keys:?}");
    for key in [
        "blog/index.html",
        "blog/post.html",
        "blog/style.css",
        "blog/.cdnctl/state.json",
    ] {
        assert!(keys.contains(&key.to_string()), "{key}: {keys:?}");
    }
}

#[test]
fn keys_published_before_the_record_are_left_alone() {
    let stack = Stack::new("scopemigrate");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let files = [("index.html", "i"), ("a.html", "a"), ("b.html", "b"), ("c.html", "c")];
    let site = tree(&stack, "site", &files);
    sync(&stack, &site, &[]).ok();
    // The state as an earlier version wrote it: no record of what it published.
    let mut s = state(&c, b, "");
    assert!(s["published"][""].as_array().is_some_and(|a| a.len() == 4), "{s}");
    s.as_object_mut().unwrap().remove("published");
    put_state(&c, b, "", &s);

    // a.html left DIR before this version ran: no proof cdnctl published it.
    gone(&site, "a.html");
    let out = sync(&stack, &site, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["unpublished"].as_u64()),
        (Some(0), Some(1)),
        "{out}"
    );
    assert!(all_keys(&c, b).contains(&"a.html".to_string()));
    // b.html was in DIR and in the bucket when that run ran: published by it.
    gone(&site, "b.html");
    let out = sync(&stack, &site, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(out["deleted"], 1, "{out}");
    assert_eq!(
        sorted(all_keys(&c, b)),
        vec![".cdnctl/state.json", "a.html", "c.html", "index.html"]
    );
}

/// A Vite build: index.html, robots.txt, favicon.ico and 21 hashed assets.
fn spa(stack: &Stack, name: &str, version: &str) -> PathBuf {
    let dir = stack.dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    write(&dir, "index.html", format!("<h1>{version}</h1>").as_bytes());
    write(&dir, "robots.txt", b"User-agent: *");
    write(&dir, "favicon.ico", b"ico");
    for i in 0..21 {
        let hash = format!("B{version}{i:02}x_9q");
        write(
            &dir,
            &format!("assets/chunk{i}-{}.js", &hash[..8]),
            format!("{version} {i}").as_bytes(),
        );
    }
    dir
}

#[test]
fn a_wrong_dir_of_a_mostly_hashed_site_is_refused() {
    let stack = Stack::new("scopewrong");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let v1 = spa(&stack, "v1", "1");
    let out = sync(&stack, &v1, &["--prefix", "spa"]).ok().json();
    assert_eq!(out["uploaded"], 24, "{out}");
    let before = sorted(all_keys(&c, b));

    // DIR is the assets directory: the three pages would go. Refused, with
    // or without a grace (they would go later), before any write.
    for grace in ["0", "7d"] {
        let run = stack
            .run_without_writes(&[
                "sync",
                v1.join("assets").to_str().unwrap(),
                "--prefix",
                "spa",
                "--delete",
                "--delete-grace",
                grace,
            ])
            .code(1);
        assert!(
            run.stderr.contains("--max-deletes: 3 of the 3 files") && run.stderr.contains("not content-hashed"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(sorted(all_keys(&c, b)), before);

    // A routine deploy replaces every hashed asset: allowed.
    let v2 = spa(&stack, "v2", "2");
    let out = sync(&stack, &v2, &["--prefix", "spa", "--delete"]).ok().json();
    assert_eq!(
        (out["uploaded"].as_u64(), out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(22), Some(0), Some(21)),
        "{out}"
    );
}

#[test]
fn every_file_gone_from_dir_gets_the_grace() {
    let stack = Stack::new("scopegrace");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    // A custom bundler's chunks: hashed, but not in a layout cdnctl recognises.
    let old = "js/pages/index-3f1c2b7a9d0e4f21.js";
    let new = "js/pages/index-8a7b6c5d4e3f2a10.js";
    let v1 = tree(
        &stack,
        "v1",
        &[
            ("index.html", "v1"),
            ("about.html", "about"),
            ("robots.txt", "r"),
            (old, "v1"),
        ],
    );
    sync(&stack, &v1, &[]).ok();
    let v2 = tree(
        &stack,
        "v2",
        &[
            ("index.html", "v2"),
            ("about.html", "about"),
            ("robots.txt", "r"),
            (new, "v2"),
        ],
    );
    // Long enough that the two re-runs below fit in it on a busy machine
    // (tests run four at a time): the test must not depend on how fast they run.
    let grace = ["--delete", "--delete-grace", "10s"];
    let mut found_gone_by = None;
    // Pages cached at the edge and open tabs still load the old chunk: kept,
    // however often re-run within the grace.
    for _ in 0..2 {
        let out = sync(&stack, &v2, &grace).ok().json();
        assert_eq!(
            (out["deleted"].as_u64(), out["kept"].as_u64()),
            (Some(0), Some(1)),
            "{out}"
        );
        assert!(all_keys(&c, b).contains(&old.to_string()));
        // The first of these runs found it gone, and had by the time it returned.
        found_gone_by.get_or_insert_with(std::time::Instant::now);
    }
    let s = state(&c, b, "");
    assert_eq!(s["superseded"][old]["hashed"], false, "{s}");
    // Once the grace has passed since the first run found it gone: deleted and invalidated.
    std::thread::sleep(std::time::Duration::from_secs(11).saturating_sub(found_gone_by.unwrap().elapsed()));
    let out = sync(&stack, &v2, &grace).ok().json();
    assert_eq!(out["deleted"], 1, "{out}");
    assert_eq!(out["invalidation"]["paths"], json!([format!("/{old}")]), "{out}");
    assert!(!all_keys(&c, b).contains(&old.to_string()));
    assert!(state(&c, b, "")["superseded"].get(old).is_none());
}

#[test]
fn a_run_whose_lease_was_taken_over_stops_before_its_next_stage() {
    let stack = Stack::new("scopelease");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let bucket = stack.bucket.clone();
    let b = bucket.as_str();
    let page = |v: &str| format!("<script src=/app.{v}0000000a.js></script>");
    let v1 = tree(&stack, "v1", &[("index.html", &page("1")), ("app.10000000a.js", "v1")]);
    sync(&stack, &v1, &[]).ok();
    let v2 = tree(&stack, "v2", &[("index.html", &page("2")), ("app.20000000a.js", "v2")]);

    // The run takes the lease, then stalls on its first upload (the hashed
    // file) past the time its lease is known to be its own (10 s)...
    stack.configure(json!({"stall_after_writes": 1, "stall_seconds": 12}));
    let mut run = stack
        .command(&["sync", v2.to_str().unwrap(), "--jobs", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    crate::inspect::wait_for_stall(&stack, &mut run);
    stack.configure(json!({"stall_after_writes": null}));
    // ...while another run, finding its lease expired, takes it over.
    let mut s = state(&c, b, "");
    assert!(s["lease"].is_object(), "{s}");
    let t = now();
    s["lease"] = json!({
        "holder": "ci@runner-9 (pid 9)", "token": "runner-9-9-9", "host": "runner-9", "pid": 9,
        "since": t, "expires": t + 300,
    });
    put_state(&c, b, "", &s);

    let out = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("another sync took over this run's lease") && stderr.contains("nothing more was uploaded"),
        "{stderr}"
    );
    // The stalled upload finished; the next stage never started.
    assert_eq!(body(&c, b, "app.20000000a.js"), b"v2");
    assert_eq!(body(&c, b, "index.html"), page("1").as_bytes());
    assert_eq!(state(&c, b, "")["lease"]["token"], "runner-9-9-9");
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
