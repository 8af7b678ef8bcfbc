//! `cdnctl adopt --from-stack NAME`: take over the live CDN that the CDK
//! stack made, the site serving throughout (`takeover/` does the work;
//! this file asks, prints and orders it). Each step looks at AWS first, so
//! that a run after an interruption takes up where the last one stopped.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};

use anyhow::anyhow;

use crate::aws::{Clients, Waiting};
use crate::check::Http;
use crate::cli::{AdoptArgs, Cli, Command, UpArgs};
use crate::exit::{Exit, Failed};
use crate::output::{Printer, Report, Text};
use crate::resources::oai;
use crate::settings::{Environment, Setting, Settings, Source};
use crate::spec::Spec;
use crate::takeover::{self, stack};
use serde::Serialize;

/// The environment, with what the stack implies for the settings it leaves unset.
struct WithStack<'a> {
    env: &'a dyn Source,
    stack: BTreeMap<String, String>,
}

impl Source for WithStack<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.env
            .get(name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| self.stack.get(name).cloned())
    }
}

fn resolve(args: &AdoptArgs, implied: &[(Setting, String)]) -> Result<Settings, Failed> {
    let source = WithStack {
        env: &Environment,
        stack: implied.iter().map(|(s, v)| (s.name().to_string(), v.clone())).collect(),
    };
    Settings::resolve(&args.settings, &source)
        .map_err(|e| Failed::Settings(e.0.iter().map(ToString::to_string).collect()))
}

pub async fn run(cli: &Cli, printer: Printer) -> Result<Exit, Failed> {
    let Command::Adopt(args) = &cli.command else {
        unreachable!("run.rs calls this for adopt only")
    };
    let clients = Clients::connect(&cli.global.aws()).await?;
    let name = &args.from_stack;
    let observed = stack::observe(&clients.cloudformation, name).await?;
    let Some(observed) = observed else {
        return Err(Failed::Refused(vec![format!(
            "stack {name}: does not exist, and none of that name was deleted in the last 90 days: check the name and the region (AWS_REGION)"
        )]));
    };

    // 1. Read-only preflight, once any operation on the stack has finished
    // (one an interrupted run started).
    let bucket = observed.resources.iter().find(|r| r.kind == takeover::shape::BUCKET);
    let Some(bucket) = bucket.map(|r| r.physical_id.clone()) else {
        return Err(Failed::Refused(
            takeover::shape::seed(&observed).err().unwrap_or_default(),
        ));
    };
    let early = resolve(args, &[(Setting::BucketName, bucket)])?;
    let waiting = super::waiting(&early);
    let observed = if stack::in_progress(&observed.status) {
        stack::at_rest(&clients.cloudformation, &observed, &waiting, &printer).await?;
        stack::observe(&clients.cloudformation, name)
            .await?
            .ok_or_else(|| anyhow!("stack {name}: gone while cdnctl waited for it"))?
    } else {
        observed
    };
    let found = takeover::preflight(&clients, &observed, &waiting, &printer)
        .await?
        .map_err(Failed::Refused)?;
    let implied = found.settings();
    let settings = resolve(args, &implied)?;
    let conflicts = takeover::conflicts(&found, &settings);
    if !conflicts.is_empty() {
        return Err(Failed::Refused(conflicts));
    }
    let spec = Spec::new(&settings, &clients.region);
    let retain = stack::retained(&observed.template);

    let deleted = observed.is_deleted();
    let mut plan = vec![format!("cdnctl adopt would take over stack {name}:")];
    if deleted {
        plan.push(format!(
            "  stack {name}: deleted by an earlier run, every resource retained: finish the takeover"
        ));
    }
    plan.extend(
        observed
            .resources
            .iter()
            .map(|r| format!("  keep {} ({}) {}", r.logical_id, r.kind, r.physical_id)),
    );
    if retain.is_some() && !deleted {
        plan.push(format!(
            "  stack {name}: a change set setting DeletionPolicy and UpdateReplacePolicy Retain on every resource"
        ));
    }
    if !deleted {
        plan.push(format!(
            "  stack {name}: delete it, every resource retained (the BootstrapVersion parameter and rule go with it)"
        ));
    }
    plan.extend(migration_lines(&spec, &found));
    plan.push("Settings read from the stack (add them to .env to keep them):".into());
    plan.extend(implied.iter().map(|(s, v)| format!("  {}={v}", s.name())));
    printer.lines(&plan);
    let mut report = AdoptReport {
        stack: name.clone(),
        distribution: found.seed.distribution.clone(),
        taken_over: false,
        plan: plan[1..].iter().map(|l| l.trim().to_string()).collect(),
        settings: implied.iter().map(|(s, v)| (s.name().to_string(), v.clone())).collect(),
    };
    if args.dry_run {
        printer.report(&report);
        return Ok(Exit::Drift);
    }
    if !args.yes {
        confirm(&printer).await?;
    }

    // 2. Detach the stack, nothing deleted.
    if !deleted {
        detach(&clients, &observed, retain, &waiting, &printer).await?;
    }

    // 3 and 4. OAI → OAC, then `up`.
    let exit = migrate(
        &clients,
        &spec,
        args,
        &found.seed.distribution,
        found.oai,
        &waiting,
        &printer,
    )
    .await?;
    report.taken_over = true;
    printer.report(&report);
    Ok(exit)
}

