//! An explicit `--profile` or `--region` wins over the environment, as for the
//! AWS CLI; a profile that does not exist is named, with the files read.

use crate::harness::{block_on, clients, Stack};

#[test]
fn an_explicit_profile_wins_over_keys_in_the_environment() {
    // The environment signs as `env_keys`; the profile `other`, in the
    // credentials file, as `profile_keys`.
    let env_keys = Stack::new("profile-env");
    let profile_keys = Stack::new("profile-file");
    std::fs::write(
        env_keys.dir().join("aws-credentials"),
        format!(
            "[other]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            profile_keys.key
        ),
    )
    .unwrap();

    env_keys.run(&["--profile", "other", "status"]).code(5);
    assert!(
        env_keys.requests().is_empty(),
        "the environment's keys were used: {:?}",
        env_keys.requests()
    );
    assert!(!profile_keys.requests().is_empty(), "the profile's keys were not used");

    // Without --profile the environment's keys are used, as before.
    env_keys.run(&["status"]).code(5);
    assert!(!env_keys.requests().is_empty());

    // A profile in the config file works the same way (`[profile NAME]`).
    let config_keys = Stack::new("profile-config");
    std::fs::write(
        env_keys.dir().join("aws-config"),
        format!(
            "[profile viaconfig]\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            config_keys.key
        ),
    )
    .unwrap();
    env_keys.run(&["status", "--profile", "viaconfig"]).code(5);
    assert!(
        !config_keys.requests().is_empty(),
        "the config file's profile was not used"
    );
}

#[test]
fn an_unknown_profile_is_named_with_the_files_read_and_nothing_is_sent() {
    let stack = Stack::new("profile-none");
    std::fs::write(
        stack.dir().join("aws-credentials"),
        "[work]\naws_access_key_id = AKIAWORK\naws_secret_access_key = secret\n",
    )
    .unwrap();
    for run in [
        stack.run(&["--profile", "nosuch", "status"]),
        stack
            .command(&["up"])
            .env("AWS_PROFILE", "nosuch")
            .output()
            .map(|o| crate::harness::Run {
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            })
            .unwrap(),
    ] {
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        let config = stack.dir().join("aws-config");
        let credentials = stack.dir().join("aws-credentials");
        assert!(
            run.stderr.starts_with("cdnctl: AWS profile: no profile `nosuch` in ")
                && run.stderr.contains(&config.display().to_string())
                && run.stderr.contains(&credentials.display().to_string())
                && run.stderr.contains("profiles there: work"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("no credentials"), "{}", run.stderr);
    }
    assert!(stack.requests().is_empty(), "{:?}", stack.requests());
}

#[test]
fn an_explicit_region_wins_over_the_environment_and_the_profile() {
    let stack = Stack::new("region-flag");
    std::fs::write(
        stack.dir().join("aws-config"),
        format!(
            "[profile here]\nregion = eu-central-1\naws_access_key_id = {}\naws_secret_access_key = secret\n",
            stack.key
        ),
    )
    .unwrap();
    // AWS_REGION=eu-west-1 in the environment, eu-central-1 in the profile.
    stack
        .run(&["up", "--no-wait", "--profile", "here", "--region", "us-west-2"])
        .ok();
    let location = block_on(async {
        clients(&stack)
            .s3
            .get_bucket_location()
            .bucket(&stack.bucket)
            .send()
            .await
            .unwrap()
            .location_constraint
            .map(|l| l.as_str().to_string())
    });
    assert_eq!(location.as_deref(), Some("us-west-2"));
}
