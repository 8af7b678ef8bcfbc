//! The bucket policy, statement by statement: cdnctl writes its own statements
//! (`Spec::policy`) and keeps every other one, so that adopting a bucket that
//! another distribution (an OAI, its own OAC) or a team's role reads from
//! cuts nobody off. Pure: no I/O.

use serde_json::{json, Value};

use crate::spec::Spec;

/// The Sids of the statements cdnctl writes.
pub const OWN_SIDS: [&str; 4] = [
    "BucketUsersFullAccess",
    "CloudFrontRead",
    "DenyInsecureTransport",
    "DenyCloudFrontReservedPrefix",
];

/// A policy document's statements (one statement may stand alone).
pub fn statements(doc: &Value) -> Vec<Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn sid(statement: &Value) -> &str {
    statement.get("Sid").and_then(Value::as_str).unwrap_or("")
}

/// A string or a list of strings, as a list.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    }
}

/// The distribution ARN that a policy's CloudFront grant (cdnctl's
/// `CloudFrontRead` statement) names: the desired one's, or the bucket's
/// current one's, which is how sync finds the stack's distribution.
pub fn distribution_arn(policy: &Value) -> Option<String> {
    statements(policy)
        .iter()
        .find(|s| sid(s) == "CloudFrontRead")
        .and_then(|s| s.pointer("/Condition/StringEquals/AWS:SourceArn"))
        .and_then(Value::as_str)
        .map(String::from)
}

/// Whether cdnctl wrote this statement: one of its Sids, or, without a Sid,
/// exactly a shape cdnctl writes, such that replacing it loses nothing: the
/// TLS-only deny; the CloudFront grant to this stack's distribution; full
/// access for principals that are all in `Setting::BucketUsers`.
pub fn is_own(statement: &Value, spec: &Spec, desired: &Value) -> bool {
    let sid = sid(statement);
    if !sid.is_empty() {
        return OWN_SIDS.contains(&sid);
    }
    let bucket = spec.bucket_arn();
    let resources = {
        let mut r = strings(statement.get("Resource"));
        r.sort();
        r
    };
    let both = {
        let mut r = vec![bucket.clone(), format!("{bucket}/*")];
        r.sort();
        r
    };
    let effect = statement.get("Effect").and_then(Value::as_str).unwrap_or("");
    let actions = strings(statement.get("Action"));
    let condition = statement.get("Condition");
    let tls_deny = effect == "Deny"
        && strings(statement.pointer("/Principal/AWS")) == ["*"]
        && actions == ["s3:*"]
        && resources == both
        && condition == Some(&json!({"Bool": {"aws:SecureTransport": "false"}}));
    let cloudfront_read = effect == "Allow"
        && statement.pointer("/Principal/Service").and_then(Value::as_str) == Some("cloudfront.amazonaws.com")
        && actions == ["s3:GetObject"]
        && resources == [format!("{bucket}/*")]
        && distribution_arn(desired)
            .is_some_and(|arn| condition == Some(&json!({"StringEquals": {"AWS:SourceArn": arn}})));
    let principals = strings(statement.pointer("/Principal/AWS"));
    let users = effect == "Allow"
        && !principals.is_empty()
        && principals.iter().all(|p| spec.bucket_users.contains(p))
        && actions == ["s3:*"]
        && resources == both
        && condition.is_none();
    tls_deny || cloudfront_read || users
}

/// The statements of `current` that cdnctl did not write.
pub fn foreign(current: &Value, spec: &Spec, desired: &Value) -> Vec<Value> {
    statements(current)
        .into_iter()
        .filter(|s| !is_own(s, spec, desired))
        .collect()
}

/// The statements of `current` that cdnctl wrote, as a policy document.
pub fn own(current: &Value, spec: &Spec, desired: &Value) -> Value {
    let own: Vec<Value> = statements(current)
        .into_iter()
        .filter(|s| is_own(s, spec, desired))
        .collect();
    json!({"Version": "2012-10-17", "Statement": own})
}

/// The policy to write: every statement cdnctl did not write, as it is
/// (without those letting anyone read, when `drop_public`), then cdnctl's own.
pub fn merge(current: Option<&Value>, spec: &Spec, desired: &Value, drop_public: bool) -> Value {
    let mut out = match current {
        Some(Value::Object(doc)) => {
            let mut doc = doc.clone();
            doc.remove("Statement");
            Value::Object(doc)
        }
        _ => json!({}),
    };
    out["Version"] = json!("2012-10-17");
    let mut kept: Vec<Value> = current
        .map(|c| foreign(c, spec, desired))
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !(drop_public && is_public_read(s)))
        .collect();
    kept.extend(statements(desired));
    out["Statement"] = Value::Array(kept);
    out
}

