//! The command line: subcommands, global flags and the settings flags that
//! override the environment. The settings' flags and help are built from
//! the table in `settings::defs`; what was given is handed to the inner
//! layers as plain values (`Flags`, `SyncRequest`, `aws::Target`), so that
//! none of them depends on clap or on this module.

use std::path::PathBuf;

use clap::{Arg, Args, Parser, Subcommand, ValueEnum};

use crate::aws::Target;
use crate::settings::defs::{self, expand, Def, Group};
use crate::settings::Setting;
use crate::sync::options::SyncRequest;

mod flags;

pub use flags::{SettingFlags, SettingsArgs, SyncSettingsArgs};

/// The settings table (`settings::defs`), as `--help` and the man page end.
fn settings_help() -> String {
    format!(
        "Settings (environment or .env; a flag of the same name wins):\n{}\n\
         In .env, quote a value with spaces or ';' as shown. A misspelt name is warned about.\n{}",
        table(defs::group(Group::Stack).map(|d| (d, d.about))),
        expand(
            "AWS: {AwsProfile}, {AwsRegion}, {AwsEndpointUrl}, AWS_CA_BUNDLE and the usual credential chain\n\
             (--profile wins over access keys in the environment, as for the AWS CLI)."
        )
    )
}

/// Settings and what each means, one under the other, continued lines
/// indented to the meaning's column.
fn table<'a>(rows: impl Iterator<Item = (&'a Def, &'a str)>) -> String {
    let mut out = Vec::new();
    for (def, about) in rows {
        let about = expand(about);
        let mut lines = about.lines();
        out.push(format!("  {:<17}  {}", def.env, lines.next().unwrap_or("")));
        out.extend(lines.map(|l| format!("{:21}{l}", "")));
    }
    out.join("\n")
}

#[derive(Debug, Parser)]
#[command(
    name = "cdnctl",
    version,
    about = "A private S3-origin CloudFront CDN for your web app's static files, without CloudFormation",
    after_help = settings_help()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Read settings from this file instead of ./.env
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    // --profile, --region, --endpoint-url
    #[command(flatten)]
    pub aws: SettingFlags<{ Group::Aws as u8 }>,
    /// Print the result as JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// -v: each AWS request cdnctl sends (read or write, resource, answer); -vv: the SDK's detail too; RUST_LOG works too
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the bucket, origin access control, distribution and DNS records
    #[command(after_help = settings_help())]
    Up(UpArgs),
    /// Remove what `up` created; a bucket that holds files is kept unless --purge
    #[command(after_help = settings_help())]
    Down(DownArgs),
    /// Report whether everything exists, is deployed and matches the settings
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Publish a directory of static files to the bucket: only what changed, then invalidate
    #[command(after_help = sync_help())]
    // sync finds the stack by its bucket: the other settings do not apply.
    #[command(mut_args(hide_unused_by_sync))]
    Sync(SyncArgs),
    /// Probe the site through the CDN as a browser would (DNS, TLS, redirect, objects, CORS); never writes
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// For CI: `up`, then `sync DIR`, then `check`, stopping at the first that fails
    #[command(after_help = deploy_help())]
    Deploy(DeployArgs),
    /// Take over the CDN that the CDK stack made, with no downtime: detach the stack (every resource kept),
    /// move the distribution from its origin access identity to an origin access control, then `up`
    #[command(after_help = ADOPT_HELP)]
    Adopt(AdoptArgs),
    /// With CDN_RELEASES: list the kept releases (id, when, source, files, bytes, which is live)
    #[command(after_help = RELEASES_HELP)]
    Releases(ReleasesArgs),
    /// With CDN_RELEASES: switch back to the release before the live one (or RELEASE) in one write
    #[command(after_help = RELEASES_HELP)]
    Rollback(RollbackArgs),
    /// Print a shell completion script, e.g. `cdnctl completions bash > ~/.local/share/bash-completion/completions/cdnctl`
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `cdnctl man > ~/.local/share/man/man1/cdnctl.1`
    Man(ManArgs),
}

// Not a hidden subcommand: each subcommand moves the global flags' place
// among every subcommand's own in --help.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Print every setting's definition as JSON instead, for the tests that check the docs
    #[arg(long, hide = true)]
    pub settings_json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The stack settings' flags that `sync` accepts (they are settings) but
/// does not use, hidden from its `--help`.
fn hide_unused_by_sync(arg: Arg) -> Arg {
    let unused = arg
        .get_long()
        .is_some_and(|long| defs::group(Group::Stack).any(|d| d.long() == Some(long) && d.sync.is_none()));
    let hidden = unused || arg.is_hide_set();
    arg.hide(hidden)
}

