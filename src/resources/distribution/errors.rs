//! The site's 404 page (`Setting::NotFound`) as the distribution's custom
//! error responses: S3 answers a missing key 403 (CloudFront may not list
//! the bucket) or 404, and CloudFront answers both with the page, fetched
//! from the origin at `ResponsePagePath`, with status 404. Pure.
//!
//! Which entries are cdnctl's: an error response carries no tag, so cdnctl
//! owns the entries of the shape it writes (ErrorCode 403 or 404,
//! ResponseCode 404, a page, ErrorCachingMinTTL [`ERROR_TTL`]). Entries of
//! other codes (a 503 page) are never touched; a hand-made 403 or 404 entry
//! of another shape (an SPA's `/index.html` with 200) is never overwritten:
//! `up` refuses to start while the setting would need to ([`refusal`]).

use aws_sdk_cloudfront::types::{CustomErrorResponse, CustomErrorResponses, DistributionConfig};

use crate::resources::function::ROOT;
use crate::settings::Setting::NotFound;
use crate::spec::Spec;

/// What S3 answers for a missing key: 403 without s3:ListBucket (cdnctl's
/// policy), 404 with it.
const CODES: [i32; 2] = [403, 404];

/// How long CloudFront keeps a missing path's 404 before asking S3 again:
/// CloudFront's own default for errors. Short, because a file published
/// after a visitor asked for it (sync invalidates what it changes, not what
/// was missing) and a changed 404 page (each missing path keeps the page
/// it was answered with) show within this; long enough that a crawler
/// asking the same missing path many times costs one S3 request per edge
/// every 10 seconds.
pub const ERROR_TTL: i64 = 10;

/// The page's fixed key on a stack with releases: the function does not run
/// for an error response, so CloudFront fetches this path as it is, and
/// `release::not_found` keeps it a copy of the live release's page.
pub fn release_page_key() -> String {
    format!("{ROOT}/404.html")
}

/// The `ResponsePagePath` cdnctl wants, if any: the setting's path in
/// place, the fixed key with releases.
pub fn page_path(spec: &Spec) -> Option<String> {
    let page = spec.not_found.as_ref()?;
    Some(if spec.releases > 0 {
        format!("/{}", release_page_key())
    } else {
        page.clone()
    })
}

fn is_ours(e: &CustomErrorResponse) -> bool {
    CODES.contains(&e.error_code)
        && e.response_code.as_deref() == Some("404")
        && e.response_page_path.as_deref().is_some_and(|p| !p.is_empty())
        && e.error_caching_min_ttl == Some(ERROR_TTL)
}

fn items(c: &DistributionConfig) -> Vec<CustomErrorResponse> {
    c.custom_error_responses
        .as_ref()
        .map(|r| r.items().to_vec())
        .unwrap_or_default()
}

/// Why `up` may not write the setting's entries: a 403 or 404 entry that
/// is not cdnctl's would have to be replaced.
pub fn refusal(c: &DistributionConfig, spec: &Spec, id: &str) -> Option<String> {
    spec.not_found.as_ref()?;
    let foreign: Vec<String> = items(c)
        .iter()
        .filter(|e| CODES.contains(&e.error_code) && !is_ours(e))
        .map(|e| {
            format!(
                "{} → {} with {}",
                e.error_code,
                e.response_page_path.as_deref().unwrap_or("no page"),
                e.response_code.as_deref().unwrap_or("the same status")
            )
        })
        .collect();
    (!foreign.is_empty()).then(|| {
        format!(
            "{NotFound}: distribution {id} has custom error responses cdnctl did not make ({}): \
             remove them (CloudFront console, Error pages) or unset {NotFound}",
            foreign.join(", ")
        )
    })
}

