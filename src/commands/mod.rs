//! The commands, each a thin use of observe → plan (→ apply) or of the
//! publishing pipeline. Each returns its result as a typed report (a
//! `Serialize` value that says its exit code); `run` has the printer render
//! it once, as text, JSON and step summary.

pub mod adopt;
mod check;
mod deploy;
mod down;
mod releases;
mod rollback;
pub mod status;
mod sync;
mod up;

use crate::aws::Clients;
use crate::aws::Waiting;
use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failed};
use crate::output::Printer;
use crate::plan::Refusal;
use crate::settings::Setting::BucketUsers;
use crate::settings::Settings;
use crate::spec::Spec;
use crate::sync::SyncOptions;

/// The command's outcome: an exit code, or a failure of a kind that
/// `run.rs` maps to its code and closing line.
pub async fn run(
    cli: &Cli,
    settings: &Settings,
    sync: Option<&SyncOptions>,
    printer: &Printer,
) -> Result<Exit, Failed> {
    let clients = Clients::connect(&cli.global.aws()).await?;
    let spec = Spec::new(settings, &clients.region);
    for user in settings.bucket_users.iter().filter(|u| u.contains(":assumed-role/")) {
        printer.warn(&format!(
            "{BucketUsers}: {user} is a session ARN and stops matching when the session ends: prefer the role's ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        ));
    }
    Ok(match &cli.command {
        Command::Up(args) => {
            let report = up::run(&clients, &spec, &waiting(settings), args, printer).await?;
            printer.report(&report);
            report.exit()
        }
        Command::Down(args) => {
            let report = down::run(&clients, &spec, &waiting(settings), args, printer).await?;
            printer.report(&report);
            report.exit()
        }
        Command::Status(args) => {
            let report = status::run(&clients, &spec, &waiting(settings), args).await?;
            printer.report(&report);
            report.exit
        }
        Command::Sync(_) => {
            let opts = sync.expect("run.rs resolves sync's options with the settings");
            sync::run(&clients, &spec, &waiting(settings), opts, printer).await?
        }
        Command::Check(args) => {
            let report = check::run(&clients, &spec, &waiting(settings), args, printer).await?;
            printer.report(&report);
            report.exit
        }
        Command::Deploy(args) => {
            let opts = sync.expect("run.rs resolves deploy's sync options with the settings");
            let report = deploy::run(&clients, &spec, &waiting(settings), args, opts, printer).await?;
            printer.report(&report);
            report.exit
        }
        Command::Releases(args) => {
            printer.report(&releases::run(&clients, &spec, args).await?);
            Exit::Success
        }
        Command::Rollback(args) => {
            let report = rollback::run(&clients, &spec, &waiting(settings), args, printer).await?;
            printer.report(&report);
            Exit::Success
        }
        Command::Completions(_) | Command::Man(_) => unreachable!("answered before settings are read"),
        Command::Adopt(_) => unreachable!("run.rs runs adopt itself: it reads its settings from the stack"),
    })
}

/// Refusals found before any write, one line each.
fn refused(refusals: Vec<Refusal>) -> anyhow::Error {
    Failed::Refused(refusals.into_iter().map(|r| r.0).collect()).into()
}

/// How often and how long to wait for AWS (`Setting::PollSeconds` and
/// `Setting::WaitMinutes`); the defaults suit AWS, where a deployment takes minutes.
pub(crate) fn waiting(settings: &Settings) -> Waiting {
    Waiting {
        every: settings.poll,
        timeout: settings.wait,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
