//! cdnctl: a private S3-origin CloudFront CDN for a web app's static files.

mod access;
mod apply;
mod aws;
mod check;
mod ci;
mod cli;
mod commands;
mod events;
mod exit;
mod generate;
mod hint;
mod observe;
mod output;
mod plan;
mod release;
mod report;
mod resources;
mod run;
mod settings;
mod spec;
mod sync;
mod takeover;

fn main() -> std::process::ExitCode {
    run::main()
}
