//! `cdnctl down` against the emulator: removes only this stack's resources,
//! never loses files unless told, and finishes what an interrupted run started.

use serde_json::json;

use crate::harness::{block_on, clients, Stack};
use crate::inspect::{self, assert_gone, distribution_of, issued_certificate, records_of};

#[test]
fn down_after_up_leaves_nothing_behind() {
    let stack = Stack::new("down");
    stack.run(&["up"]).ok();
    let run = stack.run(&["down", "--yes"]).ok();
    assert!(run.stderr.contains("delete"), "{}", run.stderr);
    assert_gone(&stack, "");
    stack.run(&["status"]).code(5);

    // Again: nothing to do, nothing written.
    let run = stack.run_without_writes(&["down", "--yes"]).ok();
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

#[test]
fn down_with_a_domain_removes_records_but_not_a_given_certificate() {
    let (stack, zone_id, domain) = Stack::new("downdns").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &cert);
    stack.run(&["up"]).ok();
    assert_eq!(block_on(records_of(&c, &zone_id, &domain)).len(), 2);

    stack.run(&["down", "--yes"]).ok();
    assert_gone(&stack, "");
    assert!(
        block_on(records_of(&c, &zone_id, &domain)).is_empty(),
        "records left behind"
    );
    let kept = block_on(c.acm.describe_certificate().certificate_arn(&cert).send()).unwrap();
    assert_eq!(
        kept.certificate.unwrap().status.unwrap().as_str(),
        "ISSUED",
        "the given certificate is not cdnctl's to delete"
    );
}

#[test]
fn a_bucket_with_files_is_kept_with_every_file() {
    let stack = Stack::new("keep");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    block_on(inspect::put_objects(
        &c,
        &stack.bucket,
        &["css/site.css", "js/app.js", "img/logo.svg"],
    ));

    let run = stack.run(&["down", "--yes"]).ok();
    assert!(
        run.stderr.contains("kept") && run.stderr.contains("3 object version(s)") && run.stderr.contains("--purge"),
        "{}",
        run.stderr
    );
    assert!(block_on(inspect::bucket_exists(&c, &stack.bucket)));
    assert_eq!(
        block_on(inspect::keys(&c, &stack.bucket)),
        vec!["css/site.css", "img/logo.svg", "js/app.js"]
    );
    let body = block_on(async {
        let out =
            c.s3.get_object()
                .bucket(&stack.bucket)
                .key("js/app.js")
                .send()
                .await
                .unwrap();
        out.body.collect().await.unwrap().into_bytes()
    });
    assert_eq!(body.as_ref(), b"js/app.js");
    assert_eq!(block_on(inspect::distributions_with_comment(&c, &stack.bucket)), 0);
    assert!(block_on(inspect::oac(&c, &format!("cdnctl-{}", stack.bucket))).is_none());
}

#[test]
fn purge_deletes_every_version_and_delete_marker_under_the_tls_only_policy() {
    let stack = Stack::new("purge");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.clone();
    block_on(async {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        c.s3.put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        inspect::put_objects(&c, &b, &["a.css", "a.css", "b.js"]).await;
        c.s3.delete_object().bucket(&b).key("b.js").send().await.unwrap();
    });
    // The bucket policy denies non-TLS access; purging works over TLS.
    assert!(block_on(inspect::bucket(&c, &b))
        .policy
        .unwrap()
        .to_string()
        .contains("aws:SecureTransport"));

    let run = stack.run(&["down", "--yes", "--purge", "--json"]).ok();
    assert_eq!(
        run.json()["deleted_objects"],
        4,
        "two versions of a.css, b.js and its delete marker"
    );
    assert_gone(&stack, "");
}

#[test]
fn purge_refuses_more_objects_than_max_deletes() {
    let stack = Stack::new("maxdel");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    block_on(inspect::put_objects(&c, &stack.bucket, &["1", "2", "3", "4", "5"]));
    let run = stack
        .run_without_writes(&["down", "--yes", "--purge", "--max-deletes", "3"])
        .code(1);
    assert!(
        run.stderr.contains("more than 3") && run.stderr.contains("--max-deletes"),
        "{}",
        run.stderr
    );
    assert_eq!(block_on(inspect::keys(&c, &stack.bucket)).len(), 5);
    assert!(block_on(distribution_of(&c, &stack.bucket)).is_some());

    stack.run(&["down", "--yes", "--purge", "--max-deletes", "5"]).ok();
    assert_gone(&stack, "");
}

#[test]
fn a_deploying_distribution_is_waited_for() {
    let stack = Stack::new("waitdown");
    stack.configure(json!({"deploy_seconds": 1.5}));
    stack.run(&["up", "--no-wait"]).ok();
    assert_eq!(
        block_on(distribution_of(&clients(&stack), &stack.bucket))
            .unwrap()
            .status,
        "InProgress"
    );
    // The emulator, like AWS, refuses to delete a distribution that is not
    // disabled and deployed: success means down waited.
    stack.run(&["down", "--yes"]).ok();
    assert_gone(&stack, "");
}

