//! Which paths `sync` leaves alone, on both sides: never uploaded from DIR,
//! never deleted from the bucket. Pure.
//!
//! - `.cdnctl` (anywhere): cdnctl's own notes. A root sync that uploaded
//!   `blog/.cdnctl/state.json` would overwrite that prefix's lease and deploy
//!   history, so no option publishes it.
//! - hidden names (starting with `.`), files and directories, unless
//!   `--include-hidden`: `.env`, `.git/`, `.DS_Store` end up in build
//!   directories and would be readable by anyone through CloudFront. Django's
//!   `collectstatic` ignores `.*` by default for the same reason. Two are
//!   published anyway: `.well-known/` (`security.txt`,
//!   `apple-app-site-association`, ACME) is meant to be public, and Vite's
//!   `.vite/` holds only its build manifest, which names the hashed files
//!   (read by the scan, uploaded last, and read back by the next deploy to
//!   know which files it replaced).
//!
//! A hidden object already in the bucket is not sync's either: `--delete`
//! leaves it, as it leaves everything outside the prefix.

/// Published although hidden.
const PUBLIC: &[&str] = &[".well-known", ".vite"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// cdnctl's own notes: never published.
    Own,
    /// A hidden name: published only with `--include-hidden`.
    Hidden,
}

/// Whether an entry of this name (file or directory) is skipped, and why.
pub fn skip_name(name: &str, include_hidden: bool) -> Option<Skip> {
    if name == ".cdnctl" {
        Some(Skip::Own)
    } else if name.starts_with('.') && !include_hidden && !PUBLIC.contains(&name) {
        Some(Skip::Hidden)
    } else {
        None
    }
}

/// Why a `/`-separated path relative to DIR (or to the prefix) is skipped:
/// its first component that is.
pub fn skip_path(rel: &str, include_hidden: bool) -> Option<Skip> {
    rel.split('/').find_map(|name| skip_name(name, include_hidden))
}

/// Whether `key`, an object under `prefix`, is sync's to upload or delete:
/// not a hidden path (cdnctl's own notes are handled as reserved keys).
pub fn in_scope(key: &str, prefix: &str, include_hidden: bool) -> bool {
    let rel = key.strip_prefix(prefix).unwrap_or(key);
    skip_path(rel, include_hidden) != Some(Skip::Hidden)
}

/// One warning line for the skipped hidden entries: how many, the first few.
pub fn warning(skipped: &[String]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let shown = skipped.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    let more = skipped.len().saturating_sub(5);
    Some(format!(
        "skipped {} hidden file{} or director{}: {shown}{}; they are not published (--include-hidden publishes them; \
         .well-known/ always is)",
        skipped.len(),
        if skipped.len() == 1 { "" } else { "s" },
        if skipped.len() == 1 { "y" } else { "ies" },
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_names_are_skipped_but_well_known_and_vite() {
        for (path, default, included) in [
            (".env", Some(Skip::Hidden), None),
            (".git/config", Some(Skip::Hidden), None),
            ("img/.DS_Store", Some(Skip::Hidden), None),
            ("blog/.cdnctl/state.json", Some(Skip::Own), Some(Skip::Own)),
            (".cdnctl/state.json", Some(Skip::Own), Some(Skip::Own)),
            (".git/.cdnctl/x", Some(Skip::Hidden), Some(Skip::Own)),
            (".well-known/security.txt", None, None),
            ("docs/.well-known/apple-app-site-association", None, None),
            (".well-known/.secret", Some(Skip::Hidden), None),
            ("dist/.vite/manifest.json", None, None),
            ("css/site.css", None, None),
            ("a.b/c..d", None, None),
        ] {
            assert_eq!(skip_path(path, false), default, "{path}");
            assert_eq!(skip_path(path, true), included, "{path} with --include-hidden");
        }
        assert!(!in_scope("static/.env", "static/", false));
        assert!(in_scope("static/.env", "static/", true));
        // Reserved keys stay in the listing: the diff knows them as cdnctl's.
        assert!(in_scope("static/.cdnctl/state.json", "static/", false));
        assert!(in_scope("static/.well-known/security.txt", "static/", false));
    }

    #[test]
    fn one_warning_with_the_count_and_the_first_few() {
        assert_eq!(warning(&[]), None);
        let one = warning(&[".env".into()]).unwrap();
        assert!(one.starts_with("skipped 1 hidden file or directory: .env;"), "{one}");
        let many: Vec<String> = (0..7).map(|i| format!(".h{i}")).collect();
        let text = warning(&many).unwrap();
        assert!(
            text.contains("skipped 7 hidden files or directories: .h0, .h1, .h2, .h3, .h4 and 2 more"),
            "{text}"
        );
        assert!(text.contains("--include-hidden"), "{text}");
    }
}
