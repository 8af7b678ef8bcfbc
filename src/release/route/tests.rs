use super::*;

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("r20261205-0125030{i:02}-ab{i:02}")).collect()
}

#[test]
fn a_route_reads_back_as_written() {
    let ids = ids(3);
    let (r1, _) = next(None, &ids[0], []);
    assert_eq!(r1.encode(), ids[0]);
    let (r2, shape) = next(Some(&r1), &ids[1], ["index.html", "gone.html"]);
    assert_eq!(shape, Shape::Chained);
    let (r3, _) = next(Some(&r2), &ids[2], ["about.html"]);
    let value = r3.encode();
    assert_eq!(value.len(), r3.encoded_len());
    assert_eq!(Route::parse(&value), Some(r3.clone()));
    assert_eq!(r3.head(), ids[2]);
    assert_eq!(r3.ids().collect::<Vec<_>>(), vec![&ids[2], &ids[1], &ids[0]]);
    assert_eq!(r3.resolve("about.html"), ids[2]);
    assert_eq!(r3.resolve("index.html"), ids[1]);
    assert_eq!(r3.resolve("gone.html"), ids[1]);
    assert_eq!(r3.resolve("robots.txt"), ids[0]);
    // A plain id, as releases were recorded before chains: a base.
    assert_eq!(Route::parse("r1"), Some(Route::whole("r1")));
    for bad in ["", "r1:AAAA,r0", "r1:AAAAA,", "r1:AA,AAA,r0", "r/1", "r1:AA*AA,r0"] {
        assert_eq!(Route::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn codes_are_thirty_bits_and_spread() {
    let codes: BTreeSet<u32> = (0..20_000).map(|i| code(&format!("page/{i}.html"))).collect();
    assert!(codes.iter().all(|c| *c < 1 << 30));
    assert!(codes.len() >= 19_999, "{} distinct", codes.len());
    assert_eq!(undigits(&digits(0x3fff_ffff)), Some(0x3fff_ffff));
    assert_eq!(undigits(&digits(12345)), Some(12345));
}

#[test]
fn a_long_chain_is_squashed_and_a_full_one_starts_a_new_base() {
    let ids = ids(MAX_CHAIN + 3);
    let (mut route, _) = next(None, &ids[0], []);
    for (i, id) in ids[1..=MAX_CHAIN].iter().enumerate() {
        let (r, shape) = next(Some(&route), id, [format!("p{i}.html").as_str()]);
        assert_eq!(shape, Shape::Chained, "{i}");
        route = r;
    }
    assert_eq!(route.chain.len(), MAX_CHAIN);
    // One more: folded into one entry with every change since the base.
    let (squashed, shape) = next(Some(&route), &ids[MAX_CHAIN + 1], ["new.html"]);
    assert_eq!(shape, Shape::Squashed);
    assert_eq!(squashed.chain.len(), 1);
    assert_eq!(squashed.base, ids[0]);
    assert_eq!(squashed.chain[0].codes.len(), MAX_CHAIN + 1);
    for i in 0..MAX_CHAIN {
        assert_eq!(squashed.resolve(&format!("p{i}.html")), ids[MAX_CHAIN + 1]);
    }
    assert_eq!(squashed.resolve("unchanged.html"), ids[0]);
    // Changes too many for one value: a new base.
    let many: Vec<String> = (0..300).map(|i| format!("many/{i}.html")).collect();
    let (whole, shape) = next(Some(&squashed), &ids[MAX_CHAIN + 2], many.iter().map(String::as_str));
    assert_eq!(shape, Shape::Whole);
    assert_eq!(whole, Route::whole(&ids[MAX_CHAIN + 2]));
    // Every route made fits the store's value.
    assert!(squashed.encoded_len() <= VALUE_MAX && route.encoded_len() <= VALUE_MAX);
}

#[test]
fn a_chain_stops_where_the_value_would_pass_the_quota() {
    let ids = ids(3);
    let (base, _) = next(None, &ids[0], []);
    let fill: Vec<String> = (0..180).map(|i| format!("a/{i}.html")).collect();
    let (r1, shape) = next(Some(&base), &ids[1], fill.iter().map(String::as_str));
    assert_eq!(shape, Shape::Chained);
    assert!(r1.encoded_len() <= VALUE_MAX);
    let more: Vec<String> = (0..20).map(|i| format!("b/{i}.html")).collect();
    let (r2, shape) = next(Some(&r1), &ids[2], more.iter().map(String::as_str));
    // 200 codes do not fit with two ids, nor folded into one entry.
    assert_eq!(shape, Shape::Whole, "{}", r2.encoded_len());
}

/// The function's `pathCode` and `resolve`, run by node, say what this
/// module says for the same paths and route: the publisher and the edge
/// agree on which release holds a path.
#[test]
fn the_function_resolves_as_the_publisher_does() {
    let source = include_str!("../../resources/function/viewer_request.js");
    let pick = |name: &str| {
        let start = source.find(&format!("function {name}(")).unwrap();
        let end = start + source[start..].find("\n}\n").unwrap() + 2;
        &source[start..end]
    };
    let digits_line = source.lines().find(|l| l.starts_with("const DIGITS = ")).unwrap();
    let paths: Vec<String> = [
        "index.html",
        "docs/index.html",
        "a b.html",
        "ünïcödé/日本.html",
        "emoji/😀.txt",
        "",
        "x",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain((0..300).map(|i| format!("site/page-{i}.html")))
    .collect();
    let ids = ids(4);
    let (r0, _) = next(None, &ids[0], []);
    let (r1, _) = next(Some(&r0), &ids[1], paths[..100].iter().step_by(3).map(String::as_str));
    let (r2, _) = next(Some(&r1), &ids[2], paths[50..150].iter().step_by(7).map(String::as_str));
    let (r3, _) = next(Some(&r2), &ids[3], ["docs/index.html", "emoji/😀.txt"]);
    let value = r3.encode();
    let script = format!(
        "{digits_line}\n{}\n{}\nconst paths = {};\nconsole.log(JSON.stringify([paths.map(pathCode), paths.map(p => resolve({}, p))]));",
        pick("pathCode"),
        pick("resolve"),
        serde_json::to_string(&paths).unwrap(),
        serde_json::to_string(&value).unwrap(),
    );
    let out = std::process::Command::new("node")
        .arg("-e")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (codes, held): (Vec<String>, Vec<String>) = serde_json::from_slice(&out.stdout).unwrap();
    let want_codes: Vec<String> = paths
        .iter()
        .map(|p| String::from_utf8(digits(code(p)).to_vec()).unwrap())
        .collect();
    assert_eq!(codes, want_codes);
    let want_held: Vec<String> = paths.iter().map(|p| r3.resolve(p).to_string()).collect();
    assert_eq!(held, want_held);
    // Every release of the route holds some of them.
    for id in &ids {
        assert!(held.contains(id), "{id}");
    }
}
