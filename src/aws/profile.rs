//! Which AWS profile to use, and making an explicit `--profile` mean it.
//!
//! The SDK's default credential chain reads AWS_ACCESS_KEY_ID before any
//! profile, so `--profile other` alone would still sign with the
//! environment's keys and act on another account. The AWS CLI lets an
//! explicit `--profile` win over the environment; so does cdnctl.

use std::path::PathBuf;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::SdkConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use super::Target;

/// The profile named by `--profile`, else by AWS_PROFILE.
pub fn selected(target: &Target) -> Option<String> {
    target
        .profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .filter(|p| !p.trim().is_empty())
}

/// A profile named but defined in neither file is a typo or the wrong
/// machine: say so, naming the files read, rather than "no credentials".
pub async fn ensure_exists(name: &str) -> anyhow::Result<()> {
    let files = EnvConfigFiles::default();
    let set = aws_config::profile::load(&Fs::real(), &Env::real(), &files, None)
        .await
        .map_err(|e| anyhow::anyhow!("AWS profile `{name}`: cannot read the AWS config files: {e}"))?;
    if set.get_profile(name).is_none() {
        let (config, credentials) = (
            path("AWS_CONFIG_FILE", "config"),
            path("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        );
        let known: Vec<&str> = set.profiles().collect();
        let known = if known.is_empty() {
            "it defines no profile".to_string()
        } else {
            let mut known = known;
            known.sort_unstable();
            format!("profiles there: {}", known.join(", "))
        };
        anyhow::bail!(
            "AWS profile: no profile `{name}` in {} or {} ({known}): check --profile / AWS_PROFILE, or run `aws configure --profile {name}`",
            config.display(),
            credentials.display()
        );
    }
    Ok(())
}

/// Where the SDK reads a file from: the variable if set, else `~/.aws/FILE`.
fn path(variable: &str, file: &str) -> PathBuf {
    match std::env::var_os(variable).filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("~"))
            .join(".aws")
            .join(file),
    }
}

/// `config` with its credentials taken from profile `name` alone, whatever
/// the environment holds. The profile may still use SSO, a credential
/// process or a role to assume: the profile provider handles them, through
/// the same HTTP client (and so the same AWS_CA_BUNDLE) as every request.
pub fn credentials_win(config: SdkConfig, name: &str) -> SdkConfig {
    let mut provider_config = ProviderConfig::without_region().with_region(config.region().cloned());
    if let Some(client) = config.http_client() {
        provider_config = provider_config.with_http_client(client);
    }
    let provider = ProfileFileCredentialsProvider::builder()
        .configure(&provider_config)
        .profile_name(name)
        .build();
    config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}
