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
use crate::release_deploy::{kept, keys_under, run};
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
    let ids = kept(&stack);
    assert_eq!(ids, [release_c.clone(), release_b.clone()]);

    // Rollback to B: one write, and the removed page is served again (from A).
    let before = stack.writes().len();
    let back = run(&stack, &["rollback", "--json"]);
    assert_eq!(back["release"], release_b.as_str());
    assert!(back["edge_seconds"].is_number(), "{back:#}");
    assert_eq!(stack.writes().len() - before, 1);
    assert_eq!(edge_get(&cdn, "/pages/p9.html"), (200, "page 9".into()));
    assert_eq!(edge_get(&cdn, "/pages/p7.html"), (200, "page 7 v2".into()));
}

/// route.rs's `code` (FNV-1a over UTF-16 units, folded to 30 bits), to find
/// two paths the function cannot tell apart.
fn code(path: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for unit in path.encode_utf16() {
        h ^= u32::from(unit);
        h = h.wrapping_mul(0x0100_0193);
    }
    (h ^ (h >> 30)) & 0x3fff_ffff
}

/// Two pages whose paths share a code: when one changes, the route sends
/// both to the new release, so the publisher copies the other in, and the
/// edge (running the function) serves each its own content. Then a chain
/// grown past its bound is folded into one release, and the edge still
/// serves every page from the release holding it.
#[test]
fn a_shared_code_is_copied_in_and_a_long_chain_is_folded() {
    let mut seen = std::collections::HashMap::new();
    let (x, y) = (0..)
        .map(|i| format!("c/{i}.html"))
        .find_map(|p| seen.insert(code(&p), p.clone()).map(|other| (other, p)))
        .unwrap();
    let stack = Stack::new("relcode").with("CDN_RELEASES", "3");
    let cdn = stack.run(&["up", "--json"]).ok().json()["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = |n: usize, pages: &[(&str, String)]| {
        let d = stack.dir().join(format!("v{n}"));
        write(&d, "index.html", format!("home {n}").as_bytes());
        for (rel, body) in pages {
            write(&d, rel, body.as_bytes());
        }
        d
    };
    let pages = |n: usize| -> Vec<(&str, String)> {
        vec![
            (x.as_str(), if n == 0 { "x".into() } else { "x changed".into() }),
            (y.as_str(), "y".into()),
        ]
    };
    deploy(&stack, &dir(0, &pages(0)));
    let (shared, (uploads, copies, _)) = deploy(&stack, &dir(1, &pages(1)));
    // The home page and x sent; y, unchanged, copied in beside x.
    assert_eq!((uploads, copies), (2, 1), "{shared:#}");
    assert_eq!(edge_get(&cdn, &format!("/{x}")), (200, "x changed".into()));
    assert_eq!(edge_get(&cdn, &format!("/{y}")), (200, "y".into()));

    // Releases 2..=10 change the home page only: the chain grows to 10.
    for n in 2..=10 {
        let (p, (uploads, copies, _)) = deploy(&stack, &dir(n, &pages(1)));
        assert_eq!(
            (uploads, copies, &p["shape"]),
            (1, 0, &Value::from("chained")),
            "{n}: {p:#}"
        );
    }
    // The 11th folds the chain into itself: the home page sent, x and y
    // (changed since the base) copied, the base still read for the rest.
    let (folded, (uploads, copies, bookkeeping)) = deploy(&stack, &dir(11, &pages(1)));
    assert_eq!(folded["shape"], "squashed", "{folded:#}");
    assert_eq!((uploads, copies), (1, 2), "{folded:#}");
    assert!(bookkeeping <= 3, "{bookkeeping}: {folded:#}");
    assert_eq!(edge_get(&cdn, "/"), (200, "home 11".into()));
    assert_eq!(edge_get(&cdn, &format!("/{x}")), (200, "x changed".into()));
    assert_eq!(edge_get(&cdn, &format!("/{y}")), (200, "y".into()));
}
