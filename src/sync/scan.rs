//! Scan the local tree: every file's key, size, content hash (the ETag S3
//! would give it) and headers. Memory grows with the number of files (a
//! couple of hundred bytes each), never with their size: files are read in
//! 1 MiB blocks to hash them. Hashing runs on every core, each file read
//! once: a small file is one piece of work, a file sent in parts one per part
//! (the parts' MD5s are all its upload and its ETag need).
//!
//! Deliberate choices: only what lies inside DIR is published. A symbolic
//! link whose target (resolved) is inside DIR is followed; one that leads out
//! of it (`static/x -> ~/.aws/credentials`) is skipped with a warning, unless
//! `--follow-links` says to follow every link (Django's `collectstatic --link`
//! makes links into the apps' sources). A link to a directory already being
//! walked is skipped; a dangling link, an unreadable file or a name that is
//! not UTF-8 (S3 keys are UTF-8) is an error, found before anything is sent.
//! Other special files (sockets, FIFOs) are skipped with a warning. Hidden
//! names and cdnctl's own `.cdnctl/` are not walked at all (`hidden.rs`).

use std::collections::BTreeSet;
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use md5::{Digest as _, Md5};

use super::rules::{self, CacheRules};

mod walk;
use walk::{walk, Found};

/// Files of this size or more go up in parts (as the AWS CLI does).
pub const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// The part size; the multipart ETag is computed locally with it.
pub const PART_SIZE: u64 = 8 * 1024 * 1024;
/// S3's longest key, in bytes.
const MAX_KEY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The object key: the prefix and the path relative to the directory.
    pub key: String,
    /// The path relative to the directory, `/`-separated (what rules match).
    pub rel: String,
    pub path: PathBuf,
    pub size: u64,
    /// MD5 of the content: the ETag of a single-PUT object. For a file
    /// uploaded in parts, the MD5 of the parts' MD5s (its ETag's digest).
    pub md5: [u8; 16],
    /// For files uploaded in parts: each part's MD5.
    pub parts: Vec<[u8; 16]>,
    /// For files uploaded in parts: the MD5 of the whole content, read only
    /// when an object's ETag asks for it (see [`LocalFile::same_content`]).
    pub whole_md5: std::sync::OnceLock<Option<[u8; 16]>>,
    pub hashed: bool,
    pub manifest: bool,
    /// A manifest whose names cdnctl read (staticfiles.json, Vite's), none
    /// of them a page: every file it names is hashed, so it waits for the
    /// hashed files only, not for the rest (`stages.rs`).
    pub manifest_read: bool,
    pub content_type: String,
    pub cache_control: String,
}

impl LocalFile {
    pub fn md5_hex(&self) -> String {
        hex(&self.md5)
    }

    /// The ETag S3 gives the object as cdnctl uploads it.
    pub fn etag(&self) -> String {
        if self.parts.is_empty() {
            return self.md5_hex();
        }
        format!("{}-{}", self.md5_hex(), self.parts.len())
    }

    /// Whether an object with this ETag has this file's content: uploaded as
    /// cdnctl uploads it (in one PUT, or in parts of our size), or a copy
    /// made by CopyObject, whose ETag is the plain MD5 of the content. Only in
    /// that last, rare case is a large file read a second time.
    pub fn same_content(&self, etag: &str) -> bool {
        let etag = etag.trim_matches('"');
        if etag == self.etag() {
            return true;
        }
        let plain_md5 = etag.len() == 32 && !etag.contains('-');
        !self.parts.is_empty() && plain_md5 && self.whole_md5().is_some_and(|m| hex(&m) == etag)
    }

    fn whole_md5(&self) -> Option<[u8; 16]> {
        *self.whole_md5.get_or_init(|| {
            let mut buf = vec![0u8; 1024 * 1024];
            hash_range(&self.path, 0, None, &mut buf)
                .ok()
                .filter(|(_, n)| *n == self.size)
                .map(|(md5, _)| md5)
        })
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Default)]
pub struct Scan {
    pub files: Vec<LocalFile>,
    pub warnings: Vec<String>,
}