/// `adopt`'s result: what it took over (or, with `--dry-run`, would) and the
/// settings it read from the stack. Its lines went to people as it ran.
#[derive(Debug, Serialize)]
pub struct AdoptReport {
    pub stack: String,
    pub distribution: String,
    pub taken_over: bool,
    pub plan: Vec<String>,
    /// The settings the stack implies, by variable.
    pub settings: BTreeMap<String, String>,
}

impl Report for AdoptReport {
    fn text(&self) -> Text {
        Text::default()
    }
}

/// Retain on every resource (a change set), then delete the stack.
async fn detach(
    clients: &Clients,
    observed: &stack::Observed,
    retain: Option<serde_json::Value>,
    waiting: &Waiting,
    printer: &Printer,
) -> Result<(), Failed> {
    let name = &observed.name;
    let cfn = &clients.cloudformation;
    if let Some(template) = retain {
        // A new name each run: CloudFormation deletes a change set left by an
        // interrupted run when this one executes.
        let change_set = format!("cdnctl-retain-{}", now_millis());
        let changes = stack::retain_change_set(cfn, observed, &template, &change_set, waiting, printer).await?;
        printer.info(&format!("stack {name}: change set {change_set}:"));
        printer.lines(&changes.iter().map(|c| format!("  {}", c.line())).collect::<Vec<_>>());
        let harmful: Vec<String> = changes
            .iter()
            .filter(|c| !c.is_harmless())
            .map(stack::Change::line)
            .collect();
        if !harmful.is_empty() {
            stack::delete_change_set(cfn, observed, &change_set).await?;
            return Err(Failed::Refused(
                harmful
                    .into_iter()
                    .map(|l| format!("stack {name}: change set {change_set} would do more than set policies: {l} (the change set was deleted, nothing else changed)"))
                    .collect(),
            ));
        }
        stack::execute(cfn, observed, &change_set, waiting, printer).await?;
    }
    let now = stack::observe(cfn, name)
        .await?
        .ok_or_else(|| anyhow!("stack {name}: gone while cdnctl was detaching it: run `cdnctl adopt` again"))?;
    let deleted = stack::not_retained(&now.template);
    if !deleted.is_empty() {
        return Err(Failed::Refused(vec![format!(
            "stack {name}: deleting it now would delete {}: their DeletionPolicy is not Retain",
            deleted.join(", ")
        )]));
    }
    printer.info(&format!(
        "stack {name}: deleting, each resource's DeletionPolicy Retain:"
    ));
    printer.lines(
        &now.resources
            .iter()
            .map(|r| format!("  {} ({}): Remove, policy Retain", r.logical_id, r.kind))
            .collect::<Vec<_>>(),
    );
    stack::delete(cfn, &now, waiting, printer).await?;
    Ok(())
}

fn now_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn migration_lines(spec: &Spec, found: &takeover::Found) -> Vec<String> {
    let d = &found.distribution.id;
    let mut out = vec![
        format!("  origin access control {}: create if missing", spec.oac_name),
        format!(
            "  bucket {}: policy grants the origin access control beside the origin access identity",
            spec.bucket
        ),
        format!("  distribution {d}: tag cdnctl:stack (CloudFormation's tags stay), comment, origin through the origin access control (same id, same name); wait until deployed"),
        format!("  probe an object through the edge: 200 expected"),
        "  then `cdnctl up --adopt`'s plan: redirect to HTTPS, the response headers policy, the bucket's settings and TLS-only deny, tags, records UPSERTed".into(),
    ];
    if let Some(o) = &found.oai {
        out.push(format!(
            "  origin access identity {}: its grant removed from the bucket policy, then deleted",
            o.id
        ));
    }
    out
}

