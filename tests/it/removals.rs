//! A setting that is merely missing must not take anything away: `deploy`
//! (run by CI many times a day) refuses any plan that removes something,
//! before any write, and `up` removes the custom domain only with
//! `--remove-domain`. The emulator must still hold what was there.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{block_on, clients, Clients, Run, Stack};
use crate::inspect::{self, distribution_of, records_of};

fn site(stack: &Stack) -> PathBuf {
    let dir = stack.dir().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
    dir
}

fn stderr_has(run: &Run, fragments: &[&str]) {
    for f in fragments {
        assert!(run.stderr.contains(f), "stderr lacks {f:?}:\n{}", run.stderr);
    }
}

fn aliases(c: &Clients, bucket: &str) -> Vec<String> {
    let d = block_on(distribution_of(c, bucket)).unwrap();
    d.config
        .aliases
        .map(|a| a.items.unwrap_or_default())
        .unwrap_or_default()
}

/// The principals of the bucket policy's BucketUsersFullAccess statement.
fn bucket_users(c: &Clients, bucket: &str) -> Vec<String> {
    let policy = block_on(inspect::bucket(c, bucket)).policy.unwrap_or_default();
    let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for s in statements.iter().filter(|s| s["Sid"] == "BucketUsersFullAccess") {
        match &s["Principal"]["AWS"] {
            Value::String(p) => out.push(p.clone()),
            Value::Array(ps) => out.extend(ps.iter().filter_map(|p| p.as_str().map(String::from))),
            _ => {}
        }
    }
    out
}

#[test]
fn deploy_without_the_domain_settings_refuses_before_any_write_and_up_needs_remove_domain() {
    let (mut stack, zone_id, domain) = Stack::new("keepdomain").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let records = block_on(records_of(&c, &zone_id, &domain));
    assert!(!records.is_empty());
    let (cert, _) = block_on(inspect::certificates(&c, &domain)).remove(0);

    // A CI job with BUCKET_NAME in its environment and no ./.env.
    stack.unset("SUBDOMAIN");
    stack.unset("HOSTED_ZONE_NAME");
    let dir = site(&stack);
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap()]).code(2);
    stderr_has(
        &run,
        &[
            "deploy never removes anything, and this plan would:",
            &format!("stop answering to {domain}"),
            &format!("DNS {domain}: delete its records"),
            &format!("certificate {cert}: delete"),
            "no ./.env here; SUBDOMAIN and HOSTED_ZONE_NAME are not set",
            "run `cdnctl up` to see the plan",
            "nothing was changed",
        ],
    );
    assert!(!run.stderr.contains("published"), "{}", run.stderr);
    // --json: the error and its exit code on stdout, still nothing written.
    let run = stack
        .run_without_writes(&["deploy", dir.to_str().unwrap(), "--json"])
        .code(2);
    assert_eq!(run.json()["exit_code"], 2, "{}", run.stdout);
    let run = stack
        .run_without_writes(&["deploy", dir.to_str().unwrap(), "--dry-run"])
        .code(2);
    stderr_has(&run, &["deploy never removes anything, and this plan would:"]);

    // `up` refuses too, saying how to keep the domain or remove it.
    let run = stack.run_without_writes(&["up"]).code(2);
    stderr_has(
        &run,
        &[
            &format!("stop answering to {domain}"),
            "no ./.env here; SUBDOMAIN and HOSTED_ZONE_NAME are not set",
            "`cdnctl up --remove-domain`",
        ],
    );
    // Its dry run shows the plan, and says that `up` would refuse it.
    let run = stack.run_without_writes(&["up", "--dry-run"]).code(3);
    stderr_has(&run, &["would refuse this plan", "--remove-domain"]);

    assert_eq!(block_on(records_of(&c, &zone_id, &domain)), records);
    assert_eq!(aliases(&c, &stack.bucket), vec![domain.clone()]);
    assert_eq!(block_on(inspect::certificates(&c, &domain)).len(), 1);

    // Asked on purpose, `up` removes it.
    stack.run(&["up", "--remove-domain"]).ok();
    assert!(block_on(records_of(&c, &zone_id, &domain)).is_empty(), "records left");
    assert!(aliases(&c, &stack.bucket).is_empty());
    assert!(
        block_on(inspect::certificates(&c, &domain)).is_empty(),
        "certificate left"
    );
    // Nothing left to remove: deploy goes past up (its dry run stops at
    // sync, which would upload the site).
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_eq!(run.json()["stopped_at"], "sync", "{}", run.stdout);
}

#[test]
fn deploy_without_bucket_users_keeps_their_grant_and_says_where_it_looked() {
    let role = "arn:aws:iam::123456789012:role/app";
    let mut stack = Stack::new("keepusers").with("BUCKET_USERS", role);
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    assert_eq!(bucket_users(&c, &stack.bucket), vec![role.to_string()]);

    stack.unset("BUCKET_USERS");
    let dir = site(&stack);
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap()]).code(2);
    stderr_has(
        &run,
        &[
            &format!("take away {role}'s access"),
            "no ./.env here; BUCKET_USERS is not set",
        ],
    );
    // With a settings file that lacks it, the line names the file.
    std::fs::write(stack.dir().join(".env"), "CDN_PRICE_CLASS=PriceClass_100\n").unwrap();
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap()]).code(2);
    stderr_has(&run, &["BUCKET_USERS is not set, in .env or the environment"]);
    assert_eq!(bucket_users(&c, &stack.bucket), vec![role.to_string()]);

    // `up`, run on purpose, takes the grant away (no flag: a grant comes
    // back as soon as BUCKET_USERS names it again).
    stack.run(&["up"]).ok();
    assert!(bucket_users(&c, &stack.bucket).is_empty());
}

#[test]
fn a_domain_move_is_left_to_up_and_deploy_writes_nothing() {
    let (mut stack, zone_id, old) = Stack::new("deploymove").with_domain();
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let new = format!("cdn.{}", old.split_once('.').unwrap().1);
    stack.set("SUBDOMAIN", "cdn");
    let dir = site(&stack);
    // The move ends with removing the old name and its certificate, which
    // deploy never does: it names the move and leaves it to up.
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap()]).code(2);
    stderr_has(
        &run,
        &[
            "deploy never removes anything",
            &format!("{old}, no longer in the settings"),
            &format!("the custom domain is moving to {new}: `cdnctl up` moves it"),
        ],
    );
    assert_eq!(aliases(&c, &stack.bucket), vec![old.clone()]);
    assert!(!block_on(records_of(&c, &zone_id, &old)).is_empty());

    // `up` takes every step of the move; deploy then goes past up.
    stack.run(&["up"]).ok();
    assert_eq!(aliases(&c, &stack.bucket), vec![new.clone()]);
    assert!(block_on(records_of(&c, &zone_id, &old)).is_empty());
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap(), "--dry-run", "--json"]);
    assert_eq!(run.json()["stopped_at"], "sync", "{}", run.stdout);
}
