//! Every setting, defined once: its variable, its flag, its help and its
//! default. This table is the only place a setting's name is written: the
//! command line builds its flags from it (with clap's `env`), `--help` and the
//! man page print it, a `.env` is read and checked against it, the advice in
//! `hint.rs` repeats its flags, and `Flags::pick` resolves a value through it.
//! Elsewhere a setting is named by its `Setting` (whose `Display` is the
//! variable), and text names one with a `{Variant}` placeholder (`expand`).

use std::collections::BTreeMap;
use std::fmt;

use super::Source;

/// CloudFront's price classes: `--help` lists them, `settings` checks them.
pub const PRICE_CLASSES: [&str; 3] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];

/// A setting. `DEFS[setting as usize]` is its definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    BucketName,
    BucketUsers,
    HostedZoneName,
    HostedZoneId,
    Subdomain,
    CertificateArn,
    WafArn,
    CorsOrigins,
    PriceClass,
    Tags,
    SecurityHeaders,
    Hsts,
    PollSeconds,
    WaitMinutes,
    Releases,
    SpaFallback,
    Previews,
    PreviewAuth,
    PreviewDays,
    NotFound,
    CacheRules,
    SyncJobs,
    SyncMaxDeletes,
    SyncKeepDeploys,
    AwsProfile,
    AwsRegion,
    AwsEndpointUrl,
}

/// Which commands take a setting, and so where its flag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The stack's: every command that acts on the stack takes it, and
    /// advice naming another command repeats its flag (`hint.rs`). `sync`
    /// accepts its flag but hides it unless `Def::sync` says how it uses it.
    Stack = 0,
    /// `sync`'s own (and so `deploy`'s).
    Sync = 1,
    /// The AWS SDK's: global flags, repeated in advice like the stack's. The
    /// SDK reads the variables itself, and a `.env` never sets them (it is
    /// often the web app's, with its own keys).
    Aws = 2,
}

/// One setting's definition.
#[derive(Debug)]
pub struct Def {
    pub setting: Setting,
    /// The variable, in the environment or a `.env`.
    pub env: &'static str,
    /// The flag that overrides it (`--name`); `None` for a variable alone.
    pub flag: Option<&'static str>,
    pub value_name: &'static str,
    /// The flag's line in `--help`.
    pub help: &'static str,
    /// The variable's entry in the settings table that `--help` and the man
    /// page end with; `\n` starts a line of its own, indented.
    pub about: &'static str,
    /// `sync`'s entry for a stack setting that `sync` uses; a stack setting
    /// without one is hidden from `sync`, which does not use it.
    pub sync: Option<&'static str>,
    /// The value when unset, parsed like any other.
    pub default: Option<&'static str>,
    /// The usual values, for `--help` and shell completion; any value still
    /// reaches the resolver, which says what is wrong with it.
    pub values: &'static [&'static str],
    pub group: Group,
}

use Group::{Aws, Stack, Sync};

const fn def(setting: Setting, env: &'static str, group: Group) -> Def {
    Def {
        setting,
        env,
        flag: None,
        value_name: "",
        help: "",
        about: "",
        sync: None,
        default: None,
        values: &[],
        group,
    }
}

