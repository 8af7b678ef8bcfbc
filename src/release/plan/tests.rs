use super::*;
use crate::sync::scan;

fn file(rel: &str, body: &[u8]) -> LocalFile {
    use md5::{Digest as _, Md5};
    LocalFile {
        key: rel.into(),
        rel: rel.into(),
        path: rel.into(),
        size: body.len() as u64,
        md5: Md5::digest(body).into(),
        parts: vec![],
        whole_md5: Default::default(),
        hashed: false,
        manifest: false,
        manifest_read: false,
        content_type: "text/html".into(),
        cache_control: "no-cache".into(),
    }
}

fn object(body: &[u8]) -> RemoteObject {
    use md5::{Digest as _, Md5};
    RemoteObject {
        size: body.len() as u64,
        etag: scan::hex(&Md5::digest(body)),
        last_modified: 0,
    }
}

fn opts() -> SyncOptions {
    let request = crate::sync::options::SyncRequest {
        dir: ".".into(),
        prefix: None,
        settings: Default::default(),
        delete: false,
        delete_unpublished: false,
        delete_grace: "7d".into(),
        dry_run: false,
        wait: false,
        follow_links: false,
        include_hidden: false,
    };
    SyncOptions::resolve(&request, &BTreeMap::<String, String>::new()).unwrap()
}

/// The live release r1 (whole) with these files.
fn listed(files: &[(&str, &[u8])]) -> Vec<(String, BTreeMap<String, RemoteObject>)> {
    let objects = files
        .iter()
        .map(|(p, b)| (format!("_cdnctl/releases/r1/{p}"), object(b)))
        .collect();
    vec![("r1".to_string(), objects)]
}

fn actions<'a>(planned: &'a Planned) -> Vec<(&'a str, &'a Action)> {
    planned.items.iter().map(|i| (i.key.as_str(), &i.action)).collect()
}

/// Changed files are uploaded; unchanged ones stay where the live release
/// holds them; nothing is copied.
#[test]
fn only_what_changed_is_written() {
    let files = vec![
        file("index.html", b"new home"),
        file("about.html", b"about"),
        file("js/app.0123456789ab.js", b"app"),
        file("js/new.abcdef012345.js", b"new chunk"),
        file("robots.txt", b"changed robots"),
    ];
    let route = Route::whole("r1");
    let live = live_files(
        &route,
        &listed(&[
            ("index.html", b"old home"),
            ("about.html", b"about"),
            ("robots.txt", b"robots"),
        ]),
    );
    let stored: BTreeMap<String, RemoteObject> =
        [("_cdnctl/assets/js/app.0123456789ab.js".to_string(), object(b"app"))].into();
    let o = opts();
    let l = Live {
        route: &route,
        files: &live,
        same_rules: true,
        always: false,
    };
    let planned = plan(&files, "r2", &o, Some(&l), &stored).unwrap();
    let kept = Action::Kept { by: "r1".into() };
    assert_eq!(
        actions(&planned),
        vec![
            ("_cdnctl/assets/js/app.0123456789ab.js", &Action::Stored),
            ("_cdnctl/assets/js/new.abcdef012345.js", &Action::Upload),
            ("_cdnctl/releases/r2/index.html", &Action::Upload),
            ("_cdnctl/releases/r2/about.html", &kept),
            ("_cdnctl/releases/r2/robots.txt", &Action::Upload),
        ]
    );
    let (r2, shape) = planned.route.as_ref().unwrap();
    assert_eq!(*shape, Shape::Chained);
    assert_eq!(r2.resolve("about.html"), "r1");
    assert_eq!(r2.resolve("robots.txt"), "r2");
    assert_eq!(probe_page(&planned.items).as_deref(), Some("/"));
}

#[test]
fn a_first_release_or_new_rules_hold_every_file() {
    let files = vec![file("index.html", b"home"), file("about.html", b"about")];
    let o = opts();
    let first = plan(&files, "r1", &o, None, &BTreeMap::new()).unwrap();
    assert!(first.items.iter().all(|i| i.action == Action::Upload));
    assert_eq!(first.route.as_ref().unwrap().1, Shape::Whole);

    let route = Route::whole("r1");
    let live = live_files(&route, &listed(&[("index.html", b"home"), ("about.html", b"old")]));
    let l = Live {
        route: &route,
        files: &live,
        same_rules: false,
        always: false,
    };
    let planned = plan(&files, "r2", &o, Some(&l), &BTreeMap::new()).unwrap();
    assert_eq!(
        actions(&planned),
        vec![
            (
                "_cdnctl/releases/r2/index.html",
                &Action::Copy {
                    from: "_cdnctl/releases/r1/index.html".into()
                }
            ),
            ("_cdnctl/releases/r2/about.html", &Action::Upload),
        ]
    );
    assert_eq!(planned.route.unwrap(), (Route::whole("r2"), Shape::Whole));
}

