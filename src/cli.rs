//! The command line: subcommands, global flags and the settings flags that
//! override the environment.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// CloudFront's price classes: `--help` lists them, `settings` checks them.
pub const PRICE_CLASSES: [&str; 3] = ["PriceClass_100", "PriceClass_200", "PriceClass_All"];

const SETTINGS_HELP: &str = "\
Settings (environment or .env; a flag of the same name wins):
  BUCKET_NAME        S3 bucket to create as the private origin (required)
  BUCKET_USERS       comma-separated IAM principal ARNs given full access to the bucket
  HOSTED_ZONE_NAME   Route53 zone of the custom domain, e.g. example.com
  HOSTED_ZONE_ID     that zone's id (optional: looked up from HOSTED_ZONE_NAME)
  SUBDOMAIN          the custom domain is SUBDOMAIN.HOSTED_ZONE_NAME (or give the full name)
  CERTIFICATE_ARN    ACM certificate in us-east-1 covering the custom domain
  WAF_ARN            WAFv2 web ACL (scope CLOUDFRONT) to attach; none detaches any;
                     unset leaves whatever is attached (e.g. by Firewall Manager)
  CDN_CORS_ORIGINS   origins allowed to fetch files cross-origin (default *)
  CDN_PRICE_CLASS    PriceClass_100 (default), PriceClass_200 or PriceClass_All
  CDN_TAGS           key=value,... tags for every resource (at most 49), e.g.
                     CDN_TAGS=\"team=web platform,env=prod\"
  CDN_SECURITY_HEADERS  on (default): nosniff, a referrer policy and HSTS; off: none
  CDN_HSTS           HSTS for the custom domain: max-age=31536000 (default), off, or
                     CDN_HSTS=\"max-age=63072000; includeSubDomains; preload\"
  CDN_POLL_SECONDS   how often to poll AWS while waiting (default 15)
  CDN_WAIT_MINUTES   how long to wait at most for CloudFront, ACM and Route53 (default 75)
  CDN_RELEASES       releases to keep (0, the default: publish in place); CDN_SPA_FALLBACK
                     the page extensionless paths fall back to with releases, e.g. /index.html
In .env, quote a value with spaces or ';' as shown. A misspelt name is warned about.
AWS: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, AWS_CA_BUNDLE and the usual credential chain
(--profile wins over access keys in the environment, as for the AWS CLI).";

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
    #[command(after_help = SETTINGS_HELP)]
    Up(UpArgs),
    /// Remove what `up` created; a bucket that holds files is kept unless --purge
    #[command(after_help = SETTINGS_HELP)]
    Down(DownArgs),
    /// Report whether everything exists, is deployed and matches the settings
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Publish a directory of static files to the bucket: only what changed, then invalidate
    #[command(after_help = SYNC_HELP)]
    // sync finds the stack by its bucket: the other settings do not apply.
    #[command(mut_args(|a| if SYNC_IGNORES.contains(&a.get_id().as_str()) { a.hide(true) } else { a }))]
    Sync(SyncArgs),
    /// Probe the site through the CDN as a browser would (DNS, TLS, redirect, objects, CORS); never writes
    #[command(after_help = CHECK_HELP)]
    Check(CheckArgs),
    /// For CI: `up`, then `sync DIR`, then `check`, stopping at the first that fails
    #[command(after_help = DEPLOY_HELP)]
    Deploy(DeployArgs),
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

/// Settings flags that `sync` accepts (they are settings) but does not use.
const SYNC_IGNORES: &[&str] = &[
    "bucket_users",
    "hosted_zone_name",
    "hosted_zone_id",
    "subdomain",
    "certificate_arn",
    "waf_arn",
    "cors_origins",
    "price_class",
    "tags",
    "security_headers",
    "hsts",
];

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

Exit codes: 0 every probe passed; 6 a probe failed (one line each: cause and fix); 1 error; 2 usage.

