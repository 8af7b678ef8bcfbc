//! A real browser (Debian's headless chromium, installed by scripts/test) loads
//! a page from a local origin that takes a font, a stylesheet and a module
//! script from the CDN through the emulator's CloudFront edge, as a web app's
//! visitors would. With CDN_CORS_ORIGINS not naming the page's origin, the
//! browser refuses the font (and the module), and still applies the stylesheet.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{emulator, root, Stack};

const CHROMIUM: &str = "/usr/bin/chromium";
const CSS: &str = "css/probe.5af66c1b1797.css";
const MODULE: &str = "js/probe.0123456789ab.js";
const FONT: &str = "fonts/probe.ttf";

/// The static files, as a build would leave them; the font is a real
/// TrueType font (one square glyph, made with fontTools), as browsers decode it.
fn build(stack: &Stack) -> PathBuf {
    let dir = stack.dir().join("static");
    for (rel, content) in [
        (CSS, &b"#styled { color: rgb(1, 2, 3); }\n"[..]),
        (MODULE, b"export const ran = \"yes\";\n"),
        (FONT, include_bytes!("data/probe.ttf")),
    ] {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// The web app's page: it reports in `#results` (JSON) whether the font
/// loaded, the stylesheet applied and the module ran.
fn page(cdn: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>app</title>
<link rel="stylesheet" href="https://{cdn}/{CSS}">
<style>
@font-face {{ font-family: "CdnctlProbe"; src: url("https://{cdn}/{FONT}") format("truetype"); }}
#fonted {{ font-family: "CdnctlProbe", monospace; }}
</style>
</head><body>
<p id="styled">styled</p><p id="fonted">A</p>
<pre id="results">{{}}</pre>
<script type="module">
const results = {{}};
const show = () => {{ document.getElementById("results").textContent = JSON.stringify(results); }};
try {{ await document.fonts.load('16px "CdnctlProbe"'); }} catch (e) {{ results.font_error = String(e); }}
const face = [...document.fonts].find(f => f.family.replace(/"/g, "") === "CdnctlProbe");
results.font = face ? face.status : "no such face";
show();
const link = document.querySelector("link[rel=stylesheet]");
if (!link.sheet) await new Promise(r => {{ link.addEventListener("load", r); link.addEventListener("error", r); }});
results.stylesheet = getComputedStyle(document.getElementById("styled")).color;
show();
try {{ results.module = (await import("https://{cdn}/{MODULE}")).ran; }} catch (e) {{ results.module = "refused: " + e; }}
results.done = true;
show();
</script>
</body></html>
"#
    )
}

/// A tiny HTTP server for the page at http://127.0.0.1:PORT/, for the life of
/// the test binary.
fn serve(page: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let is_page = request.starts_with(b"GET / ");
            let (status, body) = if is_page {
                ("200 OK", page.as_str())
            } else {
                ("404 Not Found", "")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    origin
}

/// base64(SHA-256(SubjectPublicKeyInfo)) of the emulator's CA, which the edge
/// sends in its chain: chromium then trusts the edge's certificates, and
/// nothing else (with the emulator's venv, which has `cryptography`).
fn ca_spki_hash() -> String {
    let python = root().join(".emulator/venv/bin/python");
    let out = Command::new(&python)
        .arg("-c")
        .arg(
            "import base64, hashlib, sys\n\
             from cryptography import x509\n\
             from cryptography.hazmat.primitives import serialization as s\n\
             c = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())\n\
             der = c.public_key().public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo)\n\
             print(base64.b64encode(hashlib.sha256(der).digest()).decode())",
        )
        .arg(&emulator().ca_bundle)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Open `url` in headless chromium, with the CDN's name mapped to the
/// emulator's edge; the page's `#results`.
pub(crate) fn browse(stack: &Stack, url: &str, cdn: &str) -> Value {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: ./scripts/test installs it (apt-get install --no-install-recommends chromium)"
    );
    let edge = &emulator().edge_https;
    let profile = stack.dir().join(format!("chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--host-resolver-rules=MAP {cdn} {edge}"))
        .arg(format!("--ignore-certificate-errors-spki-list={}", ca_spki_hash()))
        .args(["--dump-dom", "--virtual-time-budget=5000", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{CHROMIUM} does not start: {e}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    let results = dom
        .split_once(r#"<pre id="results">"#)
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| json.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
        .unwrap_or_else(|| {
            panic!(
                "no #results in chromium's DOM\nstdout: {dom}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str(&results).unwrap_or_else(|e| panic!("#results is not JSON ({e}): {results}"))
}

#[test]
fn a_browser_refuses_the_font_from_an_origin_not_allowed_and_loads_font_stylesheet_and_module_once_it_is() {
    // Another origin only: the font (and the module script) are refused, as
    // CORS requires; the stylesheet needs no CORS and still applies.
    let mut stack = Stack::new("browser").with("CDN_CORS_ORIGINS", "https://app.example.com");
    let dir = build(&stack);
    let up = stack.run(&["up", "--json"]).ok().json();
    let cdn = up["distribution_domain"].as_str().unwrap().to_string();
    stack.run(&["sync", dir.to_str().unwrap()]).ok();
    let origin = serve(page(&cdn));
    let seen = browse(&stack, &format!("{origin}/"), &cdn);
    assert_eq!(seen["done"], true, "{seen}");
    assert_eq!(seen["font"], "error", "the browser did not refuse the font: {seen}");
    assert_eq!(seen["stylesheet"], "rgb(1, 2, 3)", "{seen}");
    assert!(seen["module"].as_str().unwrap().starts_with("refused"), "{seen}");

    // Any origin (CDN_CORS_ORIGINS unset, then `up`): the browser accepts all
    // three, the edge's copies included.
    stack.unset("CDN_CORS_ORIGINS");
    stack.run(&["up"]).ok();
    let seen = browse(&stack, &format!("{origin}/"), &cdn);
    assert_eq!(seen["done"], true, "{seen}");
    assert_eq!(seen["font"], "loaded", "{seen}");
    assert_eq!(seen["stylesheet"], "rgb(1, 2, 3)", "{seen}");
    assert_eq!(seen["module"], "yes", "{seen}");
}
