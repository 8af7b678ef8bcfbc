//! The plan of a stack with releases: the key value store, the function and
//! the distribution's association, in dependency order both ways.

use super::*;

const STORE_ARN: &str = "arn:aws:cloudfront::123456789012:key-value-store/K1";
const FUNCTION_ARN: &str = "arn:aws:cloudfront::123456789012:function/cdnctl-b-1";

fn a_store(spec: &Spec) -> crate::resources::kvs::Observed {
    crate::resources::kvs::Observed {
        id: "K1".into(),
        arn: STORE_ARN.into(),
        comment: crate::spec::comment(&spec.bucket),
        status: "READY".into(),
        live: None,
        layout: Some(crate::resources::kvs::LAYOUT_VERSION.into()),
    }
}

fn a_function(spec: &Spec) -> crate::resources::function::Observed {
    let stage = crate::resources::function::desired(spec, STORE_ARN);
    crate::resources::function::Observed {
        arn: FUNCTION_ARN.into(),
        development: stage.clone(),
        live: Some(stage),
    }
}

/// The round of the first step matching `step`.
fn round_of(ordered: &[(usize, Step)], step: impl Into<Step>) -> usize {
    let step = step.into();
    ordered
        .iter()
        .find(|(_, s)| *s == step)
        .unwrap_or_else(|| panic!("{step:?} not planned: {ordered:?}"))
        .0
}

#[test]
fn up_with_releases_makes_the_store_then_the_function_then_the_distribution() {
    use crate::resources::{function, kvs};
    let spec = spec(&[("CDN_RELEASES", "3")]);
    let steps = ordered(&up(&spec, &nothing(), &up_opts(true)).unwrap());
    let at = |s: Step| round_of(&steps, s);
    assert_eq!(at(kvs::Step::Create.into()), 0);
    assert_eq!(at(kvs::Step::Seed.into()), 1);
    assert_eq!(at(function::Step::Create.into()), 1);
    assert_eq!(at(function::Step::Publish.into()), 2);
    assert_eq!(at(distribution::Step::Create.into()), 3);
    assert_eq!(at(distribution::Step::WaitDeployed { id: String::new() }.into()), 4);

    // Off (the default): none of it.
    let off = up(&self::spec(&[]), &nothing(), &up_opts(true)).unwrap();
    assert!(
        off.changes
            .iter()
            .all(|c| !matches!(c.step, Step::Function(_) | Step::Store(_))),
        "{off:?}"
    );
}

