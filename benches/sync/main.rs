//! `cdnctl sync` beside `aws s3 sync`, `s5cmd sync`, `rclone sync` and
//! django-storages' `collectstatic`, on the same tree, against the local emulator with a fixed
//! delay added to every request (as AWS's latency would be).
//!
//!     cargo bench --bench sync [-- --delay-ms 100 --files 2000 --memory-files 20000 --skip-peers --skip-collectstatic]
//!     cargo bench --bench sync -- --only-hashing [--hash-mib 1024 --hash-rounds 5]
//!     cargo bench --bench sync -- --peers s5cmd --skip-hashing --skip-memory --timeline
//!
//! `--peers a,b` keeps only the peers named (`aws`, `s5cmd`, `rclone`,
//! `collectstatic`); `--skip-hashing` and `--skip-memory` leave out those
//! sections; `--timeline` prints, for every cdnctl row, where its wall time
//! went: start-up before the first request, each round trip in a row, the
//! gaps between them (cdnctl's own work) and the time after the last answer.
//!
//! `CDN_SYNC_JOBS` in the environment is passed on to cdnctl.
//!
//! The tree is shaped like Django's collectstatic output with
//! ManifestStaticFilesStorage: originals and their hashed copies, 1 KB to a
//! few MB, two files over the multipart threshold, and staticfiles.json.
//! Scenarios: a fresh upload; the unchanged tree from a fresh checkout (new
//! modification times, same content); three files changed (every peer); then
//! `cdnctl deploy` of the same tree with nothing changed and with three files
//! changed; cdnctl's peak memory for a tree of many small files; and how fast
//! the local files are hashed, beside `md5sum` running on every core.
//! Requests are counted by the emulator, per tool (each signs with its own
//! access key), and so are the round trips in a row: the longest chain of
//! requests each sent after the one before it was answered, from the
//! emulator's timeline (`harness::depth`). The Python peers
//! are installed from PyPI into .emulator/bench-venv on first use, rclone from
//! Debian (`apt-get install rclone`) when it is not on the PATH. A benchmark,
//! not a test: it prints a table and checks nothing.

#[path = "../../tests/it/harness.rs"]
#[allow(dead_code)]
mod harness;

