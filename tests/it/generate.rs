//! Shell completions and the man page: generated without settings or AWS, and
//! accepted by the shells and by groff.

use std::process::{Command, Stdio};

fn cdnctl(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cdnctl"))
        .args(args)
        // No settings at all: these commands must not need any.
        .env_clear()
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cdnctl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Check `script` with `shell -n` (parse only, run nothing).
fn parses(shell: &str, script: &str) {
    let path = std::env::temp_dir().join(format!("cdnctl-completion-{}.{shell}", std::process::id()));
    std::fs::write(&path, script).unwrap();
    let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{shell} -n rejects the completions: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bash_completions_parse_and_know_every_subcommand_and_flag() {
    let script = cdnctl(&["completions", "bash"]);
    parses("bash", &script);
    for word in ["up", "down", "status", "completions", "--bucket-name", "--max-deletes"] {
        assert!(script.contains(word), "bash completions lack {word}");
    }
    // And bash can load them and complete a subcommand.
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{script}\nCOMP_WORDS=(cdnctl sta); COMP_CWORD=1; COMP_LINE='cdnctl sta'; COMP_POINT=10; _cdnctl cdnctl sta cdnctl; echo \"${{COMPREPLY[@]}}\""
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "status",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zsh_fish_and_powershell_completions_are_generated() {
    for (shell, marker) in [
        ("zsh", "#compdef cdnctl"),
        ("fish", "complete -c cdnctl"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = cdnctl(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {}", &script[..script.len().min(200)]);
        assert!(script.contains("bucket-name"), "{shell} completions lack --bucket-name");
        if shell != "powershell" && have(shell) {
            parses(shell, &script);
        }
    }
}

#[test]
fn the_man_page_renders_without_warnings() {
    let page = cdnctl(&["man"]);
    assert!(page.contains(".TH cdnctl 1"), "{}", &page[..page.len().min(200)]);
    // groff is what `man` runs; -ww turns on every warning, -z discards the output.
    assert!(
        have("groff"),
        "groff is needed to check the man page (apt-get install groff-base)"
    );
    let mut child = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "groff: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    for heading in ["NAME", "SYNOPSIS", "COMMANDS", "ENVIRONMENT"] {
        assert!(
            text.lines().any(|l| l.contains(heading)),
            "rendered page lacks {heading}"
        );
    }
}
