//! Reasons for `up` not to start at all, found before any write.

use super::{Refusal, UpOptions};
use crate::observe::World;
use crate::resources::{bucket, certificate, distribution, dns, kvs, response_headers};
use crate::spec::{Headers, Spec};

/// Reasons not to write anything: a write would fail, or would touch what is
/// not this stack's.
pub fn preflight(spec: &Spec, world: &World, opts: &UpOptions) -> Vec<Refusal> {
    let mut refusals: Vec<String> = Vec::new();
    refusals.extend(bucket::refusal(&world.bucket, spec, opts.adopt));
    if let bucket::State::Present(o) = &world.bucket {
        if !opts.end_public_access {
            let desired = world.distribution.as_ref().map(|d| spec.policy(&d.arn));
            refusals.extend(bucket::serves_public_refusal(spec, desired.as_ref(), o));
        }
    }
    let dist = world.distribution.as_ref();
    refusals.extend(distribution::refusals(
        dist,
        &world.duplicate_distributions,
        world.alias_taken_by.as_deref(),
        spec,
        opts.adopt,
    ));
    if let (Some(arn), Some(domain)) = (&spec.distribution.certificate_arn, &spec.domain) {
        refusals.extend(certificate::given_refusal(
            arn,
            world.certificate.as_ref(),
            &domain.name,
            opts.now,
        ));
    }
    // A given certificate must cover the previews' `*.DOMAIN` as well.
    if let (Some(arn), Some(previews), Some(cert)) =
        (&spec.distribution.certificate_arn, &spec.previews, &world.certificate)
    {
        let wildcard = previews.wildcard();
        if !cert.names.iter().any(|n| certificate::covers(n, &wildcard)) {
            refusals.push(format!(
                "{}: certificate {arn} covers {}, not {wildcard}, which previews ({}=on) are served at: \
                 use a certificate that also names {wildcard}, or set {}=off",
                crate::settings::Setting::CertificateArn,
                cert.names.join(", "),
                crate::settings::Setting::Previews,
                crate::settings::Setting::Previews,
            ));
        }
    }
    if let Some(dns::Zone::Unusable(why)) = &world.zone {
        refusals.push(why.clone());
    }
    if let (Headers::Owned(want), Some(p)) = (&spec.headers, &world.headers_policy) {
        refusals.extend(response_headers::refusal(p, want));
    }
    if let (Some(records), Some(domain)) = (&world.records, &spec.domain) {
        let dist_domain = dist.map(|d| d.domain_name.as_str());
        refusals.extend(dns::refusals(records, &domain.name, dist_domain, opts.adopt));
    }
    if let Some(store) = &world.store {
        refusals.extend(kvs::refusal(store, &crate::spec::comment(&spec.bucket)));
    }
    refusals.into_iter().map(Refusal).collect()
}
