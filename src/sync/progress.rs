//! The transfer's progress bar (files, bytes, rate): on a terminal only, and
//! never with --quiet or --json.

use indicatif::{ProgressBar, ProgressStyle};

use crate::output::Printer;

pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new(printer: &Printer, files: usize, bytes: u64) -> Progress {
        if printer.quiet || printer.json || !printer.is_terminal() || files == 0 {
            return Progress(None);
        }
        let bar = ProgressBar::new(bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg} {bytes}/{total_bytes} {binary_bytes_per_sec} [{elapsed}] (safe to interrupt: the next run continues)",
            )
            .expect("valid template"),
        );
        bar.set_message(format!("0/{files} files"));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress(Some(bar))
    }

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
