//! The emulator's own patches, checked with boto3: every knob and control
//! endpoint behaves as the AWS behaviour it restores, so a test that relies
//! on one proves what it claims.

use crate::harness::{emulator, root};

fn run_selftest(script: &str) {
    emulator(); // installs the emulator's venv, once
    let out = std::process::Command::new(root().join(".emulator/venv/bin/python"))
        .arg(root().join("tests/emulator").join(script))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" passed, 0 failed"),
        "{script}:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_emulators_aws_patches_behave_like_aws() {
    run_selftest("selftest.py");
}

#[test]
fn the_emulators_response_headers_policy_api_behaves_like_cloudfront() {
    run_selftest("response_headers_selftest.py");
}

#[test]
fn the_emulators_edge_serves_distributions_like_cloudfront() {
    run_selftest("edge_selftest.py");
}

#[test]
fn the_emulators_conditional_writes_and_invalidations_in_progress_behave_like_aws() {
    run_selftest("sync_state_selftest.py");
}

#[test]
fn the_emulators_s3_object_behaviours_for_sync_are_like_aws() {
    run_selftest("sync_objects_selftest.py");
}

#[test]
fn the_emulators_provisioning_patches_behave_like_aws() {
    run_selftest("provisioning_selftest.py");
}

#[test]
fn the_emulators_list_pages_follow_their_markers_like_aws() {
    run_selftest("paging_selftest.py");
}

#[test]
fn the_emulators_cloudfront_functions_and_key_value_store_apis_behave_like_cloudfront() {
    run_selftest("functions_selftest.py");
}

#[test]
fn the_emulators_key_value_store_data_plane_behaves_like_cloudfront() {
    run_selftest("kvs_selftest.py");
}

#[test]
fn the_emulators_edge_runs_cloudfront_functions_like_cloudfront() {
    run_selftest("function_edge_selftest.py");
}

#[test]
fn the_emulators_edge_serves_custom_error_responses_like_cloudfront() {
    run_selftest("error_pages_selftest.py");
}

#[test]
fn the_emulators_origin_access_identities_behave_like_cloudfront() {
    run_selftest("oai_selftest.py");
}

#[test]
fn the_emulators_cloudformation_deploys_and_releases_the_cdk_stack_like_aws() {
    run_selftest("takeover_selftest.py");
}
