//! What `cdnctl sync` publishes, with which headers and in which order, read
//! back from the emulator: hidden files stay home (and in the bucket), pages
//! go up after everything they refer to, the bundlers' immutable layouts are
//! cached for a year, and a good Content-Type is never replaced by the
//! octet-stream fallback.

use crate::harness::{block_on, clients, Clients, Stack};
use crate::sync::{all_keys, body, head, sync, write};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "public, max-age=60, must-revalidate";

fn put(c: &Clients, bucket: &str, key: &str, content: &[u8], content_type: Option<&str>) {
    block_on(
        c.s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(content.to_vec().into())
            .set_content_type(content_type.map(String::from))
            .send(),
    )
    .unwrap_or_else(|e| panic!("{key}: {e:?}"));
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

#[test]
fn hidden_files_are_neither_published_nor_deleted_unless_asked() {
    let stack = Stack::new("synchidden");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let dir = stack.dir().join("site");
    for (rel, content) in [
        ("index.html", &b"<h1>hi</h1>"[..]),
        ("css/site.css", b"body{}"),
        (".env", b"SECRET_KEY=local"),
        (".git/config", b"[remote]"),
        ("img/.DS_Store", b"\0\0"),
        (".well-known/security.txt", b"Contact: mailto:sec@example.com"),
    ] {
        write(&dir, rel, content);
    }
    // Hidden objects already in the bucket: one an older sync published, one
    // put there by hand.
    put(&c, b, ".env", b"SECRET_KEY=old", None);
    put(&c, b, ".htaccess", b"Deny from all", None);

    let dry = stack
        .run_without_writes(&["sync", dir.to_str().unwrap(), "--dry-run", "--json"])
        .code(3);
    let planned: Vec<String> = dry.json()["upload"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sorted(planned),
        vec![".well-known/security.txt", "css/site.css", "index.html"],
        "{}",
        dry.stdout
    );

    let run = sync(&stack, &dir, &["--delete", "--max-deletes", "100%"]).ok();
    assert!(
        run.stderr
            .contains("skipped 3 hidden files or directories: .env, .git/, img/.DS_Store;")
            && run.stderr.contains("--include-hidden"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["deleted"], 0, "{}", run.stdout);
    let keys = all_keys(&c, b);
    for gone in [".git/config", "img/.DS_Store"] {
        assert!(!keys.contains(&gone.to_string()), "{gone} published: {keys:?}");
    }
    assert_eq!(body(&c, b, ".env"), b"SECRET_KEY=old", "not published, not deleted");
    assert_eq!(body(&c, b, ".htaccess"), b"Deny from all", "not deleted");
    assert_eq!(head(&c, b, ".well-known/security.txt").0, "text/plain; charset=utf-8");

    // Asked for, hidden files are published, and are sync's to delete; the
    // one put there by hand only with --delete-unpublished.
    sync(&stack, &dir, &["--include-hidden"]).ok();
    assert_eq!(body(&c, b, ".env"), b"SECRET_KEY=local");
    assert_eq!(body(&c, b, ".git/config"), b"[remote]");
    std::fs::remove_dir_all(dir.join(".git")).unwrap();
    let delete = [
        "--include-hidden",
        "--delete",
        "--delete-grace",
        "0",
        "--max-deletes",
        "100%",
    ];
    let out = sync(&stack, &dir, &delete).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["unpublished"].as_u64()),
        (Some(1), Some(1)),
        "{out}"
    );
    let keys = all_keys(&c, b);
    assert!(!keys.contains(&".git/config".to_string()), "{keys:?}");
    assert_eq!(body(&c, b, ".htaccess"), b"Deny from all", "not published by cdnctl");
    let out = sync(&stack, &dir, &[&delete[..], &["--delete-unpublished"]].concat())
        .ok()
        .json();
    assert_eq!(out["deleted"], 1, "{out}");
    assert!(!all_keys(&c, b).contains(&".htaccess".to_string()));
}

