//! `cdnctl up` against the emulator: what it creates, that a second run writes
//! nothing, that drift is put back, and that it refuses what is not its own.

use serde_json::{json, Value};

use crate::harness::{block_on, clients, Stack, ACCOUNT, REGION};
use crate::inspect::{self, distribution_of, issued_certificate, records_of};

const USER_A: &str = "arn:aws:iam::123456789012:role/deploy";
const USER_B: &str = "arn:aws:iam::123456789012:user/alice";

#[test]
fn fresh_up_builds_a_private_origin_behind_cloudfront() {
    let stack = Stack::new("fresh")
        .with("BUCKET_USERS", &format!("{USER_A}, {USER_B}"))
        .with("CDN_TAGS", "team=web");
    let out = stack.run(&["up", "--json"]).ok().json();
    let c = clients(&stack);
    let b = stack.bucket.as_str();

    // The bucket: private, owner-enforced, encrypted, CORS, tagged.
    let bucket = block_on(inspect::bucket(&c, b));
    assert_eq!(bucket.public_access_block, Some([true; 4]));
    assert_eq!(bucket.ownership.as_deref(), Some("BucketOwnerEnforced"));
    assert_eq!(bucket.encryption.as_deref(), Some("AES256"));
    assert_eq!(
        bucket.cors,
        Some((
            vec!["*".to_string()],
            vec!["GET".to_string(), "HEAD".to_string()],
            vec!["*".to_string()]
        ))
    );
    assert_eq!(bucket.tags.get("cdnctl:stack").map(String::as_str), Some(b));
    assert_eq!(bucket.tags.get("team").map(String::as_str), Some("web"));

    // The OAC.
    let oac = block_on(inspect::oac(&c, &format!("cdnctl-{b}"))).expect("the OAC exists");
    assert_eq!(
        (oac.1.as_str(), oac.2.as_str(), oac.3.as_str()),
        ("s3", "always", "sigv4")
    );

    // The distribution, as sent.
    let d = block_on(distribution_of(&c, b)).expect("the distribution exists");
    let config = &d.config;
    let origins = config.origins.as_ref().unwrap().items();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].domain_name, format!("{b}.s3.{REGION}.amazonaws.com"));
    assert_eq!(origins[0].origin_access_control_id.as_deref(), Some(oac.0.as_str()));
    assert_eq!(origins[0].s3_origin_config.as_ref().unwrap().origin_access_identity, "");
    let behavior = config.default_cache_behavior.as_ref().unwrap();
    assert_eq!(behavior.target_origin_id, origins[0].id);
    assert_eq!(behavior.viewer_protocol_policy.as_str(), "redirect-to-https");
    assert_eq!(behavior.compress, Some(true));
    assert_eq!(
        behavior.cache_policy_id.as_deref(),
        Some("658327ea-f89d-4fab-a63d-7e88639e58f6")
    );
    assert_eq!(
        behavior.origin_request_policy_id.as_deref(),
        Some("88a5eaf4-2fd4-4709-b370-b4c650ea3fcf")
    );
    assert_eq!(config.http_version.as_ref().map(|h| h.as_str()), Some("http2and3"));
    assert_eq!(config.is_ipv6_enabled, Some(true));
    assert_eq!(config.price_class.as_ref().map(|p| p.as_str()), Some("PriceClass_100"));
    assert!(config.enabled);
    assert_eq!(
        config
            .viewer_certificate
            .as_ref()
            .unwrap()
            .cloud_front_default_certificate,
        Some(true)
    );
    assert_eq!(d.tags.get("cdnctl:stack").map(String::as_str), Some(b));
    assert_eq!(d.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(d.status, "Deployed", "up waits until deployed");

    // The bucket policy, exactly.
    let expected = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "BucketUsersFullAccess", "Effect": "Allow", "Principal": {"AWS": [USER_A, USER_B]},
             "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")]},
            {"Sid": "CloudFrontRead", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
             "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{b}/*"),
             "Condition": {"StringEquals": {"AWS:SourceArn": format!("arn:aws:cloudfront::{ACCOUNT}:distribution/{}", d.id)}}},
            {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
             "Resource": [format!("arn:aws:s3:::{b}"), format!("arn:aws:s3:::{b}/*")],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "DenyCloudFrontReservedPrefix", "Effect": "Deny", "Principal": {"Service": "cloudfront.amazonaws.com"},
             "Action": "s3:GetObject",
             "Resource": [format!("arn:aws:s3:::{b}/.cdnctl/*"), format!("arn:aws:s3:::{b}/*/.cdnctl/*")]}
        ]
    });
    assert_eq!(bucket.policy, Some(expected));

    // What it prints.
    assert_eq!(out["bucket"], b);
    assert_eq!(out["distribution_id"], d.id.as_str());
    assert_eq!(out["url"], format!("https://{}/", d.domain_name));
    assert_eq!(out["custom_url"], Value::Null);

    // A second run finds everything in place and writes nothing.
    stack.run_without_writes(&["up"]).ok();
    stack.run(&["status"]).ok();
}

