//! Releases written by two runs at once: the switch and a rollback write
//! `live` only if the store is as they read it (If-Match on the ETag read
//! before the listing), so a deploy never undoes a rollback made while it
//! uploaded, and a write of another key meanwhile (a preview, a record)
//! does not stop it.

use std::path::Path;

use serde_json::Value;

use crate::harness::{block_on, clients, write, Stack};
use crate::release_deploy::{at_edge, run};
use crate::releases::{edge_get, store_client};

/// A home page and 7 more pages, all changed by each release.
fn site(dir: &Path, home: &str) {
    write(dir, "index.html", home.as_bytes());
    write(dir, "about.html", format!("about {home}").as_bytes());
    for n in 0..6 {
        write(dir, &format!("page{n}.html"), format!("page {n} of {home}").as_bytes());
    }
}

fn deploy(stack: &Stack, dir: &Path) -> Value {
    run(stack, &["deploy", dir.to_str().unwrap(), "--json"])
}

/// Starts `deploy DIR` with the stack's key's requests slowed, runs
/// `during` once the deploy has begun uploading (so it has read the store),
/// and answers the deploy's exit code, JSON and stderr. `during` signs with
/// another key (`other`), which nothing slows.
fn racing(stack: &Stack, dir: &Path, during: impl FnOnce()) -> (i32, Value, String) {
    // One upload at a time; once they have begun, each takes a second,
    // which leaves `during` seconds before the switch.
    let args = at_edge(&["deploy", dir.to_str().unwrap(), "--json", "--jobs", "1"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stack.configure(serde_json::json!({"delay_ms": 300}));
    let before = stack.writes().len();
    let child = stack
        .command(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while !stack.writes()[before..].iter().any(|w| w.op.contains("/_cdnctl/")) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stack.configure(serde_json::json!({"delay_ms": 1000}));
    during();
    let out = child.wait_with_output().unwrap();
    stack.configure(serde_json::json!({"delay_ms": 0}));
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cdnctl ARGS` signed with a key of its own (no knob slows it).
fn other(stack: &Stack, args: &[&str]) {
    let out = stack
        .command(args)
        .env("AWS_ACCESS_KEY_ID", format!("{}X", stack.key))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn live(stack: &Stack) -> String {
    let listed = stack.run(&["releases", "--json"]).ok().json();
    listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["live"] == true)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn a_deploy_never_undoes_a_rollback_made_while_it_uploaded() {
    let stack = Stack::new("relrace").with("CDN_RELEASES", "5");
    let cdn = stack.run(&["up", "--json"]).ok().json()["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let (a, b, c, d) = (
        stack.dir().join("a"),
        stack.dir().join("b"),
        stack.dir().join("c"),
        stack.dir().join("d"),
    );
    for (dir, home) in [(&a, "home A"), (&b, "home B"), (&c, "home C"), (&d, "home D")] {
        site(dir, home);
    }
    let release_a = deploy(&stack, &a)["stages"][1]["result"]["release"]
        .as_str()
        .unwrap()
        .to_string();
    deploy(&stack, &b);
    assert_eq!(edge_get(&cdn, "/about.html"), (200, "about home B".into()));

    // C uploads; meanwhile B is rolled back to A. C's switch is refused:
    // the rollback stands, and the edge serves A.
    let (code, _, stderr) = racing(&stack, &c, || {
        let back = at_edge(&["rollback", &release_a]);
        other(&stack, &back.iter().map(String::as_str).collect::<Vec<_>>());
    });
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("the store changed since it was read"), "{stderr}");
    assert_eq!(live(&stack), release_a);
    assert_eq!(edge_get(&cdn, "/about.html"), (200, "about home A".into()));

    // D uploads; meanwhile another key of the store is written (as a
    // preview's would be). `live` is as D read it, so D switches.
    let c2 = clients(&stack);
    let name = format!("cdnctl-{}", stack.bucket);
    let arn = block_on(c2.cloudfront.describe_key_value_store().name(&name).send())
        .unwrap()
        .key_value_store
        .unwrap()
        .arn;
    let keys = store_client(&stack);
    let (code, json, stderr) = racing(&stack, &d, || {
        let etag = block_on(keys.describe_key_value_store().kvs_arn(&arn).send())
            .unwrap()
            .e_tag;
        block_on(
            keys.put_key()
                .kvs_arn(&arn)
                .key("other")
                .value("x")
                .if_match(etag)
                .send(),
        )
        .unwrap();
    });
    assert_eq!(code, 0, "{stderr}");
    let release_d = json["stages"][1]["result"]["release"].as_str().unwrap().to_string();
    assert_eq!(live(&stack), release_d);
    assert_eq!(edge_get(&cdn, "/about.html"), (200, "about home D".into()));
    // A rollback from D goes to A, which was live when D was published
    // (not B, the newest older release, which was rolled back from).
    let back = stack.run(&["rollback", "--no-wait", "--json"]).ok().json();
    assert_eq!(back["release"], release_a.as_str(), "{back:#}");
}
