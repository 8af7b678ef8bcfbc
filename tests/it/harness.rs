//! The test harness: one emulator per test binary, and a `Stack` per test with
//! its own bucket name and access key, so tests run in parallel without seeing
//! each other's resources or requests.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "123456789012";

pub struct Emulator {
    pub endpoint: String,
    control: String,
    pub ca_bundle: PathBuf,
    /// CloudFront's edge for every distribution: `127.0.0.1:PORT`, over HTTPS
    /// (certificates signed by the CA of `ca_bundle`) and over plain HTTP.
    #[allow(dead_code)]
    pub edge_https: String,
    #[allow(dead_code)]
    pub edge_http: String,
    // Held for the life of the test binary: when it exits, the emulator's
    // stdin closes and it stops.
    _process: Mutex<(Child, ChildStdin)>,
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The emulator, installed and started on first use.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let run_dir = root().join(".emulator").join(format!("run-{}", std::process::id()));
        std::fs::create_dir_all(&run_dir).unwrap();
        let log = std::fs::File::create(run_dir.join("emulator.log")).unwrap();
        let mut child = Command::new("python3")
            .arg(root().join("tests/emulator/start.py"))
            .arg(&run_dir)
            // Certificates validate after a second, not moto's default minute.
            .env("MOTO_ACM_VALIDATION_WAIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("python3 runs tests/emulator/start.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value = serde_json::from_str(&line).unwrap_or_else(|_| {
            panic!(
                "the emulator did not start; see {}",
                run_dir.join("emulator.log").display()
            )
        });
        Emulator {
            endpoint: info["endpoint"].as_str().unwrap().to_string(),
            control: info["control"]
                .as_str()
                .unwrap()
                .trim_start_matches("http://")
                .to_string(),
            ca_bundle: PathBuf::from(info["ca_bundle"].as_str().unwrap()),
            edge_https: info["edge_https"].as_str().unwrap().to_string(),
            edge_http: info["edge_http"].as_str().unwrap().to_string(),
            _process: Mutex::new((child, stdin)),
        }
    })
}