#[test]
fn up_with_a_custom_domain_adds_alias_certificate_and_records() {
    let (stack, zone_id, domain) = Stack::new("domain").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &cert);
    let out = stack.run(&["up", "--json"]).ok().json();
    assert_eq!(out["custom_url"], format!("https://{domain}/"));

    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_eq!(
        d.config.aliases.as_ref().unwrap().items(),
        std::slice::from_ref(&domain)
    );
    let v = d.config.viewer_certificate.as_ref().unwrap();
    assert_eq!(v.acm_certificate_arn.as_deref(), Some(cert.as_str()));
    assert_eq!(v.ssl_support_method.as_ref().map(|m| m.as_str()), Some("sni-only"));
    assert_eq!(
        v.minimum_protocol_version.as_ref().map(|m| m.as_str()),
        Some("TLSv1.2_2021")
    );

    let records = block_on(records_of(&c, &zone_id, &domain));
    for kind in ["A", "AAAA"] {
        let target = records.get(kind).unwrap_or_else(|| panic!("no {kind} record"));
        assert_eq!(target, &format!("Z2FDTNDATAQYW2 {}.", d.domain_name), "{kind}");
    }

    stack.run_without_writes(&["up"]).ok();
    stack.run(&["status"]).ok();
}

#[test]
fn drift_made_by_hand_is_reported_and_put_back() {
    let stack = Stack::new("drift").with("BUCKET_USERS", USER_A);
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.clone();
    block_on(async {
        use aws_sdk_s3::types::PublicAccessBlockConfiguration;
        c.s3.put_public_access_block()
            .bucket(&b)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(false)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        c.s3.delete_bucket_cors().bucket(&b).send().await.unwrap();
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Mine", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{b}/*")}]});
        c.s3.put_bucket_policy()
            .bucket(&b)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
        inspect::edit_distribution(&c, &b, |cfg| {
            cfg.price_class = Some(aws_sdk_cloudfront::types::PriceClass::PriceClassAll)
        })
        .await;
    });

    let status = stack.run(&["status"]).code(3);
    for expected in [
        "public access block: BlockPublicPolicy is false",
        "CORS: no rules",
        &format!("bucket policy: no statement for {USER_A}"),
        // Kept (cdnctl did not write it), and listed.
        "policy keeps 1 statement(s) cdnctl did not write: Mine: Allow AWS arn:aws:iam::123456789012:root s3:GetObject",
        "price class: PriceClass_All → PriceClass_100",
    ] {
        assert!(
            status.stdout.contains(expected),
            "status lacks {expected:?}:\n{}",
            status.stdout
        );
    }

    let before = stack.writes().len();
    stack.run(&["up"]).ok();
    let fixes: Vec<String> = stack.writes()[before..].iter().map(|r| r.op.clone()).collect();
    assert_eq!(fixes.len(), 4, "one write per drifted setting: {fixes:?}");
    let bucket = block_on(inspect::bucket(&c, &b));
    assert_eq!(bucket.public_access_block, Some([true; 4]));
    assert!(bucket.cors.is_some());
    let policy = bucket.policy.unwrap();
    assert!(
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["Sid"] == "Mine"),
        "{policy}"
    );
    let d = block_on(distribution_of(&c, &b)).unwrap();
    assert_eq!(
        d.config.price_class.as_ref().map(|p| p.as_str()),
        Some("PriceClass_100")
    );
    stack.run(&["status"]).ok();
}

