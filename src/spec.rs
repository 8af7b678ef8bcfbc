//! The desired state of every resource, derived from the settings. Pure: no I/O.
//!
//! The stack is identified by its bucket name (globally unique): every name,
//! tag and reference that lets a later run find what an earlier one made is
//! derived from it here, so there is no state file.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::settings::Setting::BucketUsers;
use crate::settings::{Domain, Hsts, Settings, Waf, DEFAULT_HSTS, OWNER_TAG};

/// CloudFront's managed cache policy "CachingOptimized".
pub const CACHING_OPTIMIZED: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
/// CloudFront's managed origin request policy "CORS-S3Origin": forwards the
/// browser's Origin header so S3 can answer CORS requests.
pub const CORS_S3_ORIGIN: &str = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf";
/// CloudFront's managed response headers policies: CORS for any origin with
/// preflight, alone or with security headers.
pub const CORS_WITH_PREFLIGHT: &str = "5cc3b908-e619-4b99-88e5-2cf7f45965bd";
pub const CORS_WITH_PREFLIGHT_AND_SECURITY: &str = "eaab4381-ed33-4a86-88ca-d9558dc6cd63";
/// How long browsers may cache a preflight's answer.
pub const CORS_MAX_AGE: i32 = 3600;
/// The hosted zone id of every CloudFront alias target.
pub const CLOUDFRONT_ZONE_ID: &str = "Z2FDTNDATAQYW2";

pub const ORIGIN_ID: &str = "s3-origin";

/// The key prefix (at the bucket's root or after a sync prefix) where sync
/// keeps notes that visitors must not read.
pub const RESERVED_PREFIX: &str = ".cdnctl";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub bucket: String,
    pub region: String,
    /// Tags for the bucket and the distribution, the ownership tag included.
    pub tags: BTreeMap<String, String>,
    pub bucket_users: Vec<String>,
    pub cors: Cors,
    /// The response headers policy the distribution uses: what browsers see.
    pub headers: Headers,
    pub oac_name: String,
    pub distribution: DistributionSpec,
    pub domain: Option<Domain>,
    /// Releases kept (0: off) and the SPA fallback page, for the function.
    pub releases: u32,
    pub spa_fallback: Option<String>,
    /// Previews at NAME.DOMAIN: only with releases and a custom domain.
    pub previews: Option<Previews>,
    /// The site's page for a missing file, served with status 404
    /// (`Setting::NotFound`): the distribution's custom error responses.
    pub not_found: Option<String>,
}

/// Previews (`Setting::Previews`): a release served at NAME.DOMAIN through
/// the wildcard alias `*.DOMAIN`, never touching `live`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previews {
    /// The custom domain; a preview's host is NAME.{domain}.
    pub domain: String,
    /// `USER:PASSWORD` asked for on preview hosts.
    pub auth: Option<String>,
    /// Days a preview is kept.
    pub days: u32,
}

impl Previews {
    /// `*.DOMAIN`: the distribution's alias, the certificate's SAN, the record.
    pub fn wildcard(&self) -> String {
        format!("*.{}", self.domain)
    }

    /// The Authorization header a preview host asks for, as browsers send it.
    pub fn authorization(&self) -> Option<String> {
        self.auth
            .as_ref()
            .map(|a| format!("Basic {}", aws_smithy_types::base64::encode(a)))
    }

