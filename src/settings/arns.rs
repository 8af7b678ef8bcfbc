//! ARN settings: who may use the bucket ([`BucketUsers`]), the certificate
//! and the web ACL. Checked for shape, partition and region here, since AWS
//! checks them only once the first resources exist.

use super::{bad, SettingError};
use crate::settings::Setting::{BucketUsers, CertificateArn, WafArn};

/// cdnctl supports the `aws` partition only: GovCloud has no CloudFront, and
/// CloudFront in China takes neither ACM certificates nor the same principals.
const PARTITIONS: [&str; 1] = ["aws"];

/// Why an ARN of another partition is refused, for the error message.
const PARTITION_NOTE: &str = "(cdnctl supports the aws partition only; aws-cn and aws-us-gov are not supported)";

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// IAM names: letters, digits and `+=,.@_-`.
fn is_iam_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// `path/name` or `name`; a path is `/`-separated IAM names.
fn is_iam_path_and_name(s: &str) -> bool {
    !s.is_empty() && s.split('/').all(is_iam_name)
}

/// One IAM principal ARN: a user, role or account root (`arn:P:iam::ACCOUNT:…`),
/// or an STS federated user or assumed-role session.
pub fn is_principal_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    if prefix != "arn" || !PARTITIONS.contains(&partition) || !region.is_empty() {
        return false;
    }
    if !is_account_id(account) {
        return false;
    }
    match service {
        "iam" => {
            resource == "root"
                || resource
                    .strip_prefix("user/")
                    .or_else(|| resource.strip_prefix("role/"))
                    .is_some_and(is_iam_path_and_name)
        }
        "sts" => {
            if let Some(rest) = resource.strip_prefix("assumed-role/") {
                matches!(rest.split_once('/'), Some((role, session)) if is_iam_name(role) && is_iam_name(session))
            } else {
                resource.strip_prefix("federated-user/").is_some_and(is_iam_name)
            }
        }
        _ => false,
    }
}

/// [`BucketUsers`]: comma-separated principal ARNs. Spaces around entries and
/// empty entries (a trailing comma) are ignored; duplicates are kept once.
pub fn parse_principals(list: &str) -> Result<Vec<String>, SettingError> {
    let mut out: Vec<String> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if !is_principal_arn(entry) {
            return Err(bad(
                BucketUsers.name(),
                entry,
                format!(
                    "comma-separated IAM principal ARNs such as arn:aws:iam::123456789012:role/deploy, \
                     arn:aws:iam::123456789012:user/alice or arn:aws:iam::123456789012:root {PARTITION_NOTE}"
                ),
            ));
        }
        if !out.iter().any(|e| e == entry) {
            out.push(entry.to_string());
        }
    }
    Ok(out)
}

/// An ACM certificate ARN in us-east-1 (CloudFront only uses certificates there).
pub fn validate_certificate_arn(arn: &str) -> Result<(), SettingError> {
    let expected = "an ACM certificate ARN in us-east-1, such as arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad(CertificateArn.name(), arn, expected));
    };
    let id_ok = resource
        .strip_prefix("certificate/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    if prefix != "arn" || !PARTITIONS.contains(&partition) || service != "acm" || !is_account_id(account) || !id_ok {
        return Err(bad(CertificateArn.name(), arn, format!("{expected} {PARTITION_NOTE}")));
    }
    if region != "us-east-1" {
        return Err(SettingError {
            setting: CertificateArn.name(),
            problem: format!("{arn:?} is in {region}, but CloudFront only uses certificates in us-east-1: request or import the certificate there"),
        });
    }
    Ok(())
}

/// A WAFv2 web ACL of scope CLOUDFRONT: `arn:aws:wafv2:us-east-1:ACCOUNT:global/webacl/NAME/ID`.
pub fn validate_waf_arn(arn: &str) -> Result<(), SettingError> {
    let expected = "a WAFv2 web ACL ARN of scope CLOUDFRONT, such as arn:aws:wafv2:us-east-1:123456789012:global/webacl/name/0a1b2c3d-1234-5678-9abc-0123456789ab";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad(WafArn.name(), arn, expected));
    };
    if prefix != "arn" || !PARTITIONS.contains(&partition) || service != "wafv2" || !is_account_id(account) {
        return Err(bad(
            WafArn.name(),
            arn,
            format!("{expected}, or none to detach any web ACL {PARTITION_NOTE}"),
        ));
    }
    let segments: Vec<&str> = resource.split('/').collect();
    if segments.len() == 4 && segments[0] == "regional" {
        return Err(SettingError {
            setting: WafArn.name(),
            problem: format!("{arn:?} is a regional web ACL; CloudFront needs one of scope CLOUDFRONT (…:global/webacl/…) in us-east-1"),
        });
    }
    if region != "us-east-1"
        || segments.len() != 4
        || segments[0] != "global"
        || segments[1] != "webacl"
        || segments[2].is_empty()
        || segments[3].is_empty()
    {
        return Err(bad(WafArn.name(), arn, expected));
    }
    Ok(())
}