#[test]
fn changed_settings_are_applied_in_place() {
    let mut stack = Stack::new("change").with("BUCKET_USERS", USER_A);
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let first = block_on(distribution_of(&c, &stack.bucket)).unwrap();

    let waf = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/site/0a1b2c3d-1234-5678-9abc-0123456789ab";
    stack.set("BUCKET_USERS", &format!("{USER_A},{USER_B}"));
    stack.set("CDN_PRICE_CLASS", "PriceClass_200");
    stack.set("WAF_ARN", waf);
    let dry = stack.run(&["up", "--dry-run"]).code(3);
    assert!(
        dry.stderr.contains("price class: PriceClass_100 → PriceClass_200"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr
            .contains(&format!("bucket policy: no statement for {USER_B}")),
        "{}",
        dry.stderr
    );
    stack.run(&["up"]).ok();

    let after = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert_eq!(after.id, first.id, "updated in place, not replaced");
    assert_eq!(
        after.config.price_class.as_ref().map(|p| p.as_str()),
        Some("PriceClass_200")
    );
    assert_eq!(after.config.web_acl_id.as_deref(), Some(waf));
    assert_eq!(after.config.caller_reference, first.config.caller_reference);
    assert_eq!(block_on(inspect::distributions_with_comment(&c, &stack.bucket)), 1);
    let policy = block_on(inspect::bucket(&c, &stack.bucket)).policy.unwrap();
    assert_eq!(policy["Statement"][0]["Principal"]["AWS"], json!([USER_A, USER_B]));
    stack.run(&["status"]).ok();
}

#[test]
fn a_bucket_cdnctl_did_not_create_is_refused_unless_adopted() {
    let stack = Stack::new("foreign");
    let c = clients(&stack);
    block_on(inspect::make_bucket(&c, &stack.bucket, &["old/app.css"]));

    let run = stack.run(&["up"]).code(1);
    assert!(
        run.stderr.contains("not created by cdnctl") && run.stderr.contains("--adopt"),
        "{}",
        run.stderr
    );
    assert!(stack.writes().is_empty(), "refused, yet wrote: {:?}", stack.writes());
    stack.run(&["status"]).code(3);

    stack.run(&["up", "--adopt"]).ok();
    let bucket = block_on(inspect::bucket(&c, &stack.bucket));
    assert_eq!(bucket.tags.get("cdnctl:stack"), Some(&stack.bucket));
    assert_eq!(block_on(inspect::keys(&c, &stack.bucket)), vec!["old/app.css"]);
    stack.run(&["status"]).ok();
}

#[test]
fn a_bucket_in_another_region_is_reported_with_its_region() {
    let stack = Stack::new("region");
    block_on(inspect::make_bucket_in(&clients(&stack), &stack.bucket, "us-west-2"));
    let run = stack.run_without_writes(&["up"]).code(1);
    assert!(
        run.stderr.contains("exists in region us-west-2") && run.stderr.contains("AWS_REGION=us-west-2"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dns_record_pointing_elsewhere_is_refused_unless_adopted() {
    let (stack, zone_id, domain) = Stack::new("dnsforeign").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &cert);
    block_on(inspect::a_record(&c, &zone_id, &domain, "192.0.2.10"));

    let run = stack.run(&["up"]).code(1);
    assert!(
        run.stderr.contains("192.0.2.10") && run.stderr.contains("will not overwrite"),
        "{}",
        run.stderr
    );
    assert!(stack.writes().is_empty(), "refused, yet wrote: {:?}", stack.writes());

    stack.run(&["up", "--adopt"]).ok();
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let records = block_on(records_of(&c, &zone_id, &domain));
    assert_eq!(records.get("A"), Some(&format!("Z2FDTNDATAQYW2 {}.", d.domain_name)));
}

#[test]
fn preflight_refuses_a_certificate_that_cannot_serve_the_domain() {
    let (stack, _zone, _domain) = Stack::new("badcert").with_domain();
    let c = clients(&stack);
    let other = block_on(issued_certificate(&c, "other.example.org"));
    let mut stack = stack.with("CERTIFICATE_ARN", &other);
    let run = stack.run(&["up"]).code(1);
    assert!(run.stderr.contains("covers other.example.org"), "{}", run.stderr);

    stack.set(
        "CERTIFICATE_ARN",
        "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
    );
    let run = stack.run(&["up"]).code(1);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(stack.writes().is_empty(), "refused, yet wrote: {:?}", stack.writes());
}

#[test]
fn an_alias_on_another_distribution_is_refused() {
    let (stack, _zone, domain) = Stack::new("alias").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &cert);
    let other = block_on(inspect::distribution_with_alias(&c, &domain, &cert));
    let run = stack.run(&["up"]).code(1);
    assert!(
        run.stderr
            .contains(&format!("already an alias of distribution {other}")),
        "{}",
        run.stderr
    );
    assert!(stack.writes().is_empty(), "refused, yet wrote: {:?}", stack.writes());
}

#[test]
fn dry_run_shows_the_plan_and_writes_nothing() {
    let stack = Stack::new("dry");
    let run = stack.run(&["up", "--dry-run", "--json"]).code(3);
    assert!(
        run.stderr.contains(&format!("bucket {}: create", stack.bucket)),
        "{}",
        run.stderr
    );
    let plan = run.json();
    let resources: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["resource"].as_str().unwrap())
        .collect();
    assert!(resources.contains(&"distribution"), "{resources:?}");
    assert!(stack.writes().is_empty(), "dry run wrote: {:?}", stack.writes());

    stack.run(&["up", "--no-wait"]).ok();
    let run = stack.run_without_writes(&["up", "--dry-run"]).ok();
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
}

/// Kill `up` after each of its writes in turn (the next write in flight and
/// never applied), then run it again: it must converge with no duplicates.
#[test]
fn up_killed_after_any_write_converges_on_the_next_run() {
    let (reference, _, domain) = Stack::new("killref").with_domain();
    let c = clients(&reference);
    let cert = block_on(issued_certificate(&c, &domain));
    let reference = reference.with("CERTIFICATE_ARN", &cert);
    reference.run(&["up", "--no-wait"]).ok();
    let total = reference.writes().len();
    assert!(
        total >= 8,
        "a fresh up with a domain makes at least 8 writes, made {total}"
    );

    for k in 0..total {
        let (stack, zone_id, domain) = Stack::new("kill").with_domain();
        let cert = block_on(issued_certificate(&c, &domain));
        let stack = stack.with("CERTIFICATE_ARN", &cert);
        stack.configure(json!({"stall_after_writes": k}));
        let mut child = stack
            .command(&["up"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        crate::inspect::wait_for_stall(&stack, &mut child);
        child.kill().unwrap();
        child.wait().unwrap();
        stack.configure(json!({"stall_after_writes": null}));

        stack.run(&["up"]).ok();
        assert_eq!(
            block_on(inspect::distributions_with_comment(&c, &stack.bucket)),
            1,
            "k={k}"
        );
        assert!(
            block_on(inspect::oac(&c, &format!("cdnctl-{}", stack.bucket))).is_some(),
            "k={k}"
        );
        let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
        assert_eq!(
            block_on(records_of(&c, &zone_id, &domain)).get("AAAA"),
            Some(&format!("Z2FDTNDATAQYW2 {}.", d.domain_name))
        );
        stack.run_without_writes(&["status"]).ok();
        stack.run_without_writes(&["up"]).ok();
    }
}