/// Walk `dir`, hash every file and decide its headers. Errors list every
/// problem found (up to a few), so one run shows what to fix. With
/// `follow_links`, links out of `dir` are followed too; with
/// `include_hidden`, hidden files and directories are published too.
/// `keys` gets the files' keys, sorted, as soon as the walk has them,
/// before any file is hashed (sync cuts its listing where they are).
pub fn scan(
    dir: &Path,
    prefix: &str,
    rules: &CacheRules,
    reserved: &str,
    follow_links: bool,
    include_hidden: bool,
    keys: impl FnOnce(Vec<String>),
) -> anyhow::Result<Scan> {
    let mut notes = Notes::default();
    let found = walk(dir, follow_links, include_hidden, &mut notes)?;
    let manifests = Manifests::read(&found);
    let mut files = describe(found, prefix, reserved, rules, &manifests, &mut notes);
    let mut sorted: Vec<String> = files.iter().map(|f| f.key.clone()).collect();
    sorted.sort_unstable();
    keys(sorted);
    let started = std::time::Instant::now();
    notes.problems.extend(hash_all(&mut files));
    tracing::debug!(
        files = files.len(),
        bytes = files.iter().map(|f| f.size).sum::<u64>(),
        seconds = started.elapsed().as_secs_f64(),
        "hashed the local files"
    );
    notes.fail_on_problems()?;
    let published: Vec<_> = files
        .iter()
        .map(|f| (f.key.as_str(), f.path.as_path(), f.size))
        .collect();
    notes.warnings.extend(super::warnings::links(&published));
    Ok(Scan {
        files,
        warnings: notes.warnings,
    })
}

/// What the scan found to say, in the order found: problems stop the sync,
/// warnings do not.
#[derive(Default)]
struct Notes {
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Notes {
    /// The first ten problems, if any, as one error.
    fn fail_on_problems(&mut self) -> anyhow::Result<()> {
        if self.problems.is_empty() {
            return Ok(());
        }
        let problems = std::mem::take(&mut self.problems);
        let more = problems.len().saturating_sub(10);
        let mut text = problems.into_iter().take(10).collect::<Vec<_>>().join("\n");
        if more > 0 {
            text.push_str(&format!("\n… and {more} more"));
        }
        anyhow::bail!("{text}\nnothing was uploaded or deleted");
    }
}

/// Manifests name the hashed files, and speak for every file under their
/// directory: there, a name the manifest does not give is not hashed.
struct Manifests {
    hashed_names: BTreeSet<String>,
    roots: BTreeSet<String>,
    /// The manifests whose names were read, none of them a page.
    read: BTreeSet<String>,
}

impl Manifests {
    fn read(found: &[Found]) -> Manifests {
        let mut hashed_names = BTreeSet::new();
        let mut roots = BTreeSet::new();
        let mut read = BTreeSet::new();
        for (rel, path, _) in found {
            if rules::is_manifest(rel) {
                let names = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| rules::manifest_files(rel, &text));
                if let Some(names) = names {
                    if !names.iter().any(|n| rules::is_page(n)) {
                        read.insert(rel.clone());
                    }
                    hashed_names.extend(names);
                    roots.insert(rules::manifest_root(rel).to_string());
                }
            }
        }
        Manifests {
            hashed_names,
            roots,
            read,
        }
    }

    fn covered(&self, rel: &str) -> bool {
        self.roots
            .iter()
            .any(|r| r.is_empty() || rel.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('/')))
    }

    /// Named by a manifest, or, where no manifest speaks, a name that looks hashed.
    fn is_hashed(&self, rel: &str) -> bool {
        self.hashed_names.contains(rel) || (!self.covered(rel) && rules::looks_hashed(rel))
    }
}

/// Each file's key and headers (not yet its hash). A key S3 would refuse is
/// a problem; one under cdnctl's own notes is skipped with a warning.
fn describe(
    found: Vec<Found>,
    prefix: &str,
    reserved: &str,
    rules: &CacheRules,
    manifests: &Manifests,
    notes: &mut Notes,
) -> Vec<LocalFile> {
    let mut files = Vec::with_capacity(found.len());
    for (rel, path, size) in found {
        let key = format!("{prefix}{rel}");
        if key.len() > MAX_KEY {
            notes
                .problems
                .push(format!("{}: the key is longer than S3's 1024 bytes", path.display()));
            continue;
        }
        if key.starts_with(reserved) {
            notes.warnings.push(format!(
                "{}: skipped: cdnctl keeps its own notes under {reserved}",
                path.display()
            ));
            continue;
        }
        let hashed = manifests.is_hashed(&rel);
        files.push(LocalFile {
            cache_control: rules.cache_control(&rel, hashed).to_string(),
            content_type: rules::content_type(&rel).to_string(),
            manifest: rules::is_manifest(&rel),
            manifest_read: manifests.read.contains(&rel),
            key,
            rel,
            path,
            size,
            md5: [0; 16],
            parts: Vec::new(),
            whole_md5: Default::default(),
            hashed,
        })
    }
    files
}

/// One piece of hashing work: a whole small file, or one part of a large one.
#[derive(Clone, Copy)]
struct Piece {
    file: usize,
    part: Option<u64>,
}

/// A piece's MD5 and the bytes it covered.
type Hashed = std::io::Result<([u8; 16], u64)>;

