//! Previews (`Setting::Previews`): `deploy DIR --preview NAME` publishes a
//! release like any other (same layout, same plan over the live route, same
//! transfer) and points `preview:NAME` at its route instead of `live`; the
//! function serves it at NAME.DOMAIN (`routeKey`). So a preview holds only
//! what differs from the live site (at least one page, for the edge to tell
//! it is served) and reads the rest from the live route's releases. A
//! preview's release is not counted among the releases: pruning never
//! removes one and a rollback never picks one, and pruning keeps every
//! prefix a preview's route reads. Publishing NAME again replaces its
//! release; `releases --remove NAME`, or age past `Setting::PreviewDays`,
//! removes it: its pointer and metadata in one store write, then the
//! prefixes its route read that no kept route reads any more ([`doomed`]:
//! its own, and those of releases pruned while it read them). Assets are
//! shared and stay.

use crate::settings::Setting::{HostedZoneName, Previews, Releases, Subdomain};
use crate::spec::Spec;
use crate::sync::remote;

use super::prefix;
use super::route::Route;
use super::store::{Preview, Seen, Store};

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

/// The routes still read once `leaving` (preview names) are gone: every
/// recorded release's, the live one, and the other previews'.
pub fn kept_routes(seen: &Seen, leaving: &[&str]) -> Vec<Route> {
    seen.releases
        .iter()
        .map(|r| seen.route_of(&r.id))
        .chain(seen.routes.values().cloned())
        .chain(seen.route.clone())
        .chain(
            seen.previews
                .iter()
                .filter(|p| !leaving.contains(&p.name.as_str()))
                .map(|p| p.route.clone()),
        )
        .collect()
}

/// The releases whose prefixes can go with `gone` (previews' routes): those
/// the routes read that no `kept` route reads (`unreferenced`, as pruning).
pub fn doomed(gone: &[Preview], kept: &[Route]) -> Vec<String> {
    let heads: Vec<String> = gone.iter().map(|p| p.id.clone()).collect();
    super::unreferenced(&heads, kept, |id| {
        gone.iter()
            .find(|p| p.id == id)
            .map_or_else(|| Route::whole(id), |p| p.route.clone())
    })
}

/// Remove previews: the pointers of `forgotten` and the metadata of their
/// releases and of `replaced` (previews published again, whose pointer
/// already names the new route) in one write, then the prefixes of those
/// routes that no `kept` route reads. Returns the files deleted.
pub async fn remove(
    store: &Store<'_>,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    forgotten: &[Preview],
    replaced: &[Preview],
    kept: &[Route],
) -> anyhow::Result<usize> {
    let names: Vec<String> = forgotten.iter().map(|p| p.name.clone()).collect();
    let gone: Vec<Preview> = forgotten.iter().chain(replaced).cloned().collect();
    let ids: Vec<String> = gone.iter().map(|p| p.id.clone()).collect();
    store.forget_previews(&names, &ids).await?;
    let mut deleted = 0;
    for id in doomed(&gone, kept) {
        let (objects, _) = remote::list(s3, bucket, &prefix(&id)).await?;
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
            route: Route::whole(&format!("r-{name}")),
            release: Some(super::super::Release {
                id: format!("r-{name}"),
                when: when.into(),
                source: String::new(),
                files: 1,
                bytes: 1,
                page: None,
                preview: Some(name.into()),
                rules: None,
                previous: None,
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

    /// A preview's removal deletes its own prefix and those only it still
    /// read (a release pruned meanwhile), never one a kept route reads.
    #[test]
    fn removing_a_preview_deletes_what_no_kept_route_reads() {
        use super::super::route::next;
        let (r1, _) = next(None, "r1", []);
        let (r2, _) = next(Some(&r1), "r2", ["a.html"]);
        // The preview over r2 changes b.html: it reads p1, r2 and r1.
        let (p1, _) = next(Some(&r2), "p1", ["b.html"]);
        let preview = Preview {
            name: "pr-1".into(),
            id: "p1".into(),
            route: p1,
            release: None,
        };
        // r2 live and kept: only the preview's own prefix goes.
        assert_eq!(
            doomed(std::slice::from_ref(&preview), std::slice::from_ref(&r2)),
            vec!["p1"]
        );
        // r1 and r2 pruned while the preview read them, only r3 (whole)
        // kept: their prefixes go with the preview.
        let r3 = Route::whole("r3");
        assert_eq!(
            doomed(std::slice::from_ref(&preview), std::slice::from_ref(&r3)),
            vec!["p1", "r1", "r2"]
        );
        // Another preview still reading r1 keeps it.
        let (q1, _) = next(Some(&r1), "q1", ["c.html"]);
        assert_eq!(doomed(&[preview], &[r3, q1]), vec!["p1", "r2"]);
    }
}
