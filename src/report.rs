//! Results as values: the `Report` every command's result implements (the
//! printer renders it once, as text, JSON or step summary), and what
//! `status` reports of each resource. No layer below the command line needs
//! the printer to say what it did.

use serde::Serialize;

use crate::resources::Kind;

/// One resource in the report. The JSON schema is documented in README.md.
#[derive(Debug, Serialize)]
pub struct Resource {
    /// bucket | origin_access_control | response_headers_policy | distribution | certificate | dns_record
    pub r#type: &'static str,
    #[serde(skip)]
    pub kind: Kind,
    pub name: String,
    pub present: bool,
    pub owned: bool,
    /// Serialized as `Health::as_str` spells it.
    pub health: Health,
    /// More for people: days to a certificate's expiry, where a record points, …
    pub detail: String,
    pub differences: Vec<String>,
}

impl Resource {
    pub(crate) fn new(kind: Kind, name: impl Into<String>, health: Health) -> Resource {
        Resource {
            r#type: kind.as_str(),
            kind,
            name: name.into(),
            present: true,
            owned: true,
            health,
            detail: String::new(),
            differences: Vec::new(),
        }
    }

    pub(crate) fn present(mut self, present: bool) -> Resource {
        self.present = present;
        self
    }

    pub(crate) fn owned(mut self, owned: bool) -> Resource {
        self.owned = owned;
        self
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Resource {
        self.detail = detail.into();
        self
    }

    pub(crate) fn differences(mut self, differences: Vec<String>) -> Resource {
        self.differences = differences;
        self
    }
}

/// How a resource is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Missing,
    /// Another account's, or not made by cdnctl for this stack.
    Foreign,
    /// The bucket's policy keeps CloudFront from reading it.
    Unreadable,
    Deploying,
    Disabled,
    /// A certificate waiting for its DNS validation.
    Pending,
    Failed,
    Expiring,
    Expired,
    /// A record pointing elsewhere than the stack's distribution.
    WrongTarget,
    /// The stack's, and no longer needed: `up` deletes it.
    Leftover,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Missing => "missing",
            Health::Foreign => "foreign",
            Health::Unreadable => "unreadable",
            Health::Deploying => "deploying",
            Health::Disabled => "disabled",
            Health::Pending => "pending",
            Health::Failed => "failed",
            Health::Expiring => "expiring",
            Health::Expired => "expired",
            Health::WrongTarget => "wrong_target",
            Health::Leftover => "leftover",
        }
    }

    /// AWS is still at work: it ends by itself.
    pub fn is_waiting(self) -> bool {
        matches!(self, Health::Deploying | Health::Pending)
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command's typed result, which the printer renders (the printer's `report`).
pub trait Report: Serialize {
    /// The result for people.
    fn text(&self) -> Text;

    /// The GitHub step summary (Markdown), if this result has one.
    fn step_summary(&self) -> Option<String> {
        None
    }
}

/// A result as text: lines on stdout, then remarks on stderr.
#[derive(Debug, Default)]
pub struct Text {
    pub result: Vec<String>,
    pub info: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON report and the text both spell a health as `as_str` does.
    #[test]
    fn json_spells_each_health_as_the_text_does() {
        let all = [
            Health::Ok,
            Health::Missing,
            Health::Foreign,
            Health::Unreadable,
            Health::Deploying,
            Health::Disabled,
            Health::Pending,
            Health::Failed,
            Health::Expiring,
            Health::Expired,
            Health::WrongTarget,
            Health::Leftover,
        ];
        for h in all {
            assert_eq!(serde_json::to_value(h).unwrap(), serde_json::json!(h.as_str()));
        }
    }
}
