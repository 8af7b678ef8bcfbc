//! How a run ends: the exit codes cdnctl documents.

/// Exit codes; `status` uses 3, 4 and 5 to tell CI what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Usage = 2,
    /// Something is missing or differs from the settings (`up --dry-run`: would change).
    Drift = 3,
    /// Deploying, or a certificate awaiting validation.
    NotReady = 4,
    /// Nothing of the stack exists.
    Absent = 5,
    /// `check`: a probe of the site failed.
    CheckFailed = 6,
    Interrupted = 130,
}
