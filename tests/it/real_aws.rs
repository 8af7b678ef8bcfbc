//! What real AWS does and the plain emulator does not: the windows in which
//! AWS refuses what it accepts a little later, its stricter checks, and the
//! leftovers and data that cdnctl must never lose. Each test turns on the
//! emulator patch that restores one behaviour (tests/emulator/emulator.py)
//! and checks what ended up in the emulator.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{block_on, clients, Stack};
use crate::inspect::{self, assert_gone, distribution_of, records_of};

/// How many requests of the stack's contained `op`.
fn count(stack: &Stack, op: &str) -> usize {
    stack.requests().iter().filter(|r| r.op.contains(op)).count()
}

fn stderr_has(run: &crate::harness::Run, fragments: &[&str]) {
    for f in fragments {
        assert!(run.stderr.contains(f), "stderr lacks {f:?}:\n{}", run.stderr);
    }
}

#[test]
fn down_waits_through_acm_cloudfront_and_oac_refusals_after_each_delete() {
    let (stack, zone_id, domain) = Stack::new("windows").with_domain();
    stack.configure(json!({
        "deploy_seconds": 1,
        "not_disabled_seconds": 2,
        "oac_in_use_seconds": 2,
        "cert_in_use_seconds": 2,
    }));
    stack.run(&["up"]).ok();
    let c = clients(&stack);

    stack.run(&["down", "--yes"]).ok();
    assert_gone(&stack, "");
    assert!(
        block_on(inspect::certificates(&c, &domain)).is_empty(),
        "certificate left"
    );
    assert!(
        block_on(inspect::cnames(&c, &zone_id)).is_empty(),
        "validation record left"
    );
    // Each delete was refused at first, and retried within the same run.
    for op in [
        "DeleteCertificate",
        "/origin-access-control/",
        "DELETE /2020-05-31/distribution/",
    ] {
        let deletes = stack
            .requests()
            .iter()
            .filter(|r| r.op.contains(op) && (r.op.starts_with("DELETE") || r.op == "DeleteCertificate"))
            .count();
        assert!(deletes > 1, "{op}: {deletes} attempt(s)");
    }
}

#[test]
fn a_certificate_in_use_is_left_with_its_record_by_no_wait_and_deleted_later() {
    let (stack, zone_id, domain) = Stack::new("inuse").with_domain();
    stack.configure(json!({"cert_in_use_seconds": 4}));
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let record = block_on(inspect::cnames(&c, &zone_id));
    assert_eq!(record.len(), 1, "{record:?}");

    stack.run(&["down", "--yes", "--no-wait"]).ok(); // disables
    let run = stack.run(&["down", "--yes", "--no-wait"]).ok(); // deletes; ACM still says in use
    stderr_has(&run, &["in use", "run the command again"]);
    // The certificate outlives the distribution, and so must its record, or
    // ACM could not renew it were it reused.
    let certs = block_on(inspect::certificates(&c, &domain));
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(block_on(inspect::cnames(&c, &zone_id)), record);

    std::thread::sleep(Duration::from_secs(4));
    stack.run(&["down", "--yes", "--no-wait"]).ok();
    assert!(block_on(inspect::certificates(&c, &domain)).is_empty());
    assert!(
        block_on(inspect::cnames(&c, &zone_id)).is_empty(),
        "validation record left"
    );
    assert_gone(&stack, "");
}

#[test]
fn a_missing_validation_record_is_drift_and_up_puts_it_back() {
    let (stack, zone_id, _domain) = Stack::new("valrec").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let record = block_on(inspect::cnames(&c, &zone_id)).remove(0);
    block_on(inspect::delete_cname(&c, &zone_id, &record.0, &record.1));

    let report = stack.run(&["status", "--json"]).code(3).json();
    let cert = inspect::resource(&report, "certificate");
    assert!(cert["differences"].to_string().contains("validation record"), "{cert}");
    stack.run(&["up"]).ok();
    assert_eq!(block_on(inspect::cnames(&c, &zone_id)), vec![record]);
    stack.run(&["status"]).ok();
}

#[test]
fn a_validation_record_another_certificate_needs_is_kept() {
    let (stack, zone_id, domain) = Stack::new("shared").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    // Someone else's certificate for the same name: ACM gives it the same record.
    let other = block_on(inspect::pending_certificate(&c, &domain));

    let run = stack.run(&["down", "--yes"]).ok();
    stderr_has(&run, &["validation record kept"]);
    let left = block_on(inspect::certificates(&c, &domain));
    assert_eq!(left.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>(), vec![other]);
    assert_eq!(
        block_on(inspect::cnames(&c, &zone_id)).len(),
        1,
        "the shared record was deleted"
    );
}

