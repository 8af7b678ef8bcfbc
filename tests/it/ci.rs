//! CI output: the Markdown step summary in the file GITHUB_STEP_SUMMARY names
//! (and none when it is unset), and `status --format github` annotations.

use crate::harness::{block_on, clients, Stack};
use crate::inspect;

#[test]
fn status_up_and_down_append_a_step_summary_only_when_asked() {
    let stack = Stack::new("summary");
    let file = stack.dir().join("step-summary.md");
    let summary = || std::fs::read_to_string(&file).unwrap_or_default();

    // Unset: no file, and stdout is the plain report.
    let plain = stack.run(&["status"]).code(5);
    assert!(!file.exists());
    assert!(!plain.stdout.contains("###"), "{}", plain.stdout);

    let stack = stack.with("GITHUB_STEP_SUMMARY", file.to_str().unwrap());
    stack.run(&["status"]).code(5);
    let absent = summary();
    assert!(
        absent.starts_with(&format!("### cdnctl status `{}`: absent (exit code 5)\n", stack.bucket)),
        "{absent}"
    );
    assert!(
        absent.contains("| resource | health | drift |\n|---|---|---|\n"),
        "{absent}"
    );
    assert!(
        absent.contains(&format!("| bucket {} | ❌ missing | — |", stack.bucket)),
        "{absent}"
    );

    stack.run(&["up"]).ok();
    let d = block_on(inspect::distribution_of(&clients(&stack), &stack.bucket)).unwrap();
    let up = summary()[absent.len()..].to_string();
    assert!(up.starts_with(&format!("### cdnctl up `{}`: ", stack.bucket)), "{up}");
    assert!(up.contains("| resource | change |"), "{up}");
    assert!(
        up.contains(&format!("- CloudFront: <https://{}/>", d.domain_name)),
        "{up}"
    );

    let before = summary().len();
    stack.run(&["status", "--format", "json"]).ok();
    let status = summary()[before..].to_string();
    assert!(status.contains(": in_sync (exit code 0)"), "{status}");
    for kind in ["bucket", "origin access control", "distribution"] {
        assert!(
            status
                .lines()
                .any(|l| l.starts_with(&format!("| {kind} ")) && l.contains("| ✅ ok")),
            "no healthy {kind} row: {status}"
        );
    }
    assert!(
        status.contains(&format!("- CloudFront: <https://{}/>", d.domain_name)),
        "{status}"
    );

    let before = summary().len();
    stack.run(&["down", "--yes"]).ok();
    let down = summary()[before..].to_string();
    assert!(
        down.starts_with(&format!("### cdnctl down `{}`: removed", stack.bucket)),
        "{down}"
    );
    assert!(down.contains("| distribution "), "{down}");
}

#[test]
fn format_github_annotates_drift_and_problems() {
    let stack = Stack::new("annotate");
    stack.run(&["up"]).ok();
    let b = stack.bucket.clone();
    block_on(async {
        let c = clients(&stack);
        c.s3.delete_bucket_encryption().bucket(&b).send().await.unwrap();
        // Without its ownership tag the bucket is not the stack's: up would refuse it.
        c.s3.delete_bucket_tagging().bucket(&b).send().await.unwrap();
        inspect::edit_distribution(&c, &b, |cfg| cfg.is_ipv6_enabled = Some(false)).await;
    });

    let run = stack.run_without_writes(&["status", "--format", "github"]).code(3);
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The text report stays, the annotations follow it.
    assert!(lines.contains(&"state: drift (exit code 3)"), "{}", run.stdout);
    let annotations: Vec<&str> = lines.iter().copied().filter(|l| l.starts_with("::")).collect();
    for expected in [
        format!("::warning title=cdnctl%3A bucket {b}::drift: default encryption: not set, expected AES256 (SSE-S3)"),
        format!("::warning title=cdnctl%3A bucket {b}::drift: tag cdnctl:stack: missing, expected {b}"),
    ] {
        assert!(
            annotations.contains(&expected.as_str()),
            "no {expected:?} in {annotations:#?}"
        );
    }
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::warning title=cdnctl%3A distribution ")
                && l.ends_with("::drift: IPv6: false → true")),
        "{annotations:#?}"
    );
    assert!(
        annotations
            .iter()
            .any(|l| l.starts_with("::error title=cdnctl%3A up would refuse::") && l.contains("--adopt")),
        "{annotations:#?}"
    );
    // Healthy resources say nothing.
    assert!(
        !annotations.iter().any(|l| l.contains("origin access control")),
        "{annotations:#?}"
    );
}
