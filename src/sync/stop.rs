//! Why a sync stopped short, as data: the command layer turns each kind into
//! its exit code and closing words (`commands/sync.rs`); nothing here knows
//! how a failure is shown.

/// A sync that stopped on purpose, or part-way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Refused before any write, one line per reason.
    Refused(Vec<String>),
    /// Stopped after writing some of it: the message says what is live and
    /// what the next run finishes.
    PartWay(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Refused(lines) => write!(f, "{}", lines.join("\n")),
            Stop::PartWay(message) => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Stop {}
