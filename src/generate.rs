//! Shell completions, the man page and the settings' definitions as JSON,
//! generated from the same definitions as the command line itself, so they
//! never fall behind it. None needs settings or AWS: run.rs answers them first.

use std::io::Write as _;
use std::process::ExitCode;

use clap::CommandFactory as _;

use crate::cli::{Cli, Command};
use crate::settings::defs::{Group, DEFS};

/// Every setting: its variable, its flag, its group, its default and whether
/// `sync` uses it. The docs tests iterate over this, not over a copy.
fn settings_json() -> String {
    let defs: Vec<serde_json::Value> = DEFS
        .iter()
        .map(|d| {
            serde_json::json!({
                "env": d.env,
                "flag": d.flag,
                "group": match d.group {
                    Group::Stack => "stack",
                    Group::Sync => "sync",
                    Group::Aws => "aws",
                },
                "default": d.default,
                "sync": d.group == Group::Sync || d.sync.is_some(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&defs).expect("serializable") + "\n"
}

/// `help [env: NAME]`, as `--help` shows a flag that a variable also sets:
/// clap_mangen leaves the variable out.
fn env_note(arg: clap::Arg) -> clap::Arg {
    match (arg.get_env(), arg.get_help()) {
        (Some(env), Some(help)) => {
            let help = format!("{help} [env: {}]", env.to_string_lossy());
            arg.help(help)
        }
        _ => arg,
    }
}

fn with_env_notes(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    names.iter().fold(cmd.mut_args(env_note), |cmd, name| {
        cmd.mut_subcommand(name, with_env_notes)
    })
}

/// Answer `completions` and `man`; `None` for every other command.
pub fn answer(command: &Command) -> Option<ExitCode> {
    let result = match command {
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "cdnctl", &mut out);
            write_stdout(&out)
        }
        Command::Man(args) if args.settings_json => write_stdout(settings_json().as_bytes()),
        Command::Man(_) => man_page().and_then(|page| write_stdout(&page)),
        _ => return None,
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`cdnctl man | head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cdnctl: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    })
}

fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// cdnctl(1): one page for the whole tool, each subcommand with its synopsis
/// and options under COMMANDS (clap_mangen alone would point to cdnctl-up(1)
/// and friends, pages nobody installs).
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut cli = with_env_notes(Cli::command());
    cli.build();
    let man = clap_mangen::Man::new(cli.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;

    writeln!(out, ".SH COMMANDS")?;
    for sub in cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = format!("cdnctl {}", sub.get_name());
        writeln!(out, ".SS \"{name}\"")?;
        // The global flags are described once, under OPTIONS.
        let sub = sub
            .clone()
            .bin_name(&name)
            .mut_args(|a| if a.is_global_set() { a.hide(true) } else { a })
            .disable_help_flag(true);
        let mut section = Vec::new();
        let sub_man = clap_mangen::Man::new(sub.clone());
        sub_man.render_description_section(&mut section)?;
        sub_man.render_synopsis_section(&mut section)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            sub_man.render_options_section(&mut section)?;
        }
        // Settings are described once, under ENVIRONMENT; status adds its exit codes.
        let own_after_help = sub.get_after_help().map(|h| h.to_string());
        if own_after_help.is_some() && own_after_help != cli.get_after_help().map(|h| h.to_string()) {
            sub_man.render_extra_section(&mut section)?;
        }
        out.extend(subsections(&preformatted(&String::from_utf8_lossy(&section))).into_bytes());
    }

    // The top-level after_help: the settings and the AWS environment.
    let mut extra = Vec::new();
    man.render_extra_section(&mut extra)?;
    out.extend(
        preformatted(&String::from_utf8_lossy(&extra))
            .replacen(".SH EXTRA", ".SH ENVIRONMENT", 1)
            .into_bytes(),
    );
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (code, meaning) in EXIT_STATUS {
        writeln!(out, ".TP\n\\fB{code}\\fR\n{}", roff_text(meaning))?;
    }
    writeln!(out, ".SH \"SEE ALSO\"")?;
    writeln!(
        out,
        "\\fBcdnctl status \\-\\-help\\fR and \\fBcdnctl sync \\-\\-help\\fR. \\fBcdnctl status \\-\\-format json\\fR \
         prints one object per resource (type, name, present, owned, health, detail, differences). \
         The project's README, with the IAM policies cdnctl needs: {}",
        roff_text(env!("CARGO_PKG_REPOSITORY"))
    )?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Exit codes, as README.md's table says them.
pub const EXIT_STATUS: &[(u8, &str)] = &[
    (
        0,
        "Success; for status: everything present, deployed and matching the settings.",
    ),
    (
        1,
        "Error: AWS refused, was unreachable, or a check before any write failed.",
    ),
    (2, "Usage: bad flags or settings; nothing was sent to AWS."),
    (
        3,
        "status: drift (something missing or differing); up, down, sync, deploy and adopt with --dry-run: changes pending.",
    ),
    (
        4,
        "status: not ready (the distribution deploying, the certificate pending).",
    ),
    (5, "status: absent (nothing of the stack exists)."),
    (
        6,
        "check, and deploy at its check: a probe of the site failed (one line each, with the likely cause and the fix).",
    ),
    (130, "Interrupted (Ctrl-C): run the same command again to continue."),
];

/// Plain text made safe for roff: hyphens and backslashes escaped, no line
/// starting with a control character.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('-', "\\-");
    match escaped.chars().next() {
        Some('.') | Some('\'') => format!("\\&{escaped}"),
        _ => escaped,
    }
}

/// The after_help text is laid out in columns: keep its lines as written.
fn preformatted(roff: &str) -> String {
    match roff.split_once(".SH EXTRA\n") {
        Some((before, text)) => format!("{before}.SH EXTRA\n.nf\n{}\n.fi\n", text.trim_end()),
        None => roff.to_string(),
    }
}

/// A subcommand's own sections become labelled paragraphs inside its `.SS`.
fn subsections(roff: &str) -> String {
    let mut out = String::new();
    for line in roff.lines() {
        match line.strip_prefix(".SH ") {
            Some("DESCRIPTION") | Some("EXTRA") => out.push_str(".PP\n"),
            Some(heading) => {
                let heading = heading.trim_matches('"');
                let mut label = heading.to_lowercase();
                label[..1].make_ascii_uppercase();
                out.push_str(&format!(".PP\n\\fB{label}:\\fR\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_names_every_command_and_setting_flag() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        for needle in [
            ".TH cdnctl 1",
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH COMMANDS",
            ".SS \"cdnctl up\"",
            ".SS \"cdnctl down\"",
            ".SS \"cdnctl status\"",
            ".SS \"cdnctl completions\"",
            ".SH ENVIRONMENT",
            "BUCKET_NAME",
            "\\-\\-bucket\\-name",
            "\\-\\-max\\-deletes",
        ] {
            assert!(page.contains(needle), "the man page lacks {needle:?}");
        }
        assert!(!page.contains("cdnctl-up(1)"), "points to pages that do not exist");
        assert!(
            page.contains(".SH \"EXIT STATUS\"\n.TP\n\\fB0\\fR\n"),
            "no exit status section"
        );
        assert!(
            !page.contains("source distribution"),
            "points to a README pip users lack"
        );
    }
}
