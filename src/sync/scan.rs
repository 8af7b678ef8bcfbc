//! Scan the local tree: every file's key, size, content hash (the ETag S3
//! would give it) and headers. Memory grows with the number of files (a
//! couple of hundred bytes each), never with their size: files are read in
//! 1 MiB blocks to hash them.
//!
//! Deliberate choices: symbolic links are followed (Django's
//! `collectstatic --link` makes them), a link to a directory already being
//! walked is skipped; a dangling link, an unreadable file or a name that is
//! not UTF-8 (S3 keys are UTF-8) is an error, found before anything is sent.
//! Other special files (sockets, FIFOs) are skipped with a warning.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use md5::{Digest as _, Md5};

use super::rules::{self, CacheRules};

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
    /// MD5 of the content: the ETag of a single-PUT object.
    pub md5: [u8; 16],
    /// For files uploaded in parts: each part's MD5.
    pub parts: Vec<[u8; 16]>,
    pub hashed: bool,
    pub manifest: bool,
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
        let mut all = Md5::new();
        for p in &self.parts {
            all.update(p);
        }
        format!("{}-{}", hex(&all.finalize()), self.parts.len())
    }

    /// Whether an object with this ETag has this file's content: uploaded in
    /// one PUT or a copy (plain MD5), or in parts of our size.
    pub fn same_content(&self, etag: &str) -> bool {
        let etag = etag.trim_matches('"');
        etag == self.md5_hex() || (!self.parts.is_empty() && etag == self.etag())
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
/// problem found (up to a few), so one run shows what to fix.
pub fn scan(dir: &Path, prefix: &str, rules: &CacheRules, reserved: &str) -> anyhow::Result<Scan> {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let root = dir
        .canonicalize()
        .map_err(|e| anyhow::anyhow!("{}: cannot read the directory: {e}", dir.display()))?;
    let mut ancestors = vec![root.clone()];
    walk(dir, "", &mut ancestors, &mut found, &mut problems, &mut warnings);

    // Manifests name the hashed files.
    let mut hashed_names = BTreeSet::new();
    for (rel, path) in &found {
        if rules::is_manifest(rel) {
            if let Ok(text) = std::fs::read_to_string(path) {
                hashed_names.extend(rules::manifest_files(rel, &text).unwrap_or_default());
            }
        }
    }

    let mut files = Vec::with_capacity(found.len());
    for (rel, path) in found {
        let key = format!("{prefix}{rel}");
        if key.len() > MAX_KEY {
            problems.push(format!("{}: the key is longer than S3's 1024 bytes", path.display()));
            continue;
        }
        if key.starts_with(reserved) {
            warnings.push(format!(
                "{}: skipped: cdnctl keeps its own notes under {reserved}",
                path.display()
            ));
            continue;
        }
        match hash(&path) {
            Ok((size, md5, parts)) => {
                let hashed = hashed_names.contains(&rel) || rules::looks_hashed(&rel);
                files.push(LocalFile {
                    cache_control: rules.cache_control(&rel, hashed).to_string(),
                    content_type: rules::content_type(&rel).to_string(),
                    manifest: rules::is_manifest(&rel),
                    key,
                    rel,
                    path,
                    size,
                    md5,
                    parts,
                    hashed,
                })
            }
            Err(e) => problems.push(format!("{}: cannot read: {e}", path.display())),
        }
    }
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(10);
        let mut text = problems.into_iter().take(10).collect::<Vec<_>>().join("\n");
        if more > 0 {
            text.push_str(&format!("\n… and {more} more"));
        }
        anyhow::bail!("{text}\nnothing was uploaded or deleted");
    }
    Ok(Scan { files, warnings })
}

fn walk(
    dir: &Path,
    rel: &str,
    ancestors: &mut Vec<PathBuf>,
    found: &mut Vec<(String, PathBuf)>,
    problems: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: cannot read the directory: {e}", dir.display()));
            return;
        }
    };
    let mut entries: Vec<_> = entries
        .filter_map(|e| e.map_err(|e| problems.push(format!("{}: {e}", dir.display()))).ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(String::from) else {
            problems.push(format!(
                "{}: the name is not valid UTF-8, and S3 keys are: rename it",
                path.display()
            ));
            continue;
        };
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // Follow links; a dangling one is an error, not a silent skip.
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) => {
                problems.push(format!(
                    "{}: a symbolic link to nothing ({e}): fix or remove it",
                    path.display()
                ));
                continue;
            }
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if meta.is_dir() {
            let Ok(real) = path.canonicalize() else {
                problems.push(format!("{}: cannot resolve the directory", path.display()));
                continue;
            };
            if ancestors.contains(&real) {
                warnings.push(format!(
                    "{}: skipped: a link back to a directory being synced",
                    path.display()
                ));
                continue;
            }
            ancestors.push(real);
            walk(&path, &child, ancestors, found, problems, warnings);
            ancestors.pop();
        } else if meta.is_file() {
            found.push((child, path));
        } else {
            warnings.push(format!("{}: skipped: not a regular file", path.display()));
        }
    }
}

/// Size, MD5, and for large files each part's MD5, in one read.
fn hash(path: &Path) -> std::io::Result<(u64, [u8; 16], Vec<[u8; 16]>)> {
    let mut file = std::fs::File::open(path)?;
    let mut whole = Md5::new();
    let mut part = Md5::new();
    let mut parts = Vec::new();
    let (mut size, mut in_part) = (0u64, 0u64);
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        whole.update(chunk);
        size += n as u64;
        // Part boundaries need not fall on block boundaries.
        while !chunk.is_empty() {
            let take = chunk.len().min((PART_SIZE - in_part) as usize);
            part.update(&chunk[..take]);
            in_part += take as u64;
            chunk = &chunk[take..];
            if in_part == PART_SIZE {
                parts.push(std::mem::take(&mut part).finalize().into());
                in_part = 0;
            }
        }
    }
    if in_part > 0 {
        parts.push(part.finalize().into());
    }
    if size < MULTIPART_THRESHOLD {
        parts.clear();
    }
    Ok((size, whole.finalize().into(), parts))
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
        let scan = scan(&dir, "p/", &CacheRules::default(), ".cdnctl/").unwrap();
        let big = scan.files.iter().find(|f| f.rel == "big.bin").unwrap();
        let mut expected = Md5::new();
        for chunk in data.chunks(PART_SIZE as usize) {
            expected.update(Md5::digest(chunk));
        }
        assert_eq!(big.etag(), format!("{}-3", hex(&expected.finalize())));
        assert_eq!(big.md5_hex(), hex(&Md5::digest(&data)));
        let small = scan.files.iter().find(|f| f.rel == "small.txt").unwrap();
        assert_eq!(small.key, "p/small.txt");
        assert_eq!(small.etag(), "5d41402abc4b2a76b9719d911017c592");
        assert!(small.same_content("\"5d41402abc4b2a76b9719d911017c592\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
