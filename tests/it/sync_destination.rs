//! How `sync` finds the stack's distribution: the one its bucket policy's
//! `CloudFrontRead` statement names, when it carries the stack's tag, with no
//! ListDistributions however many distributions the account holds; else
//! (another distribution named, one that is gone, no policy) the listing, as
//! `up` finds it, and never an invalidation for a distribution that is not
//! the stack's.

use serde_json::{json, Value};

use crate::harness::{self, block_on, clients, Clients, Request, Stack, ACCOUNT};
use crate::inspect::{distribution_of, distribution_reading};
use crate::sync::{sync, write};

/// ListDistributions, any page (GetDistribution is `/distribution/ID`).
fn lists_distributions(r: &Request) -> bool {
    r.op.split('?').next() == Some("GET /2020-05-31/distribution")
}

fn reads_policy(stack: &Stack, r: &Request) -> bool {
    r.op == format!("GET /{}/?policy", stack.bucket)
}

/// The paths of each invalidation distribution `id` received, sorted.
fn invalidated(c: &Clients, id: &str) -> Vec<Vec<String>> {
    block_on(async {
        let list = c
            .cloudfront
            .list_invalidations()
            .distribution_id(id)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for s in list.invalidation_list().map(|l| l.items().to_vec()).unwrap_or_default() {
            let i = c
                .cloudfront
                .get_invalidation()
                .distribution_id(id)
                .id(s.id())
                .send()
                .await
                .unwrap();
            let mut paths = i
                .invalidation
                .unwrap()
                .invalidation_batch
                .unwrap()
                .paths
                .unwrap()
                .items()
                .to_vec();
            paths.sort();
            out.push(paths);
        }
        out
    })
}

fn distribution_count(c: &Clients) -> usize {
    block_on(async {
        let mut n = 0;
        let mut pages = c.cloudfront.list_distributions().into_paginator().send();
        while let Some(page) = pages.next().await {
            n += page.unwrap().distribution_list.map_or(0, |l| l.items().len());
        }
        n
    })
}

fn arn_of(c: &Clients, id: &str) -> String {
    block_on(c.cloudfront.get_distribution().id(id).send())
        .unwrap()
        .distribution
        .unwrap()
        .arn
}

/// The bucket policy with its CloudFrontRead statement naming `arn`.
fn name_in_policy(c: &Clients, bucket: &str, arn: &str) {
    block_on(async {
        let current = c.s3.get_bucket_policy().bucket(bucket).send().await.unwrap();
        let mut policy: Value = serde_json::from_str(current.policy().unwrap()).unwrap();
        let statements = policy["Statement"].as_array_mut().unwrap();
        let grant = statements.iter_mut().find(|s| s["Sid"] == "CloudFrontRead").unwrap();
        grant["Condition"] = json!({"StringEquals": {"AWS:SourceArn": arn}});
        c.s3.put_bucket_policy()
            .bucket(bucket)
            .policy(policy.to_string())
            .send()
            .await
            .unwrap();
    });
}

/// Sync DIR with `index.html` changed to `content`: its requests, and the
/// run's report.
fn sync_changed(stack: &Stack, content: &str) -> (Vec<Request>, Value) {
    let dir = stack.dir().join("site");
    write(&dir, "index.html", content.as_bytes());
    let before = stack.requests().len();
    let out = sync(stack, &dir, &[]).ok().json();
    (stack.requests()[before..].to_vec(), out)
}

