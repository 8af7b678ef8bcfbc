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
fn at_edge(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string())
        .chain(to_edge())
        .chain(trust_emulator())
        .collect()
}

fn run(stack: &Stack, args: &[&str]) -> Value {
    let args = at_edge(args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stack.run(&args).ok().json()
}

/// The operations of the stack's writes from `from` on.
fn writes_since(stack: &Stack, from: usize) -> Vec<String> {
    stack.writes()[from..].iter().map(|r| r.op.clone()).collect()
}

fn keys_under(stack: &Stack, prefix: &str) -> Vec<String> {
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
    // pages are copied inside the bucket; the shared script costs nothing;
    // one store write switches.
    assert_eq!(
        (
            &published["uploaded"],
            &published["copied"],
            &published["assets_stored"]
        ),
        (&Value::from(2), &Value::from(2), &Value::from(1)),
        "{published:#}"
    );
    let ops = writes_since(&stack, before);
    let files: Vec<&String> = ops.iter().filter(|o| o.contains("/_cdnctl/")).collect();
    let store: Vec<&String> = ops.iter().filter(|o| o.contains("/key-value-stores/")).collect();
    assert_eq!(files.len(), 4, "{ops:#?}");
    assert_eq!(store.len(), 1, "{ops:#?}");
    assert_eq!(ops.len(), 5, "{ops:#?}");

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
    assert!(
        ops[0].contains("/key-value-stores/") && ops[0].ends_with("/keys/live"),
        "{ops:#?}"
    );
    assert_eq!(
        edge_get(&cdn, "/"),
        (200, "home A".into()),
        "rollback returned before the edge served A"
    );

    // A third release, with 2 kept: A, neither live nor the one before C,
    // is pruned (its metadata and files); the assets stay.
    let third = run(&stack, &["deploy", c.to_str().unwrap(), "--json"]);
    let published = &third["stages"][1]["result"];
    let release_c = published["release"].as_str().unwrap().to_string();
    assert_eq!(published["pruned"], serde_json::json!([release_a]), "{published:#}");
    assert_eq!(published["previous"], release_a.as_str());
    assert_eq!(edge_get(&cdn, "/"), (200, "home C".into()));
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{release_a}/")).is_empty());
    assert_eq!(keys_under(&stack, &format!("_cdnctl/releases/{release_b}/")).len(), 3);
    assert!(keys_under(&stack, "_cdnctl/assets/js/lazy.aaaa1111bbbb.js").len() == 1);
    let listed = stack.run(&["releases", "--json"]).ok().json();
    let ids: Vec<&str> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![release_c.as_str(), release_b.as_str()]);
    // Rolling back to a pruned release is refused, with what is kept.
    let refused = stack.run(&["rollback", &release_a]).code(1);
    assert!(refused.stderr.contains("not a kept release"), "{}", refused.stderr);
}