/// Hash every file, on every core, each byte read once. Fills `md5`, `parts`
/// and (for small files) `size`; returns the problems found.
fn hash_all(files: &mut [LocalFile]) -> Vec<String> {
    let mut pieces = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if f.size < MULTIPART_THRESHOLD {
            pieces.push(Piece { file: i, part: None });
        } else {
            pieces.extend((0..f.size.div_ceil(PART_SIZE)).map(|k| Piece { file: i, part: Some(k) }));
        }
    }
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pieces.len().max(1));
    let shared: &[LocalFile] = files;
    let results: Vec<(Piece, Hashed)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut buf = vec![0u8; 1024 * 1024];
                    let mut out = Vec::new();
                    loop {
                        let Some(&piece) = pieces.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            return out;
                        };
                        let f = &shared[piece.file];
                        let result = match piece.part {
                            None => hash_range(&f.path, 0, None, &mut buf),
                            Some(k) => {
                                let offset = k * PART_SIZE;
                                hash_range(&f.path, offset, Some(PART_SIZE.min(f.size - offset)), &mut buf)
                            }
                        };
                        out.push((piece, result));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a hashing thread panicked"))
            .collect()
    });

    let mut problems = Vec::new();
    let mut failed = vec![false; files.len()];
    let mut parts: Vec<Vec<(u64, [u8; 16])>> = vec![Vec::new(); files.len()];
    for (piece, result) in results {
        let f = &mut files[piece.file];
        match (piece.part, result) {
            (_, Err(e)) => {
                if !std::mem::replace(&mut failed[piece.file], true) {
                    problems.push(format!("{}: cannot read: {e}", f.path.display()));
                }
            }
            (None, Ok((md5, size))) => {
                f.md5 = md5;
                f.size = size;
            }
            (Some(k), Ok((md5, _))) => parts[piece.file].push((k, md5)),
        }
    }
    for (i, f) in files.iter_mut().enumerate() {
        let mut mine = std::mem::take(&mut parts[i]);
        if failed[i] {
            continue;
        }
        let grew = f.size >= MULTIPART_THRESHOLD && mine.is_empty();
        let changed = std::fs::metadata(&f.path).map(|m| m.len() != f.size).unwrap_or(true);
        if grew || (!mine.is_empty() && changed) {
            problems.push(format!("{}: changed while syncing: run sync again", f.path.display()));
            continue;
        }
        if !mine.is_empty() {
            mine.sort_by_key(|(k, _)| *k);
            f.parts = mine.into_iter().map(|(_, md5)| md5).collect();
            let mut all = Md5::new();
            for p in &f.parts {
                all.update(p);
            }
            f.md5 = all.finalize().into();
        }
    }
    problems
}