/// Every setting, in the order `--help` shows them.
pub const DEFS: &[Def] = &[
    Def {
        flag: Some("--bucket-name"),
        value_name: "NAME",
        help: "S3 bucket to create as the private origin; also names the stack",
        about: "S3 bucket to create as the private origin (required)",
        sync: Some("the stack's bucket, as for `cdnctl up` (with the stack's other settings)"),
        ..def(Setting::BucketName, "BUCKET_NAME", Stack)
    },
    Def {
        flag: Some("--bucket-users"),
        value_name: "ARNS",
        help: "Comma-separated IAM principal ARNs given full access to the bucket",
        about: "comma-separated IAM principal ARNs given full access to the bucket",
        ..def(Setting::BucketUsers, "BUCKET_USERS", Stack)
    },
    Def {
        flag: Some("--hosted-zone-name"),
        value_name: "ZONE",
        help: "Route53 public zone of the custom domain, e.g. example.com",
        about: "Route53 zone of the custom domain, e.g. example.com",
        ..def(Setting::HostedZoneName, "HOSTED_ZONE_NAME", Stack)
    },
    Def {
        flag: Some("--hosted-zone-id"),
        value_name: "ID",
        help: "That zone's id (looked up by name when absent)",
        about: "that zone's id (optional: looked up from {HostedZoneName})",
        ..def(Setting::HostedZoneId, "HOSTED_ZONE_ID", Stack)
    },
    Def {
        flag: Some("--subdomain"),
        value_name: "LABEL",
        help: "The custom domain is {Subdomain}.ZONE (the full name works too)",
        about: "the custom domain is {Subdomain}.{HostedZoneName} (or give the full name)",
        ..def(Setting::Subdomain, "SUBDOMAIN", Stack)
    },
    Def {
        flag: Some("--certificate-arn"),
        value_name: "ARN",
        help: "ACM certificate in us-east-1 for the domain (else cdnctl requests one)",
        about: "ACM certificate in us-east-1 covering the custom domain",
        ..def(Setting::CertificateArn, "CERTIFICATE_ARN", Stack)
    },
    Def {
        flag: Some("--waf-arn"),
        value_name: "ARN",
        help: "WAFv2 web ACL (scope CLOUDFRONT) to attach, or none to detach any",
        about: "WAFv2 web ACL (scope CLOUDFRONT) to attach; none detaches any;\n\
                unset leaves whatever is attached (e.g. by Firewall Manager)",
        ..def(Setting::WafArn, "WAF_ARN", Stack)
    },
    Def {
        flag: Some("--cors-origins"),
        value_name: "ORIGINS",
        help: "Origins allowed cross-origin: * or https://a.example,https://b.example",
        about: "origins allowed to fetch files cross-origin (default *)",
        default: Some("*"),
        ..def(Setting::CorsOrigins, "CDN_CORS_ORIGINS", Stack)
    },
    Def {
        flag: Some("--price-class"),
        value_name: "CLASS",
        help: "CloudFront price class (100, 200 and All work too)",
        about: "PriceClass_100 (default), PriceClass_200 or PriceClass_All",
        default: Some(PRICE_CLASSES[0]),
        values: &PRICE_CLASSES,
        ..def(Setting::PriceClass, "CDN_PRICE_CLASS", Stack)
    },
    Def {
        flag: Some("--tags"),
        value_name: "TAGS",
        help: "key=value,... tags for every resource (quote values with spaces)",
        about: "key=value,... tags for every resource (at most 49), e.g.\n\
                {Tags}=\"team=web platform,env=prod\"",
        ..def(Setting::Tags, "CDN_TAGS", Stack)
    },
    Def {
        flag: Some("--security-headers"),
        value_name: "on|off",
        help: "nosniff, a referrer policy and HSTS",
        about: "on (default): nosniff, a referrer policy and HSTS; off: none",
        default: Some("on"),
        values: &["on", "off"],
        ..def(Setting::SecurityHeaders, "CDN_SECURITY_HEADERS", Stack)
    },
    Def {
        flag: Some("--hsts"),
        value_name: "DIRECTIVES",
        help: "Strict-Transport-Security directives, or off",
        about: "HSTS for the custom domain: max-age=31536000 (default), off, or\n\
                {Hsts}=\"max-age=63072000; includeSubDomains; preload\"",
        default: Some("max-age=31536000"),
        ..def(Setting::Hsts, "CDN_HSTS", Stack)
    },
    Def {
        about: "how often to poll AWS while waiting (default 15)",
        default: Some("15"),
        ..def(Setting::PollSeconds, "CDN_POLL_SECONDS", Stack)
    },
    Def {
        // DNS validation commonly takes 5–30 minutes after the record is
        // written, and a CloudFront deployment or an ACM "in use" window up
        // to ~20: long enough for all of them (Terraform waits 75 minutes
        // for certificate validation).
        about: "how long to wait at most for CloudFront, ACM and Route53 (default 75)",
        default: Some("75"),
        ..def(Setting::WaitMinutes, "CDN_WAIT_MINUTES", Stack)
    },
    Def {
        about: "releases to keep (0, the default: publish in place); with releases, a\n\
                viewer-request function serves the live one, with directory indexes",
        default: Some("0"),
        ..def(Setting::Releases, "CDN_RELEASES", Stack)
    },
    Def {
        about: "with releases: the page extensionless paths fall back to, e.g. /index.html",
        ..def(Setting::SpaFallback, "CDN_SPA_FALLBACK", Stack)
    },
    Def {
        about: "with releases and a custom domain: `on` serves previews (`deploy DIR --preview\n\
                NAME`) at NAME.DOMAIN: `up` adds *.DOMAIN to the distribution, the certificate\n\
                and Route53 (default off)",
        default: Some("off"),
        values: &["on", "off"],
        ..def(Setting::Previews, "CDN_PREVIEWS", Stack)
    },
    Def {
        about: "USER:PASSWORD that previews ask for (HTTP basic auth, checked in the function,\n\
                whose code anyone with CloudFront read access in the account can read)",
        ..def(Setting::PreviewAuth, "CDN_PREVIEW_AUTH", Stack)
    },
    Def {
        about: "days a preview is kept: older ones are removed after a successful deploy\n\
                (default 30)",
        default: Some("30"),
        ..def(Setting::PreviewDays, "CDN_PREVIEW_DAYS", Stack)
    },
    Def {
        about: "the site's page for a missing file, served with status 404, e.g. /404.html\n\
                (sync and deploy refuse a DIR without it)",
        ..def(Setting::NotFound, "CDN_NOT_FOUND", Stack)
    },
    Def {
        flag: Some("--cache-rules"),
        value_name: "RULES",
        help: "Cache-Control rules, GLOB=VALUE;...",
        about: "GLOB=CACHE-CONTROL rules separated by ';', first match wins, e.g.\n\
                *.html=no-cache;fonts/**=public, max-age=604800\n\
                A GLOB without '/' matches file names in any directory; * stays within\n\
                a directory, ** crosses them. Files no rule matches get\n\
                `public, max-age=31536000, immutable` when content-hashed (named in\n\
                staticfiles.json or .vite/manifest.json; where no manifest speaks, a\n\
                bundler's name.0123abcd.js, Vite's assets/name-AbCd1_2x.js, or the hashed\n\
                names of Next.js's _next/static/, Astro's _astro/, SvelteKit's\n\
                _app/immutable/) and\n\
                `public, max-age=60, must-revalidate` otherwise.",
        ..def(Setting::CacheRules, "CDN_CACHE_RULES", Sync)
    },
    Def {
        flag: Some("--jobs"),
        value_name: "N",
        help: "Requests in flight at once",
        about: "requests in flight at once (default 64)",
        default: Some("64"),
        ..def(Setting::SyncJobs, "CDN_SYNC_JOBS", Sync)
    },
    Def {
        flag: Some("--max-deletes"),
        value_name: "P%|N",
        help: "With --delete: refuse when more than this share of the files not content-hashed \
               under the prefix, or this many, would go (e.g. 50%, 200; 100% for any)",
        about: "with --delete: the most files not content-hashed one run may find gone\n\
                from DIR, a share of those under the prefix (default 50%) or a count;\n\
                100% allows any",
        default: Some("50%"),
        ..def(Setting::SyncMaxDeletes, "CDN_SYNC_MAX_DELETES", Sync)
    },
    Def {
        flag: Some("--keep-deploys"),
        value_name: "N",
        help: "With --delete: keep the content-hashed files named by this many last deploys, however old",
        about: "with --delete: content-hashed files named by this many last deploys\n\
                stay, however old (default 3, at least 2)",
        default: Some("3"),
        ..def(Setting::SyncKeepDeploys, "CDN_SYNC_KEEP_DEPLOYS", Sync)
    },
    Def {
        flag: Some("--profile"),
        value_name: "NAME",
        help: "AWS profile to use",
        ..def(Setting::AwsProfile, "AWS_PROFILE", Aws)
    },
    Def {
        flag: Some("--region"),
        value_name: "REGION",
        help: "AWS region of the bucket",
        ..def(Setting::AwsRegion, "AWS_REGION", Aws)
    },
    Def {
        flag: Some("--endpoint-url"),
        value_name: "URL",
        help: "Send every AWS request to this endpoint, e.g. a local emulator",
        ..def(Setting::AwsEndpointUrl, "AWS_ENDPOINT_URL", Aws)
    },
];

