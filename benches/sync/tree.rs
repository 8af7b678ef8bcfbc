//! The trees the tools publish: generated, the same bytes on every run.

use super::*;

/// A deterministic byte generator (xorshift), so every run has the same tree.
pub(crate) struct Bytes(pub(crate) u64);

impl Bytes {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn fill(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

pub(crate) const KINDS: &[(&str, &str)] = &[
    ("css", "css"),
    ("js", "js"),
    ("img", "png"),
    ("img", "svg"),
    ("fonts", "woff2"),
    ("js", "map"),
    ("img", "jpg"),
    ("img", "webp"),
    ("data", "json"),
    ("admin/css", "css"),
    ("admin/js", "js"),
];

/// `files` files: originals and their hashed copies (as ManifestStaticFilesStorage
/// makes them), `robots.txt`, and staticfiles.json. Sizes 1 KB to 3 MB, most
/// small; the first original (and so its copy) is 10 MB. Returns the bytes.
pub(crate) fn django_tree(dir: &Path, files: usize) -> u64 {
    let mut rng = Bytes(0x9E37_79B9_7F4A_7C15);
    let originals = (files.saturating_sub(2)) / 2;
    let mut paths = serde_json::Map::new();
    let mut total = 0u64;
    for i in 0..originals {
        let (sub, ext) = KINDS[i % KINDS.len()];
        let r = rng.next() % 1000;
        let size = if i == 0 {
            10 * 1024 * 1024
        } else if r < 750 {
            1024 + (rng.next() % (15 * 1024)) as usize
        } else if r < 990 {
            16 * 1024 + (rng.next() % (240 * 1024)) as usize
        } else {
            256 * 1024 + (rng.next() % (2816 * 1024)) as usize
        };
        let content = rng.fill(size);
        let hash: String = Md5::digest(&content)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = format!("{sub}/file{i}.{ext}");
        let hashed = format!("{sub}/file{i}.{hash}.{ext}");
        write(dir, &name, &content);
        write(dir, &hashed, &content);
        paths.insert(name, hashed.into());
        total += 2 * size as u64;
    }
    write(dir, "robots.txt", b"User-agent: *\n");
    let manifest = json!({"paths": paths, "version": "1.1", "hash": "bench"}).to_string();
    write(dir, "staticfiles.json", manifest.as_bytes());
    total + manifest.len() as u64
}

/// Three changed files, as collectstatic leaves them: a page-like original
/// (the tree has no HTML: Django renders its pages), a stylesheet and its
/// new hashed copy; and staticfiles.json rewritten to name the copy, which
/// makes the manifest a fourth changed file (the old copy stays, as
/// collectstatic leaves it).
pub(crate) fn change_three(dir: &Path) {
    write(dir, "robots.txt", b"User-agent: *\nDisallow: /admin/\n");
    write(dir, "css/file0.css", b"body{color:teal}");
    write(dir, "css/file0.0a1b2c3d4e5f.css", b"body{color:teal}");
    let path = dir.join("staticfiles.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["paths"]["css/file0.css"] = json!("css/file0.0a1b2c3d4e5f.css");
    std::fs::write(path, manifest.to_string()).unwrap();
}

pub(crate) fn small_tree(dir: &Path, files: usize) {
    let mut rng = Bytes(7);
    for i in 0..files {
        let (sub, ext) = KINDS[i % KINDS.len()];
        let size = 200 + (rng.next() % 800) as usize;
        write(dir, &format!("{sub}/{}/f{i}.{ext}", i / 1000), &rng.fill(size));
    }
}

pub(crate) fn write(dir: &Path, rel: &str, content: &[u8]) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    let status = Command::new("cp").arg("-r").arg(from).arg(to).status().unwrap();
    assert!(status.success());
}
