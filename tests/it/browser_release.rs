//! Skew, in a real browser (headless chromium): a page of release A, open
//! while release B is deployed, still loads A's lazily loaded chunk after
//! the switch, and a reload gets B. The page waits for the test (a request
//! to a local server answered only once B is live) between loading and
//! importing its chunk, as an open tab would.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::browser::browse;
use crate::harness::{write, Stack};
use crate::release_deploy::run;

/// A release's home page: it reports in `#results` (JSON) what it got.
fn home(dir: &Path, name: &str, chunk: &str, wait: &str) {
    let page = format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><title>{name}</title></head><body>
<h1>home {name}</h1>
<pre id="results">{{}}</pre>
<script type="module">
const results = {{ release: "{name}" }};
const show = () => {{ document.getElementById("results").textContent = JSON.stringify(results); }};
show();
try {{ await fetch("{wait}"); results.waited = true; }} catch (e) {{ results.waited = String(e); }}
try {{ results.chunk = (await import("/js/{chunk}")).chunk; }} catch (e) {{ results.chunk = "failed: " + e; }}
try {{ results.reload = await (await fetch("/", {{ cache: "reload" }})).text(); }} catch (e) {{ results.reload = "failed: " + e; }}
results.done = true;
show();
</script>
</body></html>
"#
    );
    write(dir, "index.html", page.as_bytes());
    write(
        dir,
        &format!("js/{chunk}"),
        format!("export const chunk = \"{chunk}\";\n").as_bytes(),
    );
}

/// A local server whose `/wait` is answered (with CORS) once `go` is set;
/// `seen` is set when the page asked.
fn waiter(go: Arc<AtomicBool>, seen: Arc<AtomicBool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wait", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (go, seen) = (go.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                seen.store(true, Ordering::SeqCst);
                while !go.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            });
        }
    });
    url
}

#[test]
fn an_open_page_of_the_old_release_loads_its_chunk_after_the_switch_and_a_reload_gets_the_new() {
    let stack = Stack::new("browserrel").with("CDN_RELEASES", "3");
    let cdn = stack.run(&["up", "--json"]).ok().json()["distribution_domain"]
        .as_str()
        .unwrap()
        .to_string();
    let (go, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let wait = waiter(go.clone(), seen.clone());
    let (a, b) = (stack.dir().join("a"), stack.dir().join("b"));
    home(&a, "A", "lazy.aaaa1111bbbb.js", &wait);
    home(&b, "B", "lazy.cccc2222dddd.js", &wait);
    run(&stack, &["deploy", a.to_str().unwrap(), "--json"]);

    // A's page opens, and waits; B is deployed (deploy returns once the edge
    // serves it); then the page goes on.
    let browsing = std::thread::scope(|s| {
        let tab = s.spawn(|| browse(&stack, &format!("https://{cdn}/"), &cdn));
        while !seen.load(Ordering::SeqCst) {
            assert!(!tab.is_finished(), "the page never asked to wait");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let deployed = run(&stack, &["deploy", b.to_str().unwrap(), "--json"]);
        assert_eq!(deployed["ok"], true, "{deployed:#}");
        go.store(true, Ordering::SeqCst);
        tab.join().unwrap()
    });
    assert_eq!(browsing["release"], "A", "{browsing}");
    assert_eq!(browsing["waited"], true, "{browsing}");
    assert_eq!(browsing["done"], true, "{browsing}");
    // A's chunk, named by A's page, still loads with B live...
    assert_eq!(browsing["chunk"], "lazy.aaaa1111bbbb.js", "{browsing}");
    // ...and a reload gets B.
    let reload = browsing["reload"].as_str().unwrap_or_default();
    assert!(reload.contains("<h1>home B</h1>"), "{browsing}");
}
