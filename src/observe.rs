//! Observe: read the actual state of every resource of the stack. Read-only
//! and concurrent: every lookup that needs an id found by another (the
//! distribution's details, the zone's records, the certificate's tags) follows
//! it at once. A second, smaller round follows only where the first found
//! something to look into: the validation record of the stack's certificate,
//! and what a domain removed from the settings left behind.

use futures_util::future::join_all;

use crate::aws::{Clients, Waiting};
use crate::resources::{bucket, certificate, distribution, dns, domain_move, function, kvs, oac, response_headers};
use crate::spec::Spec;

#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub bucket: bucket::State,
    pub oac: Option<oac::Observed>,
    /// The custom response headers policy of the stack's name, if any.
    pub headers_policy: Option<response_headers::Observed>,
    pub distribution: Option<distribution::Observed>,
    /// More than one distribution carries this stack's comment.
    pub duplicate_distributions: Vec<String>,
    /// Another distribution already has the custom domain as an alias.
    pub alias_taken_by: Option<String>,
    /// Every other distribution: what it reads from and uses.
    pub listing: distribution::Listing,
    pub zone: Option<dns::Zone>,
    pub zone_id: Option<String>,
    pub records: Option<dns::Observed>,
    /// With previews: the records of `*.DOMAIN`.
    pub wildcard_records: Option<dns::Observed>,
    /// The certificate the distribution should use: the given one, or the
    /// stack's own live one.
    pub certificate: Option<certificate::Observed>,
    /// Whether the stack's own certificate's validation record is in the zone
    /// (`None` when there is nothing to check).
    pub validation_record: Option<bool>,
    /// The stack's certificates that it no longer needs: failed, timed out,
    /// expired, or for a domain no longer in the settings.
    pub spare_certificates: Vec<certificate::Observed>,
    /// A/AAAA records pointing at the stack's distribution for aliases no
    /// longer in the settings.
    pub stale_records: Vec<dns::Stale>,
    /// Where a move of the custom domain to another name stands.
    pub moving: domain_move::Phase,
    /// Object versions and delete markers in the bucket, counted up to a limit
    /// (only when asked: `down` needs it, `up` and `status` do not).
    pub objects: Option<u64>,
    /// The release pointer's store and the function: looked for with
    /// releases on, by `down`, and when the distribution runs the function
    /// though releases are off (a live release is never dropped by a
    /// setting).
    pub store: Option<kvs::Observed>,
    pub function: Option<function::Observed>,
}

impl World {
    pub fn nothing_exists(&self) -> bool {
        self.bucket == bucket::State::Absent
            && self.oac.is_none()
            && self.headers_policy.is_none()
            && self.distribution.is_none()
            && self.records.as_ref().is_none_or(|r| r.records().next().is_none())
            && !self.certificate.as_ref().is_some_and(|c| c.owned)
            && self.spare_certificates.is_empty()
            && self.stale_records.is_empty()
            && self.store.is_none()
            && self.function.is_none()
    }

    /// The stack's distribution, if it carries the stack's tag.
    pub fn owned_distribution(&self, spec: &Spec) -> Option<&distribution::Observed> {
        self.distribution.as_ref().filter(|d| spec.is_owned(&d.tags))
    }
}