#[test]
fn purge_is_refused_while_another_distribution_serves_the_bucket() {
    let stack = Stack::new("served");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    block_on(inspect::put_objects(&c, &stack.bucket, &["css/site.css", "js/app.js"]));
    let other = block_on(inspect::distribution_reading(&c, &stack.bucket));

    let run = stack.run_without_writes(&["down", "--yes", "--purge"]).code(1);
    stderr_has(&run, &["--purge refused", &other, "nothing was changed"]);
    assert_eq!(block_on(inspect::object_versions(&c, &stack.bucket)), 2);
    assert!(block_on(distribution_of(&c, &stack.bucket)).is_some());
}

#[test]
fn a_distribution_with_the_comment_but_not_the_tag_protects_what_it_uses() {
    let (stack, zone_id, domain) = Stack::new("untagged").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    block_on(inspect::put_objects(&c, &stack.bucket, &["index.html"]));
    block_on(inspect::untag_distribution(&c, &stack.bucket));

    let run = stack.run_without_writes(&["down", "--yes", "--purge"]).code(1);
    stderr_has(&run, &["--purge refused"]);
    let run = stack.run_without_writes(&["down", "--yes"]).ok();
    stderr_has(&run, &["not its cdnctl:stack tag", "left alone"]);
    assert!(block_on(inspect::oac(&c, &format!("cdnctl-{}", stack.bucket))).is_some());
    assert_eq!(block_on(inspect::certificates(&c, &domain)).len(), 1);
    assert_eq!(block_on(records_of(&c, &zone_id, &domain)).len(), 2);
    assert_eq!(block_on(inspect::object_versions(&c, &stack.bucket)), 1);
}

#[test]
fn a_cname_at_the_domain_is_refused_before_any_write_even_with_adopt() {
    let (stack, zone_id, domain) = Stack::new("cname").with_domain();
    let c = clients(&stack);
    block_on(inspect::cname(
        &c,
        &zone_id,
        &format!("{domain}."),
        "old-cdn.example.net",
    ));
    for args in [&["up"][..], &["up", "--adopt"]] {
        let run = stack.run_without_writes(args).code(1);
        stderr_has(&run, &["CNAME", "old-cdn.example.net", "remove that CNAME"]);
    }
    let report = stack.run_without_writes(&["status", "--json"]).code(5).json();
    assert!(report["problems"].to_string().contains("CNAME"), "{report}");
}

#[test]
fn a_private_zone_is_refused_by_id_and_skipped_by_name() {
    let (mut stack, public, domain) = Stack::new("private").with_domain();
    let c = clients(&stack);
    let zone = domain.split_once('.').unwrap().1.to_string();
    let private = block_on(inspect::private_zone(&c, &zone));

    stack.set("HOSTED_ZONE_ID", &private);
    let run = stack.run_without_writes(&["up"]).code(1);
    stderr_has(&run, &["HOSTED_ZONE_ID", "private zone"]);

    stack.unset("HOSTED_ZONE_ID");
    stack.run(&["up"]).ok();
    assert_eq!(block_on(records_of(&c, &public, &domain)).len(), 2);
    assert!(block_on(records_of(&c, &private, &domain)).is_empty());
}

#[test]
fn a_zone_deleted_under_the_stack_does_not_block_down() {
    let (stack, zone_id, domain) = Stack::new("nozone").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    inspect::control("/delete-zone", json!({"id": zone_id}));

    let report = stack.run(&["status", "--json"]).code(3).json();
    assert!(report["problems"].to_string().contains("HOSTED_ZONE_NAME"), "{report}");
    let run = stack.run(&["down", "--yes"]).ok();
    stderr_has(&run, &["could not be checked"]);
    assert_gone(&stack, "");
    assert!(block_on(inspect::certificates(&c, &domain)).is_empty());
}

#[test]
fn a_web_acl_attached_outside_cdnctl_stays_unless_waf_arn_is_none() {
    let mut stack = Stack::new("fms");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let acl = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/FMManagedWebACL/0a1b2c3d-1234-5678-9abc-0123456789ab";
    block_on(inspect::edit_distribution(&c, &stack.bucket, |d| {
        d.web_acl_id = Some(acl.to_string())
    }));

    stack.run_without_writes(&["up"]).ok();
    let status = stack.run(&["status"]).ok();
    assert!(status.stdout.contains("attached outside cdnctl"), "{}", status.stdout);
    assert_eq!(
        block_on(distribution_of(&c, &stack.bucket))
            .unwrap()
            .config
            .web_acl_id
            .as_deref(),
        Some(acl)
    );

    stack.set("WAF_ARN", "none");
    stack.run(&["up"]).ok();
    let acl_now = block_on(distribution_of(&c, &stack.bucket)).unwrap().config.web_acl_id;
    assert!(acl_now.unwrap_or_default().is_empty());
}

