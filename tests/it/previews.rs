//! Previews (`CDN_PREVIEWS=on`, `deploy DIR --preview NAME`): `up` adds
//! `*.DOMAIN` to the distribution, a new certificate (swapped in while the
//! site serves) and Route53; a preview is served at NAME.DOMAIN through the
//! emulator's edge, which runs the LIVE function with the Host the visitor
//! sent, while the live host keeps the live release; `releases` lists it,
//! `rollback` never picks it, pruning never counts it; basic auth guards
//! preview hosts only; `releases --remove` and age remove it. A preview is
//! planned over the live route and shares its files; the 404 page is the
//! live site's.

use std::path::Path;
use std::process::Command;

use crate::harness::{block_on, clients, emulator, write, Stack};
use crate::inspect::distribution_of;
use crate::release_deploy::keys_under;

/// One GET through the edge's HTTPS port for `host` with `headers`:
/// (status, a header's value, body).
fn get(host: &str, path: &str, headers: &[(&str, &str)], want: &str) -> (u16, Option<String>, String) {
    let emu = emulator();
    let (address, port) = emu.edge_https.split_once(':').unwrap();
    let script = r#"
import http.client, json, socket, ssl, sys
address, port, ca, host, path, want, headers = sys.argv[1:8]
ctx = ssl.create_default_context(cafile=ca)
conn = http.client.HTTPSConnection(address, int(port), context=ctx, timeout=10)
conn.sock = ctx.wrap_socket(socket.create_connection((address, int(port)), timeout=10), server_hostname=host)
conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
conn.putheader("Host", host)
for k, v in json.loads(headers):
    conn.putheader(k, v)
conn.endheaders()
r = conn.getresponse()
print(json.dumps([r.status, r.getheader(want), r.read().decode("utf-8", "replace")]))
"#;
    let headers = serde_json::to_string(headers).unwrap();
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args([address, port])
        .arg(&emu.ca_bundle)
        .args([host, path, want, &headers])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn body(host: &str) -> (u16, String) {
    let (status, _, body) = get(host, "/", &[], "x");
    (status, body)
}

fn site(dir: &Path, home: &str) {
    write(dir, "index.html", home.as_bytes());
    write(dir, "about.html", b"about us");
    write(dir, "js/app.0123456789ab.js", b"app");
}

fn at_edge(stack: &Stack, args: &[&str]) -> crate::harness::Run {
    let args = crate::release_deploy::at_edge(args);
    stack.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn a_preview_is_served_at_its_host_and_the_live_site_stays() {
    let (stack, zone_id, domain) = Stack::new("preview").with("CDN_RELEASES", "3").with_domain();
    let (a, b, c, d) = (
        stack.dir().join("a"),
        stack.dir().join("b"),
        stack.dir().join("c"),
        stack.dir().join("d"),
    );
    site(&a, "home A");
    site(&b, "preview B");
    site(&c, "home C");
    site(&d, "preview D");

    // A live site first, then previews turned on: a new certificate with
    // the wildcard SAN, swapped in on the live distribution.
    stack.run(&["up"]).ok();
    let release_a = at_edge(&stack, &["deploy", a.to_str().unwrap(), "--json"]).ok().json()["stages"][1]["result"]
        ["release"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(body(&domain), (200, "home A".into()));
    let host = format!("pr-1.{domain}");

    // Previews off: refused, naming the setting, before any write.
    let refused = stack.run_without_writes(&["deploy", b.to_str().unwrap(), "--preview", "pr-1"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("CDN_PREVIEWS is off"), "{}", refused.stderr);

    let stack = stack.with("CDN_PREVIEWS", "on");
    stack.run(&["up"]).ok();
    let cl = clients(&stack);
    let dist = block_on(distribution_of(&cl, &stack.bucket)).unwrap();
    let aliases = dist.config.aliases.unwrap().items.unwrap();
    let wildcard = format!("*.{domain}");
    assert_eq!(aliases, vec![domain.clone(), wildcard.clone()]);
    let arn = dist.config.viewer_certificate.unwrap().acm_certificate_arn.unwrap();
    let cert = block_on(cl.acm.describe_certificate().certificate_arn(&arn).send())
        .unwrap()
        .certificate
        .unwrap();
    assert!(
        cert.subject_alternative_names().contains(&wildcard),
        "{:?}",
        cert.subject_alternative_names()
    );
    let records = block_on(cl.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send()).unwrap();
    let wild: Vec<String> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().replace("\\052", "*") == format!("{wildcard}."))
        .map(|r| r.r#type().as_str().to_string())
        .collect();
    assert_eq!(wild, vec!["A", "AAAA"]);
    // The site served throughout, and a second up has nothing to do.
    assert_eq!(body(&domain), (200, "home A".into()));
    stack.run_without_writes(&["up"]).ok();
    let status = stack.run(&["status", "--json"]).ok().json();
    let text = status.to_string();
    assert!(text.contains(&format!("{wildcard} A")), "{status:#}");

    // A bad NAME: a usage error naming --preview, no write.
    let bad = stack.run_without_writes(&["deploy", b.to_str().unwrap(), "--preview", "PR_1"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr
            .contains("--preview: \"PR_1\" is not valid: expected a DNS label"),
        "{}",
        bad.stderr
    );

    // The preview: its host gets it, the live host still gets A.
    let out = at_edge(&stack, &["deploy", b.to_str().unwrap(), "--preview", "pr-1", "--json"])
        .ok()
        .json();
    let url = format!("https://{host}/");
    assert_eq!(out["url"], url.as_str(), "{out:#}");
    let published = &out["stages"][1]["result"];
    assert_eq!(published["preview_url"], url.as_str());
    let release_b = published["release"].as_str().unwrap().to_string();
    // check then probed the preview's release at its host.
    let checked = &out["stages"][2];
    assert_eq!(checked["stage"], "check", "{out:#}");
    assert_eq!(checked["exit_code"], 0, "{out:#}");
    let probed = checked["result"].to_string();
    assert!(probed.contains(&host), "{checked:#}");
    assert!(probed.contains(&release_b), "{checked:#}");
    assert_eq!(body(&host), (200, "preview B".into()));
    assert_eq!(body(&domain), (200, "home A".into()));
    // In CI: the URL on stdout and in the step summary, for a PR comment.
    let summary = stack.dir().join("summary.md");
    let ci = stack.with("GITHUB_STEP_SUMMARY", summary.to_str().unwrap());
    let text = at_edge(&ci, &["deploy", b.to_str().unwrap(), "--preview", "pr-2"]).ok();
    let url_2 = format!("https://pr-2.{domain}/");
    assert!(text.stdout.contains(&url_2), "{}", text.stdout);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains(&format!("published preview at {url_2}")), "{md}");
    assert!(md.contains(&format!("Preview `pr-2`: {url_2}")), "{md}");
    let stack = ci;
    // An unknown preview: 404 from the function, not the live site.
    let (status, _) = body(&format!("pr-9.{domain}"));
    assert_eq!(status, 404);

    // Another live release, then rollback: back to A, never to the preview.
    at_edge(&stack, &["deploy", c.to_str().unwrap()]).ok();
    assert_eq!(body(&domain), (200, "home C".into()));
    let listed = stack.run(&["releases", "--json"]).ok().json();
    let ids: Vec<&str> = listed["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(!ids.contains(&release_b.as_str()), "{listed:#}");
    let previews: Vec<(&str, &str, &str)> = listed["previews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["url"].as_str().unwrap(),
                p["release"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(previews[0], ("pr-1", url.as_str(), release_b.as_str()), "{listed:#}");
    let rolled = at_edge(&stack, &["rollback", "--json"]).ok().json();
    assert_eq!(rolled["release"], release_a.as_str());
    assert_eq!(body(&domain), (200, "home A".into()));
    assert_eq!(body(&host), (200, "preview B".into()));

    // Basic auth, on preview hosts only.
    let stack = stack.with("CDN_PREVIEW_AUTH", "team:s3cret");
    stack.run(&["up"]).ok();
    let (status, challenge, _) = get(&host, "/", &[], "www-authenticate");
    assert_eq!(status, 401);
    assert_eq!(challenge.as_deref(), Some("Basic realm=\"preview\""));
    let wrong = get(&host, "/", &[("Authorization", "Basic dGVhbTp3cm9uZw==")], "x");
    assert_eq!(wrong.0, 401);
    // team:s3cret
    let (status, _, page) = get(&host, "/", &[("Authorization", "Basic dGVhbTpzM2NyZXQ=")], "x");
    assert_eq!((status, page.as_str()), (200, "preview B"));
    assert_eq!(body(&domain), (200, "home A".into()));

    // Publishing pr-1 again replaces its release (its files go).
    let again = at_edge(&stack, &["deploy", d.to_str().unwrap(), "--preview", "pr-1", "--json"])
        .ok()
        .json();
    let release_d = again["stages"][1]["result"]["release"].as_str().unwrap().to_string();
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{release_b}/")).is_empty());
    let auth = [("Authorization", "Basic dGVhbTpzM2NyZXQ=")];
    assert_eq!(get(&host, "/", &auth, "x").2, "preview D");

    // --remove: the pointer, the record and the files; the host answers 404.
    let removed = stack.run(&["releases", "--remove", "pr-1", "--json"]).ok().json();
    assert_eq!(removed["removed"], "pr-1");
    assert!(removed["deleted"].as_u64().unwrap() > 0, "{removed:#}");
    let names: Vec<&str> = removed["previews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["pr-2"]);
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{release_d}/")).is_empty());
    assert!(
        !keys_under(&stack, "_cdnctl/assets/").is_empty(),
        "assets are shared and stay"
    );
    assert_eq!(get(&host, "/", &auth, "x").0, 404);
    let unknown = stack.run_without_writes(&["releases", "--remove", "pr-1"]);
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("no such preview"), "{}", unknown.stderr);
}

#[test]
fn previews_are_refused_without_a_custom_domain() {
    let stack = Stack::new("nopreview").with("CDN_RELEASES", "2");
    let dir = stack.dir().join("site");
    site(&dir, "home");
    let run = stack.run_without_writes(&["deploy", dir.to_str().unwrap(), "--preview", "pr-1"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("no custom domain") && run.stderr.contains("cloudfront.net has no subdomains"),
        "{}",
        run.stderr
    );
    // The setting alone is refused too, naming what it needs.
    let on = stack.with("CDN_PREVIEWS", "on");
    let run = on.run_without_writes(&["up"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("CDN_PREVIEWS: on needs a custom domain"),
        "{}",
        run.stderr
    );
}

/// Pruning never counts or removes a preview; one older than
/// `CDN_PREVIEW_DAYS` goes after the next successful deploy.
#[test]
fn pruning_spares_previews_and_old_ones_expire() {
    let (stack, _, domain) = Stack::new("prevexp")
        .with("CDN_RELEASES", "1")
        .with("CDN_PREVIEWS", "on")
        .with_domain();
    let dirs: Vec<_> = ["a", "p", "q", "c", "e"]
        .iter()
        .map(|n| {
            let dir = stack.dir().join(n);
            site(&dir, &format!("home {n}"));
            dir
        })
        .collect();
    stack.run(&["up"]).ok();
    let release = |run: crate::harness::Run| {
        run.ok().json()["stages"][1]["result"]["release"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = release(at_edge(&stack, &["deploy", dirs[0].to_str().unwrap(), "--json"]));
    let p = release(at_edge(
        &stack,
        &["deploy", dirs[1].to_str().unwrap(), "--preview", "old", "--json"],
    ));
    let q = release(at_edge(
        &stack,
        &["deploy", dirs[2].to_str().unwrap(), "--preview", "new", "--json"],
    ));
    at_edge(&stack, &["deploy", dirs[3].to_str().unwrap()]).ok();
    let pruned = at_edge(&stack, &["deploy", dirs[4].to_str().unwrap(), "--json"])
        .ok()
        .json();
    // Keeping 1: the oldest live release goes; the previews, though older
    // than the kept releases, are not counted.
    assert_eq!(
        pruned["stages"][1]["result"]["pruned"],
        serde_json::json!([a]),
        "{pruned:#}"
    );
    assert!(!keys_under(&stack, &format!("_cdnctl/releases/{p}/")).is_empty());
    assert_eq!(body(&format!("old.{domain}")), (200, "home p".into()));

    // Preview `old` published 40 days ago (its record says so).
    let keys = crate::releases::store_client(&stack);
    let c = clients(&stack);
    let name = format!("cdnctl-{}", stack.bucket);
    block_on(async {
        let arn = c
            .cloudfront
            .describe_key_value_store()
            .name(&name)
            .send()
            .await
            .unwrap()
            .key_value_store
            .unwrap()
            .arn;
        let key = format!("release:{p}");
        let record = keys.get_key().kvs_arn(&arn).key(&key).send().await.unwrap().value;
        let mut record: serde_json::Value = serde_json::from_str(&record).unwrap();
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
        record["when"] = aws_smithy_types::DateTime::from(when)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap()
            .into();
        let etag = keys
            .describe_key_value_store()
            .kvs_arn(&arn)
            .send()
            .await
            .unwrap()
            .e_tag;
        keys.put_key()
            .kvs_arn(&arn)
            .key(&key)
            .value(record.to_string())
            .if_match(etag)
            .send()
            .await
            .unwrap();
    });
    let next = at_edge(&stack, &["deploy", dirs[0].to_str().unwrap(), "--json"])
        .ok()
        .json();
    assert_eq!(
        next["stages"][1]["result"]["previews_removed"],
        serde_json::json!(["old"]),
        "{next:#}"
    );
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{p}/")).is_empty());
    assert!(!keys_under(&stack, &format!("_cdnctl/releases/{q}/")).is_empty());
    assert_eq!(body(&format!("old.{domain}")).0, 404);
    assert_eq!(body(&format!("new.{domain}")), (200, "home q".into()));
    let listed = stack.run(&["releases", "--json"]).ok().json();
    let names: Vec<&str> = listed["previews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["new"]);
}

/// Previews turned off again: `up` takes `*.DOMAIN` off the distribution,
/// its records and (through a certificate without it) the certificate,
/// the way a domain move ends, and the site serves throughout.
#[test]
fn previews_turned_off_leave_the_domain_serving() {
    let (stack, zone_id, domain) = Stack::new("prevoff")
        .with("CDN_RELEASES", "2")
        .with("CDN_PREVIEWS", "on")
        .with_domain();
    let dir = stack.dir().join("a");
    site(&dir, "home");
    stack.run(&["up"]).ok();
    at_edge(&stack, &["deploy", dir.to_str().unwrap()]).ok();
    let mut stack = stack;
    stack.set("CDN_PREVIEWS", "off");
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = stack.run(&["up"]);
        runs.push(format!("{}\n{}", run.stdout, run.stderr));
        assert_eq!(run.code, 0, "{runs:#?}");
        assert_eq!(body(&domain), (200, "home".into()), "{runs:#?}");
    }
    let cl = clients(&stack);
    let dist = block_on(distribution_of(&cl, &stack.bucket)).unwrap();
    assert_eq!(
        dist.config.aliases.unwrap().items.unwrap(),
        vec![domain.clone()],
        "{runs:#?}"
    );
    let records = block_on(cl.route53.list_resource_record_sets().hosted_zone_id(&zone_id).send()).unwrap();
    assert!(
        records
            .resource_record_sets()
            .iter()
            .all(|r| !r.name().replace("\\052", "*").starts_with("*.")),
        "{runs:#?}"
    );
    stack.run_without_writes(&["up"]).ok();
}

/// A preview is planned over the live route: it uploads what differs from
/// the live site and reads every other path from the live releases, whose
/// files pruning keeps while it reads them; its removal deletes its own
/// files and those only it still read, never a kept release's.
#[test]
fn a_preview_holds_what_differs_from_live_and_reads_the_rest() {
    let (stack, _, domain) = Stack::new("prevshare")
        .with("CDN_RELEASES", "1")
        .with("CDN_PREVIEWS", "on")
        .with_domain();
    let pages = |dir: &Path, home: &str, about: &str| {
        write(dir, "index.html", home.as_bytes());
        write(dir, "about.html", about.as_bytes());
        write(dir, "js/app.0123456789ab.js", b"app");
        for i in 0..20 {
            write(dir, &format!("pages/p{i}.html"), format!("page {i}").as_bytes());
        }
    };
    let (a, p, c, e) = (
        stack.dir().join("a"),
        stack.dir().join("p"),
        stack.dir().join("c"),
        stack.dir().join("e"),
    );
    pages(&a, "home A", "about A");
    pages(&p, "home A", "about P");
    pages(&c, "home C", "about A");
    pages(&e, "home E", "about A");
    stack.run(&["up"]).ok();
    let release = |out: &serde_json::Value| out["stages"][1]["result"]["release"].as_str().unwrap().to_string();
    let release_a = release(&at_edge(&stack, &["deploy", a.to_str().unwrap(), "--json"]).ok().json());

    // The preview changes about.html alone: one upload, no copy.
    let before = stack.writes().len();
    let out = at_edge(&stack, &["deploy", p.to_str().unwrap(), "--preview", "pr-1", "--json"])
        .ok()
        .json();
    let writes = stack.writes()[before..].to_vec();
    let release_p = release(&out);
    let published = &out["stages"][1]["result"];
    assert_eq!(
        (published["uploaded"].as_u64(), published["copied"].as_u64()),
        (Some(1), Some(0)),
        "{published:#}"
    );
    assert_eq!(writes.iter().filter(|r| r.copy).count(), 0, "{writes:#?}");
    assert_eq!(
        keys_under(&stack, &format!("_cdnctl/releases/{release_p}/")),
        vec![format!("_cdnctl/releases/{release_p}/about.html")]
    );
    // check probed the preview through its route: each path from its holder.
    assert_eq!(out["stages"][2]["exit_code"], 0, "{out:#}");
    let host = format!("pr-1.{domain}");
    let meta = "x-amz-meta-cdnctl-release";
    let (status, holder, page) = get(&host, "/about.html", &[], meta);
    assert_eq!(
        (status, holder.as_deref(), page.as_str()),
        (200, Some(release_p.as_str()), "about P")
    );
    let (status, holder, page) = get(&host, "/pages/p3.html", &[], meta);
    assert_eq!(
        (status, holder.as_deref(), page.as_str()),
        (200, Some(release_a.as_str()), "page 3")
    );
    assert_eq!(get(&domain, "/about.html", &[], meta).2, "about A");

    // Live moves on: a whole release (other header rules), then one over it.
    // Keeping 1, A is pruned; no kept release reads its files, the preview
    // does: they stay, and the preview still serves them.
    let mut stack = stack;
    stack.set("CDN_CACHE_RULES", "*.html=no-cache");
    let release_c = release(&at_edge(&stack, &["deploy", c.to_str().unwrap(), "--json"]).ok().json());
    let out = at_edge(&stack, &["deploy", e.to_str().unwrap(), "--json"]).ok().json();
    assert_eq!(
        out["stages"][1]["result"]["pruned"],
        serde_json::json!([release_a]),
        "{out:#}"
    );
    assert!(!keys_under(&stack, &format!("_cdnctl/releases/{release_a}/")).is_empty());
    let (status, holder, page) = get(&host, "/pages/p3.html", &[], meta);
    assert_eq!(
        (status, holder.as_deref(), page.as_str()),
        (200, Some(release_a.as_str()), "page 3")
    );
    assert_eq!(get(&host, "/", &[], meta).2, "home A");
    assert_eq!(get(&domain, "/", &[], meta).2, "home E");

    // Removed: its own file and A's (read by nothing kept now) go; C's stay.
    let removed = stack.run(&["releases", "--remove", "pr-1", "--json"]).ok().json();
    assert_eq!(removed["deleted"].as_u64(), Some(1 + 22), "{removed:#}");
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{release_p}/")).is_empty());
    assert!(keys_under(&stack, &format!("_cdnctl/releases/{release_a}/")).is_empty());
    assert!(!keys_under(&stack, &format!("_cdnctl/releases/{release_c}/")).is_empty());
    assert_eq!(get(&domain, "/pages/p3.html", &[], meta).2, "page 3");
}

/// With `CDN_NOT_FOUND`, the 404 page is the live site's: a missing path on
/// a preview host gets it with status 404 (not the preview's own page),
/// and `check` against the preview expects that and passes.
#[test]
fn a_preview_gets_the_live_sites_404_page() {
    let (stack, _, domain) = Stack::new("prev404")
        .with("CDN_RELEASES", "2")
        .with("CDN_PREVIEWS", "on")
        .with("CDN_NOT_FOUND", "/404.html")
        .with_domain();
    let (live, preview) = (stack.dir().join("live"), stack.dir().join("preview"));
    site(&live, "home");
    write(&live, "404.html", b"live: not here");
    site(&preview, "preview home");
    write(&preview, "404.html", b"preview: not here");
    stack.run(&["up"]).ok();
    at_edge(&stack, &["deploy", live.to_str().unwrap()]).ok();
    let out = at_edge(
        &stack,
        &["deploy", preview.to_str().unwrap(), "--preview", "pr-1", "--json"],
    )
    .ok()
    .json();
    let checked = &out["stages"][2];
    assert_eq!(
        (&checked["stage"], &checked["exit_code"]),
        (&"check".into(), &0.into()),
        "{out:#}"
    );
    let missing = checked["result"]["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == "missing")
        .cloned()
        .unwrap();
    assert!(
        missing.to_string().contains(&format!("https://pr-1.{domain}/")),
        "{missing:#}"
    );
    assert_eq!(missing["ok"], true, "{missing:#}");
    let host = format!("pr-1.{domain}");
    let (status, _, page) = get(&host, "/no-such-page.html", &[], "x");
    assert_eq!((status, page.as_str()), (404, "live: not here"));
    assert_eq!(body(&host), (200, "preview home".into()));
    let (status, _, page) = get(&domain, "/no-such-page.html", &[], "x");
    assert_eq!((status, page.as_str()), (404, "live: not here"));
}
