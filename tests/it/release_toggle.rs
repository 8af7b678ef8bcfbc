//! Turning releases on for a live site that publishes in place, and off
//! again, with the site serving throughout (issue: "turning releases on for
//! a live in-place site (and off again) keeps the site serving"). The edge
//! is watched while each command runs: a visitor gets the old site whole,
//! then the new one whole, never the bucket's stale files or an error.

use std::path::Path;

use serde_json::Value;

use crate::harness::{block_on, clients, write, Stack};
use crate::inspect::distribution_of;
use crate::release_deploy::{at_edge, run};
use crate::releases::edge_get;

fn site(dir: &Path, home: &str) {
    write(dir, "index.html", home.as_bytes());
    write(dir, "about.html", format!("about {home}").as_bytes());
    write(dir, "css/site.0123456789ab.css", b"body{}");
}

/// The page watched: in place there is no DefaultRootObject.
const PAGE: &str = "/about.html";

/// Runs `cdnctl ARGS` (reaching the emulator's edge) while asking the edge
/// for `PAGE`: the bodies seen, in order, and the command's JSON.
fn watched(stack: &Stack, cdn: &str, args: &[&str]) -> (Vec<String>, Value) {
    // `deploy` reaches the emulator's edge; `up` never asks it.
    let args: Vec<String> = match args[0] {
        "deploy" => at_edge(args),
        _ => args.iter().map(|a| a.to_string()).collect(),
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = stack
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen: Vec<String> = Vec::new();
    while child.try_wait().unwrap().is_none() {
        let (status, body) = edge_get(cdn, PAGE);
        assert_eq!(status, 200, "{body} after {seen:?}");
        if seen.last() != Some(&body) {
            seen.push(body);
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (seen, json)
}

/// The viewer-request functions on the distribution's default behavior.
fn functions(stack: &Stack) -> Vec<String> {
    let c = clients(stack);
    let config = block_on(distribution_of(&c, &stack.bucket))
        .expect("the stack's distribution")
        .config;
    let behavior = config.default_cache_behavior.unwrap();
    behavior
        .function_associations
        .map(|f| {
            f.items
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.function_arn)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn releases_turn_on_and_off_while_the_site_serves() {
    let mut stack = Stack::new("reltoggle");
    let (a, b, c) = (stack.dir().join("a"), stack.dir().join("b"), stack.dir().join("c"));
    site(&a, "home A");
    site(&b, "home B");
    site(&c, "home C");
    let up = stack.run(&["up", "--json"]).ok().json();
    let cdn = up["distribution_domain"].as_str().unwrap().to_string();
    stack.configure(serde_json::json!({"kvs_propagation_seconds": 2, "deploy_seconds": 2}));
    run(&stack, &["deploy", a.to_str().unwrap(), "--json"]);
    assert_eq!(edge_get(&cdn, PAGE), (200, "about home A".into()));

    // On: the function is attached and serves the bucket's files in place
    // until the first release exists.
    stack.set("CDN_RELEASES", "3");
    let (seen, _) = watched(&stack, &cdn, &["up", "--json"]);
    assert_eq!(seen, ["about home A"]);
    assert_eq!(functions(&stack).len(), 1);
    assert_eq!(edge_get(&cdn, "/index.html"), (200, "home A".into()));
    // check probes those files, and passes: the site works as it did.
    let checked = run(&stack, &["check", "--json"]);
    let release = checked["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == "release")
        .cloned();
    assert!(
        release
            .as_ref()
            .is_some_and(|p| p["ok"] == true && p["message"].as_str().unwrap().contains("no release yet")),
        "{checked:#}"
    );

    // The first release: A whole until the switch, B whole after it.
    let (seen, _) = watched(&stack, &cdn, &["deploy", b.to_str().unwrap(), "--json"]);
    assert_eq!(seen.last().map(String::as_str), Some("about home B"), "{seen:?}");
    assert!(
        seen.iter().all(|s| s == "about home A" || s == "about home B"),
        "{seen:?}"
    );
    assert_eq!(edge_get(&cdn, PAGE), (200, "about home B".into()));

    // Off. `up` alone keeps the function: without it the edge would serve
    // the stale files in place (home A).
    stack.set("CDN_RELEASES", "0");
    let kept = stack.run(&["up"]).ok();
    assert!(
        kept.stderr.contains("stays until `cdnctl deploy DIR`"),
        "{}",
        kept.stderr
    );
    assert_eq!(functions(&stack).len(), 1);
    assert_eq!(edge_get(&cdn, PAGE), (200, "about home B".into()));

    // `deploy DIR` publishes C in place, then serves it: B until then, C
    // after, never A.
    let before = stack.writes().len();
    let (seen, off) = watched(&stack, &cdn, &["deploy", c.to_str().unwrap(), "--json"]);
    assert_eq!(seen.first().map(String::as_str), Some("about home B"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("about home C"), "{seen:?}");
    assert!(
        seen.iter().all(|s| s == "about home B" || s == "about home C"),
        "{seen:?}"
    );
    assert_eq!(off["ok"], true, "{off:#}");
    let stages: Vec<&Value> = off["stages"].as_array().unwrap().iter().collect();
    assert!(stages.iter().any(|s| s["result"]["releases"] == "off"), "{off:#}");
    // One store write (`live` deleted); the in-place files before it.
    let ops: Vec<String> = stack.writes()[before..].iter().map(|r| r.op.clone()).collect();
    let store: Vec<usize> = (0..ops.len())
        .filter(|i| ops[*i].contains("/key-value-stores/"))
        .collect();
    assert_eq!(store.len(), 1, "{ops:#?}");
    let page = ops
        .iter()
        .position(|o| o.contains("/index.html?"))
        .unwrap_or_else(|| panic!("{ops:#?}"));
    assert!(page < store[0], "{ops:#?}");

    // The next `up` detaches the function; nothing a visitor gets changes.
    let (seen, _) = watched(&stack, &cdn, &["up", "--json"]);
    assert_eq!(seen, ["about home C"]);
    assert!(functions(&stack).is_empty());
    // What releases left goes with the stack: `down` finds the function
    // and the store though the setting is 0 and nothing runs them.
    stack.run(&["down", "--yes"]).ok();
    let c = clients(&stack);
    let name = format!("cdnctl-{}", stack.bucket);
    assert!(block_on(c.cloudfront.describe_function().name(&name).send()).is_err());
    assert!(block_on(c.cloudfront.describe_key_value_store().name(&name).send()).is_err());
}