    /// Where preview NAME is served.
    pub fn host(&self, name: &str) -> String {
        format!("{name}.{}", self.domain)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub max_age_seconds: i32,
}

/// CORS and security headers are added by CloudFront to every response
/// (origin override on), so they do not depend on which request happened to
/// fill the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Headers {
    /// One of CloudFront's managed policies: nothing to own.
    Managed { id: &'static str, name: &'static str },
    /// A policy of the stack's own, for what no managed one covers.
    Owned(OwnedHeaders),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedHeaders {
    /// Unique per account; found by it (policies cannot be tagged).
    pub name: String,
    pub comment: String,
    pub origins: Vec<String>,
    pub security_headers: bool,
    /// Only with a custom domain.
    pub hsts: Option<Hsts>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionSpec {
    pub caller_reference: String,
    pub comment: String,
    pub origin_domain: String,
    pub aliases: Vec<String>,
    pub certificate_arn: Option<String>,
    pub waf: Waf,
    pub price_class: String,
}

impl Spec {
    pub fn new(settings: &Settings, region: &str) -> Spec {
        let bucket = settings.bucket.clone();
        let previews = settings
            .domain
            .as_ref()
            .filter(|_| settings.previews && settings.releases > 0)
            .map(|d| Previews {
                domain: d.name.clone(),
                auth: settings.preview_auth.clone(),
                days: settings.preview_days,
            });
        let mut tags = settings.tags.clone();
        tags.insert(OWNER_TAG.to_string(), bucket.clone());
        Spec {
            region: region.to_string(),
            tags,
            bucket_users: settings.bucket_users.clone(),
            cors: Cors {
                allowed_origins: settings.cors_origins.clone(),
                allowed_methods: vec!["GET".into(), "HEAD".into()],
                allowed_headers: vec!["*".into()],
                max_age_seconds: 3600,
            },
            headers: headers(settings, &bucket),
            oac_name: oac_name(&bucket),
            distribution: DistributionSpec {
                caller_reference: format!("cdnctl-{bucket}"),
                comment: comment(&bucket),
                origin_domain: format!("{bucket}.s3.{region}.amazonaws.com"),
                aliases: settings
                    .domain
                    .iter()
                    .map(|d| d.name.clone())
                    .chain(previews.iter().map(Previews::wildcard))
                    .collect(),
                certificate_arn: settings.certificate_arn.clone(),
                waf: settings.waf.clone(),
                price_class: settings.price_class.clone(),
            },
            domain: settings.domain.clone(),
            releases: settings.releases,
            spa_fallback: settings.spa_fallback.clone(),
            previews,
            not_found: settings.not_found.clone(),
            bucket,
        }
    }

    pub fn is_owned(&self, tags: &BTreeMap<String, String>) -> bool {
        tags.get(OWNER_TAG) == Some(&self.bucket)
    }

    pub fn bucket_arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.bucket)
    }