#[test]
fn a_root_sync_never_overwrites_a_nested_prefix_s_state() {
    let stack = Stack::new("syncownstate");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let blog = stack.dir().join("blog-site");
    write(&blog, "index.html", b"<h1>blog</h1>");
    sync(&stack, &blog, &["--prefix", "blog"]).ok();
    let state = body(&c, b, "blog/.cdnctl/state.json");
    assert!(!state.is_empty());

    // A copy of the bucket, say, with the blog's notes in it.
    let dir = stack.dir().join("site");
    write(&dir, "index.html", b"<h1>root</h1>");
    write(&dir, "blog/.cdnctl/state.json", br#"{"forged": true}"#);
    for extra in [&[][..], &["--include-hidden"]] {
        let run = sync(&stack, &dir, extra).ok();
        assert!(
            run.stderr.contains("blog/.cdnctl: skipped: cdnctl keeps its own notes"),
            "{}",
            run.stderr
        );
        assert_eq!(body(&c, b, "blog/.cdnctl/state.json"), state, "{extra:?}");
    }

    // Nor its files: an older copy of the blog inside the root's DIR is the
    // blog's to publish, not the root's (and not the root's to delete).
    write(&dir, "blog/index.html", b"<h1>old blog</h1>");
    let run = sync(&stack, &dir, &["--delete", "--delete-grace", "0"]).ok();
    assert!(
        run.stderr
            .contains("skipped 1 file(s) under blog/: published on its own"),
        "{}",
        run.stderr
    );
    assert_eq!(body(&c, b, "blog/index.html"), b"<h1>blog</h1>");
    assert_eq!(run.json()["deleted"], 0, "{}", run.stdout);
}

/// The object keys of the PUTs in `requests` (uploads and header copies), in
/// the order the emulator received them; cdnctl's own state left out.
fn puts(stack: &Stack, requests: &[crate::harness::Request]) -> Vec<String> {
    let prefix = format!("PUT /{}/", stack.bucket);
    requests
        .iter()
        .filter_map(|r| r.op.strip_prefix(&prefix))
        .map(|p| p.split('?').next().unwrap().to_string())
        .filter(|k| !k.is_empty() && !k.contains(".cdnctl/"))
        .collect()
}

#[test]
fn pages_go_up_after_everything_they_refer_to() {
    let stack = Stack::new("syncpages");
    stack.run(&["up"]).ok();
    let dir = stack.dir().join("site");
    let files = [
        "about.htm",
        "assets/index-D-Xa1bQz.js",
        "css/site.css",
        "docs/index.html",
        "img/logo.png",
        "index.html",
        "js/app.js",
        "manifest.json",
        "page.xhtml",
        "zzz.txt",
    ];
    let round = |v: &[u8]| {
        for rel in files {
            write(&dir, rel, &[rel.as_bytes(), v].concat());
        }
        let before = stack.requests().len();
        sync(&stack, &dir, &[]).ok();
        puts(&stack, &stack.requests()[before..])
    };
    // New files, then every file changed.
    for v in [&b"1"[..], b"2"] {
        let sent = round(v);
        assert_eq!(sent.len(), files.len(), "{sent:?}");
        let at = |k: &str| {
            sent.iter()
                .position(|p| p == k)
                .unwrap_or_else(|| panic!("{k}: {sent:?}"))
        };
        let pages = ["about.htm", "docs/index.html", "index.html", "page.xhtml"];
        let first_page = pages.iter().map(|p| at(p)).min().unwrap();
        assert_eq!(
            first_page,
            files.len() - pages.len(),
            "every page after every other file: {sent:?}"
        );
        // Hashed first, the manifest right before the pages.
        assert_eq!(at("assets/index-D-Xa1bQz.js"), 0, "{sent:?}");
        assert_eq!(at("manifest.json"), first_page - 1, "{sent:?}");
    }
}

#[test]
fn next_astro_and_sveltekit_builds_are_immutable_where_their_names_are_hashed() {
    let stack = Stack::new("synclayouts");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let dir = stack.dir().join("site");
    let cases = [
        // Next.js (`next build && next export`, or `output: "export"`)
        ("_next/static/chunks/main-0123456789abcdef.js", IMMUTABLE),
        ("_next/static/chunks/pages/_app-abcdef0123456789.js", IMMUTABLE),
        ("_next/static/css/a1b2c3d4e5f6a7b8.css", IMMUTABLE),
        ("_next/static/media/a34f9d1faa5f3315-s.p.woff2", IMMUTABLE),
        ("_next/static/Xq3_kd9Lm2PzT0aBcDe1f/_buildManifest.js", IMMUTABLE),
        ("_next/static/chunks/polyfills.js", REVALIDATE),
        ("_next/static/development/_buildManifest.js", REVALIDATE),
        // Astro
        ("_astro/index.BQx8Kk2H.js", IMMUTABLE),
        ("_astro/photo.Dq3Kq2Ue_1NTSLZ.webp", IMMUTABLE),
        ("_astro/logo.DarkMode.svg", REVALIDATE),
        // SvelteKit (adapter-static)
        ("_app/immutable/entry/start.BJKjk3hC.js", IMMUTABLE),
        ("_app/immutable/chunks/index-a1b2c3d4.js", IMMUTABLE),
        ("_app/version.json", REVALIDATE),
        ("index.html", REVALIDATE),
    ];
    for (rel, _) in cases {
        write(&dir, rel, rel.as_bytes());
    }
    sync(&stack, &dir, &[]).ok();
    for (key, cache) in cases {
        assert_eq!(head(&c, b, key).1, cache, "{key}");
    }
}

#[test]
fn a_specific_content_type_is_never_replaced_by_the_octet_stream_fallback() {
    let stack = Stack::new("synctypes");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let dir = stack.dir().join("site");
    // Objects another tool uploaded with good types, and the same files in
    // DIR: no fingerprint yet, so sync checks (and corrects) their headers.
    for (rel, content_type) in [
        ("model.glb", Some("model/gltf-binary")),
        ("scene.gltf", Some("model/gltf+json")),
        ("map.geojson", Some("application/geo+json")),
        ("page.xhtml", Some("application/xhtml+xml")),
        ("tiles/0.pbf", Some("application/x-protobuf")),
        ("blob.dat", None),
    ] {
        write(&dir, rel, rel.as_bytes());
        put(&c, b, rel, rel.as_bytes(), content_type);
    }
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(out["uploaded"], 0, "{out}");
    for (key, content_type) in [
        ("model.glb", "model/gltf-binary"),
        ("scene.gltf", "model/gltf+json"),
        ("map.geojson", "application/geo+json; charset=utf-8"),
        ("page.xhtml", "application/xhtml+xml; charset=utf-8"),
        // No type in cdnctl's table: the object's stays.
        ("tiles/0.pbf", "application/x-protobuf"),
        // S3's own default is no type worth keeping.
        ("blob.dat", "application/octet-stream"),
    ] {
        assert_eq!(head(&c, b, key).0, content_type, "{key}");
        assert_eq!(head(&c, b, key).1, REVALIDATE, "{key}: the header correction happened");
    }

    // Changed content uploaded again keeps it too; a new file gets the fallback.
    write(&dir, "tiles/0.pbf", b"tile v2");
    write(&dir, "tiles/1.pbf", b"tile 1");
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(out["uploaded"], 2, "{out}");
    assert_eq!(body(&c, b, "tiles/0.pbf"), b"tile v2");
    assert_eq!(head(&c, b, "tiles/0.pbf").0, "application/x-protobuf");
    assert_eq!(head(&c, b, "tiles/1.pbf").0, "application/octet-stream");
}
