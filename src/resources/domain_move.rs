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
    let mut names: Vec<String> = spec.domain.iter().map(|d| d.name.clone()).collect();
    if let Phase::Carry { old } = phase {
        names.extend(old.iter().cloned());
    }
    names
}

/// Where the move stands. `dist` is the stack's own distribution; `records`
/// the new name's; `given` the CERTIFICATE_ARN certificate; `owned` the
/// stack's certificates for the new name.
pub fn phase(
    spec: &Spec,
    dist: Option<&distribution::Observed>,
    records: Option<&dns::Observed>,
    given: Option<&certificate::Observed>,
    owned: &[certificate::Observed],
) -> Phase {
    let (Some(domain), Some(d)) = (&spec.domain, dist) else {
        return Phase::None;
    };
    let aliases: Vec<String> = d
        .config
        .aliases
        .as_ref()
        .map(|a| a.items().to_vec())
        .unwrap_or_default();
    let old: Vec<String> = aliases.iter().filter(|a| **a != domain.name).cloned().collect();
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
    let carried = aliases.contains(&domain.name)
        && d.status == "Deployed"
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
    let alone = [domain.name.clone()];
    match certificate::best_for(owned, &alone) {
        Some(c) if c.status == "ISSUED" => Phase::Finish { old },
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