/// Condition keys that restrict a statement to known accounts or networks,
/// so that S3 does not count it public ("The meaning of public").
const NON_PUBLIC_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:userid",
    "aws:sourceip",
];

/// Whether a statement lets anyone read objects: Allow, for every principal,
/// s3:GetObject (or a pattern covering it), without a condition that
/// restricts it to known accounts or networks.
pub fn is_public_read(statement: &Value) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let principal = statement.get("Principal");
    let everyone = principal == Some(&json!("*")) || strings(statement.pointer("/Principal/AWS")) == ["*"];
    if !everyone {
        return false;
    }
    let reads = strings(statement.get("Action")).iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == "*"
            || a == "s3:*"
            || a == "s3:getobject"
            || (a.ends_with('*') && "s3:getobject".starts_with(&a[..a.len() - 1]))
    });
    let restricted = statement
        .get("Condition")
        .and_then(Value::as_object)
        .is_some_and(|ops| {
            ops.values()
                .filter_map(Value::as_object)
                .flat_map(|keys| keys.keys())
                .any(|k| NON_PUBLIC_KEYS.contains(&k.to_ascii_lowercase().as_str()))
        });
    reads && !restricted
}

/// One line about a statement for people: its Sid, effect, principal, actions.
pub fn describe(statement: &Value) -> String {
    let sid = sid(statement);
    let principal = match statement.get("Principal") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k} {}", strings(Some(v)).join(" ")))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "?".into(),
    };
    format!(
        "{}{} {} {}",
        if sid.is_empty() {
            String::new()
        } else {
            format!("{sid}: ")
        },
        statement.get("Effect").and_then(Value::as_str).unwrap_or("?"),
        principal,
        strings(statement.get("Action")).join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Flags;
    use crate::settings::Settings;
    use std::collections::BTreeMap;

    fn spec() -> Spec {
        let env: BTreeMap<String, String> = [
            ("BUCKET_NAME", "b-1"),
            ("BUCKET_USERS", "arn:aws:iam::123456789012:role/deploy"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1")
    }

    const DIST: &str = "arn:aws:cloudfront::123456789012:distribution/E1";

    #[test]
    fn merge_keeps_every_statement_cdnctl_did_not_write() {
        let s = spec();
        let desired = s.policy(DIST);
        let oai = json!({"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-1/*"});
        let other_oac = json!({"Sid": "AllowCloudFrontServicePrincipal", "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b-1/*",
            "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E9"}}});
        // An earlier cdnctl's statements, without Sids.
        let mut legacy: Vec<Value> = statements(&desired);
        for st in &mut legacy {
            st.as_object_mut().unwrap().remove("Sid");
        }
        legacy.retain(|s| s.pointer("/Principal/Service").is_none() || s["Effect"] == "Allow");
        let mut current = vec![oai.clone(), other_oac.clone()];
        current.extend(legacy);
        let current = json!({"Version": "2012-10-17", "Id": "x", "Statement": current});
        let merged = merge(Some(&current), &s, &desired, false);
        let st = statements(&merged);
        assert_eq!(merged["Id"], "x");
        assert!(st.contains(&oai) && st.contains(&other_oac));
        assert_eq!(st.len(), 2 + statements(&desired).len(), "{merged:#}");
        assert_eq!(foreign(&current, &s, &desired), vec![oai, other_oac]);
    }

    #[test]
    fn full_access_for_others_is_not_taken_for_cdnctls() {
        let s = spec();
        let desired = s.policy(DIST);
        let team = json!({"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:role/deploy",
            "arn:aws:iam::123456789012:role/team"]}, "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b-1", "arn:aws:s3:::b-1/*"]});
        assert!(!is_own(&team, &s, &desired));
    }

    #[test]
    fn public_reads_are_recognised() {
        let public =
            json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-1/*"});
        assert!(is_public_read(&public));
        assert!(is_public_read(
            &json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:Get*"]})
        ));
        let vpce = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}});
        assert!(!is_public_read(&vpce));
        let s = spec();
        let desired = s.policy(DIST);
        let current = json!({"Statement": [public]});
        assert_eq!(
            statements(&merge(Some(&current), &s, &desired, true)).len(),
            statements(&desired).len()
        );
    }
}
