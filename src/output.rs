//! The printer: the one place that decides what goes to stdout (results, with
//! `--json` or `--format`), to stderr (progress and messages for people), to
//! the GitHub step summary, and whether a spinner or a progress bar is shown
//! (only on a terminal, never with `--quiet`; a bar never with `--json`).

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use crate::report::{Report, Text};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone)]
pub struct Printer {
    pub quiet: bool,
    pub json: bool,
    terminal: bool,
    color: bool,
    /// Set by a command that runs others (`deploy`): their JSON results and
    /// step summaries are kept here for it to report as one.
    captured: Option<Arc<Mutex<Captured>>>,
}

/// What a captured command would have printed as its result and summary.
#[derive(Debug, Default)]
pub struct Captured {
    pub json: Vec<serde_json::Value>,
    pub summaries: Vec<String>,
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
            captured: None,
        }
    }

    /// The same printer, keeping JSON results and step summaries instead of
    /// printing or writing them.
    pub fn capturing(&self) -> (Printer, Arc<Mutex<Captured>>) {
        let captured = Arc::new(Mutex::new(Captured::default()));
        let printer = Printer {
            captured: Some(captured.clone()),
            ..self.clone()
        };
        (printer, captured)
    }

    fn capture(&self, keep: impl FnOnce(&mut Captured)) -> bool {
        match &self.captured {
            Some(c) => {
                keep(&mut c.lock().unwrap_or_else(|e| e.into_inner()));
                true
            }
            None => false,
        }
    }

    /// A line for people on stderr; a command it suggests repeats this
    /// run's flags that matter.
    pub fn info(&self, line: &str) {
        if !self.quiet {
            eprintln!("{}", crate::hint::complete(line));
        }
    }

    pub fn done(&self, line: &str) {
        let mark = if self.color { "\x1b[32m✓\x1b[0m" } else { "✓" };
        self.info(&format!("{mark} {line}"));
    }

    /// A failed check, shown even with --quiet.
    pub fn failed(&self, line: &str) {
        let mark = if self.color { "\x1b[31m✗\x1b[0m" } else { "✗" };
        eprintln!("{mark} {line}");
    }

    pub fn warn(&self, line: &str) {
        eprintln!("cdnctl: warning: {}", crate::hint::complete(line));
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
        if self.capture(|c| c.json.push(value.clone())) {
            return;
        }
        self.result(&serde_json::to_string_pretty(value).expect("serializable"));
    }

    /// A command's typed result: its step summary (when it has one), then
    /// the result as JSON with `--json`, else as text.
    pub fn report(&self, report: &impl Report) {
        if let Some(markdown) = report.step_summary() {
            self.step_summary(&markdown);
        }
        if self.json {
            self.json(&serde_json::to_value(report).expect("serializable"));
            return;
        }
        let text = report.text();
        for line in &text.result {
            self.result(line);
        }
        for line in &text.info {
            self.info(line);
        }
    }

    /// Append to $GITHUB_STEP_SUMMARY when it is set (to the capture when a
    /// command runs inside another, e.g. `deploy`). A summary that cannot be
    /// written is a warning: the command's own outcome matters more.
    pub fn step_summary(&self, markdown: &str) {
        if self.capture(|c| c.summaries.push(markdown.to_string())) {
            return;
        }
        let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
        else {
            return;
        };
        let result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(markdown.as_bytes()));
        if let Err(e) = result {
            self.warn(&format!(
                "GITHUB_STEP_SUMMARY: cannot append to {}: {e}",
                path.display()
            ));
        }
    }

    /// A transfer's progress bar (files, bytes, rate): on a terminal only,
    /// never with --quiet or --json, and not for nothing.
    pub fn transfer(&self, files: usize, bytes: u64) -> TransferBar {
        if self.quiet || self.json || !self.terminal || files == 0 {
            return TransferBar(None);
        }
        let bar = ProgressBar::new(bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} {bytes}/{total_bytes} {binary_bytes_per_sec} [{elapsed}] (safe to interrupt: the next run continues)",
            )
            .expect("valid template"),
        );
        bar.set_message(format!("0/{files} files"));
        bar.enable_steady_tick(Duration::from_millis(120));
        TransferBar(Some(bar))
    }

    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Lines for people on stderr, in order.
    pub fn lines(&self, lines: &[String]) {
        for line in lines {
            self.info(line);
        }
    }
}

/// A transfer's bar, hidden when the printer says so.
pub struct TransferBar(Option<ProgressBar>);

impl TransferBar {
    pub fn file_done(&self, bytes: u64, done: usize, files: usize) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
            bar.set_message(format!("{done}/{files} files"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
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
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl crate::events::Status for Progress {
    fn status(&self, status: &str) {
        Progress::status(self, status)
    }
}

impl crate::events::Transfer for TransferBar {
    fn file_done(&self, bytes: u64, done: usize, files: usize) {
        TransferBar::file_done(self, bytes, done, files)
    }
    fn finish(&self) {
        TransferBar::finish(self)
    }
}

/// The printer is what the inner layers report to.
impl crate::events::Events for Printer {
    fn info(&self, line: &str) {
        Printer::info(self, line)
    }
    fn done(&self, line: &str) {
        Printer::done(self, line)
    }
    fn warn(&self, line: &str) {
        Printer::warn(self, line)
    }
    fn progress(&self, label: &str, what: &str) -> Box<dyn crate::events::Status> {
        Box::new(Printer::progress(self, label, what))
    }
    fn transfer(&self, files: usize, bytes: u64) -> Box<dyn crate::events::Transfer> {
        Box::new(Printer::transfer(self, files, bytes))
    }
}