#[test]
fn sync_finds_its_distribution_through_the_bucket_policy_without_listing_distributions() {
    let stack = Stack::new("syncpolicy");
    let c = clients(&stack);
    // More than a page (100) of distributions in the account, whatever the
    // other tests sharing the emulator made.
    let missing = 101usize.saturating_sub(distribution_count(&c));
    let fillers: Vec<String> = (0..missing).map(|i| format!("{}-filler{i}", stack.bucket)).collect();
    block_on(async {
        for chunk in fillers.chunks(20) {
            futures_util::future::join_all(chunk.iter().map(|f| distribution_reading(&c, f))).await;
        }
    });
    stack.run(&["up"]).ok();
    assert!(distribution_count(&c) > 101, "{}", distribution_count(&c));
    let own = block_on(distribution_of(&c, &stack.bucket)).unwrap().id;
    let (_, out) = sync_changed(&stack, "<h1>v1</h1>");
    assert_eq!(out["uploaded"], 1, "{out}");

    // Later than the run before (as CI's deploys are), every request slowed
    // so that the requests of one round overlap.
    std::thread::sleep(std::time::Duration::from_secs(6));
    stack.configure(json!({"delay_ms": 500}));
    let (requests, out) = sync_changed(&stack, "<h1>v2</h1>");
    assert_eq!(out["invalidation"]["path_count"], 2, "{out}");
    let listed: Vec<&str> = requests
        .iter()
        .filter(|r| lists_distributions(r))
        .map(|r| r.op.as_str())
        .collect();
    assert_eq!(listed, Vec::<&str>::new(), "no ListDistributions");
    assert_eq!(
        requests.iter().filter(|r| reads_policy(&stack, r)).count(),
        1,
        "{requests:#?}"
    );
    // The policy's read goes with the bucket's, its distribution's tags
    // while the listing is served: as few round trips in a row as with one
    // page of distributions.
    let rounds = harness::depth(&requests);
    assert!(rounds <= 5, "{rounds} round trips in a row: {requests:#?}");
    assert_eq!(
        invalidated(&c, &own),
        [vec!["/".to_string(), "/index.html".to_string()]],
        "the stack's own distribution is invalidated"
    );
}

#[test]
fn a_policy_naming_another_distribution_falls_back_to_the_listing() {
    let (stack, c) = harness::stack_up("syncpolicyother");
    let own = block_on(distribution_of(&c, &stack.bucket)).unwrap().id;
    sync_changed(&stack, "<h1>v1</h1>");
    // Someone else's distribution reading the bucket, untagged, named in the
    // CloudFront grant by hand.
    let other = block_on(distribution_reading(&c, &stack.bucket));
    let other_arn = arn_of(&c, &other);
    name_in_policy(&c, &stack.bucket, &other_arn);

    let (requests, out) = sync_changed(&stack, "<h1>v2</h1>");
    assert_eq!(out["invalidation"]["path_count"], 2, "{out}");
    assert!(
        requests
            .iter()
            .any(|r| r.op.contains("/tagging?") && r.op.contains(&other)),
        "the named distribution's tags are read: {requests:#?}"
    );
    assert!(requests.iter().any(lists_distributions), "{requests:#?}");
    assert_eq!(invalidated(&c, &own).len(), 1, "the stack's own is invalidated");
    assert!(invalidated(&c, &other).is_empty(), "the named, untagged one is not");

    // A distribution that is gone: the listing again.
    name_in_policy(
        &c,
        &stack.bucket,
        &format!("arn:aws:cloudfront::{ACCOUNT}:distribution/EGONE00000000"),
    );
    let (requests, out) = sync_changed(&stack, "<h1>v3</h1>");
    assert_eq!(out["invalidation"]["path_count"], 2, "{out}");
    assert!(requests.iter().any(lists_distributions), "{requests:#?}");
    assert_eq!(invalidated(&c, &own).len(), 2);
    assert!(invalidated(&c, &other).is_empty());
}

#[test]
fn without_a_bucket_policy_sync_falls_back_to_the_listing() {
    let (stack, c) = harness::stack_up("syncnopolicy");
    let own = block_on(distribution_of(&c, &stack.bucket)).unwrap().id;
    sync_changed(&stack, "<h1>v1</h1>");
    block_on(c.s3.delete_bucket_policy().bucket(&stack.bucket).send()).unwrap();

    let (requests, out) = sync_changed(&stack, "<h1>v2</h1>");
    assert_eq!(out["uploaded"], 1, "{out}");
    assert_eq!(out["invalidation"]["path_count"], 2, "{out}");
    assert_eq!(
        requests.iter().filter(|r| reads_policy(&stack, r)).count(),
        1,
        "{requests:#?}"
    );
    assert!(requests.iter().any(lists_distributions), "{requests:#?}");
    assert_eq!(
        invalidated(&c, &own),
        [vec!["/".to_string(), "/index.html".to_string()]]
    );
    assert!(
        block_on(c.s3.get_bucket_policy().bucket(&stack.bucket).send()).is_err(),
        "sync writes no policy"
    );

    // `up` writes the policy again; then the listing is not needed.
    stack.run(&["up"]).ok();
    let (requests, _) = sync_changed(&stack, "<h1>v3</h1>");
    assert!(!requests.iter().any(lists_distributions), "{requests:#?}");
    assert_eq!(invalidated(&c, &own).len(), 2);
}
