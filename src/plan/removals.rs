//! What a plan takes away, found from its steps' types and what they change
//! in what exists: a name the distribution stops answering to, its
//! certificate, DNS records, a bucket user's access, a web ACL, or a whole
//! resource. `deploy` applies no plan with any of these, and `up` takes the
//! custom domain away only when asked (`--remove-domain`): a setting that is
//! merely missing must not take a site's name down. Pure: no I/O.

use serde_json::Value;

use super::{Plan, Step};
use crate::observe::World;
use crate::resources::kit::Fact;
use crate::resources::{bucket, bucket_policy, certificate, distribution, dns};
use crate::settings::Setting;
use crate::spec::Spec;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// For people: what goes, "distribution E123: stop answering to a.example.com".
    pub what: String,
    /// Part of the custom domain: a name, its records or its certificate.
    pub domain: bool,
    /// The unset settings that would keep it.
    pub settings: &'static [&'static str],
}

const DOMAIN: &[&str] = &[Setting::Subdomain.name(), Setting::HostedZoneName.name()];
const USERS: &[&str] = &[Setting::BucketUsers.name()];
const RELEASES: &[&str] = &[Setting::Releases.name()];

/// Every removal in `plan`, made toward `spec` from `world`.
pub fn removals(plan: &Plan, world: &World, spec: &Spec) -> Vec<Removal> {
    let mut out = Vec::new();
    let domain_settings: &'static [&'static str] = if spec.domain.is_none() { DOMAIN } else { &[] };
    let mut push =
        |what: String, domain: bool, settings: &'static [&'static str]| out.push(Removal { what, domain, settings });
    for c in &plan.changes {
        let whole = || format!("{}: {}", c.resource, c.action);
        match &c.step {
            Step::Dns(dns::Step::Delete { name, .. }) => {
                push(format!("DNS {name}: delete its records"), true, domain_settings)
            }
            Step::Certificate(certificate::Step::Delete { arn, .. }) => {
                let why = c.details.first().map(|d| format!(" ({d})")).unwrap_or_default();
                push(format!("certificate {arn}: delete{why}"), true, domain_settings)
            }
            Step::Distribution(distribution::Step::Update { id, config, .. }) => {
                let Some(have) = world.distribution.as_ref().filter(|d| &d.id == id) else {
                    continue;
                };
                for alias in aliases(&have.config)
                    .into_iter()
                    .filter(|a| !aliases(config).contains(a))
                {
                    push(
                        format!("distribution {id}: stop answering to {alias}"),
                        true,
                        domain_settings,
                    );
                }
                if let (Some(arn), None) = (certificate_of(&have.config), certificate_of(config)) {
                    push(
                        format!("distribution {id}: stop using certificate {arn}"),
                        true,
                        domain_settings,
                    );
                }
                if let (Some(acl), None) = (web_acl(&have.config), web_acl(config)) {
                    push(format!("distribution {id}: detach WAF web ACL {acl}"), false, &[]);
                }
                // Without its function the edge stops serving the live
                // release: the bucket's files are served in place again.
                let live = world.store.as_ref().is_some_and(|s| s.live.is_some());
                if let (Some(arn), None, true) = (
                    distribution::runs_function(&have.config, &spec.bucket),
                    distribution::runs_function(config, &spec.bucket),
                    live,
                ) {
                    push(
                        format!("distribution {id}: stop running function {arn} (releases: the live release is no longer served)"),
                        false,
                        RELEASES,
                    );
                }
            }
            Step::Distribution(distribution::Step::Disable { .. } | distribution::Step::Delete { .. }) => {
                push(whole(), false, &[])
            }
            Step::Bucket(bucket::Step::Put(bucket::Setting::Policy)) => {
                let have = match &world.bucket {
                    bucket::State::Present(o) => o.policy.as_ref(),
                    _ => None,
                };
                let unset: &'static [&'static str] = if spec.bucket_users.is_empty() { USERS } else { &[] };
                for user in have.map(bucket_users).unwrap_or_default() {
                    if !spec.bucket_users.contains(&user) {
                        push(
                            format!("bucket policy: take away {user}'s access (statement BucketUsersFullAccess)"),
                            false,
                            unset,
                        );
                    }
                }
                if plan.drop_public_reads {
                    push(
                        "bucket policy: remove the statements letting anyone read".to_string(),
                        false,
                        &[],
                    );
                }
            }
            // Any other step that deletes (it provides `Gone`, or empties
            // the bucket) removes what it names; the rest create or update.
            // (The invalidation after narrowed CORS origins removes cached
            // answers, not anything a visitor needs.)
            step if step
                .provides()
                .iter()
                .any(|f| matches!(f, Fact::Gone(_) | Fact::Emptied(_))) =>
            {
                push(whole(), false, &[])
            }
            _ => {}
        }
    }
    out
}

fn aliases(c: &aws_sdk_cloudfront::types::DistributionConfig) -> Vec<String> {
    c.aliases.as_ref().map(|a| a.items().to_vec()).unwrap_or_default()
}

fn certificate_of(c: &aws_sdk_cloudfront::types::DistributionConfig) -> Option<&str> {
    c.viewer_certificate
        .as_ref()
        .and_then(|v| v.acm_certificate_arn.as_deref())
        .filter(|a| !a.is_empty())
}

fn web_acl(c: &aws_sdk_cloudfront::types::DistributionConfig) -> Option<&str> {
    c.web_acl_id.as_deref().filter(|a| !a.is_empty())
}

/// The principals the BucketUsersFullAccess statement gives full access.
fn bucket_users(policy: &Value) -> Vec<String> {
    let statements = bucket_policy::statements(policy);
    let grant = statements
        .iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some("BucketUsersFullAccess"));
    grant
        .flat_map(|s| match s.pointer("/Principal/AWS") {
            Some(Value::String(p)) => vec![p.clone()],
            Some(Value::Array(items)) => items.iter().filter_map(|p| p.as_str().map(String::from)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The lines saying why a command stops: `lead`, one line per removal, and
/// which unset settings would keep them, saying where they were looked for
/// (`file`: the settings file read, if any).
pub fn explain(lead: &str, removals: &[Removal], file: Option<&str>) -> Vec<String> {
    let mut lines = vec![lead.to_string()];
    lines.extend(removals.iter().map(|r| format!("  {}", r.what)));
    let mut missing: Vec<&str> = Vec::new();
    for s in removals.iter().flat_map(|r| r.settings.iter().copied()) {
        if !missing.contains(&s) {
            missing.push(s);
        }
    }
    let names = match missing.as_slice() {
        [] => return lines,
        [one] => format!("{one} is"),
        [init @ .., last] => format!("{} and {last} are", init.join(", ")),
    };
    lines.push(match file {
        None => format!("no ./.env here; {names} not set"),
        Some(f) => format!("{names} not set, in {f} or the environment"),
    });
    lines
}
