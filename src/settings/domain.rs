//! The custom domain: [`Subdomain`], [`HostedZoneName`] and [`HostedZoneId`].

use super::{bad, Domain, SettingError};
use crate::settings::Setting::{HostedZoneId, HostedZoneName, Subdomain};

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

/// [`Subdomain`] may be a label (`static`) or the full name
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
                    HostedZoneId.name(),
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
            setting: HostedZoneId.name(),
            problem: format!("is set but {Subdomain} and {HostedZoneName} are not: set both for a custom domain, or remove {HostedZoneId}"),
        }),
        (Some(_), None) => Err(SettingError {
            setting: Subdomain.name(),
            problem: format!("is not set but {HostedZoneName} is: set {Subdomain} (e.g. static) for the domain {Subdomain}.{HostedZoneName}, or remove {HostedZoneName}"),
        }),
        (None, Some(_)) => Err(SettingError {
            setting: HostedZoneName.name(),
            problem: format!("is not set but {Subdomain} is: set {HostedZoneName} to the Route53 zone the domain belongs to (e.g. example.com), or remove {Subdomain}"),
        }),
        (Some(zone), Some(sub)) => {
            let zone_name = parse_dns_name(HostedZoneName.name(), &zone, "a DNS zone name such as example.com")?;
            if !zone_name.contains('.') {
                return Err(bad(HostedZoneName.name(), &zone, "a DNS zone name with at least two labels, such as example.com"));
            }
            let sub = parse_dns_name(Subdomain.name(), &sub, "one or more DNS labels (letters, digits, hyphens) such as static or cdn.assets")?;
            if sub == zone_name {
                return Err(SettingError {
                    setting: Subdomain.name(),
                    problem: format!("{sub:?} is the zone itself: expected a name below it, such as static (for static.{zone_name}) or static.{zone_name}"),
                });
            }
            // The full name, as people often write it: keep the part below the zone.
            let sub = sub.strip_suffix(&format!(".{zone_name}")).map(String::from).unwrap_or(sub);
            let name = format!("{sub}.{zone_name}");
            if name.len() > 253 {
                return Err(bad(Subdomain.name(), &sub, format!("a shorter label: {Subdomain}.{HostedZoneName} must be at most 253 characters")));
            }
            Ok(Some(Domain { name, zone_name, zone_id }))
        }
    }
}
