//! The IAM policies in docs/ keep in step with the code: every AWS SDK call in
//! src/ (on the s3, cloudfront, route53, acm and key value store clients) maps to IAM actions,
//! and each must be granted by docs/iam-policy.json; the reads, by
//! docs/iam-policy-status.json too, which grants nothing else. The reverse
//! holds as well: the policy grants nothing the code does not call, except
//! what is listed below with the reason.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::harness::root;

/// Granted although no SDK call in src/ names them, and why.
const NOT_CALLED_DIRECTLY: &[(&str, &str)] = &[
    (
        "wafv2:GetWebACL",
        "CloudFront checks that the caller may read the web ACL (WAF_ARN) it attaches",
    ),
    ("s3:GetObject", "sync reads objects (and CopyObject's source)"),
    (
        "s3:PutObject",
        "sync uploads, and CopyObject onto itself to change headers",
    ),
    (
        "s3:AbortMultipartUpload",
        "sync abandons a multipart upload it cannot finish",
    ),
    (
        "cloudfront:CreateInvalidation",
        "sync invalidates what it changed; up invalidates /* when CORS origins narrow",
    ),
    ("cloudfront:GetInvalidation", "sync waits for its invalidation"),
    (
        "ssm:GetParameters",
        "adopt's change set keeps the CDK stack's BootstrapVersion, an SSM parameter CloudFormation reads with the caller's rights",
    ),
];

/// Where `adopt --from-stack` reads what `status` never does.
const ADOPT_ONLY: &[&str] = &["src/takeover/", "src/commands/adopt.rs", "src/resources/oai.rs"];

/// Variable and field names that hold the SDK clients in src/.
const RECEIVERS: &[(&str, &str)] = &[
    ("s3", "s3"),
    ("cf", "cloudfront"),
    ("cloudfront", "cloudfront"),
    ("r53", "route53"),
    ("route53", "route53"),
    ("acm", "acm"),
    ("plane", "cloudfront-keyvaluestore"),
    ("cfn", "cloudformation"),
    ("cloudformation", "cloudformation"),
];

/// Methods of a client that send no request.
const NOT_OPERATIONS: &[&str] = &["clone", "config", "as_ref", "to_owned"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    service: &'static str,
    operation: String,
    place: String,
}

/// Every `client.operation(` in `source`, also split over lines
/// (`cf\n    .create_distribution_with_tags()`); comment lines are skipped.
fn calls_in(source: &str, file: &str) -> Vec<Call> {
    let mut out = Vec::new();
    let code: String = source
        .lines()
        .map(|l| if l.trim_start().starts_with("//") { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let skip_ws = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && ident(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident(bytes[i]) {
            i += 1;
        }
        let word = &code[start..i];
        let Some(&(_, service)) = RECEIVERS.iter().find(|(r, _)| *r == word) else {
            continue;
        };
        let dot = skip_ws(i);
        if bytes.get(dot) != Some(&b'.') {
            continue;
        }
        let m_start = skip_ws(dot + 1);
        let mut m_end = m_start;
        while m_end < bytes.len() && ident(bytes[m_end]) {
            m_end += 1;
        }
        let method = &code[m_start..m_end];
        let paren = skip_ws(m_end);
        let is_op = !method.is_empty()
            && method.as_bytes()[0].is_ascii_lowercase()
            && bytes.get(paren) == Some(&b'(')
            && !NOT_OPERATIONS.contains(&method);
        if is_op {
            let line = code[..start].matches('\n').count() + 1;
            out.push(Call {
                service,
                operation: method.to_string(),
                place: format!("{file}:{line}"),
            });
        }
    }
    out
}

fn calls_in_tree(dir: &Path) -> Vec<Call> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.extend(calls_in_tree(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root()).unwrap().display().to_string();
            out.extend(calls_in(&std::fs::read_to_string(&path).unwrap(), &rel));
        }
    }
    out
}