mod tools;
mod tree;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{depth, depths, emulator, root, Request, Stack, REGION};
use md5::{Digest as _, Md5};
use serde_json::json;
use tools::*;
use tree::*;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let delay_ms: u64 = arg("--delay-ms", 100);
    let files: usize = arg("--files", 2000);
    let memory_files: usize = arg("--memory-files", 20_000);
    let skip_peers = std::env::args().any(|a| a == "--skip-peers");
    // collectstatic HEADs every file before it uploads it: minutes at 100 ms.
    let skip_collectstatic = std::env::args().any(|a| a == "--skip-collectstatic");
    let peers: Option<String> = std::env::args().skip_while(|a| a != "--peers").nth(1);
    let wanted = |peer: &str| peers.as_deref().is_none_or(|p| p.split(',').any(|w| w == peer));
    let timeline = std::env::args().any(|a| a == "--timeline");
    let work = root().join(".emulator").join("bench-sync");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    if std::env::args().any(|a| a == "--only-hashing") {
        hashing(&work, arg("--hash-mib", 1024), arg("--hash-rounds", 5));
        return;
    }

    let tree = work.join("tree");
    let bytes = django_tree(&tree, files);
    println!(
        "cdnctl sync against the local emulator, {delay_ms} ms added to every request; tree: {files} files, {:.1} MB, shaped like Django's collectstatic output\n",
        bytes as f64 / 1e6
    );
    let venv = if skip_peers { None } else { peers_venv() };
    let rclone = if skip_peers || !wanted("rclone") {
        None
    } else {
        rclone()
    };

    // Every tool gets its own stack (bucket and access key); `up` runs
    // before the delay is set.
    Stack::new("warmup").run(&["status"]);
    let mut tools: Vec<Tool> = vec![Tool::new("cdnctl sync", Kind::Cdnctl)];
    if let Some(venv) = &venv {
        if wanted("aws") {
            tools.push(Tool::new("aws s3 sync", Kind::Aws(venv.clone())));
        }
        if wanted("s5cmd") {
            tools.push(Tool::new("s5cmd sync", Kind::S5cmd(venv.clone())));
        }
    }
    if let (Some(rclone), true) = (&rclone, wanted("rclone")) {
        tools.push(Tool::new("rclone sync --checksum", Kind::Rclone(rclone.clone())));
    }
    if let (Some(venv), false, true) = (&venv, skip_collectstatic, wanted("collectstatic")) {
        tools.push(Tool::new(
            "collectstatic (django-storages)",
            Kind::Collectstatic(venv.clone()),
        ));
    }
    for t in &tools {
        t.stack.run(&["up", "--no-wait"]);
        t.stack.configure(json!({"delay_ms": delay_ms}));
    }

    let mut rows = Vec::new();
    // 1. Fresh upload.
    for t in &tools {
        rows.push(t.measure("fresh upload", &tree, &work));
    }
    // 2. The same tree from a fresh checkout: same content, new mtimes.
    let checkout = work.join("checkout");
    copy_tree(&tree, &checkout);
    for t in tools.iter().filter(|t| !matches!(t.kind, Kind::Collectstatic(_))) {
        rows.push(t.measure("unchanged, fresh checkout", &checkout, &work));
    }
    // 3. Three files changed: a page, a stylesheet and its new hashed copy.
    // collectstatic, which skipped the fresh checkout, gets them in a fresh
    // copy of the tree, as a CI checkout gives it: new modification times,
    // which is what it goes by.
    change_three(&checkout);
    let collected = work.join("collected");
    copy_tree(&tree, &collected);
    change_three(&collected);
    for t in &tools {
        let dir = match t.kind {
            Kind::Collectstatic(_) => &collected,
            _ => &checkout,
        };
        rows.push(t.measure("3 files changed", dir, &work));
    }

    // 4. `cdnctl deploy` (up, sync, check through the emulator's edge) of the
    // same tree: nothing changed, then three files changed.
    let deploying = Tool::new("cdnctl deploy", Kind::Deploy);
    deploying.stack.run(&["up", "--no-wait"]);
    let deployed = work.join("deployed");
    copy_tree(&tree, &deployed);
    let first = deploying.measure("deploy, first", &deployed, &work);
    deploying.stack.configure(json!({"delay_ms": delay_ms}));
    // Later than the last run, as CI's deploys are: within 5 s of another
    // run's last write, sync lists again after its state's read.
    std::thread::sleep(Duration::from_secs(6));
    if first.ok {
        rows.push(deploying.measure("deploy, nothing changed", &deployed, &work));
        change_three(&deployed);
        rows.push(deploying.measure("deploy, 3 files changed", &deployed, &work));
    } else {
        rows.push(first);
    }

    println!(
        "| scenario | tool | wall time | requests | round trips in a row | objects written | HEADs | listing pages | invalidation paths |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.1} s | {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.tool,
            r.wall.as_secs_f64(),
            r.requests,
            r.depth,
            r.written,
            r.heads,
            r.lists,
            r.invalidated.map(|n| n.to_string()).unwrap_or_else(|| "—".into())
        );
    }
    if timeline {
        for r in rows
            .iter()
            .filter(|r| r.tool.starts_with("cdnctl") || r.scenario == "3 files changed")
        {
            print_timeline(r);
        }
    }
    for r in rows.iter().filter(|r| !r.ok) {
        println!("\nnote: {} ({}) failed: {}", r.tool, r.scenario, r.error);
    }
    if venv.is_none() && !skip_peers {
        println!("\nnote: the Python peers could not be installed (see .emulator/bench-venv.log); no rows for aws, s5cmd or collectstatic");
    }
    if rclone.is_none() && !skip_peers && wanted("rclone") {
        println!("\nnote: rclone is not on the PATH and could not be installed with apt-get (see .emulator/bench-rclone.log); no rows for rclone");
    }
    if skip_collectstatic {
        println!("\nnote: collectstatic skipped (--skip-collectstatic)");
    }
    let fresh = |tool: &str| {
        rows.iter()
            .find(|r| r.scenario == "fresh upload" && r.tool == tool && r.ok)
            .map(|r| r.wall)
    };
    if let (Some(c), Some(a)) = (fresh("cdnctl sync"), fresh("aws s3 sync")) {
        println!(
            "\nfresh upload: cdnctl is {:.1}× as fast as aws s3 sync",
            a.as_secs_f64() / c.as_secs_f64()
        );
    }
    if let (Some(c), Some(s)) = (fresh("cdnctl sync"), fresh("s5cmd sync")) {
        println!(
            "fresh upload: cdnctl takes {:.2}× s5cmd's time",
            c.as_secs_f64() / s.as_secs_f64()
        );
    }
    let find = |scenario: &str, tool: &str| rows.iter().find(|r| r.scenario == scenario && r.tool == tool && r.ok);
    if let Some(c) = find("3 files changed", "cdnctl sync") {
        for peer in ["s5cmd sync", "aws s3 sync", "rclone sync --checksum"] {
            if let Some(p) = find("3 files changed", peer) {
                println!(
                    "3 files changed: cdnctl sync at {:.2}× {peer}'s speed ({} round trips in a row to its {})",
                    p.wall.as_secs_f64() / c.wall.as_secs_f64(),
                    c.depth,
                    p.depth
                );
            }
        }
    }
    for r in rows.iter().filter(|r| r.tool == "cdnctl deploy") {
        println!(
            "{}: {} requests, {} round trips in a row, {} writes outside .cdnctl/",
            r.scenario, r.requests, r.depth, r.writes_outside_notes
        );
    }
    for scenario in ["fresh upload", "unchanged, fresh checkout", "3 files changed"] {
        if let (Some(c), Some(r)) = (find(scenario, "cdnctl sync"), find(scenario, "rclone sync --checksum")) {
            println!(
                "{scenario}: rclone takes {:.2}× cdnctl's time, with {} requests to cdnctl's {}",
                r.wall.as_secs_f64() / c.wall.as_secs_f64(),
                r.requests,
                c.requests
            );
        }
    }

    // 5. Hashing the local tree, beside md5sum.
    if !std::env::args().any(|a| a == "--skip-hashing") {
        hashing(&work, arg("--hash-mib", 1024), arg("--hash-rounds", 5));
    }

    // 6. Peak memory for many small files.
    if std::env::args().any(|a| a == "--skip-memory") {
        return;
    }
    let many = work.join("many");
    small_tree(&many, memory_files);
    let stack = Stack::new("benchmem");
    stack.run(&["up", "--no-wait"]);
    stack.configure(json!({"delay_ms": delay_ms}));
    let (wall, peak) = peak_memory(&stack, &["sync", many.to_str().unwrap(), "--json"]);
    println!(
        "\npeak memory (max RSS) of `cdnctl sync`, {memory_files} files, fresh upload: {:.1} MB ({:.1} s)",
        peak as f64 / 1024.0,
        wall.as_secs_f64()
    );
    let (wall, peak) = peak_memory(&stack, &["sync", many.to_str().unwrap(), "--json"]);
    println!(
        "peak memory of `cdnctl sync`, {memory_files} files, unchanged: {:.1} MB ({:.1} s)",
        peak as f64 / 1024.0,
        wall.as_secs_f64()
    );
}