/// MD5 and length of `length` bytes from `offset` (or to the end of the
/// file, when `None`). A file that ends early changed since it was listed.
fn hash_range(path: &Path, offset: u64, length: Option<u64>, buf: &mut [u8]) -> Hashed {
    let mut file = std::fs::File::open(path)?;
    if offset > 0 {
        file.seek(std::io::SeekFrom::Start(offset))?;
    }
    let mut md5 = Md5::new();
    let mut read = 0u64;
    loop {
        let want = length.map_or(buf.len(), |l| (l - read).min(buf.len() as u64) as usize);
        if want == 0 {
            break;
        }
        let n = file.read(&mut buf[..want])?;
        if n == 0 {
            if length.is_some() {
                return Err(std::io::Error::other(
                    "it is shorter than when listed: it changed while syncing",
                ));
            }
            break;
        }
        md5.update(&buf[..n]);
        read += n as u64;
    }
    Ok((md5.finalize().into(), read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_etag_is_md5_of_part_md5s() {
        let dir = std::env::temp_dir().join(format!("cdnctl-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.bin");
        let data: Vec<u8> = (0..(PART_SIZE * 2 + 5)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&big, &data).unwrap();
        std::fs::write(dir.join("small.txt"), b"hello").unwrap();
        let scan = scan(&dir, "p/", &CacheRules::default(), ".cdnctl/", false, false, |_| {}).unwrap();
        let big = scan.files.iter().find(|f| f.rel == "big.bin").unwrap();
        let mut expected = Md5::new();
        for chunk in data.chunks(PART_SIZE as usize) {
            expected.update(Md5::digest(chunk));
        }
        let expected = hex(&expected.finalize());
        assert_eq!(big.etag(), format!("{expected}-3"));
        assert_eq!(big.size, data.len() as u64);
        assert!(big.same_content(&format!("\"{expected}-3\"")));
        // A CopyObject's copy: the plain MD5, read on demand.
        assert!(big.same_content(&hex(&Md5::digest(&data))));
        assert!(!big.same_content(&hex(&Md5::digest(b"other"))));
        let small = scan.files.iter().find(|f| f.rel == "small.txt").unwrap();
        assert_eq!(small.key, "p/small.txt");
        assert_eq!(small.etag(), "5d41402abc4b2a76b9719d911017c592");
        assert!(small.same_content("\"5d41402abc4b2a76b9719d911017c592\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tree(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cdnctl-scan-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn links_out_of_the_tree_are_skipped_unless_asked() {
        let base = tree("links");
        let dir = base.join("site");
        std::fs::create_dir_all(dir.join("css")).unwrap();
        std::fs::create_dir_all(base.join("secret")).unwrap();
        std::fs::write(dir.join("css/a.css"), b"a").unwrap();
        std::fs::write(base.join("secret/credentials"), b"key").unwrap();
        std::os::unix::fs::symlink(base.join("secret/credentials"), dir.join("x")).unwrap();
        std::os::unix::fs::symlink(base.join("secret"), dir.join("out")).unwrap();
        std::os::unix::fs::symlink("css/a.css", dir.join("in.css")).unwrap();
        std::os::unix::fs::symlink("css", dir.join("styles")).unwrap();
        let rels = |s: &Scan| s.files.iter().map(|f| f.rel.clone()).collect::<Vec<_>>();
        let found = scan(&dir, "", &CacheRules::default(), ".cdnctl/", false, false, |_| {}).unwrap();
        assert_eq!(rels(&found), vec!["css/a.css", "in.css", "styles/a.css"]);
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0].contains("out, x"), "{:?}", found.warnings);
        assert!(found.warnings[0].contains("--follow-links"), "{:?}", found.warnings);
        let all = scan(&dir, "", &CacheRules::default(), ".cdnctl/", true, false, |_| {}).unwrap();
        assert_eq!(
            rels(&all),
            vec!["css/a.css", "in.css", "out/credentials", "styles/a.css", "x"]
        );
        assert!(all.warnings.is_empty(), "{:?}", all.warnings);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_manifest_decides_for_its_directory_and_the_layout_elsewhere() {
        let dir = tree("hashed");
        let files = [
            "app/.vite/manifest.json",
            "app/index.html",
            "app/assets/index-D-Xa1bQz.js",
            "app/assets/logo-DkWq1Zl9.svg",
            "app/assets/hero-banner01.jpg",
            "other/assets/index-B_x1Kq9z.js",
            "other/assets/logo-darkMode.svg",
            "other/assets/hero-banner01.jpg",
        ];
        for f in files {
            std::fs::create_dir_all(dir.join(f).parent().unwrap()).unwrap();
            std::fs::write(dir.join(f), f).unwrap();
        }
        let manifest = r#"{"index.html": {"file": "assets/index-D-Xa1bQz.js", "isEntry": true}}"#;
        std::fs::write(dir.join("app/.vite/manifest.json"), manifest).unwrap();
        let found = scan(&dir, "", &CacheRules::default(), ".cdnctl/", false, false, |_| {}).unwrap();
        let hashed: Vec<&str> = found
            .files
            .iter()
            .filter(|f| f.hashed)
            .map(|f| f.rel.as_str())
            .collect();
        // The manifest names only the script: the logo, whose name looks
        // hashed, was not made by the bundler (it came from public/).
        assert_eq!(
            hashed,
            vec!["app/assets/index-D-Xa1bQz.js", "other/assets/index-B_x1Kq9z.js"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_manifest_read_waits_for_hashed_files_only_unless_it_names_a_page() {
        let dir = tree("manifests");
        for (rel, text) in [
            (
                "static/staticfiles.json",
                r#"{"paths": {"a.css": "a.0123456789ab.css"}}"#,
            ),
            ("static/a.0123456789ab.css", "a"),
            (
                "pages/staticfiles.json",
                r#"{"paths": {"i.html": "i.0123456789ab.html"}}"#,
            ),
            ("pages/i.0123456789ab.html", "i"),
            ("pwa/manifest.json", r#"{"icons": [{"src": "icon.png"}]}"#),
            ("broken/staticfiles.json", "{"),
        ] {
            std::fs::create_dir_all(dir.join(rel).parent().unwrap()).unwrap();
            std::fs::write(dir.join(rel), text).unwrap();
        }
        let found = scan(&dir, "", &CacheRules::default(), ".cdnctl/", false, false, |_| {}).unwrap();
        let read: Vec<&str> = found
            .files
            .iter()
            .filter(|f| f.manifest_read)
            .map(|f| f.rel.as_str())
            .collect();
        // Not one naming a page, one cdnctl cannot read (a web app's), nor
        // one it could not parse: those go after the rest.
        assert_eq!(read, vec!["static/staticfiles.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
