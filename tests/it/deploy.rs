//! `cdnctl deploy DIR`: up, sync and check in one command, through the
//! emulator's CloudFront edge; a second deploy writes nothing; the first stage
//! that fails stops the rest and gives its exit code; one step summary.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::harness::{self, block_on, clients, collectstatic_site, root, Run, Stack};
use crate::inspect::keys;

/// A collectstatic-like build: a manifest, its hashed files, a font.
fn site(stack: &Stack) -> PathBuf {
    collectstatic_site(stack.dir().join("static"), &[])
}

/// The flags that send the site to the emulator's edge and trust its CA.
fn to_edge() -> Vec<String> {
    [harness::to_edge(), harness::trust_emulator()].concat()
}

fn deploy(stack: &Stack, extra: &[&str], through: &[String]) -> Run {
    let dir = site(stack);
    let mut args = vec!["deploy", dir.to_str().unwrap(), "--json"];
    args.extend(extra);
    args.extend(through.iter().map(String::as_str));
    stack.run(&args)
}

fn stages(run: &Run) -> Vec<(String, i64)> {
    run.json()["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["exit_code"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn summary_of(stack: &mut Stack) -> PathBuf {
    let path = stack.dir().join("summary.md");
    stack.set("GITHUB_STEP_SUMMARY", path.to_str().unwrap());
    path
}

#[test]
fn a_deploy_publishes_passes_check_through_the_edge_and_a_second_one_writes_nothing() {
    let mut stack = Stack::new("deploy");
    let summary = summary_of(&mut stack);
    let run = deploy(&stack, &[], &to_edge()).ok();
    let report = run.json();
    assert_eq!(
        stages(&run),
        [("up".into(), 0), ("sync".into(), 0), ("check".into(), 0)],
        "{report:#}"
    );
    assert_eq!(report["ok"], true);
    let url = report["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://") && url.ends_with(".cloudfront.net/"),
        "{url}"
    );
    let check = &report["stages"][2]["result"];
    assert_eq!(check["ok"], true, "{check:#}");
    assert!(check["probes"].as_array().unwrap().len() >= 8, "{check:#}");
    // The files are in the bucket, and the edge served them to check.
    let stored = block_on(keys(&clients(&stack), &stack.bucket));
    for key in ["staticfiles.json", "css/site.5af66c1b1797.css", "fonts/f.woff2"] {
        assert!(stored.iter().any(|k| k == key), "{key} not in {stored:?}");
    }
    assert!(
        check["probes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["probe"] == "object" && p["target"].as_str().unwrap().ends_with("/fonts/f.woff2")),
        "{check:#}"
    );
    // One summary: deploy's heading, each stage's a level down.
    let md = std::fs::read_to_string(&summary).unwrap();
    assert_eq!(
        md.matches("\n### ").count() + md.starts_with("### ") as usize,
        1,
        "{md}"
    );
    assert!(
        md.starts_with(&format!(
            "### cdnctl deploy `{}`: published, and every check passed",
            stack.bucket
        )),
        "{md}"
    );
    for stage in ["#### cdnctl up", "#### cdnctl sync", "#### cdnctl check"] {
        assert!(md.contains(stage), "{stage} missing: {md}");
    }

    // Nothing changed: the second deploy sends no write at all, and passes.
    std::fs::remove_file(&summary).unwrap();
    let dir = site(&stack);
    let mut args = vec!["deploy", dir.to_str().unwrap()];
    let edge = to_edge();
    args.extend(edge.iter().map(String::as_str));
    let again = stack.run_without_writes(&args).ok();
    assert!(again.stdout.contains("0 uploaded"), "{}", again.stdout);
    assert!(again.stdout.contains("probes passed"), "{}", again.stdout);
    assert!(again.stdout.contains(&format!("url:   {url}")), "{}", again.stdout);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("### cdnctl deploy"), "{md}");
}

/// Round trips in a row: the longest chain of requests each sent after the
/// one before it was answered, from the emulator's timeline (`harness::depth`).
/// Half a second added to every request makes the requests of one round
/// overlap whatever the machine's load: with tests four at a time and the
/// release wheels building beside them, a quarter of a second was not always
/// longer than the time the emulator took to take in one round's requests.
const DELAY_MS: u64 = 500;

