//! Packaging stays honest: the declared rust-version covers every dependency,
//! and the version lives in Cargo.toml alone (the wheel's comes from it, the
//! GitHub Action pins the same one).

use std::process::Command;

use serde_json::Value;

use crate::harness::root;

fn version_tuple(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap()).collect()
}

#[test]
fn rust_version_covers_every_dependency() {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform"])
        .arg(host_target())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = version_tuple(env!("CARGO_PKG_RUST_VERSION"));
    let mut highest: Vec<(Vec<u32>, String)> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != "cdnctl")
        .filter_map(|p| {
            let v = p["rust_version"].as_str()?;
            Some((version_tuple(v), format!("{} {} needs {v}", p["name"], p["version"])))
        })
        .collect();
    highest.sort();
    let (needed, which) = highest.last().unwrap();
    assert!(
        needed <= &ours,
        "Cargo.toml says rust-version {} but {which}: raise it",
        env!("CARGO_PKG_RUST_VERSION")
    );
}

fn host_target() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(String::from))
        .unwrap()
}

#[test]
fn the_version_is_cargo_tomls_everywhere() {
    let pyproject = std::fs::read_to_string(root().join("pyproject.toml")).unwrap();
    assert!(
        pyproject.contains("dynamic = [\"version\"]"),
        "pyproject.toml must take the version from Cargo.toml"
    );
    assert!(
        !pyproject.lines().any(|l| l.trim_start().starts_with("version")),
        "pyproject.toml sets a version of its own"
    );
    assert!(
        pyproject.contains("bindings = \"bin\""),
        "the wheel must hold the binary"
    );

    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let pinned = action
        .split("\n  version:")
        .nth(1)
        .and_then(|rest| rest.lines().find_map(|l| l.trim().strip_prefix("default: ")))
        .map(|v| v.trim_matches('"').to_string());
    assert_eq!(
        pinned.as_deref(),
        Some(env!("CARGO_PKG_VERSION")),
        "action.yml installs another version than Cargo.toml's"
    );
}
