//! One module per AWS resource. Each knows how to observe, create, update and
//! delete its resource, and nothing else; none of them prints. `kit.rs` is
//! what they share: facts that order steps, what steps learn, `Action`.

pub mod bucket;
pub mod bucket_policy;
pub mod certificate;
pub mod distribution;
pub mod dns;
pub mod domain_move;
pub mod function;
pub mod kit;
pub mod kvs;
pub mod oac;
pub mod oai;
pub mod response_headers;

/// Which kind of AWS resource: what `status` groups drift by, and the
/// `type` of its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bucket,
    OriginAccessControl,
    OriginAccessIdentity,
    ResponseHeadersPolicy,
    Distribution,
    Certificate,
    DnsRecord,
    KeyValueStore,
    Function,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::Bucket,
        Kind::OriginAccessControl,
        Kind::OriginAccessIdentity,
        Kind::ResponseHeadersPolicy,
        Kind::Distribution,
        Kind::Certificate,
        Kind::DnsRecord,
        Kind::KeyValueStore,
        Kind::Function,
    ];

    /// As people read it: "origin access control".
    pub fn label(self) -> &'static str {
        match self {
            Kind::Bucket => "bucket",
            Kind::OriginAccessControl => "origin access control",
            Kind::OriginAccessIdentity => "origin access identity",
            Kind::ResponseHeadersPolicy => "response headers policy",
            Kind::Distribution => "distribution",
            Kind::Certificate => "certificate",
            Kind::DnsRecord => "DNS records",
            Kind::KeyValueStore => "key value store",
            Kind::Function => "function",
        }
    }

    /// As the JSON report spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bucket => "bucket",
            Kind::OriginAccessControl => "origin_access_control",
            Kind::OriginAccessIdentity => "origin_access_identity",
            Kind::ResponseHeadersPolicy => "response_headers_policy",
            Kind::Distribution => "distribution",
            Kind::Certificate => "certificate",
            Kind::DnsRecord => "dns_record",
            Kind::KeyValueStore => "key_value_store",
            Kind::Function => "function",
        }
    }
}