impl Emulator {
    /// A request to the plain-HTTP control port.
    pub fn control(&self, method: &str, path: &str, body: &str) -> String {
        let mut s = TcpStream::connect(&self.control).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

/// One request the emulator received.
#[derive(Debug, Clone)]
pub struct Request {
    pub op: String,
    pub write: bool,
    /// A CopyObject (a PUT naming `x-amz-copy-source`).
    #[allow(dead_code)]
    pub copy: bool,
    /// Held by the emulator's `stall_after_writes` and never applied.
    pub stalled: bool,
    /// The fault the emulator injected instead of (or after) answering:
    /// throttle, error, reset or lost.
    pub fault: Option<String>,
    /// When the emulator received it and finished answering (seconds since the
    /// epoch): the timeline that [`depth`] reads.
    #[allow(dead_code)]
    pub start: f64,
    #[allow(dead_code)]
    pub end: Option<f64>,
}

/// The longest chain of requests each sent after the one before it was
/// answered: the number of round trips on the critical path. Requests sent
/// at once overlap only if each takes longer than sending them does: with
/// the emulator's `delay_ms` on every request they do, and a test may assert
/// on it (the benchmark reports it).
#[allow(dead_code)]
pub fn depth(requests: &[Request]) -> usize {
    depths(requests).into_iter().max().unwrap_or(0)
}

/// [`depth`], less one for each page after the first of the account's
/// distribution list: the emulator every test shares holds more than a page
/// (100) of distributions once enough tests ran, which one stack's account
/// would not, and each further page of ListDistributions is one more round
/// trip in a row wherever a distribution is found by listing.
#[allow(dead_code)]
pub fn depth_of_one_stack(requests: &[Request]) -> usize {
    let pages = requests
        .iter()
        .filter(|r| r.op.starts_with("GET /2020-05-31/distribution?Marker="))
        .count();
    depth(requests).saturating_sub(pages)
}

/// Each request's place in its chain (1: sent before any answer came), in
/// the order given: [`depth`] is the largest.
#[allow(dead_code)]
pub fn depths(requests: &[Request]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by(|&a, &b| requests[a].start.total_cmp(&requests[b].start));
    let mut depth = vec![0usize; requests.len()];
    for (n, &i) in order.iter().enumerate() {
        let before = order[..n]
            .iter()
            .filter(|&&j| requests[j].end.is_some_and(|end| end <= requests[i].start))
            .map(|&j| depth[j])
            .max()
            .unwrap_or(0);
        depth[i] = before + 1;
    }
    depth
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// The binary under test: Cargo's, or CDNCTL_TEST_BIN when set (several
/// checkouts sharing one target directory overwrite each other's
/// `target/debug/cdnctl`: copy it right after building, and point this at
/// the copy).
pub fn binary() -> String {
    std::env::var("CDNCTL_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_cdnctl").to_string())
}

/// A test's own stack: a unique bucket name, access key and working directory.
pub struct Stack {
    pub bucket: String,
    pub key: String,
    dir: PathBuf,
    env: Vec<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Stack {
    pub fn new(label: &str) -> Stack {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let bucket = format!("t-{label}-{pid}-{n}");
        let dir = root().join(".emulator").join("work").join(&bucket);
        std::fs::create_dir_all(&dir).unwrap();
        // Empty AWS config files: nothing from the machine's own leaks in.
        std::fs::write(dir.join("aws-config"), "").unwrap();
        std::fs::write(dir.join("aws-credentials"), "").unwrap();
        let stack = Stack {
            key: format!("AKIA{pid}X{n}"),
            bucket: bucket.clone(),
            dir,
            env: Vec::new(),
        };
        stack.with("BUCKET_NAME", &bucket)
    }

    /// Set a setting (environment variable) for every run of this stack.
    pub fn with(mut self, name: &str, value: &str) -> Stack {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.retain(|(k, _)| k != name);
        self.env.push((name.to_string(), value.to_string()));
    }

    pub fn unset(&mut self, name: &str) {
        self.env.retain(|(k, _)| k != name);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A custom domain in a new hosted zone of its own; returns (zone id, domain).
    pub fn with_domain(self) -> (Stack, String, String) {
        let zone = format!("z{}.example.com", self.key.to_ascii_lowercase());
        let zone_id = block_on(async {
            let r53 = clients(&self).route53;
            let out = r53
                .create_hosted_zone()
                .name(&zone)
                .caller_reference(&self.bucket)
                .send()
                .await
                .unwrap();
            out.hosted_zone
                .unwrap()
                .id
                .trim_start_matches("/hostedzone/")
                .to_string()
        });
        let domain = format!("static.{zone}");
        (
            self.with("HOSTED_ZONE_NAME", &zone).with("SUBDOMAIN", "static"),
            zone_id,
            domain,
        )
    }

    /// The command, with this stack's settings, talking to the emulator.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.with_env(Command::new(binary()));
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    /// The command in a pseudo-terminal (util-linux `script`).
    pub fn terminal(&self, args: &[&str]) -> Command {
        let line = std::iter::once(binary().as_str())
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = self.with_env(Command::new("script"));
        cmd.args(["-qec", &line, "/dev/null"]);
        cmd
    }

    /// Run in a pseudo-terminal, typing `input`.
    pub fn run_in_terminal(&self, args: &[&str], input: &str) -> Run {
        let mut child = self
            .terminal(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("util-linux script runs");
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            // The terminal merges the two streams.
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// This stack's settings and the emulator's address, and nothing from the
    /// machine's own AWS setup.
    fn with_env(&self, mut cmd: Command) -> Command {
        let emu = emulator();
        cmd.current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.dir)
            .env("AWS_CONFIG_FILE", self.dir.join("aws-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.join("aws-credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &emu.endpoint)
            .env("AWS_CA_BUNDLE", &emu.ca_bundle)
            .env("AWS_ACCESS_KEY_ID", &self.key)
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_REGION", REGION)
            .env("CDN_POLL_SECONDS", "0.1")
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Every request cdnctl sent for this stack, in order.
    pub fn requests(&self) -> Vec<Request> {
        let body = emulator().control("GET", &format!("/requests?key={}", self.key), "");
        let list: Vec<Value> = serde_json::from_str(&body).unwrap();
        list.into_iter()
            .map(|r| Request {
                op: r["op"].as_str().unwrap_or("").to_string(),
                write: r["write"].as_bool().unwrap_or(false),
                copy: r["copy"].as_bool().unwrap_or(false),
                stalled: r["stalled"].as_bool().unwrap_or(false),
                fault: r["fault"].as_str().map(String::from),
                start: r["start"].as_f64().unwrap_or(0.0),
                end: r["end"].as_f64(),
            })
            .collect()
    }

    /// Run, failing the test if the run wrote anything to AWS.
    #[track_caller]
    pub fn run_without_writes(&self, args: &[&str]) -> Run {
        let before = self.writes().len();
        let run = self.run(args);
        let writes = self.writes();
        assert_eq!(
            writes.len(),
            before,
            "`cdnctl {}` wrote: {:?}",
            args.join(" "),
            &writes[before..]
        );
        run
    }

    pub fn writes(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.write).collect()
    }

    /// Per-stack emulator behaviour: `{"deploy_seconds": 2}`, `{"delay_ms": 50}`, …
    pub fn configure(&self, knobs: Value) {
        let mut knobs = knobs;
        knobs["key"] = Value::String(self.key.clone());
        emulator().control("POST", "/configure", &knobs.to_string());
    }
}

/// SDK clients for checking what ended up in the emulator. They sign with
/// another key, so their requests never count as the stack's.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudfront: aws_sdk_cloudfront::Client,
    pub route53: aws_sdk_route53::Client,
    pub acm: aws_sdk_acm::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
}

/// An HTTPS client that trusts the emulator's CA, and the credentials the
/// tests' own reads sign with (their key kept apart from cdnctl's).
pub fn inspecting(
    stack: &Stack,
) -> (
    aws_smithy_runtime_api::client::http::SharedHttpClient,
    aws_credential_types::Credentials,
) {
    use aws_smithy_http_client::tls;
    let pem = std::fs::read(&emulator().ca_bundle).unwrap();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
        .tls_context(
            tls::TlsContext::builder()
                .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem))
                .build()
                .unwrap(),
        )
        .build_https();
    let creds = aws_credential_types::Credentials::new(format!("INSPECT{}", stack.key), "secret", None, None, "test");
    (http, creds)
}

pub fn clients(stack: &Stack) -> Clients {
    let emu = emulator();
    let (http, creds) = inspecting(stack);
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(&emu.endpoint)
        .http_client(http)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .region(aws_config::Region::new(REGION))
        .build();
    let global = aws_config::Region::new("us-east-1");
    Clients {
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        ),
        cloudfront: aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::config::Builder::from(&config)
                .region(global.clone())
                .build(),
        ),
        route53: aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&config)
                .region(global.clone())
                .build(),
        ),
        acm: aws_sdk_acm::Client::from_conf(aws_sdk_acm::config::Builder::from(&config).region(global).build()),
        cloudformation: aws_sdk_cloudformation::Client::new(&config),
    }
}

