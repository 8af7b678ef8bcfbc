//! Observe: read the actual state of every resource of the stack. Read-only,
//! and concurrent: one round of independent reads, then a second round for
//! what needs an id found in the first (the distribution's details, the DNS
//! records of the zone that was looked up).

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
    let zone = async {
        match &spec.domain {
            Some(d) => dns::find_zone(&clients.route53, d).await.map(Some),
            None => Ok(None),
        }
    };
    let cert = async {
        match &spec.distribution.certificate_arn {
            Some(arn) => certificate::observe(&clients.acm, arn).await,
            None => Ok(None),
        }
    };
    // Round one.
    let (bucket, oac, listing, zone_id, certificate) = tokio::join!(
        bucket::observe(&clients.s3, &spec.bucket, &clients.region),
        oac::observe(&clients.cloudfront, &spec.oac_name),
        distribution::list(&clients.cloudfront, spec),
        zone,
        cert,
    );
    let (bucket, oac, listing, zone_id, certificate) = (bucket?, oac?, listing?, zone_id?, certificate?);

    // Round two.
    let dist = async {
        match listing.candidates.first() {
            Some((id, arn)) => distribution::observe(&clients.cloudfront, id, arn).await,
            None => Ok(None),
        }
    };
    let records = async {
        match (&zone_id, &spec.domain) {
            (Some(zone), Some(d)) => dns::observe(&clients.route53, zone, &d.name).await.map(Some),
            _ => Ok(None),
        }
    };
    let objects = async {
        match (count_objects_up_to, &bucket) {
            (Some(limit), bucket::State::Present(b)) if spec.is_owned(&b.tags) => {
                bucket::count_objects(&clients.s3, &spec.bucket, limit).await.map(Some)
            }
            _ => Ok(None),
        }
    };
    let (distribution, records, objects) = tokio::join!(dist, records, objects);

    Ok(World {
        bucket,
        oac,
        distribution: distribution?,
        duplicate_distributions: listing.candidates.iter().skip(1).map(|(id, _)| id.clone()).collect(),
        alias_taken_by: listing.alias_taken_by,
        zone_id,
        records: records?,
        certificate,
        objects: objects?,
    })
}
