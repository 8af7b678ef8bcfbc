//! The bucket's CORS rules as CloudFront's cache sees them. The distribution
//! forwards the viewer's Origin to S3 (CORS-S3Origin), so S3 answers with
//! `Access-Control-Allow-Origin` for any origin its rules allow, and the edge
//! caches that answer for every viewer (Origin is not in the cache key). When
//! the rules narrow, answers naming an origin no longer allowed may sit in the
//! cache for as long as the files' max-age (a year for immutable files): the
//! response headers policy sets the header only for origins it allows and
//! leaves a cached one alone for the others. Pure.

use super::Observed;
use crate::spec::Spec;

/// The origins the bucket's rules allow now (`observed`) that the wanted
/// rules no longer cover: S3 may have answered them, and the edge may still
/// serve those answers. Empty for a new bucket, a widening, or no change.
pub fn removed_origins(observed: Option<&Observed>, spec: &Spec) -> Vec<String> {
    let Some(was) = observed.and_then(|o| o.cors.as_ref()) else {
        return Vec::new();
    };
    let now = &spec.cors.allowed_origins;
    was.allowed_origins
        .iter()
        .filter(|origin| !now.iter().any(|pattern| covers(pattern, origin)))
        .cloned()
        .collect()
}

/// Whether `pattern` (an AllowedOrigin: at most one `*`, as S3 takes them)
/// allows everything `origin` (an AllowedOrigin too) did.
fn covers(pattern: &str, origin: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == origin,
        Some((head, tail)) => {
            origin.len() >= head.len() + tail.len() && origin.starts_with(head) && origin.ends_with(tail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Flags;
    use crate::settings::Settings;
    use crate::spec::Cors;

    fn a_spec() -> Spec {
        let env: std::collections::BTreeMap<String, String> =
            [("BUCKET_NAME".to_string(), "b-1".to_string())].into_iter().collect();
        Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1")
    }

    fn removed(was: &[&str], now: &[&str]) -> Vec<String> {
        let rules = |origins: &[&str]| Cors {
            allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
            allowed_methods: vec!["GET".into(), "HEAD".into()],
            allowed_headers: vec!["*".into()],
            max_age_seconds: 3600,
        };
        let observed = Observed {
            cors: Some(rules(was)),
            ..Default::default()
        };
        let mut spec = a_spec();
        spec.cors = rules(now);
        removed_origins(Some(&observed), &spec)
    }

    #[test]
    fn narrowing_names_what_s3_no_longer_answers() {
        let (a, b) = ("https://a.example", "https://b.example");
        assert_eq!(removed(&[a, b], &[a]), [b]);
        assert_eq!(removed(&["*"], &[a]), ["*"]);
        assert_eq!(removed(&["https://*.example"], &[a]), ["https://*.example"]);
    }

    #[test]
    fn widening_reordering_and_no_change_remove_nothing() {
        let (a, b) = ("https://a.example", "https://b.example");
        assert!(removed(&[a], &[a, b]).is_empty());
        assert!(removed(&[a, b], &[b, a]).is_empty());
        assert!(removed(&[a, b], &["*"]).is_empty());
        assert!(removed(&[a], &["https://*.example"]).is_empty());
        assert!(removed(&["https://*.a.example"], &["https://*.example"]).is_empty());
        assert!(removed(&["*"], &["*"]).is_empty());
    }

    #[test]
    fn a_bucket_without_rules_or_a_new_one_removes_nothing() {
        let spec = a_spec();
        assert!(removed_origins(None, &spec).is_empty());
        assert!(removed_origins(Some(&Observed::default()), &spec).is_empty());
    }
}