impl Setting {
    pub const fn def(self) -> &'static Def {
        &DEFS[self as usize]
    }

    /// The variable's name, as errors and warnings show it; `const`, so
    /// that a list of settings' names can be a constant too.
    pub const fn name(self) -> &'static str {
        self.def().env
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Def {
    /// The flag without its dashes, as clap's `long` and the argument's id.
    pub fn long(&self) -> Option<&'static str> {
        self.flag.map(|f| &f[2..])
    }
}

/// The definitions of one group, in order.
pub fn group(group: Group) -> impl Iterator<Item = &'static Def> {
    DEFS.iter().filter(move |d| d.group == group)
}

/// The settings a `.env` may hold (the AWS SDK's are not among them).
pub fn known() -> impl Iterator<Item = &'static str> {
    DEFS.iter().filter(|d| d.group != Aws).map(|d| d.env)
}

/// `text` with each `{Variant}` placeholder replaced by that setting's
/// variable, e.g. `{Subdomain}` by the subdomain's.
pub fn expand(text: &str) -> String {
    let mut out = text.to_string();
    for d in DEFS {
        let placeholder = format!("{{{:?}}}", d.setting);
        if out.contains(&placeholder) {
            out = out.replace(&placeholder, d.env);
        }
    }
    out
}

/// Settings given as flags on the command line: they win over the
/// environment and the `.env` file. Plain values: the command line fills it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(BTreeMap<Setting, String>);

