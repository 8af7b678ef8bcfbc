//! Moving the custom domain from one name to another without taking the old
//! one down. CloudFront serves a name only while it is an alias of the
//! distribution and the viewer certificate covers every alias, so the move
//! goes in steps, each decided from what exists (a later run finishes what an
//! interrupted one started):
//!
//! 1. Carry: a certificate for the new name and the old ones (new primary);
//!    the distribution carries both aliases with it; the new records point at
//!    it. The old records stay: the old name keeps serving.
//! 2. Prepare: once that is deployed, a certificate for the new name alone
//!    (so that renewing it never depends on the old name's DNS).
//! 3. Finish: once that is issued, the old records go, then the distribution
//!    drops the old alias and takes the new certificate; the carrying
//!    certificate is deleted once CloudFront lets go of it.
//!
//! Pure: no I/O.

use crate::resources::{certificate, distribution, dns};
use crate::spec::Spec;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Phase {
    /// No move under way (or none that can keep the old name: see `phase`).
    #[default]
    None,
    Carry {
        old: Vec<String>,
    },
    Prepare {
        old: Vec<String>,
        /// The certificate the distribution serves both names with.
        serving: String,
    },
    Finish {
        old: Vec<String>,
    },
}

impl Phase {
    pub fn is_moving(&self) -> bool {
        *self != Phase::None
    }

    /// The aliases the distribution keeps beside the new one for now.
    pub fn keep_aliases(&self) -> &[String] {
        match self {
            Phase::Carry { old } | Phase::Prepare { old, .. } => old,
            Phase::None | Phase::Finish { .. } => &[],
        }
    }

    /// Whether the old name's records may go now.
    pub fn old_records_may_go(&self) -> bool {
        matches!(self, Phase::None | Phase::Finish { .. })
    }

    /// The certificate the distribution must keep using meanwhile, if it is
    /// not the one the stack is getting.
    pub fn serving_certificate(&self) -> Option<&str> {
        match self {
            Phase::Prepare { serving, .. } => Some(serving),
            _ => None,
        }
    }
}

/// The names the stack's certificate must have now: the new name (primary),
/// and while carrying, the old ones too.
pub fn certificate_names(spec: &Spec, phase: &Phase) -> Vec<String> {
    // The domain, then `*.DOMAIN` with previews: the distribution's aliases.
    let mut names: Vec<String> = spec.distribution.aliases.clone();
    if let Phase::Carry { old } = phase {
        names.extend(old.iter().cloned());
    }
    names
}

