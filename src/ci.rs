//! CI output for GitHub Actions. A command that finishes appends a short
//! Markdown summary (built here; the printer appends it) to the file named by
//! GITHUB_STEP_SUMMARY (nothing when it is unset), and `status --format github` turns drift and problems into
//! workflow commands (`::error::`, `::warning::`) that GitHub shows as
//! annotations. Nothing here decides an exit code.

use crate::plan::Plan;
use crate::report::{Health, Resource};

/// A step summary: a heading, a table, links and notes.
#[derive(Debug, Default)]
pub struct StepSummary {
    heading: String,
    columns: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    links: Vec<(String, String)>,
    notes: Vec<String>,
}

impl StepSummary {
    /// `heading` is Markdown already: one line, e.g. "cdnctl status `b`: drift (exit code 3)".
    pub fn new(heading: impl Into<String>, columns: &[&'static str]) -> StepSummary {
        StepSummary {
            heading: heading.into(),
            columns: columns.to_vec(),
            ..StepSummary::default()
        }
    }

    /// One row; each cell is plain text (escaped here), lines joined by `<br>`.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn link(&mut self, label: &str, url: &str) {
        self.links.push((label.to_string(), url.to_string()));
    }

    pub fn note(&mut self, line: &str) {
        self.notes.push(crate::hint::complete(line));
    }

    pub fn notes(mut self, lines: &[String]) -> StepSummary {
        self.notes.extend(lines.iter().map(|l| crate::hint::complete(l)));
        self
    }

    pub fn markdown(&self) -> String {
        let mut md = format!("### {}\n\n", self.heading);
        if !self.rows.is_empty() {
            md.push_str(&format!("| {} |\n", self.columns.join(" | ")));
            md.push_str(&format!("|{}\n", "---|".repeat(self.columns.len())));
            for row in &self.rows {
                let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                md.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            md.push('\n');
        }
        for (label, url) in &self.links {
            md.push_str(&format!("- {label}: <{url}>\n"));
        }
        for note in &self.notes {
            md.push_str(&format!("- {}\n", inline(note)));
        }
        if !self.links.is_empty() || !self.notes.is_empty() {
            md.push('\n');
        }
        md
    }
}

/// Text made safe for one table cell: no pipes or line breaks to break the row.
fn cell(text: &str) -> String {
    if text.is_empty() {
        return "—".to_string();
    }
    text.lines().map(inline).collect::<Vec<_>>().join("<br>")
}

/// Text that Markdown shows as written (no accidental emphasis, links or HTML).
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Inline code, for names: backticks inside are doubled around.
pub fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

/// A workflow command: `::warning title=…::message`, escaped as GitHub's
/// runner expects (properties also escape `:` and `,`).
pub fn annotation(level: Level, title: &str, message: &str) -> String {
    let level = match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
    };
    format!("::{level} title={}::{}", escape_property(title), escape_data(message))
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `status`'s summary: one row per resource with its health and drift, the
/// problems that would stop `up`, and the URLs.
pub fn status_summary(
    stack: &str,
    state: &str,
    exit_code: u8,
    resources: &[Resource],
    problems: &[String],
    urls: &[(&str, String)],
) -> StepSummary {
    let mut s = StepSummary::new(
        format!("cdnctl status {}: {state} (exit code {exit_code})", code(stack)),
        &["resource", "health", "drift"],
    );
    for r in resources {
        // Never a check mark beside drift: ok on its own, but not as set.
        let mark = match mark(r.health) {
            "✅" if !r.differences.is_empty() => "⚠️",
            m => m,
        };
        let health = match r.detail.as_str() {
            "" => format!("{mark} {}", r.health),
            detail => format!("{mark} {} ({detail})", r.health),
        };
        s.row(vec![
            format!("{} {}", r.r#type.replace('_', " "), r.name),
            health,
            r.differences.join("\n"),
        ]);
    }
    for p in problems {
        s.note(&format!("problem: {p}"));
    }
    for (label, url) in urls {
        s.link(label, url);
    }
    s
}

/// `up`'s and `down`'s summary: one row per change, and the plan's notes.
pub fn changes_summary(heading: String, plan: &Plan) -> StepSummary {
    let mut s = StepSummary::new(heading, &["resource", "change"]);
    for c in plan.writes() {
        let change = std::iter::once(c.action.as_str())
            .chain(c.details.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        s.row(vec![c.resource.clone(), change]);
    }
    for n in &plan.notes {
        s.note(n);
    }
    s
}

fn mark(health: Health) -> &'static str {
    match health {
        Health::Ok => "✅",
        Health::Deploying | Health::Pending => "⏳",
        Health::Expiring | Health::Disabled => "⚠️",
        Health::Missing
        | Health::Foreign
        | Health::Unreadable
        | Health::Failed
        | Health::Expired
        | Health::WrongTarget
        | Health::Leftover => "❌",
    }
}

/// `status --format github`: what `up` would refuse (problems) and what is
/// broken are errors; what `up` would create or change is a warning; waiting
/// for CloudFront or ACM is a notice.
pub fn status_annotations(resources: &[Resource], problems: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for r in resources {
        let title = format!("cdnctl: {} {}", r.r#type.replace('_', " "), r.name);
        let level = match r.health {
            Health::Ok => None,
            Health::Missing => Some((Level::Warning, "missing: `cdnctl up` creates it".to_string())),
            Health::Deploying | Health::Pending => Some((Level::Notice, r.health.to_string())),
            Health::Expiring | Health::Disabled => Some((Level::Warning, r.health.to_string())),
            Health::Foreign
            | Health::Unreadable
            | Health::Failed
            | Health::Expired
            | Health::WrongTarget
            | Health::Leftover => Some((Level::Error, r.health.to_string())),
        };
        if let Some((level, what)) = level {
            let message = if r.detail.is_empty() {
                what
            } else {
                format!("{what} ({})", r.detail)
            };
            out.push(annotation(level, &title, &message));
        }
        for d in &r.differences {
            out.push(annotation(Level::Warning, &title, &format!("drift: {d}")));
        }
    }
    for p in problems {
        out.push(annotation(Level::Error, "cdnctl: up would refuse", p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_a_heading_a_table_and_links() {
        let mut s = StepSummary::new(
            "cdnctl status `b`: drift (exit code 3)",
            &["resource", "health", "drift"],
        );
        s.row(vec![
            "bucket `b`".into(),
            "ok".into(),
            "tag a|b: missing\nIPv6: false → true".into(),
        ]);
        s.row(vec!["distribution".into(), "missing".into(), String::new()]);
        s.link("CDN", "https://d1.cloudfront.net/");
        assert_eq!(
            s.markdown(),
            "### cdnctl status `b`: drift (exit code 3)\n\n\
             | resource | health | drift |\n|---|---|---|\n\
             | bucket \\`b\\` | ok | tag a\\|b: missing<br>IPv6: false → true |\n\
             | distribution | missing | — |\n\n\
             - CDN: <https://d1.cloudfront.net/>\n\n"
        );
    }

    #[test]
    fn annotations_escape_what_the_runner_would_read_as_syntax() {
        assert_eq!(
            annotation(Level::Error, "cdnctl: bucket b", "100% wrong\nsecond line"),
            "::error title=cdnctl%3A bucket b::100%25 wrong%0Asecond line"
        );
        assert_eq!(annotation(Level::Warning, "a,b", "x: y"), "::warning title=a%2Cb::x: y");
    }
}
