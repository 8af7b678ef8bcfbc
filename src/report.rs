//! What `status` reports, typed: the commands build it, `ci.rs` and the
//! printer render it.

use serde::Serialize;

/// One resource in the report. The JSON schema is documented in README.md.
#[derive(Debug, Serialize)]
pub struct Resource {
    /// bucket | origin_access_control | response_headers_policy | distribution | certificate | dns_record
    pub r#type: &'static str,
    pub name: String,
    pub present: bool,
    pub owned: bool,
    /// ok | missing | foreign | unreadable | deploying | disabled | pending | failed | expiring | expired | wrong_target | leftover
    pub health: String,
    /// More for people: days to a certificate's expiry, where a record points, …
    pub detail: String,
    pub differences: Vec<String>,
}
