//! The command line: subcommands, global flags and the settings flags that
//! override the environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const SETTINGS_HELP: &str = "\
Settings (environment or .env; a flag of the same name wins):
  BUCKET_NAME        S3 bucket to create as the private origin (required)
  BUCKET_USERS       comma-separated IAM principal ARNs given full access to the bucket
  HOSTED_ZONE_NAME   Route53 zone of the custom domain, e.g. example.com
  HOSTED_ZONE_ID     that zone's id (optional: looked up from HOSTED_ZONE_NAME)
  SUBDOMAIN          the custom domain is SUBDOMAIN.HOSTED_ZONE_NAME
  CERTIFICATE_ARN    ACM certificate in us-east-1 covering the custom domain
  WAF_ARN            WAFv2 web ACL (scope CLOUDFRONT) to attach; none detaches any;
                     unset leaves whatever is attached (e.g. by Firewall Manager)
  CDN_CORS_ORIGINS   origins allowed to fetch files cross-origin (default *)
  CDN_PRICE_CLASS    PriceClass_100 (default), PriceClass_200 or PriceClass_All
  CDN_TAGS           key=value,... tags for every resource (at most 49)
  CDN_SECURITY_HEADERS  on (default): nosniff, a referrer policy and HSTS; off: none
  CDN_HSTS           HSTS for the custom domain: max-age=31536000 (default), more
                     directives (includeSubDomains; preload) or off
  CDN_POLL_SECONDS   how often to poll AWS while waiting (default 15)
  CDN_WAIT_MINUTES   how long to wait at most for CloudFront, ACM and Route53 (default 75)
AWS: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_CA_BUNDLE and the usual credential chain.";

#[derive(Debug, Parser)]
#[command(
    name = "cdnctl",
    version,
    about = "A private S3-origin CloudFront CDN for your web app's static files, without CloudFormation",
    after_help = SETTINGS_HELP
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
    /// AWS profile to use [env: AWS_PROFILE]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region of the bucket [env: AWS_REGION]
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS request to this endpoint, e.g. a local emulator [env: AWS_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Print the result as JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail on stderr (-v, -vv); RUST_LOG works too
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the bucket, origin access control, distribution and DNS records
    #[command(after_help = SETTINGS_HELP)]
    Up(UpArgs),
    /// Remove what `up` created; a bucket that holds files is kept unless --purge
    #[command(after_help = SETTINGS_HELP)]
    Down(DownArgs),
    /// Report whether everything exists, is deployed and matches the settings
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Publish a directory of static files to the bucket: only what changed, then invalidate
    #[command(after_help = crate::sync::options::SYNC_HELP)]
    Sync(crate::sync::SyncArgs),
    /// Print a shell completion script, e.g. `cdnctl completions bash > ~/.local/share/bash-completion/completions/cdnctl`
    Completions(CompletionsArgs),
    /// Print the man page (roff), e.g. `cdnctl man > ~/.local/share/man/man1/cdnctl.1`
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const STATUS_HELP: &str = "\
Exit codes: 0 in sync and deployed; 3 drift (something missing or differing from the settings);
4 not ready (deploying or certificate pending); 5 absent (nothing exists); 1 error; 2 usage.

Settings: as for `cdnctl up` (see `cdnctl up --help`).";

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
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Print what would be deleted and delete nothing
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

/// Flags that override the settings of the same name in the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    #[arg(long, value_name = "NAME", help_heading = "Settings")]
    pub bucket_name: Option<String>,
    #[arg(long, value_name = "ARNS", help_heading = "Settings")]
    pub bucket_users: Option<String>,
    #[arg(long, value_name = "ZONE", help_heading = "Settings")]
    pub hosted_zone_name: Option<String>,
    #[arg(long, value_name = "ID", help_heading = "Settings")]
    pub hosted_zone_id: Option<String>,
    #[arg(long, value_name = "LABEL", help_heading = "Settings")]
    pub subdomain: Option<String>,
    #[arg(long, value_name = "ARN", help_heading = "Settings")]
    pub certificate_arn: Option<String>,
    #[arg(long, value_name = "ARN", help_heading = "Settings")]
    pub waf_arn: Option<String>,
    #[arg(long, value_name = "ORIGINS", help_heading = "Settings")]
    pub cors_origins: Option<String>,
    #[arg(long, value_name = "CLASS", help_heading = "Settings")]
    pub price_class: Option<String>,
    #[arg(long, value_name = "TAGS", help_heading = "Settings")]
    pub tags: Option<String>,
    #[arg(long, value_name = "on|off", help_heading = "Settings")]
    pub security_headers: Option<String>,
    #[arg(long, value_name = "DIRECTIVES", help_heading = "Settings")]
    pub hsts: Option<String>,
}

impl SettingsArgs {
    pub fn of(command: &Command) -> &SettingsArgs {
        match command {
            Command::Up(a) => &a.settings,
            Command::Down(a) => &a.settings,
            Command::Status(a) => &a.settings,
            Command::Sync(a) => &a.settings,
            // These need no settings: run.rs answers them before reading any.
            Command::Completions(_) | Command::Man => unreachable!("answered before settings are read"),
        }
    }
}
