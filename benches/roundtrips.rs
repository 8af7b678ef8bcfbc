//! How many requests cdnctl makes, and how many stand in a row.
//!
//!     cargo bench --bench roundtrips [-- --delay-ms 50]
//!
//! Runs the release binary against the local emulator with a fixed delay added
//! to every request (as AWS's latency would), and prints, for a fresh
//! `up --no-wait`, a converged `up`, `status` and `down --no-wait`: wall time,
//! requests (reads / writes), the critical path (the longest chain of requests
//! each sent after the previous was answered, from the emulator's timeline),
//! and wall time ÷ delay, which also counts the emulator's own work and the
//! process's start-up. `BENCH_TIMELINE=1` prints every request. Also the release
//! binary's size and `cdnctl --version` start-up time. A benchmark, not a test:
//! it prints figures and checks nothing.

#[path = "../tests/it/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../tests/it/inspect.rs"]
#[allow(dead_code)]
mod inspect;

use std::time::Instant;

use harness::{block_on, clients, Stack};
use serde_json::json;

fn main() {
    let delay_ms: u64 = std::env::args()
        .skip_while(|a| a != "--delay-ms")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);

    let (stack, _zone, domain) = Stack::new("bench").with_domain();
    let c = clients(&stack);
    let cert = block_on(inspect::issued_certificate(&c, &domain));
    let stack = stack
        .with("CERTIFICATE_ARN", &cert)
        .with("BUCKET_USERS", "arn:aws:iam::123456789012:role/deploy");
    // The emulator sets up each service on first use (about a second); do
    // that before timing anything.
    Stack::new("warmup").run(&["status"]);
    stack.configure(json!({"delay_ms": delay_ms}));

    println!("cdnctl against the local emulator, {delay_ms} ms added to every request, custom domain with a given certificate\n");
    println!("| command | wall time | first request after | requests (reads / writes) | critical path (requests in a row) | wall time ÷ delay |");
    println!("|---|---|---|---|---|---|");
    for (label, args) in [
        ("fresh `up --no-wait`", &["up", "--no-wait"][..]),
        ("converged `up`", &["up"]),
        ("`status`", &["status"]),
        ("`down --no-wait`", &["down", "--yes", "--no-wait"]),
    ] {
        let before = stack.requests().len();
        let epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let start = Instant::now();
        let run = stack.run(args);
        let wall = start.elapsed();
        assert!(run.code == 0, "{label} failed: {}", run.stderr);
        let requests = &stack.requests()[before..];
        let writes = requests.iter().filter(|r| r.write).count();
        let first = requests.iter().map(|r| r.start).fold(f64::INFINITY, f64::min);
        println!(
            "| {label} | {:.0} ms | {:.0} ms | {} ({} / {writes}) | {} | {:.1} |",
            wall.as_secs_f64() * 1000.0,
            (first - epoch) * 1000.0,
            requests.len(),
            requests.len() - writes,
            harness::depth(requests),
            wall.as_secs_f64() * 1000.0 / delay_ms as f64
        );
        if std::env::var_os("BENCH_TIMELINE").is_some() {
            let t0 = requests.first().map(|r| r.start).unwrap_or(0.0);
            for r in requests {
                let end = r
                    .end
                    .map(|e| format!("{:6.0}", (e - t0) * 1000.0))
                    .unwrap_or_else(|| "     -".into());
                println!("    {:6.0} {end} ms  {}", (r.start - t0) * 1000.0, r.op);
            }
        }
    }
    stack.configure(json!({"delay_ms": 0}));
    stack.run(&["down", "--yes"]);

    let binary = env!("CARGO_BIN_EXE_cdnctl");
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    let runs = 20;
    let start = Instant::now();
    for _ in 0..runs {
        std::process::Command::new(binary).arg("--version").output().unwrap();
    }
    let startup = start.elapsed() / runs;
    println!();
    println!("binary: {:.1} MiB ({binary})", size as f64 / (1024.0 * 1024.0));
    println!(
        "`cdnctl --version`: {:.1} ms (mean of {runs})",
        startup.as_secs_f64() * 1000.0
    );
}
