//! What visitors of the published pages would get wrong that the files
//! alone do not show, read from the pages' own links (pure; the scan calls
//! [`links`] with what it found):
//!
//! - a key with `+` that a page links as written: CloudFront passes the `+`
//!   to S3, which reads it as a space, so the link gets 403;
//! - `dir/index.html` linked as `dir/`: DefaultRootObject applies at the
//!   root only, so `/dir/` is a request for the key `dir/` (403).

use std::collections::BTreeSet;
use std::path::Path;

/// A published file: its key, where it is read from, its size.
pub type Published<'a> = (&'a str, &'a Path, u64);

/// Pages larger than this are not read for links.
const PAGE_MAX: u64 = 2 << 20;
/// Examples named per warning.
const EXAMPLES: usize = 3;

/// One warning line per kind of link that visitors would find broken.
pub fn links(files: &[Published]) -> Vec<String> {
    let keys: BTreeSet<&str> = files.iter().map(|f| f.0).collect();
    let mut plus: Vec<(String, String)> = Vec::new();
    let mut dirs: Vec<(String, String)> = Vec::new();
    for (page, path, _) in files.iter().filter(|f| is_page(f.0) && f.2 <= PAGE_MAX) {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for link in page_links(&text) {
            let Some(key) = resolve(page, &link) else {
                continue;
            };
            if link.contains('+') && key.contains('+') && keys.contains(key.as_str()) {
                plus.push((page.to_string(), link.clone()));
            } else if key.ends_with('/') && keys.contains(format!("{key}index.html").as_str()) {
                dirs.push((page.to_string(), link.clone()));
            }
        }
    }
    let mut out = Vec::new();
    if !plus.is_empty() {
        out.push(format!(
            "{} link{} with `+` to a file with `+` in its name ({}): CloudFront passes `+` to S3 as a space, so visitors get 403; link them with %2B, or rename the files",
            plus.len(),
            if plus.len() == 1 { "" } else { "s" },
            examples(&plus)
        ));
    }
    if !dirs.is_empty() {
        out.push(format!(
            "{} link{} to a directory whose index.html is published ({}): DefaultRootObject applies at the root only, so visitors get 403; link dir/index.html, or publish as a release (the function's directory index serves dir/), which in-place publishing cannot",
            dirs.len(),
            if dirs.len() == 1 { "" } else { "s" },
            examples(&dirs)
        ));
    }
    out
}

fn examples(found: &[(String, String)]) -> String {
    let mut shown: Vec<String> = found
        .iter()
        .take(EXAMPLES)
        .map(|(page, link)| format!("{page} links {link}"))
        .collect();
    if found.len() > EXAMPLES {
        shown.push(format!("{} more", found.len() - EXAMPLES));
    }
    shown.join(", ")
}

fn is_page(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

/// The values of `href` and `src` attributes, quoted or not.
pub fn page_links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    for attr in ["href=", "src="] {
        let mut from = 0;
        while let Some(at) = lower[from..].find(attr) {
            let start = from + at + attr.len();
            from = start;
            let before = lower[..start - attr.len()].chars().last();
            if !before.is_some_and(|c| c.is_whitespace()) {
                continue; // data-href=, xlink:href= and the like
            }
            let rest = &html[start..];
            let value = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
                _ => rest.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or(""),
            };
            out.push(value.to_string());
        }
    }
    out
}

/// The key a link on the page `page` (a key) leads to, or None for links
/// elsewhere (another host, a scheme, a fragment only).
pub fn resolve(page: &str, link: &str) -> Option<String> {
    let link = link.split(['#', '?']).next().unwrap_or("");
    if link.is_empty() || link.starts_with("//") || link.split('/').next().is_some_and(|s| s.contains(':')) {
        return None;
    }
    let joined = match link.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => {
            let dir = page.rfind('/').map(|i| &page[..=i]).unwrap_or("");
            format!("{dir}{link}")
        }
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    Some(percent_decode(&parts.join("/")))
}

/// %XX decoded; a literal `+` stays a `+` (how the link is written).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &Path, key: &'static str, body: &str) -> (&'static str, std::path::PathBuf, u64) {
        let path = dir.join(key.replace('/', "_"));
        std::fs::write(&path, body).unwrap();
        (key, path, body.len() as u64)
    }

    #[test]
    fn links_written_with_plus_and_to_directories_are_warned_about() {
        let dir = std::env::temp_dir().join(format!("cdnctl-warnings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = dir.as_path();
        let files = [
            file(
                dir,
                "index.html",
                r#"<a href="docs/">Docs</a> <link href="css/a+b.css"> <link href="css/c%2Bd.css"> <a href="/blog/">x</a> <a href="https://x.example/docs/">e</a>"#,
            ),
            file(
                dir,
                "docs/index.html",
                "<a href='../docs/'>self</a> <a href=./>here</a>",
            ),
            file(dir, "css/a+b.css", ""),
            file(dir, "css/c+d.css", ""),
        ];
        let published: Vec<Published> = files.iter().map(|(k, p, n)| (*k, p.as_path(), *n)).collect();
        let found = links(&published);
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("1 link with `+`"), "{found:?}");
        assert!(found[0].contains("index.html links css/a+b.css"), "{found:?}");
        assert!(found[1].starts_with("3 links to a directory"), "{found:?}");
        assert!(found[1].contains("index.html links docs/"), "{found:?}");
        assert!(!found[1].contains("blog"), "{found:?}");
    }

    #[test]
    fn links_resolve_like_a_browser() {
        assert_eq!(resolve("a/b/page.html", "../c.css").as_deref(), Some("a/c.css"));
        assert_eq!(resolve("a/page.html", "/x/y.js?v=1#z").as_deref(), Some("x/y.js"));
        assert_eq!(resolve("page.html", "mailto:me@example.com"), None);
        assert_eq!(resolve("page.html", "#top"), None);
        assert_eq!(resolve("page.html", "a%20b.css").as_deref(), Some("a b.css"));
    }
}
