//! The plan toward the spec: what `up` changes, and `status` reports.

use super::{Plan, Step, UpOptions};
use crate::observe::World;
use crate::release::route::Route;
use crate::resources::kit::{Facts, Known};
use crate::resources::Kind;
use crate::resources::{bucket, certificate, distribution, dns, domain_move, function, kvs, oac, response_headers};
use crate::settings::Setting;
use crate::spec::{Headers, Spec};

/// The changes that make the world match the spec, as if every resource
/// found were this stack's (`preflight` says when they are not).
pub fn changes(spec: &Spec, world: &World, opts: &UpOptions) -> Plan {
    let mut plan = Plan::default();
    let dist = world.distribution.as_ref();
    let owned_bucket = match &world.bucket {
        bucket::State::Present(o) => Some(o),
        _ => None,
    };

    let desired_policy = dist.map(|d| spec.policy(&d.arn));
    let (part, drop_public_reads) = bucket::up(owned_bucket, spec, desired_policy.as_ref(), opts.end_public_access);
    plan.add(part);
    plan.drop_public_reads = drop_public_reads;

    plan.add(oac::up(world.oac.as_ref(), &spec.oac_name));

    // The response headers policy, when no managed one gives what is asked.
    let owned_policy = world
        .headers_policy
        .as_ref()
        .filter(|p| p.is_owned(&crate::spec::comment(&spec.bucket)));
    if let Headers::Owned(want) = &spec.headers {
        plan.add(response_headers::up(owned_policy, want));
    }

    // The certificate, when cdnctl provides it.
    if let (Some(domain), None) = (&spec.domain, &spec.distribution.certificate_arn) {
        plan.add(certificate::up(
            world.certificate.as_ref(),
            &domain.name,
            domain_move::certificate_names(spec, &world.moving),
            world.moving.serving_certificate().is_none(),
            world.validation_record,
        ));
    }

    // Releases: the store holding the pointer, and the function reading it.
    let comment = crate::spec::comment(&spec.bucket);
    let releases = spec.releases > 0 && releases_free(world, &comment);
    if let Some(live) = release_kept(spec, world) {
        // Releases off in the settings, but a release is what visitors
        // get: without the function the edge would serve the bucket's
        // files in place, which are not that release. `deploy DIR` puts
        // them there first, then serves them in place.
        plan.notes.push(format!(
            "{}=0, but visitors get release {live} through function {}: it stays until `cdnctl deploy DIR` \
             publishes DIR in place and serves that instead (or set {} again)",
            Setting::Releases.name(),
            function::name(&spec.bucket),
            Setting::Releases.name(),
        ));
    } else if spec.releases == 0 && world.function.as_ref().is_some_and(|f| f.is_owned(&comment)) {
        // No release live: detaching the function changes no file a visitor
        // gets. The function and the store are then unused, and kept (they
        // hold the records of past releases) until `down`.
        let name = function::name(&spec.bucket);
        plan.notes.push(format!(
            "function {name} and key value store {name}: not used with {} 0: `cdnctl down` removes them with the stack",
            Setting::Releases.name(),
        ));
    }
    if spec.releases > 0 {
        let name = function::name(&spec.bucket);
        plan.add(kvs::up(world.store.as_ref(), &name, &comment));
        if releases {
            let arn = world.store.as_ref().map_or("(new)", |s| s.arn.as_str());
            plan.add(function::up(
                world.function.as_ref(),
                &name,
                &function::desired(spec, arn),
            ));
        }
    }

    // The distribution. The ids it links to are the observed ones; where one
    // is created in this run, the apply step fills it in.
    let known = facts(spec, world);
    let links = distribution::Links::planned(
        &known,
        spec.domain.is_some(),
        releases || release_kept(spec, world).is_some(),
    );
    plan.add(distribution::up(dist, spec, links));
    // Origins the bucket's CORS rules stop allowing: S3's answers for them
    // may sit in the edge's cache, served to every origin until they expire.
    let removed = bucket::removed_origins(owned_bucket, spec);
    plan.add(distribution::forget_cors_answers(
        dist.map(|d| d.id.as_str()),
        &removed,
        opts.now,
    ));

    if let (Some(domain), Some(zone_id)) = (&spec.domain, &world.zone_id) {
        let in_place = (world.records.as_ref()).is_some_and(|rs| dist.is_some_and(|d| rs.points_at(&d.domain_name)));
        plan.add(dns::up(&domain.name, zone_id, in_place));
        if let Some(previews) = &spec.previews {
            let in_place =
                (world.wildcard_records.as_ref()).is_some_and(|rs| dist.is_some_and(|d| rs.points_at(&d.domain_name)));
            plan.add(dns::wildcard(&previews.wildcard(), zone_id, in_place));
        }
    }

    // What the stack owns and no longer needs: records of a domain removed
    // from the settings, and certificates it requested that are dead or no
    // longer wanted (deleted once the distribution no longer uses them).
    // During a move to another name they go only once the new name serves.
    if dist.is_some_and(|d| spec.is_owned(&d.tags)) && world.moving.old_records_may_go() {
        plan.add(dns::delete_stale(
            &world.stale_records,
            "delete (no longer in the settings)",
        ));
    }
    if let (Headers::Managed { name, .. }, Some(p)) = (&spec.headers, owned_policy) {
        let users = world.listing.using_headers_policy(&p.id);
        plan.add(response_headers::retire(p, name, &users, opts.wait));
    }
    for c in &world.spare_certificates {
        let serving = world.moving.serving_certificate() == Some(c.arn.as_str());
        plan.add(certificate::retire(
            c,
            &world.listing.using_certificate(&c.arn),
            serving,
            opts.wait,
        ));
    }

    if opts.wait {
        let deployed = dist.is_some_and(|d| d.status == distribution::Deployment::Deployed);
        let touches_distribution = plan.changes.iter().any(|c| {
            matches!(
                c.step,
                Step::Distribution(distribution::Step::Create | distribution::Step::Update { .. })
            )
        });
        if !deployed || touches_distribution {
            let id = dist.map(|d| d.id.clone()).unwrap_or_default();
            plan.push(
                distribution::Step::WaitDeployed { id },
                "distribution",
                "wait until deployed",
                vec![],
            );
        }
    }
    plan
}