/// `c`'s error responses as the spec wants them, and a line saying what
/// changed (None when nothing did). Others' entries are kept.
pub fn set(c: &mut DistributionConfig, spec: &Spec) -> anyhow::Result<Option<String>> {
    let current = items(c);
    let shown = |items: &[CustomErrorResponse]| {
        let ours: Vec<String> = items
            .iter()
            .filter(|e| is_ours(e))
            .map(|e| format!("{}→{}", e.error_code, e.response_page_path.as_deref().unwrap_or("")))
            .collect();
        if ours.is_empty() {
            "none".to_string()
        } else {
            format!("{} (404, cached {ERROR_TTL}s)", ours.join(", "))
        }
    };
    let page = page_path(spec);
    let mut wanted: Vec<CustomErrorResponse> = current
        .iter()
        .filter(|e| !(is_ours(e) || page.is_some() && CODES.contains(&e.error_code)))
        .cloned()
        .collect();
    if let Some(page) = &page {
        for code in CODES {
            wanted.push(
                CustomErrorResponse::builder()
                    .error_code(code)
                    .response_page_path(page)
                    .response_code("404")
                    .error_caching_min_ttl(ERROR_TTL)
                    .build()?,
            );
        }
    }
    wanted.sort_by_key(|e| e.error_code);
    let mut sorted = current.clone();
    sorted.sort_by_key(|e| e.error_code);
    if sorted == wanted {
        return Ok(None);
    }
    let line = format!("404 page: {} → {}", shown(&current), shown(&wanted));
    c.custom_error_responses = Some(
        CustomErrorResponses::builder()
            .quantity(wanted.len() as i32)
            .set_items((!wanted.is_empty()).then_some(wanted))
            .build()?,
    );
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Flags, Settings};
    use std::collections::BTreeMap;

    fn spec(pairs: &[(&str, &str)]) -> Spec {
        let mut env: BTreeMap<String, String> = [("BUCKET_NAME".to_string(), "b-1".to_string())].into();
        env.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1")
    }

    fn config(items: Vec<CustomErrorResponse>) -> DistributionConfig {
        DistributionConfig::builder()
            .caller_reference("x")
            .comment("")
            .enabled(true)
            .custom_error_responses(
                CustomErrorResponses::builder()
                    .quantity(items.len() as i32)
                    .set_items(Some(items))
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn entry(code: i32, page: &str, status: &str) -> CustomErrorResponse {
        CustomErrorResponse::builder()
            .error_code(code)
            .response_page_path(page)
            .response_code(status)
            .build()
            .unwrap()
    }

    #[test]
    fn the_page_answers_403_and_404_with_404_and_others_entries_stay() {
        let mut c = config(vec![entry(503, "/down.html", "503")]);
        let wanted = spec(&[("CDN_NOT_FOUND", "/404.html")]);
        let line = set(&mut c, &wanted).unwrap().unwrap();
        assert!(
            line.starts_with("404 page: none → 403→/404.html, 404→/404.html"),
            "{line}"
        );
        let all = items(&c);
        assert_eq!(all.len(), 3);
        assert!(all.iter().any(|e| e.error_code == 503));
        for e in all.iter().filter(|e| e.error_code != 503) {
            assert_eq!(e.response_code.as_deref(), Some("404"));
            assert_eq!(e.response_page_path.as_deref(), Some("/404.html"));
            assert_eq!(e.error_caching_min_ttl, Some(ERROR_TTL));
        }
        assert_eq!(set(&mut c, &wanted).unwrap(), None, "a second run changes nothing");
        assert_eq!(refusal(&c, &wanted, "E1"), None);
        // With releases, the fixed key; unset, only cdnctl's go.
        let releases = spec(&[("CDN_NOT_FOUND", "/404.html"), ("CDN_RELEASES", "3")]);
        assert!(set(&mut c, &releases).unwrap().is_some());
        assert_eq!(items_of(&c, 404), Some("/_cdnctl/404.html".into()));
        set(&mut c, &spec(&[])).unwrap().unwrap();
        let left = items(&c);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].error_code, 503);
    }

    fn items_of(c: &DistributionConfig, code: i32) -> Option<String> {
        items(c)
            .into_iter()
            .find(|e| e.error_code == code)
            .and_then(|e| e.response_page_path)
    }

    #[test]
    fn a_hand_made_spa_entry_is_refused_not_overwritten_and_kept_when_unset() {
        let spa = config(vec![entry(403, "/index.html", "200")]);
        let why = refusal(&spa, &spec(&[("CDN_NOT_FOUND", "/404.html")]), "E1").unwrap();
        assert!(
            why.starts_with("CDN_NOT_FOUND: distribution E1 has custom error responses"),
            "{why}"
        );
        assert!(why.contains("403 → /index.html with 200"), "{why}");
        let mut c = spa.clone();
        assert_eq!(set(&mut c, &spec(&[])).unwrap(), None);
        assert_eq!(c, spa);
    }
}
