//! `./.env` is often the web app's, holding the app's own AWS keys: it feeds
//! cdnctl's settings only, and never decides the account, region or endpoint
//! cdnctl acts on (those come from the environment, `--profile`/`--region`
//! and ~/.aws). What reached the emulator tells which keys signed.

use crate::harness::{Stack, REGION};

#[test]
fn aws_keys_in_dotenv_do_not_beat_the_shells_profile() {
    // The shell signs through the profile `p` as `shell`; the app's .env
    // holds the keys of `app`, a region and a profile of its own.
    let shell = Stack::new("envshell");
    let app = Stack::new("envapp");
    std::fs::write(
        shell.dir().join("aws-credentials"),
        format!(
            "[p]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            shell.key
        ),
    )
    .unwrap();
    std::fs::write(
        shell.dir().join("aws-config"),
        format!("[profile p]\nregion = {REGION}\n"),
    )
    .unwrap();
    std::fs::write(
        shell.dir().join(".env"),
        format!(
            "AWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY=secret\nAWS_REGION=ap-south-1\nAWS_STORAGE_BUCKET_NAME=app-files\nDEBUG=1\nCDN_PRICE_CLASS=PriceClass_200\n",
            app.key
        ),
    )
    .unwrap();

    // The shell has a profile and no keys of its own.
    let with_profile = |args: &[&str]| {
        shell
            .command(args)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_REGION")
            .env("AWS_PROFILE", "p")
            .output()
            .unwrap()
    };
    let out = with_profile(&["status", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        app.requests().is_empty(),
        "signed with the .env's keys: {:?}",
        app.requests()
    );
    assert!(!shell.requests().is_empty(), "the profile's keys were not used");
    // One warning names what is not used and where credentials come from;
    // the app's own names (AWS_STORAGE_BUCKET_NAME) are none of cdnctl's business.
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(
        warnings,
        [
            "cdnctl: warning: .env: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION are not used: cdnctl takes AWS credentials, region and endpoint from the environment, --profile/--region, or ~/.aws/config and ~/.aws/credentials"
        ],
        "{stderr}"
    );

    // The .env's cdnctl settings still count (its price class), and the
    // bucket would be made in the profile's region, not the .env's.
    let out = with_profile(&["up", "--dry-run"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("price class: PriceClass_200"), "{stderr}");
    assert!(
        stderr.contains(&format!("in {REGION}")) && !stderr.contains("ap-south-1"),
        "{stderr}"
    );
    assert!(
        app.requests().is_empty(),
        "signed with the .env's keys: {:?}",
        app.requests()
    );
}
