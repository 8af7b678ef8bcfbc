//! `cdnctl sync` where AWS is stricter than the emulator was, or where a
//! routine deploy could break the live site: names that only look hashed,
//! `index.html` look-alikes, links out of DIR, header corrections that must
//! keep what sync does not manage, SSE-KMS buckets and keys that XML 1.0
//! cannot carry.

use serde_json::json;

use crate::harness::{block_on, clients, Stack};
use crate::sync::{all_keys, body, head, invalidations, sync, write};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "public, max-age=60, must-revalidate";

#[test]
fn only_manifests_and_bundler_layouts_make_a_file_immutable() {
    let stack = Stack::new("synchash");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let dir = stack.dir().join("site");
    // A Vite build without a manifest: index.html beside assets/.
    for (rel, content) in [
        ("index.html", &b"<script src=/assets/index-D-Xa1bQz.js>"[..]),
        ("assets/index-D-Xa1bQz.js", b"vite 5"),
        ("assets/vendor-4f2a9c1e.js", b"vite 4"),
        ("assets/hero-banner01.jpg", b"jpeg"),
        ("assets/logo-darkMode.svg", b"<svg/>"),
        ("img/hero-banner01.jpg", b"jpeg"),
        ("index-Qx_9aB1c.js", b"not in assets/"),
        // A Vite build with a manifest: it alone decides under app/.
        ("app/assets/main-Qx_9aB-c.js", b"entry"),
        ("app/assets/logo-DkWq1Zl9.svg", b"from public/"),
    ] {
        write(&dir, rel, content);
    }
    let manifest = json!({"src/main.ts": {"file": "assets/main-Qx_9aB-c.js", "isEntry": true}});
    write(&dir, "app/.vite/manifest.json", manifest.to_string().as_bytes());
    sync(&stack, &dir, &[]).ok();
    for (key, cache) in [
        ("assets/index-D-Xa1bQz.js", IMMUTABLE),
        ("assets/vendor-4f2a9c1e.js", IMMUTABLE),
        ("app/assets/main-Qx_9aB-c.js", IMMUTABLE),
        ("assets/hero-banner01.jpg", REVALIDATE),
        ("assets/logo-darkMode.svg", REVALIDATE),
        ("img/hero-banner01.jpg", REVALIDATE),
        ("index-Qx_9aB1c.js", REVALIDATE),
        ("app/assets/logo-DkWq1Zl9.svg", REVALIDATE),
        ("index.html", REVALIDATE),
    ] {
        assert_eq!(head(&c, b, key).1, cache, "{key}");
    }

    // Deleted, a file that only looked hashed is invalidated and not kept
    // while the last deploys name it, as content-hashed files are.
    std::fs::remove_file(dir.join("assets/hero-banner01.jpg")).unwrap();
    std::fs::remove_file(dir.join("assets/index-D-Xa1bQz.js")).unwrap();
    let out = sync(&stack, &dir, &["--delete", "--delete-grace", "0"]).ok().json();
    assert_eq!(
        (out["deleted"].as_u64(), out["kept"].as_u64()),
        (Some(1), Some(1)),
        "{out}"
    );
    assert_eq!(out["invalidation"]["paths"], json!(["/assets/hero-banner01.jpg"]));
    let keys = all_keys(&c, b);
    assert!(!keys.contains(&"assets/hero-banner01.jpg".to_string()), "{keys:?}");
    assert!(keys.contains(&"assets/index-D-Xa1bQz.js".to_string()), "{keys:?}");
}

#[test]
fn only_a_file_named_index_html_stands_for_its_directory() {
    let stack = Stack::new("syncindex");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let dir = stack.dir().join("site");
    for rel in ["myindex.html", "docs/index.html", "docs/oldindex.html"] {
        write(&dir, rel, b"v1");
    }
    sync(&stack, &dir, &[]).ok();
    for rel in ["myindex.html", "docs/index.html", "docs/oldindex.html"] {
        write(&dir, rel, b"v2");
    }
    sync(&stack, &dir, &[]).ok();
    let sent = invalidations(&c, &stack.bucket);
    assert_eq!(
        sent.last().unwrap().1,
        vec!["/docs/", "/docs/index.html", "/docs/oldindex.html", "/myindex.html"]
    );
}

