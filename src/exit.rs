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
pub enum Failed {
    /// Bad settings or flags, one line each, found before any request (exit 2).
    Settings(Vec<String>),
    /// Refused before any write, one line per reason.
    Refused(Vec<String>),
    /// Removals the command does not make unless asked to, refused before
    /// any write, one line each (exit 2: run it as the lines say).
    Withheld(Vec<String>),
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

impl Failed {
    /// The kind, as the JSON error names it (`"kind": "refused"`), so that a
    /// script tells "bad settings" from "refused" without reading words.
    pub fn kind(&self) -> &'static str {
        match self {
            Failed::Settings(_) => "settings",
            Failed::Refused(_) => "refused",
            Failed::Withheld(_) => "withheld",
            Failed::NotConfirmed(_) => "not_confirmed",
            Failed::PartWay(_) => "part_way",
            Failed::Error(_) => "error",
            Failed::Interrupted(_) => "interrupted",
        }
    }

    pub fn exit(&self) -> Exit {
        match self {
            Failed::Settings(_) | Failed::Withheld(_) => Exit::Usage,
            Failed::Interrupted(_) => Exit::Interrupted,
            Failed::Refused(_) | Failed::NotConfirmed(_) | Failed::PartWay(_) | Failed::Error(_) => Exit::Failure,
        }
    }
}

impl Failed {
    /// The same failure of the same kind, its message led by `context`: a
    /// command run inside another (`deploy: stopped at sync (up done): …`).
    pub fn within(self, context: &str) -> Failed {
        let lead = |lines: Vec<String>| {
            let mut lines = lines;
            match lines.first_mut() {
                Some(first) => *first = format!("{context}: {first}"),
                None => lines.push(context.to_string()),
            }
            lines
        };
        match self {
            Failed::Settings(lines) => Failed::Settings(lead(lines)),
            Failed::Refused(lines) => Failed::Refused(lead(lines)),
            Failed::Withheld(lines) => Failed::Withheld(lead(lines)),
            Failed::NotConfirmed(what) => Failed::NotConfirmed(format!("{context}: {what}")),
            Failed::PartWay(message) => Failed::PartWay(format!("{context}: {message}")),
            Failed::Error(e) => Failed::Error(e.context(context.to_string())),
            Failed::Interrupted(verb) => Failed::Interrupted(verb),
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Settings(lines) => write!(f, "{}", lines.join("\n")),
            Failed::Refused(lines) | Failed::Withheld(lines) => write!(f, "{}\nnothing was changed", lines.join("\n")),
            Failed::NotConfirmed(what) => write!(f, "{what}; nothing was changed"),
            Failed::PartWay(message) => write!(f, "{message}"),
            Failed::Error(e) => write!(f, "{e:#}"),
            Failed::Interrupted(verb) => write!(
                f,
                "interrupted: nothing is lost; run `cdnctl {verb}` again to continue where this run stopped"
            ),
        }
    }
}

impl std::error::Error for Failed {}

/// A failure that travelled as an `anyhow::Error` keeps its kind.
impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Failed {
        e.downcast::<Failed>().unwrap_or_else(Failed::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_survives_anyhow_and_says_what_was_changed() {
        let e: anyhow::Error = Failed::Refused(vec!["a".into(), "b".into()]).into();
        let f = Failed::from(e);
        assert_eq!(f.exit(), Exit::Failure);
        assert_eq!(f.to_string(), "a\nb\nnothing was changed");
        let f = Failed::from(anyhow::anyhow!("outer").context("ctx"));
        assert!(matches!(f, Failed::Error(_)));
        assert_eq!(f.to_string(), "ctx: outer");
        assert_eq!(Failed::Settings(vec!["X: bad".into()]).exit(), Exit::Usage);
        let f = Failed::Refused(vec!["a".into()]).within("deploy: stopped at sync");
        assert_eq!(f.to_string(), "deploy: stopped at sync: a\nnothing was changed");
        assert_eq!(f.exit(), Exit::Failure);
        assert_eq!(
            Failed::NotConfirmed("down: not confirmed".into()).to_string(),
            "down: not confirmed; nothing was changed"
        );
    }
}