/// A setting's value, trimmed, and what gave it: its flag or its variable, so
/// that an error can blame what the user actually wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    pub value: String,
    pub from: &'static str,
}

impl Flags {
    pub fn set(&mut self, setting: Setting, value: impl Into<String>) {
        self.0.insert(setting, value.into());
    }

    pub fn get(&self, setting: Setting) -> Option<&str> {
        self.0.get(&setting).map(String::as_str)
    }

    /// `other`'s flags too.
    pub fn extend(&mut self, other: &Flags) {
        self.0.extend(other.0.iter().map(|(k, v)| (*k, v.clone())));
    }

    /// The one resolver: the setting's flag, else its variable in `env`; an
    /// empty value (`NAME=`) counts as unset.
    pub fn pick(&self, setting: Setting, env: &dyn Source) -> Option<Given> {
        let def = setting.def();
        match (self.get(setting), def.flag) {
            (Some(value), Some(flag)) => Some(Given {
                value: value.trim().to_string(),
                from: flag,
            }),
            _ => env.get(def.env).map(|value| Given {
                value: value.trim().to_string(),
                from: def.env,
            }),
        }
        .filter(|g| !g.value.is_empty())
    }

    /// `pick`, else the setting's default.
    pub fn pick_or_default(&self, setting: Setting, env: &dyn Source) -> Option<Given> {
        self.pick(setting, env).or_else(|| {
            setting.def().default.map(|value| Given {
                value: value.to_string(),
                from: setting.name(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_definition_sits_at_its_settings_index() {
        for (i, d) in DEFS.iter().enumerate() {
            assert_eq!(d.setting as usize, i, "{:?} is out of place", d.setting);
        }
    }

    #[test]
    fn names_and_flags_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for d in DEFS {
            assert!(seen.insert(d.env), "{} twice", d.env);
            assert!(d.env.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{}", d.env);
            if d.group != Aws {
                assert!(
                    d.about.trim() == d.about && !d.about.is_empty(),
                    "{} has no entry",
                    d.env
                );
            }
            if let Some(flag) = d.flag {
                assert!(seen.insert(flag), "{flag} twice");
                assert!(
                    flag.starts_with("--") && !d.help.is_empty() && !d.value_name.is_empty(),
                    "{flag}"
                );
            }
            for text in [d.help, d.about, d.sync.unwrap_or("")] {
                assert!(
                    !expand(text).contains('{'),
                    "{}: unknown placeholder in {text:?}",
                    d.env
                );
            }
        }
    }

    #[test]
    fn a_flag_wins_and_names_itself_and_an_empty_value_is_unset() {
        let env: BTreeMap<String, String> = [
            ("CDN_SYNC_JOBS".to_string(), " 8 ".to_string()),
            ("CDN_TAGS".to_string(), " ".to_string()),
        ]
        .into();
        let mut flags = Flags::default();
        assert_eq!(
            flags.pick(Setting::SyncJobs, &env),
            Some(Given {
                value: "8".into(),
                from: "CDN_SYNC_JOBS"
            })
        );
        flags.set(Setting::SyncJobs, "4");
        assert_eq!(
            flags.pick(Setting::SyncJobs, &env),
            Some(Given {
                value: "4".into(),
                from: "--jobs"
            })
        );
        assert_eq!(flags.pick(Setting::Tags, &env), None);
        assert_eq!(flags.pick_or_default(Setting::CorsOrigins, &env).unwrap().value, "*");
    }
}
