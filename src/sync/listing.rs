//! What the bucket holds, as the listing and HeadObject tell it: plain data
//! that the diff and the invalidation both read.

/// One object of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    /// Seconds since the epoch.
    pub last_modified: i64,
}

/// Content-Type and Cache-Control of an object, from HeadObject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
}
