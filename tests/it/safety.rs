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

/// A certificate requested by hand (not the stack's): `names[0]` primary, the
/// others as subject alternative names.
async fn certificate(c: &crate::harness::Clients, names: &[&str], key: &str) -> String {
    let out = c
        .acm
        .request_certificate()
        .domain_name(names[0])
        .set_subject_alternative_names(Some(names.iter().map(|n| n.to_string()).collect()))
        .key_algorithm(aws_sdk_acm::types::KeyAlgorithm::from(key))
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap();
    out.certificate_arn.unwrap()
}

/// Every certificate in the account naming `domain` (any key type, any of its names).
async fn certificates_naming(c: &crate::harness::Clients, domain: &str) -> Vec<String> {
    let every = aws_sdk_acm::types::Filters::builder()
        .set_key_types(Some(
            aws_sdk_acm::types::KeyAlgorithm::values()
                .iter()
                .map(|k| aws_sdk_acm::types::KeyAlgorithm::from(*k))
                .collect(),
        ))
        .build();
    let list = c.acm.list_certificates().includes(every).send().await.unwrap();
    list.certificate_summary_list()
        .iter()
        .filter(|s| {
            s.domain_name() == Some(domain) || s.subject_alternative_name_summaries().iter().any(|n| n == domain)
        })
        .map(|s| s.certificate_arn().unwrap().to_string())
        .collect()
}

/// The validation CNAME of `domain` in the zone, if it is there.
fn validation_cname(stack: &Stack, zone_id: &str, domain: &str) -> bool {
    let names = block_on(inspect::cnames(&clients(stack), zone_id));
    names.iter().any(|(n, _)| n.ends_with(&format!(".{domain}.")))
}

#[test]
fn down_keeps_the_validation_record_an_ecdsa_certificate_needs() {
    let (stack, zone_id, domain) = Stack::new("ecdsakeep").with_domain();
    stack.run(&["up"]).ok();
    assert!(validation_cname(&stack, &zone_id, &domain));
    // A certificate of the team's own for the same name, ECDSA: it shares the
    // validation record, and ACM renews it only while the record resolves.
    let theirs = block_on(certificate(&clients(&stack), &[&domain], "EC_prime256v1"));
    stack.run(&["down", "--yes"]).ok();
    assert!(
        validation_cname(&stack, &zone_id, &domain),
        "down deleted the validation record that {theirs} needs"
    );
}

#[test]
fn down_keeps_the_validation_record_a_certificate_names_among_its_others() {
    let (stack, zone_id, domain) = Stack::new("sankeep").with_domain();
    stack.run(&["up"]).ok();
    let zone = domain.split_once('.').unwrap().1.to_string();
    // Primary name elsewhere in the zone, the stack's domain as a second name.
    let theirs = block_on(certificate(
        &clients(&stack),
        &[&format!("www.{zone}"), &domain],
        "RSA_2048",
    ));
    stack.run(&["down", "--yes"]).ok();
    assert!(
        validation_cname(&stack, &zone_id, &domain),
        "down deleted the validation record that {theirs} needs"
    );
}

#[test]
fn one_certificate_is_requested_although_acm_does_not_know_it_at_first() {
    let (stack, _zone_id, domain) = Stack::new("acmlag").with_domain();
    stack.configure(json!({"describe_lag_seconds": 2}));
    stack.run(&["up"]).ok();
    let certs = block_on(certificates_naming(&clients(&stack), &domain));
    assert_eq!(certs.len(), 1, "{certs:?}");
    let requests = stack
        .requests()
        .iter()
        .filter(|r| r.op.contains("RequestCertificate"))
        .count();
    assert_eq!(requests, 1);
    stack.run(&["status"]).ok();
}

