//! Settings: read from flags, the environment and a `.env` file, validated in
//! one place before anything talks to AWS.
//!
//! The variable names are those of the CDK stack cdnctl replaces, so an existing
//! `.env` works unchanged; settings cdnctl adds all start with `CDN_`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

mod arns;
pub mod defs;
mod domain;
pub mod dotenv;
mod values;

pub use defs::{Flags, Given, Setting, PRICE_CLASSES};
use Setting::*;

#[cfg(test)]
use arns::is_principal_arn;
use arns::{parse_principals, validate_certificate_arn, validate_waf_arn};
use values::parse_switch;
use values::{parse_cors_origins, parse_hsts, parse_price_class, parse_tags, validate_bucket_name};

/// A setting that is missing or malformed. Displays as one line that names the
/// setting, shows the bad value and says what is expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{setting}: {problem}")]
pub struct SettingError {
    pub setting: &'static str,
    pub problem: String,
}

/// Every setting that is wrong, in the order they were checked: one line each.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SettingErrors(pub Vec<SettingError>);

impl fmt::Display for SettingErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl SettingErrors {
    /// The value, or `None` with its error noted.
    fn take<T>(&mut self, result: Result<T, SettingError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// The first error, for tests that check one setting.
    #[cfg(test)]
    fn first(&self) -> &SettingError {
        &self.0[0]
    }
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
    /// Releases kept; 0 (the default) publishes in place.
    pub releases: u32,
    /// The page extensionless paths fall back to, with releases.
    pub spa_fallback: Option<String>,
    /// Previews at NAME.DOMAIN (needs releases and a custom domain).
    pub previews: bool,
    /// `USER:PASSWORD` previews ask for.
    pub preview_auth: Option<String>,
    /// Days a preview is kept.
    pub preview_days: u32,
    /// The page a missing file gets, with status 404 (`Setting::NotFound`).
    pub not_found: Option<String>,
}

/// [`Setting::Hsts`]: the Strict-Transport-Security header.
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

/// [`WafArn`]: what to do with the distribution's web ACL.
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

/// The CDN's custom domain: [`Subdomain`] under [`HostedZoneName`], in that zone.
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

pub const OWNER_TAG: &str = "cdnctl:stack";
/// AWS allows 50 tags a resource; cdnctl's ownership tag is one of them.
pub const MAX_TAGS: usize = 49;

/// A non-negative number of `unit` seconds.
fn seconds(setting: Setting, value: &str, unit: f64, expected: &str) -> Result<Duration, SettingError> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0 && *v * unit < 1e9)
        .map(|v| Duration::from_secs_f64(v * unit))
        .ok_or_else(|| bad(setting.name(), value, expected))
}