#[test]
fn the_commonest_deploys_take_few_round_trips_in_a_row() {
    let stack = Stack::new("deployrt");
    let page: &[(&str, &[u8])] = &[("index.html", b"<h1>v1</h1>"), ("css/site.css", b"body{color:red}")];
    let dir = collectstatic_site(stack.dir().join("static"), page);
    let mut args = vec!["deploy".to_string(), dir.to_str().unwrap().to_string(), "--json".into()];
    args.extend(to_edge());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    stack.run(&args).ok();
    stack.configure(serde_json::json!({"delay_ms": DELAY_MS}));
    // Later than the last run (as CI's deploys are): sync's listing goes
    // with its state's read, and up's, in the first round trip.
    std::thread::sleep(crate::sync::LATER);

    // Nothing changed: reads only, but for the stack's own notes.
    let before = stack.requests().len();
    let run = stack.run(&args).ok();
    let requests = stack.requests()[before..].to_vec();
    let b = &stack.bucket;
    let read = requests
        .iter()
        .find(|r| r.op.starts_with(&format!("GET /{b}/.cdnctl/state.json")))
        .and_then(|r| r.end)
        .expect("the state is read");
    let lists: Vec<f64> = requests
        .iter()
        .filter(|r| r.op.starts_with(&format!("GET /{b}")) && r.op.contains("list-type=2"))
        .map(|r| r.start)
        .collect();
    assert!(
        !lists.is_empty() && lists.iter().all(|&l| l < read),
        "listed at {lists:?}, the state read by {read}: {:#?}",
        timeline(&requests)
    );
    let writes: Vec<&str> = requests
        .iter()
        .filter(|r| r.write && !r.op.contains("/.cdnctl/"))
        .map(|r| r.op.as_str())
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
    let rounds = harness::depth_of_one_stack(&requests);
    assert!(
        rounds <= 5,
        "{rounds} round trips in a row: {:#?}\n{}",
        timeline(&requests),
        run.stderr
    );

    // Three files changed: a page, a stylesheet and its new hashed copy,
    // which the manifest now names (as collectstatic writes it): three
    // stages of uploads (the copy; the stylesheet with the manifest; the
    // page).
    harness::write(&dir, "index.html", b"<h1>v2</h1>");
    harness::write(&dir, "css/site.css", b"body{color:teal}");
    harness::write(&dir, "css/site.0a1b2c3d4e5f.css", b"body{color:teal}");
    let manifest = serde_json::json!({"paths": {
        "css/site.css": "css/site.0a1b2c3d4e5f.css",
        "js/app.js": "js/app.0123456789ab.js",
    }, "version": "1.1"});
    harness::write(&dir, "staticfiles.json", manifest.to_string().as_bytes());
    let before = stack.requests().len();
    let run = stack.run(&args).ok();
    let report = run.json();
    assert_eq!(report["stages"][1]["result"]["uploaded"], 4, "{report:#}");
    let requests = stack.requests()[before..].to_vec();
    let rounds = harness::depth_of_one_stack(&requests);
    assert!(
        rounds <= 8,
        "{rounds} round trips in a row: {:#?}\n{}",
        timeline(&requests),
        run.stderr
    );
}

/// Each request's start and end, in milliseconds from the first, and its operation.
fn timeline(requests: &[harness::Request]) -> Vec<String> {
    let t0 = requests.first().map_or(0.0, |r| r.start);
    requests
        .iter()
        .map(|r| {
            let end = r.end.map_or("-".into(), |e| format!("{:.0}", (e - t0) * 1000.0));
            format!("{:.0}..{end} {}", (r.start - t0) * 1000.0, r.op)
        })
        .collect()
}

#[test]
fn a_failing_check_gives_exit_code_6_after_up_and_sync_are_done() {
    let mut stack = Stack::new("deployfail");
    let summary = summary_of(&mut stack);
    // An edge that cannot be reached: every probe of the site fails.
    let nowhere = vec!["--connect-to".to_string(), ":443:127.0.0.1:1".to_string()];
    let run = deploy(&stack, &[], &nowhere).code(6);
    let report = run.json();
    assert_eq!(
        stages(&run),
        [("up".into(), 0), ("sync".into(), 0), ("check".into(), 6)],
        "{report:#}"
    );
    assert_eq!(report["stopped_at"], "check");
    assert_eq!(report["exit_code"], 6);
    // up and sync did their work before check failed.
    let stored = block_on(keys(&clients(&stack), &stack.bucket));
    assert!(stored.iter().any(|k| k == "staticfiles.json"), "{stored:?}");
    assert!(run.stderr.lines().any(|l| l.starts_with("✗ tls")), "{}", run.stderr);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("stopped at check (exit code 6; up and sync done)"), "{md}");
}

