//! `cdnctl sync`'s settings, from its flags (which the command line hands
//! over as a `SyncRequest`) and the environment, validated in one place
//! before any request: a bad one is a one-line error naming it (exit code 2).

use std::path::PathBuf;

use super::rules::CacheRules;
use crate::settings::{Flags, Given, Setting, SettingError, Source};

/// What `sync` was asked to do, as plain values: its directory, its flags,
/// and its settings given as flags (`--cache-rules`, `--jobs`, …).
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub dir: PathBuf,
    pub prefix: Option<String>,
    pub settings: Flags,
    pub delete: bool,
    pub delete_unpublished: bool,
    pub delete_grace: String,
    pub dry_run: bool,
    pub wait: bool,
    pub follow_links: bool,
    pub include_hidden: bool,
}

/// The most `--delete` may remove in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDeletes {
    /// A share (0 to 1) of the objects under the prefix.
    Share(f64),
    Count(u64),
}

impl MaxDeletes {
    pub fn allows(self, deletes: usize, objects: usize) -> bool {
        match self {
            MaxDeletes::Share(share) => deletes as f64 <= share * objects as f64,
            MaxDeletes::Count(n) => deletes as u64 <= n,
        }
    }

    pub fn is_unlimited(self) -> bool {
        self == MaxDeletes::Share(1.0)
    }

    fn parse(text: &str) -> Option<MaxDeletes> {
        match text.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .map(|p| MaxDeletes::Share(p / 100.0)),
            None => text.parse().ok().map(MaxDeletes::Count),
        }
    }
}

impl std::fmt::Display for MaxDeletes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxDeletes::Share(s) => write!(f, "{}%", s * 100.0),
            MaxDeletes::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Validated sync settings.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    pub dir: PathBuf,
    /// Empty, or ending in `/`.
    pub prefix: String,
    pub rules: CacheRules,
    pub delete: bool,
    /// Also delete keys under the prefix that cdnctl did not publish.
    pub delete_unpublished: bool,
    pub max_deletes: MaxDeletes,
    /// Seconds, counted from the deploy that stopped naming a file.
    pub grace: i64,
    /// Deploys whose content-hashed files are kept (at least 2).
    pub keep_deploys: usize,
    pub dry_run: bool,
    pub wait: bool,
    pub follow_links: bool,
    /// Publish hidden files and directories too (`hidden.rs`).
    pub include_hidden: bool,
    pub jobs: usize,
}

impl SyncOptions {
    pub fn resolve(args: &SyncRequest, env: &dyn Source) -> Result<SyncOptions, SettingError> {
        // With the name of the flag or variable that gave it: an error blames
        // what the user actually wrote.
        let pick = |setting| args.settings.pick(setting, env);
        // The table's default, parsed like a value given.
        let or_default = |setting: Setting| {
            args.settings
                .pick_or_default(setting, env)
                .unwrap_or_else(|| unreachable!("{setting} has a default"))
        };
        if !args.dir.is_dir() {
            return Err(SettingError {
                setting: "DIR",
                problem: format!(
                    "{:?} is not a directory: give the directory to publish, e.g. Django's STATIC_ROOT",
                    args.dir
                ),
            });
        }
        let prefix = prefix(args.prefix.as_deref())?;
        let rules = cache_rules(pick(Setting::CacheRules))?;
        let jobs = jobs(or_default(Setting::SyncJobs))?;
        let grace = parse_age(&args.delete_grace).ok_or(SettingError {
            setting: "--delete-grace",
            problem: format!(
                "{:?} is not valid: expected an age such as 30m, 48h or 7d (or 0)",
                args.delete_grace
            ),
        })?;
        if args.delete_unpublished && !args.delete {
            return Err(SettingError {
                setting: "--delete-unpublished",
                problem:
                    "only with --delete: give both to delete, beside what is gone from DIR, what cdnctl did not publish"
                        .into(),
            });
        }
        let max_deletes = max_deletes(or_default(Setting::SyncMaxDeletes))?;
        let keep_deploys = keep_deploys(or_default(Setting::SyncKeepDeploys))?;
        // An empty build directory is a build that did not run: never publish
        // (or, with --delete, wipe) from it, unless told to delete everything.
        let everything = args.delete && max_deletes.is_unlimited();
        if !everything && !holds_a_file(&args.dir, 0) {
            return Err(SettingError {
                setting: "DIR",
                problem: format!(
                    "{:?} holds no files: nothing to publish (did the build or collectstatic run?); \
                     to delete everything under the prefix, use --delete --max-deletes 100%",
                    args.dir
                ),
            });
        }
        Ok(SyncOptions {
            dir: args.dir.clone(),
            prefix,
            rules,
            delete: args.delete,
            delete_unpublished: args.delete_unpublished,
            max_deletes,
            grace,
            keep_deploys,
            dry_run: args.dry_run,
            wait: args.wait,
            follow_links: args.follow_links,
            include_hidden: args.include_hidden,
            jobs,
        })
    }
}