const STATUS_HELP: &str = "\
Exit codes: 0 in sync and deployed; 3 drift (something missing or differing from the settings);
4 not ready (deploying or certificate pending); 5 absent (nothing exists); 1 error; 2 usage.

Settings: as for `cdnctl up` (see `cdnctl up --help`).";

const CHECK_HELP: &str = "\
Probes https://DOMAIN/ (the custom domain, else the distribution's name): Route 53's A/AAAA
records and resolution, the certificate, the http->https redirect, the default root object,
the manifests, the files they name and one file of each kind (status, Content-Type,
Cache-Control, ETag against the bucket's), a font and a module script from another origin
(Access-Control-Allow-Origin) and a preflight, and a key that cannot exist.

Also: the security headers and HSTS the stack's policy adds, HTTP/2 (ALPN), TLS older than 1.2
refused on the custom domain, keys with `+` as pages link them, and `dir/` for `dir/index.html`.
While the distribution deploys or an invalidation runs, the edges may serve what was there
before: a failure that may come from that says so, and --wait waits for both first.

Exit codes: 0 every probe passed; 6 a probe failed (one line each: cause and fix); 4 only
failures that a deployment or an invalidation in progress may explain (run with --wait);
1 error; 2 usage.

Settings: as for `cdnctl up` (see `cdnctl up --help`).";

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Wait until the distribution is Deployed and its invalidations have completed, then probe
    #[arg(long)]
    pub wait: bool,
}

/// How `check` reaches the site; `deploy` takes them too.
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Send requests for HOST1:PORT1 to HOST2:PORT2, keeping the name and SNI (curl's meaning;
    /// repeatable). DNS is then checked from Route 53's records only
    #[arg(long, value_name = "HOST1:PORT1:HOST2:PORT2")]
    pub connect_to: Vec<crate::check::ConnectTo>,
    /// Also trust the CA certificates (PEM) in this file
    #[arg(long, value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,
}

/// `deploy`: sync's flags (DIR, the settings, --prefix, --delete, --dry-run, …)
/// and check's, each taken from its own command.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub sync: SyncArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Publish DIR as preview NAME, served at https://NAME.DOMAIN, leaving the live release alone
    /// (needs releases, a custom domain and CDN_PREVIEWS=on)
    #[arg(long, value_name = "NAME")]
    pub preview: Option<String>,
}

const RELEASES_HELP: &str = "\
With CDN_RELEASES above 0, `cdnctl deploy DIR` publishes DIR as a new release under
_cdnctl/releases/ID/ (content-hashed files once under _cdnctl/assets/) and switches the edge to
it with one KeyValueStore write. `rollback` writes that pointer back: no upload, no
invalidation; it waits until the edge serves the release (unless --no-wait) and says when.

With CDN_PREVIEWS=on (and a custom domain), `cdnctl deploy DIR --preview NAME` publishes a release
served at https://NAME.DOMAIN that never touches `live`; `releases` lists previews with their URL,
`releases --remove NAME` removes one, `rollback` never picks one.

Exit codes: 0 done; 1 error; 2 usage, or a release that is not kept.

Settings: as for `cdnctl up` (see `cdnctl up --help`).";

#[derive(Debug, Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Remove preview NAME: its pointer, its record and its files (shared assets stay)
    #[arg(long, value_name = "NAME")]
    pub remove: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The release to make live (see `cdnctl releases`); by default the one before the live one
    #[arg(value_name = "RELEASE")]
    pub release: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// Return once the pointer is written instead of waiting for the edge to serve the release
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Print the plan and change nothing; exit code 3 if anything would change
    #[arg(long)]
    pub dry_run: bool,
    /// Return once every change is submitted instead of waiting for CloudFront to deploy
    #[arg(long)]
    pub no_wait: bool,
    /// Take over an existing bucket or DNS record that this stack did not create
    /// (a bucket policy's statements that cdnctl did not write are kept)
    #[arg(long)]
    pub adopt: bool,
    /// Let a bucket that serves the public directly (website hosting, a policy
    /// letting anyone read) stop doing so: block public access and remove the
    /// statements letting anyone read; without it `up` refuses such a bucket
    #[arg(long)]
    pub end_public_access: bool,
    // Remove the custom domain when the settings name none.
    #[arg(
        long,
        help = expand(
            "Remove the custom domain when the settings name none (no {Subdomain} and {HostedZoneName}): \
             the distribution's names, their DNS records and the certificate cdnctl requested; without it \
             `up` refuses, so that a setting that is merely missing cannot take the site's name down"
        )
    )]
    pub remove_domain: bool,
    /// Remove nothing at all: refuse a plan with any removal (`deploy`)
    #[arg(skip)]
    pub keep_everything: bool,
}

