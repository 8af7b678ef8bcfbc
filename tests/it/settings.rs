//! Settings are validated before any AWS call; TLS to the endpoint uses AWS_CA_BUNDLE.

use crate::harness::{emulator, Stack};

/// (label, settings to set, settings to remove, flags, what stderr must contain)
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const TOO_MANY_TAGS: &str = "t0=v,t1=v,t2=v,t3=v,t4=v,t5=v,t6=v,t7=v,t8=v,t9=v,t10=v,t11=v,t12=v,t13=v,t14=v,t15=v,t16=v,\
t17=v,t18=v,t19=v,t20=v,t21=v,t22=v,t23=v,t24=v,t25=v,t26=v,t27=v,t28=v,t29=v,t30=v,t31=v,t32=v,t33=v,t34=v,t35=v,t36=v,\
t37=v,t38=v,t39=v,t40=v,t41=v,t42=v,t43=v,t44=v,t45=v,t46=v,t47=v,t48=v,t49=v";

const BAD: &[Case] = &[
    ("no bucket", &[], &["BUCKET_NAME"], &[], &["BUCKET_NAME: is not set"]),
    (
        "upper case bucket",
        &[("BUCKET_NAME", "Static_Files")],
        &[],
        &[],
        &["BUCKET_NAME", "\"Static_Files\"", "lower-case"],
    ),
    (
        "short bucket",
        &[("BUCKET_NAME", "ab")],
        &[],
        &[],
        &["BUCKET_NAME", "\"ab\""],
    ),
    (
        "long bucket",
        &[(
            "BUCKET_NAME",
            "a123456789012345678901234567890123456789012345678901234567890123",
        )],
        &[],
        &[],
        &["BUCKET_NAME", "wrong length"],
    ),
    (
        "leading hyphen",
        &[("BUCKET_NAME", "-static")],
        &[],
        &[],
        &["BUCKET_NAME", "\"-static\""],
    ),
    (
        "adjacent dots",
        &[("BUCKET_NAME", "static..files")],
        &[],
        &[],
        &["BUCKET_NAME", "adjacent dots"],
    ),
    (
        "ip bucket",
        &[("BUCKET_NAME", "192.168.1.10")],
        &[],
        &[],
        &["BUCKET_NAME", "IP address"],
    ),
    (
        "reserved prefix",
        &[("BUCKET_NAME", "xn--static")],
        &[],
        &[],
        &["BUCKET_NAME", "xn--"],
    ),
    (
        "reserved suffix",
        &[("BUCKET_NAME", "static-s3alias")],
        &[],
        &[],
        &["BUCKET_NAME", "-s3alias"],
    ),
    (
        "short account",
        &[("BUCKET_USERS", "arn:aws:iam::12345:role/deploy")],
        &[],
        &[],
        &["BUCKET_USERS", "arn:aws:iam::12345:role/deploy", "IAM principal"],
    ),
    (
        "iam group",
        &[(
            "BUCKET_USERS",
            "arn:aws:iam::123456789012:role/ok,arn:aws:iam::123456789012:group/devs",
        )],
        &[],
        &[],
        &["BUCKET_USERS", "group/devs"],
    ),
    (
        "bare name",
        &[("BUCKET_USERS", "alice")],
        &[],
        &[],
        &["BUCKET_USERS", "\"alice\""],
    ),
    (
        "s3 arn as user",
        &[("BUCKET_USERS", "arn:aws:s3:::bucket")],
        &[],
        &[],
        &["BUCKET_USERS", "arn:aws:s3:::bucket"],
    ),
    (
        "unknown partition",
        &[("BUCKET_USERS", "arn:azure:iam::123456789012:role/x")],
        &[],
        &[],
        &["BUCKET_USERS", "arn:azure"],
    ),
    (
        "china partition user",
        &[("BUCKET_USERS", "arn:aws-cn:iam::123456789012:role/deploy")],
        &[],
        &[],
        &["BUCKET_USERS", "arn:aws-cn", "aws partition only"],
    ),
    (
        "govcloud certificate",
        &[
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", "static"),
            (
                "CERTIFICATE_ARN",
                "arn:aws-us-gov:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234",
            ),
        ],
        &[],
        &[],
        &["CERTIFICATE_ARN", "aws partition only"],
    ),
    (
        "china region",
        &[("AWS_REGION", "cn-north-1")],
        &[],
        &[],
        &["AWS_REGION", "aws-cn", "not support"],
    ),
    (
        "govcloud region",
        &[("AWS_REGION", "us-gov-west-1")],
        &[],
        &[],
        &["AWS_REGION", "aws-us-gov"],
    ),
    (
        "domain too long for a certificate",
        &[
            (
                "HOSTED_ZONE_NAME",
                "a-rather-long-zone-name-for-the-company.example.com",
            ),
            ("SUBDOMAIN", "static-assets"),
        ],
        &[],
        &[],
        &["SUBDOMAIN", "at most 64", "CERTIFICATE_ARN"],
    ),
    (
        "reserved tag prefix in any case",
        &[("CDN_TAGS", "AWS:cloudformation:stack-name=x")],
        &[],
        &[],
        &["CDN_TAGS", "aws:", "reserved"],
    ),
    (
        "tag characters",
        &[("CDN_TAGS", "team=web;prod")],
        &[],
        &[],
        &["CDN_TAGS", "team=web;prod", "tag characters"],
    ),
    (
        "too many tags",
        &[("CDN_TAGS", TOO_MANY_TAGS)],
        &[],
        &[],
        &["CDN_TAGS", "50 tags", "has 50 tags"],
    ),
    (
        "wait minutes",
        &[("CDN_WAIT_MINUTES", "soon")],
        &[],
        &[],
        &["CDN_WAIT_MINUTES", "\"soon\"", "minutes"],
    ),
    (
        "poll seconds",
        &[("CDN_POLL_SECONDS", "-1")],
        &[],
        &[],
        &["CDN_POLL_SECONDS", "\"-1\""],
    ),
    (
        "bad zone",
        &[("HOSTED_ZONE_NAME", "bad_zone.com"), ("SUBDOMAIN", "static")],
        &[],
        &[],
        &["HOSTED_ZONE_NAME", "bad_zone.com"],
    ),
    (
        "single label zone",
        &[("HOSTED_ZONE_NAME", "com"), ("SUBDOMAIN", "static")],
        &[],
        &[],
        &["HOSTED_ZONE_NAME", "two labels"],
    ),
    (
        "bad subdomain",
        &[("HOSTED_ZONE_NAME", "example.com"), ("SUBDOMAIN", "-static")],
        &[],
        &[],
        &["SUBDOMAIN", "\"-static\""],
    ),
    (
        "subdomain without zone",
        &[("SUBDOMAIN", "static")],
        &[],
        &[],
        &["HOSTED_ZONE_NAME: is not set but SUBDOMAIN is"],
    ),
    (
        "zone without subdomain",
        &[("HOSTED_ZONE_NAME", "example.com")],
        &[],
        &[],
        &["SUBDOMAIN: is not set but HOSTED_ZONE_NAME is"],
    ),
    (
        "zone id alone",
        &[("HOSTED_ZONE_ID", "Z123ABC")],
        &[],
        &[],
        &["HOSTED_ZONE_ID", "SUBDOMAIN and HOSTED_ZONE_NAME"],
    ),
    (
        "bad zone id",
        &[
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", "static"),
            ("HOSTED_ZONE_ID", "zone-1"),
        ],
        &[],
        &[],
        &["HOSTED_ZONE_ID", "zone-1"],
    ),
    (
        "certificate elsewhere",
        &[
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", "static"),
            (
                "CERTIFICATE_ARN",
                "arn:aws:acm:eu-west-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab",
            ),
        ],
        &[],
        &[],
        &["CERTIFICATE_ARN", "eu-west-1", "us-east-1"],
    ),
    (
        "certificate garbage",
        &[
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", "static"),
            ("CERTIFICATE_ARN", "arn:aws:iam::123456789012:server-certificate/x"),
        ],
        &[],
        &[],
        &["CERTIFICATE_ARN", "ACM certificate ARN"],
    ),
    (
        "certificate without domain",
        &[(
            "CERTIFICATE_ARN",
            "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1234-5678-9abc-0123456789ab",
        )],
        &[],
        &[],
        &["CERTIFICATE_ARN", "no custom domain"],
    ),
    (
        "regional waf",
        &[(
            "WAF_ARN",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/site/0a1b2c3d-1234",
        )],
        &[],
        &[],
        &["WAF_ARN", "regional", "CLOUDFRONT"],
    ),
    (
        "waf garbage",
        &[("WAF_ARN", "my-web-acl")],
        &[],
        &[],
        &["WAF_ARN", "\"my-web-acl\""],
    ),
    (
        "price class",
        &[("CDN_PRICE_CLASS", "cheap")],
        &[],
        &[],
        &["CDN_PRICE_CLASS", "\"cheap\"", "PriceClass_100"],
    ),
    (
        "price class flag",
        &[("CDN_PRICE_CLASS", "PriceClass_All")],
        &[],
        &["--price-class", "PriceClass_300"],
        &["CDN_PRICE_CLASS", "PriceClass_300"],
    ),
    (
        "cors origin",
        &[("CDN_CORS_ORIGINS", "www.example.com")],
        &[],
        &[],
        &["CDN_CORS_ORIGINS", "www.example.com", "https://"],
    ),
    (
        "tag format",
        &[("CDN_TAGS", "team")],
        &[],
        &[],
        &["CDN_TAGS", "\"team\"", "key=value"],
    ),
    (
        "reserved tag",
        &[("CDN_TAGS", "aws:owner=me")],
        &[],
        &[],
        &["CDN_TAGS", "aws:owner"],
    ),
    (
        "region",
        &[("AWS_REGION", "Europe West")],
        &[],
        &[],
        &["AWS_REGION", "Europe West"],
    ),
    (
        "ca bundle missing",
        &[("AWS_CA_BUNDLE", "/nonexistent/ca.pem")],
        &[],
        &[],
        &["AWS_CA_BUNDLE", "/nonexistent/ca.pem"],
    ),
    (
        "env file missing",
        &[],
        &[],
        &["--env-file", "/nonexistent/.env"],
        &["--env-file", "/nonexistent/.env"],
    ),
];

