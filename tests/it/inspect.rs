//! Reads (and a few hand-made changes) straight against the emulator, with the
//! SDK, independent of cdnctl's own code: what tests check is what ended up there.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types::DistributionConfig;
use serde_json::Value;

use crate::harness::{Clients, Stack, REGION};

#[derive(Debug)]
pub struct BucketView {
    pub public_access_block: Option<[bool; 4]>,
    pub ownership: Option<String>,
    pub encryption: Option<String>,
    /// (origins, methods, headers) of the first rule.
    pub cors: Option<(Vec<String>, Vec<String>, Vec<String>)>,
    pub tags: BTreeMap<String, String>,
    pub policy: Option<Value>,
}

pub async fn bucket(c: &Clients, name: &str) -> BucketView {
    let s3 = &c.s3;
    BucketView {
        public_access_block: s3
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.public_access_block_configuration().map(|p| {
                    [
                        p.block_public_acls() == Some(true),
                        p.ignore_public_acls() == Some(true),
                        p.block_public_policy() == Some(true),
                        p.restrict_public_buckets() == Some(true),
                    ]
                })
            }),
        ownership: s3
            .get_bucket_ownership_controls()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|o| {
                o.ownership_controls()
                    .and_then(|c| c.rules().first())
                    .map(|r| r.object_ownership().as_str().to_string())
            }),
        encryption: s3.get_bucket_encryption().bucket(name).send().await.ok().and_then(|o| {
            o.server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm().as_str().to_string())
        }),
        cors: s3.get_bucket_cors().bucket(name).send().await.ok().and_then(|o| {
            o.cors_rules().first().map(|r| {
                (
                    r.allowed_origins().to_vec(),
                    r.allowed_methods().to_vec(),
                    r.allowed_headers().to_vec(),
                )
            })
        }),
        tags: s3
            .get_bucket_tagging()
            .bucket(name)
            .send()
            .await
            .map(|o| {
                o.tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        policy: s3
            .get_bucket_policy()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.policy().map(|p| serde_json::from_str(p).unwrap())),
    }
}

/// Nothing of the stack is left: bucket, OAC, distribution. `context` prefixes
/// the failure message (e.g. the seed of a fault run).
#[track_caller]
pub fn assert_gone(stack: &Stack, context: &str) {
    let c = crate::harness::clients(stack);
    assert!(
        !crate::harness::block_on(bucket_exists(&c, &stack.bucket)),
        "{context}bucket left behind"
    );
    assert!(
        crate::harness::block_on(oac(&c, &format!("cdnctl-{}", stack.bucket))).is_none(),
        "{context}OAC left behind"
    );
    assert_eq!(
        crate::harness::block_on(distributions_with_comment(&c, &stack.bucket)),
        0,
        "{context}distribution left behind"
    );
}

pub async fn bucket_exists(c: &Clients, name: &str) -> bool {
    c.s3.head_bucket().bucket(name).send().await.is_ok()
}

pub async fn make_bucket(c: &Clients, name: &str, keys: &[&str]) {
    make_bucket_in(c, name, REGION).await;
    put_objects(c, name, keys).await;
}

