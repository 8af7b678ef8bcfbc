//! Which headers a file gets: its Content-Type from a built-in table of the
//! web's types (no OS mime database, so every machine uploads the same), and
//! its Cache-Control by rule. Pure.
//!
//! Cache-Control, first match wins:
//! 1. the user's rules (`Setting::CacheRules`), in their order;
//! 2. content-hashed files: [`IMMUTABLE`]. A manifest decides for the files
//!    under its directory: a file is content-hashed when it names it as a
//!    hashed file (Django's `staticfiles.json` "paths" values, Vite's
//!    `.vite/manifest.json` "file", "css" and "assets"), and not otherwise.
//!    Where no manifest speaks, only a bundler's unambiguous name in its known
//!    layout counts ([`looks_hashed`]);
//! 3. everything else: [`REVALIDATE`].

use super::glob::Glob;

/// For files whose name changes whenever their content does.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For everything else: browsers and CloudFront may reuse a copy for a
/// minute, then must ask again (a cheap 304 thanks to the ETag). `sync`
/// also invalidates what it changed, so CloudFront serves a new version at once.
pub const REVALIDATE: &str = "public, max-age=60, must-revalidate";

/// Bump when the table, the defaults or the hash patterns change: it is part
/// of the fingerprint, so the next sync re-checks every object's headers.
const VERSION: &str = "rules-v3";

/// The user's rules: glob → Cache-Control, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheRules(pub Vec<(Glob, String)>);

