//! CORS through the edge when the allowed origins narrow. The distribution
//! forwards the viewer's Origin to S3 (CORS-S3Origin), S3 answers with
//! `Access-Control-Allow-Origin: <that origin>` as the bucket's CORS rules
//! allow, and CloudFront caches that answer for every viewer (Origin is not in
//! the cache key). The response headers policy only sets the header for the
//! origins it allows: for one taken out of CDN_CORS_ORIGINS, the cached S3
//! header would be served as it is until the copy expires (a year for
//! immutable files), unless `up` invalidates the edge's copies.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::harness::{block_on, clients, emulator, Stack};
use crate::inspect::distribution_of;

const A: &str = "https://a.example";
const B: &str = "https://b.example";
const FONT: &str = "fonts/f.0123456789ab.woff2";

/// One GET through the edge's HTTPS port for `cdn` (SNI and Host), with an
/// Origin header if given: (status, headers in lower case).
fn edge_get(cdn: &str, path: &str, origin: Option<&str>) -> (u16, BTreeMap<String, String>) {
    let emu = emulator();
    let (address, port) = emu.edge_https.split_once(':').unwrap();
    let script = r#"
import http.client, json, socket, ssl, sys
address, port, ca, host, path, origin = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
conn.sock = ctx.wrap_socket(socket.create_connection((address, int(port)), timeout=10), server_hostname=host)
conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
conn.putheader("Host", host)
if origin:
    conn.putheader("Origin", origin)
conn.endheaders()
r = conn.getresponse()
r.read()
print(json.dumps([r.status, {k.lower(): v for k, v in r.getheaders()}]))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([address, port])
        .arg(&emu.ca_bundle)
        .args([cdn, path, origin.unwrap_or("")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: (u16, BTreeMap<String, String>) = serde_json::from_slice(&out.stdout).unwrap();
    answer
}

/// The Access-Control-Allow-Origin a viewer from `origin` gets for the font.
fn allowed_for(cdn: &str, origin: &str) -> Option<String> {
    let (status, headers) = edge_get(cdn, &format!("/{FONT}"), Some(origin));
    assert_eq!(status, 200, "{headers:?}");
    headers.get("access-control-allow-origin").cloned()
}

/// `up`, a content-hashed font in the bucket (cached a year), and the
/// distribution's domain.
fn deployed(stack: &Stack) -> String {
    let up = stack.run(&["up", "--json"]).ok().json();
    let c = clients(stack);
    block_on(
        c.s3.put_object()
            .bucket(&stack.bucket)
            .key(FONT)
            .body(b"wOF2 font bytes".to_vec().into())
            .content_type("font/woff2")
            .cache_control("public, max-age=31536000, immutable")
            .send(),
    )
    .unwrap();
    up["distribution_domain"].as_str().unwrap().to_string()
}

/// The paths of every invalidation of the stack's distribution.
fn invalidations(stack: &Stack) -> Vec<Vec<String>> {
    let c = clients(stack);
    let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
    let list = block_on(c.cloudfront.list_invalidations().distribution_id(&d.id).send()).unwrap();
    let ids: Vec<String> = list
        .invalidation_list
        .map(|l| l.items.unwrap_or_default().into_iter().map(|i| i.id).collect())
        .unwrap_or_default();
    ids.iter()
        .map(|id| {
            let got = block_on(c.cloudfront.get_invalidation().distribution_id(&d.id).id(id).send()).unwrap();
            got.invalidation
                .and_then(|i| i.invalidation_batch)
                .and_then(|b| b.paths)
                .map(|p| p.items.unwrap_or_default())
                .unwrap_or_default()
        })
        .collect()
}

fn up_lines(run: &crate::harness::Run) -> String {
    format!("{}{}", run.stdout, run.stderr)
}

#[test]
fn an_origin_taken_out_of_the_list_no_longer_gets_the_edges_cached_answer() {
    let mut stack = Stack::new("corsnarrow").with("CDN_CORS_ORIGINS", &format!("{A},{B}"));
    let cdn = deployed(&stack);
    // B fills the edge's cache with S3's answer for B.
    assert_eq!(allowed_for(&cdn, B).as_deref(), Some(B));
    let (_, cached) = edge_get(&cdn, &format!("/{FONT}"), Some(B));
    assert_eq!(cached["x-cache"], "Hit from cloudfront", "{cached:?}");
    assert_eq!(allowed_for(&cdn, A).as_deref(), Some(A));
    let before = invalidations(&stack).len();

    // B taken out: the plan says the edge's copies go, and why.
    stack.set("CDN_CORS_ORIGINS", A);
    let dry = stack.run(&["up", "--dry-run"]).code(3);
    assert!(dry.stderr.contains("invalidate /*"), "{}", dry.stderr);
    assert!(
        dry.stderr.contains(B),
        "the plan names the origin taken out: {}",
        dry.stderr
    );
    let run = stack.run(&["up"]).ok();
    assert!(up_lines(&run).contains("not waited for"), "{}", up_lines(&run));

    assert_eq!(
        allowed_for(&cdn, B),
        None,
        "B still gets the edge's copy of S3's answer"
    );
    assert_eq!(allowed_for(&cdn, A).as_deref(), Some(A));
    // And B cannot fill the cache again with an answer for itself.
    assert_eq!(allowed_for(&cdn, B), None);
    assert_eq!(allowed_for(&cdn, A).as_deref(), Some(A));
    let after = invalidations(&stack);
    assert_eq!(after.len(), before + 1, "{after:?}");
    assert_eq!(after.last().unwrap(), &vec!["/*".to_string()], "{after:?}");

    // Converged: status is in sync, and another `up` invalidates nothing.
    stack.run(&["status"]).ok();
    stack.run(&["up"]).ok();
    assert_eq!(invalidations(&stack).len(), before + 1);

    // Widening (A and B again) needs no invalidation: the policy answers B.
    stack.set("CDN_CORS_ORIGINS", &format!("{A},{B}"));
    stack.run(&["up"]).ok();
    assert_eq!(invalidations(&stack).len(), before + 1);
    assert_eq!(allowed_for(&cdn, B).as_deref(), Some(B));
}

#[test]
fn from_any_origin_to_a_list_without_waiting() {
    // CDN_CORS_ORIGINS unset is any origin: S3 answers `*`, which the edge
    // caches for everyone.
    let mut stack = Stack::new("corsany");
    let cdn = deployed(&stack);
    assert_eq!(allowed_for(&cdn, B).as_deref(), Some("*"));
    let before = invalidations(&stack).len();

    stack.set("CDN_CORS_ORIGINS", A);
    let run = stack.run(&["up", "--no-wait", "--json"]).ok();
    let result: Value = run.json();
    let notes = result["notes"].to_string();
    assert!(notes.contains("not waited for"), "{notes}");
    assert_eq!(allowed_for(&cdn, B), None, "B still gets the cached `*`");
    assert_eq!(allowed_for(&cdn, A).as_deref(), Some(A));
    assert_eq!(invalidations(&stack).len(), before + 1);

    // Back to any origin: a widening, nothing to invalidate.
    stack.unset("CDN_CORS_ORIGINS");
    stack.run(&["up", "--no-wait"]).ok();
    assert_eq!(invalidations(&stack).len(), before + 1);
    assert_eq!(allowed_for(&cdn, B).as_deref(), Some("*"));
}