/// What the observed world already tells of the stack's resources: where
/// `apply` starts from, and what the plan shows for ids not yet known.
pub fn facts(spec: &Spec, world: &World) -> Facts {
    let mut facts = Facts::default();
    facts.set(Kind::OriginAccessControl, world.oac.as_ref().map(|o| Known::id(&o.id)));
    facts.set(
        Kind::ResponseHeadersPolicy,
        headers_policy_id(spec, world).map(Known::id),
    );
    facts.set(Kind::Certificate, certificate_arn(spec, world).map(Known::id));
    facts.set(
        Kind::Distribution,
        world.distribution.as_ref().map(|d| Known {
            id: d.id.clone(),
            arn: d.arn.clone(),
            domain_name: d.domain_name.clone(),
        }),
    );
    let comment = crate::spec::comment(&spec.bucket);
    if let Some(s) = world.store.as_ref().filter(|s| s.is_owned(&comment)) {
        facts.set(
            Kind::KeyValueStore,
            Some(Known {
                id: s.id.clone(),
                arn: s.arn.clone(),
                domain_name: String::new(),
            }),
        );
    }
    let runs = spec.releases > 0 || release_kept(spec, world).is_some();
    if let Some(f) = world.function.as_ref().filter(|f| runs && f.is_owned(&comment)) {
        facts.set(
            Kind::Function,
            Some(Known {
                id: function::name(&spec.bucket),
                arn: f.arn.clone(),
                domain_name: String::new(),
            }),
        );
    }
    facts.zone_id = world.zone_id.clone();
    facts.keep_aliases = world.moving.keep_aliases().to_vec();
    facts
}

/// With releases off in the settings, the release the stack's function
/// still serves: it stays attached, since detaching it would serve the
/// bucket's files in place (stale, or none) instead.
pub fn release_kept(spec: &Spec, world: &World) -> Option<String> {
    let dist = world.distribution.as_ref()?;
    distribution::runs_function(&dist.config, &spec.bucket)?;
    let comment = crate::spec::comment(&spec.bucket);
    let store = world.store.as_ref().filter(|s| s.is_owned(&comment))?;
    let live = store.live.as_deref().filter(|_| spec.releases == 0)?;
    // `live` holds the live release's route: its newest release is the one.
    Some(Route::parse(live).map_or_else(|| live.to_string(), |r| r.head().to_string()))
}

/// Neither the store nor the function of the stack's name belongs to
/// someone else (else they are left alone and releases stay off).
fn releases_free(world: &World, comment: &str) -> bool {
    world.store.as_ref().is_none_or(|s| s.is_owned(comment))
        && world.function.as_ref().is_none_or(|f| f.is_owned(comment))
}

/// The response headers policy the distribution should use: the managed
/// one, or the stack's own once it exists.
pub fn headers_policy_id<'a>(spec: &'a Spec, world: &'a World) -> Option<&'a str> {
    match &spec.headers {
        Headers::Managed { id, .. } => Some(id),
        Headers::Owned(want) => world
            .headers_policy
            .as_ref()
            .filter(|p| p.is_owned(&want.comment))
            .map(|p| p.id.as_str()),
    }
}

/// The certificate the distribution should use: the given one, else the
/// stack's own once it is issued.
pub fn certificate_arn<'a>(spec: &'a Spec, world: &'a World) -> Option<&'a str> {
    let given = spec.distribution.certificate_arn.as_deref();
    given.or(world.moving.serving_certificate()).or_else(|| {
        world
            .certificate
            .as_ref()
            .filter(|c| c.owned && c.status == certificate::Status::Issued)
            .map(|c| c.arn.as_str())
    })
}
