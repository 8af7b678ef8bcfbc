//! Nothing a deploy does may break the live site or lose what is not
//! cdnctl's: a bucket policy's other statements, a bucket serving the public,
//! the old name while the domain changes, a validation record another
//! certificate needs. Each test checks what ended up in the emulator.

use serde_json::{json, Value};

use crate::harness::{block_on, clients, Stack, ACCOUNT};
use crate::inspect::{self, distribution_of};

/// An origin access identity's grant, as the CDK's old `S3Origin` wrote it.
fn oai_grant(bucket: &str) -> Value {
    json!({
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
    })
}

/// Another distribution's OAC grant, as the console writes it.
fn other_oac_grant(bucket: &str) -> Value {
    json!({
        "Sid": "AllowCloudFrontServicePrincipal",
        "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
        "Condition": {"StringEquals": {"AWS:SourceArn": format!("arn:aws:cloudfront::{ACCOUNT}:distribution/EOTHER1234")}},
    })
}

fn public_read(bucket: &str) -> Value {
    json!({
        "Sid": "PublicRead",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*"),
    })
}

fn put_policy(stack: &Stack, statements: Vec<Value>) {
    let c = clients(stack);
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    block_on(c.s3.put_bucket_policy().bucket(&stack.bucket).policy(doc).send()).unwrap();
}

fn statements(stack: &Stack) -> Vec<Value> {
    let policy = block_on(inspect::bucket(&clients(stack), &stack.bucket))
        .policy
        .unwrap();
    policy["Statement"].as_array().unwrap().clone()
}

#[test]
fn adopting_a_bucket_keeps_the_policy_statements_cdnctl_did_not_write() {
    let stack = Stack::new("keeppolicy");
    let c = clients(&stack);
    block_on(inspect::make_bucket(&c, &stack.bucket, &["app.css"]));
    let (oai, oac) = (oai_grant(&stack.bucket), other_oac_grant(&stack.bucket));
    put_policy(&stack, vec![oai.clone(), oac.clone()]);

    stack.run(&["up", "--adopt"]).ok();
    let after = statements(&stack);
    assert!(after.contains(&oai), "the OAI's grant was removed: {after:#?}");
    assert!(
        after.contains(&oac),
        "the other distribution's grant was removed: {after:#?}"
    );
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    assert!(
        after.iter().any(|s| s["Sid"] == "CloudFrontRead"
            && s["Condition"]["StringEquals"]["AWS:SourceArn"]
                == format!("arn:aws:cloudfront::{ACCOUNT}:distribution/{}", d.id)),
        "{after:#?}"
    );

    // status lists them, and they are no drift.
    let report = stack.run(&["status", "--json"]).ok().json();
    let detail = inspect::resource(&report, "bucket")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.contains("2 statement(s) cdnctl did not write")
            && detail.contains("CloudFront Origin Access Identity E2QWRUHAPOMQZL")
            && detail.contains("AllowCloudFrontServicePrincipal"),
        "{detail}"
    );
    // A later run changes nothing and keeps them.
    let before = stack.writes().len();
    stack.run(&["up"]).ok();
    assert_eq!(stack.writes().len(), before, "{:?}", &stack.writes()[before..]);
    assert_eq!(statements(&stack).len(), after.len());
}

#[test]
fn a_bucket_serving_the_public_directly_is_refused_unless_told() {
    let stack = Stack::new("publicsite");
    let c = clients(&stack);
    block_on(inspect::make_bucket(&c, &stack.bucket, &["index.html"]));
    put_policy(&stack, vec![public_read(&stack.bucket), oai_grant(&stack.bucket)]);
    block_on(
        c.s3.put_bucket_website()
            .bucket(&stack.bucket)
            .website_configuration(
                aws_sdk_s3::types::WebsiteConfiguration::builder()
                    .index_document(
                        aws_sdk_s3::types::IndexDocument::builder()
                            .suffix("index.html")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .send(),
    )
    .unwrap();

    let run = stack.run_without_writes(&["up", "--adopt"]).code(1);
    assert!(
        run.stderr.contains("serves the public directly")
            && run.stderr.contains("static website hosting is on")
            && run.stderr.contains("PublicRead")
            && run.stderr.contains("--end-public-access"),
        "{}",
        run.stderr
    );
    let report = stack.run(&["status", "--json"]).code(3).json();
    assert!(
        report["problems"].to_string().contains("serves the public directly"),
        "{report}"
    );

    stack.run(&["up", "--adopt", "--end-public-access"]).ok();
    let bucket = block_on(inspect::bucket(&c, &stack.bucket));
    assert_eq!(bucket.public_access_block, Some([true; 4]));
    let after = statements(&stack);
    assert!(!after.iter().any(|s| s["Sid"] == "PublicRead"), "{after:#?}");
    assert!(after.contains(&oai_grant(&stack.bucket)), "{after:#?}");
    assert_eq!(block_on(inspect::keys(&c, &stack.bucket)), vec!["index.html"]);
    stack.run(&["status"]).ok();
}

#[test]
fn cloudfront_may_not_read_the_reserved_prefix_and_status_checks_it() {
    let stack = Stack::new("reserved");
    stack.run(&["up"]).ok();
    let b = &stack.bucket;
    let deny = json!({
        "Sid": "DenyCloudFrontReservedPrefix",
        "Effect": "Deny",
        "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": [format!("arn:aws:s3:::{b}/.cdnctl/*"), format!("arn:aws:s3:::{b}/*/.cdnctl/*")],
    });
    let now = statements(&stack);
    assert!(now.contains(&deny), "{now:#?}");

    put_policy(&stack, now.iter().filter(|s| **s != deny).cloned().collect());
    let run = stack.run(&["status"]).code(3);
    assert!(
        run.stdout
            .contains("the deny that keeps CloudFront from serving .cdnctl/ is missing"),
        "{}",
        run.stdout
    );
    stack.run(&["up"]).ok();
    assert!(statements(&stack).contains(&deny));
    stack.run(&["status"]).ok();
}
