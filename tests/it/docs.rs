//! The README, `--help` and the man page stay in step with the CLI: every
//! command the README shows parses, every setting is documented in each, the
//! man page's exit codes are the README's, and values with spaces are quoted.

use crate::harness::{root, Stack};

/// A setting as the binary defines it (`cdnctl man --settings-json`): the tests
/// iterate over its own table, never over a copy of it.
pub struct Setting {
    pub env: String,
    pub flag: Option<String>,
    /// stack, sync or aws.
    pub group: String,
}

pub fn settings(stack: &Stack) -> Vec<Setting> {
    let out = stack.run(&["man", "--settings-json"]).ok().stdout;
    let defs: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let settings: Vec<Setting> = defs
        .iter()
        .map(|d| Setting {
            env: d["env"].as_str().unwrap().to_string(),
            flag: d["flag"].as_str().map(String::from),
            group: d["group"].as_str().unwrap().to_string(),
        })
        .collect();
    assert!(settings.len() >= 18, "{out}");
    settings
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The lines of the README's ```sh blocks.
fn shell_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside && line.trim_start_matches('`').trim() == "sh";
            continue;
        }
        if inside {
            out.push(line.to_string());
        }
    }
    out
}

/// A shell line's words up to a redirection, pipe or comment, unquoted.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quote) = (String::new(), None::<char>);
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => quote = Some(c),
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let end = words
        .iter()
        .position(|w| ["#", ">", ">>", "|", "&&", ";", "||"].contains(&w.as_str()))
        .unwrap_or(words.len());
    words.truncate(end);
    words
}

#[test]
fn every_command_the_readme_shows_parses() {
    let stack = Stack::new("docs");
    let mut checked = 0;
    for line in shell_lines(&readme()) {
        let w = words(&line);
        if w.first().map(String::as_str) != Some("cdnctl") {
            continue;
        }
        let mut args: Vec<&str> = w[1..].iter().map(String::as_str).collect();
        args.push("--help");
        let run = stack.run(&args);
        assert_eq!(run.code, 0, "README: `{line}` does not parse: {}", run.stderr);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} commands found in the README");
    assert!(stack.requests().is_empty());
}

#[test]
fn every_setting_is_in_the_readme_help_and_man_page() {
    let stack = Stack::new("docs-settings");
    let readme = readme();
    let help = stack.run(&["up", "--help"]).ok().stdout;
    // Help wraps lines: compare with single spaces.
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let man = stack.run(&["man"]).ok().stdout;
    let settings = settings(&stack);
    let stack_settings = || settings.iter().filter(|s| s.group == "stack");
    for name in stack_settings().map(|s| &s.env) {
        let table = &readme[readme.find("### Settings").unwrap()..readme.find("### What it creates").unwrap()];
        assert!(
            table.contains(&format!("`{name}`")),
            "README's settings section lacks {name}"
        );
        assert!(help.contains(name), "up --help lacks {name}");
        assert!(man.contains(name), "the man page lacks {name}");
    }
    // Each setting flag has a description naming its variable.
    for name in stack_settings().filter(|s| s.flag.is_some()).map(|s| &s.env) {
        assert!(
            help.contains(&format!("[env: {name}]")),
            "up --help: no description for {name}'s flag"
        );
    }
    // sync's own settings: in the README (by flag or variable), sync --help
    // and the man page, each flag naming its variable.
    let sync_help = stack.run(&["sync", "--help"]).ok().stdout;
    let sync_help = sync_help.split_whitespace().collect::<Vec<_>>().join(" ");
    for s in settings.iter().filter(|s| s.group == "sync") {
        let name = &s.env;
        let flag = s.flag.as_deref().unwrap_or(name);
        assert!(
            readme.contains(&format!("`{name}`")) || readme.contains(&format!("`{flag}")),
            "README lacks {name}"
        );
        assert!(sync_help.contains(name), "sync --help lacks {name}");
        assert!(man.contains(name), "the man page lacks {name}");
        if let Some(flag) = &s.flag {
            assert!(
                sync_help.contains(flag) && sync_help.contains(&format!("[env: {name}]")),
                "sync --help: no description for {name}'s flag {flag}"
            );
        }
    }
    // sync --help lists only the settings that apply to it.
    let sync = stack.run(&["sync", "--help"]).ok().stdout;
    assert!(sync.contains("--bucket-name"), "{sync}");
    for flag in ["--price-class", "--tags", "--hsts", "--waf-arn", "--subdomain"] {
        assert!(
            !sync.contains(flag),
            "sync --help lists {flag}, which does not apply to it"
        );
    }
}

