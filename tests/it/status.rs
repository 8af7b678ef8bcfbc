//! `cdnctl status` against the emulator: the right exit code and message for
//! each state, a stable JSON schema, the web app's settings, and never a write.

use serde_json::{json, Value};

use crate::harness::{block_on, clients, Stack, REGION};
use crate::inspect::{self, distribution_of, issued_certificate, resource};

const HEALTH: &[&str] = &[
    "ok",
    "missing",
    "foreign",
    "unreadable",
    "deploying",
    "disabled",
    "pending",
    "failed",
    "expiring",
    "expired",
    "wrong_target",
    "leftover",
];

/// Every resource object has exactly the documented fields and types.
fn assert_schema(report: &Value) {
    let keys: Vec<&str> = report.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["exit_code", "problems", "resources", "stack", "state"],
        "{report}"
    );
    assert!(["in_sync", "drift", "not_ready", "absent"].contains(&report["state"].as_str().unwrap()));
    assert!(report["problems"].as_array().unwrap().iter().all(Value::is_string));
    for r in report["resources"].as_array().unwrap() {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        if r["type"] == "distribution" && r["present"] == true {
            assert_eq!(
                keys,
                [
                    "detail",
                    "differences",
                    "domain",
                    "health",
                    "id",
                    "name",
                    "owned",
                    "present",
                    "type",
                    "url"
                ],
                "{r}"
            );
            let domain = r["domain"].as_str().unwrap();
            assert!(domain.ends_with(".cloudfront.net"), "{r}");
            assert_eq!(r["url"], format!("https://{domain}/"), "{r}");
            assert!(
                r["name"].as_str().unwrap().starts_with(r["id"].as_str().unwrap()),
                "{r}"
            );
        } else {
            assert_eq!(
                keys,
                ["detail", "differences", "health", "name", "owned", "present", "type"],
                "{r}"
            );
        }
        assert!([
            "bucket",
            "origin_access_control",
            "response_headers_policy",
            "distribution",
            "certificate",
            "dns_record"
        ]
        .contains(&r["type"].as_str().unwrap()));
        assert!(
            r["name"].is_string() && r["detail"].is_string() && r["present"].is_boolean() && r["owned"].is_boolean()
        );
        let health = r["health"].as_str().unwrap();
        assert!(HEALTH.contains(&health), "undocumented health {health:?}");
        assert!(r["differences"].as_array().unwrap().iter().all(Value::is_string));
    }
}

