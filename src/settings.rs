//! Settings: read from flags, the environment and a `.env` file, validated in
//! one place before anything talks to AWS.
//!
//! The variable names are those of the CDK stack cdnctl replaces, so an existing
//! `.env` works unchanged; settings cdnctl adds all start with `CDN_`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::cli::SettingsArgs;

/// A setting that is missing or malformed. Displays as one line that names the
/// setting, shows the bad value and says what is expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{setting}: {problem}")]
pub struct SettingError {
    pub setting: &'static str,
    pub problem: String,
}

fn bad(setting: &'static str, value: &str, expected: impl fmt::Display) -> SettingError {
    SettingError {
        setting,
        problem: format!("{value:?} is not valid: expected {expected}"),
    }
}

/// Validated settings: everything cdnctl needs to know about the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bucket: String,
    pub bucket_users: Vec<String>,
    pub domain: Option<Domain>,
    pub certificate_arn: Option<String>,
    pub waf: Waf,
    pub cors_origins: Vec<String>,
    pub price_class: String,
    pub tags: BTreeMap<String, String>,
    /// How often to poll, and how long to wait, for anything AWS does slowly.
    pub poll: Duration,
    pub wait: Duration,
    /// Send nosniff, a referrer policy and (with a custom domain) HSTS.
    pub security_headers: bool,
    /// Strict-Transport-Security for the custom domain; `None` when off.
    pub hsts: Option<Hsts>,
}

/// `CDN_HSTS`: the Strict-Transport-Security header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hsts {
    pub max_age: i32,
    pub include_subdomains: bool,
    pub preload: bool,
}

/// One year, this host only: safe for any site served over HTTPS alone.
pub const DEFAULT_HSTS: Hsts = Hsts {
    max_age: 31_536_000,
    include_subdomains: false,
    preload: false,
};

/// `WAF_ARN`: what to do with the distribution's web ACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waf {
    /// Unset: leave whatever is attached (Firewall Manager and security teams
    /// attach their own; detaching it would fight them forever).
    Unmanaged,
    /// `none`: detach any web ACL.
    Detach,
    /// Attach this web ACL.
    Acl(String),
}

/// The CDN's custom domain: `SUBDOMAIN.HOSTED_ZONE_NAME` in that zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Fully qualified, lower case, without the trailing dot.
    pub name: String,
    /// The hosted zone's name, lower case, without the trailing dot.
    pub zone_name: String,
    /// The hosted zone's id without `/hostedzone/`, when given.
    pub zone_id: Option<String>,
}

/// Where settings come from, highest precedence first: flags, then the
/// environment (which already includes the `.env` file; see `cli`).
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

impl Source for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

/// The process environment.
pub struct Environment;

impl Source for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

pub const PRICE_CLASSES: [&str; 3] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];
pub const OWNER_TAG: &str = "cdnctl:stack";
/// DNS validation commonly takes 5–30 minutes after the record is written, and
/// a CloudFront deployment or an ACM "in use" window up to ~20: long enough for
/// all of them (Terraform waits 75 minutes for certificate validation).
pub const DEFAULT_WAIT_MINUTES: u64 = 75;
/// AWS allows 50 tags a resource; cdnctl's ownership tag is one of them.
pub const MAX_TAGS: usize = 49;

/// A non-negative number of `unit` seconds.
fn seconds(setting: &'static str, value: &str, unit: f64, expected: &str) -> Result<Duration, SettingError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v * unit < 1e9)
        .map(|v| Duration::from_secs_f64(v * unit))
        .ok_or_else(|| bad(setting, value, expected))
}

