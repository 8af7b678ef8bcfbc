//! The walk of DIR: every regular file under it, in name order, with its
//! relative path (the key's tail) and size. What is and is not walked is the
//! scan's module doc; hidden names and `.cdnctl/` are decided by `hidden.rs`.

use std::path::{Path, PathBuf};

use super::Notes;
use crate::sync::hidden::{self, Skip};

/// A regular file found under DIR: its relative path, where it is, its size.
pub(super) type Found = (String, PathBuf, u64);

/// Every regular file under `dir`, in name order, and one warning each for the
/// hidden files and for the links skipped because they lead out of it.
pub(super) fn walk(
    dir: &Path,
    follow_links: bool,
    include_hidden: bool,
    notes: &mut Notes,
) -> anyhow::Result<Vec<Found>> {
    let mut found = Vec::new();
    let root = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("{}: cannot read the directory: {e}", dir.display()))?;
    let mut walk = Walk {
        root: (!follow_links).then(|| root.clone()),
        ancestors: vec![root],
        found: &mut found,
        problems: &mut notes.problems,
        warnings: &mut notes.warnings,
        links_out: Vec::new(),
        include_hidden,
        hidden: Vec::new(),
    };
    walk.dir(dir, "");
    let links_out = std::mem::take(&mut walk.links_out);
    let hidden = std::mem::take(&mut walk.hidden);
    notes.warnings.extend(hidden::warning(&hidden));
    if !links_out.is_empty() {
        let shown = links_out.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = links_out.len().saturating_sub(5);
        notes.warnings.push(format!(
            "skipped {} symbolic link{} leading out of {}: {shown}{}; only what lies inside it is published \
             (--follow-links publishes what they point to)",
            links_out.len(),
            if links_out.len() == 1 { "" } else { "s" },
            dir.display(),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
        ));
    }
    Ok(found)
}

struct Walk<'a> {
    /// DIR, resolved; `None` when every link is followed.
    root: Option<PathBuf>,
    /// The resolved directories being walked (a link back to one is a loop).
    ancestors: Vec<PathBuf>,
    found: &'a mut Vec<Found>,
    problems: &'a mut Vec<String>,
    warnings: &'a mut Vec<String>,
    /// Links skipped because they lead out of DIR.
    links_out: Vec<String>,
    include_hidden: bool,
    /// Hidden files and directories skipped (directories end in `/`).
    hidden: Vec<String>,
}

impl Walk<'_> {
    fn dir(&mut self, dir: &Path, rel: &str) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                self.problems
                    .push(format!("{}: cannot read the directory: {e}", dir.display()));
                return;
            }
        };
        let mut entries: Vec<_> = entries
            .filter_map(|e| {
                e.map_err(|e| self.problems.push(format!("{}: {e}", dir.display())))
                    .ok()
            })
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            self.entry(&entry.path(), entry.file_name(), rel);
        }
    }

    fn entry(&mut self, path: &Path, name: std::ffi::OsString, rel: &str) {
        // Before anything else: a hidden directory (`.git/`) is not even read.
        let shown = || {
            format!(
                "{rel}{}{}",
                if rel.is_empty() { "" } else { "/" },
                name.to_string_lossy()
            )
        };
        match hidden::skip_name(&name.to_string_lossy(), self.include_hidden) {
            Some(Skip::Own) => {
                self.warnings.push(format!(
                    "{}: skipped: cdnctl keeps its own notes in .cdnctl/, never published",
                    path.display()
                ));
                return;
            }
            Some(Skip::Hidden) => {
                let slash = if path.is_dir() { "/" } else { "" };
                self.hidden.push(format!("{}{slash}", shown()));
                return;
            }
            None => {}
        }
        let Some(name) = name.to_str().map(String::from) else {
            self.problems.push(format!(
                "{}: the name is not valid UTF-8, and S3 keys are: rename it",
                path.display()
            ));
            return;
        };
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let is_link = path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
        // Follow links; a dangling one is an error, not a silent skip.
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if is_link => {
                self.problems.push(format!(
                    "{}: a symbolic link to nothing ({e}): fix or remove it",
                    path.display()
                ));
                return;
            }
            Err(e) => {
                self.problems.push(format!("{}: {e}", path.display()));
                return;
            }
        };
        if is_link {
            if let Some(root) = &self.root {
                // Where the link really leads, every link on the way resolved.
                match path.canonicalize() {
                    Ok(real) if real.starts_with(root) => {}
                    Ok(_) => {
                        self.links_out.push(child);
                        return;
                    }
                    Err(e) => {
                        self.problems
                            .push(format!("{}: cannot resolve the link: {e}", path.display()));
                        return;
                    }
                }
            }
        }
        if meta.is_dir() {
            let Ok(real) = path.canonicalize() else {
                self.problems
                    .push(format!("{}: cannot resolve the directory", path.display()));
                return;
            };
            if self.ancestors.contains(&real) {
                self.warnings.push(format!(
                    "{}: skipped: a link back to a directory being synced",
                    path.display()
                ));
                return;
            }
            self.ancestors.push(real);
            self.dir(path, &child);
            self.ancestors.pop();
        } else if meta.is_file() {
            self.found.push((child, path.to_path_buf(), meta.len()));
        } else {
            self.warnings
                .push(format!("{}: skipped: not a regular file", path.display()));
        }
    }
}
