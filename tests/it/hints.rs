//! Advice that names a command repeats the flags that matter: following it
//! as written does what the first run was asked to do.

use serde_json::json;

use crate::harness::{block_on, clients, Stack};
use crate::inspect::{assert_gone, bucket_exists};

/// The command a line of stderr advises, as arguments (without `cdnctl`).
fn advised(stderr: &str, before: &str) -> Vec<String> {
    let start = stderr
        .find(&format!("{before} `cdnctl "))
        .unwrap_or_else(|| panic!("no advice {before:?}: {stderr}"))
        + before.len()
        + 2;
    let end = start + stderr[start..].find('`').unwrap();
    stderr[start..end]
        .split_whitespace()
        .skip(1)
        .map(String::from)
        .collect()
}

#[test]
fn down_purge_no_wait_advises_a_command_that_purges() {
    let stack = Stack::new("hintpurge");
    stack.run(&["up"]).ok();
    block_on(async {
        clients(&stack)
            .s3
            .put_object()
            .bucket(&stack.bucket)
            .key("css/site.css")
            .body(b"body{}".to_vec().into())
            .send()
            .await
            .unwrap();
    });
    stack.configure(json!({"deploy_seconds": 0.5}));
    let run = stack.run(&["down", "--purge", "--no-wait", "--yes"]).ok();
    let again = advised(&run.stderr, "run");
    assert_eq!(again, ["down", "--purge", "--no-wait", "--yes"], "{}", run.stderr);
    assert!(block_on(bucket_exists(&clients(&stack), &stack.bucket)));

    // Followed as written (until CloudFront has deployed the disabling), it
    // removes everything, the bucket and its files too.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let args: Vec<&str> = again.iter().map(String::as_str).collect();
    let mut last = stack.run(&args);
    for _ in 0..20 {
        if !last.stderr.contains("run `cdnctl down") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        last = stack.run(&args);
    }
    last.ok();
    assert_gone(&stack, "after following the advice");
}

#[test]
fn advice_for_another_command_keeps_the_settings_file_and_profile() {
    let mut stack = Stack::new("hintctx");
    let bucket = stack.bucket.clone();
    stack.unset("BUCKET_NAME");
    std::fs::write(stack.dir().join("prod.env"), format!("BUCKET_NAME={bucket}\n")).unwrap();
    std::fs::write(
        stack.dir().join("aws-credentials"),
        format!(
            "[prod]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            stack.key
        ),
    )
    .unwrap();
    // A sync before up: the error advises `up`, for the same stack and account.
    std::fs::create_dir_all(stack.dir().join("site")).unwrap();
    std::fs::write(stack.dir().join("site/app.css"), "body{}").unwrap();
    let run = stack
        .run(&["sync", "site", "--env-file", "prod.env", "--profile", "prod"])
        .code(1);
    let again = advised(&run.stderr, "run");
    assert_eq!(
        again,
        ["up", "--env-file", "prod.env", "--profile", "prod"],
        "{}",
        run.stderr
    );
}