#[test]
fn a_given_certificate_cloudfront_refuses_is_refused_in_preflight() {
    let (stack, zone_id, domain) = Stack::new("keytype").with_domain();
    let c = clients(&stack);
    let arn = block_on(certificate(&c, &[&domain], "EC_secp384r1"));
    // Validated and issued, as a team's own certificate would be.
    let (name, value) = loop {
        let d = block_on(inspect::describe_certificate(&c, &arn));
        if let Some(r) = d.domain_validation_options().iter().find_map(|o| o.resource_record()) {
            break (r.name().to_string(), r.value().to_string());
        }
    };
    block_on(inspect::cname(&c, &zone_id, &name, &value));
    let start = std::time::Instant::now();
    while block_on(inspect::describe_certificate(&c, &arn))
        .status
        .unwrap()
        .as_str()
        != "ISSUED"
    {
        assert!(start.elapsed().as_secs() < 30, "never issued");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let stack = stack.with("CERTIFICATE_ARN", &arn);
    let run = stack.run_without_writes(&["up"]).code(1);
    assert!(
        run.stderr.contains("key algorithm EC_secp384r1") && run.stderr.contains("CloudFront does not accept"),
        "{}",
        run.stderr
    );
}

/// Write an alias record at `domain` to `target`.
async fn alias_record(
    c: &crate::harness::Clients,
    zone_id: &str,
    domain: &str,
    kind: &str,
    target: &str,
    health: bool,
) {
    use aws_sdk_route53::types::*;
    let record = ResourceRecordSet::builder()
        .name(format!("{domain}."))
        .r#type(RrType::from(kind))
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z2FDTNDATAQYW2")
                .dns_name(format!("{target}."))
                .evaluate_target_health(health)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    inspect::change_record(c, zone_id, ChangeAction::Upsert, record).await;
}

#[test]
fn down_deletes_records_as_they_are_when_it_deletes_them() {
    use std::io::{Read as _, Write as _};
    let (stack, zone_id, domain) = Stack::new("exactdel").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();

    // `down` on a terminal: while it waits for the answer, someone turns on
    // health evaluation of the A record and points AAAA elsewhere.
    let mut child = stack
        .terminal(&["down"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("[y/N]") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "down ended before asking: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    block_on(alias_record(&c, &zone_id, &domain, "A", &d.domain_name, true));
    block_on(alias_record(
        &c,
        &zone_id,
        &domain,
        "AAAA",
        "dother1234.cloudfront.net",
        false,
    ));
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{seen}{rest}");

    let records = block_on(inspect::records_of(&c, &zone_id, &domain));
    assert_eq!(records.get("A"), None, "{records:?}");
    assert_eq!(
        records.get("AAAA").map(String::as_str),
        Some("Z2FDTNDATAQYW2 dother1234.cloudfront.net."),
        "{records:?}"
    );
    assert!(
        rest.contains("AAAA record no longer points at this stack's distribution"),
        "{rest}"
    );
}

/// The distribution's aliases and the names of its certificate.
fn serving(stack: &Stack) -> (Vec<String>, Vec<String>) {
    let c = clients(stack);
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let aliases = d
        .config
        .aliases
        .as_ref()
        .map(|a| a.items().to_vec())
        .unwrap_or_default();
    let arn = d
        .config
        .viewer_certificate
        .as_ref()
        .and_then(|v| v.acm_certificate_arn.clone())
        .unwrap();
    let mut names = block_on(inspect::describe_certificate(&c, &arn))
        .subject_alternative_names()
        .to_vec();
    names.sort();
    (aliases, names)
}

#[test]
fn changing_the_domain_keeps_the_old_name_serving_until_the_new_one_works() {
    let (mut stack, zone_id, old) = Stack::new("move").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let target = format!("Z2FDTNDATAQYW2 {}.", d.domain_name);
    let new = format!("cdn.{}", old.split_once('.').unwrap().1);
    stack.set("SUBDOMAIN", "cdn");

    // The new certificate cannot be had: the old name keeps serving.
    stack.configure(json!({"deny": ["acm:RequestCertificate"]}));
    stack.run(&["up"]).code(1);
    let records = block_on(inspect::records_of(&c, &zone_id, &old));
    assert_eq!((records.get("A"), records.get("AAAA")), (Some(&target), Some(&target)));
    assert_eq!(serving(&stack).0, vec![old.clone()]);

    // Carried: both names on the distribution, one certificate covering
    // both, both names' records in place.
    stack.configure(json!({"deny": []}));
    stack.run(&["up", "--no-wait"]).ok();
    let (aliases, names) = serving(&stack);
    assert_eq!(aliases, vec![new.clone(), old.clone()]);
    let mut both = vec![new.clone(), old.clone()];
    both.sort();
    assert_eq!(names, both);
    for name in [&old, &new] {
        let records = block_on(inspect::records_of(&c, &zone_id, name));
        assert_eq!(
            (records.get("A"), records.get("AAAA")),
            (Some(&target), Some(&target)),
            "{name}"
        );
    }

    // Finished by the next run: the old name's records and alias go, the
    // distribution serves with a certificate for the new name alone, and the
    // certificates naming the old name are gone.
    stack.run(&["up"]).ok();
    assert_eq!(serving(&stack), (vec![new.clone()], vec![new.clone()]));
    assert!(block_on(inspect::records_of(&c, &zone_id, &old)).is_empty());
    let records = block_on(inspect::records_of(&c, &zone_id, &new));
    assert_eq!((records.get("A"), records.get("AAAA")), (Some(&target), Some(&target)));
    assert!(block_on(certificates_naming(&c, &old)).is_empty());
    assert_eq!(block_on(certificates_naming(&c, &new)).len(), 1);
    stack.run(&["status"]).ok();
}

#[test]
fn one_waiting_up_takes_every_step_of_a_domain_move() {
    let (mut stack, zone_id, old) = Stack::new("moveone").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let new = format!("cdn.{}", old.split_once('.').unwrap().1);
    stack.set("SUBDOMAIN", "cdn");
    stack.run(&["up"]).ok();
    assert_eq!(serving(&stack), (vec![new.clone()], vec![new.clone()]));
    assert!(block_on(inspect::records_of(&c, &zone_id, &old)).is_empty());
    assert!(block_on(certificates_naming(&c, &old)).is_empty());
    stack.run_without_writes(&["up"]).ok();
    stack.run(&["status"]).ok();
}

/// How many invalidations distribution `id` has received.
fn invalidation_count(c: &crate::harness::Clients, id: &str) -> usize {
    let list = block_on(c.cloudfront.list_invalidations().distribution_id(id).send()).unwrap();
    list.invalidation_list().map_or(0, |l| l.items().len())
}

#[test]
fn sync_invalidates_the_stacks_own_distribution_not_an_untagged_copy() {
    let stack = Stack::new("synccopy");
    let c = clients(&stack);
    // A distribution made by hand before the stack's (so ListDistributions
    // gives it first), later given the stack's comment, as a copy made in
    // the console would carry it; without cdnctl's tag.
    let copy = block_on(inspect::distribution_reading(&c, &stack.bucket));
    stack.run(&["up"]).ok();
    let own = block_on(distribution_of(&c, &stack.bucket)).unwrap().id;
    let dir = stack.dir().join("site");
    crate::sync::write(&dir, "index.html", b"<h1>v1</h1>");
    crate::sync::sync(&stack, &dir, &[]).ok();
    block_on(async {
        let current = c.cloudfront.get_distribution_config().id(&copy).send().await.unwrap();
        let mut config = current.distribution_config.unwrap();
        config.comment = format!("cdnctl: {}", stack.bucket);
        c.cloudfront
            .update_distribution()
            .id(&copy)
            .if_match(current.e_tag.unwrap())
            .distribution_config(config)
            .send()
            .await
            .unwrap();
    });

    crate::sync::write(&dir, "index.html", b"<h1>v2</h1>");
    let out = crate::sync::sync(&stack, &dir, &[]).ok().json();
    assert_eq!(out["invalidation"]["path_count"], 2, "{out}");
    assert_eq!(
        invalidation_count(&c, &own),
        1,
        "the stack's distribution was left stale"
    );
    assert_eq!(invalidation_count(&c, &copy), 0, "the untagged copy was invalidated");
    // `check` probes the stack's own distribution too, not the copy.
    let through = [crate::harness::to_edge(), crate::harness::trust_emulator()].concat();
    let mut args = vec!["check", "--json"];
    args.extend(through.iter().map(String::as_str));
    let checked = stack.run_without_writes(&args).ok().json();
    assert_eq!(checked["distribution"], own.as_str(), "{checked}");

    // Tagged as the stack's too, the copy makes two. sync goes by the bucket
    // policy, whose CloudFront grant names the stack's own (the one that
    // reads the bucket): that one alone is invalidated, and no distribution
    // is listed.
    set_owner_tag(&c, &copy, Some(&stack.bucket));
    crate::sync::write(&dir, "index.html", b"<h1>v3</h1>");
    let before = stack.requests().len();
    crate::sync::sync(&stack, &dir, &[]).ok();
    assert!(
        !stack.requests()[before..]
            .iter()
            .any(|r| r.op.split('?').next() == Some("GET /2020-05-31/distribution")),
        "ListDistributions sent"
    );
    assert_eq!(invalidation_count(&c, &own), 2);
    assert_eq!(invalidation_count(&c, &copy), 0, "the copy was invalidated");
    // Without the policy's word, the two tagged ones are found by listing:
    // refused, writing nothing.
    let policy = block_on(c.s3.get_bucket_policy().bucket(&stack.bucket).send())
        .unwrap()
        .policy
        .unwrap();
    block_on(c.s3.delete_bucket_policy().bucket(&stack.bucket).send()).unwrap();
    crate::sync::write(&dir, "index.html", b"<h1>v4</h1>");
    let run = stack.run_without_writes(&["sync", dir.to_str().unwrap()]).code(1);
    assert!(
        run.stderr.contains("several carry this stack's comment and tag") && run.stderr.contains(&own),
        "{}",
        run.stderr
    );

    // Neither tagged (the stack's own untagged by hand): refused, naming the
    // first, rather than published with nothing invalidated; with the
    // policy back, which names a distribution that is no longer tagged as
    // the stack's.
    block_on(c.s3.put_bucket_policy().bucket(&stack.bucket).policy(policy).send()).unwrap();
    set_owner_tag(&c, &copy, None);
    set_owner_tag(&c, &own, None);
    let run = stack.run_without_writes(&["sync", dir.to_str().unwrap()]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "distribution {copy}: carries this stack's comment but not its cdnctl:stack tag"
        )),
        "{}",
        run.stderr
    );
}

/// Put cdnctl's ownership tag on distribution `id` (naming `owner`), or take it off.
fn set_owner_tag(c: &crate::harness::Clients, id: &str, owner: Option<&str>) {
    use aws_sdk_cloudfront::types::{Tag, TagKeys, Tags};
    block_on(async {
        let d = c.cloudfront.get_distribution().id(id).send().await.unwrap();
        let arn = d.distribution.unwrap().arn;
        match owner {
            Some(owner) => {
                let tag = Tag::builder().key("cdnctl:stack").value(owner).build().unwrap();
                let tags = Tags::builder().items(tag).build();
                c.cloudfront
                    .tag_resource()
                    .resource(arn)
                    .tags(tags)
                    .send()
                    .await
                    .unwrap();
            }
            None => {
                let keys = TagKeys::builder().items("cdnctl:stack").build();
                c.cloudfront
                    .untag_resource()
                    .resource(arn)
                    .tag_keys(keys)
                    .send()
                    .await
                    .unwrap();
            }
        }
    });
}
