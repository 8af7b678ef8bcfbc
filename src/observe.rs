//! Observe: read the actual state of every resource of the stack. Read-only
//! and concurrent: every lookup that needs an id found by another (the
//! distribution's details, the zone's records, the certificate's tags) follows
//! it at once, so the whole is two round trips deep.

use crate::aws::Clients;
use crate::resources::{bucket, certificate, distribution, dns, oac};
use crate::spec::Spec;

#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub bucket: bucket::State,
    pub oac: Option<oac::Observed>,
    pub distribution: Option<distribution::Observed>,
    /// More than one distribution carries this stack's comment.
    pub duplicate_distributions: Vec<String>,
    /// Another distribution already has the custom domain as an alias.
    pub alias_taken_by: Option<String>,
    pub zone_id: Option<String>,
    pub records: Option<dns::Observed>,
    pub certificate: Option<certificate::Observed>,
    /// Object versions and delete markers in the bucket, counted up to a limit
    /// (only when asked: `down` needs it, `up` and `status` do not).
    pub objects: Option<u64>,
}

impl World {
    pub fn nothing_exists(&self) -> bool {
        self.bucket == bucket::State::Absent
            && self.oac.is_none()
            && self.distribution.is_none()
            && self.records.as_ref().is_none_or(|r| r.records().next().is_none())
    }
}

pub async fn observe(clients: &Clients, spec: &Spec, count_objects_up_to: Option<u64>) -> anyhow::Result<World> {
    // Independent chains, run concurrently; none is more than two requests deep.
    let bucket = async {
        let state = bucket::observe(&clients.s3, &spec.bucket, &clients.region).await?;
        let objects = match (count_objects_up_to, &state) {
            (Some(limit), bucket::State::Present(b)) if spec.is_owned(&b.tags) => {
                Some(bucket::count_objects(&clients.s3, &spec.bucket, limit).await?)
            }
            _ => None,
        };
        anyhow::Ok((state, objects))
    };
    let distribution = async {
        let listing = distribution::list(&clients.cloudfront, spec).await?;
        let observed = match listing.candidates.first() {
            Some((id, arn)) => distribution::observe(&clients.cloudfront, id, arn).await?,
            None => None,
        };
        anyhow::Ok((listing, observed))
    };
    let dns = async {
        let Some(domain) = &spec.domain else {
            return anyhow::Ok((None, None));
        };
        let zone_id = dns::find_zone(&clients.route53, domain).await?;
        let records = dns::observe(&clients.route53, &zone_id, &domain.name).await?;
        Ok((Some(zone_id), Some(records)))
    };
    let cert = async {
        match (&spec.distribution.certificate_arn, &spec.domain) {
            (Some(arn), _) => certificate::observe(&clients.acm, arn).await,
            (None, Some(domain)) => certificate::find_owned(&clients.acm, spec, &domain.name).await,
            (None, None) => Ok(None),
        }
    };
    let (bucket, oac, distribution, dns, certificate) = tokio::join!(
        bucket,
        oac::observe(&clients.cloudfront, &spec.oac_name),
        distribution,
        dns,
        cert
    );
    let ((bucket, objects), (listing, distribution), (zone_id, records)) = (bucket?, distribution?, dns?);

    Ok(World {
        bucket,
        oac: oac?,
        distribution,
        duplicate_distributions: listing.candidates.iter().skip(1).map(|(id, _)| id.clone()).collect(),
        alias_taken_by: listing.alias_taken_by,
        zone_id,
        records,
        certificate: certificate?,
        objects,
    })
}