const ADOPT_HELP: &str = "\
Reads the stack first and refuses, before any write, a stack that differs from the CDK stack cdnctl
replaces (another resource, an S3 website origin, ACLs in use, drift, an operation in progress).
Settings not given are read from the stack, and printed as .env lines. Run it again after an
interruption: each step is decided from what exists in AWS.

Exit codes: 0 taken over; 3 --dry-run (the plan printed); 1 error or refused; 2 usage.";

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The CloudFormation stack to take over (its name)
    #[arg(long, value_name = "NAME")]
    pub from_stack: String,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Print the whole plan and change nothing (exit code 3)
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (needed when not on a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// How the probe through the edge reaches the site (as for `check`)
    #[command(flatten)]
    pub probe: ProbeArgs,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Print what would be deleted and delete nothing; exit code 3 if anything would be
    #[arg(long)]
    pub dry_run: bool,
    /// Disable the distribution and return; a later `down` deletes it
    #[arg(long)]
    pub no_wait: bool,
    /// Do not ask for confirmation (needed when not on a terminal)
    #[arg(short, long)]
    pub yes: bool,
    /// Also delete every file (all versions) in the bucket, and the bucket
    #[arg(long)]
    pub purge: bool,
    /// With --purge: refuse to delete more objects than this
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_deletes: u64,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// text for people, json for programs, env for the web app's .env, github for workflow annotations
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Env,
    /// The text report, then drift and problems as GitHub Actions annotations
    Github,
}

/// What `deploy --help` adds: the stages, and the exit codes they give.
fn deploy_help() -> String {
    expand(DEPLOY_HELP)
}

const DEPLOY_HELP: &str = "\
Runs `cdnctl up` (waiting for CloudFront), then `cdnctl sync DIR` with sync's flags, then
`cdnctl check` with check's flags, and stops at the first stage that does not succeed. A deploy
with nothing to change writes nothing to AWS. A deploy never removes anything: when up would
take something away (the custom domain's names, records or certificate, a {BucketUsers} grant,
a web ACL), it stops before any write and names it; run `cdnctl up` for that. With --dry-run:
`up --dry-run`, then (when up would change nothing) `sync DIR --dry-run`; no check.

With {Releases} above 0, the second stage publishes DIR as a new release instead of `sync`, and
switches to it in one KeyValueStore write, waiting until the edge serves it (see `cdnctl
releases --help`); check then probes the live release at the paths visitors use.

Exit codes: those of the stage that stopped it: 0 all three passed; 1 an error in a stage (the
message names it and the stages done); 3 with --dry-run when something would change; 6 a check
probe failed (the files are published); 2 usage (nothing was run), or up would remove something
(nothing was written).

Settings: as for `cdnctl up` and `cdnctl sync` (see their --help).";

/// What `sync --help` adds: the settings it uses, the order of its writes,
/// its exit codes.
fn sync_help() -> String {
    let used = defs::group(Group::Stack).filter_map(|d| d.sync.map(|about| (d, about)));
    let own = defs::group(Group::Sync).map(|d| (d, d.about));
    format!(
        "Settings (environment or .env; the flag of the same name wins):\n{}\n\n{}",
        table(used.chain(own)),
        expand(SYNC_ORDER)
    )
}

const SYNC_ORDER: &str = "\
Order: content-hashed files, then the rest, manifests, pages (*.html) last, then the CloudFront invalidation,
then deletions (with --delete). One sync per prefix writes at a time (a lease in the bucket,
PREFIX.cdnctl/state.json); another waits for it, up to {WaitMinutes}. Exit codes: 0 done (or nothing to do); 3 with --dry-run when
something would change; 1 error; 2 usage.";

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The directory to publish (e.g. Django's STATIC_ROOT, Vite's dist/)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Publish under this key prefix instead of the bucket's root
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Delete the objects this prefix's syncs published that are gone from DIR, after --delete-grace (never another tool's files, nor a nested prefix synced on its own)
    #[arg(long)]
    pub delete: bool,
    /// With --delete: also delete, at once, objects under the prefix that cdnctl did not publish (another tool's files, the app's uploads); never a nested prefix synced on its own
    #[arg(long)]
    pub delete_unpublished: bool,
    /// With --delete: keep files for this long after a run first found them gone from DIR (e.g. 30m, 48h, 7d; 0 for none)
    #[arg(long, value_name = "AGE", default_value = "7d")]
    pub delete_grace: String,
    /// Print what would be uploaded, updated, invalidated and deleted; change nothing (exit 3 if anything would)
    #[arg(long)]
    pub dry_run: bool,
    /// Wait until CloudFront has finished the invalidation
    #[arg(long)]
    pub wait: bool,
    /// Also publish what symbolic links leading out of DIR point to (by default they are skipped with a warning; links within DIR are always followed)
    #[arg(long)]
    pub follow_links: bool,
    /// Also publish hidden files and directories (names starting with '.', such as .env or .git/; by default they are skipped with a warning, and left alone in the bucket by --delete; .well-known/ is always published)
    #[arg(long)]
    pub include_hidden: bool,
    // --cache-rules, --jobs, --max-deletes, --keep-deploys
    #[command(flatten)]
    pub own: SyncSettingsArgs,
}

