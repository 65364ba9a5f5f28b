//! Directory trees.
//!
//! [`list`] walks a tree in sorted order (respecting `.gitignore` and hidden files), keeps the
//! files whose language the verifier knows, and stops at a byte budget, so the same tree
//! always yields the same list. Each file's licence is that of its nearest folder with a
//! package manifest or licence file ([`super::licence`]), up to four folders above the root;
//! a file's own `SPDX-License-Identifier` header beats both. Git repositories are read from
//! their object database instead ([`super::git`]). [`units`] reads one file and cuts it into
//! units.
use std::path::{Path, PathBuf};
use std::process::Command;

use sbd_scan::Language;

use super::Unit;
use super::cut;
use super::licence::{self as lic, LicenceMap};

/// Where the files of one root came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RootOrigin {
    /// Repository URL (`git remote get-url origin`) or a name (`crates.io/serde-1.0.0`).
    pub repo: Option<String>,
    pub commit: Option<String>,
    pub licence: Option<String>,
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileItem {
    pub path: PathBuf,
    /// Path relative to its root, `/`-separated.
    pub rel: String,
    pub bytes: u64,
    pub origin: RootOrigin,
    /// The blob id when the file comes from a git commit; `path` is then the repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

impl FileItem {
    /// The file's bytes, from disk or from the repository's object database.
    pub fn read(&self) -> Result<Vec<u8>, crate::Error> {
        match &self.blob {
            Some(oid) => super::git::read_blob(&self.path, oid),
            None => std::fs::read(&self.path).map_err(|e| crate::Error::io(&self.path, e)),
        }
    }
}

/// The licence named in `root`'s manifest or licence files.
pub fn licence(root: &Path) -> Option<String> {
    let mut map = LicenceMap::default();
    let entries = std::fs::read_dir(root).ok()?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if LicenceMap::wants(&name)
            && e.file_type().is_ok_and(|t| t.is_file())
            && let Ok(text) = std::fs::read_to_string(e.path())
        {
            map.add(&name, &text);
        }
    }
    map.licence_of("x", None)
}

/// The origin of a plain directory tree: no repository or commit, the licence of the tree
/// or of its closest ancestor that names one (a crate inside a workspace).
pub fn origin(root: &Path) -> RootOrigin {
    let abs = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let licence = abs.ancestors().take(4).find_map(licence);
    RootOrigin { repo: None, commit: None, licence }
}

/// Files of `root` with a verifier language, sorted by path, until `budget` bytes are
/// reached. Files above `max_file_bytes` are skipped (generated or vendored blobs).
pub fn list(root: &Path, origin: &RootOrigin, budget: u64, max_file_bytes: u64) -> Vec<FileItem> {
    let mut licences = LicenceMap::default();
    let rel_of = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_string_lossy().replace('\\', "/");
    let mut files: Vec<(PathBuf, u64)> = Vec::new();
    let mut listed = 0u64;
    // The walk visits paths in sorted order, so it can stop once the budget is spent.
    for e in ignore::WalkBuilder::new(root).sort_by_file_path(|a, b| a.cmp(b)).build().flatten() {
        if listed >= budget {
            break;
        }
        if !e.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let name = e.file_name().to_string_lossy();
        if LicenceMap::wants(&name) {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                licences.add(&rel_of(e.path()), &text);
            }
            continue;
        }
        if e.path().extension().and_then(|x| x.to_str()).and_then(Language::from_extension).is_none() {
            continue;
        }
        if let Ok(m) = e.metadata()
            && m.len() > 0
            && m.len() <= max_file_bytes
        {
            listed += m.len();
            files.push((e.into_path(), m.len()));
        }
    }
    files.sort();
    let mut total = 0u64;
    let mut out = Vec::new();
    for (path, bytes) in files {
        if total >= budget {
            break;
        }
        total += bytes;
        let rel = rel_of(&path);
        let mut origin = origin.clone();
        origin.licence = licences.licence_of(&rel, origin.licence.as_ref());
        out.push(FileItem { path, rel, bytes, origin, blob: None });
    }
    out
}

/// Crates under `~/.cargo/registry/src/*/`, each its own origin (`crates.io/<name-version>`,
/// licence from its `Cargo.toml`), in sorted order, within `budget` bytes in all.
pub fn cargo_registry(budget: u64, max_file_bytes: u64) -> Vec<FileItem> {
    let Some(home) = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
    else {
        return Vec::new();
    };
    let mut crates = Vec::new();
    if let Ok(indexes) = std::fs::read_dir(home.join("registry/src")) {
        for index in indexes.flatten() {
            if let Ok(dirs) = std::fs::read_dir(index.path()) {
                crates.extend(dirs.flatten().map(|d| d.path()).filter(|p| p.is_dir()));
            }
        }
    }
    crates.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    crates.dedup_by(|a, b| a.file_name() == b.file_name());
    // Spread the budget over crates so a few huge ones do not take it all.
    let per_crate = (budget / crates.len().max(1) as u64).max(64 * 1024);
    let mut out = Vec::new();
    let mut total = 0u64;
    for dir in crates {
        if total >= budget {
            break;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let origin = RootOrigin { repo: Some(format!("crates.io/{name}")), commit: None, licence: licence(&dir) };
        let items = list(&dir, &origin, per_crate.min(budget - total), max_file_bytes);
        total += items.iter().map(|f| f.bytes).sum::<u64>();
        out.extend(items.into_iter().map(|mut f| {
            f.rel = format!("{name}/{}", f.rel);
            f
        }));
    }
    out
}

/// The Python standard library of the first `python3` on `PATH`, if any.
pub fn python_stdlib() -> Option<(PathBuf, RootOrigin)> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig, sys; print(sysconfig.get_paths()['stdlib']); print('%d.%d.%d' % sys.version_info[:3])",
        ])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    let dir = PathBuf::from(lines.next()?.trim());
    let version = lines.next()?.trim().to_string();
    dir.is_dir().then(|| {
        (
            dir,
            RootOrigin { repo: Some(format!("cpython-{version}/Lib")), commit: None, licence: Some("PSF-2.0".into()) },
        )
    })
}

