//! Git repositories as sources: files at a commit with their origin, and security fixes mined
//! from the history as before/after pairs — on repositories the tests create commit by commit.
use std::path::{Path, PathBuf};

use sbd_data::pipeline::{self, Config, Options, Quiet, Source};
use sbd_data::record::{Record, VariantKind};
use sbd_data::sources::history;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-data-git-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Writes `files` (path, text; `None` deletes) and commits them on HEAD.
fn commit(repo: &git2::Repository, files: &[(&str, Option<&str>)], message: &str, time: i64) -> git2::Oid {
    let root = repo.workdir().unwrap().to_path_buf();
    let mut index = repo.index().unwrap();
    for (rel, text) in files {
        let p = root.join(rel);
        match text {
            Some(t) => {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, t).unwrap();
                index.add_path(Path::new(rel)).unwrap();
            }
            None => {
                std::fs::remove_file(&p).unwrap();
                index.remove_path(Path::new(rel)).unwrap();
            }
        }
    }
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let sig = git2::Signature::new("Dev", "dev@example.org", &git2::Time::new(time, 0)).unwrap();
    let parent: Vec<git2::Commit> = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).into_iter().collect();
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents).unwrap()
}

const NAME_V1: &str = "#include <string.h>\n\nstruct user { char name[32]; };\n\nvoid set_name(struct user *u, const char *name) {\n    strcpy(u->name, name);\n}\n\nint name_len(const struct user *u) {\n    return (int)strlen(u->name);\n}\n";
const NAME_V2: &str = "#include <string.h>\n\nstruct user { char name[32]; };\n\nvoid set_name(struct user *u, const char *name) {\n    strncpy(u->name, name, sizeof u->name - 1);\n    u->name[sizeof u->name - 1] = '\\0';\n}\n\nint name_len(const struct user *u) {\n    return (int)strlen(u->name);\n}\n";
const RUN_V1: &str = "import os\n\n\ndef archive(path):\n    os.system(\"tar czf backup.tgz \" + path)\n    return True\n\n\ndef label(path):\n    return \"backup of \" + path\n";
const RUN_V2: &str = "import subprocess\n\n\ndef archive(path):\n    subprocess.run([\"tar\", \"czf\", \"backup.tgz\", path], check=True)\n    return True\n\n\ndef label(path):\n    return \"backup of \" + path\n";

/// A repository with one fix by message (CWE named), one refactor, one fix only an OSV
/// record links, and a revert.
fn repo(dir: &Path) -> (git2::Oid, git2::Oid, git2::Oid) {
    let repo = git2::Repository::init(dir).unwrap();
    repo.remote("origin", "https://example.org/acme/tools.git").unwrap();
    commit(
        &repo,
        &[
            ("COPYING", Some("GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991\n")),
            ("src/user.c", Some(NAME_V1)),
            ("tools/backup.py", Some(RUN_V1)),
        ],
        "Initial import",
        1_700_000_000,
    );
    let fix = commit(
        &repo,
        &[("src/user.c", Some(NAME_V2))],
        "Fix buffer overflow in set_name (CWE-120)\n\nA long name overran the struct.",
        1_700_000_100,
    );
    let refactor = commit(
        &repo,
        &[(
            "src/user.c",
            Some(&NAME_V2.replace("return (int)strlen(u->name);", "size_t n = strlen(u->name);\n    return (int)n;")),
        )],
        "Tidy name_len",
        1_700_000_200,
    );
    let linked = commit(&repo, &[("tools/backup.py", Some(RUN_V2))], "Use a list for tar arguments", 1_700_000_300);
    commit(&repo, &[("tools/backup.py", Some(RUN_V1))], "Revert \"Fix command injection in archive\"", 1_700_000_400);
    let _ = refactor;
    (fix, linked, refactor)
}

fn opts() -> Options<'static> {
    Options { shard: None, stop_after: None, progress: &Quiet }
}