pub async fn make_bucket_in(c: &Clients, name: &str, region: &str) {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let s3 = aws_sdk_s3::Client::from_conf(
        c.s3.config()
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .build(),
    );
    s3.create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

pub async fn put_objects(c: &Clients, name: &str, keys: &[&str]) {
    for key in keys {
        c.s3.put_object()
            .bucket(name)
            .key(*key)
            .body(key.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
}

pub async fn keys(c: &Clients, name: &str) -> Vec<String> {
    let out = c.s3.list_objects_v2().bucket(name).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

/// (id, origin type, signing behavior, signing protocol)
/// Every page: the tests sharing the emulator make more than 100 OACs.
pub async fn oac(c: &Clients, name: &str) -> Option<(String, String, String, String)> {
    let mut all = Vec::new();
    let mut pages = c.cloudfront.list_origin_access_controls().into_paginator().send();
    while let Some(page) = pages.next().await {
        all.extend(
            page.unwrap()
                .origin_access_control_list
                .unwrap()
                .items
                .unwrap_or_default(),
        );
    }
    let found: Vec<_> = all.iter().filter(|o| o.name() == name).collect();
    assert!(found.len() <= 1, "{} OACs named {name}", found.len());
    found.first().map(|o| {
        (
            o.id().to_string(),
            o.origin_access_control_origin_type().as_str().to_string(),
            o.signing_behavior().as_str().to_string(),
            o.signing_protocol().as_str().to_string(),
        )
    })
}

pub struct Dist {
    pub id: String,
    pub domain_name: String,
    pub status: String,
    pub config: DistributionConfig,
    pub tags: BTreeMap<String, String>,
}

/// Every page: the tests sharing the emulator make more than the 100
/// distributions of one.
async fn ids_with_comment(c: &Clients, bucket: &str) -> Vec<(String, String)> {
    let comment = format!("cdnctl: {bucket}");
    let mut out = Vec::new();
    let mut pages = c.cloudfront.list_distributions().into_paginator().send();
    while let Some(page) = pages.next().await {
        if let Some(list) = page.unwrap().distribution_list {
            out.extend(
                list.items()
                    .iter()
                    .filter(|d| d.comment == comment)
                    .map(|d| (d.id.clone(), d.arn.clone())),
            );
        }
    }
    out
}

pub async fn distributions_with_comment(c: &Clients, bucket: &str) -> usize {
    ids_with_comment(c, bucket).await.len()
}

/// The stack's distribution (there must be at most one).
pub async fn distribution_of(c: &Clients, bucket: &str) -> Option<Dist> {
    let ids = ids_with_comment(c, bucket).await;
    assert!(ids.len() <= 1, "{} distributions for {bucket}", ids.len());
    let (id, arn) = ids.into_iter().next()?;
    let d = c
        .cloudfront
        .get_distribution()
        .id(&id)
        .send()
        .await
        .unwrap()
        .distribution
        .unwrap();
    let tags = c
        .cloudfront
        .list_tags_for_resource()
        .resource(&arn)
        .send()
        .await
        .unwrap();
    Some(Dist {
        id,
        domain_name: d.domain_name,
        status: d.status,
        config: d.distribution_config.unwrap(),
        tags: tags
            .tags
            .map(|t| {
                t.items()
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Change the stack's distribution by hand, as someone in the console would.
pub async fn edit_distribution(c: &Clients, bucket: &str, edit: impl FnOnce(&mut DistributionConfig)) {
    let id = ids_with_comment(c, bucket).await.remove(0).0;
    let current = c.cloudfront.get_distribution_config().id(&id).send().await.unwrap();
    let mut config = current.distribution_config.unwrap();
    edit(&mut config);
    c.cloudfront
        .update_distribution()
        .id(&id)
        .if_match(current.e_tag.unwrap())
        .distribution_config(config)
        .send()
        .await
        .unwrap();
}

/// Someone else's distribution that already uses `alias`.
pub async fn distribution_with_alias(c: &Clients, alias: &str, cert: &str) -> String {
    use aws_sdk_cloudfront::types::*;
    let config = foreign_config(&format!("other-{alias}"), "elsewhere.s3.us-east-1.amazonaws.com")
        .aliases(Aliases::builder().quantity(1).items(alias).build().unwrap())
        .viewer_certificate(
            ViewerCertificate::builder()
                .acm_certificate_arn(cert)
                .ssl_support_method(SslSupportMethod::SniOnly)
                .build(),
        );
    create_foreign(c, config).await
}

/// Someone else's distribution whose origin is `bucket` (as a second site
/// serving the same files would have).
pub async fn distribution_reading(c: &Clients, bucket: &str) -> String {
    let origin = format!("{bucket}.s3.{REGION}.amazonaws.com");
    create_foreign(c, foreign_config(&format!("reader-{bucket}"), &origin)).await
}

/// A distribution config not made by cdnctl, reading from `origin`.
fn foreign_config(reference: &str, origin: &str) -> aws_sdk_cloudfront::types::builders::DistributionConfigBuilder {
    use aws_sdk_cloudfront::types::*;
    DistributionConfig::builder()
        .caller_reference(reference)
        .comment("someone else's")
        .enabled(true)
        .origins(
            Origins::builder()
                .quantity(1)
                .items(
                    Origin::builder()
                        .id("o")
                        .domain_name(origin)
                        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("o")
                .viewer_protocol_policy(ViewerProtocolPolicy::AllowAll)
                .build()
                .unwrap(),
        )
}

async fn create_foreign(c: &Clients, config: aws_sdk_cloudfront::types::builders::DistributionConfigBuilder) -> String {
    let out = c
        .cloudfront
        .create_distribution()
        .distribution_config(config.build().unwrap())
        .send()
        .await
        .unwrap();
    out.distribution.unwrap().id
}

/// Request a certificate for `domain`, validate it through DNS as its owner
/// would (in the zone holding the domain, made if there is none), and wait
/// until it is issued.
pub async fn issued_certificate(c: &Clients, domain: &str) -> String {
    let arn = pending_certificate(c, domain).await;
    let validation = loop {
        let cert = describe_certificate(c, &arn).await;
        if let Some(r) = cert
            .domain_validation_options()
            .iter()
            .find_map(|o| o.resource_record())
        {
            break r.clone();
        }
    };
    let zone_id = zone_for(c, domain).await;
    cname(c, &zone_id, validation.name(), validation.value()).await;
    let start = Instant::now();
    loop {
        let cert = describe_certificate(c, &arn).await;
        if cert.status.as_ref().map(|s| s.as_str()) == Some("ISSUED") {
            return arn;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "certificate never issued");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn describe_certificate(c: &Clients, arn: &str) -> aws_sdk_acm::types::CertificateDetail {
    c.acm
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .unwrap()
        .certificate
        .unwrap()
}

/// The resource of this type in a `status --json` report.
pub fn resource<'a>(report: &'a Value, kind: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == kind)
        .unwrap()
}

/// Requested, never validated.
pub async fn pending_certificate(c: &Clients, domain: &str) -> String {
    c.acm
        .request_certificate()
        .domain_name(domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap()
}

/// The hosted zone that holds `domain`: the longest zone name it ends with,
/// or a new zone for its parent.
async fn zone_for(c: &Clients, domain: &str) -> String {
    let mut zones = Vec::new();
    let mut pages = c.route53.list_hosted_zones().into_paginator().send();
    while let Some(page) = pages.next().await {
        zones.extend(page.unwrap().hosted_zones().to_vec());
    }
    let best = zones
        .iter()
        .filter(|z| format!("{domain}.").ends_with(&format!(".{}", z.name())))
        .max_by_key(|z| z.name().len());
    let id = match best {
        Some(z) => z.id().to_string(),
        None => {
            let parent = domain.split_once('.').unwrap().1;
            let out = c
                .route53
                .create_hosted_zone()
                .name(parent)
                .caller_reference(domain)
                .send()
                .await
                .unwrap();
            out.hosted_zone.unwrap().id
        }
    };
    id.trim_start_matches("/hostedzone/").to_string()
}

pub async fn cname(c: &Clients, zone_id: &str, name: &str, value: &str) {
    use aws_sdk_route53::types::{ChangeAction, RrType};
    write_record(c, zone_id, name, RrType::Cname, value, ChangeAction::Upsert).await;
}

/// The domain's records by type: "ZONE DNSNAME" for aliases, the values otherwise.
pub async fn records_of(c: &Clients, zone_id: &str, domain: &str) -> BTreeMap<String, String> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    let fqdn = format!("{domain}.");
    let mut found = BTreeMap::new();
    for r in out.resource_record_sets() {
        if r.name() != fqdn {
            continue;
        }
        let value = match r.alias_target() {
            Some(a) => format!("{} {}", a.hosted_zone_id(), a.dns_name()),
            None => r
                .resource_records()
                .iter()
                .map(|v| v.value().to_string())
                .collect::<Vec<_>>()
                .join(","),
        };
        assert!(
            found.insert(r.r#type().as_str().to_string(), value).is_none(),
            "duplicate {} record",
            r.r#type().as_str()
        );
    }
    found
}

pub async fn a_record(c: &Clients, zone_id: &str, domain: &str, ip: &str) {
    use aws_sdk_route53::types::{ChangeAction, RrType};
    write_record(c, zone_id, &format!("{domain}."), RrType::A, ip, ChangeAction::Create).await;
}

async fn write_record(
    c: &Clients,
    zone_id: &str,
    name: &str,
    kind: aws_sdk_route53::types::RrType,
    value: &str,
    action: aws_sdk_route53::types::ChangeAction,
) {
    use aws_sdk_route53::types::*;
    let record = ResourceRecordSet::builder()
        .name(name)
        .r#type(kind)
        .ttl(300)
        .resource_records(ResourceRecord::builder().value(value).build().unwrap())
        .build()
        .unwrap();
    change_record(c, zone_id, action, record).await;
}

/// One change to a zone's records, made by hand.
pub async fn change_record(
    c: &Clients,
    zone_id: &str,
    action: aws_sdk_route53::types::ChangeAction,
    record: aws_sdk_route53::types::ResourceRecordSet,
) {
    use aws_sdk_route53::types::{Change, ChangeBatch};
    let change = Change::builder()
        .action(action)
        .resource_record_set(record)
        .build()
        .unwrap();
    c.route53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(ChangeBatch::builder().changes(change).build().unwrap())
        .send()
        .await
        .unwrap();
}

/// An invalidation of `paths` made by hand (as another tool or an earlier
/// deploy would), under `reference`.
pub async fn invalidate(c: &Clients, distribution_id: &str, reference: &str, paths: Vec<String>) {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    let paths = Paths::builder()
        .quantity(paths.len() as i32)
        .set_items(Some(paths))
        .build()
        .unwrap();
    let batch = InvalidationBatch::builder()
        .caller_reference(reference)
        .paths(paths)
        .build()
        .unwrap();
    c.cloudfront
        .create_invalidation()
        .distribution_id(distribution_id)
        .invalidation_batch(batch)
        .send()
        .await
        .unwrap();
}

/// Wait until the stack's next write hangs in the emulator (or the command ends).
pub fn wait_for_stall(stack: &Stack, child: &mut std::process::Child) {
    let start = Instant::now();
    loop {
        if stack.requests().iter().any(|r| r.stalled) {
            return;
        }
        if child.try_wait().unwrap().is_some() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the command neither stalled nor finished"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Take the ownership tag off the stack's distribution, as someone tidying
/// tags in the console might.
pub async fn untag_distribution(c: &Clients, bucket: &str) {
    let (_, arn) = ids_with_comment(c, bucket).await.remove(0);
    c.cloudfront
        .untag_resource()
        .resource(arn)
        .tag_keys(
            aws_sdk_cloudfront::types::TagKeys::builder()
                .items("cdnctl:stack")
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Object versions and delete markers in the bucket.
pub async fn object_versions(c: &Clients, bucket: &str) -> usize {
    let out = c.s3.list_object_versions().bucket(bucket).send().await.unwrap();
    out.versions().len() + out.delete_markers().len()
}

/// The CNAME records of the zone: (name, value).
pub async fn cnames(c: &Clients, zone_id: &str) -> Vec<(String, String)> {
    let out = c
        .route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap();
    out.resource_record_sets()
        .iter()
        .filter(|r| r.r#type().as_str() == "CNAME")
        .map(|r| (r.name().to_string(), r.resource_records()[0].value().to_string()))
        .collect()
}

/// Delete a CNAME by hand.
pub async fn delete_cname(c: &Clients, zone_id: &str, name: &str, value: &str) {
    use aws_sdk_route53::types::{ChangeAction, RrType};
    write_record(c, zone_id, name, RrType::Cname, value, ChangeAction::Delete).await;
}

/// The certificates ACM holds for `domain`: (arn, status).
pub async fn certificates(c: &Clients, domain: &str) -> Vec<(String, String)> {
    let list = c.acm.list_certificates().send().await.unwrap();
    let mut out = Vec::new();
    for s in list
        .certificate_summary_list()
        .iter()
        .filter(|s| s.domain_name() == Some(domain))
    {
        let arn = s.certificate_arn().unwrap().to_string();
        let status = describe_certificate(c, &arn).await.status.unwrap().as_str().to_string();
        out.push((arn, status));
    }
    out
}

/// A certificate requested for `domain` and tagged as the stack's, as an
/// earlier cdnctl run would have left it.
pub async fn stack_certificate(c: &Clients, domain: &str, bucket: &str) -> String {
    c.acm
        .request_certificate()
        .domain_name(domain)
        .validation_method(aws_sdk_acm::types::ValidationMethod::Dns)
        .tags(
            aws_sdk_acm::types::Tag::builder()
                .key("cdnctl:stack")
                .value(bucket)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .certificate_arn
        .unwrap()
}

/// A private hosted zone of this name (for a VPC), beside the public one.
pub async fn private_zone(c: &Clients, name: &str) -> String {
    use aws_sdk_route53::types::{HostedZoneConfig, Vpc, VpcRegion};
    let out = c
        .route53
        .create_hosted_zone()
        .name(name)
        .caller_reference(format!("private-{name}"))
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .vpc(
            Vpc::builder()
                .vpc_id("vpc-0123456789abcdef0")
                .vpc_region(VpcRegion::from(REGION))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.hosted_zone
        .unwrap()
        .id
        .trim_start_matches("/hostedzone/")
        .to_string()
}

/// A control request to the emulator, which must succeed.
pub fn control(path: &str, body: Value) {
    let answer = crate::harness::emulator().control("POST", path, &body.to_string());
    assert!(!answer.contains("\"error\""), "{path}: {answer}");
}

/// An IAM role made just now in the emulator's IAM (with the venv's boto3,
/// since the tests carry no IAM client).
pub fn create_role(name: &str) -> String {
    let emu = crate::harness::emulator();
    let script = format!(
        "import boto3, json\n\
         iam = boto3.client('iam', endpoint_url='{}', verify='{}', region_name='us-east-1',\n\
                            aws_access_key_id='ROLEMAKER', aws_secret_access_key='x')\n\
         doc = json.dumps({{'Version': '2012-10-17', 'Statement': []}})\n\
         print(iam.create_role(RoleName='{name}', AssumeRolePolicyDocument=doc)['Role']['Arn'])",
        emu.endpoint,
        emu.ca_bundle.display()
    );
    let out = std::process::Command::new(crate::harness::root().join(".emulator/venv/bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The custom response headers policies named `name`: (id, config).
pub async fn headers_policies(
    c: &Clients,
    name: &str,
) -> Vec<(String, aws_sdk_cloudfront::types::ResponseHeadersPolicyConfig)> {
    let out = c
        .cloudfront
        .list_response_headers_policies()
        .r#type(aws_sdk_cloudfront::types::ResponseHeadersPolicyType::Custom)
        .send()
        .await
        .unwrap();
    out.response_headers_policy_list
        .map(|l| {
            l.items()
                .iter()
                .filter_map(|s| s.response_headers_policy())
                .filter_map(|p| {
                    p.response_headers_policy_config()
                        .filter(|c| c.name() == name)
                        .map(|c| (p.id().to_string(), c.clone()))
                })
                .collect()
        })
        .unwrap_or_default()
}
