//! Publishing releases through the edge (`CDN_RELEASES`): `deploy` uploads a
//! new release beside the live one and switches in one store write; the
//! edge serves the old release whole until the switch and the new one whole
//! after it; `rollback` is one write; a page of an older release still loads
//! its hashed chunks; `releases` lists what is kept; pruning keeps assets.
//! The emulator's edge sees a store write only `kvs_propagation_seconds`
//! after it, so a command that returned before the edge served its release
//! would be caught by the first request after it.

use std::path::Path;

use serde_json::Value;

use crate::harness::{block_on, clients, to_edge, trust_emulator, write, Stack};
use crate::releases::edge_get;

/// A site: a home page, an unchanged page and robots, a shared script and
/// a lazily loaded chunk whose hashed name is `chunk`.
fn site(dir: &Path, home: &str, chunk: &str) {
    write(dir, "index.html", home.as_bytes());
    write(dir, "about.html", b"about us");
    write(dir, "robots.txt", b"User-agent: *");
    write(dir, "js/app.0123456789ab.js", b"import('./lazy')");
    write(dir, &format!("js/{chunk}"), format!("chunk {chunk}").as_bytes());
}

/// `cdnctl ARGS` with the flags that reach the emulator's edge.
pub(crate) fn at_edge(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string())
        .chain(to_edge())
        .chain(trust_emulator())
        .collect()
}

