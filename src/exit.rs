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

/// Why a run stopped short, in the kinds the entry point tells apart: the
/// exit code and the closing "nothing was changed" come from here, not from
/// each command. Commands return these inside their `anyhow::Error` (or
/// directly); `run.rs` maps them, and any other error is a plain failure.
#[derive(Debug)]
pub enum Failure {
    /// Bad settings or flags, one line each, found before any request (exit 2).
    Settings(Vec<String>),
    /// Refused before any write, one line per reason.
    Refused(Vec<String>),
    /// A destructive step that was not confirmed.
    NotConfirmed(String),
    /// Failed after writing some of it: the message says what is live and
    /// what the next run finishes.
    PartWay(String),
    /// Any other error: whatever was written stays.
    Error(anyhow::Error),
    /// Ctrl-C, during `cdnctl VERB`.
    Interrupted(&'static str),
}

impl Failure {
    pub fn exit(&self) -> Exit {
        match self {
            Failure::Settings(_) => Exit::Usage,
            Failure::Interrupted(_) => Exit::Interrupted,
            Failure::Refused(_) | Failure::NotConfirmed(_) | Failure::PartWay(_) | Failure::Error(_) => Exit::Failure,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Settings(lines) => write!(f, "{}", lines.join("\n")),
            Failure::Refused(lines) => write!(f, "{}\nnothing was changed", lines.join("\n")),
            Failure::NotConfirmed(what) => write!(f, "{what}; nothing was changed"),
            Failure::PartWay(message) => write!(f, "{message}"),
            Failure::Error(e) => write!(f, "{e:#}"),
            Failure::Interrupted(verb) => write!(
                f,
                "interrupted: nothing is lost; run `cdnctl {verb}` again to continue where this run stopped"
            ),
        }
    }
}

impl std::error::Error for Failure {}

/// A failure that travelled as an `anyhow::Error` keeps its kind.
impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        e.downcast::<Failure>().unwrap_or_else(Failure::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_survives_anyhow_and_says_what_was_changed() {
        let e: anyhow::Error = Failure::Refused(vec!["a".into(), "b".into()]).into();
        let f = Failure::from(e);
        assert_eq!(f.exit(), Exit::Failure);
        assert_eq!(f.to_string(), "a\nb\nnothing was changed");
        let f = Failure::from(anyhow::anyhow!("outer").context("ctx"));
        assert!(matches!(f, Failure::Error(_)));
        assert_eq!(f.to_string(), "ctx: outer");
        assert_eq!(Failure::Settings(vec!["X: bad".into()]).exit(), Exit::Usage);
        assert_eq!(
            Failure::NotConfirmed("down: not confirmed".into()).to_string(),
            "down: not confirmed; nothing was changed"
        );
    }
}