Settings: as for `cdnctl up` (see `cdnctl up --help`).";

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
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
    /// Remove the custom domain when the settings name none (no SUBDOMAIN and
    /// HOSTED_ZONE_NAME): the distribution's names, their DNS records and the
    /// certificate cdnctl requested; without it `up` refuses, so that a
    /// setting that is merely missing cannot take the site's name down
    #[arg(long)]
    pub remove_domain: bool,
    /// Remove nothing at all: refuse a plan with any removal (`deploy`)
    #[arg(skip)]
    pub keep_everything: bool,
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
pub const DEPLOY_HELP: &str = "\
Runs `cdnctl up` (waiting for CloudFront), then `cdnctl sync DIR` with sync's flags, then
`cdnctl check` with check's flags, and stops at the first stage that does not succeed. A deploy
with nothing to change writes nothing to AWS. A deploy never removes anything: when up would
take something away (the custom domain's names, records or certificate, a BUCKET_USERS grant,
a web ACL), it stops before any write and names it; run `cdnctl up` for that. With --dry-run:
`up --dry-run`, then (when up would change nothing) `sync DIR --dry-run`; no check.

Exit codes: those of the stage that stopped it: 0 all three passed; 1 an error in a stage (the
message names it and the stages done); 3 with --dry-run when something would change; 6 a check
probe failed (the files are published); 2 usage (nothing was run), or up would remove something
(nothing was written).

Settings: as for `cdnctl up` and `cdnctl sync` (see their --help).";