#[test]
fn no_wait_then_a_second_down_finishes_the_job() {
    let stack = Stack::new("nowait");
    stack.configure(json!({"deploy_seconds": 1.5}));
    stack.run(&["up"]).ok();
    let c = clients(&stack);

    let run = stack.run(&["down", "--yes", "--no-wait"]).ok();
    assert!(
        run.stderr.contains("run `cdnctl down --yes --no-wait` again"),
        "{}",
        run.stderr
    );
    let d = block_on(distribution_of(&c, &stack.bucket)).expect("still there, disabled");
    assert!(!d.config.enabled);
    assert!(block_on(inspect::bucket_exists(&c, &stack.bucket)));

    stack.run(&["status"]).code(3);
    stack.run(&["down", "--yes"]).ok();
    assert_gone(&stack, "");
}

#[test]
fn what_this_stack_did_not_create_is_left_alone() {
    let (stack, zone_id, domain) = Stack::new("downforeign").with_domain();
    let c = clients(&stack);
    let cert = block_on(issued_certificate(&c, &domain));
    let stack = stack.with("CERTIFICATE_ARN", &cert);
    block_on(inspect::make_bucket(&c, &stack.bucket, &["theirs.txt"]));
    block_on(inspect::a_record(&c, &zone_id, &domain, "192.0.2.20"));

    let run = stack.run(&["down", "--yes"]).ok();
    assert!(run.stderr.contains("left alone"), "{}", run.stderr);
    assert!(stack.writes().is_empty(), "wrote: {:?}", stack.writes());
    assert_eq!(block_on(inspect::keys(&c, &stack.bucket)), vec!["theirs.txt"]);
    assert_eq!(
        block_on(records_of(&c, &zone_id, &domain)).get("A").map(String::as_str),
        Some("192.0.2.20")
    );
}

#[test]
fn dry_run_and_missing_confirmation_delete_nothing() {
    let stack = Stack::new("downdry");
    stack.run(&["up"]).ok();
    let run = stack.run_without_writes(&["down", "--dry-run"]).code(3);
    assert!(
        run.stderr.contains("disable") && run.stderr.contains("delete"),
        "{}",
        run.stderr
    );
    let run = stack.run_without_writes(&["down"]).code(1);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);

    stack.run(&["status"]).ok();
    // Nothing to remove: a dry run exits 0.
    let empty = Stack::new("downdry-none");
    empty.run_without_writes(&["down", "--dry-run"]).ok();
}

#[test]
fn on_a_terminal_down_lists_what_it_will_delete_and_asks() {
    let stack = Stack::new("tty");
    stack.run(&["up"]).ok();

    let run = stack.run_in_terminal(&["down"], "n\n");
    assert_eq!(run.code, 1, "{}", run.stdout);
    for expected in [
        "cdnctl down will:",
        "disable",
        &format!("bucket {}: delete", stack.bucket),
        "Delete these? [y/N]",
        "not confirmed",
    ] {
        assert!(run.stdout.contains(expected), "lacks {expected:?}: {}", run.stdout);
    }
    assert!(block_on(distribution_of(&clients(&stack), &stack.bucket)).is_some());

    let run = stack.run_in_terminal(&["down"], "y\n");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_gone(&stack, "");
}

/// Kill `down --purge` after each of its writes in turn, then run it again.
#[test]
fn down_killed_after_any_write_finishes_on_the_next_run() {
    let setup = |label: &str| {
        let (stack, zone_id, domain) = Stack::new(label).with_domain();
        let c = clients(&stack);
        let cert = block_on(issued_certificate(&c, &domain));
        let stack = stack.with("CERTIFICATE_ARN", &cert);
        stack.run(&["up"]).ok();
        block_on(inspect::put_objects(&c, &stack.bucket, &["a.css", "b.js"]));
        (stack, zone_id, domain)
    };
    let (reference, _, _) = setup("downref");
    let before = reference.writes().len();
    reference.run(&["down", "--yes", "--purge"]).ok();
    let total = reference.writes().len() - before;
    assert!(
        total >= 6,
        "down --purge with a domain makes at least 6 writes, made {total}"
    );

    for k in 0..total {
        let (stack, zone_id, domain) = setup("downkill");
        stack.configure(json!({"stall_after_writes": k}));
        let mut child = stack
            .command(&["down", "--yes", "--purge"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        inspect::wait_for_stall(&stack, &mut child);
        child.kill().unwrap();
        child.wait().unwrap();
        stack.configure(json!({"stall_after_writes": null}));

        stack.run(&["down", "--yes", "--purge"]).ok();
        assert_gone(&stack, "");
        let c = clients(&stack);
        assert!(
            block_on(records_of(&c, &zone_id, &domain)).is_empty(),
            "k={k}: records left"
        );
        stack.run(&["status"]).code(5);
    }
}
