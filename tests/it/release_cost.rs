//! What a release costs (`CDN_RELEASES`): a release holds only the files it
//! changed, and its route (the store's `live`) sends every other path to the
//! older release holding it. Counted by the emulator: a release that
//! changes 3 files of a site of a few hundred uploads those 3 and copies
//! nothing, with at most 3 writes of bookkeeping; a release that removes a
//! page makes the edge answer an error for it, and a rollback serves it
//! again; pruning keeps the prefixes a kept release's route still reads.

use std::path::Path;

use serde_json::Value;

use crate::harness::{write, Request, Stack};
use crate::release_deploy::{keys_under, run};
use crate::releases::edge_get;

/// Pages besides the home page.
const PAGES: usize = 300;

/// The site: a home page, PAGES pages, robots and a hashed script; `changed`
/// overrides some, `without` leaves some out.
fn site(dir: &Path, changed: &[(&str, &str)], without: &[&str]) {
    let mut files: Vec<(String, String)> = vec![
        ("index.html".into(), "home".into()),
        ("robots.txt".into(), "User-agent: *".into()),
        ("js/app.0123456789ab.js".into(), "app()".into()),
    ];
    files.extend((0..PAGES).map(|i| (format!("pages/p{i}.html"), format!("page {i}"))));
    for (rel, body) in files {
        if without.contains(&rel.as_str()) {
            continue;
        }
        let body = changed
            .iter()
            .find(|(r, _)| *r == rel)
            .map_or(body, |(_, b)| b.to_string());
        write(dir, &rel, body.as_bytes());
    }
}

/// The writes of a deploy: (uploads of release files, copies, the rest).
fn counted(writes: &[Request]) -> (usize, usize, usize) {
    let files = |r: &&Request| r.op.starts_with("PUT ") && r.op.contains("/_cdnctl/releases/");
    let uploads = writes.iter().filter(files).filter(|r| !r.copy).count();
    let copies = writes.iter().filter(|r| r.copy).count();
    (uploads, copies, writes.len() - uploads - copies)
}

fn deploy(stack: &Stack, dir: &Path) -> (Value, (usize, usize, usize)) {
    let before = stack.writes().len();
    let out = run(stack, &["deploy", dir.to_str().unwrap(), "--json"]);
    let checked = &out["stages"][2]["result"];
    assert_eq!(checked["ok"], true, "check after the deploy: {checked:#}");
    let counts = counted(&stack.writes()[before..]);
    (out["stages"][1]["result"].clone(), counts)
}

#[test]
fn a_release_costs_what_changed() {
    let stack = Stack::new("relcost").with("CDN_RELEASES", "2");
    let cdn = stack.run(&["up", "--json"]).ok().json()["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let (a, b, c) = (stack.dir().join("a"), stack.dir().join("b"), stack.dir().join("c"));
    site(&a, &[], &[]);
    let changed = [
        ("index.html", "home v2"),
        ("pages/p7.html", "page 7 v2"),
        ("pages/p100.html", "page 100 v2"),
    ];
    site(&b, &changed, &[]);
    site(&c, &changed, &["pages/p9.html"]);

    // The first release holds every file.
    let (first, (uploads, copies, _)) = deploy(&stack, &a);
    let release_a = first["release"].as_str().unwrap().to_string();
    assert_eq!((uploads, copies), (PAGES + 2, 0), "{first:#}");
    assert_eq!(first["shape"], "whole", "{first:#}");

    // Three files changed: three uploads, no copy, one store write.
    let (second, (uploads, copies, bookkeeping)) = deploy(&stack, &b);
    let release_b = second["release"].as_str().unwrap().to_string();
    assert_eq!((uploads, copies), (3, 0), "{second:#}");
    assert!(bookkeeping <= 3, "{bookkeeping} writes of bookkeeping: {second:#}");
    assert_eq!(bookkeeping, 1, "{second:#}");
    assert_eq!(
        (
            &second["uploaded"],
            &second["copied"],
            &second["kept"],
            &second["shape"]
        ),
        (
            &Value::from(3),
            &Value::from(0),
            &Value::from(PAGES - 2 + 1),
            &Value::from("chained")
        ),
        "{second:#}"
    );
    assert_eq!(keys_under(&stack, &format!("_cdnctl/releases/{release_b}/")).len(), 3);
    assert_eq!(edge_get(&cdn, "/"), (200, "home v2".into()));
    assert_eq!(edge_get(&cdn, "/pages/p7.html"), (200, "page 7 v2".into()));
    assert_eq!(edge_get(&cdn, "/pages/p8.html"), (200, "page 8".into()));

    // A page removed: the release holds a copy of its home page (how the
    // edge tells it), the edge answers an error for the page, and A is
    // pruned from the list but not from the bucket, since B's and C's
    // routes read its files.
    let (third, (uploads, copies, bookkeeping)) = deploy(&stack, &c);
    let release_c = third["release"].as_str().unwrap().to_string();
    assert_eq!((uploads, copies), (0, 1), "{third:#}");
    assert!(bookkeeping <= 3, "{bookkeeping} writes of bookkeeping: {third:#}");
    assert_eq!(third["removed"], 1, "{third:#}");
    assert_eq!(third["pruned"], serde_json::json!([release_a]), "{third:#}");
    assert_eq!(third["deleted"], 0, "{third:#}");
    let (status, body) = edge_get(&cdn, "/pages/p9.html");
    assert!(status == 403 || status == 404, "{status} {body}");
    assert_eq!(edge_get(&cdn, "/pages/p8.html"), (200, "page 8".into()));
    assert_eq!(edge_get(&cdn, "/pages/p100.html"), (200, "page 100 v2".into()));
    assert_eq!(edge_get(&cdn, "/"), (200, "home v2".into()));
    assert_eq!(
        keys_under(&stack, &format!("_cdnctl/releases/{release_a}/")).len(),
        PAGES + 2
    );
    let listed = stack.run(&["releases", "--json"]).ok().json();
    let ids: Vec<&str> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![release_c.as_str(), release_b.as_str()]);

    // Rollback to B: one write, and the removed page is served again (from A).
    let before = stack.writes().len();
    let back = run(&stack, &["rollback", "--json"]);
    assert_eq!(back["release"], release_b.as_str());
    assert!(back["edge_seconds"].is_number(), "{back:#}");
    assert_eq!(stack.writes().len() - before, 1);
    assert_eq!(edge_get(&cdn, "/pages/p9.html"), (200, "page 9".into()));
    assert_eq!(edge_get(&cdn, "/pages/p7.html"), (200, "page 7 v2".into()));
}