impl SyncArgs {
    /// The request `sync` resolves into its options.
    pub fn request(&self) -> SyncRequest {
        let mut settings = self.settings.0.clone();
        settings.extend(&self.own.0);
        SyncRequest {
            dir: self.dir.clone(),
            prefix: self.prefix.clone(),
            settings,
            delete: self.delete,
            delete_unpublished: self.delete_unpublished,
            delete_grace: self.delete_grace.clone(),
            dry_run: self.dry_run,
            wait: self.wait,
            follow_links: self.follow_links,
            include_hidden: self.include_hidden,
        }
    }
}

impl GlobalArgs {
    /// The account, region and endpoint asked for.
    pub fn aws(&self) -> Target {
        let given = |setting| self.aws.get(setting).map(String::from);
        Target {
            profile: given(Setting::AwsProfile),
            region: given(Setting::AwsRegion),
            endpoint_url: given(Setting::AwsEndpointUrl),
        }
    }
}

impl SettingsArgs {
    pub fn of(command: &Command) -> &SettingsArgs {
        match command {
            Command::Up(a) => &a.settings,
            Command::Down(a) => &a.settings,
            Command::Status(a) => &a.settings,
            Command::Sync(a) => &a.settings,
            Command::Check(a) => &a.settings,
            Command::Deploy(a) => &a.sync.settings,
            Command::Adopt(a) => &a.settings,
            Command::Releases(a) => &a.settings,
            Command::Rollback(a) => &a.settings,
            // These need no settings: run.rs answers them before reading any.
            Command::Completions(_) | Command::Man(_) => {
                unreachable!("answered before settings are read")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// clap reads each flag's variable too (for `--help`), but only what the
    /// command line gave counts as a flag: the resolver reads the variables
    /// itself, after the `.env` file, and `--profile` must mean the flag.
    #[test]
    fn only_the_command_line_gives_flags() {
        std::env::set_var("CDN_SYNC_KEEP_DEPLOYS", "5");
        std::env::set_var("AWS_ENDPOINT_URL", "http://127.0.0.1:1");
        let cli = Cli::try_parse_from([
            "cdnctl",
            "sync",
            "dist",
            "--region",
            "eu-west-1",
            "--jobs",
            "8",
            "--bucket-name",
            "b",
        ])
        .unwrap();
        std::env::remove_var("CDN_SYNC_KEEP_DEPLOYS");
        std::env::remove_var("AWS_ENDPOINT_URL");
        let Command::Sync(args) = &cli.command else {
            unreachable!("parsed as sync")
        };
        let request = args.request();
        assert_eq!(request.settings.get(Setting::SyncJobs), Some("8"));
        assert_eq!(request.settings.get(Setting::BucketName), Some("b"));
        assert_eq!(request.settings.get(Setting::SyncKeepDeploys), None);
        assert_eq!(
            request.settings.get(Setting::SyncMaxDeletes),
            None,
            "a default is not a flag"
        );
        let aws = cli.global.aws();
        assert_eq!(aws.region.as_deref(), Some("eu-west-1"));
        assert_eq!(aws.endpoint_url, None);
        let before = Cli::try_parse_from(["cdnctl", "--profile", "p", "status"]).unwrap();
        assert_eq!(before.global.aws().profile.as_deref(), Some("p"));
    }

    #[test]
    fn sync_hides_the_stack_settings_it_does_not_use() {
        use clap::CommandFactory as _;
        let cli = Cli::command();
        let sync = cli.find_subcommand("sync").unwrap();
        let shown: Vec<&str> = sync
            .get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_help_heading() == Some("Settings"))
            .filter_map(|a| a.get_long())
            .collect();
        assert_eq!(
            shown,
            ["bucket-name", "cache-rules", "jobs", "max-deletes", "keep-deploys"]
        );
        assert!(sync
            .get_arguments()
            .any(|a| a.get_long() == Some("tags") && a.is_hide_set()));
    }
}