#[test]
fn absent_healthy_and_deploying_stacks_have_their_own_exit_codes() {
    let stack = Stack::new("states");
    let absent = stack.run(&["status", "--format", "json"]).code(5).json();
    assert_schema(&absent);
    assert_eq!(absent["state"], "absent");
    assert_eq!(absent["exit_code"], 5);

    stack.configure(json!({"deploy_seconds": 3}));
    stack.run(&["up", "--no-wait"]).ok();
    let deploying = stack.run(&["status", "--json"]).code(4).json();
    assert_schema(&deploying);
    assert_eq!(deploying["state"], "not_ready");
    assert_eq!(resource(&deploying, "distribution")["health"], "deploying");

    // Once CloudFront has deployed, all is well.
    let start = std::time::Instant::now();
    let healthy = loop {
        let run = stack.run(&["status", "--format", "json"]);
        if run.code == 0 {
            break run.json();
        }
        assert_eq!(run.code, 4, "{}", run.stdout);
        assert!(start.elapsed().as_secs() < 30, "never deployed");
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert_schema(&healthy);
    assert_eq!(healthy["state"], "in_sync");
    for r in healthy["resources"].as_array().unwrap() {
        assert_eq!(
            (r["present"].as_bool(), r["health"].as_str()),
            (Some(true), Some("ok")),
            "{r}"
        );
        assert!(r["differences"].as_array().unwrap().is_empty(), "{r}");
    }
    let text = stack.run(&["status"]).ok();
    assert!(text.stdout.contains("state: in_sync (exit code 0)"), "{}", text.stdout);

    assert!(stack.requests().iter().filter(|r| r.write).count() > 0);
    for format in ["text", "json", "env"] {
        stack.run_without_writes(&["status", "--format", format]).ok();
    }
}

#[test]
fn each_kind_of_drift_is_named() {
    let (stack, zone_id, domain) = Stack::new("statusdrift").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let mut stack = stack
        .with("CERTIFICATE_ARN", &cert)
        .with("BUCKET_USERS", "arn:aws:iam::123456789012:role/deploy");
    stack.run(&["up"]).ok();
    let b = stack.bucket.clone();

    block_on(async {
        use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
        c.s3.delete_bucket_encryption().bucket(&b).send().await.unwrap();
        c.s3.delete_bucket_tagging().bucket(&b).send().await.unwrap();
        let records = c
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .send()
            .await
            .unwrap();
        let aaaa = records
            .resource_record_sets()
            .iter()
            .find(|r| r.r#type().as_str() == "AAAA" && r.name() == format!("{domain}."))
            .unwrap()
            .clone();
        c.route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(
                        Change::builder()
                            .action(ChangeAction::Delete)
                            .resource_record_set(aaaa)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        inspect::edit_distribution(&c, &b, |cfg| cfg.is_ipv6_enabled = Some(false)).await;
    });
    stack.set(
        "BUCKET_USERS",
        "arn:aws:iam::123456789012:role/deploy,arn:aws:iam::123456789012:role/ci",
    );

    let report = stack.run(&["status", "--format", "json"]).code(3).json();
    assert_schema(&report);
    assert_eq!(report["state"], "drift");
    let diffs = |kind: &str| -> Vec<String> {
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == kind)
            .flat_map(|r| {
                r["differences"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
            })
            .collect()
    };
    let bucket = diffs("bucket");
    for expected in [
        "default encryption: not set, expected AES256 (SSE-S3)",
        &format!("tag cdnctl:stack: missing, expected {b}"),
        "bucket policy: no statement for arn:aws:iam::123456789012:role/ci",
    ] {
        assert!(
            bucket.iter().any(|d| d == expected),
            "bucket lacks {expected:?}: {bucket:?}"
        );
    }
    assert!(
        diffs("distribution").iter().any(|d| d == "IPv6: false → true"),
        "{:?}",
        diffs("distribution")
    );
    let aaaa = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == format!("{domain} AAAA"))
        .unwrap();
    assert_eq!(
        (aaaa["present"].as_bool(), aaaa["health"].as_str()),
        (Some(false), Some("missing"))
    );
    // The bucket lost its ownership tag: up now refuses it, and status says why.
    assert!(
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains("--adopt")),
        "{report}"
    );
}

#[test]
fn format_env_prints_what_django_storages_needs() {
    let (stack, _zone, domain) = Stack::new("envfmt").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &cert);
    let run = stack.run(&["status", "--format", "env"]).code(1);
    assert!(run.stderr.contains("run `cdnctl up` first"), "{}", run.stderr);

    stack.run(&["up"]).ok();
    let env = stack.run(&["status", "--format", "env"]).ok().stdout;
    assert_eq!(
        env,
        format!(
            "AWS_STORAGE_BUCKET_NAME={b}\nAWS_S3_REGION_NAME={REGION}\nAWS_S3_CUSTOM_DOMAIN={domain}\nSTATIC_URL=https://{domain}/\n",
            b = stack.bucket
        )
    );

    let plain = Stack::new("envplain");
    plain.run(&["up"]).ok();
    let d = block_on(distribution_of(&clients(&plain), &plain.bucket)).unwrap();
    let env = plain.run(&["status", "--format", "env"]).ok().stdout;
    assert!(
        env.contains(&format!("AWS_S3_CUSTOM_DOMAIN={}\n", d.domain_name)),
        "{env}"
    );
    assert!(
        env.contains(&format!("STATIC_URL=https://{}/\n", d.domain_name)),
        "{env}"
    );
}
