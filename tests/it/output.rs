//! stderr for people: `-v` says what cdnctl reads and writes, request by
//! request; the SDK's chatter only at `-vv`; colour only on a terminal and
//! never with NO_COLOR; a missing region is one line, with no IMDS noise.

use crate::harness::Stack;

const ESC: &str = "\u{1b}[";

fn stderr_of(cmd: &mut std::process::Command) -> (i32, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn verbose_says_what_is_read_and_written_and_colour_stays_off_a_terminal() {
    let stack = Stack::new("verbose");
    let bucket = &stack.bucket;

    let (code, quiet) = stderr_of(stack.command(&["status"]).env_remove("NO_COLOR"));
    assert_eq!(code, 5, "{quiet}");
    assert!(!quiet.contains("read  "), "{quiet}");

    let (code, v) = stderr_of(stack.command(&["status", "-v"]).env_remove("NO_COLOR"));
    assert_eq!(code, 5, "{v}");
    assert!(v.contains(&format!("read  S3 HeadBucket /{bucket}: 404")), "{v}");
    assert!(
        v.contains("read  CloudFront ListDistributions /2020-05-31/distribution: 200"),
        "{v}"
    );
    assert!(!v.contains(ESC), "colour off a terminal: {v:?}");
    assert!(
        !v.contains("aws_smithy") && !v.contains("aws_config"),
        "SDK chatter at -v: {v}"
    );

    let (_, up) = stderr_of(stack.command(&["up", "-v"]).env_remove("NO_COLOR"));
    assert!(up.contains(&format!("write S3 CreateBucket /{bucket}: 200")), "{up}");
    assert!(up.contains("write CloudFront CreateDistributionWithTags"), "{up}");

    let (_, vv) = stderr_of(stack.command(&["status", "-vv"]).env_remove("NO_COLOR"));
    assert!(
        vv.contains("aws_smithy_runtime") || vv.contains("aws_config"),
        "no SDK detail at -vv: {vv}"
    );
    assert!(!vv.contains(ESC), "colour off a terminal at -vv");
}

#[test]
fn colour_on_a_terminal_unless_no_color() {
    let stack = Stack::new("colour");
    let run = |no_color: Option<&str>| {
        let mut cmd = stack.terminal(&["status", "-vv"]);
        cmd.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(run(None).contains(ESC), "no colour on a terminal");
    assert!(!run(Some("1")).contains(ESC), "colour despite NO_COLOR");
}

#[test]
fn a_missing_region_is_one_line_without_imds_noise() {
    let stack = Stack::new("noregion");
    let (code, stderr) = stderr_of(
        stack
            .command(&["status"])
            .env_remove("AWS_REGION")
            .env_remove("NO_COLOR")
            .env_remove("AWS_EC2_METADATA_DISABLED")
            // Instance metadata that refuses at once, as off EC2.
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"),
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("cdnctl: AWS region: not set"), "{stderr}");
}
