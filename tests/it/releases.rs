//! Releases (`CDN_RELEASES`): `up` makes the key value store and the
//! viewer-request function and names it on the distribution; a visitor then
//! gets the live release's files through the edge; `down` takes them away in
//! order. With the setting at 0 (the default) none of it exists.

use std::process::Command;

use aws_sdk_cloudfront::types::{EventType, FunctionStage};
use serde_json::Value;

use crate::harness::{block_on, clients, emulator, Stack, REGION};
use crate::inspect::distribution_of;

/// One GET through the edge's HTTPS port for `cdn`: (status, body).
pub(crate) fn edge_get(cdn: &str, path: &str) -> (u16, String) {
    let emu = emulator();
    let (address, port) = emu.edge_https.split_once(':').unwrap();
    let script = r#"
import http.client, json, socket, ssl, sys
address, port, ca, host, path = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
conn.sock = ctx.wrap_socket(socket.create_connection((address, int(port)), timeout=10), server_hostname=host)
conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
conn.putheader("Host", host)
conn.endheaders()
r = conn.getresponse()
print(json.dumps([r.status, r.read().decode("utf-8", "replace")]))
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([address, port])
        .arg(&emu.ca_bundle)
        .args([cdn, path])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A data-plane client of the inspecting key, sending to the emulator as
/// given (AWS's rules would put the account id before its host).
pub(crate) fn store_client(stack: &Stack) -> aws_sdk_cloudfrontkeyvaluestore::Client {
    use aws_sdk_cloudfrontkeyvaluestore::config::endpoint::{DefaultResolver, EndpointFuture, Params, ResolveEndpoint};
    #[derive(Debug)]
    struct AsGiven(String);
    impl ResolveEndpoint for AsGiven {
        fn resolve_endpoint<'a>(&'a self, params: &'a Params) -> EndpointFuture<'a> {
            EndpointFuture::new(async move {
                let rules = DefaultResolver::new().resolve_endpoint(params).await?;
                Ok(rules.into_builder().url(self.0.clone()).build())
            })
        }
    }
    let emu = emulator();
    let (http, creds) = crate::harness::inspecting(stack);
    let config = aws_sdk_cloudfrontkeyvaluestore::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .credentials_provider(creds)
        .region(aws_config::Region::new(REGION))
        .endpoint_resolver(AsGiven(emu.endpoint.clone()))
        .build();
    aws_sdk_cloudfrontkeyvaluestore::Client::from_conf(config)
}

/// The operations of the stack's writes from `from` on.
fn writes_since(stack: &Stack, from: usize) -> Vec<String> {
    stack.writes()[from..].iter().map(|r| r.op.clone()).collect()
}

fn position(ops: &[String], what: &str) -> usize {
    ops.iter()
        .position(|o| o.starts_with(what))
        .unwrap_or_else(|| panic!("no {what} among {ops:#?}"))
}

#[test]
fn releases_serve_the_live_release_and_go_in_order() {
    let stack = Stack::new("rel").with("CDN_RELEASES", "3");
    let up = stack.run(&["up", "--json"]).ok().json();
    let cdn = up["distribution_domain"].as_str().unwrap().to_string();
    let c = clients(&stack);
    let name = format!("cdnctl-{}", stack.bucket);

    // The store exists, with its layout version written by cdnctl's own
    // data-plane client; the function is published (LIVE is DEVELOPMENT),
    // names the store, and runs on the default behavior.
    let store = block_on(c.cloudfront.describe_key_value_store().name(&name).send()).unwrap();
    let store = store.key_value_store.unwrap();
    assert_eq!(store.comment, format!("cdnctl: {}", stack.bucket));
    let keys = store_client(&stack);
    let layout = block_on(keys.get_key().kvs_arn(&store.arn).key("layout").send()).unwrap();
    assert_eq!(layout.value, "1");
    let stage = |stage: FunctionStage| {
        block_on(async {
            let d = c
                .cloudfront
                .describe_function()
                .name(&name)
                .stage(stage.clone())
                .send()
                .await
                .unwrap();
            let g = c
                .cloudfront
                .get_function()
                .name(&name)
                .stage(stage)
                .send()
                .await
                .unwrap();
            (d.function_summary.unwrap(), g.function_code.unwrap().into_inner())
        })
    };
    let (live, live_code) = stage(FunctionStage::Live);
    let (dev, dev_code) = stage(FunctionStage::Development);
    assert_eq!(live_code, dev_code);
    assert_eq!(live.function_config, dev.function_config);
    let config = live.function_config.unwrap();
    assert_eq!(config.runtime.as_str(), "cloudfront-js-2.0");
    let stores: Vec<String> = config
        .key_value_store_associations
        .unwrap()
        .items
        .unwrap()
        .into_iter()
        .map(|a| a.key_value_store_arn)
        .collect();
    assert_eq!(stores, std::slice::from_ref(&store.arn));
    let function_arn = live.function_metadata.unwrap().function_arn;
    let dist = block_on(distribution_of(&c, &stack.bucket)).expect("the distribution exists");
    let behavior = dist.config.default_cache_behavior.unwrap();
    let associations = behavior.function_associations.unwrap().items.unwrap();
    assert_eq!(associations.len(), 1);
    assert_eq!(associations[0].function_arn, function_arn);
    assert_eq!(associations[0].event_type, EventType::ViewerRequest);

    // In dependency order: the store, the function (created, published),
    // then the distribution that names it.
    let ops = writes_since(&stack, 0);
    let store_made = position(&ops, "POST /2020-05-31/key-value-store");
    let function_made = position(&ops, "POST /2020-05-31/function");
    let published = ops
        .iter()
        .position(|o| o.starts_with("POST /2020-05-31/function/") && o.ends_with("/publish"))
        .unwrap();
    let distribution_made = position(&ops, "POST /2020-05-31/distribution");
    assert!(
        store_made < function_made && function_made < published && published < distribution_made,
        "{ops:#?}"
    );

    // The files: in place, a release, and a content-hashed asset shared by releases.
    let put = |key: &str, body: &str| {
        block_on(
            c.s3.put_object()
                .bucket(&stack.bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .content_type("text/html")
                .send(),
        )
        .unwrap();
    };
    put("docs/index.html", "in place");
    put("_cdnctl/releases/r1/docs/index.html", "release r1");
    put("_cdnctl/assets/css/site.5af66c1b1797.css", "body{}");

    // No release yet: the function serves the bucket's files in place, with
    // the directory index.
    assert_eq!(edge_get(&cdn, "/docs/"), (200, "in place".into()));
    // One write of the pointer switches to the release.
    block_on(async {
        let etag = keys
            .describe_key_value_store()
            .kvs_arn(&store.arn)
            .send()
            .await
            .unwrap()
            .e_tag;
        keys.put_key()
            .kvs_arn(&store.arn)
            .key("live")
            .value("r1")
            .if_match(etag)
            .send()
            .await
            .unwrap();
    });
    assert_eq!(edge_get(&cdn, "/docs/"), (200, "release r1".into()));
    assert_eq!(edge_get(&cdn, "/docs"), (200, "release r1".into()));
    assert_eq!(edge_get(&cdn, "/css/site.5af66c1b1797.css"), (200, "body{}".into()));

    // A second up has nothing to do.
    stack.run_without_writes(&["up"]).ok();

    // status: in sync, the store and function reported with the live release.
    let run = stack.run(&["status", "--json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let status: Value = run.json();
    let resources = status["resources"].as_array().unwrap();
    let of = |kind: &str| {
        resources
            .iter()
            .find(|r| r["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {resources:#?}"))
    };
    assert_eq!(of("key_value_store")["health"], "ok");
    assert_eq!(of("function")["health"], "ok");
    assert!(
        of("key_value_store")["detail"]
            .as_str()
            .unwrap()
            .ends_with("live release r1"),
        "{}",
        of("key_value_store")
    );
    assert!(of("function")["detail"]
        .as_str()
        .unwrap()
        .contains("LIVE is DEVELOPMENT"));

    // down: the distribution goes, then the function, then the store; nothing else
    // of CloudFront's functions or stores is written.
    let before = stack.writes().len();
    stack.run(&["down", "--yes", "--purge"]).ok();
    let ops = writes_since(&stack, before);
    let distribution_gone = position(&ops, "DELETE /2020-05-31/distribution/");
    let function_gone = position(&ops, &format!("DELETE /2020-05-31/function/{name}"));
    let store_gone = position(&ops, &format!("DELETE /2020-05-31/key-value-store/{name}"));
    assert!(
        distribution_gone < function_gone && function_gone < store_gone,
        "{ops:#?}"
    );
    let releases_ops: Vec<&String> = ops
        .iter()
        .filter(|o| o.contains("/function") || o.contains("key-value-store"))
        .collect();
    assert_eq!(releases_ops.len(), 2, "{releases_ops:#?}");
    let gone = block_on(c.cloudfront.describe_function().name(&name).send());
    assert!(gone.is_err());
    let gone = block_on(c.cloudfront.describe_key_value_store().name(&name).send());
    assert!(gone.is_err());
}

/// Write `live` through the inspecting key.
fn switch(stack: &Stack, release: &str) {
    let c = clients(stack);
    let keys = store_client(stack);
    let name = format!("cdnctl-{}", stack.bucket);
    block_on(async {
        let store = c
            .cloudfront
            .describe_key_value_store()
            .name(&name)
            .send()
            .await
            .unwrap();
        let arn = store.key_value_store.unwrap().arn;
        let etag = keys
            .describe_key_value_store()
            .kvs_arn(&arn)
            .send()
            .await
            .unwrap()
            .e_tag;
        keys.put_key()
            .kvs_arn(&arn)
            .key("live")
            .value(release)
            .if_match(etag)
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn the_spa_fallback_answers_extensionless_paths_only() {
    let stack = Stack::new("relspa")
        .with("CDN_RELEASES", "2")
        .with("CDN_SPA_FALLBACK", "/index.html");
    let up = stack.run(&["up", "--json"]).ok().json();
    let cdn = up["distribution_domain"].as_str().unwrap().to_string();
    let c = clients(&stack);
    for (key, body) in [
        ("_cdnctl/releases/r7/index.html", "the app"),
        ("_cdnctl/releases/r7/docs/index.html", "the docs"),
        ("_cdnctl/releases/r7/robots.txt", "User-agent: *"),
    ] {
        block_on(
            c.s3.put_object()
                .bucket(&stack.bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send(),
        )
        .unwrap();
    }
    switch(&stack, "r7");
    assert_eq!(edge_get(&cdn, "/settings/profile"), (200, "the app".into()));
    assert_eq!(edge_get(&cdn, "/"), (200, "the app".into()));
    // A trailing slash is still a directory.
    assert_eq!(edge_get(&cdn, "/docs/"), (200, "the docs".into()));
    assert_eq!(edge_get(&cdn, "/robots.txt"), (200, "User-agent: *".into()));
    // A missing script is never answered with the page.
    let (status, body) = edge_get(&cdn, "/js/missing.0123456789ab.js");
    assert_ne!(status, 200, "{body}");
    assert!(!body.contains("the app"), "{body}");
}

#[test]
fn releases_off_make_no_function_and_no_store() {
    let stack = Stack::new("reloff").with("CDN_RELEASES", "0");
    stack.run(&["up"]).ok();
    let touched: Vec<String> = stack
        .requests()
        .into_iter()
        .map(|r| r.op)
        .filter(|o| o.contains("/function") || o.contains("key-value-store"))
        .collect();
    assert!(touched.is_empty(), "{touched:#?}");
    let c = clients(&stack);
    let dist = block_on(distribution_of(&c, &stack.bucket)).expect("the distribution exists");
    let associations = dist.config.default_cache_behavior.unwrap().function_associations;
    assert!(
        associations.as_ref().is_none_or(|a| a.quantity == 0),
        "{associations:?}"
    );
    stack.run(&["status"]).ok();
}

/// The function's rule for content-hashed names, run by node, says what
/// function.rs's `is_hashed` says for the same names (its unit test): the
/// publisher and the edge must agree on which files are shared.
#[test]
fn the_functions_hashed_rule_is_the_publishers() {
    let source =
        std::fs::read_to_string(crate::harness::root().join("src/resources/function/viewer_request.js")).unwrap();
    let start = source.find("function isHashed(").unwrap();
    let end = start + source[start..].find("\n}\n").unwrap() + 2;
    let names = [
        ("app.5af66c1b1797.css", true),
        ("index-B1x9kQ2z.js", true),
        ("chunk.0123456789ab.js", true),
        ("a_b-1234abcd.woff2", true),
        ("app.css", false),
        ("my-component.js", false),
        ("jquery-3.7.1.min.js", false),
        ("report-20241231.pdf", false),
        ("index.html", false),
        ("README", false),
        (".5af66c1b1797.css", false),
        ("5af66c1b1797.css", false),
    ];
    let list: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    let script = format!(
        "{}\nconsole.log(JSON.stringify({}.map(isHashed)));",
        &source[start..end],
        serde_json::to_string(&list).unwrap()
    );
    let out = Command::new("node").arg("-e").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<bool> = serde_json::from_slice(&out.stdout).unwrap();
    let want: Vec<bool> = names.iter().map(|(_, h)| *h).collect();
    assert_eq!(got, want, "{list:?}");
}

/// `up` killed after any of its writes (the store's creation, its layout
/// key, the function's creation or publication, the distribution naming
/// it, …) is finished by the next `up`, which leaves nothing to do.
#[test]
fn releases_up_killed_after_any_write_converges_on_the_next_run() {
    let reference = Stack::new("relkillref").with("CDN_RELEASES", "3");
    reference.run(&["up", "--no-wait"]).ok();
    let total = reference.writes().len();
    assert!(
        total >= 10,
        "a fresh up with releases makes at least 10 writes, made {total}"
    );

    let c = clients(&reference);
    for k in 0..total {
        let stack = Stack::new("relkill").with("CDN_RELEASES", "3");
        stack.configure(serde_json::json!({"stall_after_writes": k}));
        let mut child = stack
            .command(&["up"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        crate::inspect::wait_for_stall(&stack, &mut child);
        child.kill().unwrap();
        child.wait().unwrap();
        stack.configure(serde_json::json!({"stall_after_writes": null}));

        stack.run(&["up"]).ok();
        let name = format!("cdnctl-{}", stack.bucket);
        let live = block_on(
            c.cloudfront
                .describe_function()
                .name(&name)
                .stage(FunctionStage::Live)
                .send(),
        )
        .unwrap_or_else(|e| panic!("k={k}: no LIVE function: {e:?}"));
        let arn = live.function_summary.unwrap().function_metadata.unwrap().function_arn;
        let d = block_on(distribution_of(&c, &stack.bucket)).unwrap();
        let associations = d.config.default_cache_behavior.unwrap().function_associations.unwrap();
        assert_eq!(associations.items()[0].function_arn, arn, "k={k}");
        stack.run_without_writes(&["status"]).ok();
        stack.run_without_writes(&["up"]).ok();
    }
}