#[test]
fn a_refused_sync_stops_the_deploy_before_check() {
    let mut stack = Stack::new("deployrefuse");
    deploy(&stack, &[], &to_edge()).ok();
    // A file gone from the build: deleting it is more than --max-deletes allows.
    std::fs::remove_file(site(&stack).join("robots.txt")).unwrap();
    let summary = summary_of(&mut stack);
    let dir = stack.dir().join("static");
    let mut args = vec!["deploy", dir.to_str().unwrap(), "--delete", "--max-deletes", "0"];
    let edge = to_edge();
    args.extend(edge.iter().map(String::as_str));
    let run = stack.run_without_writes(&args).code(1);
    assert!(
        run.stderr
            .contains("cdnctl: deploy: stopped at sync (up done): --max-deletes"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("== deploy: sync"), "{}", run.stderr);
    assert!(!run.stderr.contains("== deploy: check"), "{}", run.stderr);
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("### cdnctl deploy"), "{md}");
    assert!(md.contains("stopped at sync (up done), exit code 1"), "{md}");
    assert!(!md.contains("cdnctl check"), "{md}");
}

#[test]
fn a_dry_run_of_a_new_stack_stops_at_up_with_exit_code_3_and_writes_nothing() {
    let stack = Stack::new("deploydry");
    let dir = site(&stack);
    let run = stack
        .run_without_writes(&["deploy", dir.to_str().unwrap(), "--dry-run", "--json"])
        .code(3);
    let report: Value = run.json();
    assert_eq!(report["stopped_at"], "up", "{report:#}");
    assert_eq!(report["dry_run"], true);
    assert_eq!(stages(&run), [("up".to_string(), 3)]);
}

/// Python with Django, installed on first use into .emulator/django-5.2 (as
/// the emulator is installed into .emulator/venv).
fn django_python() -> PathBuf {
    let dir = root().join(".emulator/django-5.2");
    let python = dir.join("bin/python");
    if !python.exists() {
        let tmp = root().join(format!(".emulator/django-5.2.tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&tmp)
            .status()
            .unwrap()
            .success()
            && Command::new(tmp.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "Django==5.2.*",
                ])
                .status()
                .unwrap()
                .success();
        assert!(ok, "cannot install Django into {}", tmp.display());
        // Another test binary may have finished first: either copy works.
        if std::fs::rename(&tmp, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    python
}

/// The README's fenced blocks of `lang` in the section under `heading`.
fn readme_blocks(heading: &str, lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find(&format!("\n{heading}\n")).unwrap() + 1..];
    let section = &section[..section[heading.len()..]
        .find("\n#")
        .map_or(section.len(), |i| i + heading.len())];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(start) = rest.find(&format!("```{lang}\n")) {
        let body = &rest[start + lang.len() + 4..];
        let end = body.find("```").unwrap();
        blocks.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    blocks
}

#[test]
fn the_readmes_django_recipe_works_when_pasted() {
    let stack = Stack::new("django");
    let python = django_python();
    let project = stack.dir().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let status = Command::new(&python)
        .args(["-m", "django", "startproject", "mysite", "."])
        .current_dir(&project)
        .status()
        .unwrap();
    assert!(status.success());
    // settings.py, with the README's lines added.
    let [settings_lines] = readme_blocks("### Django", "python").try_into().unwrap();
    let settings_py = project.join("mysite/settings.py");
    let mut text = std::fs::read_to_string(&settings_py).unwrap();
    text.push_str(&settings_lines);
    std::fs::write(&settings_py, text).unwrap();

    // The commands as written, with `python` the one with Django, and `cdnctl`
    // this build, whose check goes to the emulator's edge (the only flags added).
    let bin = stack.dir().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let edge = to_edge().join(" ");
    std::fs::write(
        bin.join("cdnctl"),
        format!(
            "#!/bin/sh\nif [ \"$1\" = deploy ]; then exec {} \"$@\" {edge}; fi\nexec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_cdnctl"),
            env!("CARGO_BIN_EXE_cdnctl")
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("cdnctl"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let template = stack.command(&[]);
    let shell = |script: &str| {
        let mut cmd = Command::new("bash");
        cmd.env_clear();
        for (k, v) in template.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let path = format!(
            "{}:{}:{}",
            bin.display(),
            python.parent().unwrap().display(),
            std::env::var("PATH").unwrap()
        );
        let out = cmd
            .env("PATH", path)
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(&project)
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let [recipe, elsewhere] = readme_blocks("### Django", "sh").try_into().unwrap();
    let run = shell(&recipe).ok();
    assert!(run.stdout.contains("probes passed"), "{}", run.stdout);
    let stored = block_on(keys(&clients(&stack), &stack.bucket));
    assert!(stored.iter().any(|k| k == "staticfiles.json"), "{stored:?}");
    assert!(
        stored
            .iter()
            .any(|k| k.starts_with("admin/css/base.") && k.ends_with(".css") && k != "admin/css/base.css"),
        "no hashed admin stylesheet: {stored:?}"
    );

    // The other way to name STATIC_ROOT finds the same directory: nothing to change.
    let before = stack.writes().len();
    let again = shell(&elsewhere).ok();
    assert!(again.stdout.contains(" 0 uploaded"), "{}", again.stdout);
    assert_eq!(stack.writes().len(), before);
}
