//! The custom domain: `SUBDOMAIN`, `HOSTED_ZONE_NAME` and `HOSTED_ZONE_ID`.

use super::{bad, Domain, SettingError};

/// A DNS name of one or more labels, lower-cased, without a trailing dot.
fn parse_dns_name(setting: &'static str, value: &str, what: &str) -> Result<String, SettingError> {
    let name = value.strip_suffix('.').unwrap_or(value).to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad(setting, value, what));
    }
    Ok(name)
}

/// `SUBDOMAIN` may be a label (`static`) or the full name
/// (`static.example.com`): the domain is never the zone's name doubled.
pub(super) fn resolve(
    zone_name: Option<String>,
    zone_id: Option<String>,
    subdomain: Option<String>,
) -> Result<Option<Domain>, SettingError> {
    let zone_id = zone_id
        .map(|id| {
            let id = id.strip_prefix("/hostedzone/").unwrap_or(&id).to_string();
            if id.len() > 32 || !id.starts_with('Z') || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Err(bad(
                    "HOSTED_ZONE_ID",
                    &id,
                    "a Route53 hosted zone id such as Z0123456789ABCDEFGHIJ or /hostedzone/Z0123456789ABCDEFGHIJ",
                ))
            } else {
                Ok(id.to_ascii_uppercase())
            }
        })
        .transpose()?;
    match (zone_name, subdomain) {
        (None, None) if zone_id.is_none() => Ok(None),
        (None, None) => Err(SettingError {
            setting: "HOSTED_ZONE_ID",
            problem: "is set but SUBDOMAIN and HOSTED_ZONE_NAME are not: set both for a custom domain, or remove HOSTED_ZONE_ID".into(),
        }),
        (Some(_), None) => Err(SettingError {
            setting: "SUBDOMAIN",
            problem: "is not set but HOSTED_ZONE_NAME is: set SUBDOMAIN (e.g. static) for the domain SUBDOMAIN.HOSTED_ZONE_NAME, or remove HOSTED_ZONE_NAME".into(),
        }),
        (None, Some(_)) => Err(SettingError {
            setting: "HOSTED_ZONE_NAME",
            problem: "is not set but SUBDOMAIN is: set HOSTED_ZONE_NAME to the Route53 zone the domain belongs to (e.g. example.com), or remove SUBDOMAIN".into(),
        }),
        (Some(zone), Some(sub)) => {
            let zone_name = parse_dns_name("HOSTED_ZONE_NAME", &zone, "a DNS zone name such as example.com")?;
            if !zone_name.contains('.') {
                return Err(bad("HOSTED_ZONE_NAME", &zone, "a DNS zone name with at least two labels, such as example.com"));
            }
            let sub = parse_dns_name("SUBDOMAIN", &sub, "one or more DNS labels (letters, digits, hyphens) such as static or cdn.assets")?;
            if sub == zone_name {
                return Err(SettingError {
                    setting: "SUBDOMAIN",
                    problem: format!("{sub:?} is the zone itself: expected a name below it, such as static (for static.{zone_name}) or static.{zone_name}"),
                });
            }
            // The full name, as people often write it: keep the part below the zone.
            let sub = sub.strip_suffix(&format!(".{zone_name}")).map(String::from).unwrap_or(sub);
            let name = format!("{sub}.{zone_name}");
            if name.len() > 253 {
                return Err(bad("SUBDOMAIN", &sub, "a shorter label: SUBDOMAIN.HOSTED_ZONE_NAME must be at most 253 characters"));
            }
            Ok(Some(Domain { name, zone_name, zone_id }))
        }
    }
}