pub async fn observe(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    count_objects_up_to: Option<u64>,
) -> anyhow::Result<World> {
    // Independent chains, run concurrently; none is more than two requests deep.
    let policy_name = crate::spec::headers_policy_name(&spec.bucket);
    let (bucket, oac, headers_policy, distribution, dns, certs, given, releases) = tokio::join!(
        bucket_chain(clients, spec, waiting, count_objects_up_to),
        oac::observe(&clients.cloudfront, &spec.oac_name),
        response_headers::observe(&clients.cloudfront, &policy_name),
        distribution_chain(clients, spec),
        dns_chain(clients, spec),
        certificates_chain(clients, spec),
        given_certificate(clients, spec),
        releases_chain(clients, spec, spec.releases > 0 || count_objects_up_to.is_some())
    );
    let ((bucket, objects), (listing, distribution), (zone, records, wildcard_records)) =
        (bucket?, distribution?, dns?);
    // Releases off, but the distribution still runs the stack's function
    // (turned off while a release is live): read them after all.
    let (store, function) = match releases? {
        (None, None)
            if distribution
                .as_ref()
                .is_some_and(|d| distribution::runs_function(&d.config, &spec.bucket).is_some()) =>
        {
            releases_chain(clients, spec, true).await?
        }
        found => found,
    };
    let (listed, mut owned) = certs?;
    let zone_id = match &zone {
        Some(dns::Zone::Found(id)) => Some(id.clone()),
        _ => None,
    };

    // Where a move to another name stands, the certificate to use (with the
    // names that needs), and the stack's others.
    let given = given?;
    let moving = domain_move::phase(
        spec,
        distribution.as_ref().filter(|d| spec.is_owned(&d.tags)),
        records.as_ref(),
        given.as_ref(),
        &owned,
    );
    let certificate = match given {
        Some(c) => Some(c),
        None if spec.domain.is_some() => {
            certificate::best_for(&owned, &domain_move::certificate_names(spec, &moving)).cloned()
        }
        None => None,
    };
    let in_use = distribution
        .as_ref()
        .and_then(|d| d.config.viewer_certificate.as_ref())
        .and_then(|v| v.acm_certificate_arn.clone())
        .filter(|a| !a.is_empty());

    // Second round: the validation record, and leftovers of an old domain.
    let owned_distribution = distribution.as_ref().filter(|d| spec.is_owned(&d.tags));
    let wanted = &spec.distribution.aliases;
    let old_aliases: Vec<String> = owned_distribution
        .and_then(|d| d.config.aliases.as_ref())
        .map(|a| a.items().iter().filter(|a| !wanted.contains(a)).cloned().collect())
        .unwrap_or_default();
    // Certificates of the old aliases, and the one the distribution uses
    // now, if they are the stack's and not already seen.
    let seen: Vec<&str> = owned.iter().map(|c| c.arn.as_str()).collect();
    let mut leftover_arns: Vec<String> = listed
        .iter()
        .filter(|s| old_aliases.contains(&s.domain) || in_use.as_deref() == Some(s.arn.as_str()))
        .map(|s| s.arn.clone())
        .filter(|a| !seen.contains(&a.as_str()) && Some(a) != spec.distribution.certificate_arn.as_ref())
        .collect();
    leftover_arns.dedup();
    let (validation_record, leftover_certs, stale_records) = tokio::join!(
        validation_record(clients, certificate.as_ref(), zone_id.as_deref()),
        leftover_certificates(clients, spec, &leftover_arns),
        leftover_records(clients, owned_distribution, &old_aliases)
    );
    owned.extend(leftover_certs?);
    let chosen = certificate.as_ref().map(|c| c.arn.clone());
    let spare_certificates = owned.into_iter().filter(|c| Some(&c.arn) != chosen.as_ref()).collect();

    Ok(World {
        bucket,
        oac: oac?,
        headers_policy: headers_policy?,
        duplicate_distributions: listing.candidates.iter().skip(1).map(|(id, _)| id.clone()).collect(),
        distribution,
        alias_taken_by: listing.alias_taken_by.clone(),
        listing,
        zone,
        zone_id,
        records,
        wildcard_records,
        certificate,
        validation_record: validation_record?,
        spare_certificates,
        stale_records: stale_records?,
        moving,
        objects,
        store,
        function,
    })
}

/// The store (and its pointer) and the function of the stack's name, when
/// `wanted`: with releases on, and for `down` (which counts objects), so
/// that what releases left is removed with the stack.
async fn releases_chain(
    clients: &Clients,
    spec: &Spec,
    wanted: bool,
) -> anyhow::Result<(Option<kvs::Observed>, Option<function::Observed>)> {
    if !wanted {
        return Ok((None, None));
    }
    let name = function::name(&spec.bucket);
    tokio::try_join!(
        kvs::observe(&clients.cloudfront, &clients.kvs, &name),
        function::observe(&clients.cloudfront, &name)
    )
}

/// The bucket, then (when asked, and only if it is the stack's) its objects.
async fn bucket_chain(
    clients: &Clients,
    spec: &Spec,
    waiting: &Waiting,
    count_objects_up_to: Option<u64>,
) -> anyhow::Result<(bucket::State, Option<u64>)> {
    let state = bucket::observe(&clients.s3, &spec.bucket, &clients.region, waiting).await?;
    let objects = match (count_objects_up_to, &state) {
        (Some(limit), bucket::State::Present(b)) if spec.is_owned(&b.tags) => {
            Some(bucket::count_objects(&clients.s3, &spec.bucket, limit).await?)
        }
        _ => None,
    };
    Ok((state, objects))
}

