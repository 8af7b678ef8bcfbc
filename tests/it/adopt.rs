//! `cdnctl adopt --from-stack`: the CDK stack's live CDN taken over with the
//! site serving throughout. The emulator deploys the seed stack
//! (tests/it/data/seed-cdk-stack.template.json) with POST /cfn/seed-stack;
//! `check_oai` makes it refuse an origin or grant naming a missing identity.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::harness::{block_on, clients, emulator, to_edge, trust_emulator, Clients, Run, Stack};
use crate::inspect;

/// A stack whose settings cdnctl must read from the CDK stack: no
/// BUCKET_NAME, no domain; the seed stack deployed, files in its bucket.
struct Seeded {
    stack: Stack,
    c: Clients,
    name: String,
    domain: String,
    zone_id: String,
    distribution: String,
    oai: String,
}

fn seeded(label: &str) -> Seeded {
    let (mut stack, zone_id, domain) = Stack::new(label).with_domain();
    for setting in ["BUCKET_NAME", "HOSTED_ZONE_NAME", "SUBDOMAIN"] {
        stack.unset(setting);
    }
    stack.configure(json!({"check_oai": true, "deploy_seconds": 0}));
    let c = clients(&stack);
    let certificate = block_on(inspect::issued_certificate(&c, &domain));
    let name = format!("Seed{}", stack.key);
    let body = json!({"key": stack.key, "bucket": stack.bucket, "zone": zone_id, "certificate": certificate,
                      "domain": domain, "stack": name});
    let answer = emulator().control("POST", "/cfn/seed-stack", &body.to_string());
    assert!(answer.contains("CREATE_COMPLETE"), "{answer}");
    let (distribution, oai) = block_on(async {
        for (key, body) in [("index.html", "<h1>seed</h1>"), ("app.css", "body{}")] {
            c.s3.put_object()
                .bucket(&stack.bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send()
                .await
                .unwrap();
        }
        let resources = c
            .cloudformation
            .describe_stack_resources()
            .stack_name(&name)
            .send()
            .await
            .unwrap();
        let physical = |kind: &str| {
            resources
                .stack_resources()
                .iter()
                .find(|r| r.resource_type() == Some(kind))
                .and_then(|r| r.physical_resource_id())
                .unwrap()
                .to_string()
        };
        (
            physical("AWS::CloudFront::Distribution"),
            physical("AWS::CloudFront::CloudFrontOriginAccessIdentity"),
        )
    });
    Seeded {
        stack,
        c,
        name,
        domain,
        zone_id,
        distribution,
        oai,
    }
}

fn adopt_args<'a>(name: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = ["adopt", "--from-stack", name].iter().map(|s| s.to_string()).collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(to_edge());
    args.extend(trust_emulator());
    args
}

fn run(stack: &Stack, args: &[String]) -> Run {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stack.run(&args)
}

