//! Publishing files: a second pipeline beside up's, with the same shape.
//!
//! ```text
//! scan the local tree (hashes, headers) ∥ find the stack ∥ list the bucket
//!    └─> diff (pure: upload, update headers, invalidate, delete)
//!          └─> transfer (bounded concurrency): hashed files, the rest, manifests, pages
//!                └─> invalidate ∥ record └─> delete
//! ```
//!
//! `pipeline.rs` runs it, reporting progress to `events::Events` and
//! returning its outcome and reasons to stop as values (`stop.rs`); the
//! command layer renders them. `destination.rs` finds the stack (the bucket,
//! and the distribution its policy names), `remote.rs` reads the bucket's
//! objects.
//!
//! No HEAD per file: the listing's ETags decide what changed, and the
//! fingerprint of the header rules (in the prefix's state) decides whether
//! headers need a look at all. The state (`PREFIX.cdnctl/state.json`) also
//! holds the pending invalidation, the last deploys and the lease that keeps
//! two runs from writing at once.

pub mod decide;
pub mod destination;
pub mod diff;
pub mod glob;
pub mod hidden;
pub mod holder;
pub mod invalidation;
pub mod lease;
pub mod listing;
pub mod options;
pub mod pipeline;
pub mod remote;
pub mod report;
pub mod rules;
pub mod scan;
pub mod stages;
pub mod state;
pub mod stop;
pub mod transfer;
pub mod warnings;

pub use options::SyncOptions;
pub use pipeline::{Outcome, Sync};
pub use stop::Stop;