/// A new stack made with `up` (which must succeed), and clients to look at it.
pub fn stack_up(label: &str) -> (Stack, Clients) {
    let stack = Stack::new(label);
    stack.run(&["up"]).ok();
    let c = clients(&stack);
    (stack, c)
}

/// Write `content` to `rel` under `dir`, making the directories on the way.
pub fn write(dir: &Path, rel: &str, content: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A collectstatic-like build in `dir`: staticfiles.json, the hashed files it
/// names, a font, robots.txt, and `extra`. Returns `dir`.
pub fn collectstatic_site(dir: PathBuf, extra: &[(&str, &[u8])]) -> PathBuf {
    let files: [(&str, &[u8]); 4] = [
        ("css/site.5af66c1b1797.css", b"body{color:red}"),
        ("js/app.0123456789ab.js", b"export const a = 1;"),
        ("fonts/f.woff2", b"wOF2"),
        ("robots.txt", b"User-agent: *"),
    ];
    for (rel, content) in files.iter().chain(extra) {
        write(&dir, rel, content);
    }
    let manifest = serde_json::json!({"paths": {
        "css/site.css": "css/site.5af66c1b1797.css",
        "js/app.js": "js/app.0123456789ab.js",
    }, "version": "1.1"});
    write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    dir
}

/// `--connect-to` flags that send the site's https and http to the emulator's edge.
pub fn to_edge() -> Vec<String> {
    let emu = emulator();
    vec![
        "--connect-to".into(),
        format!(":443:{}", emu.edge_https),
        "--connect-to".into(),
        format!(":80:{}", emu.edge_http),
    ]
}

/// `--ca-bundle` naming the CA that signs the emulator's certificates.
pub fn trust_emulator() -> Vec<String> {
    vec!["--ca-bundle".into(), emulator().ca_bundle.to_str().unwrap().into()]
}

/// Run a future to completion on a fresh runtime (tests are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}
