//! Git repositories, read through libgit2 (the `git2` crate) straight from the object
//! database: the files of one commit (`HEAD` by default, any revision with `PATH@REV`), not
//! whatever the work tree holds, so the commit recorded on every unit is exactly the code in
//! the row.
//!
//! [`list`] resolves the revision, walks the commit's tree below the folder that was named
//! (a sub-folder of a work tree reads that part of the repository), keeps the blobs whose
//! language the verifier knows within the byte budget, in path order, and gives each its
//! origin: the `origin` remote's URL (else the repository's path), the commit id, and the
//! licence of its nearest folder ([`super::licence`]). Symbolic links and submodules are
//! skipped. [`read_blob`] reads one file back in a worker thread; each thread keeps its own
//! open repositories (libgit2 handles are not shared between threads).
use std::cell::RefCell;
use std::path::{Path, PathBuf};

use sbd_scan::Language;

use super::licence::LicenceMap;
use super::tree::{FileItem, RootOrigin};
use crate::Error;

fn gerr(path: &Path, e: git2::Error) -> Error {
    Error::Format { path: path.display().to_string(), message: format!("git: {}", e.message()) }
}

/// A repository found at or above `path`, and `path`'s folder relative to its work tree
/// (`""` for the top, `/`-separated). `None` when `path` is in no repository.
pub fn discover(path: &Path) -> Option<(git2::Repository, String)> {
    let repo = git2::Repository::discover(path).ok()?;
    let top = repo.workdir().map(Path::to_path_buf).unwrap_or_else(|| repo.path().to_path_buf());
    let top = top.canonicalize().unwrap_or(top);
    let abs = path.canonicalize().ok()?;
    let prefix = abs.strip_prefix(&top).ok()?.to_string_lossy().replace('\\', "/");
    Some((repo, prefix.trim_matches('/').to_string()))
}

/// The path a worker reopens the repository with.
fn repo_path(repo: &git2::Repository) -> PathBuf {
    repo.workdir().map(Path::to_path_buf).unwrap_or_else(|| repo.path().to_path_buf())
}

/// The URL of the `origin` remote, else the repository's absolute path.
pub fn repo_name(repo: &git2::Repository) -> String {
    if let Ok(remote) = repo.find_remote("origin")
        && let Ok(url) = remote.url()
    {
        return url.to_string();
    }
    let p = repo_path(repo);
    p.canonicalize().unwrap_or(p).display().to_string()
}

/// The commit `rev` names (`HEAD` when `None`).
pub fn resolve<'r>(repo: &'r git2::Repository, rev: Option<&str>, path: &Path) -> Result<git2::Commit<'r>, Error> {
    let spec = rev.unwrap_or("HEAD");
    let obj = repo.revparse_single(spec).map_err(|e| {
        Error::Config(format!(
            "{}: no revision `{spec}` in this repository ({}); name a branch, tag or commit with PATH@REV",
            path.display(),
            e.message()
        ))
    })?;
    obj.peel_to_commit().map_err(|e| gerr(path, e))
}

/// One file of a commit's tree.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Path from the top of the repository.
    pub rel: String,
    pub oid: git2::Oid,
}

/// Every blob of `tree` (recursively), in path order; symbolic links and submodules left out.
pub fn blobs(tree: &git2::Tree) -> Vec<Entry> {
    let mut out = Vec::new();
    let _ = tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let is_blob = entry.kind() == Some(git2::ObjectType::Blob);
        // 0o120000 is a symbolic link, 0o160000 a submodule (a commit, not a blob).
        if is_blob
            && entry.filemode() & 0o170000 == 0o100000
            && let Ok(name) = entry.name()
        {
            out.push(Entry { rel: format!("{root}{name}"), oid: entry.id() });
        }
        git2::TreeWalkResult::Ok
    });
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// What [`list`] found.
pub struct Listing {
    pub files: Vec<FileItem>,
    pub commit: String,
    pub repo: String,
}

/// The files of `path`'s repository at `rev`, below `path`'s folder, with a verifier
/// language, up to `budget` bytes, files above `max_file_bytes` left out.
pub fn list(path: &Path, rev: Option<&str>, budget: u64, max_file_bytes: u64) -> Result<Listing, Error> {
    let (repo, prefix) = discover(path).ok_or_else(|| {
        Error::Config(format!("{}: not inside a git repository (no .git found here or above)", path.display()))
    })?;
    let commit = resolve(&repo, rev, path)?;
    let tree = commit.tree().map_err(|e| gerr(path, e))?;
    let name = repo_name(&repo);
    let commit_id = commit.id().to_string();
    let odb = repo.odb().map_err(|e| gerr(path, e))?;
    let entries = blobs(&tree);
    let mut licences = LicenceMap::default();
    for e in &entries {
        let file = e.rel.rsplit('/').next().unwrap_or(&e.rel);
        if LicenceMap::wants(file)
            && let Ok(blob) = repo.find_blob(e.oid)
            && blob.size() < 256 << 10
        {
            licences.add(&e.rel, &String::from_utf8_lossy(blob.content()));
        }
    }
    let under = |rel: &str| prefix.is_empty() || rel.strip_prefix(&prefix).is_some_and(|r| r.starts_with('/'));
    let root = repo_path(&repo);
    let mut files = Vec::new();
    let mut total = 0u64;
    for e in entries {
        if total >= budget {
            break;
        }
        if !under(&e.rel) {
            continue;
        }
        let ext = e.rel.rsplit_once('.').map(|(_, x)| x);
        if ext.and_then(Language::from_extension).is_none() {
            continue;
        }
        let Ok((size, _)) = odb.read_header(e.oid) else { continue };
        let bytes = size as u64;
        if bytes == 0 || bytes > max_file_bytes {
            continue;
        }
        total += bytes;
        let origin = RootOrigin {
            repo: Some(name.clone()),
            commit: Some(commit_id.clone()),
            licence: licences.licence_of(&e.rel, None),
        };
        files.push(FileItem { path: root.clone(), rel: e.rel, bytes, origin, blob: Some(e.oid.to_string()) });
    }
    Ok(Listing { files, commit: commit_id, repo: name })
}