#[test]
fn links_out_of_dir_are_skipped_with_a_warning_unless_followed() {
    let stack = Stack::new("synclinks");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let home = stack.dir().join("home");
    write(&home, ".aws/credentials", b"aws_secret_access_key = SECRET");
    write(&home, "shared/logo.svg", b"<svg/>");
    let dir = home.join("static");
    write(&dir, "css/site.css", b"body{}");
    let link = |target: &str, at: &str| std::os::unix::fs::symlink(target, dir.join(at)).unwrap();
    link("../.aws/credentials", "x");
    link(home.join("shared").to_str().unwrap(), "shared");
    link("css/site.css", "site.css");
    link("css", "styles");
    link("../static/css", "again");

    let run = sync(&stack, &dir, &[]).ok();
    assert!(
        run.stderr.contains("skipped 2 symbolic links leading out of")
            && run.stderr.contains("shared, x")
            && run.stderr.contains("--follow-links"),
        "{}",
        run.stderr
    );
    let mut keys = all_keys(&c, b);
    keys.sort();
    assert_eq!(
        keys,
        // and the prefix's own state, which CloudFront may not serve
        vec![
            ".cdnctl/state.json",
            "again/site.css",
            "css/site.css",
            "site.css",
            "styles/site.css"
        ]
    );
    assert_eq!(body(&c, b, "site.css"), b"body{}");

    // Asked explicitly: followed.
    let out = sync(&stack, &dir, &["--follow-links"]).ok().json();
    assert_eq!(out["uploaded"], 2, "{out}");
    assert_eq!(body(&c, b, "x"), b"aws_secret_access_key = SECRET");
    assert_eq!(body(&c, b, "shared/logo.svg"), b"<svg/>");
}

#[test]
fn keys_with_control_characters_neither_break_sync_nor_purge() {
    let stack = Stack::new("syncctl");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let dir = stack.dir().join("site");
    for rel in ["a b+c.txt", "x&y/ü.txt", "index.html"] {
        write(&dir, rel, rel.as_bytes());
    }
    sync(&stack, &dir, &[]).ok();
    // Another tool left keys that XML 1.0 cannot carry.
    for key in ["old\u{7}bell.txt", "tab\there.txt"] {
        block_on(c.s3.put_object().bucket(b).key(key).body(b"x".to_vec().into()).send()).unwrap();
    }

    // Listed, decoded: nothing re-uploaded; cdnctl did not publish them, so
    // only --delete-unpublished deletes them.
    let out = sync(&stack, &dir, &["--delete"]).ok().json();
    assert_eq!(
        (out["uploaded"].as_u64(), out["unpublished"].as_u64()),
        (Some(0), Some(2)),
        "{out}"
    );
    let out = sync(&stack, &dir, &["--delete", "--delete-unpublished"]).ok().json();
    assert_eq!(
        (out["uploaded"].as_u64(), out["deleted"].as_u64()),
        (Some(0), Some(2)),
        "{out}"
    );
    let mut keys = all_keys(&c, b);
    keys.sort();
    assert_eq!(keys, vec![".cdnctl/state.json", "a b+c.txt", "index.html", "x&y/ü.txt"]);

    // `down --purge` lists every version the same way.
    block_on(
        c.s3.put_object()
            .bucket(b)
            .key("old\u{7}bell.txt")
            .body(b"x".to_vec().into())
            .send(),
    )
    .unwrap();
    stack.run(&["down", "--yes", "--purge"]).ok();
    assert!(!block_on(crate::inspect::bucket_exists(&c, b)), "the bucket is gone");
}