pub const SYNC_HELP: &str = "\
Settings (environment or .env; the flag of the same name wins):
  BUCKET_NAME       the stack's bucket, as for `cdnctl up` (with the stack's other settings)
  CDN_CACHE_RULES   GLOB=CACHE-CONTROL rules separated by ';', first match wins, e.g.
                    *.html=no-cache;fonts/**=public, max-age=604800
                    A GLOB without '/' matches file names in any directory; * stays within
                    a directory, ** crosses them. Files no rule matches get
                    `public, max-age=31536000, immutable` when content-hashed (named in
                    staticfiles.json or .vite/manifest.json; where no manifest speaks, a
                    bundler's name.0123abcd.js, Vite's assets/name-AbCd1_2x.js, or the hashed
                    names of Next.js's _next/static/, Astro's _astro/, SvelteKit's
                    _app/immutable/) and
                    `public, max-age=60, must-revalidate` otherwise.
  CDN_SYNC_JOBS     requests in flight at once (default 64)
  CDN_SYNC_MAX_DELETES  with --delete: the most files not content-hashed one run may find gone
                    from DIR, a share of those under the prefix (default 50%) or a count;
                    100% allows any
  CDN_SYNC_KEEP_DEPLOYS  with --delete: content-hashed files named by this many last deploys
                    stay, however old (default 3, at least 2)

Order: content-hashed files, then the rest, manifests, pages (*.html) last, then the CloudFront invalidation,
then deletions (with --delete). One sync per prefix writes at a time (a lease in the bucket,
PREFIX.cdnctl/state.json); another waits for it, up to CDN_WAIT_MINUTES. Exit codes: 0 done (or nothing to do); 3 with --dry-run when
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
    /// Cache-Control rules, GLOB=VALUE;... [env: CDN_CACHE_RULES]
    #[arg(long, value_name = "RULES")]
    pub cache_rules: Option<String>,
    /// Delete the objects this prefix's syncs published that are gone from DIR, after --delete-grace (never another tool's files, nor a nested prefix synced on its own)
    #[arg(long)]
    pub delete: bool,
    /// With --delete: also delete, at once, objects under the prefix that cdnctl did not publish (another tool's files, the app's uploads); never a nested prefix synced on its own
    #[arg(long)]
    pub delete_unpublished: bool,
    /// With --delete: refuse when more than this share of the files not content-hashed under the prefix, or this many, would go (e.g. 50%, 200; 100% for any) [env: CDN_SYNC_MAX_DELETES] [default: 50%]
    #[arg(long, value_name = "P%|N")]
    pub max_deletes: Option<String>,
    /// With --delete: keep files for this long after a run first found them gone from DIR (e.g. 30m, 48h, 7d; 0 for none)
    #[arg(long, value_name = "AGE", default_value = "7d")]
    pub delete_grace: String,
    /// With --delete: keep the content-hashed files named by this many last deploys, however old [env: CDN_SYNC_KEEP_DEPLOYS] [default: 3]
    #[arg(long, value_name = "N")]
    pub keep_deploys: Option<String>,
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
    /// Requests in flight at once [env: CDN_SYNC_JOBS] [default: 64]
    #[arg(long, value_name = "N")]
    pub jobs: Option<String>,
}

/// Flags that override the settings of the same name in the environment.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// S3 bucket to create as the private origin; also names the stack [env: BUCKET_NAME]
    #[arg(long, value_name = "NAME", help_heading = "Settings")]
    pub bucket_name: Option<String>,
    /// Comma-separated IAM principal ARNs given full access to the bucket [env: BUCKET_USERS]
    #[arg(long, value_name = "ARNS", help_heading = "Settings")]
    pub bucket_users: Option<String>,
    /// Route53 public zone of the custom domain, e.g. example.com [env: HOSTED_ZONE_NAME]
    #[arg(long, value_name = "ZONE", help_heading = "Settings")]
    pub hosted_zone_name: Option<String>,
    /// That zone's id (looked up by name when absent) [env: HOSTED_ZONE_ID]
    #[arg(long, value_name = "ID", help_heading = "Settings")]
    pub hosted_zone_id: Option<String>,
    /// The custom domain is SUBDOMAIN.ZONE (the full name works too) [env: SUBDOMAIN]
    #[arg(long, value_name = "LABEL", help_heading = "Settings")]
    pub subdomain: Option<String>,
    /// ACM certificate in us-east-1 for the domain (else cdnctl requests one) [env: CERTIFICATE_ARN]
    #[arg(long, value_name = "ARN", help_heading = "Settings")]
    pub certificate_arn: Option<String>,
    /// WAFv2 web ACL (scope CLOUDFRONT) to attach, or none to detach any [env: WAF_ARN]
    #[arg(long, value_name = "ARN", help_heading = "Settings")]
    pub waf_arn: Option<String>,
    /// Origins allowed cross-origin: * or https://a.example,https://b.example [env: CDN_CORS_ORIGINS]
    #[arg(long, value_name = "ORIGINS", help_heading = "Settings")]
    pub cors_origins: Option<String>,
    /// CloudFront price class (100, 200 and All work too) [env: CDN_PRICE_CLASS]
    #[arg(long, value_name = "CLASS", help_heading = "Settings", value_parser = Listed(&PRICE_CLASSES))]
    pub price_class: Option<String>,
    /// key=value,... tags for every resource (quote values with spaces) [env: CDN_TAGS]
    #[arg(long, value_name = "TAGS", help_heading = "Settings")]
    pub tags: Option<String>,
    /// nosniff, a referrer policy and HSTS [env: CDN_SECURITY_HEADERS]
    #[arg(long, value_name = "on|off", help_heading = "Settings", value_parser = Listed(&["on", "off"]))]
    pub security_headers: Option<String>,
    /// Strict-Transport-Security directives, or off [env: CDN_HSTS]
    #[arg(long, value_name = "DIRECTIVES", help_heading = "Settings")]
    pub hsts: Option<String>,
}

/// A setting's usual values, for `--help` and shell completion, while any
/// value passes through to `settings`, which checks it with the same
/// one-line error as when it comes from the environment.
#[derive(Clone)]
struct Listed(&'static [&'static str]);

impl clap::builder::TypedValueParser for Listed {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|v| clap::builder::PossibleValue::new(*v))))
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
            // These need no settings: run.rs answers them before reading any.
            Command::Completions(_) | Command::Man => unreachable!("answered before settings are read"),
        }
    }
}
