//! Parse the command line, load settings, run the command, and turn the
//! outcome into an exit code. Errors print as one line: `cdnctl: …`.

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command, SettingsArgs};
use crate::commands;
use crate::output::Printer;
use crate::settings::{Environment, Settings};

/// Exit codes; `status` uses 3, 4 and 5 to tell CI what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Usage = 2,
    /// Something is missing or differs from the settings (`up --dry-run`: would change).
    Drift = 3,
    /// Deploying, or a certificate awaiting validation.
    NotReady = 4,
    /// Nothing of the stack exists.
    Absent = 5,
    /// `check`: a probe of the site failed.
    CheckFailed = 6,
    Interrupted = 130,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    if let Some(code) = crate::generate::answer(&cli.command) {
        return code;
    }
    init_tracing(cli.global.verbose, cli.global.quiet);
    let code = match prepare(&cli) {
        Ok(settings) => execute(cli, settings),
        Err(message) => {
            eprintln!("cdnctl: {message}");
            Exit::Usage
        }
    };
    ExitCode::from(code as u8)
}

/// Load the env file and validate every setting: all before any AWS call.
fn prepare(cli: &Cli) -> Result<Settings, String> {
    match &cli.global.env_file {
        Some(path) => {
            dotenvy::from_path(path).map_err(|e| format!("--env-file: cannot load {}: {e}", path.display()))?;
        }
        None => match dotenvy::from_path(".env") {
            Ok(()) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(format!(".env: cannot load ./.env: {e}")),
        },
    }
    let settings = Settings::resolve(SettingsArgs::of(&cli.command), &Environment).map_err(|e| e.to_string())?;
    if let Command::Sync(args) = &cli.command {
        crate::sync::SyncOptions::resolve(args, &Environment).map_err(|e| e.to_string())?;
    }
    Ok(settings)
}

fn execute(cli: Cli, settings: Settings) -> Exit {
    let json = cli.global.json || matches!(&cli.command, Command::Status(s) if s.format == crate::cli::Format::Json);
    let printer = Printer::new(cli.global.quiet, json);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cdnctl: cannot start: {e}");
            return Exit::Failure;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = commands::run(&cli, &settings, &printer) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    // A prompt's blocking read may still wait for a line: do not wait for it.
    runtime.shutdown_background();
    match outcome {
        Some(Ok(exit)) => exit,
        Some(Err(e)) => {
            for line in format!("{e:#}").lines() {
                eprintln!("cdnctl: {line}");
            }
            Exit::Failure
        }
        None => {
            let verb = match cli.command {
                Command::Up(_) => "up",
                Command::Down(_) => "down",
                Command::Status(_) => "status",
                Command::Sync(_) => "sync",
                Command::Check(_) => "check",
                Command::Completions(_) | Command::Man => unreachable!("answered before settings are read"),
            };
            eprintln!(
                "cdnctl: interrupted: nothing is lost; run `cdnctl {verb}` again to continue where this run stopped"
            );
            Exit::Interrupted
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "cdnctl=debug,warn",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none())
        .try_init();
}
