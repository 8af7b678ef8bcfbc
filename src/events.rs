//! Events: how the inner layers (resources, apply, sync, check) tell the
//! command line what they are doing, without knowing how it is shown. The
//! printer (`output.rs`, at the top of the house) implements [`Events`]; the
//! inner layers take `&dyn Events` and never print.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a running step may report. Lines are for people; results travel as
/// typed values, never through here.
pub trait Events: Send + Sync {
    /// A line about what is happening.
    fn info(&self, line: &str);
    /// Something finished: "bucket example-static: create".
    fn done(&self, line: &str);
    /// Something the user should look at; the run goes on.
    fn warn(&self, line: &str);
    /// A long wait: shown until the handle is dropped.
    fn progress(&self, label: &str, what: &str) -> Box<dyn Status>;
    /// A transfer of `files` files, `bytes` bytes.
    fn transfer(&self, files: usize, bytes: u64) -> Box<dyn Transfer>;
}

/// The latest state of a long wait.
pub trait Status: Send + Sync {
    fn status(&self, status: &str);
}

/// A transfer's progress.
pub trait Transfer: Send + Sync {
    fn file_done(&self, bytes: u64, done: usize, files: usize);
    fn finish(&self);
}

/// A callback for a wait that may not happen: the first time AWS refuses
/// (`code`), it shows `what` as progress for `label`; later refusals update
/// it. The progress ends when the last clone of the callback is dropped.
pub fn on_refusal<'a>(events: &'a dyn Events, label: &str, what: &'a str) -> impl FnMut(&str, Duration) + Clone + 'a {
    let label = label.to_string();
    let shown: Arc<Mutex<Option<Box<dyn Status>>>> = Default::default();
    move |code: &str, waited: Duration| {
        let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
        let progress = shown.get_or_insert_with(|| events.progress(&label, what));
        progress.status(&format!("{code}, retrying ({}s)", waited.as_secs()));
    }
}
