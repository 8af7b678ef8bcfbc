//! Publishing files: a second pipeline beside up's, with the same shape.
//!
//! ```text
//! scan the local tree (hashes, headers) ∥ find the stack ∥ list the bucket
//!    └─> diff (pure: upload, update headers, invalidate, delete)
//!          └─> transfer (bounded concurrency): hashed files, the rest, manifests
//!                └─> invalidate └─> delete
//! ```
//!
//! No HEAD per file: the listing's ETags decide what changed, and the
//! fingerprint of the header rules (a bucket tag) decides whether headers need
//! a look at all.

pub mod diff;
pub mod glob;
pub mod invalidation;
pub mod options;
pub mod progress;
pub mod remote;
pub mod rules;
pub mod scan;
pub mod transfer;

pub use options::{SyncArgs, SyncOptions};
