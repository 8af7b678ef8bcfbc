//! The settings file (`./.env` or `--env-file`): its cdnctl settings are
//! loaded into the environment (which wins over it), with a parse error
//! naming the file and line, and a warning for a key that looks like a
//! misspelt cdnctl setting. Nothing else in it is used: a web app's `.env`
//! often holds the app's own AWS keys, which must not decide the account
//! cdnctl acts on.

use std::path::Path;
use std::sync::OnceLock;

/// Every variable cdnctl reads as a setting. A `.env` is often the web app's
/// too, so other keys are fine; only near misses of these are warned about.
pub const KNOWN: &[&str] = &[
    "BUCKET_NAME",
    "BUCKET_USERS",
    "HOSTED_ZONE_NAME",
    "HOSTED_ZONE_ID",
    "SUBDOMAIN",
    "CERTIFICATE_ARN",
    "WAF_ARN",
    "CDN_CORS_ORIGINS",
    "CDN_PRICE_CLASS",
    "CDN_TAGS",
    "CDN_SECURITY_HEADERS",
    "CDN_HSTS",
    "CDN_POLL_SECONDS",
    "CDN_WAIT_MINUTES",
    "CDN_CACHE_RULES",
    "CDN_SYNC_JOBS",
    "CDN_SYNC_MAX_DELETES",
    "CDN_SYNC_KEEP_DEPLOYS",
    "CDN_RELEASES",
    "CDN_SPA_FALLBACK",
];

/// The settings file read, as shown to people (`.env`, `prod.env`), once
/// `load` has run; `None` when there was none.
static LOADED: OnceLock<Option<String>> = OnceLock::new();

/// The settings file `load` read, if any.
pub fn loaded() -> Option<&'static str> {
    LOADED.get().and_then(Option::as_deref)
}

/// Load the cdnctl settings of `path` (or of `./.env` if it exists) into the
/// environment, without overriding what is already set. Returns warnings for
/// people; an error is one line naming the file (and line) and what to do.
pub fn load(path: Option<&Path>) -> Result<Vec<String>, String> {
    let loaded = read(path)?;
    let _ = LOADED.set(loaded.as_ref().map(|(shown, _)| shown.clone()));
    let Some((shown, text)) = loaded else {
        return Ok(Vec::new());
    };
    let pairs = parse(&shown, &text)?;
    tracing::debug!(
        "read settings from {shown}: {}",
        pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
    );
    let mut warnings = Vec::new();
    for (key, _) in &pairs {
        if let Some(closest) = misspelt(key) {
            let at = line_of_key(&text, key).map(|n| format!(":{n}")).unwrap_or_default();
            warnings.push(format!(
                "{shown}{at}: {key} is not a cdnctl setting and is ignored: did you mean {closest}?"
            ));
        }
    }
    let aws: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| is_sdk_setting(k))
        .collect();
    if !aws.is_empty() {
        warnings.push(format!(
            "{shown}: {} not used: cdnctl takes AWS credentials, region and endpoint from the environment, --profile/--region, or ~/.aws/config and ~/.aws/credentials",
            match aws.as_slice() {
                [one] => format!("{one} is"),
                many => format!("{} are", many.join(", ")),
            }
        ));
    }
    for (key, value) in pairs {
        if KNOWN.contains(&key.as_str()) && std::env::var_os(&key).is_none() {
            // Before any thread starts (run.rs calls this first thing).
            std::env::set_var(key, value);
        }
    }
    Ok(warnings)
}

/// A variable the AWS SDK reads to choose the account, region or endpoint
/// (not an app's own `AWS_STORAGE_BUCKET_NAME` or `AWS_S3_CUSTOM_DOMAIN`).
fn is_sdk_setting(key: &str) -> bool {
    const NAMES: &[&str] = &[
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CA_BUNDLE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
    ];
    const PREFIXES: &[&str] = &[
        "AWS_ENDPOINT_URL",
        "AWS_ROLE_",
        "AWS_WEB_IDENTITY_",
        "AWS_CONTAINER_",
        "AWS_EC2_METADATA_",
    ];
    NAMES.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

/// The file's name as shown and its text; `None` without `path` and `./.env`.
fn read(path: Option<&Path>) -> Result<Option<(String, String)>, String> {
    match path {
        Some(p) => {
            let shown = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| format!("--env-file: cannot load {shown}: {e}"))?;
            Ok(Some((shown, text)))
        }
        None => match std::fs::read_to_string(".env") {
            Ok(text) => Ok(Some((".env".to_string(), text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(".env: cannot load ./.env: {e}")),
        },
    }
}

/// Warnings for variables of the environment itself: only `CDN_` ones, the
/// prefix that is cdnctl's own.
pub fn environment_warnings() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("CDN_"))
        .filter_map(|k| {
            misspelt(&k).map(|closest| {
                format!("environment: {k} is not a cdnctl setting and is ignored: did you mean {closest}?")
            })
        })
        .collect()
}

