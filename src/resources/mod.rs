//! One module per AWS resource. Each knows how to observe, create, update and
//! delete its resource, and nothing else; none of them prints.

pub mod bucket;
pub mod bucket_policy;
pub mod certificate;
pub mod distribution;
pub mod dns;
pub mod domain_move;
pub mod oac;
pub mod response_headers;
pub mod step;

/// Which kind of AWS resource: what `status` groups drift by, and the
/// `type` of its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bucket,
    OriginAccessControl,
    ResponseHeadersPolicy,
    Distribution,
    Certificate,
    DnsRecord,
}

impl Kind {
    /// As the JSON report spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bucket => "bucket",
            Kind::OriginAccessControl => "origin_access_control",
            Kind::ResponseHeadersPolicy => "response_headers_policy",
            Kind::Distribution => "distribution",
            Kind::Certificate => "certificate",
            Kind::DnsRecord => "dns_record",
        }
    }
}
