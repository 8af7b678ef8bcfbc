//! What a visitor would get: whether a bucket policy lets CloudFront read the
//! bucket's files through one distribution. A bucket without that grant
//! answers 403 to every request the distribution forwards, however healthy
//! each resource looks on its own.
//!
//! Pure: reads the policy document only, the way S3 evaluates it for
//! CloudFront's request (principal `cloudfront.amazonaws.com`, action
//! `s3:GetObject` on `arn:aws:s3:::BUCKET/KEY`, `aws:SourceArn` the
//! distribution's ARN). A statement this cannot prove grants access (an
//! unknown condition key, `NotAction`, …) does not count as a grant.

use serde_json::Value;

const SERVICE: &str = "cloudfront.amazonaws.com";

/// Why CloudFront cannot read the bucket through `distribution_arn`, or
/// `None` when the policy lets it.
pub fn cloudfront_blocked(policy: Option<&Value>, bucket: &str, distribution_arn: &str) -> Option<String> {
    let Some(policy) = policy else {
        return Some("CloudFront cannot read it: the bucket has no policy".into());
    };
    let statements: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let objects = format!("arn:aws:s3:::{bucket}/*");
    let request = Request {
        objects: &objects,
        source: distribution_arn,
    };
    let id = distribution_arn.rsplit('/').next().unwrap_or(distribution_arn);
    if statements
        .iter()
        .any(|s| effect(s) == Some("Deny") && request.denied_by(s))
    {
        return Some(format!(
            "CloudFront cannot read it: the bucket policy denies distribution {id} s3:GetObject"
        ));
    }
    if statements
        .iter()
        .any(|s| effect(s) == Some("Allow") && request.allowed_by(s))
    {
        None
    } else {
        Some(format!(
            "CloudFront cannot read it: no bucket policy statement lets distribution {id} s3:GetObject"
        ))
    }
}

struct Request<'a> {
    /// `arn:aws:s3:::BUCKET/*`: a resource pattern must cover every key.
    objects: &'a str,
    source: &'a str,
}

impl Request<'_> {
    fn allowed_by(&self, s: &Value) -> bool {
        s.get("NotAction").is_none()
            && s.get("NotResource").is_none()
            && s.get("NotPrincipal").is_none()
            && self.principal(s, false)
            && self.action(s)
            && self.resource(s)
            && self.conditions(s).unwrap_or(false)
    }

    /// Only a deny that certainly applies: conditions it cannot evaluate
    /// (such as the TLS-only deny's `aws:SecureTransport`, false for
    /// CloudFront's requests) do not count.
    fn denied_by(&self, s: &Value) -> bool {
        s.get("NotAction").is_none()
            && s.get("NotResource").is_none()
            && s.get("NotPrincipal").is_none()
            && self.principal(s, true)
            && self.action(s)
            && self.resource(s)
            && self.conditions(s).unwrap_or(false)
    }

    fn principal(&self, s: &Value, any: bool) -> bool {
        match s.get("Principal") {
            Some(Value::String(p)) => any && p == "*",
            Some(Value::Object(map)) => {
                strings(map.get("Service"))
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(SERVICE))
                    || (any && strings(map.get("AWS")).contains(&"*"))
            }
            _ => false,
        }
    }

    fn action(&self, s: &Value) -> bool {
        strings(s.get("Action"))
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), "s3:getobject"))
    }

    fn resource(&self, s: &Value) -> bool {
        strings(s.get("Resource")).iter().any(|r| glob(r, self.objects))
    }

    /// `Some(true)` when every condition holds for CloudFront's request,
    /// `None` when one cannot be evaluated here.
    fn conditions(&self, s: &Value) -> Option<bool> {
        let Some(conditions) = s.get("Condition") else {
            return Some(true);
        };
        let account = self.source.split(':').nth(4).unwrap_or("");
        for (operator, keys) in conditions.as_object()? {
            for (key, values) in keys.as_object()? {
                let actual = match key.to_ascii_lowercase().as_str() {
                    "aws:sourcearn" => self.source,
                    "aws:sourceaccount" => account,
                    _ => return None,
                };
                let values = strings(Some(values));
                let holds = match operator.as_str() {
                    "StringEquals" | "ArnEquals" => values.contains(&actual),
                    "StringLike" | "ArnLike" => values.iter().any(|v| glob(v, actual)),
                    _ => return None,
                };
                if !holds {
                    return Some(false);
                }
            }
        }
        Some(true)
    }
}

fn effect(s: &Value) -> Option<&str> {
    s.get("Effect").and_then(Value::as_str)
}

/// A string or a list of strings, as IAM allows for most elements.
fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcards: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIST: &str = "arn:aws:cloudfront::123456789012:distribution/E1";

    fn grant(condition: Value) -> Value {
        json!({
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": condition,
        })
    }

    fn blocked(statements: Vec<Value>) -> Option<String> {
        cloudfront_blocked(Some(&json!({"Statement": statements})), "b", DIST)
    }

    #[test]
    fn the_stacks_own_grant_lets_cloudfront_read() {
        let tls = json!({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        assert_eq!(
            blocked(vec![grant(json!({"StringEquals": {"AWS:SourceArn": DIST}})), tls]),
            None
        );
        assert_eq!(
            blocked(vec![grant(
                json!({"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/*"}})
            )]),
            None
        );
        assert_eq!(
            blocked(vec![grant(
                json!({"StringEquals": {"aws:SourceAccount": "123456789012"}})
            )]),
            None
        );
    }

    #[test]
    fn no_policy_another_distribution_or_part_of_the_bucket_is_blocked() {
        assert!(cloudfront_blocked(None, "b", DIST).unwrap().contains("no policy"));
        assert!(blocked(vec![]).is_some());
        let other = "arn:aws:cloudfront::123456789012:distribution/E2";
        assert!(blocked(vec![grant(json!({"StringEquals": {"AWS:SourceArn": other}}))]).is_some());
        let mut part = grant(json!({"StringEquals": {"AWS:SourceArn": DIST}}));
        part["Resource"] = json!("arn:aws:s3:::b/static/*");
        assert!(blocked(vec![part]).is_some());
        let mut put = grant(json!({"StringEquals": {"AWS:SourceArn": DIST}}));
        put["Action"] = json!("s3:PutObject");
        assert!(blocked(vec![put]).is_some());
        let unknown = grant(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}));
        assert!(blocked(vec![unknown]).is_some());
        let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"});
        let reason = blocked(vec![grant(json!({"StringEquals": {"AWS:SourceArn": DIST}})), deny]).unwrap();
        assert!(reason.contains("denies"), "{reason}");
    }

    #[test]
    fn wildcards() {
        assert!(glob("s3:get*", "s3:getobject"));
        assert!(glob("*", "s3:getobject"));
        assert!(glob("arn:aws:s3:::b*", "arn:aws:s3:::b/*"));
        assert!(!glob("arn:aws:s3:::b/static/*", "arn:aws:s3:::b/*"));
        assert!(glob("s3:?etObject", "s3:GetObject"));
    }
}