/// Reads one file and cuts it into units: its functions, or the whole file when it has none
/// or `whole_files` is set. `source` names the source in ids (`tree`, `registry`).
pub fn units(item: &FileItem, source: &str, whole_files: bool) -> Result<Vec<Unit>, crate::Error> {
    Ok(units_parsed(item, source, whole_files)?.0)
}

/// A file's text and the parse its functions were cut from: `ranges[i]` is where unit `i`
/// sits in `text`, so the verifier can scan it on `tree` instead of parsing it again.
pub struct FileParse {
    pub text: String,
    pub tree: tree_sitter::Tree,
    pub ranges: Vec<std::ops::Range<usize>>,
}

/// [`units`], and the file's parse when the units are its functions.
pub fn units_parsed(
    item: &FileItem,
    source: &str,
    whole_files: bool,
) -> Result<(Vec<Unit>, Option<FileParse>), crate::Error> {
    let lang = item.rel.rsplit_once('.').and_then(|(_, x)| Language::from_extension(x));
    let Some(lang) = lang else { return Ok((Vec::new(), None)) };
    let bytes = item.read()?;
    let Ok(text) = String::from_utf8(bytes) else { return Ok((Vec::new(), None)) };
    let licence = lic::spdx_header(&text).or_else(|| item.origin.licence.clone());
    let base = |id: String, code: String, unit: &'static str, line: u32| {
        let mut u = Unit::snippet(id, source, lang, code);
        u.unit = unit;
        u.repo = item.origin.repo.clone();
        u.commit = item.origin.commit.clone();
        u.licence = licence.clone();
        u.path = Some(item.rel.clone());
        u.start_line = line;
        u
    };
    let file_id = format!("{source}/{}", item.rel);
    let (tree, pieces) = if whole_files { None } else { cut::functions_and_tree(&text, lang) }.unzip();
    let pieces = pieces.unwrap_or_default();
    if pieces.is_empty() {
        return Ok((vec![base(file_id, text, "file", 1)], None));
    }
    let mut units = Vec::with_capacity(pieces.len());
    let mut ranges = Vec::with_capacity(pieces.len());
    for p in pieces {
        let Some(code) = text.get(p.start_byte..p.end_byte) else { continue };
        let name = p.name.unwrap_or_else(|| "fn".into());
        units.push(base(format!("{file_id}#{name}@{}", p.start_line), code.to_string(), "function", p.start_line));
        ranges.push(p.start_byte..p.end_byte);
    }
    let parse = tree.map(|tree| FileParse { text, tree, ranges });
    Ok((units, parse))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licence_from_manifest_or_licence_file_and_sorted_budgeted_listing() {
        let d = std::env::temp_dir().join(format!("sbd-data-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("a/src")).unwrap();
        std::fs::write(d.join("a/Cargo.toml"), "[package]\nname = \"a\"\nlicense = \"MIT OR Apache-2.0\"\n").unwrap();
        std::fs::write(d.join("LICENSE"), "Apache License\nVersion 2.0, January 2004\n").unwrap();
        assert_eq!(licence(&d.join("a")).as_deref(), Some("MIT OR Apache-2.0"));
        assert_eq!(licence(&d).as_deref(), Some("Apache-2.0"));
        assert_eq!(origin(&d.join("a/src")).licence.as_deref(), Some("MIT OR Apache-2.0"));
        std::fs::write(d.join("a/src/b.rs"), "fn b() {}\n").unwrap();
        std::fs::write(d.join("a/src/a.py"), "def a():\n    pass\n").unwrap();
        std::fs::write(d.join("a/src/notes.txt"), "not code").unwrap();
        let all = list(&d, &RootOrigin::default(), u64::MAX, 1 << 20);
        let rels: Vec<&str> = all.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["a/src/a.py", "a/src/b.rs"]);
        assert_eq!(list(&d, &RootOrigin::default(), 1, 1 << 20).len(), 1, "the budget stops the walk");
        let units = units(&all[1], "tree", false).unwrap();
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].id, "tree/a/src/b.rs#b@1");
        let _ = std::fs::remove_dir_all(&d);
    }
}