thread_local! {
    static OPEN: RefCell<Vec<(PathBuf, git2::Repository)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the repository at `path`, opened once per thread.
pub fn with_repo<T>(path: &Path, f: impl FnOnce(&git2::Repository) -> Result<T, Error>) -> Result<T, Error> {
    OPEN.with(|open| {
        let mut open = open.borrow_mut();
        let at = match open.iter().position(|(p, _)| p == path) {
            Some(i) => i,
            None => {
                let repo = git2::Repository::open(path).map_err(|e| gerr(path, e))?;
                if open.len() >= 4 {
                    open.remove(0);
                }
                open.push((path.to_path_buf(), repo));
                open.len() - 1
            }
        };
        f(&open[at].1)
    })
}

/// The bytes of blob `oid` in the repository at `repo`.
pub fn read_blob(repo: &Path, oid: &str) -> Result<Vec<u8>, Error> {
    let id = git2::Oid::from_str(oid).map_err(|e| gerr(repo, e))?;
    with_repo(repo, |r| Ok(r.find_blob(id).map_err(|e| gerr(repo, e))?.content().to_vec()))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Repositories built by tests, commit by commit, with fixed authors and times.
    use std::path::Path;

    /// Writes `files` (path, text; `None` deletes) into the work tree and commits them.
    pub fn commit(repo: &git2::Repository, files: &[(&str, Option<&str>)], message: &str, time: i64) -> git2::Oid {
        let root = repo.workdir().expect("a work tree").to_path_buf();
        let mut index = repo.index().expect("the index");
        for (rel, text) in files {
            let p = root.join(rel);
            match text {
                Some(t) => {
                    std::fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
                    std::fs::write(&p, t).expect("write");
                    index.add_path(Path::new(rel)).expect("add");
                }
                None => {
                    let _ = std::fs::remove_file(&p);
                    index.remove_path(Path::new(rel)).expect("remove");
                }
            }
        }
        index.write().expect("index write");
        let tree_id = index.write_tree().expect("write tree");
        let tree = repo.find_tree(tree_id).expect("tree");
        let sig = git2::Signature::new("Test", "test@example.org", &git2::Time::new(time, 0)).expect("sig");
        let parents: Vec<git2::Commit> = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &refs).expect("commit")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::commit;
    use super::*;

    #[test]
    fn lists_a_commit_with_origin_licence_and_revisions() {
        let d = std::env::temp_dir().join(format!("sbd-data-git-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let repo = git2::Repository::init(&d).unwrap();
        repo.remote("origin", "https://example.org/demo.git").unwrap();
        let first = commit(
            &repo,
            &[
                ("LICENSE", Some("MIT License\n\nPermission is hereby granted, free of charge, to any person")),
                ("src/a.py", Some("def a(x):\n    return x + 1\n")),
                ("vendor/z/LICENSE", Some("Apache License\nVersion 2.0, January 2004\n")),
                ("vendor/z/z.c", Some("// SPDX-License-Identifier: BSD-2-Clause\nint z(void) { return 0; }\n")),
                ("notes.txt", Some("not code\n")),
            ],
            "initial",
            1_700_000_000,
        );
        let second = commit(&repo, &[("src/b.rs", Some("fn b() -> u8 { 2 }\n"))], "add b", 1_700_000_100);
        // Uncommitted work is not read.
        std::fs::write(d.join("src/dirty.py"), "def dirty():\n    pass\n").unwrap();

        let head = list(&d, None, u64::MAX, 1 << 20).unwrap();
        let rels: Vec<&str> = head.files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["src/a.py", "src/b.rs", "vendor/z/z.c"]);
        assert_eq!(head.commit, second.to_string());
        assert_eq!(head.repo, "https://example.org/demo.git");
        let a = &head.files[0];
        assert_eq!(a.origin.licence.as_deref(), Some("MIT"));
        assert_eq!(a.origin.commit.as_deref(), Some(second.to_string().as_str()));
        assert_eq!(head.files[2].origin.licence.as_deref(), Some("Apache-2.0"), "nearest folder");
        let text = a.read().unwrap();
        assert_eq!(text, b"def a(x):\n    return x + 1\n");

        // The file's own SPDX header beats its folder's licence.
        let units = super::super::tree::units(&head.files[2], "git", false).unwrap();
        assert_eq!(units[0].licence.as_deref(), Some("BSD-2-Clause"));
        assert_eq!(units[0].commit.as_deref(), Some(second.to_string().as_str()));

        // PATH@REV reads an older commit; a sub-folder reads that part only.
        let old = list(&d, Some(&first.to_string()[..10]), u64::MAX, 1 << 20).unwrap();
        assert_eq!(old.files.len(), 2);
        let sub = list(&d.join("src"), None, u64::MAX, 1 << 20).unwrap();
        assert_eq!(sub.files.iter().map(|f| f.rel.as_str()).collect::<Vec<_>>(), ["src/a.py", "src/b.rs"]);
        let err = list(&d, Some("no-such-branch"), u64::MAX, 1 << 20).err().unwrap().to_string();
        assert!(err.contains("no revision `no-such-branch`"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