#[test]
fn removing_the_domain_removes_its_records_and_certificate() {
    let (mut stack, zone_id, domain) = Stack::new("undomain").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);

    stack.unset("SUBDOMAIN");
    stack.unset("HOSTED_ZONE_NAME");
    let report = stack.run(&["status", "--json"]).code(3).json();
    let text = report.to_string();
    assert!(text.contains("leftover") && text.contains(&domain), "{report}");

    stack.run(&["up", "--remove-domain"]).ok();
    assert!(block_on(records_of(&c, &zone_id, &domain)).is_empty(), "records left");
    assert!(
        block_on(inspect::certificates(&c, &domain)).is_empty(),
        "certificate left"
    );
    assert!(
        block_on(inspect::cnames(&c, &zone_id)).is_empty(),
        "validation record left"
    );
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_eq!(d.config.aliases.map(|a| a.quantity).unwrap_or(0), 0);
    stack.run(&["status"]).ok();
}

#[test]
fn dead_certificates_are_replaced_reported_and_deleted() {
    let (stack, _zone, domain) = Stack::new("dead").with_domain();
    let c = clients(&stack);
    // An earlier run's certificate whose validation timed out.
    let timed_out = block_on(inspect::stack_certificate(&c, &domain, &stack.bucket));
    inspect::control(
        "/certificate-status",
        json!({"arn": timed_out, "status": "VALIDATION_TIMED_OUT"}),
    );

    stack.run(&["up"]).ok();
    let certs = block_on(inspect::certificates(&c, &domain));
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_ne!(certs[0].0, timed_out);
    assert_eq!(certs[0].1, "ISSUED");
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_eq!(
        d.config.viewer_certificate.unwrap().acm_certificate_arn.as_deref(),
        Some(certs[0].0.as_str())
    );

    let failed = block_on(inspect::stack_certificate(&c, &domain, &stack.bucket));
    inspect::control("/certificate-status", json!({"arn": failed, "status": "FAILED"}));
    let report = stack.run(&["status", "--json"]).code(3).json();
    assert!(report.to_string().contains(&failed), "{report}");
    stack.run(&["down", "--yes"]).ok();
    assert!(block_on(inspect::certificates(&c, &domain)).is_empty());
}

#[test]
fn up_down_up_within_the_hour_gets_a_new_issued_certificate() {
    let (stack, _zone, domain) = Stack::new("again").with_domain();
    let c = clients(&stack);
    stack.run(&["up"]).ok();
    let first = block_on(inspect::certificates(&c, &domain)).remove(0).0;
    stack.run(&["down", "--yes"]).ok();
    // ACM answers the same idempotency token with the deleted certificate.
    stack.run(&["up"]).ok();
    let certs = block_on(inspect::certificates(&c, &domain));
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_ne!(certs[0].0, first);
    assert_eq!(certs[0].1, "ISSUED");
    stack.run(&["status"]).ok();
}

#[test]
fn the_system_tags_of_a_cdk_bucket_are_kept_on_adopt() {
    let stack = Stack::new("cdk");
    let c = clients(&stack);
    block_on(inspect::make_bucket(&c, &stack.bucket, &["static/app.css"]));
    let seeded = json!({
        "aws:cloudformation:stack-name": "StaticFiles",
        "aws:cloudformation:logical-id": "Bucket83908E77",
        "team": "web",
    });
    inspect::control("/seed-bucket-tags", json!({"bucket": stack.bucket, "tags": seeded}));

    stack.run(&["up", "--adopt"]).ok();
    let tags = block_on(inspect::bucket(&c, &stack.bucket)).tags;
    for (k, v) in seeded.as_object().unwrap() {
        assert_eq!(tags.get(k).map(String::as_str), v.as_str(), "{k} lost: {tags:?}");
    }
    assert_eq!(tags.get("cdnctl:stack"), Some(&stack.bucket));
    stack.run(&["status"]).ok();
}