impl CacheRules {
    /// `GLOB=CACHE-CONTROL` rules separated by `;`.
    pub fn parse(text: &str) -> Result<CacheRules, String> {
        let mut rules = Vec::new();
        for rule in text.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let Some((glob, value)) = rule.split_once('=') else {
                return Err(format!("{rule:?} has no '='"));
            };
            let glob = Glob::new(glob).map_err(|e| format!("{rule:?}: {e}"))?;
            let value = value.trim();
            let directive_ok = |d: &str| {
                let d = d.trim();
                let (name, arg) = d.split_once('=').unwrap_or((d, ""));
                !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                    && arg.bytes().all(|b| b.is_ascii_graphic() && b != b',')
            };
            if value.is_empty() || !value.split(',').all(directive_ok) {
                return Err(format!(
                    "{rule:?}: {value:?} is not a Cache-Control value (comma-separated directives such as public, max-age=600)"
                ));
            }
            rules.push((glob, value.to_string()));
        }
        Ok(CacheRules(rules))
    }

    pub fn cache_control(&self, path: &str, hashed: bool) -> &str {
        if let Some((_, value)) = self.0.iter().find(|(g, _)| g.matches(path)) {
            return value;
        }
        if hashed {
            IMMUTABLE
        } else {
            REVALIDATE
        }
    }

    /// A short digest of everything that decides headers. Kept in the bucket's
    /// `cdnctl:headers` tag: when it is unchanged, a sync need not look at the
    /// headers of files it does not upload.
    pub fn fingerprint(&self) -> String {
        let mut text = format!("{VERSION}\n{IMMUTABLE}\n{REVALIDATE}\n");
        for (glob, value) in &self.0 {
            text.push_str(&format!("{}={value}\n", glob.as_str()));
        }
        let digest = <md5::Md5 as md5::Digest>::digest(text.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// Content types by extension (lower case). Text types carry charset=utf-8.
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("xhtml", "application/xhtml+xml; charset=utf-8"),
    ("xht", "application/xhtml+xml; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("map", "application/json; charset=utf-8"),
    ("webmanifest", "application/manifest+json; charset=utf-8"),
    ("jsonld", "application/ld+json; charset=utf-8"),
    ("geojson", "application/geo+json; charset=utf-8"),
    ("xml", "application/xml; charset=utf-8"),
    ("rss", "application/rss+xml; charset=utf-8"),
    ("atom", "application/atom+xml; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("ics", "text/calendar; charset=utf-8"),
    ("svg", "image/svg+xml; charset=utf-8"),
    ("png", "image/png"),
    ("apng", "image/apng"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("jxl", "image/jxl"),
    ("bmp", "image/bmp"),
    ("ico", "image/vnd.microsoft.icon"),
    ("cur", "image/x-icon"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    ("wasm", "application/wasm"),
    ("glb", "model/gltf-binary"),
    ("gltf", "model/gltf+json"),
    ("usdz", "model/vnd.usdz+zip"),
    ("m3u8", "application/vnd.apple.mpegurl"),
    ("mpd", "application/dash+xml"),
    ("pdf", "application/pdf"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("mp4", "video/mp4"),
    ("m4v", "video/mp4"),
    ("webm", "video/webm"),
    ("ogv", "video/ogg"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("aac", "audio/aac"),
];

/// For an extension the table does not know. It never replaces a type an
/// object already has (see [`keeps_type`]).
pub const DEFAULT_TYPE: &str = "application/octet-stream";

/// Whether an object's existing Content-Type stays: the file's extension is
/// one the table does not know, and the object has a specific type (set by
/// whoever uploaded it, say `model/vnd.usdz+zip`), not S3's or our fallback.
pub fn keeps_type(ours: &str, existing: Option<&str>) -> bool {
    ours == DEFAULT_TYPE
        && existing.is_some_and(|t| {
            let t = t.trim();
            !t.is_empty() && !t.eq_ignore_ascii_case(DEFAULT_TYPE) && !t.eq_ignore_ascii_case("binary/octet-stream")
        })
}

pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return DEFAULT_TYPE;
    };
    let ext = ext.to_ascii_lowercase();
    TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, t)| *t)
        .unwrap_or(DEFAULT_TYPE)
}

/// Whether an object's Content-Type must be corrected to `ours`.
pub fn type_differs(ours: &str, existing: Option<&str>) -> bool {
    existing != Some(ours) && !keeps_type(ours, existing)
}

/// Pages: what visitors open first, and what refers to everything else.
/// They go up last.
pub fn is_page(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.rsplit_once('.').is_some_and(|(_, ext)| {
        ["html", "htm", "xhtml", "xht"]
            .iter()
            .any(|p| ext.eq_ignore_ascii_case(p))
    })
}

/// Whether a path carries a bundler's content hash where no manifest speaks
/// for it. Only shapes chosen so that a name a person wrote does not pass (a
/// missed hash costs a shorter cache; a false one would make a changing file
/// immutable for a year):
/// - anywhere, a `.`-separated part (not the first) of 8 to 64 lowercase hex
///   digits with both a digit and a letter: webpack's and Parcel's
///   `name.HASH.js`, Create React App's `main.8f3a2b1c.chunk.js`, Django's
///   `name.0123456789ab.css`;
/// - and, in a bundler's own build directory, its hash there (`layout_hash`).
pub fn looks_hashed(path: &str) -> bool {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() >= 3 && parts[1..parts.len() - 1].iter().any(|p| is_hex_hash(p, 8..=64)) {
        return true;
    }
    let dirs: Vec<&str> = dir.split('/').filter(|d| !d.is_empty()).collect();
    layout_hash(&dirs, name)
}

/// Next.js's subdirectories of `_next/static/` that are not a build id.
const NEXT_DIRS: &[&str] = &["chunks", "css", "media", "webpack", "development"];

/// The bundlers' build layouts, each with the hash its own names carry
/// (`dirs` are the file's directories, outermost first; any may come first,
/// for a base path or a prefix):
/// - Vite, in a directory named `assets`: `name-HASH.ext` where HASH is
///   Rollup's 8 characters: base64url (`A-Z a-z 0-9 - _`) with upper and
///   lower case letters and a digit, `-` or `_` (Vite 5 and later,
///   `index-D-Xa1bQz.js`), or lowercase hex with a digit and a letter
///   (Vite 4, `vendor-4f2a9c1e.js`). `hero-banner01.jpg` (no upper case) and
///   `logo-darkMode.svg` (no digit) do not pass, wherever they are;
/// - Astro, in `_astro/`: `name.HASH.ext` with the same 8 characters
///   (`index.BQx8Kk2H.js`; an optimised image adds `_` and its options'
///   hash, `photo.Dq3Kq2Ue_1NTSLZ.webp`);
/// - SvelteKit, under `_app/immutable/`: `name.HASH.ext` or `name-HASH.ext`;
/// - Next.js, under `_next/static/`: in `chunks/`, `css/` and `media/`, a
///   `-` or `.` separated part of 16 lowercase hex digits
///   (`main-0123456789abcdef.js`, `css/0123456789abcdef.css`,
///   `media/a34f9d1faa5f3315-s.p.woff2`); anything under the build's own
///   directory (`_next/static/<buildId>/_buildManifest.js`), whose name
///   changes with every build (but `development/`, `next dev`'s).
fn layout_hash(dirs: &[&str], name: &str) -> bool {
    let rollup = || rollup_hash(name).is_some_and(|h| is_base64_hash(h) || is_hex_hash(h, 8..=8));
    if dirs.last() == Some(&"assets") && rollup() {
        return true;
    }
    if dirs.last() == Some(&"_astro") && dotted_hash(name) {
        return true;
    }
    if under(dirs, &["_app", "immutable"]).is_some() && (dotted_hash(name) || rollup()) {
        return true;
    }
    match under(dirs, &["_next", "static"]).and_then(|i| dirs.get(i)) {
        Some(&("chunks" | "css" | "media")) => name.split(['-', '.']).any(|p| is_hex_hash(p, 16..=16)),
        Some(build) => !NEXT_DIRS.contains(build),
        None => false,
    }
}

/// Where `seq` appears among `dirs`, consecutively: the index after it.
fn under(dirs: &[&str], seq: &[&str]) -> Option<usize> {
    dirs.windows(seq.len()).position(|w| w == seq).map(|i| i + seq.len())
}

/// A `.`-separated part (not the first nor the extension) that is Rollup's
/// 8-character base64url hash, alone or followed by `_` and another hash.
fn dotted_hash(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && parts[1..parts.len() - 1].iter().any(|p| {
            let base64url = |s: &str| s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-');
            match (p.get(..8), p.get(8..)) {
                (Some(hash), Some("")) => is_base64_hash(hash),
                (Some(hash), Some(rest)) => {
                    is_base64_hash(hash) && rest.len() > 1 && rest.starts_with('_') && base64url(rest)
                }
                _ => false,
            }
        })
}

/// The 8 characters before the extension of `name-HASH.ext` (also
/// `name-HASH.js.map`, `.gz`, `.br`).
fn rollup_hash(name: &str) -> Option<&str> {
    let mut stem = name;
    while let Some(s) = [".map", ".gz", ".br"].iter().find_map(|x| stem.strip_suffix(x)) {
        stem = s;
    }
    let (stem, _ext) = stem.rsplit_once('.')?;
    let b = stem.as_bytes();
    (b.len() > 9 && b[b.len() - 9] == b'-').then(|| &stem[stem.len() - 8..])
}

fn is_hex_hash(s: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

fn is_base64_hash(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        && b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(|c| c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

/// Where a manifest speaks for its files: the directory it covers, `""` for
/// the whole tree, `"dist"` for everything under `dist/`.
pub fn manifest_root(name: &str) -> &str {
    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    dir.strip_suffix(".vite").unwrap_or(dir).trim_end_matches('/')
}

/// The hashed files a manifest names, as paths relative to the synced
/// directory; `None` if `name` is not a manifest this knows.
pub fn manifest_files(name: &str, text: &str) -> Option<Vec<String>> {
    let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let file = name.rsplit('/').next().unwrap_or(name);
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let join = |p: &str| {
        let p = p.trim_start_matches('/');
        if dir.is_empty() {
            p.to_string()
        } else {
            format!("{dir}/{p}")
        }
    };
    match file {
        // Django's ManifestStaticFilesStorage: {"paths": {"css/a.css": "css/a.0123456789ab.css"}}
        "staticfiles.json" => Some(
            json.get("paths")?
                .as_object()?
                .values()
                .filter_map(|v| v.as_str())
                .map(join)
                .collect(),
        ),
        // Vite: dist/.vite/manifest.json, names relative to dist/.
        "manifest.json" if dir.ends_with(".vite") => {
            let root = dir.strip_suffix(".vite").unwrap_or("").trim_end_matches('/');
            let mut out = Vec::new();
            for chunk in json.as_object()?.values() {
                let mut names: Vec<&str> = chunk.get("file").and_then(|f| f.as_str()).into_iter().collect();
                for key in ["css", "assets"] {
                    names.extend(
                        chunk
                            .get(key)
                            .and_then(|a| a.as_array())
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v.as_str()),
                    );
                }
                out.extend(names.into_iter().map(|n| {
                    if root.is_empty() {
                        n.to_string()
                    } else {
                        format!("{root}/{n}")
                    }
                }));
            }
            Some(out)
        }
        _ => None,
    }
}

/// Manifests are uploaded last: whoever reads one finds every file it names.
pub fn is_manifest(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    file == "staticfiles.json" || path.ends_with(".vite/manifest.json") || file == "manifest.json"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundler_hashes_are_recognised() {
        for hashed in [
            "css/base.5af66c1b1797.css",
            "admin/js/core.0123456789ab.js",
            "assets/index-BkR3x9_q.js",
            "assets/index-D-Xa1bQz.js",
            "assets/index-D-Xa1bQz.js.map",
            "app/assets/vendor-_x9Kq2mP.css",
            "assets/vendor-4f2a9c1e.js",
            "static/js/main.8f3a2b1c.chunk.js",
            "static/js/main.8f3a2b1c.chunk.js.map",
            "123.a1b2c3d4e5f6a7b8c9d0.js",
            "assets/logo-DkWq1Zl9.svg",
        ] {
            assert!(looks_hashed(hashed), "{hashed}");
        }
        for plain in [
            "index.html",
            "robots.txt",
            "js/jquery-3.6.0.min.js",
            "report-20240101.pdf",
            "fonts/roboto-regular.woff2",
            "js/date-picker.js",
            "img/deadbeef.png",
            "a1b2c3d4.js",
            "js/app-original.js",
            "css/site-Standard.css",
            "favicon.ico",
            // Look hashed, are not: no upper case, no digit.
            "hero-banner01.jpg",
            "assets/hero-banner01.jpg",
            "logo-darkMode.svg",
            "assets/logo-darkMode.svg",
            // A Rollup-shaped name outside Vite's assets/ is ambiguous.
            "index-D-Xa1bQz.js",
            "img/logo-DkWq1Zl9.svg",
        ] {
            assert!(!looks_hashed(plain), "{plain}");
        }
    }

    #[test]
    fn next_js_static_chunks_css_media_and_build_directory() {
        for hashed in [
            "_next/static/chunks/main-0123456789abcdef.js",
            "_next/static/chunks/pages/_app-abcdef0123456789.js",
            "_next/static/chunks/fd9d1056-d5a5b4c2c1a8e7f3.js",
            "_next/static/chunks/app/page-1a2b3c4d5e6f7a8b.js.map",
            "_next/static/css/a1b2c3d4e5f6a7b8.css",
            "_next/static/media/a34f9d1faa5f3315-s.p.woff2",
            "_next/static/media/logo.8f3a2b1c.svg",
            "_next/static/Xq3_kd9Lm2PzT0aBcDe1f/_buildManifest.js",
            "_next/static/4f2a9c1e/_ssgManifest.js",
            "docs/_next/static/chunks/webpack-8fa1640cc84ba8fe.js",
        ] {
            assert!(looks_hashed(hashed), "{hashed}");
        }
        for plain in [
            "_next/static/chunks/main.js",
            "_next/static/chunks/pages/_app.js",
            "_next/static/css/styles.css",
            "_next/static/media/logo.svg",
            "_next/static/chunks/main-0123456789abcde.js",
            "_next/static/development/_buildManifest.js",
            "_next/static/webpack/a1b2c3.webpack.hot-update.json",
            "_next/static/favicon.ico",
            "_next/data/build/index.json",
            "static/chunks/main-0123456789abcdef.js",
            "chunks/main-0123456789abcdef.js",
        ] {
            assert!(!looks_hashed(plain), "{plain}");
        }
    }

    #[test]
    fn astro_dot_hash_in_its_own_directory() {
        for hashed in [
            "_astro/index.BQx8Kk2H.js",
            "_astro/Layout.C-x_9aB1.css",
            "_astro/photo.Dq3Kq2Ue_1NTSLZ.webp",
            "blog/_astro/client.D3x9Kq2m.js.map",
            "_astro/hoisted.a1b2c3d4.js",
        ] {
            assert!(looks_hashed(hashed), "{hashed}");
        }
        for plain in [
            "_astro/index.js",
            "_astro/logo.DarkMode.svg",
            "_astro/index.bqxkkhab.js",
            "_astro/index.BQx8Kk2.js",
            "_astro/photo.Dq3Kq2Ue_.webp",
            "_astro/BQx8Kk2H.js",
            "astro/index.BQx8Kk2H.js",
            "index.BQx8Kk2H.js",
            "_astro/sub/index.BQx8Kk2H.js",
        ] {
            assert!(!looks_hashed(plain), "{plain}");
        }
    }

    #[test]
    fn sveltekit_immutable_directory() {
        for hashed in [
            "_app/immutable/entry/start.BJKjk3hC.js",
            "_app/immutable/chunks/index.D3x9Kq2m.js",
            "_app/immutable/nodes/0.CqX8p1Zr.js",
            "_app/immutable/assets/0.B9x_Kq2c.css",
            "_app/immutable/chunks/index-a1b2c3d4.js",
            "base/_app/immutable/entry/app.Bq1-xYz9.js",
        ] {
            assert!(looks_hashed(hashed), "{hashed}");
        }
        for plain in [
            "_app/version.json",
            "_app/env.js",
            "_app/immutable/entry/start.js",
            "_app/immutable/chunks/index.darkmode.js",
            "_app/start.BJKjk3hC.js",
            "immutable/chunks/index.D3x9Kq2m.js",
            "app/immutable/chunks/index.D3x9Kq2m.js",
        ] {
            assert!(!looks_hashed(plain), "{plain}");
        }
    }

    #[test]
    fn pages_and_kept_types() {
        for page in ["index.html", "docs/a.HTM", "page.xhtml"] {
            assert!(is_page(page), "{page}");
        }
        for other in ["html", "a.html.gz", "htmlfile.txt", "manifest.json", "x.shtml"] {
            assert!(!is_page(other), "{other}");
        }
        assert!(keeps_type(DEFAULT_TYPE, Some("model/vnd.foo")));
        assert!(!keeps_type(DEFAULT_TYPE, Some("binary/octet-stream")));
        assert!(!keeps_type(DEFAULT_TYPE, Some("application/octet-stream")));
        assert!(!keeps_type(DEFAULT_TYPE, None));
        assert!(!keeps_type("text/css; charset=utf-8", Some("text/plain")));
        assert!(!type_differs(DEFAULT_TYPE, Some("model/vnd.foo")));
        assert!(type_differs(DEFAULT_TYPE, Some("binary/octet-stream")));
        assert!(type_differs("model/gltf-binary", Some("application/octet-stream")));
        assert!(!type_differs("model/gltf-binary", Some("model/gltf-binary")));
    }

    #[test]
    fn a_manifest_covers_its_directory() {
        assert_eq!(manifest_root("staticfiles.json"), "");
        assert_eq!(manifest_root("static/staticfiles.json"), "static");
        assert_eq!(manifest_root(".vite/manifest.json"), "");
        assert_eq!(manifest_root("dist/.vite/manifest.json"), "dist");
    }

    #[test]
    fn content_types_have_charset_for_text() {
        assert_eq!(content_type("a/b.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("x.mjs"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("f.woff2"), "font/woff2");
        assert_eq!(content_type("README"), DEFAULT_TYPE);
        assert_eq!(content_type("x.unknown"), DEFAULT_TYPE);
        assert_eq!(content_type("model.glb"), "model/gltf-binary");
        assert_eq!(content_type("model.gltf"), "model/gltf+json");
        assert_eq!(content_type("map.geojson"), "application/geo+json; charset=utf-8");
        assert_eq!(content_type("page.xhtml"), "application/xhtml+xml; charset=utf-8");
        assert_eq!(
            content_type("site.webmanifest"),
            "application/manifest+json; charset=utf-8"
        );
        assert_eq!(content_type("a.wasm"), "application/wasm");
        assert_eq!(content_type("a.avif"), "image/avif");
    }

    #[test]
    fn rules_first_match_then_hash_then_default() {
        let rules = CacheRules::parse("*.html=no-cache; fonts/**=public, max-age=604800").unwrap();
        assert_eq!(rules.cache_control("index.html", false), "no-cache");
        assert_eq!(
            rules.cache_control("fonts/a.0123456789ab.woff2", true),
            "public, max-age=604800"
        );
        assert_eq!(rules.cache_control("a.0123456789ab.css", true), IMMUTABLE);
        assert_eq!(rules.cache_control("robots.txt", false), REVALIDATE);
        assert_ne!(rules.fingerprint(), CacheRules::default().fingerprint());
        assert_eq!(rules.fingerprint(), rules.clone().fingerprint());
        assert!(CacheRules::parse("*.html").is_err());
        assert!(CacheRules::parse("*.html=").is_err());
        assert!(CacheRules::parse("*.html=max age").is_err());
    }

    #[test]
    fn manifests_name_hashed_files() {
        let django = r#"{"paths": {"css/a.css": "css/a.0123456789ab.css"}, "version": "1.1"}"#;
        assert_eq!(
            manifest_files("staticfiles.json", django).unwrap(),
            vec!["css/a.0123456789ab.css"]
        );
        let vite = r#"{"index.html": {"file": "assets/index-BkR3x9_q.js", "css": ["assets/index-Cq1.css"]}}"#;
        assert_eq!(
            manifest_files(".vite/manifest.json", vite).unwrap(),
            vec!["assets/index-BkR3x9_q.js", "assets/index-Cq1.css"]
        );
        assert!(manifest_files("data.json", "{}").is_none());
    }
}