impl Settings {
    /// Merge flags over `env`, then validate every setting. Pure: no I/O
    /// beyond `env`.
    pub fn resolve(flags: &SettingsArgs, env: &dyn Source) -> Result<Settings, SettingError> {
        let pick = |flag: &Option<String>, name: &str| -> Option<String> {
            flag.clone()
                .or_else(|| env.get(name))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let bucket = pick(&flags.bucket_name, "BUCKET_NAME").ok_or(SettingError {
            setting: "BUCKET_NAME",
            problem: "is not set: expected the name of the S3 bucket to create, e.g. BUCKET_NAME=example-static".into(),
        })?;
        validate_bucket_name(&bucket)?;

        let bucket_users = match pick(&flags.bucket_users, "BUCKET_USERS") {
            Some(list) => parse_principals(&list)?,
            None => Vec::new(),
        };

        let zone_name = pick(&flags.hosted_zone_name, "HOSTED_ZONE_NAME");
        let zone_id = pick(&flags.hosted_zone_id, "HOSTED_ZONE_ID");
        let subdomain = pick(&flags.subdomain, "SUBDOMAIN");
        let domain = resolve_domain(zone_name, zone_id, subdomain)?;

        let certificate_arn = pick(&flags.certificate_arn, "CERTIFICATE_ARN");
        if let Some(arn) = &certificate_arn {
            validate_certificate_arn(arn)?;
            if domain.is_none() {
                return Err(SettingError {
                    setting: "CERTIFICATE_ARN",
                    problem: "is set but no custom domain is: set SUBDOMAIN and HOSTED_ZONE_NAME too, or remove CERTIFICATE_ARN".into(),
                });
            }
        }
        if let (None, Some(d)) = (&certificate_arn, &domain) {
            // ACM refuses a certificate's domain name longer than 64 characters,
            // but only after the bucket and OAC exist: say so now.
            if d.name.len() > 64 {
                return Err(SettingError {
                    setting: "SUBDOMAIN",
                    problem: format!(
                        "{:?} is {} characters, but ACM certificates allow at most 64: use a shorter SUBDOMAIN, or give CERTIFICATE_ARN (e.g. a wildcard certificate for the zone)",
                        d.name,
                        d.name.len()
                    ),
                });
            }
        }

        let waf = match pick(&flags.waf_arn, "WAF_ARN") {
            None => Waf::Unmanaged,
            Some(v) if v.eq_ignore_ascii_case("none") => Waf::Detach,
            Some(arn) => {
                validate_waf_arn(&arn)?;
                Waf::Acl(arn)
            }
        };

        let cors_origins = match pick(&flags.cors_origins, "CDN_CORS_ORIGINS") {
            Some(list) => parse_cors_origins(&list)?,
            None => vec!["*".to_string()],
        };

        let price_class = match pick(&flags.price_class, "CDN_PRICE_CLASS") {
            Some(value) => parse_price_class(&value)?,
            None => PRICE_CLASSES[0].to_string(),
        };

        let tags = match pick(&flags.tags, "CDN_TAGS") {
            Some(list) => parse_tags(&list)?,
            None => BTreeMap::new(),
        };

        let poll = match env.get("CDN_POLL_SECONDS").filter(|v| !v.trim().is_empty()) {
            Some(v) => seconds("CDN_POLL_SECONDS", &v, 1.0, "seconds between polls, e.g. 15")?,
            None => Duration::from_secs(15),
        };
        let wait = match env.get("CDN_WAIT_MINUTES").filter(|v| !v.trim().is_empty()) {
            Some(v) => seconds("CDN_WAIT_MINUTES", &v, 60.0, "minutes to wait at most, e.g. 75")?,
            None => Duration::from_secs(DEFAULT_WAIT_MINUTES * 60),
        };

        let security_headers = match pick(&flags.security_headers, "CDN_SECURITY_HEADERS") {
            Some(v) => parse_switch("CDN_SECURITY_HEADERS", &v)?,
            None => true,
        };
        let hsts = match pick(&flags.hsts, "CDN_HSTS") {
            Some(v) => parse_hsts(&v)?,
            None => Some(DEFAULT_HSTS),
        };

        Ok(Settings {
            bucket,
            bucket_users,
            domain,
            certificate_arn,
            waf,
            cors_origins,
            price_class,
            tags,
            poll,
            wait,
            security_headers,
            hsts,
        })
    }
}

/// S3's bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> Result<(), SettingError> {
    let expected = "3 to 63 lower-case letters, digits, dots or hyphens, starting and ending with a letter or digit";
    let err = |why: &str| SettingError {
        setting: "BUCKET_NAME",
        problem: format!("{name:?} is not a valid S3 bucket name ({why}): expected {expected}"),
    };
    if !(3..=63).contains(&name.len()) {
        return Err(err("wrong length"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(err("invalid character"));
    }
    let edge_ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !edge_ok(name.as_bytes()[0]) || !edge_ok(name.as_bytes()[name.len() - 1]) {
        return Err(err("must start and end with a letter or digit"));
    }
    if name.contains("..") {
        return Err(err("two adjacent dots"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(err("formatted as an IP address"));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(err(&format!("reserved prefix {prefix}")));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(err(&format!("reserved suffix {suffix}")));
        }
    }
    Ok(())
}

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

/// `BUCKET_USERS`: comma-separated principal ARNs. Spaces around entries and
/// empty entries (a trailing comma) are ignored; duplicates are kept once.
pub fn parse_principals(list: &str) -> Result<Vec<String>, SettingError> {
    let mut out: Vec<String> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        if !is_principal_arn(entry) {
            return Err(bad(
                "BUCKET_USERS",
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

/// A DNS name of one or more labels, lower-cased, without a trailing dot.
fn parse_dns_name(setting: &'static str, value: &str, what: &str) -> Result<String, SettingError> {
    let name = value.strip_suffix('.').unwrap_or(value).to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad(setting, value, what));
    }
    Ok(name)
}

fn resolve_domain(
    zone_name: Option<String>,
    zone_id: Option<String>,
    subdomain: Option<String>,
) -> Result<Option<Domain>, SettingError> {
    let zone_id = zone_id
        .map(|id| {
            let id = id.strip_prefix("/hostedzone/").unwrap_or(&id).to_string();
            if id.len() > 32 || !id.starts_with('Z') || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Err(bad(
                    "HOSTED_ZONE_ID",
                    &id,
                    "a Route53 hosted zone id such as Z0123456789ABCDEFGHIJ or /hostedzone/Z0123456789ABCDEFGHIJ",
                ))
            } else {
                Ok(id.to_ascii_uppercase())
            }
        })
        .transpose()?;
    match (zone_name, subdomain) {
        (None, None) if zone_id.is_none() => Ok(None),
        (None, None) => Err(SettingError {
            setting: "HOSTED_ZONE_ID",
            problem: "is set but SUBDOMAIN and HOSTED_ZONE_NAME are not: set both for a custom domain, or remove HOSTED_ZONE_ID".into(),
        }),
        (Some(_), None) => Err(SettingError {
            setting: "SUBDOMAIN",
            problem: "is not set but HOSTED_ZONE_NAME is: set SUBDOMAIN (e.g. static) for the domain SUBDOMAIN.HOSTED_ZONE_NAME, or remove HOSTED_ZONE_NAME".into(),
        }),
        (None, Some(_)) => Err(SettingError {
            setting: "HOSTED_ZONE_NAME",
            problem: "is not set but SUBDOMAIN is: set HOSTED_ZONE_NAME to the Route53 zone the domain belongs to (e.g. example.com), or remove SUBDOMAIN".into(),
        }),
        (Some(zone), Some(sub)) => {
            let zone_name = parse_dns_name("HOSTED_ZONE_NAME", &zone, "a DNS zone name such as example.com")?;
            if !zone_name.contains('.') {
                return Err(bad("HOSTED_ZONE_NAME", &zone, "a DNS zone name with at least two labels, such as example.com"));
            }
            let sub = parse_dns_name("SUBDOMAIN", &sub, "one or more DNS labels (letters, digits, hyphens) such as static or cdn.assets")?;
            let name = format!("{sub}.{zone_name}");
            if name.len() > 253 {
                return Err(bad("SUBDOMAIN", &sub, "a shorter label: SUBDOMAIN.HOSTED_ZONE_NAME must be at most 253 characters"));
            }
            Ok(Some(Domain { name, zone_name, zone_id }))
        }
    }
}

/// An ACM certificate ARN in us-east-1 (CloudFront only uses certificates there).
pub fn validate_certificate_arn(arn: &str) -> Result<(), SettingError> {
    let expected = "an ACM certificate ARN in us-east-1, such as arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab";
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err(bad("CERTIFICATE_ARN", arn, expected));
    };
    let id_ok = resource
        .strip_prefix("certificate/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'));
    if prefix != "arn" || !PARTITIONS.contains(&partition) || service != "acm" || !is_account_id(account) || !id_ok {
        return Err(bad("CERTIFICATE_ARN", arn, format!("{expected} {PARTITION_NOTE}")));
    }
    if region != "us-east-1" {
        return Err(SettingError {
            setting: "CERTIFICATE_ARN",
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
        return Err(bad("WAF_ARN", arn, expected));
    };
    if prefix != "arn" || !PARTITIONS.contains(&partition) || service != "wafv2" || !is_account_id(account) {
        return Err(bad(
            "WAF_ARN",
            arn,
            format!("{expected}, or none to detach any web ACL {PARTITION_NOTE}"),
        ));
    }
    let segments: Vec<&str> = resource.split('/').collect();
    if segments.len() == 4 && segments[0] == "regional" {
        return Err(SettingError {
            setting: "WAF_ARN",
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
        return Err(bad("WAF_ARN", arn, expected));
    }
    Ok(())
}

/// `CDN_CORS_ORIGINS`: `*`, or comma-separated origins like `https://example.com`.
pub fn parse_cors_origins(list: &str) -> Result<Vec<String>, SettingError> {
    let mut out = Vec::new();
    for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let ok = origin == "*"
            || ["https://", "http://"].iter().any(|scheme| {
                origin.strip_prefix(scheme).is_some_and(|host| {
                    !host.is_empty()
                        && !host.contains('/')
                        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:*".contains(&b))
                })
            });
        if !ok {
            return Err(bad(
                "CDN_CORS_ORIGINS",
                origin,
                "* or comma-separated origins such as https://www.example.com (scheme and host, no path)",
            ));
        }
        if !out.iter().any(|o| o == origin) {
            out.push(origin.to_string());
        }
    }
    if out.is_empty() {
        out.push("*".to_string());
    }
    Ok(out)
}

/// `on`/`off` (also true/false, yes/no, 1/0).
fn parse_switch(setting: &'static str, value: &str) -> Result<bool, SettingError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(bad(setting, value, "on or off")),
    }
}

/// `CDN_HSTS`: `off`, or the header's directives, e.g.
/// `max-age=63072000; includeSubDomains; preload` (`;` or `,` between them).
pub fn parse_hsts(value: &str) -> Result<Option<Hsts>, SettingError> {
    let expected = "off, or Strict-Transport-Security directives such as max-age=31536000; includeSubDomains; preload";
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let mut hsts = DEFAULT_HSTS;
    for directive in value.split([';', ',']).map(str::trim).filter(|d| !d.is_empty()) {
        let lower = directive.to_ascii_lowercase();
        if let Some(age) = lower.strip_prefix("max-age=") {
            hsts.max_age = age
                .parse::<i32>()
                .ok()
                .filter(|a| *a >= 0)
                .ok_or_else(|| bad("CDN_HSTS", value, expected))?;
        } else if lower == "includesubdomains" {
            hsts.include_subdomains = true;
        } else if lower == "preload" {
            hsts.preload = true;
        } else {
            return Err(bad("CDN_HSTS", value, expected));
        }
    }
    // The browsers' preload list takes only sites that promise this much.
    if hsts.preload && (!hsts.include_subdomains || hsts.max_age < 31_536_000) {
        return Err(SettingError {
            setting: "CDN_HSTS",
            problem: format!(
                "{value:?}: preload needs includeSubDomains and a max-age of at least 31536000 (the preload list's rules)"
            ),
        });
    }
    Ok(Some(hsts))
}

/// `CDN_PRICE_CLASS`: a CloudFront price class; `100`, `200` and `All` are accepted too.
pub fn parse_price_class(value: &str) -> Result<String, SettingError> {
    let short = value.strip_prefix("PriceClass_").unwrap_or(value);
    PRICE_CLASSES
        .iter()
        .find(|pc| pc[11..].eq_ignore_ascii_case(short))
        .map(|pc| pc.to_string())
        .ok_or_else(|| {
            bad(
                "CDN_PRICE_CLASS",
                value,
                "one of PriceClass_100, PriceClass_200, PriceClass_All",
            )
        })
}

/// `CDN_TAGS`: `key=value` pairs separated by commas, applied to every
/// resource. AWS's rules are checked here, since AWS checks them only once
/// the first resources exist: at most 49 tags (cdnctl adds its own), keys of
/// 1–128 and values of at most 256 characters, letters, digits, spaces and
/// `_ . : / = + - @`, no `aws:` prefix in any case.
pub fn parse_tags(list: &str) -> Result<BTreeMap<String, String>, SettingError> {
    let mut tags = BTreeMap::new();
    let allowed = |s: &str| {
        s.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
    };
    for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(bad(
                "CDN_TAGS",
                pair,
                "comma-separated key=value pairs such as team=web,env=prod",
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(bad(
                "CDN_TAGS",
                pair,
                "keys of 1 to 128 characters and values of at most 256",
            ));
        }
        if !allowed(key) || !allowed(value) {
            return Err(bad(
                "CDN_TAGS",
                pair,
                "keys and values of letters, digits, spaces and _ . : / = + - @ (AWS's tag characters)",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") || key == OWNER_TAG {
            return Err(bad(
                "CDN_TAGS",
                pair,
                format!("a key not starting with aws: and other than {OWNER_TAG} (those are reserved)"),
            ));
        }
        tags.insert(key.to_string(), value.to_string());
    }
    if tags.len() > MAX_TAGS {
        return Err(SettingError {
            setting: "CDN_TAGS",
            problem: format!(
                "has {} tags, but AWS allows 50 a resource and cdnctl adds {OWNER_TAG}: give at most {MAX_TAGS}",
                tags.len()
            ),
        });
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<Settings, SettingError> {
        let env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::resolve(&SettingsArgs::default(), &env)
    }

    #[test]
    fn minimal_settings_get_defaults() {
        let s = resolve(&[("BUCKET_NAME", "example-static")]).unwrap();
        assert_eq!(s.bucket, "example-static");
        assert!(s.bucket_users.is_empty());
        assert_eq!(s.domain, None);
        assert_eq!(s.cors_origins, vec!["*"]);
        assert_eq!(s.price_class, "PriceClass_100");
    }

    #[test]
    fn flags_win_over_environment() {
        let env: BTreeMap<String, String> = [("BUCKET_NAME".to_string(), "from-env".to_string())].into();
        let flags = SettingsArgs {
            bucket_name: Some("from-flag".into()),
            ..Default::default()
        };
        assert_eq!(Settings::resolve(&flags, &env).unwrap().bucket, "from-flag");
    }

    #[test]
    fn bucket_users_are_trimmed_and_deduplicated() {
        let s = resolve(&[
            ("BUCKET_NAME", "example-static"),
            ("BUCKET_USERS", " arn:aws:iam::123456789012:role/deploy , ,arn:aws:iam::123456789012:user/a,arn:aws:iam::123456789012:role/deploy,"),
        ])
        .unwrap();
        assert_eq!(
            s.bucket_users,
            vec![
                "arn:aws:iam::123456789012:role/deploy",
                "arn:aws:iam::123456789012:user/a"
            ]
        );
    }

    #[test]
    fn principal_arns() {
        for ok in [
            "arn:aws:iam::123456789012:root",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::123456789012:user/team/alice@example.com",
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123",
            "arn:aws:sts::123456789012:assumed-role/deploy/session-1",
            "arn:aws:sts::123456789012:federated-user/bob",
        ] {
            assert!(is_principal_arn(ok), "{ok}");
        }
        for bad in [
            "arn:aws:iam::12345678901:role/x",
            "arn:aws:iam::123456789012:group/devs",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:sts::123456789012:assumed-role/only-role",
            "arn:azure:iam::123456789012:role/x",
            "arn:aws-cn:iam::123456789012:role/deploy",
            "arn:aws-us-gov:iam::123456789012:role/deploy",
            "123456789012",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:user/a b",
        ] {
            assert!(!is_principal_arn(bad), "{bad}");
        }
    }

    #[test]
    fn domain_is_subdomain_dot_zone() {
        let s = resolve(&[
            ("BUCKET_NAME", "example-static"),
            ("HOSTED_ZONE_NAME", "Example.COM."),
            ("SUBDOMAIN", "static"),
            ("HOSTED_ZONE_ID", "/hostedzone/Z123ABC"),
        ])
        .unwrap();
        let d = s.domain.unwrap();
        assert_eq!(d.name, "static.example.com");
        assert_eq!(d.zone_name, "example.com");
        assert_eq!(d.zone_id.as_deref(), Some("Z123ABC"));
    }

    #[test]
    fn price_class_short_forms() {
        assert_eq!(parse_price_class("all").unwrap(), "PriceClass_All");
        assert_eq!(parse_price_class("PriceClass_200").unwrap(), "PriceClass_200");
        assert!(parse_price_class("PriceClass_300").is_err());
    }

    #[test]
    fn errors_name_the_setting_on_one_line() {
        let err = resolve(&[("BUCKET_NAME", "Bad_Name")]).unwrap_err();
        let line = err.to_string();
        assert!(line.starts_with("BUCKET_NAME: \"Bad_Name\""), "{line}");
        assert!(!line.contains('\n'));
    }
}
