//! `status` says what a visitor would get: a bucket CloudFront cannot read is
//! not "ok", and the GitHub step summary never puts a check mark beside drift.

use serde_json::json;

use crate::harness::{block_on, clients, Stack, ACCOUNT};
use crate::inspect::{distribution_of, resource};

fn put_policy(stack: &Stack, policy: Option<serde_json::Value>) {
    block_on(async {
        let s3 = clients(stack).s3;
        match policy {
            Some(p) => {
                s3.put_bucket_policy()
                    .bucket(&stack.bucket)
                    .policy(p.to_string())
                    .send()
                    .await
                    .unwrap();
            }
            None => {
                s3.delete_bucket_policy().bucket(&stack.bucket).send().await.unwrap();
            }
        }
    });
}

#[test]
fn a_bucket_cloudfront_cannot_read_is_not_ok() {
    let file_name = "step-summary.md";
    let stack = Stack::new("unreadable");
    let summary_file = stack.dir().join(file_name);
    let stack = stack.with("GITHUB_STEP_SUMMARY", summary_file.to_str().unwrap());
    stack.run(&["up"]).ok();
    let healthy = stack.run(&["status", "--json"]).ok().json();
    assert_eq!(resource(&healthy, "bucket")["health"], "ok", "{healthy}");
    let d = block_on(distribution_of(&clients(&stack), &stack.bucket)).unwrap();
    let objects = format!("arn:aws:s3:::{}/*", stack.bucket);

    let other = format!("arn:aws:cloudfront::{ACCOUNT}:distribution/E0THERDISTRIB");
    assert_ne!(d.id, "E0THERDISTRIB");
    for (label, policy, reason) in [
        ("no policy", None, "has no policy"),
        (
            "only the TLS deny",
            Some(json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
                "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{}", stack.bucket), objects.clone()],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})),
            "no bucket policy statement",
        ),
        (
            "another distribution's grant",
            Some(json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "CloudFrontRead", "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject", "Resource": objects.clone(),
                "Condition": {"StringEquals": {"AWS:SourceArn": other}}}]})),
            "no bucket policy statement",
        ),
    ] {
        put_policy(&stack, policy);
        let before = std::fs::read_to_string(&summary_file).unwrap_or_default().len();
        let run = stack.run(&["status", "--format", "json"]).code(3);
        let report = run.json();
        let bucket = resource(&report, "bucket");
        assert_eq!(bucket["health"], "unreadable", "{label}: {report}");
        let detail = bucket["detail"].as_str().unwrap();
        assert!(
            detail.contains("CloudFront cannot read it") && detail.contains(reason),
            "{label}: {detail}"
        );

        let text = stack.run(&["status"]).code(3);
        let line = text
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("bucket {}:", stack.bucket)))
            .unwrap();
        assert!(!line.contains("; ok"), "{label}: {line}");
        assert!(line.contains("unreadable"), "{label}: {line}");

        let summary = std::fs::read_to_string(&summary_file).unwrap()[before..].to_string();
        for row in summary.lines().filter(|l| l.starts_with("| ")) {
            let drift = row.rsplit(" | ").next().unwrap_or("");
            assert!(
                !(row.contains('✅') && drift != "— |"),
                "{label}: a check mark beside drift: {row}"
            );
        }
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with("| bucket ") && l.contains("❌ unreadable")),
            "{label}: {summary}"
        );
    }

    // Drift on resources that are otherwise ok (a tag the settings now ask
    // for): a warning mark, never a check mark.
    stack.run(&["up"]).ok();
    let before = std::fs::read_to_string(&summary_file).unwrap().len();
    stack.run(&["status", "--tags", "team=web"]).code(3);
    let summary = std::fs::read_to_string(&summary_file).unwrap()[before..].to_string();
    let mut drifting = 0;
    for row in summary
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| resource"))
    {
        let drift = row.trim_end_matches(" |").rsplit(" | ").next().unwrap();
        if drift != "—" {
            drifting += 1;
            assert!(!row.contains('✅'), "a check mark beside drift: {row}");
            assert!(row.contains("⚠️ ok"), "{row}");
        }
    }
    assert!(drifting >= 2, "{summary}");
}
