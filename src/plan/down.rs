//! The plan toward nothing: what `down` removes of this stack's, and only
//! of this stack's.

use super::{Plan, Refusal};
use crate::observe::World;
use crate::resources::{bucket, certificate, distribution, dns, function, kvs, oac, response_headers};
use crate::spec::Spec;

pub struct DownOptions {
    pub wait: bool,
    pub purge: bool,
    pub max_deletes: u64,
}

/// Everything `down` must do to remove this stack's resources, and only them.
pub fn down(spec: &Spec, world: &World, opts: &DownOptions) -> Result<Plan, Vec<Refusal>> {
    let mut plan = Plan::default();
    let dist = world.owned_distribution(spec);
    // A distribution with the stack's comment but not its tag is not the
    // stack's: it, and everything it may use, is left alone.
    let untagged = world.distribution.as_ref().filter(|d| !spec.is_owned(&d.tags));

    // Never empty a bucket that a live distribution other than the stack's
    // own still serves: refuse the whole run, before any write.
    if opts.purge && world.objects.unwrap_or(0) > 0 {
        let mut serving = world.listing.serving(&spec.bucket);
        if let Some(d) = untagged.filter(|d| distribution::reads_from(&d.config, &spec.bucket)) {
            serving.insert(0, d.id.clone());
        }
        if !serving.is_empty() {
            return Err(vec![Refusal(format!(
                "bucket {}: --purge refused: distribution {} still serves files from it: \
                 remove this bucket from its origins (or delete that distribution) first",
                spec.bucket,
                serving.join(", ")
            ))]);
        }
    }
    if let Some(d) = untagged {
        plan.notes.push(format!(
            "distribution {}: carries this stack's comment but not its cdnctl:stack tag: left alone, \
             and with it the origin access control, certificate and bucket it may use",
            d.id
        ));
    }

    // DNS records, only where they point at this stack's distribution.
    if let (Some(records), Some(zone_id), Some(domain)) = (&world.records, &world.zone_id, &spec.domain) {
        let dist_domain = dist.map(|d| d.domain_name.as_str());
        plan.add(dns::down(records, zone_id, &domain.name, dist_domain));
        if let (Some(wild), Some(previews)) = (&world.wildcard_records, &spec.previews) {
            plan.add(dns::down(wild, zone_id, &previews.wildcard(), dist_domain));
        }
    }
    if let (Some(dns::Zone::Unusable(why)), Some(domain)) = (&world.zone, &spec.domain) {
        plan.notes.push(format!(
            "DNS {}: the records could not be checked ({why}); the rest is removed",
            domain.name
        ));
    }
    if dist.is_some() {
        plan.add(dns::delete_stale(&world.stale_records, "delete"));
    }

    // The distribution: disable, wait, delete. The OAC, certificates and
    // bucket follow only once it is gone, so a `--no-wait` run leaves them
    // for the next one.
    let mut distribution_gone = dist.is_none();
    if let Some(d) = dist {
        let (part, gone) = distribution::down(d, opts.wait);
        plan.add(part);
        distribution_gone = gone;
    }
    let free = distribution_gone && untagged.is_none();

    if let Some(o) = world.oac.as_ref().filter(|_| free) {
        plan.add(oac::down(o, &world.listing.using_oac(&o.id), &spec.oac_name));
    }
    let comment = crate::spec::comment(&spec.bucket);
    let name = function::name(&spec.bucket);
    if let Some(f) = world.function.as_ref().filter(|_| free) {
        plan.add(function::down(f, &name, &comment));
    }
    if let Some(s) = world.store.as_ref().filter(|_| free) {
        plan.add(kvs::down(s, &name, &comment));
    }
    if let Some(p) = world.headers_policy.as_ref().filter(|p| free && p.is_owned(&comment)) {
        plan.add(response_headers::down(p, &world.listing.using_headers_policy(&p.id)));
    }
    let owned_certs = world
        .certificate
        .iter()
        .filter(|c| c.owned)
        .chain(world.spare_certificates.iter());
    for c in owned_certs.filter(|_| free) {
        let zone_id = match &spec.domain {
            Some(d) if c.names.contains(&d.name) => world.zone_id.clone(),
            _ => None,
        };
        let users = world.listing.using_certificate(&c.arn);
        plan.add(certificate::down(c, &users, zone_id, opts.wait));
    }

    let objects = world.objects.unwrap_or(0);
    let bucket = bucket::down(&world.bucket, spec, objects, free, opts.purge, opts.max_deletes);
    plan.add(bucket.map_err(|why| vec![Refusal(why)])?);
    Ok(plan)
}
