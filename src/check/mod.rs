//! `cdnctl check`: the deployed site as a browser sees it, through the CDN.
//!
//! ```text
//! find the stack (read-only) ∥ list the bucket └─> sample objects (HEAD)
//!    └─> probes, all at once: DNS, TLS, redirect, root object, objects,
//!        cross-origin requests, a key that cannot exist
//!          └─> one line per failure: the likely cause and the fix
//! ```
//!
//! Nothing here writes: AWS is only read, and the site only requested.

pub mod http;
pub mod probes;
pub mod target;

pub use http::{ConnectTo, Http};

use serde::Serialize;

/// What one probe found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// dns, tls, redirect, root, object, cors, preflight, missing
    pub probe: &'static str,
    /// What was probed: a name, a URL or a path.
    pub target: String,
    pub ok: bool,
    /// For a pass, what was seen; for a failure, the likely cause and the fix.
    pub message: String,
}

impl Outcome {
    pub fn pass(probe: &'static str, target: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            probe,
            target: target.into(),
            ok: true,
            message: message.into(),
        }
    }

    pub fn fail(probe: &'static str, target: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome {
            probe,
            target: target.into(),
            ok: false,
            message: message.into(),
        }
    }
}
