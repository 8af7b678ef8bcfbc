//! `cdnctl up`: plan toward the spec, then apply.

use serde_json::json;

use super::{now, refused};
use crate::apply::apply;
use crate::resources::Kind;
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
        return Ok(if plan.writes().next().is_some() {
            Exit::Drift
        } else {
            Exit::Success
        });
    }

    if plan.changes.is_empty() {
        printer.info("Everything is up to date.");
    }
    let mut facts = apply(clients, spec, &plan, plan::facts(spec, &world), waiting, printer).await?;
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
        let more = apply(clients, spec, &next, plan::facts(spec, &world), waiting, printer).await?;
        facts.set(Kind::Distribution, more.get(Kind::Distribution).cloned());
        facts.notes.extend(more.notes);
    }
    for note in plan.notes.iter().chain(&facts.notes) {
        printer.info(&format!("note: {note}"));
    }

    let d = facts.get(Kind::Distribution);
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
        if let Some(c) = custom {
            printer.result(&format!("custom url:   https://{c}/"));
        }
        if !opts.wait {
            printer.info("CloudFront is still deploying: `cdnctl status` tells when it is done.");
        }
    }
    Ok(Exit::Success)
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