/// Whether a regular file lies anywhere under `dir` (links followed, not too deep).
fn holds_a_file(dir: &std::path::Path, depth: usize) -> bool {
    if depth > 32 {
        return false;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true; // unreadable: the scan reports it
    };
    entries.flatten().any(|e| match std::fs::metadata(e.path()) {
        Ok(m) if m.is_file() => true,
        Ok(m) if m.is_dir() => holds_a_file(&e.path(), depth + 1),
        _ => false,
    })
}

/// `--prefix`: empty, or ending in `/`.
fn prefix(flag: Option<&str>) -> Result<String, SettingError> {
    Ok(match flag.map(str::trim).unwrap_or("") {
        "" | "/" => String::new(),
        p if p.starts_with('/') || p.contains("//") || p.split('/').any(|s| s == "." || s == "..") => {
            return Err(SettingError {
                setting: "--prefix",
                problem: format!("{p:?} is not valid: expected a key prefix such as static/ (no leading '/', no empty, . or .. segments)"),
            })
        }
        p if p.ends_with('/') => p.to_string(),
        p => format!("{p}/"),
    })
}

fn cache_rules(value: Option<Given>) -> Result<CacheRules, SettingError> {
    match value {
        Some(Given { value: text, from: name }) => CacheRules::parse(&text).map_err(|e| SettingError {
            setting: name,
            problem: format!("{e}: expected GLOB=CACHE-CONTROL rules separated by ';', such as *.html=no-cache;fonts/**=public, max-age=604800"),
        }),
        None => Ok(CacheRules::default()),
    }
}

fn jobs(Given { value: v, from: name }: Given) -> Result<usize, SettingError> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or(SettingError {
            setting: name,
            problem: format!("{v:?} is not valid: expected a number of requests in flight from 1 to 1024"),
        })
}

fn max_deletes(Given { value: v, from: name }: Given) -> Result<MaxDeletes, SettingError> {
    MaxDeletes::parse(&v).ok_or(SettingError {
        setting: name,
        problem: format!("{v:?} is not valid: expected a share of the files under the prefix such as 50% (100% for any), or a number of files"),
    })
}

fn keep_deploys(Given { value: v, from: name }: Given) -> Result<usize, SettingError> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (2..=super::state::MAX_DEPLOYS).contains(n))
        .ok_or(SettingError {
            setting: name,
            problem: format!(
                "{v:?} is not valid: expected a number of deploys from 2 (this one and the one before) to {}",
                super::state::MAX_DEPLOYS
            ),
        })
}

/// `90s`, `30m`, `48h`, `7d` or `0`, in seconds.
pub fn parse_age(text: &str) -> Option<i64> {
    let text = text.trim();
    if text == "0" {
        return Some(0);
    }
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n >= 0)?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Some(7 * 86400));
        assert_eq!(parse_age("30m"), Some(1800));
        assert_eq!(parse_age("0"), Some(0));
        assert_eq!(parse_age("7"), None);
        assert_eq!(parse_age("-1h"), None);
        assert_eq!(parse_age("h"), None);
    }

    #[test]
    fn delete_limits() {
        assert_eq!(MaxDeletes::parse("50%"), Some(MaxDeletes::Share(0.5)));
        assert_eq!(MaxDeletes::parse("200"), Some(MaxDeletes::Count(200)));
        assert_eq!(MaxDeletes::parse("150%"), None);
        assert_eq!(MaxDeletes::parse("-1"), None);
        assert!(MaxDeletes::Share(0.5).allows(5, 10));
        assert!(!MaxDeletes::Share(0.5).allows(6, 10));
        assert!(!MaxDeletes::Share(0.5).allows(1, 0));
        assert!(MaxDeletes::Share(1.0).allows(10, 10) && MaxDeletes::Share(1.0).is_unlimited());
        assert!(MaxDeletes::Count(2).allows(2, 1000) && !MaxDeletes::Count(2).allows(3, 1000));
    }

    /// A variable sync reads but the typo warning does not know would be
    /// ignored silently when misspelt.
    #[test]
    fn every_variable_sync_reads_is_a_known_setting() {
        struct Asked(std::cell::RefCell<Vec<String>>);
        impl Source for Asked {
            fn get(&self, name: &str) -> Option<String> {
                self.0.borrow_mut().push(name.to_string());
                None
            }
        }
        let dir = std::env::temp_dir().join(format!("cdnctl-known-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.css"), "a").unwrap();
        let args = SyncRequest {
            dir: dir.clone(),
            delete_grace: "7d".into(),
            ..Default::default()
        };
        let asked = Asked(Default::default());
        SyncOptions::resolve(&args, &asked).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        let asked = asked.0.into_inner();
        assert!(asked.len() >= 4, "{asked:?}");
        for name in &asked {
            assert!(
                crate::settings::dotenv::is_known(name),
                "{name} is read by sync but missing from the known settings"
            );
        }
    }
}
