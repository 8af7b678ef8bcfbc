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