#[test]
fn nothing_changed_switches_nothing_and_a_removal_holds_one_page() {
    let files = vec![file("index.html", b"home"), file("about.html", b"about")];
    let route = Route::whole("r1");
    let all = listed(&[("index.html", b"home"), ("about.html", b"about"), ("old.html", b"old")]);
    let o = opts();
    // The same files: no route, nothing written.
    let same = live_files(&route, &listed(&[("index.html", b"home"), ("about.html", b"about")]));
    let l = Live {
        route: &route,
        files: &same,
        same_rules: true,
        always: false,
    };
    let planned = plan(&files, "r2", &o, Some(&l), &BTreeMap::new()).unwrap();
    assert!(planned.route.is_none());
    assert!(planned.items.iter().all(|i| matches!(i.action, Action::Kept { .. })));

    // A preview of the same files is a release of its own all the same,
    // chained over the live route: one page copied, the rest read from r1.
    let l = Live {
        route: &route,
        files: &same,
        same_rules: true,
        always: true,
    };
    let planned = plan(&files, "p1", &o, Some(&l), &BTreeMap::new()).unwrap();
    let (p1, _) = planned.route.as_ref().unwrap();
    assert_eq!(p1.ids().collect::<Vec<_>>(), vec!["p1", "r1"]);
    assert_eq!((p1.resolve("index.html"), p1.resolve("about.html")), ("p1", "r1"));
    assert!(matches!(planned.items[0].action, Action::Copy { .. }));
    assert!(matches!(planned.items[1].action, Action::Kept { .. }));

    // old.html removed: the route names it (so r2 lacks it) and r2 holds a
    // copy of its home page for the edge to tell.
    let live = live_files(&route, &all);
    let l = Live {
        route: &route,
        files: &live,
        same_rules: true,
        always: false,
    };
    let planned = plan(&files, "r2", &o, Some(&l), &BTreeMap::new()).unwrap();
    assert_eq!(planned.removed, vec!["old.html".to_string()]);
    let (r2, _) = planned.route.as_ref().unwrap();
    assert_eq!(r2.resolve("old.html"), "r2");
    assert_eq!(r2.resolve("about.html"), "r1");
    assert_eq!(
        planned.items[0].action,
        Action::Copy {
            from: "_cdnctl/releases/r1/index.html".into()
        }
    );
    assert_eq!(probe_page(&planned.items).as_deref(), Some("/"));
}

/// An unchanged path whose code a changed path shares resolves to the new
/// release: it is copied in, so the edge still finds it.
#[test]
fn a_code_collision_is_copied_in() {
    // Find two paths with the same code.
    let mut seen: BTreeMap<u32, String> = BTreeMap::new();
    let (a, b) = (0..)
        .map(|i| format!("p{i}.html"))
        .find_map(|p| {
            let c = route::code(&p);
            match seen.get(&c) {
                Some(other) => Some((other.clone(), p)),
                None => {
                    seen.insert(c, p);
                    None
                }
            }
        })
        .unwrap();
    let files = vec![file(&a, b"changed"), file(&b, b"same")];
    let route = Route::whole("r1");
    let live = live_files(
        &route,
        &listed(&[(a.as_str(), b"before".as_slice()), (b.as_str(), b"same".as_slice())]),
    );
    let l = Live {
        route: &route,
        files: &live,
        same_rules: true,
        always: false,
    };
    let planned = plan(&files, "r2", &opts(), Some(&l), &BTreeMap::new()).unwrap();
    assert_eq!(planned.items[0].action, Action::Upload);
    assert_eq!(
        planned.items[1].action,
        Action::Copy {
            from: format!("_cdnctl/releases/r1/{b}")
        }
    );
    let (r2, _) = planned.route.as_ref().unwrap();
    assert_eq!(r2.resolve(&b), "r2");
}

#[test]
fn an_asset_is_never_overwritten_with_other_bytes() {
    let files = vec![file("js/app.0123456789ab.js", b"other bytes")];
    let stored: BTreeMap<String, RemoteObject> =
        [("_cdnctl/assets/js/app.0123456789ab.js".to_string(), object(b"app"))].into();
    let refused = plan(&files, "r2", &opts(), None, &stored).unwrap_err();
    assert_eq!(refused.len(), 1);
    assert!(refused[0].starts_with("js/app.0123456789ab.js: "), "{refused:?}");
}

/// The live release's files are read through its route: a path an older
/// release holds but a newer one changed (or removed) is the newer one's.
#[test]
fn the_live_files_are_where_the_route_resolves_them() {
    let (base, _) = route::next(None, "r1", []);
    let (r2, _) = route::next(Some(&base), "r2", ["index.html", "gone.html"]);
    let listed = vec![
        (
            "r1".to_string(),
            [
                ("_cdnctl/releases/r1/index.html", object(b"old")),
                ("_cdnctl/releases/r1/gone.html", object(b"gone")),
                ("_cdnctl/releases/r1/about.html", object(b"about")),
            ]
            .into_iter()
            .map(|(k, o)| (k.to_string(), o))
            .collect(),
        ),
        (
            "r2".to_string(),
            [("_cdnctl/releases/r2/index.html".to_string(), object(b"new"))].into(),
        ),
    ];
    let files = live_files(&r2, &listed);
    let got: Vec<(&str, &str)> = files.iter().map(|(p, (k, _))| (p.as_str(), k.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("about.html", "_cdnctl/releases/r1/about.html"),
            ("index.html", "_cdnctl/releases/r2/index.html"),
        ]
    );
}
