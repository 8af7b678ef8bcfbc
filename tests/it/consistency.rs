//! The same conventions across commands: `--json` means JSON on stdout even
//! for an error, and contradictory output flags are refused.

use serde_json::Value;

use crate::harness::Stack;

fn json_error(stdout: &str) -> Value {
    let v: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout:?}"));
    assert!(v["error"].is_string(), "{v}");
    v
}

#[test]
fn json_output_flags_that_contradict_are_refused() {
    let stack = Stack::new("jsonconflict");
    for format in ["env", "github"] {
        let run = stack.run(&["status", "--json", "--format", format]).code(2);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr
                .starts_with(&format!("cdnctl: --json: conflicts with --format {format}")),
            "{}",
            run.stderr
        );
        assert_eq!(json_error(&run.stdout)["exit_code"], 2);
    }
    // --json with --format json (or the default text) is fine.
    stack.run(&["status", "--json", "--format", "json"]).code(5).json();
    assert!(stack.requests().iter().all(|r| !r.write));
}

#[test]
fn with_json_an_error_is_a_json_object_on_stdout() {
    let stack = Stack::new("jsonerror").with("CDN_PRICE_CLASS", "cheap");
    let run = stack.run(&["up", "--json"]).code(2);
    let err = json_error(&run.stdout);
    assert_eq!(err["exit_code"], 2);
    assert!(err["error"].as_str().unwrap().starts_with("CDN_PRICE_CLASS: "), "{err}");
    let run = stack.run(&["status", "--format", "json"]).code(2);
    json_error(&run.stdout);

    // An error from AWS's side (no credentials): exit 1, the same object.
    let stack = Stack::new("jsonerror-aws");
    let out = stack
        .command(&["status", "--json"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = json_error(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(err["exit_code"], 1);
    assert!(err["error"].as_str().unwrap().contains("AWS credentials"), "{err}");

    // Without --json, stdout stays empty on error.
    let run = Stack::new("plainerror")
        .with("CDN_PRICE_CLASS", "cheap")
        .run(&["up"])
        .code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}