#[test]
fn releases_on_for_a_live_stack_associate_the_published_function() {
    use crate::resources::function;
    let spec = spec(&[("CDN_RELEASES", "3")]);
    let owned = spec.tags.clone();
    let mut world = nothing();
    world.bucket = bucket_tagged(owned.clone());
    world.oac = Some(an_oac());
    world.distribution = Some(a_distribution(&spec, owned, true, "Deployed"));

    // Store and function exist and are published: only the association.
    world.store = Some(a_store(&spec));
    world.function = Some(a_function(&spec));
    let plan = up(&spec, &world, &up_opts(false)).unwrap();
    let update = plan
        .changes
        .iter()
        .find(|c| matches!(c.step, Step::Distribution(distribution::Step::Update { .. })))
        .expect("the distribution is updated");
    assert_eq!(
        update.details,
        [format!("viewer-request function: none → {FUNCTION_ARN}")]
    );
    assert!(plan
        .changes
        .iter()
        .all(|c| !matches!(c.step, Step::Function(_) | Step::Store(_))));

    // A function whose LIVE stage lags: published before the distribution names it.
    let mut lagging = a_function(&spec);
    lagging.live.as_mut().unwrap().code = "old".into();
    world.function = Some(lagging);
    let steps = ordered(&up(&spec, &world, &up_opts(false)).unwrap());
    let publish = round_of(&steps, function::Step::Publish);
    let update = steps
        .iter()
        .find(|(_, s)| matches!(s, Step::Distribution(distribution::Step::Update { .. })))
        .unwrap()
        .0;
    assert!(publish < update, "{steps:?}");
    assert!(!steps.iter().any(|(_, s)| *s == function::Step::Update.into()));

    // Code that differs: update DEVELOPMENT, then publish.
    let mut changed = a_function(&spec);
    changed.development.code = "old".into();
    changed.live = Some(changed.development.clone());
    world.function = Some(changed);
    let plan = up(&spec, &world, &up_opts(false)).unwrap();
    let steps = ordered(&plan);
    assert!(round_of(&steps, function::Step::Update) < round_of(&steps, function::Step::Publish));
    let update = plan
        .changes
        .iter()
        .find(|c| c.step == function::Step::Update.into())
        .unwrap();
    assert_eq!(update.details.len(), 1, "{:?}", update.details);
    assert!(
        update.details[0].starts_with("code: 3 bytes → "),
        "{:?}",
        update.details
    );

    // A store of the stack's name that is someone else's: left alone, no function.
    let mut foreign = a_store(&spec);
    foreign.comment = "hand-made".into();
    world.store = Some(foreign);
    world.function = None;
    let plan = up(&spec, &world, &up_opts(false)).unwrap();
    assert!(plan
        .changes
        .iter()
        .all(|c| !matches!(c.step, Step::Function(_) | Step::Store(_))));
    assert!(
        plan.notes.iter().any(|n| n.contains("not this stack's")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn down_with_releases_disassociates_then_deletes_function_then_store() {
    use crate::resources::{function, kvs};
    let spec = spec(&[("CDN_RELEASES", "3")]);
    let owned = spec.tags.clone();
    let mut world = nothing();
    world.bucket = bucket_tagged(owned.clone());
    world.oac = Some(an_oac());
    world.distribution = Some(a_distribution(&spec, owned, true, "Deployed"));
    world.store = Some(a_store(&spec));
    world.function = Some(a_function(&spec));
    world.objects = Some(0);
    let steps = ordered(&down(&spec, &world, &down_opts(true, false)).unwrap());
    let at = |s: Step| round_of(&steps, s);
    let delete = at(distribution::Step::Delete { id: "E1".into() }.into());
    assert_eq!(delete, 2);
    assert_eq!(at(function::Step::Delete.into()), 3);
    assert_eq!(at(kvs::Step::Delete.into()), 4);
    assert_eq!(at(bucket::Step::Delete.into()), 5);

    // Without waiting, the distribution stays, and so do they.
    let steps = ordered(&down(&spec, &world, &down_opts(false, false)).unwrap());
    assert!(steps
        .iter()
        .all(|(_, s)| !matches!(s, Step::Function(_) | Step::Store(_))));
}

#[test]
fn the_function_association_keeps_what_was_added_by_hand() {
    use aws_sdk_cloudfront::types::{
        CacheBehavior, CacheBehaviors, EventType, FunctionAssociation, FunctionAssociations,
    };
    let association = |arn: &str, event: EventType| {
        FunctionAssociation::builder()
            .function_arn(arn)
            .event_type(event)
            .build()
            .unwrap()
    };
    let list = |items: Vec<FunctionAssociation>| {
        FunctionAssociations::builder()
            .quantity(items.len() as i32)
            .set_items(Some(items))
            .build()
            .unwrap()
    };
    let theirs = "arn:aws:cloudfront::123456789012:function/hand-made";
    let spec = spec(&[("CDN_RELEASES", "3")]);
    let links = |function_arn| distribution::Links {
        oac_id: "OAC1",
        headers_policy_id: match &spec.headers {
            Headers::Managed { id, .. } => id,
            Headers::Owned(_) => "HP1",
        },
        certificate_arn: None,
        keep_aliases: &[],
        function_arn,
    };
    let mut config = distribution::new_config(&spec, links(None)).unwrap();
    // By hand: a viewer-response function on the default behavior, and a
    // viewer-request one on another behavior.
    config.default_cache_behavior.as_mut().unwrap().function_associations =
        Some(list(vec![association(theirs, EventType::ViewerResponse)]));
    let other = CacheBehavior::builder()
        .path_pattern("/api/*")
        .target_origin_id("api")
        .viewer_protocol_policy(aws_sdk_cloudfront::types::ViewerProtocolPolicy::HttpsOnly)
        .function_associations(list(vec![association(theirs, EventType::ViewerRequest)]))
        .build()
        .unwrap();
    config.cache_behaviors = Some(
        CacheBehaviors::builder()
            .quantity(1)
            .items(other.clone())
            .build()
            .unwrap(),
    );

    // On: the stack's function is added beside the hand-made ones.
    let (on, changes) = distribution::reconcile(&config, &spec, links(Some(FUNCTION_ARN))).unwrap();
    assert_eq!(changes, [format!("viewer-request function: none → {FUNCTION_ARN}")]);
    let default = on
        .default_cache_behavior
        .as_ref()
        .unwrap()
        .function_associations
        .as_ref()
        .unwrap();
    assert_eq!(
        default.items(),
        [
            association(theirs, EventType::ViewerResponse),
            association(FUNCTION_ARN, EventType::ViewerRequest)
        ]
    );
    assert_eq!(
        on.cache_behaviors.as_ref().unwrap().items(),
        std::slice::from_ref(&other)
    );

    // Off: the stack's goes, the hand-made ones stay; a hand-made
    // viewer-request function on the default behavior stays too.
    let (off, changes) = distribution::reconcile(&on, &spec, links(None)).unwrap();
    assert_eq!(changes, [format!("viewer-request function: {FUNCTION_ARN} → none")]);
    let default = off
        .default_cache_behavior
        .as_ref()
        .unwrap()
        .function_associations
        .as_ref()
        .unwrap();
    assert_eq!(default.items(), [association(theirs, EventType::ViewerResponse)]);
    assert_eq!(off.cache_behaviors.as_ref().unwrap().items(), [other]);
    let mut hand = off.clone();
    hand.default_cache_behavior.as_mut().unwrap().function_associations =
        Some(list(vec![association(theirs, EventType::ViewerRequest)]));
    let (kept, changes) = distribution::reconcile(&hand, &spec, links(None)).unwrap();
    assert!(changes.is_empty(), "{changes:?}");
    assert_eq!(kept, hand);
}

#[test]
fn releases_turned_off_keep_a_live_release_and_detach_an_unused_function() {
    let on = spec(&[("CDN_RELEASES", "3")]);
    let owned = on.tags.clone();
    let mut world = nothing();
    world.bucket = bucket_tagged(owned.clone());
    world.oac = Some(an_oac());
    let mut d = a_distribution(&on, owned, true, "Deployed");
    let links = distribution::Links {
        oac_id: "OAC1",
        headers_policy_id: match &on.headers {
            Headers::Managed { id, .. } => id,
            Headers::Owned(_) => "HP1",
        },
        certificate_arn: None,
        keep_aliases: &[],
        function_arn: Some(FUNCTION_ARN),
    };
    d.config = distribution::reconcile(&d.config, &on, links).unwrap().0;
    world.distribution = Some(d);
    world.store = Some(a_store(&on));
    world.function = Some(a_function(&on));
    // With releases on, nothing is removed.
    let plan = up(&on, &world, &up_opts(false)).unwrap();
    assert!(removals(&plan, &world, &on).is_empty(), "{plan:?}");

    // CDN_RELEASES missing (0), a release live: the function stays (the
    // bucket's files in place are not that release), and says why.
    let off = spec(&[]);
    world.store.as_mut().unwrap().live = Some("r1".into());
    assert_eq!(release_kept(&off, &world).as_deref(), Some("r1"));
    let plan = up(&off, &world, &up_opts(false)).unwrap();
    assert!(removals(&plan, &world, &off).is_empty(), "{plan:?}");
    assert!(
        !plan
            .changes
            .iter()
            .any(|c| c.details.iter().any(|l| l.contains("viewer-request function"))),
        "{plan:?}"
    );
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("visitors get release r1") && n.contains("CDN_RELEASES=0")),
        "{:?}",
        plan.notes
    );

    // No release live: the function serves the files in place already, so
    // detaching it is no removal; the function and store stay for `down`.
    world.store.as_mut().unwrap().live = None;
    assert_eq!(release_kept(&off, &world), None);
    let plan = up(&off, &world, &up_opts(false)).unwrap();
    assert!(removals(&plan, &world, &off).is_empty(), "{plan:?}");
    assert!(
        plan.changes
            .iter()
            .any(|c| c.details.iter().any(|l| l.contains("viewer-request function"))),
        "{plan:?}"
    );
    assert!(
        plan.notes.iter().any(|n| n.contains("`cdnctl down` removes them")),
        "{:?}",
        plan.notes
    );
    assert!(
        !plan.changes.iter().any(|c| c.resource.starts_with("function")),
        "{plan:?}"
    );
}