/// The settings' flags are built from the binary's table, with clap's own
/// `[env: …]` notes: sync's sit together under Settings in the table's
/// order, and a long `--help` (status's) puts each note on a line of its own.
#[test]
fn setting_flags_show_their_variable_as_clap_lays_it_out() {
    let stack = Stack::new("docs-layout");
    let help = stack.run(&["sync", "--help"]).ok().stdout;
    let section = help
        .split("\nSettings:\n")
        .nth(1)
        .and_then(|s| s.split("\n\n").next())
        .expect("a Settings section");
    assert_eq!(
        section.split_whitespace().collect::<Vec<_>>().join(" "),
        "--bucket-name <NAME> S3 bucket to create as the private origin; also names the stack \
         [env: BUCKET_NAME] \
         --cache-rules <RULES> Cache-Control rules, GLOB=VALUE;... [env: CDN_CACHE_RULES] \
         --jobs <N> Requests in flight at once [env: CDN_SYNC_JOBS] [default: 64] \
         --max-deletes <P%|N> With --delete: refuse when more than this share of the files not \
         content-hashed under the prefix, or this many, would go (e.g. 50%, 200; 100% for any) \
         [env: CDN_SYNC_MAX_DELETES] [default: 50%] \
         --keep-deploys <N> With --delete: keep the content-hashed files named by this many last \
         deploys, however old [env: CDN_SYNC_KEEP_DEPLOYS] [default: 3]"
    );
    let status = stack.run(&["status", "--help"]).ok().stdout;
    assert!(
        status.contains("also names the stack\n          \n          [env: BUCKET_NAME]\n"),
        "{status}"
    );
}

#[test]
fn the_man_page_has_the_readmes_exit_codes() {
    let stack = Stack::new("docs-exit");
    let man = stack.run(&["man"]).ok().stdout;
    let readme = readme();
    let table = &readme[readme.find("### Exit codes").unwrap()..];
    let table = &table[..table[4..].find("\n#").unwrap()];
    let codes: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(' ').next())
        .filter(|c| c.parse::<u8>().is_ok())
        .collect();
    assert!(codes.len() >= 7, "{codes:?}");
    let section = &man[man.find(".SH \"EXIT STATUS\"").expect("no EXIT STATUS section")..];
    let section = &section[..section[4..].find(".SH").unwrap()];
    for code in &codes {
        assert!(
            section.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "the man page lacks exit code {code}"
        );
    }
    assert!(
        !man.contains("source distribution"),
        "the man page points to a README pip users lack"
    );
}

#[test]
fn values_with_spaces_are_quoted_in_the_readme_and_help() {
    let stack = Stack::new("docs-quotes");
    let readme = readme();
    let names: Vec<String> = settings(&stack)
        .into_iter()
        .filter(|s| s.group != "aws")
        .map(|s| s.env)
        .collect();
    let hsts = "CDN_HSTS=\"max-age=63072000; includeSubDomains; preload\"";
    assert!(readme.contains(hsts), "README");
    assert!(stack.run(&["up", "--help"]).ok().stdout.contains(hsts), "up --help");
    // Anywhere the README writes NAME=value in code, a value with spaces is quoted.
    // Inline code spans outside fenced blocks, and every line of those blocks.
    let (mut prose, mut code, mut fenced) = (String::new(), Vec::new(), false);
    for line in readme.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            code.push(line.to_string());
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    code.extend(prose.split('`').skip(1).step_by(2).map(String::from));
    for span in &code {
        for name in &names {
            let Some(at) = span.find(&format!("{name}=")) else {
                continue;
            };
            let value = &span[at + name.len() + 1..];
            let value = value.split(" #").next().unwrap_or(value).trim_end();
            if !value.starts_with('"') && !value.starts_with('\'') {
                assert!(!value.contains(' '), "README: unquoted value with spaces: {span}");
            }
        }
    }
}

#[test]
fn enumerated_values_complete_in_the_shells() {
    let stack = Stack::new("docs-complete");
    for shell in ["bash", "zsh", "fish"] {
        let script = stack.run(&["completions", shell]).ok().stdout;
        for value in ["PriceClass_100", "PriceClass_All", "github"] {
            assert!(script.contains(value), "{shell} completion lacks {value}");
        }
    }
}

#[test]
fn the_license_cargo_toml_names_is_shipped() {
    assert_eq!(env!("CARGO_PKG_LICENSE"), "MIT");
    let license = std::fs::read_to_string(root().join("LICENSE")).expect("a LICENSE file");
    assert!(license.starts_with("MIT License\n"), "{license}");
    assert!(license.contains("Permission is hereby granted, free of charge"));
    // In the crate `cargo install` and crates.io get.
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["package", "--list", "--allow-dirty", "--offline", "--locked"])
        .current_dir(root())
        .output()
        .unwrap();
    let files = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(files.lines().any(|l| l == "LICENSE"), "{files}");
}
