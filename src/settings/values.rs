//! The other stack settings' values: the bucket name, CORS origins, headers,
//! price class and tags.

use std::collections::BTreeMap;

use super::{bad, Hsts, Setting, SettingError, DEFAULT_HSTS, MAX_TAGS, OWNER_TAG, PRICE_CLASSES};
use Setting::{BucketName, CorsOrigins, PriceClass, Tags};

/// S3's bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> Result<(), SettingError> {
    let expected = "3 to 63 lower-case letters, digits, dots or hyphens, starting and ending with a letter or digit";
    let err = |why: &str| SettingError {
        setting: BucketName.name(),
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

/// [`CorsOrigins`]: `*`, or comma-separated origins like `https://example.com`.
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
                CorsOrigins.name(),
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
pub(super) fn parse_switch(setting: Setting, value: &str) -> Result<bool, SettingError> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err(bad(setting.name(), value, "on or off")),
    }
}

/// [`Setting::Hsts`]: `off`, or the header's directives, e.g.
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
                .ok_or_else(|| bad(Setting::Hsts.name(), value, expected))?;
        } else if lower == "includesubdomains" {
            hsts.include_subdomains = true;
        } else if lower == "preload" {
            hsts.preload = true;
        } else {
            return Err(bad(Setting::Hsts.name(), value, expected));
        }
    }
    // The browsers' preload list takes only sites that promise this much.
    if hsts.preload && (!hsts.include_subdomains || hsts.max_age < 31_536_000) {
        return Err(SettingError {
            setting: Setting::Hsts.name(),
            problem: format!(
                "{value:?}: preload needs includeSubDomains and a max-age of at least 31536000 (the preload list's rules)"
            ),
        });
    }
    Ok(Some(hsts))
}

/// [`PriceClass`]: a CloudFront price class; `100`, `200` and `All` are accepted too.
pub fn parse_price_class(value: &str) -> Result<String, SettingError> {
    let short = value.strip_prefix("PriceClass_").unwrap_or(value);
    PRICE_CLASSES
        .iter()
        .find(|pc| pc[11..].eq_ignore_ascii_case(short))
        .map(|pc| pc.to_string())
        .ok_or_else(|| {
            bad(
                PriceClass.name(),
                value,
                "one of PriceClass_100, PriceClass_200, PriceClass_All",
            )
        })
}

/// [`Tags`]: `key=value` pairs separated by commas, applied to every
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
                Tags.name(),
                pair,
                "comma-separated key=value pairs such as team=web,env=prod",
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            return Err(bad(
                Tags.name(),
                pair,
                "keys of 1 to 128 characters and values of at most 256",
            ));
        }
        if !allowed(key) || !allowed(value) {
            return Err(bad(
                Tags.name(),
                pair,
                "keys and values of letters, digits, spaces and _ . : / = + - @ (AWS's tag characters)",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") || key == OWNER_TAG {
            return Err(bad(
                Tags.name(),
                pair,
                format!("a key not starting with aws: and other than {OWNER_TAG} (those are reserved)"),
            ));
        }
        tags.insert(key.to_string(), value.to_string());
    }
    if tags.len() > MAX_TAGS {
        return Err(SettingError {
            setting: Tags.name(),
            problem: format!(
                "has {} tags, but AWS allows 50 a resource and cdnctl adds {OWNER_TAG}: give at most {MAX_TAGS}",
                tags.len()
            ),
        });
    }
    Ok(tags)
}

/// [`Setting::NotFound`]: a file's path in the site, as CloudFront's
/// ResponsePagePath takes it: from the root, a file (not a directory), no
/// wildcard, query or fragment, and outside what cdnctl reserves
/// (`_cdnctl/`, `.cdnctl/`). Err: what is wrong with it.
pub fn page_path(value: &str) -> Result<(), &'static str> {
    let rest = value.strip_prefix('/').ok_or("it must start with /")?;
    let segments: Vec<&str> = rest.split('/').collect();
    let file = segments.last().copied().unwrap_or_default();
    if rest.is_empty() || file.is_empty() {
        return Err("it names a directory, not a file");
    }
    if segments.iter().any(|s| s.is_empty() || *s == "." || *s == "..") {
        return Err("it has an empty, . or .. segment");
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "*?#\\%".contains(c))
    {
        return Err("it has a space, *, ?, #, % or \\");
    }
    if segments[0] == "_cdnctl" || segments.contains(&".cdnctl") {
        return Err("_cdnctl/ and .cdnctl/ are cdnctl's own");
    }
    if !file.contains('.') || value.len() > 1024 {
        return Err("it must be a file with an extension, e.g. 404.html");
    }
    Ok(())
}
