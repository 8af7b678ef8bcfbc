//! `cdnctl up`: plan toward the spec, then apply.

use serde_json::json;

use super::{now, refused};
use crate::apply::{apply, Facts};
use crate::aws::{Clients, Waiting};
use crate::ci;
use crate::cli::UpArgs;
use crate::exit::{Exit, Failed};
use crate::observe::observe;
use crate::observe::World;
use crate::output::Printer;
use crate::plan::{self, Plan, UpOptions};
use crate::settings::dotenv;
use crate::spec::Spec;

pub async fn run(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &UpArgs,
    printer: &Printer,
) -> anyhow::Result<Exit> {
    Ok(outcome(clients, spec, waiting, args, printer).await?.exit)
}

/// What `deploy` takes from `up`: the exit code, the result as `--json`
/// prints it, the changes made (or pending, for a dry run), and the stack as
/// observed when up wrote nothing (it then stands as it was read, and
/// `sync` and `check` need not read it again).
pub struct Upshot {
    pub exit: Exit,
    pub report: serde_json::Value,
    pub changes: usize,
    pub distribution_id: Option<String>,
    pub url: Option<String>,
    pub unchanged: Option<World>,
}

/// `up`, printing as it goes, with what it did as a value.
pub async fn outcome(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    args: &UpArgs,
    printer: &Printer,
) -> anyhow::Result<Upshot> {
    let world = observe(clients, spec, waiting, None).await?;
    let opts = UpOptions {
        adopt: args.adopt,
        end_public_access: args.end_public_access,
        wait: !args.no_wait && !args.dry_run,
        now: now(),
    };
    let plan = plan::up(spec, &world, &opts).map_err(refused)?;
    if !args.dry_run || args.keep_everything {
        withhold(spec, &world, &plan, args)?;
    }

    let changes = plan.writes().count();
    if args.dry_run {
        ci::changes_summary(
            format!(
                "cdnctl up --dry-run {}: {changes} changes pending",
                ci::code(&spec.bucket)
            ),
            &plan,
        )
        .write(printer);
        printer.lines(&plan.lines("cdnctl up would"));
        if let Err(Failed::Withheld(lines)) = withhold(spec, &world, &plan, args) {
            printer.info("note: `cdnctl up` as run here would refuse this plan:");
            printer.lines(&lines);
        }
        if printer.json {
            printer.json(&plan.json());
        }
        let exit = if plan.writes().next().is_some() {
            Exit::Drift
        } else {
            Exit::Success
        };
        return Ok(Upshot {
            exit,
            report: plan.json(),
            changes,
            distribution_id: None,
            url: None,
            unchanged: (exit == Exit::Success).then_some(world),
        });
    }

    if plan.changes.is_empty() {
        printer.info("Everything is up to date.");
    }
    let unchanged = (plan.writes().next().is_none() && !world.moving.is_moving()).then(|| world.clone());
    let mut facts = apply(clients, spec, &plan, Facts::from(spec, &world), waiting, printer).await?;
    // A move to another name goes in steps, each once the one before has
    // deployed (resources::domain_move): waiting, take them in this run.
    let mut world = world;
    for _ in 0..3 {
        if !opts.wait || !world.moving.is_moving() {
            break;
        }
        world = observe(clients, spec, waiting, None).await?;
        let next = plan::up(spec, &world, &opts).map_err(refused)?;
        if args.keep_everything && !plan::removals(&next, &world, spec).is_empty() {
            facts.notes.push(
                "the custom domain's move ends with removing the old name, which `deploy` never does: run `cdnctl up` to finish it (the old name keeps serving meanwhile)".into(),
            );
            break;
        }
        let more = apply(clients, spec, &next, Facts::from(spec, &world), waiting, printer).await?;
        facts.notes.extend(more.notes);
        facts.distribution = more.distribution;
    }
    for note in plan.notes.iter().chain(&facts.notes) {
        printer.info(&format!("note: {note}"));
    }

    let d = facts.distribution.as_ref();
    let cdn_domain = d.map(|d| d.domain_name.clone()).unwrap_or_default();
    let custom = spec.domain.as_ref().map(|d| d.name.clone());
    let result = json!({
        "bucket": spec.bucket,
        "region": spec.region,
        "distribution_id": d.map(|d| d.id.clone()),
        "distribution_domain": cdn_domain,
        "url": format!("https://{cdn_domain}/"),
        "custom_url": custom.as_ref().map(|c| format!("https://{c}/")),
        "changes": plan.writes().count(),
        "waited": opts.wait,
        "notes": plan.notes.iter().chain(&facts.notes).collect::<Vec<_>>(),
    });
    let mut summary = ci::changes_summary(
        format!("cdnctl up {}: {changes} changes", ci::code(&spec.bucket)),
        &plan,
    )
    .notes(&facts.notes);
    if d.is_some() {
        summary.link("CloudFront", &format!("https://{cdn_domain}/"));
    }
    if let Some(c) = &custom {
        summary.link("custom domain", &format!("https://{c}/"));
    }
    summary.write(printer);
    if printer.json {
        printer.json(&result);
    } else {
        printer.result(&format!("bucket:       {} ({})", spec.bucket, spec.region));
        if let Some(d) = d {
            printer.result(&format!("distribution: {} ({})", d.id, d.domain_name));
        }
        printer.result(&format!("url:          https://{cdn_domain}/"));
        if let Some(c) = &custom {
            printer.result(&format!("custom url:   https://{c}/"));
        }
        if !opts.wait {
            printer.info("CloudFront is still deploying: `cdnctl status` tells when it is done.");
        }
    }
    Ok(Upshot {
        exit: Exit::Success,
        distribution_id: d.map(|d| d.id.clone()),
        url: Some(custom.map_or_else(|| format!("https://{cdn_domain}/"), |c| format!("https://{c}/"))),
        report: result,
        changes,
        unchanged,
    })
}

/// Removals `up` makes only when asked: none at all inside `deploy` (the
/// command CI runs many times a day), and the custom domain only with
/// `--remove-domain` (restoring it takes a new certificate and its DNS
/// validation). Found before any write.
fn withhold(spec: &Spec, world: &World, plan: &Plan, args: &UpArgs) -> Result<(), Failed> {
    let all = plan::removals(plan, world, spec);
    if args.keep_everything {
        if all.is_empty() {
            return Ok(());
        }
        let mut lines = plan::explain(
            "deploy never removes anything, and this plan would:",
            &all,
            dotenv::loaded(),
        );
        if let (true, Some(domain)) = (world.moving.is_moving(), &spec.domain) {
            lines.push(format!(
                "the custom domain is moving to {}: `cdnctl up` moves it (the old name serves until the new one works)",
                domain.name
            ));
        }
        lines.push("run `cdnctl up` to see the plan and make these removals on purpose".into());
        return Err(Failed::Withheld(lines));
    }
    let domain: Vec<_> = all.into_iter().filter(|r| r.domain).collect();
    if spec.domain.is_none() && !args.remove_domain && !domain.is_empty() {
        let mut lines = plan::explain(
            "the settings name no custom domain, and this plan would remove the stack's:",
            &domain,
            dotenv::loaded(),
        );
        lines.push(
            "set SUBDOMAIN and HOSTED_ZONE_NAME to keep it, or run `cdnctl up --remove-domain` to remove it (restoring it takes a new certificate and minutes of DNS validation)".into(),
        );
        return Err(Failed::Withheld(lines));
    }
    Ok(())
}
