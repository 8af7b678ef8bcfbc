//! Throttling, 5xx answers, dropped connections and lost answers, injected at
//! 20% of requests with fixed seeds: up, status and down still succeed, and
//! nothing is duplicated or leaked.

use serde_json::json;

use crate::harness::{block_on, clients, Stack};
use crate::inspect::{self, distribution_of, issued_certificate, records_of};

#[test]
fn up_status_and_down_come_through_twenty_percent_faults() {
    let mut figures = Vec::new();
    for seed in [1, 2, 3, 4, 5] {
        let (stack, zone_id, domain) = Stack::new("faults").with_domain();
        let c = clients(&stack);
        let cert = block_on(issued_certificate(&c, &domain));
        let stack = stack
            .with("CERTIFICATE_ARN", &cert)
            .with("BUCKET_USERS", "arn:aws:iam::123456789012:role/deploy");
        stack.configure(json!({"fault_rate": 0.2, "seed": seed}));

        stack.run(&["up"]).ok();
        block_on(inspect::put_objects(&c, &stack.bucket, &["a.css", "b.js"]));
        assert_eq!(
            block_on(inspect::distributions_with_comment(&c, &stack.bucket)),
            1,
            "seed {seed}"
        );
        assert!(
            block_on(inspect::oac(&c, &format!("cdnctl-{}", stack.bucket))).is_some(),
            "seed {seed}"
        );
        let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
        let alias = format!("Z2FDTNDATAQYW2 {}.", d.domain_name);
        let records = block_on(records_of(&c, &zone_id, &domain));
        assert_eq!(
            (records.get("A"), records.get("AAAA")),
            (Some(&alias), Some(&alias)),
            "seed {seed}"
        );

        stack.run(&["status"]).ok();
        stack.run_without_writes(&["up"]).ok();

        stack.run(&["down", "--yes", "--purge"]).ok();
        inspect::assert_gone(&stack, &format!("seed {seed}: "));
        assert!(
            block_on(records_of(&c, &zone_id, &domain)).is_empty(),
            "seed {seed}: records leaked"
        );
        stack.run(&["status"]).code(5);

        let requests = stack.requests();
        let count = |kind: &str| requests.iter().filter(|r| r.fault.as_deref() == Some(kind)).count();
        figures.push(format!(
            "seed {seed}: {} requests, {} faulted (throttle {}, 5xx {}, reset {}, lost answer {}), 0 failures, 0 leaks",
            requests.len(),
            requests.iter().filter(|r| r.fault.is_some()).count(),
            count("throttle"),
            count("error"),
            count("reset"),
            count("lost"),
        ));
    }
    eprintln!("{}", figures.join("\n"));
}

/// The answer to each write that is not naturally idempotent is lost after
/// AWS applied it; the SDK's retry must then converge, not fail or duplicate.
#[test]
fn a_lost_answer_to_any_write_is_harmless() {
    let (stack, zone_id, domain) = Stack::new("lost").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let mut stack = stack.with("CERTIFICATE_ARN", &cert);
    let create_bucket = format!("PUT /{}/", stack.bucket);
    stack.configure(json!({"lose_answer_of": [
        create_bucket,
        "POST /2020-05-31/origin-access-control",
        "POST /2020-05-31/distribution?WithTags",
        "?policy",
        "/rrset", // the DNS upsert
    ]}));
    stack.run(&["up"]).ok();
    assert_eq!(block_on(inspect::distributions_with_comment(&c, &stack.bucket)), 1);
    assert!(block_on(inspect::oac(&c, &format!("cdnctl-{}", stack.bucket))).is_some());
    let lost = stack.requests().iter().filter(|r| r.fault.is_some()).count();
    assert_eq!(lost, 5, "every pattern matched once: {:?}", stack.requests());

    // An update whose answer is lost: the retry meets a new ETag.
    stack.set("CDN_PRICE_CLASS", "PriceClass_All");
    stack.configure(json!({"lose_answer_of": ["/config"]}));
    stack.run(&["up"]).ok();
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_eq!(
        d.config.price_class.as_ref().map(|p| p.as_str()),
        Some("PriceClass_All")
    );

    // Deletes whose answers are lost.
    block_on(inspect::put_objects(&c, &stack.bucket, &["a.css"]));
    stack.configure(json!({"lose_answer_of": ["/rrset", "/config", "?delete", "DELETE /2020-05-31/distribution/", "DELETE /2020-05-31/origin-access-control/"]}));
    stack.run(&["down", "--yes", "--purge"]).ok();
    inspect::assert_gone(&stack, "");
    assert!(block_on(records_of(&c, &zone_id, &domain)).is_empty());
}

/// Ctrl-C while `up` waits on AWS: it stops at once, says how to continue,
/// and the next run finishes the job.
#[test]
fn ctrl_c_stops_cleanly_and_the_next_run_continues() {
    let stack = Stack::new("ctrlc");
    stack.configure(json!({"stall_after_writes": 3}));
    let mut child = stack
        .command(&["up"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    inspect::wait_for_stall(&stack, &mut child);
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted") && stderr.contains("run `cdnctl up` again"),
        "{stderr}"
    );

    stack.configure(json!({"stall_after_writes": null}));
    stack.run(&["up"]).ok();
    stack.run(&["status"]).ok();
    assert_eq!(
        block_on(inspect::distributions_with_comment(&clients(&stack), &stack.bucket)),
        1
    );
}

/// Should CloudFront keep a deleted distribution's CallerReference taken,
/// up after down still creates a new distribution.
#[test]
fn up_after_down_even_if_deleted_caller_references_stay_taken() {
    let stack = Stack::new("reref");
    stack.configure(json!({"remember_deleted_references": true}));
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let first = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    stack.run(&["down", "--yes"]).ok();
    stack.run(&["up"]).ok();
    let second = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_ne!(first.id, second.id);
    assert!(second
        .config
        .caller_reference
        .starts_with(&first.config.caller_reference));
    stack.run_without_writes(&["up"]).ok();
}
