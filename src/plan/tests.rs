//! Table tests of the pure plan: sample worlds in, ordered steps out (in the
//! order `apply` runs them: by round, then as planned).

use std::collections::BTreeMap;

use super::*;
use crate::resources::{bucket, distribution, domain_move, oac};
use crate::settings::Flags;
use crate::settings::Settings;
use crate::spec::Headers;

const BUCKET: &str = "b-1";

fn spec(extra: &[(&str, &str)]) -> Spec {
    let env: BTreeMap<String, String> = [("BUCKET_NAME", BUCKET)]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1")
}

/// Nothing of the stack exists.
fn nothing() -> World {
    World {
        bucket: bucket::State::Absent,
        oac: None,
        headers_policy: None,
        distribution: None,
        duplicate_distributions: Vec::new(),
        alias_taken_by: None,
        listing: distribution::Listing::default(),
        zone: None,
        zone_id: None,
        records: None,
        wildcard_records: None,
        certificate: None,
        validation_record: None,
        spare_certificates: Vec::new(),
        stale_records: Vec::new(),
        moving: domain_move::Phase::None,
        objects: None,
        store: None,
        function: None,
    }
}

fn bucket_tagged(tags: BTreeMap<String, String>) -> bucket::State {
    bucket::State::Present(bucket::Observed {
        tags,
        ..Default::default()
    })
}

fn an_oac() -> oac::Observed {
    oac::Observed {
        id: "OAC1".into(),
        origin_type: "s3".into(),
        signing_behavior: "always".into(),
        signing_protocol: "sigv4".into(),
    }
}

fn a_distribution(spec: &Spec, tags: BTreeMap<String, String>, enabled: bool, status: &str) -> distribution::Observed {
    let links = distribution::Links {
        oac_id: "OAC1",
        headers_policy_id: match &spec.headers {
            Headers::Managed { id, .. } => id,
            Headers::Owned(_) => "HP1",
        },
        certificate_arn: None,
        keep_aliases: &[],
        function_arn: None,
    };
    let mut config = distribution::new_config(spec, links).unwrap();
    config.enabled = enabled;
    distribution::Observed {
        id: "E1".into(),
        arn: "arn:aws:cloudfront::123456789012:distribution/E1".into(),
        domain_name: "d1.cloudfront.net".into(),
        status: status.into(),
        etag: "ETAG1".into(),
        config,
        tags,
    }
}

/// The steps in the order `apply` runs them.
/// Each step with the round `apply` starts it in (every step taking as
/// long), in that order, then as planned.
fn ordered(plan: &Plan) -> Vec<(usize, Step)> {
    let rounds = crate::resources::kit::rounds(&plan.waits()).expect("no step waits for itself");
    let mut steps: Vec<(usize, Step)> = plan
        .changes
        .iter()
        .zip(rounds)
        .map(|(c, r)| (r, c.step.clone()))
        .collect();
    steps.sort_by_key(|(round, _)| *round);
    steps
}

fn up_opts(wait: bool) -> UpOptions {
    UpOptions {
        adopt: false,
        end_public_access: false,
        wait,
        now: 1_700_000_000,
    }
}

fn down_opts(wait: bool, purge: bool) -> DownOptions {
    DownOptions {
        wait,
        purge,
        max_deletes: 10,
    }
}

#[test]
fn up_from_nothing_creates_in_dependency_order() {
    use bucket::Setting::*;
    let spec = spec(&[]);
    let own_headers = matches!(spec.headers, Headers::Owned(_));
    let plan = up(&spec, &nothing(), &up_opts(true)).unwrap();
    let mut want = vec![(0, bucket::Step::Create.into()), (0, oac::Step::Create.into())];
    if own_headers {
        want.push((0, response_headers::Step::Create.into()));
    }
    want.extend([
        (1, bucket::Step::Put(PublicAccessBlock).into()),
        (1, bucket::Step::Put(Encryption).into()),
        (1, bucket::Step::Put(Cors).into()),
        (1, bucket::Step::Put(Tags).into()),
        (1, distribution::Step::Create.into()),
        (2, bucket::Step::Put(Policy).into()),
        (2, distribution::Step::WaitDeployed { id: String::new() }.into()),
    ]);
    assert_eq!(ordered(&plan), want);
    assert!(plan.notes.is_empty());
    // A new distribution is shown by what it will be, not only its comment.
    let create = plan
        .changes
        .iter()
        .find(|c| c.step == distribution::Step::Create.into())
        .unwrap();
    assert_eq!(
        create.details[0],
        format!("origin: {BUCKET}.s3.eu-west-1.amazonaws.com (through the origin access control)")
    );
    assert!(
        create
            .details
            .iter()
            .any(|d| d.starts_with("name: dxxxx.cloudfront.net")),
        "{:?}",
        create.details
    );
    assert!(
        create.details.iter().any(|d| d.starts_with("price class: PriceClass_")),
        "{:?}",
        create.details
    );
    // Without waiting, nothing waits.
    let plan = up(&spec, &nothing(), &up_opts(false)).unwrap();
    assert!(plan.changes.iter().all(|c| c.step.is_write()));
}

