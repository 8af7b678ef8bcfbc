//! Previews (`Setting::Previews`): `deploy DIR --preview NAME` publishes a
//! release like any other (same layout, same plan, same transfer) and
//! points `preview:NAME` at it instead of `live`; the function serves it at
//! NAME.DOMAIN (`routeKey`). A preview's release is not counted among the
//! releases: pruning never removes one and a rollback never picks one.
//! Publishing NAME again replaces its release; `releases --remove NAME`, or
//! age past `Setting::PreviewDays`, removes it: its pointer and metadata in
//! one store write, then its own prefix (assets are shared and stay).

use crate::settings::Setting::{HostedZoneName, Previews, Releases, Subdomain};
use crate::spec::Spec;
use crate::sync::remote;

use super::prefix;
use super::store::{Preview, Store};

/// NAME must be one DNS label: it becomes the host NAME.DOMAIN.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--preview: {name:?} is not valid: expected a DNS label: 1 to 63 lower-case letters, digits \
             and '-', not starting or ending with '-', e.g. pr-42"
        ))
    }
}

/// Why this stack cannot serve a preview, if it cannot (before any write).
pub fn refusal(spec: &Spec, name: &str) -> Option<String> {
    if spec.releases == 0 {
        return Some(format!(
            "--preview {name}: {Releases} is 0 (releases are off): a preview is a release; set {Releases} \
             and {Previews}=on, then `cdnctl up`"
        ));
    }
    let Some(domain) = &spec.domain else {
        return Some(format!(
            "--preview {name}: the stack has no custom domain ({Subdomain} and {HostedZoneName}): a preview \
             is served at NAME.DOMAIN, and cloudfront.net has no subdomains"
        ));
    };
    let Some(previews) = &spec.previews else {
        return Some(format!(
            "--preview {name}: {Previews} is off: set {Previews}=on and run `cdnctl up` (it adds *.{} to the \
             distribution, its certificate and Route53)",
            domain.name
        ));
    };
    if previews.host(name).len() > 253 {
        return Some(format!(
            "--preview {name}: {} is longer than a host name may be (253): use a shorter NAME",
            previews.host(name)
        ));
    }
    None
}

/// The previews whose release was published more than `days` ago (`now`:
/// seconds since the epoch). A preview without readable metadata is kept.
pub fn expired(previews: &[Preview], days: u32, now: i64) -> Vec<Preview> {
    let limit = now - i64::from(days) * 86_400;
    previews
        .iter()
        .filter(|p| {
            p.release
                .as_ref()
                .and_then(|r| {
                    aws_smithy_types::DateTime::from_str(&r.when, aws_smithy_types::date_time::Format::DateTime).ok()
                })
                .is_some_and(|t| t.secs() < limit)
        })
        .cloned()
        .collect()
}

/// Remove previews: their pointers and metadata in one write, then the
/// files of their releases (a preview's release is its own: no kept
/// release names its prefix; assets stay). `replaced`: releases of a
/// preview published again, whose pointer already names the new one.
/// Returns the files deleted.
pub async fn remove(
    store: &Store<'_>,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    previews: &[Preview],
    replaced: &[String],
) -> anyhow::Result<usize> {
    let names: Vec<String> = previews.iter().map(|p| p.name.clone()).collect();
    let ids: Vec<String> = previews
        .iter()
        .map(|p| p.id.clone())
        .chain(replaced.iter().cloned())
        .collect();
    store.forget_previews(&names, &ids).await?;
    let mut deleted = 0;
    for id in &ids {
        let (objects, _) = remote::list(s3, bucket, &prefix(id)).await?;
        deleted += objects.len();
        super::publish::delete(s3, bucket, objects.into_keys().collect()).await?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_one_dns_label() {
        for ok in ["pr-42", "a", "feature-x1", &"a".repeat(63)] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "PR-1", "-a", "a-", "a.b", "a_b", "ü", &"a".repeat(64)] {
            let e = check_name(bad).unwrap_err();
            assert!(e.starts_with("--preview: ") && e.contains("DNS label"), "{e}");
        }
    }

    #[test]
    fn previews_past_their_days_expire() {
        let p = |name: &str, when: &str| Preview {
            name: name.into(),
            id: format!("r-{name}"),
            release: Some(super::super::Release {
                id: format!("r-{name}"),
                when: when.into(),
                source: String::new(),
                files: 1,
                bytes: 1,
                page: None,
                preview: Some(name.into()),
            }),
        };
        let now =
            aws_smithy_types::DateTime::from_str("2026-12-05T00:00:00Z", aws_smithy_types::date_time::Format::DateTime)
                .unwrap()
                .secs();
        let all = vec![
            p("old", "2026-11-01T00:00:00Z"),
            p("new", "2026-12-01T00:00:00Z"),
            p("unreadable", "yesterday"),
        ];
        let gone: Vec<String> = expired(&all, 30, now).into_iter().map(|p| p.name).collect();
        assert_eq!(gone, vec!["old"]);
    }
}
