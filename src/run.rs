//! Parse the command line, load settings, run the command, and turn the
//! outcome into an exit code. Errors print as one line: `cdnctl: …`.

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command, Format, SettingsArgs};
use crate::commands;
use crate::exit::{Exit, Failed};
use crate::output::Printer;
use crate::settings::{Environment, Settings};
use crate::sync::SyncOptions;

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
    let json = wants_json(&cli);
    if let Command::Adopt(_) = &cli.command {
        // Its settings come from the stack where not given: resolved once it is read.
        let code = match load_env_file(&cli)
            .and_then(|()| run_async(&cli, "adopt", |printer| commands::adopt::run(&cli, printer)))
        {
            Ok(exit) => exit,
            Err(failure) => fail(json, &failure),
        };
        return ExitCode::from(code as u8);
    }
    let code = match prepare(&cli).and_then(|(settings, sync)| execute(cli, settings, sync)) {
        Ok(exit) => exit,
        Err(failure) => fail(json, &failure),
    };
    ExitCode::from(code as u8)
}

/// `--json`, or `status --format json`: the result, and any error, on stdout.
fn wants_json(cli: &Cli) -> bool {
    cli.global.json || matches!(&cli.command, Command::Status(s) if s.format == Format::Json)
}

/// A failure: one `cdnctl: …` line per line on stderr and, when JSON is
/// wanted, `{"error": …, "kind": …, "exit_code": …}` on stdout, so that `| jq` sees it.
/// Its kind decides the exit code.
fn fail(json: bool, failure: &Failed) -> Exit {
    let exit = failure.exit();
    let message = crate::hint::complete(&failure.to_string());
    for line in message.lines() {
        eprintln!("cdnctl: {line}");
    }
    if json {
        let value = serde_json::json!({"error": message, "kind": failure.kind(), "exit_code": exit as u8});
        println!("{}", serde_json::to_string_pretty(&value).expect("serializable"));
    }
    exit
}

/// Load the env file and validate every setting: all before any AWS call.
/// Every bad setting is reported, one line each. `sync`'s options are
/// resolved here, once.
fn prepare(cli: &Cli) -> Result<(Settings, Option<SyncOptions>), Failed> {
    if let Command::Status(s) = &cli.command {
        if cli.global.json && matches!(s.format, Format::Env | Format::Github) {
            let format = if s.format == Format::Env { "env" } else { "github" };
            return Err(Failed::Settings(vec![format!(
                "--json: conflicts with --format {format}: use --format json (or --json) for JSON, or --format {format} alone"
            )]));
        }
    }
    load_env_file(cli)?;
    let settings = Settings::resolve(SettingsArgs::of(&cli.command), &Environment);
    let sync = match &cli.command {
        Command::Sync(args) => Some(SyncOptions::resolve(&args.request(), &Environment)),
        Command::Deploy(args) => Some(SyncOptions::resolve(&args.sync.request(), &Environment)),
        _ => None,
    };
    match (settings, sync.transpose()) {
        (Ok(settings), Ok(sync)) => Ok((settings, sync)),
        (settings, sync) => {
            let mut errors = settings.err().map(|e| e.0).unwrap_or_default();
            errors.extend(sync.err());
            Err(Failed::Settings(errors.iter().map(ToString::to_string).collect()))
        }
    }
}

/// The `.env` file (or `--env-file`) into the environment, its warnings on stderr.
fn load_env_file(cli: &Cli) -> Result<(), Failed> {
    let mut warnings =
        crate::settings::dotenv::load(cli.global.env_file.as_deref()).map_err(|e| Failed::Settings(vec![e]))?;
    warnings.extend(crate::settings::dotenv::environment_warnings());
    for w in warnings {
        eprintln!("cdnctl: warning: {w}");
    }
    Ok(())
}

/// Run a command that makes its own printer, raced against Ctrl-C.
fn run_async<F>(cli: &Cli, verb: &'static str, command: impl FnOnce(Printer) -> F) -> Result<Exit, Failed>
where
    F: std::future::Future<Output = Result<Exit, Failed>>,
{
    let printer = Printer::new(cli.global.quiet, wants_json(cli));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::Error(anyhow::anyhow!("cannot start: {e}")))?;
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = command(printer) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    runtime.shutdown_background();
    outcome.unwrap_or(Err(Failed::Interrupted(verb)))
}

fn execute(cli: Cli, settings: Settings, sync: Option<SyncOptions>) -> Result<Exit, Failed> {
    let printer = Printer::new(cli.global.quiet, wants_json(&cli));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failed::Error(anyhow::anyhow!("cannot start: {e}")))?;
    let outcome = runtime.block_on(async {
        tokio::select! {
            result = commands::run(&cli, &settings, sync.as_ref(), &printer) => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    // A prompt's blocking read may still wait for a line: do not wait for it.
    runtime.shutdown_background();
    outcome.unwrap_or_else(|| {
        Err(Failed::Interrupted(match cli.command {
            Command::Up(_) => "up",
            Command::Down(_) => "down",
            Command::Status(_) => "status",
            Command::Sync(_) => "sync",
            Command::Check(_) => "check",
            Command::Deploy(_) => "deploy",
            Command::Adopt(_) => "adopt",
            Command::Releases(_) => "releases",
            Command::Rollback(_) => "rollback",
            Command::Completions(_) | Command::Man(_) => unreachable!("answered before settings are read"),
        }))
    })
}

/// cdnctl's own lines at `-v` (what it reads and writes, request by request),
/// the SDK's too at `-vv`; by default only cdnctl's warnings, so that the
/// SDK's retries and region probes (IMDS) do not bury the one useful line.
/// Colour only on a terminal, and never with NO_COLOR.
fn init_tracing(verbose: u8, quiet: bool) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "off,cdnctl=error",
        (_, 0) => "off,cdnctl=warn",
        (_, 1) => "off,cdnctl=debug",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color);
    // -v is for people: no timestamps, levels or targets, just the lines.
    let _ = if verbose >= 2 {
        builder.try_init()
    } else {
        builder.without_time().with_level(false).with_target(false).try_init()
    };
}
