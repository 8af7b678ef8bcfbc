//! A bucket that serves the public directly (website hosting, statements
//! letting anyone read): why `up` must not cut it off unasked, and what
//! `up --end-public-access` drops.

use serde_json::Value;

use super::{differences, Observed, Setting};
use crate::resources::bucket_policy::{describe, is_public_read, statements};
use crate::spec::Spec;

/// Why the bucket serves the public directly, if it does: website hosting
/// while public access is not fully blocked, or statements letting anyone
/// read. cdnctl's public access block would cut those visitors off, and S3
/// refuses such statements beside BlockPublicPolicy.
fn serves_public(o: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    if o.website && o.public_access_block != Some([true; 4]) {
        out.push("static website hosting is on".to_string());
    }
    for s in o.policy.as_ref().map(statements).unwrap_or_default() {
        if is_public_read(&s) {
            out.push(format!("its policy lets anyone read ({})", describe(&s)));
        }
    }
    out
}

/// Why `up` must not start: the bucket serves the public directly and would
/// be cut off by the public access block (and S3 refuses a public statement
/// beside BlockPublicPolicy), unless nothing about public access or the
/// policy is to be written. `desired` is cdnctl's policy, once known.
pub fn serves_public_refusal(spec: &Spec, desired: Option<&Value>, o: &Observed) -> Option<String> {
    let reasons = serves_public(o);
    let writes = desired.is_none()
        || differences(o, spec, desired)
            .iter()
            .any(|(s, _)| matches!(s, Setting::PublicAccessBlock | Setting::Policy));
    (!reasons.is_empty() && writes).then(|| {
        format!(
            "bucket {}: serves the public directly ({}); cdnctl's public access block would cut those visitors off: \
             serve them through the CDN first, then run `cdnctl up --end-public-access` (it blocks public access and \
             removes the policy statements letting anyone read; the other statements and the files are kept)",
            spec.bucket,
            reasons.join("; ")
        )
    })
}

/// With `up --end-public-access`: the policy write also drops the statements
/// letting anyone read (said in its details). Whether there are any.
pub fn end_public_access(o: &Observed, settings: &mut Vec<(Setting, Vec<String>)>) -> bool {
    let public = serves_public(o);
    let lines = public.iter().map(|r| format!("public access ends: {r}"));
    match settings.iter_mut().find(|(s, _)| *s == Setting::Policy) {
        Some((_, details)) => details.extend(lines),
        None if !public.is_empty() => settings.push((Setting::Policy, lines.collect())),
        None => {}
    }
    !public.is_empty()
}