#[test]
fn header_corrections_keep_what_sync_does_not_manage_at_any_size() {
    let mut stack = Stack::new("synckeep");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.clone();
    let b = b.as_str();
    let dir = stack.dir().join("site");
    write(&dir, "report.pdf", b"%PDF-1.7 small");
    // Two parts of cdnctl's 8 MiB: uploaded in parts.
    let big: Vec<u8> = (0..9 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    write(&dir, "video.mp4", &big);
    sync(&stack, &dir, &[]).ok();
    let video_etag = head(&c, b, "video.mp4").2;
    assert!(video_etag.ends_with("-2"), "{video_etag}");

    // Another tool set what sync does not manage (keeping sync's headers).
    let expires = aws_smithy_types::DateTime::from_secs(1_900_000_000);
    for key in ["report.pdf", "video.mp4"] {
        let (content_type, cache_control, _) = head(&c, b, key);
        block_on(
            c.s3.copy_object()
                .bucket(b)
                .key(key)
                .copy_source(format!("{b}/{key}"))
                .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
                .content_type(content_type)
                .cache_control(cache_control)
                .content_encoding("identity")
                .content_disposition("attachment; filename=\"r.pdf\"")
                .content_language("fr")
                .expires(expires)
                .metadata("owner", "web-team")
                .storage_class(aws_sdk_s3::types::StorageClass::StandardIa)
                .send(),
        )
        .unwrap();
    }
    // A CopyObject limit below the video's size stands for S3's 5 GB.
    stack.configure(json!({"copy_object_max_bytes": 1024 * 1024}));

    stack.set("CDN_CACHE_RULES", "*.pdf=no-cache; *.mp4=public, max-age=600");
    let before = stack.requests().len();
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(
        (out["uploaded"].as_u64(), out["headers_updated"].as_u64()),
        (Some(0), Some(2)),
        "{out}"
    );
    let requests = stack.requests()[before..].to_vec();
    let part_copies = requests
        .iter()
        .filter(|r| r.op.starts_with(&format!("PUT /{b}/video.mp4?")) && r.op.contains("partNumber="))
        .count();
    assert_eq!(part_copies, 2, "{requests:?}");

    for (key, cache_control) in [("report.pdf", "no-cache"), ("video.mp4", "public, max-age=600")] {
        let h = block_on(c.s3.head_object().bucket(b).key(key).send()).unwrap();
        assert_eq!(h.cache_control(), Some(cache_control), "{key}");
        assert_eq!(h.content_encoding(), Some("identity"), "{key}");
        assert_eq!(h.content_disposition(), Some("attachment; filename=\"r.pdf\""), "{key}");
        assert_eq!(h.content_language(), Some("fr"), "{key}");
        assert_eq!(
            h.expires_string().and_then(|e| aws_smithy_types::DateTime::from_str(
                e,
                aws_smithy_types::date_time::Format::HttpDate
            )
            .ok()),
            Some(expires),
            "{key}"
        );
        assert_eq!(
            h.metadata().and_then(|m| m.get("owner")).map(String::as_str),
            Some("web-team"),
            "{key}"
        );
        assert_eq!(
            h.storage_class(),
            Some(&aws_sdk_s3::types::StorageClass::StandardIa),
            "{key}"
        );
    }
    assert_eq!(body(&c, b, "video.mp4"), big);
    // In cdnctl's part size, the ETag is the one computed locally: nothing to do next time.
    assert_eq!(head(&c, b, "video.mp4").2, video_etag);
    let out = sync(&stack, &dir, &[]).ok().json();
    assert_eq!(
        (out["uploaded"].as_u64(), out["headers_updated"].as_u64()),
        (Some(0), Some(0)),
        "{out}"
    );
}

#[test]
fn a_bucket_under_sse_kms_is_refused_once_before_any_write() {
    let stack = Stack::new("synckms");
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    let b = stack.bucket.as_str();
    let dir = stack.dir().join("site");
    write(&dir, "index.html", b"<h1>hi</h1>");
    write(&dir, "css/site.css", b"body{}");
    for algorithm in ["aws:kms", "aws:kms:dsse"] {
        use aws_sdk_s3::types::{
            ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::from(algorithm))
                    .build()
                    .unwrap(),
            )
            .build();
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .unwrap();
        block_on(
            c.s3.put_bucket_encryption()
                .bucket(b)
                .server_side_encryption_configuration(config)
                .send(),
        )
        .unwrap();
        let run = stack.run_without_writes(&["sync", dir.to_str().unwrap()]).code(1);
        let err = run.stderr.trim();
        assert!(
            err.contains(&format!("default encryption is {algorithm}")) && err.contains("cdnctl up"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 2, "one refusal, not one per file: {err}");
        assert!(all_keys(&c, b).is_empty());
    }
    // Restored by `up`: the sync goes through, and a re-sync uploads nothing.
    stack.run(&["up"]).ok();
    assert_eq!(sync(&stack, &dir, &[]).ok().json()["uploaded"], 2);
    assert_eq!(sync(&stack, &dir, &[]).ok().json()["uploaded"], 0);
}