/// `create_bucket` -> `CreateBucket`: how IAM names most operations.
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The IAM actions an SDK operation needs. Most are the operation's name;
/// these are the ones that are not (AWS's Service Authorization Reference).
fn actions(service: &str, operation: &str) -> Vec<String> {
    let irregular: &[&str] = match (service, operation) {
        ("s3", "head_bucket" | "list_objects" | "list_objects_v2") => &["ListBucket"],
        ("s3", "list_object_versions") => &["ListBucketVersions"],
        ("s3", "list_buckets") => &["ListAllMyBuckets"],
        ("s3", "get_bucket_cors") => &["GetBucketCORS"],
        ("s3", "put_bucket_cors" | "delete_bucket_cors") => &["PutBucketCORS"],
        ("s3", "get_public_access_block") => &["GetBucketPublicAccessBlock"],
        ("s3", "put_public_access_block" | "delete_public_access_block") => &["PutBucketPublicAccessBlock"],
        ("s3", "get_bucket_encryption") => &["GetEncryptionConfiguration"],
        ("s3", "put_bucket_encryption" | "delete_bucket_encryption") => &["PutEncryptionConfiguration"],
        ("s3", "delete_bucket_tagging") => &["PutBucketTagging"],
        ("s3", "delete_bucket_ownership_controls") => &["PutBucketOwnershipControls"],
        // cdnctl creates its bucket with tags: S3 checks TagResource too.
        ("s3", "create_bucket") => &["CreateBucket", "TagResource"],
        // Deleting versions (down --purge) needs DeleteObjectVersion.
        ("s3", "delete_objects") => &["DeleteObject", "DeleteObjectVersion"],
        ("s3", "head_object" | "get_object") => &["GetObject"],
        ("s3", "copy_object" | "upload_part_copy") => &["GetObject", "PutObject"],
        ("s3", "create_multipart_upload" | "upload_part" | "complete_multipart_upload") => &["PutObject"],
        ("s3", "list_multipart_uploads") => &["ListBucketMultipartUploads"],
        ("s3", "list_parts") => &["ListMultipartUploadParts"],
        ("cloudfront", "create_distribution_with_tags") => &["CreateDistribution", "TagResource"],
        ("cloudfront", "list_distributions_by_web_acl_id") => &["ListDistributionsByWebACLId"],
        ("cloudfront", "wait_until_distribution_deployed") => &["GetDistribution"],
        ("cloudfront", "wait_until_invalidation_completed") => &["GetInvalidation"],
        ("route53", "wait_until_resource_record_sets_changed") => &["GetChange"],
        // The certificate is requested with the stack's tags.
        ("acm", "request_certificate") => &["RequestCertificate", "AddTagsToCertificate"],
        ("acm", "wait_until_certificate_validated") => &["DescribeCertificate"],
        _ => &[],
    };
    if irregular.is_empty() {
        vec![format!("{service}:{}", pascal(operation))]
    } else {
        irregular.iter().map(|a| format!("{service}:{a}")).collect()
    }
}

/// The actions a policy allows (patterns such as `s3:Get*` kept as written).
fn allowed(policy: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().expect("Statement is a list") {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        match &statement["Action"] {
            Value::String(a) => out.push(a.clone()),
            Value::Array(list) => out.extend(list.iter().map(|a| a.as_str().unwrap().to_string())),
            other => panic!("Action is {other}"),
        }
    }
    out
}

fn grants(allowed: &[String], action: &str) -> bool {
    allowed.iter().any(|a| match a.strip_suffix('*') {
        Some(prefix) => action.to_ascii_lowercase().starts_with(&prefix.to_ascii_lowercase()),
        None => a.eq_ignore_ascii_case(action),
    })
}

/// The actions `calls` need that `allowed` lacks, each with where it is called.
fn missing(calls: &[Call], allowed: &[String]) -> Vec<String> {
    let mut out = BTreeSet::new();
    for call in calls {
        for action in actions(call.service, &call.operation) {
            if !grants(allowed, &action) {
                out.insert(format!(
                    "{action} (for {}.{}() at {})",
                    call.service, call.operation, call.place
                ));
            }
        }
    }
    out.into_iter().collect()
}

fn is_read(action: &str) -> bool {
    let name = action.split_once(':').map(|(_, n)| n).unwrap_or(action);
    ["Get", "List", "Describe"].iter().any(|p| name.starts_with(p))
}

fn policy(name: &str) -> Value {
    let path = root().join("docs").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
    assert_eq!(value["Version"], "2012-10-17", "{name}");
    value
}

