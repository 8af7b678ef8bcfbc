//! The quota figures the README gives (Releases), measured on the pure
//! code: a 20,000-file site published as 30 releases (and 300, for the
//! amortized copies), 10 kept, each release changing 3 files, in two
//! patterns. Run with
//! `cargo test --bin cdnctl -- release::figures --nocapture` to print them.

use std::collections::BTreeMap;

use super::route::{self, next, Route, Shape, FUNCTION_MAX, KEY_MAX, STORE_MAX, VALUE_MAX};
use super::{to_prune, Release};

const FILES: usize = 20_000;
const KEEP: usize = 10;

#[derive(Debug, Default)]
struct Figures {
    largest_value: usize,
    largest_key: usize,
    largest_store: usize,
    copies: Vec<usize>,
    shapes: BTreeMap<&'static str, usize>,
}

/// Publish `releases` releases over a FILES-file site, release `n` changing
/// the paths `changes(n)` picks; the store as `Store::switch` and
/// `Store::forget` leave it after each.
fn simulate(releases: usize, changes: impl Fn(usize) -> Vec<usize>) -> Figures {
    let paths: Vec<String> = (0..FILES)
        .map(|i| format!("docs/section-{:03}/page-{i:05}.html", i / 100))
        .collect();
    let mut by_code: BTreeMap<u32, usize> = BTreeMap::new();
    for p in &paths {
        *by_code.entry(route::code(p)).or_default() += 1;
    }
    let mut f = Figures::default();
    let mut live: Option<Route> = None;
    let mut kept: Vec<Release> = Vec::new();
    let mut routes: BTreeMap<String, String> = BTreeMap::new();
    for n in 0..releases {
        let id = format!("r20261205-{:09}-{:04x}", 10_000_000 + n, n * 7919 % 65_536);
        let changed: Vec<&str> = changes(n).into_iter().map(|i| paths[i % FILES].as_str()).collect();
        let (r, shape) = match &live {
            None => next(None, &id, []),
            Some(l) => next(Some(l), &id, changed.iter().copied()),
        };
        // The paths it holds: every one for a whole release, else those
        // whose code its entry has.
        let held = match r.chain.first() {
            Some(d) if d.id == id => d.codes.iter().map(|c| by_code.get(c).copied().unwrap_or(0)).sum(),
            _ => FILES,
        };
        let sent = if live.is_none() { held } else { changed.len() };
        f.copies.push(held.saturating_sub(sent));
        *f.shapes
            .entry(match shape {
                Shape::Chained => "chained",
                Shape::Squashed => "squashed",
                Shape::Whole => "whole",
            })
            .or_default() += 1;
        let release = Release {
            id: id.clone(),
            when: "2026-12-05T01:25:03Z".into(),
            source: "example-org/example-site/actions/runs/12345678901".into(),
            files: FILES as u64,
            bytes: 123_456_789,
            page: Some("/".into()),
            preview: None,
            rules: Some("0123456789abcdef".into()),
            previous: None,
        };
        routes.insert(id.clone(), r.encode());
        kept.push(release);
        for gone in to_prune(&kept, Some(&id), KEEP) {
            kept.retain(|k| k.id != gone);
            routes.remove(&gone);
        }
        // The store: `layout`, `live`, and each kept release's two keys.
        let mut pairs: Vec<(String, String)> = vec![("layout".into(), "1".into()), ("live".into(), r.encode())];
        for k in &kept {
            let mut value = serde_json::to_value(k).unwrap();
            value.as_object_mut().unwrap().remove("id");
            pairs.push((format!("release:{}", k.id), value.to_string()));
            pairs.push((format!("route:{}", k.id), routes[&k.id].clone()));
        }
        f.largest_value = f.largest_value.max(pairs.iter().map(|(_, v)| v.len()).max().unwrap());
        f.largest_key = f.largest_key.max(pairs.iter().map(|(k, _)| k.len()).max().unwrap());
        f.largest_store = f
            .largest_store
            .max(pairs.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>());
        live = Some(r);
    }
    f
}

fn function_size() -> usize {
    let env: BTreeMap<String, String> = [
        ("BUCKET_NAME".to_string(), "example-static".to_string()),
        ("CDN_RELEASES".to_string(), "10".to_string()),
        ("CDN_SPA_FALLBACK".to_string(), "/index.html".to_string()),
    ]
    .into();
    let settings = crate::settings::Settings::resolve(&Default::default(), &env).unwrap();
    crate::resources::function::code(&crate::spec::Spec::new(&settings, "eu-west-1")).len()
}

fn report(name: &str, f: &Figures) {
    let after_first: Vec<usize> = f.copies[1..].to_vec();
    println!(
        "{name}: largest value {} B (quota {VALUE_MAX}), largest key {} B (quota {KEY_MAX}), \
         store at most {} B for {KEEP} kept releases (quota {STORE_MAX}), shapes {:?}, \
         copies after the first release: {} in all, {:.1} a release, at most {}",
        f.largest_value,
        f.largest_key,
        f.largest_store,
        f.shapes,
        after_first.iter().sum::<usize>(),
        after_first.iter().sum::<usize>() as f64 / after_first.len() as f64,
        after_first.iter().max().unwrap()
    );
}

#[test]
fn twenty_thousand_files_and_ten_kept_releases_stay_within_the_quotas() {
    // The same pages edited again and again (a home page, a changelog, a
    // sitemap), and three pages anywhere in the site each time.
    let same = |n: usize| vec![0, 1, 2 + n % 3];
    let spread = |n: usize| (0..3).map(|k| (n * 7_001 + k * 3_301) * 13).collect::<Vec<_>>();
    let size = function_size();
    println!("function: {size} B (quota {FUNCTION_MAX})");
    let runs = [
        ("30 releases, the same few pages", simulate(30, same)),
        ("30 releases, three pages anywhere", simulate(30, spread)),
        ("300 releases, the same few pages", simulate(300, same)),
        ("300 releases, three pages anywhere", simulate(300, spread)),
    ];
    for (name, f) in &runs {
        report(name, f);
        assert!(f.largest_value <= VALUE_MAX && f.largest_key <= KEY_MAX);
        assert!(f.largest_store <= STORE_MAX / 100, "{}", f.largest_store);
    }
    // Edits of the same pages never copy the site again; edits anywhere do,
    // once the changes since the base no longer fit a value: amortized,
    // a small part of the site a release.
    assert_eq!(runs[2].1.shapes.get("whole"), Some(&1), "{:?}", runs[2].1.shapes);
    assert!(runs[2].1.copies[1..].iter().all(|c| *c < 100));
    let spread = &runs[3].1.copies[1..];
    assert!(spread.iter().sum::<usize>() / spread.len() < FILES / 20, "{spread:?}");
    assert!(size <= FUNCTION_MAX / 2, "{size}");
    // Up to the value quota, one release may change this many paths and
    // still chain on a whole base.
    let one = route::next(
        Some(&Route::whole("r20261205-010000000-abcd")),
        "r20261205-020000000-abcd",
        [],
    )
    .0;
    println!(
        "one release over a base can name up to {} changed paths",
        (VALUE_MAX - one.encoded_len()) / route::WIDTH
    );
}