/// Where the move stands. `dist` is the stack's own distribution; `records`
/// the new name's; `given` the certificate `Setting::CertificateArn` names; `owned` the
/// stack's certificates for the new name.
pub fn phase(
    spec: &Spec,
    dist: Option<&distribution::Observed>,
    records: Option<&dns::Observed>,
    given: Option<&certificate::Observed>,
    owned: &[certificate::Observed],
) -> Phase {
    let (Some(_), Some(d)) = (&spec.domain, dist) else {
        return Phase::None;
    };
    let aliases: Vec<String> = d
        .config
        .aliases
        .as_ref()
        .map(|a| a.items().to_vec())
        .unwrap_or_default();
    let old: Vec<String> = aliases
        .iter()
        .filter(|a| !spec.distribution.aliases.contains(a))
        .cloned()
        .collect();
    if old.is_empty() {
        return Phase::None;
    }
    // A given certificate that does not cover the old names cannot carry
    // them: the old name goes at once (the user chose the certificate).
    if let Some(g) = given {
        if !old.iter().all(|o| g.names.iter().any(|n| certificate::covers(n, o))) {
            return Phase::None;
        }
    }
    let carried = spec.distribution.aliases.iter().all(|a| aliases.contains(a))
        && d.status == distribution::Deployment::Deployed
        && records.is_some_and(|r| {
            r.a.as_ref().is_some_and(|r| dns::points_at(r, &d.domain_name))
                && r.aaaa.as_ref().is_some_and(|r| dns::points_at(r, &d.domain_name))
        });
    if !carried {
        return Phase::Carry { old };
    }
    if given.is_some() {
        return Phase::Finish { old };
    }
    let alone = spec.distribution.aliases.clone();
    match certificate::best_for(owned, &alone) {
        Some(c) if c.status == certificate::Status::Issued => Phase::Finish { old },
        _ => {
            let serving = d
                .config
                .viewer_certificate
                .as_ref()
                .and_then(|v| v.acm_certificate_arn.clone())
                .unwrap_or_default();
            Phase::Prepare { old, serving }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType};

    use super::*;
    use crate::settings::Flags;
    use crate::settings::Settings;

    const OLD: &str = "static.example.com";
    const NEW: &str = "cdn.example.com";
    const CERT: &str = "arn:aws:acm:us-east-1:123456789012:certificate/both";

    fn spec(subdomain: &str) -> Spec {
        let env: BTreeMap<String, String> = [
            ("BUCKET_NAME", "b-1"),
            ("HOSTED_ZONE_NAME", "example.com"),
            ("SUBDOMAIN", subdomain),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Spec::new(&Settings::resolve(&Flags::default(), &env).unwrap(), "eu-west-1")
    }

    fn dist(keep: &[String], status: &str) -> distribution::Observed {
        let links = distribution::Links {
            oac_id: "OAC",
            headers_policy_id: "HP",
            certificate_arn: Some(CERT),
            keep_aliases: keep,
            function_arn: None,
        };
        let base = if keep.is_empty() { spec("static") } else { spec("cdn") };
        distribution::Observed {
            id: "E1".into(),
            arn: "arn:aws:cloudfront::123456789012:distribution/E1".into(),
            domain_name: "d1.cloudfront.net".into(),
            status: status.into(),
            etag: "x".into(),
            config: distribution::new_config(&base, links).unwrap(),
            tags: BTreeMap::new(),
        }
    }

    fn records_at(target: &str) -> dns::Observed {
        let record = |kind: RrType| {
            ResourceRecordSet::builder()
                .name(format!("{NEW}."))
                .r#type(kind)
                .alias_target(
                    AliasTarget::builder()
                        .hosted_zone_id(crate::spec::CLOUDFRONT_ZONE_ID)
                        .dns_name(format!("{target}."))
                        .evaluate_target_health(false)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        dns::Observed {
            a: Some(record(RrType::A)),
            aaaa: Some(record(RrType::Aaaa)),
            cname: None,
        }
    }

    fn cert(names: &[&str], status: &str) -> certificate::Observed {
        certificate::Observed {
            arn: format!("arn:aws:acm:us-east-1:123456789012:certificate/{}", names.join("+")),
            status: status.into(),
            names: names.iter().map(|n| n.to_string()).collect(),
            not_after: None,
            validation: None,
            validations: Vec::new(),
            key_algorithm: Some("RSA_2048".into()),
            owned: true,
        }
    }

    #[test]
    fn a_move_carries_both_names_then_prepares_then_finishes() {
        let new = spec("cdn");
        let old = vec![OLD.to_string()];
        // The distribution still serves the old name only.
        let only_old = dist(&[], "Deployed");
        let p = phase(&new, Some(&only_old), None, None, &[]);
        assert_eq!(p, Phase::Carry { old: old.clone() });
        assert_eq!(certificate_names(&new, &p), vec![NEW.to_string(), OLD.to_string()]);
        assert_eq!(p.keep_aliases(), old.as_slice());
        assert!(!p.old_records_may_go());

        // Both names on it, but still deploying, or the new records missing: still carrying.
        let both = dist(&old, "InProgress");
        assert!(matches!(
            phase(&new, Some(&both), Some(&records_at("d1.cloudfront.net")), None, &[]),
            Phase::Carry { .. }
        ));
        let both = dist(&old, "Deployed");
        assert!(matches!(
            phase(&new, Some(&both), Some(&records_at("elsewhere.net")), None, &[]),
            Phase::Carry { .. }
        ));

        // Carried: a certificate for the new name alone comes first.
        let records = records_at("d1.cloudfront.net");
        let p = phase(&new, Some(&both), Some(&records), None, &[]);
        assert_eq!(
            p,
            Phase::Prepare {
                old: old.clone(),
                serving: CERT.into()
            }
        );
        assert_eq!(p.serving_certificate(), Some(CERT));
        assert_eq!(certificate_names(&new, &p), vec![NEW.to_string()]);
        assert!(!p.old_records_may_go());
        let pending = [cert(&[NEW], "PENDING_VALIDATION"), cert(&[NEW, OLD], "ISSUED")];
        assert!(matches!(
            phase(&new, Some(&both), Some(&records), None, &pending),
            Phase::Prepare { .. }
        ));

        // It is issued: the old name goes.
        let issued = [cert(&[NEW], "ISSUED"), cert(&[NEW, OLD], "ISSUED")];
        let p = phase(&new, Some(&both), Some(&records), None, &issued);
        assert_eq!(p, Phase::Finish { old });
        assert!(p.old_records_may_go() && p.keep_aliases().is_empty());
    }

    #[test]
    fn a_given_certificate_that_cannot_carry_the_old_name_ends_it_at_once() {
        let new = spec("cdn");
        let given = certificate::Observed {
            owned: false,
            ..cert(&[NEW], "ISSUED")
        };
        assert_eq!(
            phase(&new, Some(&dist(&[], "Deployed")), None, Some(&given), &[]),
            Phase::None
        );
        let wide = certificate::Observed {
            owned: false,
            ..cert(&["*.example.com"], "ISSUED")
        };
        assert!(matches!(
            phase(&new, Some(&dist(&[], "Deployed")), None, Some(&wide), &[]),
            Phase::Carry { .. }
        ));
    }
}
