//! The printer: the one place that decides what goes to stdout (results, with
//! `--json` or `--format`), to stderr (progress and messages for people) and
//! whether a spinner is shown (only on a terminal, never with `--quiet`).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::plan::Plan;

#[derive(Debug, Clone)]
pub struct Printer {
    pub quiet: bool,
    pub json: bool,
    terminal: bool,
    color: bool,
}

impl Printer {
    pub fn new(quiet: bool, json: bool) -> Printer {
        let terminal = std::io::stderr().is_terminal();
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Printer {
            quiet,
            json,
            terminal,
            color,
        }
    }

    /// A line for people on stderr.
    pub fn info(&self, line: &str) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    pub fn done(&self, line: &str) {
        let mark = if self.color { "\x1b[32m✓\x1b[0m" } else { "✓" };
        self.info(&format!("{mark} {line}"));
    }

    pub fn warn(&self, line: &str) {
        eprintln!("cdnctl: warning: {line}");
    }

    /// Progress of a long wait: a spinner with the latest status on a
    /// terminal, one line elsewhere.
    pub fn progress(&self, label: &str, what: &str) -> Progress {
        let bar = if self.quiet || !self.terminal {
            self.info(&format!("{label}: {what}"));
            None
        } else {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            bar.set_message(format!("{label}: {what}"));
            bar.enable_steady_tick(Duration::from_millis(120));
            Some(bar)
        };
        Progress {
            bar,
            label: label.to_string(),
            started: Instant::now(),
        }
    }

    /// The result, on stdout.
    pub fn result(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    pub fn json(&self, value: &serde_json::Value) {
        self.result(&serde_json::to_string_pretty(value).expect("serializable"));
    }

    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// The plan, for people, on stderr.
    pub fn plan(&self, plan: &Plan, heading: &str) {
        if plan.changes.is_empty() {
            self.info(&format!("{heading}: nothing to do"));
        } else {
            self.info(&format!("{heading}:"));
            for c in &plan.changes {
                self.info(&format!("  {}: {}", c.resource, c.action));
                for d in &c.details {
                    self.info(&format!("      {d}"));
                }
            }
        }
        for n in &plan.notes {
            self.info(&format!("  note: {n}"));
        }
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    started: Instant,
}

impl Progress {
    pub fn status(&self, status: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}: {status} ({}s; safe to interrupt, the next run picks up here)",
                self.label,
                self.started.elapsed().as_secs()
            ));
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The plan as JSON, for `--dry-run --json`.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "changes": plan.changes.iter().map(|c| serde_json::json!({
            "resource": c.resource,
            "action": c.action,
            "details": c.details,
        })).collect::<Vec<_>>(),
        "notes": plan.notes,
    })
}