/// The file's pairs, or where it cannot be read and how to fix it.
fn parse(shown: &str, text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok(pair) => pairs.push(pair),
            Err(dotenvy::Error::LineParse(content, _)) => {
                // dotenvy gives the part it could not read: find its line.
                let part = content.lines().next().unwrap_or("").trim();
                let found = text
                    .lines()
                    .enumerate()
                    .find(|(_, l)| !part.is_empty() && l.contains(part));
                let number = found.map(|(i, _)| format!(":{}", i + 1)).unwrap_or_default();
                let first = found.map(|(_, l)| l.trim()).unwrap_or(part);
                let hint = match first.split_once('=') {
                    Some((key, value)) if value.contains(char::is_whitespace) => {
                        let key = key.trim().trim_start_matches("export ").trim();
                        let value = value.trim().replace('"', "\\\"");
                        format!(": a value with spaces needs quotes: {key}=\"{value}\"")
                    }
                    _ => ": expected NAME=value lines (quote a value with spaces or #)".to_string(),
                };
                return Err(format!("{shown}{number}: cannot parse {first:?}{hint}"));
            }
            Err(e) => return Err(format!("{shown}: cannot load: {e}")),
        }
    }
    Ok(pairs)
}

/// The 1-based line that sets `key`.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("export ").unwrap_or(l).trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// The setting `key` was probably meant to be: an unknown key close to a known
/// one (or any unknown `CDN_` key, with the closest one), else `None`.
pub fn misspelt(key: &str) -> Option<&'static str> {
    if KNOWN.contains(&key) {
        return None;
    }
    let squash = |s: &str| s.to_ascii_uppercase().replace(['_', '-'], "");
    let wanted = squash(key);
    let (distance, closest) = KNOWN
        .iter()
        .map(|k| (distance(&squash(k), &wanted), *k))
        .min_by_key(|(d, _)| *d)?;
    let close = distance <= 2 && distance * 3 <= wanted.len();
    (close || key.starts_with("CDN_")).then_some(closest)
}

/// Edit distance with adjacent transpositions (optimal string alignment).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_name_the_closest_setting() {
        assert_eq!(misspelt("SUBDOMIAN"), Some("SUBDOMAIN"));
        assert_eq!(misspelt("CDN_PRICECLASS"), Some("CDN_PRICE_CLASS"));
        assert_eq!(misspelt("BUCKET_USER"), Some("BUCKET_USERS"));
        assert_eq!(misspelt("HOSTED_ZONE"), Some("HOSTED_ZONE_ID"));
        assert_eq!(misspelt("CDN_CACHE_RULE"), Some("CDN_CACHE_RULES"));
        assert_eq!(misspelt("CDN_HTST"), Some("CDN_HSTS"));
        for fine in [
            "SUBDOMAIN",
            "DJANGO_SECRET_KEY",
            "AWS_STORAGE_BUCKET_NAME",
            "DATABASE_URL",
            "STATIC_URL",
            "DEBUG",
            "AWS_REGION",
        ] {
            assert_eq!(misspelt(fine), None, "{fine}");
        }
    }

    #[test]
    fn the_sdks_variables_are_told_from_an_apps_own_aws_names() {
        for sdk in [
            "AWS_ACCESS_KEY_ID",
            "AWS_PROFILE",
            "AWS_REGION",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ROLE_ARN",
        ] {
            assert!(is_sdk_setting(sdk), "{sdk}");
        }
        for app in [
            "AWS_STORAGE_BUCKET_NAME",
            "AWS_S3_CUSTOM_DOMAIN",
            "AWS_S3_REGION_NAME",
            "BUCKET_NAME",
        ] {
            assert!(!is_sdk_setting(app), "{app}");
        }
    }

    #[test]
    fn a_value_with_spaces_is_named_by_file_and_line_with_quotes_suggested() {
        let text = "BUCKET_NAME=b\n# HSTS\nCDN_HSTS=max-age=63072000; includeSubDomains; preload\n";
        let err = parse(".env", text).unwrap_err();
        assert_eq!(
            err,
            ".env:3: cannot parse \"CDN_HSTS=max-age=63072000; includeSubDomains; preload\": \
             a value with spaces needs quotes: CDN_HSTS=\"max-age=63072000; includeSubDomains; preload\""
        );
        let quoted = "CDN_HSTS=\"max-age=63072000; includeSubDomains; preload\"\nCDN_TAGS='team=web dev'\n";
        assert_eq!(
            parse(".env", quoted).unwrap(),
            vec![
                (
                    "CDN_HSTS".to_string(),
                    "max-age=63072000; includeSubDomains; preload".to_string()
                ),
                ("CDN_TAGS".to_string(), "team=web dev".to_string()),
            ]
        );
    }
}