/// How fast `cdnctl sync` hashes the local files, beside `md5sum` run on
/// every core (`xargs -P`), on the same tree of `mib` MiB: three quarters in
/// files of 16 MiB (sent in parts), the rest in files of 1 MiB. Both read from
/// the page cache (one run each first); the best of `rounds` runs, alternately. cdnctl's
/// figure is its own (`-v` logs the hashing's duration): `sync --dry-run`
/// against a stack without delay, so the listing and the stack lookup are not
/// counted.
fn hashing(work: &Path, mib: u64, rounds: usize) {
    let dir = work.join("hashing");
    let mut rng = Bytes(0xD1B5_4A32_D192_ED03);
    let big = (mib * 3 / 4) / 16;
    for i in 0..big {
        write(&dir, &format!("media/video{i}.mp4"), &rng.fill(16 << 20));
    }
    let small = mib - big * 16;
    for i in 0..small {
        write(&dir, &format!("img/photo{i}.jpg"), &rng.fill(1 << 20));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let md5sum = || {
        let start = Instant::now();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "find . -type f -print0 | xargs -0 -n 8 -P {cores} md5sum > /dev/null"
            ))
            .current_dir(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        start.elapsed().as_secs_f64()
    };
    let stack = Stack::new("benchhash");
    stack.run(&["up", "--no-wait"]);
    let cdnctl = || {
        let run = stack.run(&["-v", "sync", dir.to_str().unwrap(), "--dry-run"]);
        run.stderr
            .lines()
            .find(|l| l.contains("hashed the local files"))
            .and_then(|l| l.split("seconds=").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no hashing time in cdnctl's log: {}", run.stderr))
    };
    // Alternately, so that other load on the machine falls on both alike.
    cdnctl();
    md5sum();
    let (mut ours, mut theirs) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        ours = ours.min(cdnctl());
        theirs = theirs.min(md5sum());
    }
    println!(
        "\nhashing {mib} MiB ({big} files of 16 MiB, {small} of 1 MiB), from the page cache, {cores} cores: \
         cdnctl sync {ours:.2} s ({:.0} MiB/s), md5sum on {cores} cores {theirs:.2} s ({:.0} MiB/s): \
         cdnctl at {:.2}× md5sum's speed",
        mib as f64 / ours,
        mib as f64 / theirs,
        theirs / ours
    );
}