/// The `.env` lines adopt printed, as settings.
fn printed_settings(run: &Run) -> Vec<(String, String)> {
    run.stderr
        .lines()
        .skip_while(|l| !l.starts_with("Settings read from the stack"))
        .skip(1)
        .map_while(|l| l.strip_prefix("  ").and_then(|l| l.split_once('=')))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Fetches `/index.html` through the edge over HTTPS every 100 ms until
/// stopped; each answer's status, one per line.
struct Visitor(Child);

impl Visitor {
    fn start(domain: &str) -> Visitor {
        let emu = emulator();
        let (address, port) = emu.edge_https.split_once(':').unwrap();
        let script = r#"
import http.client, socket, ssl, sys, time, select
address, port, ca, host = sys.argv[1:5]
ctx = ssl.create_default_context(cafile=ca)
while True:
    try:
        conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
        conn.sock = ctx.wrap_socket(socket.create_connection((address, int(port)), timeout=10), server_hostname=host)
        conn.putrequest("GET", "/index.html", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.endheaders()
        r = conn.getresponse()
        r.read()
        print(r.status, flush=True)
    except Exception as e:
        print("error", repr(e).replace("\n", " "), flush=True)
    if select.select([sys.stdin], [], [], 0.1)[0]:
        break
"#;
        let child = Command::new("python3")
            .args(["-c", script, address, port, emu.ca_bundle.to_str().unwrap(), domain])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        Visitor(child)
    }

    /// Stop, and every status seen.
    fn stop(mut self) -> Vec<String> {
        use std::io::Write as _;
        let _ = self.0.stdin.as_mut().unwrap().write_all(b"stop\n");
        drop(self.0.stdin.take());
        let out = BufReader::new(self.0.stdout.take().unwrap())
            .lines()
            .map_while(Result::ok)
            .collect();
        self.0.wait().unwrap();
        out
    }
}

#[test]
fn adopt_takes_over_the_cdk_stack_while_it_serves() {
    let s = seeded("adopt");
    let visitor = Visitor::start(&s.domain);
    let run = run(&s.stack, &adopt_args(&s.name, &["--yes"]));
    let seen = visitor.stop();
    let run = run.ok();
    assert!(seen.len() >= 5, "the visitor fetched: {seen:?}");
    assert!(
        seen.iter().all(|s| s == "200"),
        "every fetch through the edge is 200: {seen:?}"
    );

    // The stack is gone, every resource kept (the same ids), the identity deleted.
    block_on(async {
        let gone = s.c.cloudformation.describe_stacks().stack_name(&s.name).send().await;
        assert!(gone.is_err(), "the stack is gone: {gone:?}");
        let d =
            s.c.cloudfront
                .get_distribution()
                .id(&s.distribution)
                .send()
                .await
                .unwrap();
        let config = d.distribution.unwrap().distribution_config.unwrap();
        let origin = &config.origins.unwrap().items[0];
        assert!(origin
            .origin_access_control_id
            .as_deref()
            .is_some_and(|i| !i.is_empty()));
        assert_eq!(origin.s3_origin_config.as_ref().unwrap().origin_access_identity, "");
        let oai =
            s.c.cloudfront
                .get_cloud_front_origin_access_identity()
                .id(&s.oai)
                .send()
                .await;
        assert!(oai.is_err(), "the identity is deleted");
        s.c.s3.head_bucket().bucket(&s.stack.bucket).send().await.unwrap();
        // Tags merged: cdnctl's beside CloudFormation's, which stay.
        let tags =
            s.c.s3
                .get_bucket_tagging()
                .bucket(&s.stack.bucket)
                .send()
                .await
                .unwrap();
        let keys: Vec<&str> = tags.tag_set().iter().map(|t| t.key()).collect();
        assert!(
            keys.contains(&"cdnctl:stack") && keys.contains(&"aws:cloudformation:stack-name"),
            "{keys:?}"
        );
        let arn =
            s.c.cloudfront
                .get_distribution()
                .id(&s.distribution)
                .send()
                .await
                .unwrap()
                .distribution
                .unwrap()
                .arn;
        let tags =
            s.c.cloudfront
                .list_tags_for_resource()
                .resource(&arn)
                .send()
                .await
                .unwrap();
        let keys: Vec<String> = tags
            .tags
            .unwrap()
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.key)
            .collect();
        assert!(
            keys.iter().any(|k| k == "cdnctl:stack") && keys.iter().any(|k| k == "aws:cloudformation:logical-id"),
            "{keys:?}"
        );
        let policy = s.c.s3.get_bucket_policy().bucket(&s.stack.bucket).send().await.unwrap();
        let policy = policy.policy.unwrap();
        assert!(!policy.contains("Origin Access Identity"), "{policy}");
        assert!(
            policy.contains("arn:aws:iam::123456789012:role/ci"),
            "the deploy principals keep their access: {policy}"
        );
    });
    let records = block_on(inspect::records_of(&s.c, &s.zone_id, &s.domain));
    let dist_domain = block_on(async {
        let d =
            s.c.cloudfront
                .get_distribution()
                .id(&s.distribution)
                .send()
                .await
                .unwrap();
        d.distribution.unwrap().domain_name
    });
    for kind in ["A", "AAAA"] {
        assert!(
            records
                .get(kind)
                .is_some_and(|r| r.trim_end_matches('.').ends_with(&dist_domain)),
            "{kind} still points at the same distribution: {records:?}"
        );
    }

    // http now redirects; `status` is clean and `up` a no-op, with the printed settings.
    let (code, _) = edge_http(&s.domain);
    assert_eq!(code, 301, "http redirects to https");
    let mut stack = s.stack;
    for (k, v) in printed_settings(&run) {
        stack.set(&k, &v);
    }
    stack.run(&["status"]).ok();
    stack.run_without_writes(&["up"]).ok();
}

/// One GET over plain HTTP through the edge: (status, Location).
fn edge_http(domain: &str) -> (u16, String) {
    let emu = emulator();
    let (address, port) = emu.edge_http.split_once(':').unwrap();
    let script = r#"
import http.client, sys
address, port, host = sys.argv[1:4]
conn = http.client.HTTPConnection(address, int(port), timeout=10)
conn.putrequest("GET", "/index.html", skip_host=True)
conn.putheader("Host", host)
conn.endheaders()
r = conn.getresponse()
print(r.status, r.getheader("Location") or "")
"#;
    let out = Command::new("python3")
        .args(["-c", script, address, port, domain])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (code, location) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    (code.parse().unwrap_or(0), location.to_string())
}

#[test]
fn dry_run_prints_the_plan_and_the_settings_and_writes_nothing() {
    let s = seeded("adoptdry");
    let run = s.stack.run_without_writes(
        &adopt_args(&s.name, &["--dry-run"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let run = run.code(3);
    assert!(
        run.stderr
            .contains(&format!("cdnctl adopt would take over stack {}:", s.name)),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Retain on every resource"), "{}", run.stderr);
    let settings = printed_settings(&run);
    let names: Vec<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "BUCKET_NAME",
            "BUCKET_USERS",
            "HOSTED_ZONE_NAME",
            "HOSTED_ZONE_ID",
            "SUBDOMAIN",
            "CERTIFICATE_ARN"
        ],
        "{}",
        run.stderr
    );
    assert_eq!(settings[0].1, s.stack.bucket);
    let json = s
        .stack
        .run_without_writes(
            &adopt_args(&s.name, &["--dry-run", "--json"])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .code(3)
        .json();
    assert_eq!(json["settings"]["BUCKET_NAME"], s.stack.bucket.as_str());
    assert_eq!(json["distribution"], s.distribution.as_str());
    assert_eq!(json["taken_over"], false);
    // Elsewhere than a terminal, it needs --yes: still nothing written.
    let run = s
        .stack
        .run_without_writes(&adopt_args(&s.name, &[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("needs confirmation"), "{}", run.stderr);
}

#[test]
fn refusals_name_the_reason_and_send_no_write() {
    let mut s = seeded("adoptno");
    let args = adopt_args(&s.name, &["--yes"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // Drift on a resource it would retain.
    let drift = json!({"stack": s.name, "resource": "CdnDistributionA3885507", "status": "MODIFIED"});
    emulator().control("POST", "/cfn/drift", &drift.to_string());
    let run = s.stack.run_without_writes(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("CdnDistributionA3885507 (AWS::CloudFront::Distribution) MODIFIED"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("drift on a resource cdnctl would retain"),
        "{}",
        run.stderr
    );
    let in_sync = json!({"stack": s.name, "resource": "CdnDistributionA3885507", "status": "IN_SYNC"});
    emulator().control("POST", "/cfn/drift", &in_sync.to_string());

    // A stack not at rest.
    let status = json!({"stack": s.name, "status": "UPDATE_ROLLBACK_FAILED", "reason": "test"});
    emulator().control("POST", "/cfn/stack-status", &status.to_string());
    let run = s.stack.run_without_writes(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "stack {}: UPDATE_ROLLBACK_FAILED: cdnctl takes over a stack only once",
            s.name
        )),
        "{}",
        run.stderr
    );
    let status = json!({"stack": s.name, "status": "CREATE_COMPLETE"});
    emulator().control("POST", "/cfn/stack-status", &status.to_string());

    // ACLs needed: objects granted to another owner while ACLs are on.
    block_on(async {
        s.c.s3
            .put_object_acl()
            .bucket(&s.stack.bucket)
            .key("app.css")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
    });
    let run = s.stack.run_without_writes(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("object app.css carries an ACL grant"),
        "{}",
        run.stderr
    );
    block_on(async {
        s.c.s3
            .put_object_acl()
            .bucket(&s.stack.bucket)
            .key("app.css")
            .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
            .send()
            .await
            .unwrap();
    });

    // A setting naming another bucket than the stack's.
    s.stack.set("BUCKET_NAME", "someone-elses-bucket");
    let run = s.stack.run_without_writes(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "BUCKET_NAME: someone-elses-bucket is set, the stack's is {}",
            s.stack.bucket
        )),
        "{}",
        run.stderr
    );
    s.stack.unset("BUCKET_NAME");

    // A resource added to the stack: not the seed's shape, named.
    block_on(async {
        let cfn = &s.c.cloudformation;
        let got = cfn.get_template().stack_name(&s.name).send().await.unwrap();
        let mut template: serde_json::Value = serde_json::from_str(got.template_body().unwrap()).unwrap();
        template["Resources"]["LogsBucket"] =
            json!({"Type": "AWS::S3::Bucket", "Properties": {"BucketName": format!("{}-logs", s.stack.bucket)}});
        cfn.update_stack()
            .stack_name(&s.name)
            .template_body(template.to_string())
            .parameters(
                aws_sdk_cloudformation::types::Parameter::builder()
                    .parameter_key("BootstrapVersion")
                    .use_previous_value(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        loop {
            let out = cfn.describe_stacks().stack_name(&s.name).send().await.unwrap();
            let status = out.stacks()[0].stack_status().unwrap().as_str().to_string();
            if !status.ends_with("_IN_PROGRESS") {
                assert_eq!(status, "UPDATE_COMPLETE");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let run = s.stack.run_without_writes(&args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("holds 2 AWS::S3::Bucket (CdnBucketD3E1E7F8, LogsBucket)"),
        "{}",
        run.stderr
    );

    // No stack of that name, and no settings to finish an earlier takeover.
    let run = s
        .stack
        .run_without_writes(&["adopt", "--from-stack", "NoSuchStack", "--yes"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("stack NoSuchStack: does not exist"),
        "{}",
        run.stderr
    );
}

/// Killed after any of its writes (the emulator holds the next one and
/// never applies it), `adopt` run again finishes from what it finds: the
/// stack detached, deleted or not, the origin moved or not, the identity's
/// grant removed or not. A visitor fetching through the edge meanwhile
/// always gets 200.
#[test]
fn adopt_killed_after_any_write_finishes_on_the_next_run() {
    let whole = seeded("adoptcount");
    run(&whole.stack, &adopt_args(&whole.name, &["--yes"])).ok();
    let total = whole.stack.writes().len();
    assert!(total >= 8, "a takeover makes at least 8 writes, made {total}");

    for k in 0..total {
        let s = seeded("adoptkill");
        let visitor = Visitor::start(&s.domain);
        s.stack.configure(json!({"stall_after_writes": k}));
        let args = adopt_args(&s.name, &["--yes"]);
        let mut child = s
            .stack
            .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        inspect::wait_for_stall(&s.stack, &mut child);
        child.kill().unwrap();
        child.wait().unwrap();
        s.stack.configure(json!({"stall_after_writes": null}));

        let again = run(&s.stack, &args);
        let seen = visitor.stop();
        assert_eq!(again.code, 0, "k={k}: the second run finishes\n{}", again.stderr);
        assert!(seen.iter().all(|s| s == "200"), "k={k}: every fetch 200: {seen:?}");
        block_on(async {
            let gone = s.c.cloudformation.describe_stacks().stack_name(&s.name).send().await;
            assert!(gone.is_err(), "k={k}: the stack is gone");
            let oai =
                s.c.cloudfront
                    .get_cloud_front_origin_access_identity()
                    .id(&s.oai)
                    .send()
                    .await;
            assert!(oai.is_err(), "k={k}: the identity is deleted");
            let d =
                s.c.cloudfront
                    .get_distribution()
                    .id(&s.distribution)
                    .send()
                    .await
                    .unwrap();
            let config = d.distribution.unwrap().distribution_config.unwrap();
            assert_eq!(
                config.origins.unwrap().items[0]
                    .s3_origin_config
                    .as_ref()
                    .unwrap()
                    .origin_access_identity,
                "",
                "k={k}"
            );
        });
    }
}

/// Killed while CloudFormation still runs the change set it executed, the
/// next run waits for the stack to come to rest rather than refuse it.
#[test]
fn a_rerun_waits_for_the_operation_an_interrupted_run_started() {
    let s = seeded("adoptwait");
    // Killed as soon as ExecuteChangeSet is sent: CloudFormation keeps the
    // stack UPDATE_IN_PROGRESS for a while (stack_seconds).
    s.stack.configure(json!({"stack_seconds": 5}));
    let args = adopt_args(&s.name, &["--yes"]);
    let mut child = s
        .stack
        .command(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while !s.stack.writes().iter().any(|r| r.op == "ExecuteChangeSet") {
        assert!(
            child.try_wait().unwrap().is_none(),
            "adopt ended before executing its change set"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let status = block_on(async {
        let out =
            s.c.cloudformation
                .describe_stacks()
                .stack_name(&s.name)
                .send()
                .await
                .unwrap();
        out.stacks()[0].stack_status().unwrap().as_str().to_string()
    });
    assert_eq!(status, "UPDATE_IN_PROGRESS");
    s.stack.configure(json!({"stack_seconds": 0}));
    let before = s.stack.writes().len();
    let again = run(&s.stack, &args).ok();
    let next = s.stack.writes()[before].op.clone();
    assert_eq!(
        next, "DeleteStack",
        "the retain change set, executed, is not made again\n{}",
        again.stderr
    );
}

/// `scripts/demo takeover`: the seed stack deployed, taken over, then
/// `status` in sync and `up` with nothing to do.
#[test]
fn the_takeover_demo_runs_end_to_end() {
    let out = Command::new(crate::harness::root().join("scripts/demo"))
        .arg("takeover")
        .env("CDNCTL_BIN", crate::harness::binary())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stderr.contains("✓ stack SeedCdnStack: DELETE_COMPLETE"), "{stderr}");
    assert!(stderr.contains("200 through the origin access control"), "{stderr}");
    assert!(stdout.contains("state: in_sync (exit code 0)"), "{stdout}");
    assert!(stderr.contains("cdnctl up would: nothing to do"), "{stderr}");
}