pub(crate) fn run(stack: &Stack, args: &[&str]) -> Value {
    let args = at_edge(args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stack.run(&args).ok().json()
}

/// The operations of the stack's writes from `from` on.
fn writes_since(stack: &Stack, from: usize) -> Vec<String> {
    stack.writes()[from..].iter().map(|r| r.op.clone()).collect()
}

/// The kept releases' ids, newest first, as `cdnctl releases --json` lists them.
pub(crate) fn kept(stack: &Stack) -> Vec<String> {
    let listed = stack.run(&["releases", "--json"]).ok().json();
    listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn keys_under(stack: &Stack, prefix: &str) -> Vec<String> {
    let c = clients(stack);
    block_on(c.s3.list_objects_v2().bucket(&stack.bucket).prefix(prefix).send())
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

#[test]
fn deploy_switches_releases_whole_and_rollback_is_one_write() {
    let stack = Stack::new("reldeploy").with("CDN_RELEASES", "2");
    let cdn = stack.run(&["up", "--json"]).ok().json()["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let (a, b, c) = (stack.dir().join("a"), stack.dir().join("b"), stack.dir().join("c"));
    site(&a, "home A", "lazy.aaaa1111bbbb.js");
    site(&b, "home B", "lazy.cccc2222dddd.js");
    site(&c, "home C", "lazy.eeee3333ffff.js");

    // sync would publish in place, which visitors no longer get: refused.
    let refused = stack.run(&["sync", a.to_str().unwrap()]).code(1);
    assert!(refused.stderr.contains("CDN_RELEASES=2"), "{}", refused.stderr);
    assert!(refused.stderr.contains("cdnctl deploy DIR"), "{}", refused.stderr);
    assert!(stack.writes().iter().all(|w| !w.op.contains("_cdnctl")));

    // The first release.
    stack.configure(serde_json::json!({"kvs_propagation_seconds": 2}));
    let first = run(&stack, &["deploy", a.to_str().unwrap(), "--json"]);
    let published = &first["stages"][1]["result"];
    let release_a = published["release"].as_str().unwrap().to_string();
    assert_eq!(published["uploaded"], 5, "{published:#}");
    assert_eq!(edge_get(&cdn, "/"), (200, "home A".into()));

    // The second, with uploads slowed: the edge serves A whole until the
    // switch, then B whole, never A again; the deploy returns only once the
    // edge serves B.
    stack.configure(serde_json::json!({"kvs_propagation_seconds": 2, "delay_ms": 150}));
    let before = stack.writes().len();
    let args = at_edge(&["deploy", b.to_str().unwrap(), "--json"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = stack
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen: Vec<String> = Vec::new();
    while child.try_wait().unwrap().is_none() {
        let (status, body) = edge_get(&cdn, "/");
        assert_eq!(status, 200, "{body}");
        seen.push(body);
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        edge_get(&cdn, "/"),
        (200, "home B".into()),
        "deploy returned before the edge served B"
    );
    assert_eq!(seen.first().map(String::as_str), Some("home A"), "{seen:?}");
    let switched = seen.iter().position(|s| s == "home B").unwrap_or(seen.len());
    assert!(seen[..switched].iter().all(|s| s == "home A"), "{seen:?}");
    assert!(seen[switched..].iter().all(|s| s == "home B"), "{seen:?}");
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    let published = &second["stages"][1]["result"];
    let release_b = published["release"].as_str().unwrap().to_string();
    assert_eq!(published["previous"], release_a.as_str());
    // What changed is sent (the home page, the new chunk); the unchanged
    // pages stay where A holds them (B's route reads them there); the
    // shared script costs nothing; one store write switches.
    assert_eq!(
        (
            &published["uploaded"],
            &published["copied"],
            &published["kept"],
            &published["assets_stored"]
        ),
        (&Value::from(2), &Value::from(0), &Value::from(2), &Value::from(1)),
        "{published:#}"
    );
    assert_eq!(published["shape"], "chained", "{published:#}");
    let ops = writes_since(&stack, before);
    let files: Vec<&String> = ops.iter().filter(|o| o.contains("/_cdnctl/")).collect();
    let store: Vec<&String> = ops.iter().filter(|o| o.contains("/key-value-stores/")).collect();
    assert_eq!(files.len(), 2, "{ops:#?}");
    assert_eq!(store.len(), 1, "{ops:#?}");
    assert_eq!(ops.len(), 3, "{ops:#?}");
    assert_eq!(edge_get(&cdn, "/about.html"), (200, "about us".into()));

    // Skew: a page of A still loads A's lazy chunk once B is live.
    assert_eq!(
        edge_get(&cdn, "/js/lazy.aaaa1111bbbb.js"),
        (200, "chunk lazy.aaaa1111bbbb.js".into())
    );

    // Both listed, B live.
    let listed = stack.run(&["releases", "--json"]).ok().json();
    let ids: Vec<(&str, bool)> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r["live"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids, vec![(release_b.as_str(), true), (release_a.as_str(), false)]);
    assert_eq!(listed["releases"][0]["files"], 5);
    let text = stack.run(&["releases"]).ok();
    let live_line = text.stdout.lines().find(|l| l.starts_with("* ")).unwrap_or_default();
    assert!(live_line.contains(&release_b), "{}", text.stdout);
    assert!(
        listed["releases"][0]["source"].as_str().unwrap().contains('@'),
        "{listed:#}"
    );

    // Rollback: one write of `live`, and it returns once the edge serves A.
    stack.configure(serde_json::json!({"kvs_propagation_seconds": 2}));
    let before = stack.writes().len();
    let back = run(&stack, &["rollback", "--json"]);
    assert_eq!(back["release"], release_a.as_str());
    assert_eq!(back["was"], release_b.as_str());
    assert!(back["edge_seconds"].is_number(), "{back:#}");
    let ops = writes_since(&stack, before);
    assert_eq!(ops.len(), 1, "{ops:#?}");
    // One UpdateKeys (`live` alone), naming the ETag read before the list.
    assert!(
        ops[0].starts_with("POST /key-value-stores/") && ops[0].ends_with("/keys"),
        "{ops:#?}"
    );
    assert_eq!(
        edge_get(&cdn, "/"),
        (200, "home A".into()),
        "rollback returned before the edge served A"
    );

    // A third release, with 2 kept: nothing is pruned, since A, past the
    // newest 2, was live when C was published (where a rollback from C
    // goes); C changed only its home page, so its route reads A's files.
    let third = run(&stack, &["deploy", c.to_str().unwrap(), "--json"]);
    let published = &third["stages"][1]["result"];
    let release_c = published["release"].as_str().unwrap().to_string();
    assert_eq!(published["pruned"], serde_json::json!([]), "{published:#}");
    assert_eq!(published["previous"], release_a.as_str());
    assert_eq!(edge_get(&cdn, "/"), (200, "home C".into()));
    assert_eq!(edge_get(&cdn, "/robots.txt"), (200, "User-agent: *".into()));

    // A fourth: B and A go (their records); B's file goes too, since no
    // kept route reads it, and A's stay, since C's route reads them; the
    // assets stay.
    let d = stack.dir().join("d");
    site(&d, "home D", "lazy.gggg4444hhhh.js");
    let fourth = run(&stack, &["deploy", d.to_str().unwrap(), "--json"]);
    let published = &fourth["stages"][1]["result"];
    let release_d = published["release"].as_str().unwrap().to_string();
    let mut pruned: Vec<String> = serde_json::from_value(published["pruned"].clone()).unwrap();
    pruned.sort();
    assert_eq!(pruned, [release_a.clone(), release_b.clone()], "{published:#}");
    assert_eq!(published["deleted"], 1, "{published:#}");
    assert_eq!(edge_get(&cdn, "/"), (200, "home D".into()));
    assert_eq!(keys_under(&stack, &format!("_cdnctl/releases/{release_a}/")).len(), 3);
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{release_b}/")).is_empty());
    assert_eq!(keys_under(&stack, &format!("_cdnctl/releases/{release_c}/")).len(), 1);
    assert!(keys_under(&stack, "_cdnctl/assets/js/lazy.aaaa1111bbbb.js").len() == 1);
    let ids = kept(&stack);
    assert_eq!(ids, [release_d.clone(), release_c.clone()]);
    // Rolling back to a pruned release is refused, with what is kept.
    let refused = stack.run(&["rollback", &release_a]).code(1);
    assert!(refused.stderr.contains("not a kept release"), "{}", refused.stderr);
}

/// A site whose home page names its hashed scripts and links `docs/`.
fn linked_site(dir: &Path, home: &str, chunk: &str) {
    let page = format!(
        r#"<h1>{home}</h1><script type="module" src="/js/app.0123456789ab.js"></script><script src="js/{chunk}"></script><a href="docs/">Docs</a>"#
    );
    write(dir, "index.html", page.as_bytes());
    write(dir, "docs/index.html", b"<h1>docs</h1>");
    write(dir, "robots.txt", b"User-agent: *");
    write(dir, "js/app.0123456789ab.js", b"import('./lazy')");
    write(dir, &format!("js/{chunk}"), format!("chunk {chunk}").as_bytes());
}

/// The probes of a `check --json`: (probe, target, ok, message).
fn probes_of(report: &Value) -> Vec<(String, String, bool, String)> {
    report["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["probe"].as_str().unwrap().to_string(),
                p["target"].as_str().unwrap().to_string(),
                p["ok"].as_bool().unwrap(),
                p["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn check_probes_the_live_release_at_the_paths_visitors_use() {
    let stack = Stack::new("relcheck").with("CDN_RELEASES", "3");
    stack.run(&["up"]).ok();
    let check = || {
        let args = at_edge(&["check", "--json"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stack.run_without_writes(&args)
    };

    // No release yet: a plain failure, with the command that fixes it.
    let none = check().code(6);
    let release = probes_of(&none.json())
        .into_iter()
        .find(|p| p.0 == "release")
        .expect("a release probe");
    assert!(!release.2, "{release:?}");
    assert!(release.3.contains("no release is live"), "{release:?}");
    assert!(release.3.contains("`cdnctl deploy DIR`"), "{release:?}");
    assert!(none
        .stderr
        .lines()
        .any(|l| l.starts_with('✗') && l.contains("no release is live")));

    // Deploy runs check once the release is live, and names it a stage.
    let (a, b) = (stack.dir().join("a"), stack.dir().join("b"));
    linked_site(&a, "home A", "lazy.aaaa1111bbbb.js");
    linked_site(&b, "home B", "lazy.cccc2222dddd.js");
    run(&stack, &["deploy", a.to_str().unwrap(), "--json"]);
    let deployed = run(&stack, &["deploy", b.to_str().unwrap(), "--json"]);
    let stages: Vec<&str> = deployed["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["up", "sync", "check"], "{deployed:#}");
    let release_b = deployed["stages"][1]["result"]["release"].as_str().unwrap().to_string();
    let checked = &deployed["stages"][2]["result"];
    assert_eq!(checked["ok"], true, "{checked:#}");
    assert_eq!(checked["release"], release_b.as_str(), "{checked:#}");

    // check alone: B's files, at the paths a visitor uses, never the keys.
    let passed = check().ok();
    let report = passed.json();
    assert_eq!(report["release"], release_b.as_str(), "{report:#}");
    let probes = probes_of(&report);
    assert!(probes.iter().all(|p| !p.1.contains("_cdnctl")), "{probes:#?}");
    let has = |probe: &str, end: &str| probes.iter().any(|p| p.0 == probe && p.1.ends_with(end) && p.2);
    for path in [
        "/index.html",
        "/docs/index.html",
        "/robots.txt",
        // Shared assets, named by B's home page.
        "/js/app.0123456789ab.js",
        "/js/lazy.cccc2222dddd.js",
    ] {
        assert!(has("object", path), "{path} not probed: {probes:#?}");
    }
    assert!(
        !probes.iter().any(|p| p.1.ends_with("/js/lazy.aaaa1111bbbb.js")),
        "A's chunk is not B's: {probes:#?}"
    );
    assert!(has("root", "/"), "{probes:#?}");
    // The function serves `docs/`: a pass, not the in-place warning.
    let directory = probes.iter().find(|p| p.0 == "directory").expect("a directory probe");
    assert!(directory.1.ends_with("/docs/") && directory.2, "{directory:?}");
    assert!(
        report["probes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p.get("warning").is_none()),
        "{report:#}"
    );

    // B broken behind cdnctl's back: its chunk gone from the bucket. check
    // fails, naming the path a visitor requests.
    let c = clients(&stack);
    let key = "_cdnctl/assets/js/lazy.cccc2222dddd.js";
    block_on(c.s3.delete_object().bucket(&stack.bucket).key(key).send()).unwrap();
    let broken = check().code(6);
    let failed: Vec<_> = probes_of(&broken.json()).into_iter().filter(|p| !p.2).collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let (probe, target, _, message) = &failed[0];
    assert_eq!(probe, "object");
    assert!(target.ends_with("/js/lazy.cccc2222dddd.js"), "{target}");
    assert!(message.contains("named by index.html"), "{message}");
    assert!(message.contains("`cdnctl deploy DIR`"), "{message}");
    assert!(
        broken
            .stderr
            .lines()
            .any(|l| l.starts_with('✗') && l.contains("/js/lazy.cccc2222dddd.js")),
        "{}",
        broken.stderr
    );
}