    /// cdnctl's statements of the bucket policy, the first three in the shape
    /// AWS CDK generates: the bucket users get full access, CloudFront may read
    /// through this one distribution, anything not over TLS is denied; and
    /// CloudFront may not read the reserved prefix. Other statements in the
    /// bucket's policy are kept beside these (resources::bucket_policy).
    pub fn policy(&self, distribution_arn: &str) -> Value {
        let bucket = self.bucket_arn();
        let objects = format!("{bucket}/*");
        let mut statements = Vec::new();
        if !self.bucket_users.is_empty() {
            statements.push(json!({
                "Sid": "BucketUsersFullAccess",
                "Effect": "Allow",
                "Principal": {"AWS": self.bucket_users},
                "Action": "s3:*",
                "Resource": [bucket, objects],
            }));
        }
        statements.push(json!({
            "Sid": "CloudFrontRead",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": objects,
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        }));
        statements.push(json!({
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [bucket, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }));
        // sync keeps its private notes under the reserved prefix `.cdnctl/`
        // (at the root or after a sync prefix): CloudFront must not serve them.
        statements.push(json!({
            "Sid": "DenyCloudFrontReservedPrefix",
            "Effect": "Deny",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": [format!("{bucket}/{RESERVED_PREFIX}/*"), format!("{bucket}/*/{RESERVED_PREFIX}/*")],
        }));
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// The managed policy that gives what the settings ask, else the stack's own.
fn headers(settings: &Settings, bucket: &str) -> Headers {
    let any_origin = settings.cors_origins == ["*"];
    // Without a custom domain the HSTS setting has nothing to apply to; the
    // managed policy's one year for the dxxx.cloudfront.net name is harmless.
    let default_hsts = settings.domain.is_none() || settings.hsts == Some(DEFAULT_HSTS);
    match (any_origin, settings.security_headers, default_hsts) {
        (true, false, _) => Headers::Managed {
            id: CORS_WITH_PREFLIGHT,
            name: "Managed-CORS-With-Preflight",
        },
        (true, true, true) => Headers::Managed {
            id: CORS_WITH_PREFLIGHT_AND_SECURITY,
            name: "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
        },
        _ => Headers::Owned(OwnedHeaders {
            name: headers_policy_name(bucket),
            comment: comment(bucket),
            origins: settings.cors_origins.clone(),
            security_headers: settings.security_headers,
            hsts: settings
                .hsts
                .filter(|_| settings.security_headers && settings.domain.is_some()),
        }),
    }
}

/// Response headers policy names: at most 128 letters, digits, `-` and `_`.
/// A bucket name's dots become `-`, with a hash to keep `a.b` and `a-b` apart.
pub fn headers_policy_name(bucket: &str) -> String {
    if bucket.contains('.') {
        format!("cdnctl-{}-{:08x}", bucket.replace('.', "-"), stable_hash(bucket) as u32)
    } else {
        format!("cdnctl-{bucket}")
    }
}

/// The comment that marks a distribution as this stack's in ListDistributions
/// (which cannot filter by tag); the ownership tag confirms it.
pub fn comment(bucket: &str) -> String {
    format!("cdnctl: {bucket}")
}

/// OAC names are unique per account and at most 64 characters.
pub fn oac_name(bucket: &str) -> String {
    let name = format!("cdnctl-{bucket}");
    if name.len() <= 64 {
        return name;
    }
    format!("{}-{:08x}", &name[..55], stable_hash(bucket) as u32)
}

/// FNV-1a: the same on every machine and release, unlike std's hasher, so
/// names and tokens derived from it stay stable.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// Compare two bucket policies as AWS does: the order of statements and of
/// list items, and a one-item list versus a single string, do not matter.
/// Returns one line per difference, naming what is missing or extra.
pub fn policy_differences(actual: &Value, desired: &Value) -> Vec<String> {
    let statements = |doc: &Value| -> Vec<Value> {
        match doc.get("Statement") {
            Some(Value::Array(items)) => items.iter().map(normalize).collect(),
            Some(one) => vec![normalize(one)],
            None => Vec::new(),
        }
    };
    let (have, want) = (statements(actual), statements(desired));
    let mut out = Vec::new();
    for w in &want {
        if have.contains(w) {
            continue;
        }
        let sid = w.get("Sid").and_then(Value::as_str).unwrap_or("");
        let same_sid = have.iter().find(|h| h.get("Sid").and_then(Value::as_str) == Some(sid));
        match (sid, same_sid) {
            ("BucketUsersFullAccess", Some(h)) => {
                let (hp, wp) = (aws_principals(h), aws_principals(w));
                for p in wp.iter().filter(|p| !hp.contains(p)) {
                    out.push(format!("bucket policy: no statement for {p}"));
                }
                for p in hp.iter().filter(|p| !wp.contains(p)) {
                    out.push(format!("bucket policy: {p} has access but is not in {BucketUsers}"));
                }
                if out.is_empty() {
                    out.push("bucket policy: statement BucketUsersFullAccess differs".into());
                }
            }
            ("BucketUsersFullAccess", None) => {
                for p in aws_principals(w) {
                    out.push(format!("bucket policy: no statement for {p}"));
                }
            }
            ("CloudFrontRead", _) => {
                out.push("bucket policy: CloudFront read access for this distribution is missing or differs".into())
            }
            ("DenyInsecureTransport", _) => out.push("bucket policy: the TLS-only deny is missing or differs".into()),
            ("DenyCloudFrontReservedPrefix", _) => out.push(format!(
                "bucket policy: the deny that keeps CloudFront from serving {RESERVED_PREFIX}/ is missing or differs"
            )),
            _ => out.push(format!("bucket policy: statement {sid} missing or differs")),
        }
    }
    for h in &have {
        if !want.contains(h) {
            let sid = h.get("Sid").and_then(Value::as_str).unwrap_or("");
            if !want.iter().any(|w| w.get("Sid").and_then(Value::as_str) == Some(sid)) {
                out.push(format!(
                    "bucket policy: unexpected statement {}",
                    if sid.is_empty() { h.to_string() } else { sid.to_string() }
                ));
            }
        }
    }
    out
}

/// A statement's `Principal.AWS`, whether one string or a list.
fn aws_principals(statement: &Value) -> Vec<String> {
    match statement.pointer("/Principal/AWS") {
        Some(Value::String(p)) => vec![p.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|p| p.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// Sort lists and turn one-item lists into their item, recursively.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalize).collect();
            items.sort_by_key(|a| a.to_string());
            items.dedup();
            if items.len() == 1 {
                items.pop().unwrap()
            } else {
                Value::Array(items)
            }
        }
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Flags;

    fn spec(pairs: &[(&str, &str)]) -> Spec {
        let env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1")
    }

    #[test]
    fn names_derive_from_the_bucket() {
        let s = spec(&[("BUCKET_NAME", "example-static")]);
        assert_eq!(s.oac_name, "cdnctl-example-static");
        assert_eq!(
            s.distribution.origin_domain,
            "example-static.s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(s.tags.get(OWNER_TAG).map(String::as_str), Some("example-static"));
    }

    #[test]
    fn long_oac_names_fit_and_stay_distinct() {
        let a = oac_name(&"a".repeat(63));
        let b = oac_name(&format!("{}b", "a".repeat(62)));
        assert!(a.len() <= 64 && b.len() <= 64);
        assert_ne!(a, b);
    }

    #[test]
    fn policy_has_the_three_cdk_statements_and_the_reserved_prefix_deny() {
        let s = spec(&[
            ("BUCKET_NAME", "b-1"),
            ("BUCKET_USERS", "arn:aws:iam::123456789012:role/deploy"),
        ]);
        let p = s.policy("arn:aws:cloudfront::123456789012:distribution/E1");
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 4);
        assert_eq!(st[0]["Principal"]["AWS"][0], "arn:aws:iam::123456789012:role/deploy");
        assert_eq!(
            st[1]["Condition"]["StringEquals"]["AWS:SourceArn"],
            "arn:aws:cloudfront::123456789012:distribution/E1"
        );
        assert_eq!(st[2]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(st[3]["Effect"], "Deny");
        assert_eq!(st[3]["Resource"][0], "arn:aws:s3:::b-1/.cdnctl/*");
        assert_eq!(st[3]["Resource"][1], "arn:aws:s3:::b-1/*/.cdnctl/*");
    }

    #[test]
    fn policy_comparison_ignores_order_and_names_missing_users() {
        let s = spec(&[
            ("BUCKET_NAME", "b-1"),
            (
                "BUCKET_USERS",
                "arn:aws:iam::123456789012:role/a,arn:aws:iam::123456789012:role/b",
            ),
        ]);
        let want = s.policy("arn:aws:cloudfront::1:distribution/E1");
        let mut reordered = want.clone();
        reordered["Statement"].as_array_mut().unwrap().reverse();
        reordered["Statement"][3]["Principal"]["AWS"]
            .as_array_mut()
            .unwrap()
            .reverse();
        assert!(policy_differences(&reordered, &want).is_empty());

        let mut missing = want.clone();
        missing["Statement"][0]["Principal"]["AWS"] = json!("arn:aws:iam::123456789012:role/a");
        assert_eq!(
            policy_differences(&missing, &want),
            vec!["bucket policy: no statement for arn:aws:iam::123456789012:role/b"]
        );
    }
}