#[test]
fn a_repository_is_read_at_head_or_at_a_revision_with_origin_on_every_row() {
    let src = tmp("repo-a");
    let (fix, _, _) = repo(&src);
    let out = tmp("out-a");
    let m = pipeline::build(&out, &Config::default(), &[Source::Tree(src.clone())], &opts()).unwrap().unwrap();
    assert!(
        m.source_notes.iter().any(|n| n.contains("git https://example.org/acme/tools.git at")),
        "{:?}",
        m.source_notes
    );
    let rows = pipeline::rows(&out, &[]).unwrap();
    let head = git2::Repository::open(&src).unwrap().head().unwrap().peel_to_commit().unwrap().id().to_string();
    let originals: Vec<&Record> = rows.iter().filter(|r| r.variant == VariantKind::Original).collect();
    assert!(!originals.is_empty());
    for r in &originals {
        assert_eq!(r.source, "git");
        assert_eq!(r.repo.as_deref(), Some("https://example.org/acme/tools.git"));
        assert_eq!(r.commit.as_deref(), Some(head.as_str()));
        assert_eq!(r.licence.as_deref(), Some("GPL-2.0"));
    }
    // HEAD is the revert: backup.py has os.system again.
    let archive = rows.iter().find(|r| r.id == "git/tools/backup.py#archive@4").expect("archive()");
    assert!(archive.code.contains("os.system") && archive.vulnerable);

    // At the fix commit, set_name is bounded and backup.py is the original.
    let at = format!("{}@{}", src.display(), &fix.to_string()[..12]);
    let source: Source = at.parse().unwrap();
    assert!(matches!(&source, Source::Git { rev, .. } if rev.len() == 12), "{source:?}");
    let out2 = tmp("out-a2");
    pipeline::build(&out2, &Config::default(), &[source], &opts()).unwrap();
    let rows = pipeline::rows(&out2, &[]).unwrap();
    let set_name = rows.iter().find(|r| r.id == "git/src/user.c#set_name@5").expect("set_name()");
    assert!(set_name.code.contains("strncpy") && set_name.commit.as_deref() == Some(fix.to_string().as_str()));

    // `dir:` reads the work tree as plain files, without a commit.
    let out3 = tmp("out-a3");
    pipeline::build(&out3, &Config::default(), &[format!("dir:{}", src.display()).parse().unwrap()], &opts()).unwrap();
    let rows = pipeline::rows(&out3, &[]).unwrap();
    assert!(
        rows.iter().filter(|r| r.variant == VariantKind::Original).all(|r| r.source == "tree" && r.commit.is_none())
    );
    let err = pipeline::build(
        &tmp("out-a4"),
        &Config::default(),
        &[format!("{}@nope", src.display()).parse().unwrap()],
        &opts(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no revision `nope`"), "{err}");
}

#[test]
fn security_fixes_in_the_history_become_labelled_pairs() {
    let src = tmp("repo-b");
    let (fix, linked, refactor) = repo(&src);

    // By message only: the fix; the refactor, the bland commit and the revert are not fixes.
    let (fixes, walk) = history::fixes(&src, None, &history::AdvisoryLinks::default(), 1000).unwrap();
    assert_eq!(walk.commits, 5);
    assert_eq!(fixes.iter().map(|f| f.commit.clone()).collect::<Vec<_>>(), [fix.to_string()]);
    assert_eq!(fixes[0].cwe(), Some(120));
    let (pairs, _) = history::pairs(&src, &fixes[0], 16).unwrap();
    assert_eq!(pairs.len(), 1, "name_len did not change in the fix");
    assert_eq!(pairs[0].function, "set_name");
    assert!(pairs[0].before.code.contains("strcpy(") && pairs[0].after.code.contains("strncpy("));

    // An OSV record naming the bland commit as its fix marks it too.
    let osv_dir = tmp("osv-b");
    std::fs::create_dir_all(&osv_dir).unwrap();
    std::fs::write(
        osv_dir.join("GHSA-2222-3333-4444.json"),
        format!(
            r#"{{"id": "GHSA-2222-3333-4444", "modified": "2024-05-01T00:00:00Z", "summary": "Command injection in archive",
                "affected": [{{"package": {{"ecosystem": "PyPI", "name": "acme-tools"}},
                  "ranges": [{{"type": "GIT", "repo": "https://example.org/acme/tools", "events": [{{"introduced": "0"}}, {{"fixed": "{linked}"}}]}}]}}],
                "database_specific": {{"cwe_ids": ["CWE-78"]}}}}"#
        ),
    )
    .unwrap();
    let out = tmp("out-b");
    let sources = vec![Source::History { path: src.clone(), rev: None }, Source::Osv(osv_dir.clone())];
    let m = pipeline::build(&out, &Config::default(), &sources, &opts()).unwrap().unwrap();
    assert!(
        m.source_notes.iter().any(|n| n.contains("2 security fixes (1 by message, 1 by a linked advisory)")),
        "{:?}",
        m.source_notes
    );
    assert_eq!(m.vulnerabilities, 1);
    let vulns = std::fs::read_to_string(out.join("vulnerabilities.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(vulns.lines().next().unwrap()).unwrap();
    assert_eq!(v["id"], "GHSA-2222-3333-4444");
    assert_eq!(v["cwes"], serde_json::json!([78]));

    let rows = pipeline::rows(&out, &[]).unwrap();
    let history: Vec<&Record> = rows.iter().filter(|r| r.source == "history").collect();
    let c_before = history
        .iter()
        .find(|r| r.language == "c" && r.variant == VariantKind::Insecure)
        .expect("the C fix's before side");
    let c_after =
        history.iter().find(|r| r.group == c_before.group && r.variant == VariantKind::Secure).expect("its after side");
    assert_eq!((c_before.cwe_label, c_before.label_claimed), (Some(120), Some(true)));
    assert_eq!((c_after.cwe_label, c_after.label_claimed), (Some(120), Some(false)));
    assert_eq!(c_after.commit.as_deref(), Some(fix.to_string().as_str()));
    assert_ne!(c_before.commit, c_after.commit, "the before side is the parent commit");
    assert_eq!(c_before.task.as_deref(), Some("Fix buffer overflow in set_name (CWE-120)"));
    assert_eq!(c_before.repo.as_deref(), Some("https://example.org/acme/tools.git"));
    assert_eq!(c_before.licence.as_deref(), Some("GPL-2.0"));
    assert_eq!(c_before.split, c_after.split, "a pair never straddles splits");
    // The linked fix: labelled with the advisory's CWE; the verifier agrees on both sides.
    let py_before = history
        .iter()
        .find(|r| r.language == "python" && r.variant == VariantKind::Insecure)
        .expect("the linked fix's before side");
    assert_eq!(py_before.cwe_label, Some(78));
    assert!(py_before.vulnerable && py_before.label_verified, "{:?}", py_before.rules);
    let py_after = history.iter().find(|r| r.group == py_before.group && r.variant == VariantKind::Secure).unwrap();
    assert!(!py_after.vulnerable && py_after.label_verified);
    // The refactor is no fix (it is only the parent, the before side, of the linked one).
    let short = &refactor.to_string()[..12];
    assert!(history.iter().all(|r| !r.group.ends_with(short)));
    assert_eq!(py_before.commit.as_deref(), Some(refactor.to_string().as_str()));
    let v = pipeline::validate(&out).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
}