#[test]
fn a_bucket_that_is_not_yet_visible_to_its_settings_is_waited_for() {
    let stack = Stack::new("settle");
    stack.configure(json!({"new_bucket_seconds": 2}));
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    assert_eq!(
        block_on(inspect::bucket(&c, &stack.bucket)).public_access_block,
        Some([true; 4])
    );

    // A run that died right after CreateBucket: the next one finds the
    // bucket, whose tags still answer NoSuchBucket; it is not someone else's.
    let fresh = Stack::new("settle2");
    fresh.configure(json!({"new_bucket_seconds": 3, "stall_after_writes": 1}));
    let mut child = fresh.command(&["up"]).spawn().unwrap();
    inspect::wait_for_stall(&fresh, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    fresh.configure(json!({"stall_after_writes": null}));
    fresh.run(&["up"]).ok();
    fresh.run(&["status"]).ok();
}

#[test]
fn a_freshly_issued_certificate_is_retried_until_cloudfront_takes_it() {
    let (stack, _zone, _domain) = Stack::new("fresh").with_domain();
    stack.configure(json!({"fresh_certificate_seconds": 2}));
    stack.run(&["up"]).ok();
    assert!(
        count(&stack, "POST /2020-05-31/distribution") > 1,
        "CloudFront never refused the new certificate"
    );
    stack.run(&["status"]).ok();
}

#[test]
fn a_new_role_is_waited_for_and_an_unknown_one_is_named() {
    let role = inspect::create_role(&format!("deploy-{}", std::process::id()));
    let stack = Stack::new("iam")
        .with("BUCKET_USERS", &role)
        .with("CDN_WAIT_MINUTES", "0.1");
    stack.configure(json!({"iam_propagation_seconds": 2}));
    stack.run(&["up"]).ok();
    assert!(count(&stack, "?policy") > 2, "S3 never refused the new role");

    let missing = "arn:aws:iam::123456789012:role/no-such-role";
    let stack = Stack::new("iam2")
        .with("BUCKET_USERS", missing)
        .with("CDN_WAIT_MINUTES", "0.05");
    stack.configure(json!({"check_principals": true}));
    let run = stack.run(&["up"]).code(1);
    stderr_has(&run, &["BUCKET_USERS", "Invalid principal", missing]);
}

#[test]
fn create_bucket_refused_for_tag_resource_names_the_permission() {
    let stack = Stack::new("denied");
    stack.configure(json!({"deny": ["s3:TagResource"]}));
    let run = stack.run(&["up"]).code(1);
    // AWS's own message names the action; cdnctl says what to grant.
    stderr_has(
        &run,
        &[
            "AccessDenied",
            "needs s3:TagResource besides s3:CreateBucket",
            "PutBucketTagging",
        ],
    );
    assert!(!block_on(inspect::bucket_exists(&clients(&stack), &stack.bucket)));
}

#[test]
fn an_endpoint_that_ignores_creation_tags_still_gets_the_bucket_tagged() {
    let stack = Stack::new("notags");
    stack.configure(json!({"ignore_create_bucket_tags": true}));
    stack.run(&["up"]).ok();
    let tags = block_on(inspect::bucket(&clients(&stack), &stack.bucket)).tags;
    assert_eq!(tags.get("cdnctl:stack"), Some(&stack.bucket));
    stack.run_without_writes(&["up"]).ok();
}

#[test]
fn an_unreachable_endpoint_fails_at_once_with_one_line() {
    for (endpoint, says) in [
        ("https://127.0.0.1:9", "nothing listens there"),
        ("https://cdnctl-no-such-host.invalid", "does not resolve"),
    ] {
        let stack = Stack::new("unreach").with("AWS_ENDPOINT_URL", endpoint);
        let start = Instant::now();
        let run = stack.run(&["status"]).code(1);
        // Not a timing benchmark: the retry budget for throttling is minutes;
        // an unreachable endpoint must not spend it.
        assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
        stderr_has(&run, &[says]);
    }
}

#[test]
fn ctrl_c_at_the_confirmation_prompt_ends_at_once_without_a_write() {
    use std::io::{Read as _, Write as _};
    let stack = Stack::new("prompt");
    stack.run(&["up"]).ok();
    let writes = stack.writes().len();
    let mut child = stack
        .terminal(&["down"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let start = Instant::now();
    while !String::from_utf8_lossy(&seen).contains("[y/N]") {
        let mut buf = [0u8; 256];
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "no prompt: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
        assert!(start.elapsed() < Duration::from_secs(30), "no prompt");
    }
    let asked = Instant::now();
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > Duration::from_secs(10) {
            child.kill().unwrap();
            panic!("Ctrl-C at the prompt did not end cdnctl");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert_eq!(stack.writes().len(), writes, "a write after Ctrl-C");
    assert!(block_on(distribution_of(&clients(&stack), &stack.bucket)).is_some());
}
