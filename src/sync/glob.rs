//! The small glob language of the cache rules (`Setting::CacheRules`): `*` matches within one path
//! segment, `**` across segments, `?` one character. A pattern without `/`
//! matches a file's name in any directory; one with `/` matches the whole path
//! relative to the synced directory. (Enough for cache rules; no dependency.)

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    /// No `/` in the pattern: match the file name only.
    name_only: bool,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let pattern = pattern.trim().trim_start_matches('/');
        if pattern.is_empty() {
            return Err("an empty pattern".into());
        }
        if pattern.contains("***") {
            return Err(format!("{pattern:?} has *** (use * or **)"));
        }
        Ok(Glob {
            name_only: !pattern.contains('/'),
            pattern: pattern.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// `path` is relative to the synced directory, `/`-separated.
    pub fn matches(&self, path: &str) -> bool {
        let subject = if self.name_only {
            path.rsplit('/').next().unwrap_or(path)
        } else {
            path
        };
        matches(self.pattern.as_bytes(), subject.as_bytes())
    }
}

fn matches(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => {
            // `**/` may also match nothing at all (`a/**/b` matches `a/b`).
            let rest_after_slash = rest.strip_prefix(b"/").unwrap_or(rest);
            if matches(rest_after_slash, s) {
                return true;
            }
            (0..s.len()).any(|i| matches(rest, &s[i + 1..])) || matches(rest, s)
        }
        [b'*', rest @ ..] => {
            for i in 0..=s.len() {
                if matches(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == b'/' {
                    break;
                }
            }
            false
        }
        [b'?', rest @ ..] => match s.first() {
            Some(&c) if c != b'/' => {
                // One character, which may be several UTF-8 bytes.
                let width = 1 + s[1..].iter().take_while(|b| (**b & 0xC0) == 0x80).count();
                matches(rest, &s[width..])
            }
            _ => false,
        },
        [c, rest @ ..] => s.first() == Some(c) && matches(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p).unwrap().matches(s)
    }

    #[test]
    fn names_and_paths() {
        assert!(m("*.html", "index.html"));
        assert!(m("*.html", "docs/a/index.html"));
        assert!(!m("*.html", "index.htm"));
        assert!(m("fonts/*", "fonts/a.woff2"));
        assert!(!m("fonts/*", "fonts/x/a.woff2"));
        assert!(m("fonts/**", "fonts/x/a.woff2"));
        assert!(m("**/*.map", "a/b/c.js.map"));
        assert!(m("**/*.map", "c.js.map"));
        assert!(m("a/**/b.txt", "a/b.txt"));
        assert!(m("/robots.txt", "robots.txt"));
        assert!(m("?.txt", "é.txt"));
        assert!(!m("img/*.png", "img/a/b.png"));
    }
}