/// Every distribution, then the details of the stack's.
async fn distribution_chain(
    clients: &Clients,
    spec: &Spec,
) -> anyhow::Result<(distribution::Listing, Option<distribution::Observed>)> {
    let listing = distribution::list(&clients.cloudfront, spec).await?;
    let observed = match listing.candidates.first() {
        Some((id, arn)) => distribution::observe(&clients.cloudfront, id, arn).await?,
        None => None,
    };
    Ok((listing, observed))
}

/// The hosted zone, then the custom domain's records in it.
async fn dns_chain(
    clients: &Clients,
    spec: &Spec,
) -> anyhow::Result<(Option<dns::Zone>, Option<dns::Observed>, Option<dns::Observed>)> {
    let Some(domain) = &spec.domain else {
        return Ok((None, None, None));
    };
    let zone = dns::find_zone(&clients.route53, domain).await?;
    let (records, wildcard) = match &zone {
        dns::Zone::Found(id) => {
            let wildcard = spec.previews.as_ref().map(|p| p.wildcard());
            let (records, wildcard) = tokio::join!(dns::observe(&clients.route53, id, &domain.name), async {
                match &wildcard {
                    Some(w) => dns::observe(&clients.route53, id, w).await.map(Some),
                    None => Ok(None),
                }
            });
            (Some(records?), wildcard?)
        }
        dns::Zone::Unusable(_) => (None, None),
    };
    Ok((Some(zone), records, wildcard))
}

/// Every certificate listed, then the stack's for its domain (live and dead).
async fn certificates_chain(
    clients: &Clients,
    spec: &Spec,
) -> anyhow::Result<(Vec<certificate::Summary>, Vec<certificate::Observed>)> {
    let listed = certificate::list(&clients.acm).await?;
    let domain = spec.domain.as_ref().map(|d| d.name.as_str());
    let for_domain: Vec<String> = listed
        .iter()
        .filter(|s| Some(s.domain.as_str()) == domain)
        .map(|s| s.arn.clone())
        .collect();
    let owned = certificate::owned_among(&clients.acm, spec, &for_domain).await?;
    Ok((listed, owned))
}

/// The certificate `Setting::CertificateArn` names.
async fn given_certificate(clients: &Clients, spec: &Spec) -> anyhow::Result<Option<certificate::Observed>> {
    match &spec.distribution.certificate_arn {
        Some(arn) => certificate::observe(&clients.acm, arn).await,
        None => Ok(None),
    }
}

/// Whether the stack's own certificate's validation record is in the zone.
async fn validation_record(
    clients: &Clients,
    certificate: Option<&certificate::Observed>,
    zone_id: Option<&str>,
) -> anyhow::Result<Option<bool>> {
    let (Some(cert), Some(zone_id)) = (certificate.filter(|c| c.owned), zone_id) else {
        return Ok(None);
    };
    match &cert.validation {
        Some((name, value)) => Ok(Some(dns::has_cname(&clients.route53, zone_id, name, value).await?)),
        None => Ok(None),
    }
}

/// Of these certificates, the stack's.
async fn leftover_certificates(
    clients: &Clients,
    spec: &Spec,
    arns: &[String],
) -> anyhow::Result<Vec<certificate::Observed>> {
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    certificate::owned_among(&clients.acm, spec, arns).await
}

/// Records of the old aliases still pointing at the stack's distribution.
async fn leftover_records(
    clients: &Clients,
    owned_distribution: Option<&distribution::Observed>,
    old_aliases: &[String],
) -> anyhow::Result<Vec<dns::Stale>> {
    let Some(d) = owned_distribution else {
        return Ok(Vec::new());
    };
    let found = join_all(old_aliases.iter().map(|alias| async move {
        let Some(zone_id) = dns::zone_holding(&clients.route53, alias).await? else {
            return anyhow::Ok(None);
        };
        let records = dns::observe(&clients.route53, &zone_id, alias).await?;
        let ours: Vec<_> = records
            .records()
            .filter(|r| dns::points_at(r, &d.domain_name))
            .cloned()
            .collect();
        Ok((!ours.is_empty()).then(|| dns::Stale {
            zone_id,
            name: alias.clone(),
            records: ours,
        }))
    }))
    .await;
    found.into_iter().filter_map(|r| r.transpose()).collect()
}