#[test]
fn preflight_refuses_what_is_not_the_stacks() {
    let spec = spec(&[]);
    let owned = spec.tags.clone();
    type Case = (&'static str, fn(&Spec, &mut World), bool, &'static [&'static str]);
    let cases: &[Case] = &[
        ("nothing exists", |_, _| {}, false, &[]),
        (
            "another account's bucket",
            |_, w| w.bucket = bucket::State::Foreign,
            false,
            &["BUCKET_NAME: bucket \"b-1\" exists but belongs to another AWS account"],
        ),
        (
            "an untagged bucket",
            |_, w| w.bucket = bucket_tagged(BTreeMap::new()),
            false,
            &["bucket b-1: exists but was not created by cdnctl for this stack"],
        ),
        (
            "an untagged bucket, adopted",
            |_, w| w.bucket = bucket_tagged(BTreeMap::new()),
            true,
            &[],
        ),
        (
            "an untagged distribution",
            |s, w| w.distribution = Some(a_distribution(s, BTreeMap::new(), true, "Deployed")),
            false,
            &["distribution E1: carries this stack's comment but not its cdnctl:stack tag"],
        ),
        (
            "an untagged distribution, adopted",
            |s, w| w.distribution = Some(a_distribution(s, BTreeMap::new(), true, "Deployed")),
            true,
            &[],
        ),
        (
            "two distributions",
            |_, w| w.duplicate_distributions = vec!["E2".into()],
            false,
            &["distribution: several carry this stack's comment (E2 besides the first)"],
        ),
    ];
    for (name, setup, adopt, want) in cases {
        let mut world = nothing();
        setup(&spec, &mut world);
        let opts = UpOptions {
            adopt: *adopt,
            ..up_opts(true)
        };
        let got = preflight(&spec, &world, &opts);
        assert_eq!(got.len(), want.len(), "{name}: {got:?}");
        for (refusal, start) in got.iter().zip(want.iter()) {
            assert!(
                refusal.0.starts_with(start),
                "{name}: {:?} does not start with {start:?}",
                refusal.0
            );
        }
        assert_eq!(up(&spec, &world, &opts).is_err(), !want.is_empty(), "{name}");
    }
    // A refused `up` is refused whole, and a tagged world is not refused.
    let mut world = nothing();
    world.bucket = bucket_tagged(owned.clone());
    world.distribution = Some(a_distribution(&spec, owned, true, "Deployed"));
    assert_eq!(preflight(&spec, &world, &up_opts(true)), vec![]);
}

#[test]
fn down_removes_in_reverse_dependency_order() {
    let spec = spec(&[]);
    let owned = spec.tags.clone();
    let stack = |enabled: bool, status: &str, objects: u64| {
        let mut w = nothing();
        w.bucket = bucket_tagged(owned.clone());
        w.oac = Some(an_oac());
        w.distribution = Some(a_distribution(&spec, owned.clone(), enabled, status));
        w.objects = Some(objects);
        w
    };
    let config = || Box::new(a_distribution(&spec, owned.clone(), true, "Deployed").config);
    let disable = || -> Step {
        distribution::Step::Disable {
            id: "E1".into(),
            etag: "ETAG1".into(),
            config: config(),
        }
        .into()
    };
    let wait = || -> Step { distribution::Step::WaitDeployed { id: "E1".into() }.into() };
    let delete = || -> Step { distribution::Step::Delete { id: "E1".into() }.into() };
    let oac_delete = || -> Step { oac::Step::Delete { id: "OAC1".into() }.into() };

    type Case = (&'static str, World, DownOptions, Vec<(usize, Step)>);
    let cases: Vec<Case> = vec![
        ("nothing exists", nothing(), down_opts(true, false), vec![]),
        (
            "enabled, without waiting: disable, the rest next run",
            stack(true, "Deployed", 0),
            down_opts(false, false),
            vec![(0, disable())],
        ),
        (
            "enabled, waiting: everything",
            stack(true, "Deployed", 0),
            down_opts(true, false),
            vec![
                (0, disable()),
                (1, wait()),
                (2, delete()),
                (3, oac_delete()),
                (4, bucket::Step::Delete.into()),
            ],
        ),
        (
            "disabled and deployed, without waiting: delete at once",
            stack(false, "Deployed", 0),
            down_opts(false, false),
            vec![(0, delete()), (1, oac_delete()), (2, bucket::Step::Delete.into())],
        ),
        (
            "files kept without --purge",
            stack(false, "Deployed", 3),
            down_opts(true, false),
            vec![(0, delete()), (1, oac_delete())],
        ),
        (
            "files purged",
            stack(false, "Deployed", 3),
            down_opts(true, true),
            vec![
                (0, delete()),
                (1, oac_delete()),
                (2, bucket::Step::Empty.into()),
                (3, bucket::Step::Delete.into()),
            ],
        ),
    ];
    for (name, world, opts, want) in cases {
        let plan = down(&spec, &world, &opts).unwrap_or_else(|r| panic!("{name}: refused: {r:?}"));
        assert_eq!(ordered(&plan), want, "{name}");
    }
}

#[test]
fn down_leaves_what_is_not_the_stacks_and_refuses_too_many_files() {
    let spec = spec(&[]);
    let owned = spec.tags.clone();

    // An untagged distribution: it, and what it may use, left alone.
    let mut world = nothing();
    world.bucket = bucket_tagged(owned.clone());
    world.oac = Some(an_oac());
    world.distribution = Some(a_distribution(&spec, BTreeMap::new(), true, "Deployed"));
    let plan = down(&spec, &world, &down_opts(true, false)).unwrap();
    assert_eq!(ordered(&plan), vec![]);
    assert!(plan.notes[0].starts_with("distribution E1: carries this stack's comment but not its cdnctl:stack tag"));

    // An untagged bucket: a note, no step.
    let mut world = nothing();
    world.bucket = bucket_tagged(BTreeMap::new());
    let plan = down(&spec, &world, &down_opts(true, true)).unwrap();
    assert_eq!(ordered(&plan), vec![]);
    assert_eq!(
        plan.notes,
        vec!["bucket b-1: not tagged as this stack's, left alone".to_string()]
    );

    // More files than --max-deletes: refused whole.
    let mut world = nothing();
    world.bucket = bucket_tagged(owned);
    world.objects = Some(11);
    let refused = down(&spec, &world, &down_opts(true, true)).unwrap_err();
    assert!(refused[0].0.contains("the --max-deletes limit"), "{refused:?}");
}

#[test]
fn up_with_a_domain_requests_the_certificate_first_and_points_records_last() {
    let spec = spec(&[("HOSTED_ZONE_NAME", "example.com"), ("SUBDOMAIN", "static")]);
    let mut world = nothing();
    world.zone_id = Some("Z1".into());
    let plan = up(&spec, &world, &up_opts(false)).unwrap();
    let steps = ordered(&plan);
    let request: Step = certificate::Step::Request {
        names: vec!["static.example.com".into()],
        serve: true,
    }
    .into();
    let upsert: Step = dns::Step::Upsert { zone_id: "Z1".into() }.into();
    assert!(steps.contains(&(0, request)), "{steps:?}");
    assert_eq!(steps.last(), Some(&(2, upsert)), "{steps:?}");
    let create = steps
        .iter()
        .position(|(_, s)| *s == distribution::Step::Create.into())
        .unwrap();
    assert_eq!(steps[create].0, 1);

    // A pending certificate is validated, not requested again.
    world.certificate = Some(certificate::Observed {
        arn: "arn:aws:acm:us-east-1:123456789012:certificate/c1".into(),
        status: certificate::Status::PendingValidation,
        names: vec!["static.example.com".into()],
        not_after: None,
        validation: None,
        validations: Vec::new(),
        key_algorithm: Some("RSA_2048".into()),
        owned: true,
    });
    let plan = up(&spec, &world, &up_opts(false)).unwrap();
    let validate: Step = certificate::Step::Validate {
        arn: "arn:aws:acm:us-east-1:123456789012:certificate/c1".into(),
    }
    .into();
    let certs: Vec<_> = ordered(&plan)
        .into_iter()
        .filter(|(_, s)| s.kind() == Kind::Certificate)
        .collect();
    assert_eq!(certs, vec![(0, validate)]);
}

#[test]
fn narrowed_cors_origins_invalidate_the_edge_after_the_bucket_rules() {
    let (a, b) = ("https://a.example", "https://b.example");
    let spec = spec(&[("CDN_CORS_ORIGINS", a)]);
    let owned = spec.tags.clone();
    let world = |origins: &[&str]| {
        let mut w = nothing();
        w.bucket = bucket::State::Present(bucket::Observed {
            tags: owned.clone(),
            cors: Some(crate::spec::Cors {
                allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
                ..spec.cors.clone()
            }),
            ..Default::default()
        });
        w.oac = Some(an_oac());
        w.distribution = Some(a_distribution(&spec, owned.clone(), true, "Deployed"));
        w
    };
    let invalidations = |plan: &Plan| -> Vec<(usize, Change)> {
        let rounds = crate::resources::kit::rounds(&plan.waits()).unwrap();
        (plan.changes.iter().zip(rounds))
            .filter(|(c, _)| matches!(c.step, Step::Distribution(distribution::Step::Invalidate { .. })))
            .map(|(c, r)| (r, c.clone()))
            .collect()
    };
    let round_of = |plan: &Plan, step: &Step| {
        let i = plan.changes.iter().position(|c| c.step == *step).unwrap();
        crate::resources::kit::rounds(&plan.waits()).unwrap()[i]
    };
    let plan = up(&spec, &world(&[a, b]), &up_opts(false)).unwrap();
    let cors = plan
        .changes
        .iter()
        .find(|c| c.step == bucket::Step::Put(bucket::Setting::Cors).into())
        .expect("the bucket's rules narrow");
    let got = invalidations(&plan);
    assert_eq!(got.len(), 1, "{:?}", plan.changes);
    let (stage, change) = &got[0];
    assert!(
        *stage > round_of(&plan, &cors.step),
        "invalidated before the rules narrow"
    );
    assert_eq!(change.action, "invalidate /* (cached CORS answers)");
    assert!(change.details[0].contains(b), "{:?}", change.details);
    let Step::Distribution(distribution::Step::Invalidate { id, reference, .. }) = &change.step else {
        unreachable!()
    };
    assert_eq!(id, "E1");
    // Each narrowing gets a reference of its own: a reused one invalidates nothing.
    let later = up(
        &spec,
        &world(&[a, b]),
        &UpOptions {
            now: 1_700_000_001,
            ..up_opts(false)
        },
    )
    .unwrap();
    let Step::Distribution(distribution::Step::Invalidate { reference: other, .. }) = &invalidations(&later)[0].1.step
    else {
        unreachable!()
    };
    assert_ne!(reference, other);

    // Converged, widened, or no distribution yet: nothing to invalidate.
    assert!(invalidations(&up(&spec, &world(&[a]), &up_opts(false)).unwrap()).is_empty());
    let wide = self::spec(&[("CDN_CORS_ORIGINS", &format!("{a},{b}"))]);
    assert!(invalidations(&up(&wide, &world(&[a]), &up_opts(false)).unwrap()).is_empty());
    let mut new = world(&[a, b]);
    new.distribution = None;
    assert!(invalidations(&up(&spec, &new, &up_opts(false)).unwrap()).is_empty());
}

#[test]
fn removals_are_found_from_the_steps_and_what_they_change() {
    let owned: BTreeMap<String, String> = [("cdnctl:stack".to_string(), BUCKET.to_string())].into();
    let with_domain = spec(&[("HOSTED_ZONE_NAME", "example.com"), ("SUBDOMAIN", "static")]);
    let mut world = nothing();
    world.bucket = bucket_tagged(owned.clone());
    world.oac = Some(an_oac());
    let mut d = a_distribution(&with_domain, owned, true, "Deployed");
    d.config.aliases = Some(
        aws_sdk_cloudfront::types::Aliases::builder()
            .quantity(1)
            .items("static.example.com")
            .build()
            .unwrap(),
    );
    d.config.web_acl_id = Some("arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1".into());
    world.distribution = Some(d);

    // Settings without the domain and WAF_ARN=none: the alias goes and the web
    // ACL is detached; only the first is the domain's, and the missing
    // settings are named.
    let spec = spec(&[("WAF_ARN", "none")]);
    let plan = up(&spec, &world, &up_opts(false)).unwrap();
    let found = removals(&plan, &world, &spec);
    let lines: Vec<(&str, bool)> = found.iter().map(|r| (r.what.as_str(), r.domain)).collect();
    assert_eq!(
        lines,
        vec![
            ("distribution E1: stop answering to static.example.com", true),
            (
                "distribution E1: detach WAF web ACL arn:aws:wafv2:us-east-1:123456789012:global/webacl/w/1",
                false
            ),
        ]
    );
    assert_eq!(
        explain("stop:", &found, None).last().unwrap(),
        "no ./.env here; SUBDOMAIN and HOSTED_ZONE_NAME are not set"
    );

    // Nothing to remove when the settings keep both.
    let plan = up(&with_domain, &world, &up_opts(false)).unwrap();
    assert_eq!(removals(&plan, &world, &with_domain), vec![]);
}

mod releases;