#[test]
fn bad_settings_fail_with_one_clear_line_and_no_request() {
    assert!(BAD.len() >= 20);
    let mut failures = Vec::new();
    for (label, set, unset, flags, fragments) in BAD {
        let mut stack = Stack::new("bad");
        for (k, v) in *set {
            stack.set(k, v);
        }
        for k in *unset {
            stack.unset(k);
        }
        for command in ["up", "status", "down"] {
            let mut args = vec![command];
            args.extend_from_slice(flags);
            let run = stack.run(&args);
            let lines: Vec<&str> = run.stderr.lines().collect();
            let problems = [
                (run.code == 0, "exit code 0".to_string()),
                (lines.len() != 1, format!("{} lines on stderr", lines.len())),
                (!run.stderr.starts_with("cdnctl: "), "no `cdnctl: ` prefix".into()),
            ];
            for (bad, what) in problems {
                if bad {
                    failures.push(format!("{label} ({command}): {what}: {}", run.stderr));
                }
            }
            for f in *fragments {
                if !run.stderr.contains(f) {
                    failures.push(format!("{label} ({command}): stderr lacks {f:?}: {}", run.stderr));
                }
            }
        }
        let sent = stack.requests();
        if !sent.is_empty() {
            failures.push(format!(
                "{label}: {} request(s) reached the emulator: {:?}",
                sent.len(),
                sent
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn settings_come_from_dot_env_and_the_environment_wins() {
    let mut stack = Stack::new("dotenv");
    let bucket = stack.bucket.clone();
    stack.unset("BUCKET_NAME");
    std::fs::write(
        stack.dir().join(".env"),
        format!("BUCKET_NAME={bucket}\nCDN_PRICE_CLASS=nonsense\n"),
    )
    .unwrap();
    // .env is read: its bad price class is reported.
    let run = stack.run(&["status"]);
    assert!(run.stderr.contains("CDN_PRICE_CLASS: \"nonsense\""), "{}", run.stderr);
    // The environment wins over .env, and a flag over both.
    stack.set("CDN_PRICE_CLASS", "all");
    stack.run(&["status"]).code(5);
    let run = stack.run(&["status", "--price-class", "x"]);
    assert!(run.stderr.contains("CDN_PRICE_CLASS: \"x\""), "{}", run.stderr);
    // --env-file picks another file.
    std::fs::write(stack.dir().join("other.env"), "BUCKET_NAME=Other_Name\n").unwrap();
    stack.unset("CDN_PRICE_CLASS");
    let run = stack.run(&["status", "--env-file", "other.env"]);
    assert!(run.stderr.contains("BUCKET_NAME: \"Other_Name\""), "{}", run.stderr);
}

#[test]
fn reaches_the_emulator_over_tls_only_with_its_ca_bundle() {
    let stack = Stack::new("tls");
    assert!(emulator().endpoint.starts_with("https://"));
    stack.run(&["status"]).code(5);
    assert!(!stack.requests().is_empty());

    let out = stack.command(&["status"]).env_remove("AWS_CA_BUNDLE").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(stderr.contains("AWS_CA_BUNDLE"), "{stderr}");

    // A bundle of real CAs that did not sign the emulator's certificate.
    let system = "/etc/ssl/certs/ca-certificates.crt";
    let out = stack
        .command(&["status"])
        .env("AWS_CA_BUNDLE", system)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

#[test]
fn help_names_the_settings() {
    let stack = Stack::new("help");
    let settings = crate::docs::settings(&stack);
    for args in [&["--help"][..], &["up", "--help"], &["down", "--help"]] {
        let run = stack.run(args).ok();
        for name in settings.iter().filter(|s| s.group == "stack").map(|s| &s.env) {
            assert!(run.stdout.contains(name), "{args:?} lacks {name}");
        }
    }
    let status = stack.run(&["status", "--help"]).ok();
    assert!(status.stdout.contains("Exit codes"), "{}", status.stdout);
    assert!(status.stdout.contains("--bucket-name"), "{}", status.stdout);
    let version = stack.run(&["--version"]).ok();
    assert!(version.stdout.starts_with("cdnctl "));
}

/// The README's first command: the whole job against a local emulator.
#[test]
fn the_demo_runs_end_to_end() {
    let out = std::process::Command::new(crate::harness::root().join("scripts/demo"))
        .env("CDNCTL_BIN", env!("CARGO_BIN_EXE_cdnctl"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("state: in_sync (exit code 0)"), "{stdout}");
    assert!(stdout.contains("STATIC_URL=https://static.example.com/"), "{stdout}");
    assert!(stdout.contains(": 6 uploaded"), "{stdout}");
    assert!(
        stderr.contains("$ cdnctl sync") && stderr.contains("--dry-run"),
        "{stderr}"
    );
    assert!(stdout.contains("state: absent (exit code 5)"), "{stdout}");
    // It ends with `deploy` passing `check` through the emulator's edge, twice.
    assert_eq!(stdout.matches("check: all 15 probes passed").count(), 2, "{stdout}");
    assert!(stdout.contains("sync:  0 uploaded"), "{stdout}");
    assert!(
        stderr.contains("== the site, as a browser would open it: https://static.example.com/"),
        "{stderr}"
    );
    // It leaves no folder behind.
    let folder = stderr
        .lines()
        .find_map(|l| l.strip_prefix("== working in "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("the demo names no folder: {stderr}"));
    assert!(!crate::harness::root().join(folder).exists(), "{folder} is left behind");
}

/// `scripts/demo releases`: a release, a second release and a rollback,
/// each seen through the emulator's edge as a visitor gets it.
#[test]
fn the_releases_demo_runs_end_to_end() {
    let out = std::process::Command::new(crate::harness::root().join("scripts/demo"))
        .arg("releases")
        .env("CDNCTL_BIN", env!("CARGO_BIN_EXE_cdnctl"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    // Each deploy publishes a release and passes check through the edge.
    assert_eq!(stdout.matches("check: all ").count(), 2, "{stdout}");
    assert!(!stdout.contains("probes failed"), "{stdout}");
    // What a visitor gets: version 1, version 2 (and its docs/), then after
    // the rollback version 1 again, from the release that was live first.
    let visits: Vec<(&str, &str)> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("visitor: GET https://static.example.com"))
        .filter_map(|l| l.split_once(": 200, release "))
        .collect();
    assert_eq!(visits.len(), 4, "{stdout}");
    let release = |i: usize| visits[i].1.split(':').next().unwrap();
    assert!(visits[0].1.contains("<h1>version 1</h1>"), "{visits:?}");
    assert!(visits[1].1.contains("<h1>version 2</h1>"), "{visits:?}");
    assert!(
        visits[2].0 == "/docs/" && visits[2].1.contains("<h1>docs</h1>"),
        "{visits:?}"
    );
    assert!(visits[3].1.contains("<h1>version 1</h1>"), "{visits:?}");
    assert_ne!(release(0), release(1), "{visits:?}");
    assert_eq!(
        release(0),
        release(3),
        "the rollback serves the first release again: {visits:?}"
    );
    assert!(stderr.contains("$ cdnctl rollback"), "{stderr}");
    assert!(stdout.contains(&format!("live: {}", release(0))), "{stdout}");
    // The closing check probes the rolled-back release.
    assert!(stderr.contains(&format!("release {} is live", release(0))), "{stderr}");
    let folder = stderr
        .lines()
        .find_map(|l| l.strip_prefix("== working in "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("the demo names no folder: {stderr}"));
    assert!(!crate::harness::root().join(folder).exists(), "{folder} is left behind");
}

#[test]
fn a_missing_region_or_missing_credentials_is_a_clear_error() {
    let stack = Stack::new("nocreds");
    let out = stack.command(&["status"]).env_remove("AWS_REGION").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("cdnctl: AWS region: not set") && stderr.contains("AWS_REGION"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let out = stack
        .command(&["up"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("AWS credentials: none found") && stderr.contains("AWS_PROFILE"),
        "{stderr}"
    );
    assert!(
        stack.requests().is_empty(),
        "requests were sent: {:?}",
        stack.requests()
    );
}

/// `.env.example` copied as is acts on nothing: its placeholders (an account's
/// ARNs, example.com) are commented out, and cdnctl stops before any request.
#[test]
fn the_example_settings_are_safe_to_copy() {
    let example = std::fs::read_to_string(crate::harness::root().join(".env.example")).unwrap();
    for line in example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
    {
        for placeholder in ["arn:", "example.com", "example-", "Z0123"] {
            assert!(
                !line.contains(placeholder),
                "an active placeholder in .env.example: {line}"
            );
        }
    }
    let mut stack = Stack::new("example");
    std::fs::write(stack.dir().join(".env"), &example).unwrap();
    stack.unset("BUCKET_NAME");
    let run = stack.run(&["up"]).code(2);
    assert!(
        run.stderr.starts_with("cdnctl: BUCKET_NAME: is not set"),
        "{}",
        run.stderr
    );
    assert!(stack.requests().is_empty(), "{:?}", stack.requests());

    // With a bucket name it is a plain stack: no principals, no domain.
    let bucket = stack.bucket.clone();
    stack.set("BUCKET_NAME", &bucket);
    let plan = stack.run(&["up", "--dry-run", "--json"]).code(3);
    assert!(!plan.stdout.contains("arn:aws:iam"), "{}", plan.stdout);
    assert!(!plan.stdout.contains("example.com"), "{}", plan.stdout);
}

#[test]
fn every_bad_setting_is_reported_at_once_before_any_request() {
    let stack = Stack::new("manybad")
        .with("BUCKET_NAME", "Bad_Name")
        .with("CDN_PRICE_CLASS", "cheap")
        .with("BUCKET_USERS", "alice")
        .with("CDN_HSTS", "max-age=soon");
    let run = stack.run(&["up"]).code(2);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stderr);
    for (line, setting) in lines
        .iter()
        .zip(["BUCKET_NAME", "BUCKET_USERS", "CDN_PRICE_CLASS", "CDN_HSTS"])
    {
        assert!(line.starts_with(&format!("cdnctl: {setting}: ")), "{}", run.stderr);
    }
    // sync's own settings join the list.
    std::fs::create_dir_all(stack.dir().join("site")).unwrap();
    let run = stack.run(&["sync", "site", "--jobs", "many"]).code(2);
    assert_eq!(run.stderr.lines().count(), 5, "{}", run.stderr);
    // The flag the user wrote is named, not the variable it stands for.
    assert!(run.stderr.contains("cdnctl: --jobs: "), "{}", run.stderr);
    assert!(stack.requests().is_empty(), "{:?}", stack.requests());
}

#[test]
fn a_misspelt_setting_is_warned_about_naming_the_closest_one() {
    let mut stack = Stack::new("typo");
    let bucket = stack.bucket.clone();
    stack.unset("BUCKET_NAME");
    std::fs::write(
        stack.dir().join(".env"),
        format!("BUCKET_NAME={bucket}\nDJANGO_SECRET_KEY=x\nSUBDOMIAN=static\n"),
    )
    .unwrap();
    let run = stack
        .command(&["status"])
        .env("CDN_PRICECLASS", "All")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(
            "cdnctl: warning: .env:3: SUBDOMIAN is not a cdnctl setting and is ignored: did you mean SUBDOMAIN?"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("cdnctl: warning: environment: CDN_PRICECLASS is not a cdnctl setting and is ignored: did you mean CDN_PRICE_CLASS?"),
        "{stderr}"
    );
    assert!(!stderr.contains("DJANGO_SECRET_KEY"), "{stderr}");
}

#[test]
fn an_unquoted_value_with_spaces_names_the_file_and_line_and_suggests_quotes() {
    let stack = Stack::new("spaces");
    let (stack, _, domain) = stack.with_domain();
    for (name, value) in [
        ("CDN_HSTS", "max-age=63072000; includeSubDomains; preload"),
        ("CDN_TAGS", "team=web platform,env=prod"),
        ("CDN_CACHE_RULES", "*.html=no-cache;fonts/**=public, max-age=604800"),
    ] {
        std::fs::write(stack.dir().join("site.env"), format!("# settings\n{name}={value}\n")).unwrap();
        let run = stack.run(&["status", "--env-file", "site.env"]).code(2);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "cdnctl: site.env:2: cannot parse \"{name}={value}\": a value with spaces needs quotes: {name}=\"{value}\""
            ),
            "{}",
            run.stderr
        );
        // Quoted as suggested, the value is read whole.
        std::fs::write(stack.dir().join("site.env"), format!("{name}=\"{value}\"\n")).unwrap();
        let run = stack.run(&["status", "--env-file", "site.env"]);
        assert!(run.code != 2, "{name}: {}", run.stderr);
    }
    assert!(stack.requests().iter().all(|r| !r.write));
    let _ = domain;
}

#[test]
fn a_subdomain_given_as_the_full_name_is_not_doubled() {
    let (stack, _, domain) = Stack::new("fullname").with_domain();
    let stack = stack.with("SUBDOMAIN", &domain);
    let run = stack.run(&["up", "--dry-run", "--json"]).code(3);
    assert!(run.stdout.contains(&domain), "{}", run.stdout);
    let zone = domain.trim_start_matches("static.");
    assert!(!run.stdout.contains(&format!("{domain}.{zone}")), "{}", run.stdout);
}