impl Settings {
    /// Merge flags over `env`, then validate every setting, reporting every
    /// one that is wrong at once. Pure: no I/O beyond `env`.
    pub fn resolve(flags: &Flags, env: &dyn Source) -> Result<Settings, SettingErrors> {
        let pick = |setting| flags.pick(setting, env).map(|g| g.value);
        let or_default = |setting| flags.pick_or_default(setting, env).map(|g| g.value);
        let mut errors = SettingErrors::default();

        let bucket = pick(BucketName);
        match &bucket {
            None => errors.0.push(SettingError {
                setting: BucketName.name(),
                problem: format!(
                    "is not set: expected the name of the S3 bucket to create, e.g. {BucketName}=example-static"
                ),
            }),
            Some(b) => {
                errors.take(validate_bucket_name(b));
            }
        }

        let bucket_users = pick(BucketUsers)
            .and_then(|list| errors.take(parse_principals(&list)))
            .unwrap_or_default();

        let zone_name = pick(HostedZoneName);
        let zone_id = pick(HostedZoneId);
        let subdomain = pick(Subdomain);
        let domain_given = zone_name.is_some() || subdomain.is_some();
        let domain = errors.take(domain::resolve(zone_name, zone_id, subdomain)).flatten();

        let certificate_arn = pick(CertificateArn);
        if let Some(arn) = &certificate_arn {
            errors.take(validate_certificate_arn(arn));
            if !domain_given {
                errors.0.push(SettingError {
                    setting: CertificateArn.name(),
                    problem: format!("is set but no custom domain is: set {Subdomain} and {HostedZoneName} too, or remove {CertificateArn}"),
                });
            }
        }
        if let (None, Some(d)) = (&certificate_arn, &domain) {
            // ACM refuses a certificate's domain name longer than 64 characters,
            // but only after the bucket and OAC exist: say so now.
            if d.name.len() > 64 {
                errors.0.push(SettingError {
                    setting: Subdomain.name(),
                    problem: format!(
                        "{:?} is {} characters, but ACM certificates allow at most 64: use a shorter {Subdomain}, or give {CertificateArn} (e.g. a wildcard certificate for the zone)",
                        d.name,
                        d.name.len()
                    ),
                });
            }
        }

        let waf = match pick(WafArn) {
            None => Waf::Unmanaged,
            Some(v) if v.eq_ignore_ascii_case("none") => Waf::Detach,
            Some(arn) => {
                errors.take(validate_waf_arn(&arn));
                Waf::Acl(arn)
            }
        };

        // Each default is parsed like a value given, so it cannot be wrong:
        // `unwrap_or_default` only ever follows an error already noted.
        let cors_origins = or_default(CorsOrigins)
            .and_then(|list| errors.take(parse_cors_origins(&list)))
            .unwrap_or_default();
        let price_class = or_default(PriceClass)
            .and_then(|value| errors.take(parse_price_class(&value)))
            .unwrap_or_default();
        let tags = pick(Tags)
            .and_then(|list| errors.take(parse_tags(&list)))
            .unwrap_or_default();

        let poll = or_default(PollSeconds)
            .and_then(|v| errors.take(seconds(PollSeconds, &v, 1.0, "seconds between polls, e.g. 15")))
            .unwrap_or_default();
        let wait = or_default(WaitMinutes)
            .and_then(|v| errors.take(seconds(WaitMinutes, &v, 60.0, "minutes to wait at most, e.g. 75")))
            .unwrap_or_default();

        let security_headers = or_default(SecurityHeaders)
            .and_then(|v| errors.take(parse_switch(SecurityHeaders, &v)))
            .unwrap_or_default();
        let hsts = or_default(Setting::Hsts).and_then(|v| errors.take(parse_hsts(&v)).flatten());

        let releases = or_default(Releases)
            .and_then(|v| {
                errors.take(
                    v.parse()
                        .ok()
                        .filter(|n| *n <= 100)
                        .ok_or_else(|| bad(Releases.name(), &v, "releases to keep, 0 (off) to 100")),
                )
            })
            .unwrap_or(0);
        let spa_fallback = pick(SpaFallback).filter(|v| {
            let ok = v.starts_with('/') && v.rsplit('/').next().is_some_and(|f| f.contains('.'));
            ok || errors
                .take::<()>(Err(bad(SpaFallback.name(), v, "a page's path, e.g. /index.html")))
                .is_some()
        });
        let not_found = pick(NotFound).filter(|v| match values::page_path(v) {
            Ok(()) => true,
            Err(why) => errors
                .take::<()>(Err(bad(
                    NotFound.name(),
                    v,
                    format!("a file's path in the site, from the root, e.g. /404.html ({why})"),
                )))
                .is_some(),
        });

        let previews = or_default(Previews)
            .and_then(|v| errors.take(parse_switch(Previews, &v)))
            .unwrap_or_default();
        if previews && domain.is_none() {
            errors.take::<()>(Err(SettingError {
                setting: Previews.name(),
                problem: format!(
                    "on needs a custom domain ({Subdomain} and {HostedZoneName}): previews are served at \
                     NAME.DOMAIN, and cloudfront.net has no subdomains"
                ),
            }));
        }
        if previews && releases == 0 {
            errors.take::<()>(Err(SettingError {
                setting: Previews.name(),
                problem: format!("on needs releases: set {Releases} to the number of releases to keep"),
            }));
        }
        let preview_auth = pick(PreviewAuth).filter(|v| {
            let ok = v.split_once(':').is_some_and(|(u, p)| !u.is_empty() && !p.is_empty())
                && v.len() <= 200
                && v.bytes().all(|b| b.is_ascii_graphic());
            ok || errors
                .take::<()>(Err(bad(
                    PreviewAuth.name(),
                    "(hidden)",
                    "USER:PASSWORD, printable ASCII without spaces, at most 200 characters",
                )))
                .is_some()
        });
        let preview_days = or_default(PreviewDays)
            .and_then(|v| {
                errors.take(
                    v.parse()
                        .ok()
                        .filter(|n| (1..=3650).contains(n))
                        .ok_or_else(|| bad(PreviewDays.name(), &v, "days to keep a preview, 1 to 3650")),
                )
            })
            .unwrap_or(30);

        match bucket {
            Some(bucket) if errors.0.is_empty() => Ok(Settings {
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
                releases,
                spa_fallback,
                previews,
                preview_auth,
                preview_days,
                not_found,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(pairs: &[(&str, &str)]) -> Result<Settings, SettingErrors> {
        let env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::resolve(&Flags::default(), &env)
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
        let mut flags = Flags::default();
        flags.set(BucketName, "from-flag");
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

    #[test]
    fn every_bad_setting_is_reported_at_once() {
        let err = resolve(&[
            ("BUCKET_NAME", "Bad_Name"),
            ("CDN_PRICE_CLASS", "cheap"),
            ("CDN_TAGS", "team"),
            ("CDN_WAIT_MINUTES", "soon"),
        ])
        .unwrap_err();
        let settings: Vec<&str> = err.0.iter().map(|e| e.setting).collect();
        assert_eq!(
            settings,
            ["BUCKET_NAME", "CDN_PRICE_CLASS", "CDN_TAGS", "CDN_WAIT_MINUTES"]
        );
        assert_eq!(err.to_string().lines().count(), 4);
        let missing = resolve(&[("CDN_PRICE_CLASS", "cheap")]).unwrap_err();
        assert_eq!(missing.first().setting, "BUCKET_NAME");
        assert_eq!(missing.0.len(), 2);
    }

    #[test]
    fn a_full_subdomain_is_never_doubled() {
        for sub in ["static", "static.example.com", "STATIC.Example.com."] {
            let s = resolve(&[
                ("BUCKET_NAME", "example-static"),
                ("HOSTED_ZONE_NAME", "example.com"),
                ("SUBDOMAIN", sub),
            ])
            .unwrap();
            assert_eq!(s.domain.unwrap().name, "static.example.com", "{sub}");
        }
        let s = resolve(&[
            ("BUCKET_NAME", "example-static"),
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", "cdn.assets.example.com"),
        ])
        .unwrap();
        assert_eq!(s.domain.unwrap().name, "cdn.assets.example.com");
        let apex = resolve(&[
            ("BUCKET_NAME", "example-static"),
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", "example.com"),
        ])
        .unwrap_err();
        assert!(
            apex.to_string()
                .starts_with("SUBDOMAIN: \"example.com\" is the zone itself"),
            "{apex}"
        );
    }
}