#[test]
fn the_policy_grants_every_action_the_code_calls() {
    let calls = calls_in_tree(&root().join("src"));
    // The scan itself works: it finds the calls we know are there.
    for known in [
        "create_bucket",
        "create_distribution_with_tags",
        "list_hosted_zones_by_name",
        "request_certificate",
    ] {
        assert!(
            calls.iter().any(|c| c.operation == known),
            "the scan missed {known}: {calls:?}"
        );
    }
    let full = allowed(&policy("iam-policy.json"));
    let lacking = missing(&calls, &full);
    assert!(
        lacking.is_empty(),
        "docs/iam-policy.json lacks actions the code needs (add them, and to README's policy if it shows them):\n  {}",
        lacking.join("\n  ")
    );

    // CI's status role needs what `status` reads; `sync`'s reads of objects
    // and invalidations, and `check`'s and the releases' (deploy, rollback)
    // reads of objects, belong to the deploy role.
    let status = allowed(&policy("iam-policy-status.json"));
    let reads: Vec<Call> = calls
        .iter()
        .filter(|c| !c.place.starts_with("src/sync/") && !c.place.starts_with("src/commands/sync.rs"))
        .filter(|c| {
            let deploying = c.place.starts_with("src/check/") || c.place.starts_with("src/release/");
            !(deploying && c.service == "s3" && c.operation.ends_with("_object"))
        })
        // `adopt` is a one-off takeover run by an administrator, not CI's status role.
        .filter(|c| !ADOPT_ONLY.iter().any(|p| c.place.starts_with(p)))
        .filter(|c| actions(c.service, &c.operation).iter().all(|a| is_read(a)))
        .cloned()
        .collect();
    let lacking = missing(&reads, &status);
    assert!(
        lacking.is_empty(),
        "docs/iam-policy-status.json lacks reads the code makes:\n  {}",
        lacking.join("\n  ")
    );
    let writes: Vec<&String> = status.iter().filter(|a| !is_read(a)).collect();
    assert!(writes.is_empty(), "the status policy must only read: {writes:?}");
    let extra: Vec<&String> = status.iter().filter(|a| !grants(&full, a)).collect();
    assert!(
        extra.is_empty(),
        "the status policy grants what the full one does not: {extra:?}"
    );
}

#[test]
fn the_policy_grants_nothing_the_code_does_not_need() {
    let calls = calls_in_tree(&root().join("src"));
    let needed: BTreeSet<String> = calls
        .iter()
        .flat_map(|c| actions(c.service, &c.operation))
        .chain(NOT_CALLED_DIRECTLY.iter().map(|(a, _)| a.to_string()))
        .collect();
    let unneeded: Vec<String> = allowed(&policy("iam-policy.json"))
        .into_iter()
        .filter(|a| !grants(&needed.iter().cloned().collect::<Vec<_>>(), a))
        .collect();
    assert!(
        unneeded.is_empty(),
        "docs/iam-policy.json grants actions no code calls (remove them, or list them in NOT_CALLED_DIRECTLY with why): {unneeded:?}"
    );
}

#[test]
fn a_call_the_policy_lacks_is_named_with_its_place() {
    let source = "async fn upload(s3: &Client) {\n    // s3.not_a_call() in a comment\n    s3\n        .put_object()\n        .bucket(b)\n        .send()\n        .await;\n    clients.cloudfront.create_invalidation().send().await;\n    let _ = s3.clone();\n}\n";
    let calls = calls_in(source, "src/sync/upload.rs");
    let found: Vec<(&str, &str)> = calls.iter().map(|c| (c.service, c.operation.as_str())).collect();
    assert_eq!(found, [("s3", "put_object"), ("cloudfront", "create_invalidation")]);
    let allowed = vec!["s3:Get*".to_string(), "cloudfront:CreateDistribution".to_string()];
    assert_eq!(
        missing(&calls, &allowed),
        [
            "cloudfront:CreateInvalidation (for cloudfront.create_invalidation() at src/sync/upload.rs:8)",
            "s3:PutObject (for s3.put_object() at src/sync/upload.rs:3)",
        ]
    );
    // Irregular names, and the PascalCase default for operations added later.
    assert_eq!(actions("s3", "head_bucket"), ["s3:ListBucket"]);
    assert_eq!(actions("s3", "get_bucket_cors"), ["s3:GetBucketCORS"]);
    assert_eq!(
        actions("s3", "delete_objects"),
        ["s3:DeleteObject", "s3:DeleteObjectVersion"]
    );
    assert_eq!(
        actions("cloudfront", "create_response_headers_policy"),
        ["cloudfront:CreateResponseHeadersPolicy"]
    );
}

#[test]
fn readme_shows_the_status_policy_as_it_is() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let policy = std::fs::read_to_string(root().join("docs/iam-policy-status.json")).unwrap();
    assert!(
        readme.contains(&format!("```json\n{}\n```", policy.trim_end())),
        "README.md's policy JSON differs from docs/iam-policy-status.json: copy the file into it"
    );
}
