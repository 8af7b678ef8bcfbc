//! What `cdnctl sync` may write and delete, and when: a run whose lease was
//! taken over stops before its next stage.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::harness::{block_on, clients, Clients, Stack};
use crate::sync::{body, sync, write};
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

    // The run takes the lease, then stalls on its first upload (the hashed file)...
    stack.configure(json!({"stall_after_writes": 1, "stall_seconds": 3}));
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