/// OAI → OAC in AWS's order, then `up`, then the identity retired. `known`
/// is the identity the stack named; identities still granted by the policy
/// or used by the origin are found too.
async fn migrate(
    clients: &Clients,
    spec: &Spec,
    args: &AdoptArgs,
    id: &str,
    known: Option<oai::Observed>,
    waiting: &Waiting,
    printer: &Printer,
) -> Result<Exit, Failed> {
    let cf = &clients.cloudfront;
    let d = takeover::observe_distribution(cf, id)
        .await?
        .ok_or_else(|| anyhow!("distribution {id}: does not exist"))?;
    let mut identities: Vec<oai::Observed> = known.into_iter().collect();
    for used in oai::used_by(&d.config) {
        if !identities.iter().any(|o| o.id == used) {
            identities.extend(oai::observe(cf, &used).await?);
        }
    }
    if let Some(policy) = takeover::policy(clients, &spec.bucket).await? {
        for granted in oai::granted(cf, &policy).await? {
            if !identities.iter().any(|o| o.id == granted.id) {
                identities.push(granted);
            }
        }
    }

    let oac_id = takeover::ensure_oac(clients, spec, printer).await?;
    takeover::grant_oac(clients, spec, &d.arn, printer).await?;
    takeover::switch_origin(clients, spec, id, &oac_id, waiting, printer).await?;
    probe(clients, spec, args, &d.domain_name, printer).await?;

    let up = UpArgs {
        settings: args.settings.clone(),
        dry_run: false,
        no_wait: false,
        adopt: true,
        end_public_access: false,
        remove_domain: false,
        keep_everything: true,
    };
    let report = super::up::run(clients, spec, waiting, &up, printer).await?;
    let _ = report;

    let now = takeover::observe_distribution(cf, id)
        .await?
        .ok_or_else(|| anyhow!("distribution {id}: does not exist"))?;
    for identity in &identities {
        takeover::retire_oai(clients, spec, &now.config, identity, waiting, printer).await?;
    }
    printer.done(&format!(
        "distribution {id}: taken over by cdnctl (same id, same name); `cdnctl status` checks it"
    ));
    Ok(Exit::Success)
}

/// One object through the edge, over HTTPS: 200, or the takeover stops
/// before anything the identity grants is removed.
async fn probe(
    clients: &Clients,
    spec: &Spec,
    args: &AdoptArgs,
    domain_name: &str,
    printer: &Printer,
) -> anyhow::Result<()> {
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&spec.bucket)
        .max_keys(1)
        .send()
        .await
        .map_err(|e| crate::aws::describe(format!("bucket {}: ListObjectsV2", spec.bucket), e))?;
    let Some(key) = listed.contents().first().and_then(|o| o.key()).map(String::from) else {
        printer.info(&format!(
            "bucket {}: empty, so nothing to probe through the edge",
            spec.bucket
        ));
        return Ok(());
    };
    let host = spec.domain.as_ref().map_or(domain_name.to_string(), |d| d.name.clone());
    let http = Http::new(args.probe.ca_bundle.as_deref(), args.probe.connect_to.clone())?;
    let path = format!("/{}", crate::check::probes::encode(&key));
    let answer = http.request(true, &host, "GET", &path, &[]).await.map_err(|e| {
        anyhow!("https://{host}{path}: {e}: the origin access identity is kept; run `cdnctl adopt` again")
    })?;
    if answer.status != 200 {
        return Err(anyhow!(
            "https://{host}{path}: {} through the edge, expected 200: the origin access identity and its grant are kept; run `cdnctl adopt` again once it serves",
            answer.status
        ));
    }
    printer.done(&format!("https://{host}{path}: 200 through the origin access control"));
    Ok(())
}

/// Ask on a terminal; elsewhere `--yes` is required.
async fn confirm(printer: &Printer) -> Result<(), Failed> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() || !printer.is_terminal() {
        return Err(Failed::NotConfirmed(
            "adopt: taking over the stack needs confirmation: run `cdnctl adopt --yes` (or `--dry-run` to see the plan)"
                .into(),
        ));
    }
    eprint!("Take over this stack? [y/N] ");
    let _ = std::io::stderr().flush();
    let answer = tokio::task::spawn_blocking(|| {
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).map(|_| answer)
    })
    .await
    .map_err(|e| Failed::Error(e.into()))?
    .map_err(|e| Failed::Error(e.into()))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failed::NotConfirmed("adopt: not confirmed".into()))
    }
}
