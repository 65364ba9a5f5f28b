//! Git history mining: security fixes as before/after function pairs.
//!
//! [`fixes`] walks the commits reachable from a revision (`HEAD` by default), newest first,
//! and keeps the non-merge commits that a security fix:
//! - by their **message** ([`classify`]): a vulnerability id (`CVE-YYYY-N`, `CWE-N`,
//!   `GHSA-xxxx-xxxx-xxxx`, `RUSTSEC-YYYY-NNNN`, `PYSEC-YYYY-N`, `GO-YYYY-NNNN`) or one of the
//!   words of [`WORDS`] (memory errors such as *overflow*, *out-of-bounds*, *use-after-free*,
//!   *double free*; injection and web weaknesses such as *injection*, *XSS*, *CSRF*, *SSRF*,
//!   *path traversal*; hygiene such as *sanitize*, *escape … html*; and general terms such as
//!   *security*, *vulnerability*, *exploit*, *denial of service*, *unsound*); reverts are
//!   left out (a revert of a fix undoes it);
//! - or by a **linked advisory**: an OSV record whose git range is fixed by the commit, or an
//!   advisory reference to `…/commit/<id>` ([`AdvisoryLinks`]), whatever the message says.
//!
//! [`pairs`] diffs such a commit against its parent, cuts both versions of each changed file
//! with the verifier's parsers ([`crate::units::cut`]) and pairs the functions that the
//! commit changed: same scope-qualified name and position among namesakes, different text
//! (not just re-indented). Functions that were only added or only removed have no pair.
//! The pair is labelled with the CWE the message (or the linked advisory) names, if any.
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;
use sbd_scan::Language;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::units::cut;

/// Words and phrases (case-insensitive, whole words) that mark a commit message as a security
/// fix, with the weakness family they suggest.
pub const WORDS: &[(&str, &str)] = &[
    // Memory safety.
    ("overflow", "memory"),
    ("underflow", "memory"),
    ("out-of-bounds", "memory"),
    ("out of bounds", "memory"),
    ("oob", "memory"),
    ("over-read", "memory"),
    ("overread", "memory"),
    ("use-after-free", "memory"),
    ("use after free", "memory"),
    ("uaf", "memory"),
    ("double free", "memory"),
    ("double-free", "memory"),
    ("dangling pointer", "memory"),
    ("null pointer dereference", "memory"),
    ("null dereference", "memory"),
    ("uninitialized memory", "memory"),
    ("uninitialised memory", "memory"),
    ("memory corruption", "memory"),
    ("heap corruption", "memory"),
    ("memory leak", "memory"),
    ("off-by-one", "memory"),
    ("bounds check", "memory"),
    ("unsound", "memory"),
    ("unsoundness", "memory"),
    ("undefined behavior", "memory"),
    ("undefined behaviour", "memory"),
    // Injection and the web.
    ("injection", "injection"),
    ("xss", "injection"),
    ("cross-site scripting", "injection"),
    ("csrf", "web"),
    ("cross-site request forgery", "web"),
    ("ssrf", "web"),
    ("server-side request forgery", "web"),
    ("xxe", "web"),
    ("open redirect", "web"),
    ("path traversal", "web"),
    ("directory traversal", "web"),
    ("zip slip", "web"),
    ("prototype pollution", "injection"),
    ("redos", "resource"),
    ("insecure deserialization", "injection"),
    ("unsafe deserialization", "injection"),
    // Hygiene.
    ("sanitize", "hygiene"),
    ("sanitise", "hygiene"),
    ("sanitization", "hygiene"),
    ("sanitisation", "hygiene"),
    ("sanitizing", "hygiene"),
    ("unsanitized", "hygiene"),
    ("unescaped", "hygiene"),
    ("escape html", "hygiene"),
    ("html escaping", "hygiene"),
    // General.
    ("security", "general"),
    ("vulnerability", "general"),
    ("vulnerabilities", "general"),
    ("vulnerable", "general"),
    ("exploit", "general"),
    ("exploitable", "general"),
    ("rce", "general"),
    ("remote code execution", "general"),
    ("arbitrary code execution", "general"),
    ("privilege escalation", "general"),
    ("authentication bypass", "general"),
    ("authorization bypass", "general"),
    ("denial of service", "resource"),
    ("denial-of-service", "resource"),
    ("race condition", "concurrency"),
    ("toctou", "concurrency"),
    ("timing attack", "crypto"),
    ("constant-time", "crypto"),
    ("side channel", "crypto"),
    ("side-channel", "crypto"),
    ("information disclosure", "general"),
    ("information leak", "general"),
    ("hardcoded credential", "general"),
    ("hard-coded credential", "general"),
    ("hardcoded password", "general"),
    ("certificate validation", "crypto"),
    ("certificate verification", "crypto"),
];

/// Why a commit counts as a security fix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Vulnerability ids in the message (upper-cased), in order of appearance.
    pub ids: Vec<String>,
    /// CWE numbers the message or the linked advisory names.
    pub cwes: Vec<u32>,
    /// Words of [`WORDS`] found in the message.
    pub words: Vec<String>,
    /// Advisories that name this commit as their fix.
    pub advisories: Vec<String>,
}

impl Evidence {
    pub fn is_fix(&self) -> bool {
        !self.ids.is_empty() || !self.words.is_empty() || !self.advisories.is_empty()
    }
}

fn id_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(
            r"(?i)\b(CVE-\d{4}-\d{4,}|CWE-\d{1,4}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|RUSTSEC-\d{4}-\d{4}|PYSEC-\d{4}-\d+|GO-\d{4}-\d{4,})\b",
        )
        .expect("a valid id pattern")
    })
}

fn word_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        let alts: Vec<String> =
            WORDS.iter().map(|(w, _)| w.split(' ').map(regex::escape).collect::<Vec<_>>().join(r"\s+")).collect();
        Regex::new(&format!(r"(?i)\b(?:{})\b", alts.join("|"))).expect("a valid word pattern")
    })
}

/// What a commit message says about security.
pub fn classify(message: &str) -> Evidence {
    let mut e = Evidence::default();
    let summary = message.lines().next().unwrap_or("").trim_start();
    if summary.to_ascii_lowercase().starts_with("revert") {
        return e;
    }
    for m in id_re().find_iter(message) {
        let id = m.as_str().to_ascii_uppercase();
        if let Some(n) = id.strip_prefix("CWE-").and_then(|n| n.parse::<u32>().ok())
            && !e.cwes.contains(&n)
        {
            e.cwes.push(n);
        }
        if !e.ids.contains(&id) {
            e.ids.push(id);
        }
    }
    for m in word_re().find_iter(message) {
        let w = m.as_str().to_ascii_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
        if !e.words.contains(&w) {
            e.words.push(w);
        }
    }
    e
}

/// Commits that advisories name as their fix: full or abbreviated (≥ 7 hex digits) ids.
#[derive(Debug, Clone, Default)]
pub struct AdvisoryLinks {
    by_prefix: BTreeMap<String, Vec<(String, Vec<u32>)>>,
}

impl AdvisoryLinks {
    /// Records that advisory `id` (with CWEs `cwes`) is fixed by `commit`.
    pub fn add(&mut self, commit: &str, id: &str, cwes: &[u32]) {
        let c = commit.trim().to_ascii_lowercase();
        if c.len() >= 7 && c.chars().all(|x| x.is_ascii_hexdigit()) {
            self.by_prefix.entry(c).or_default().push((id.to_string(), cwes.to_vec()));
        }
    }

    /// Advisories naming the commit with full id `commit`.
    pub fn lookup(&self, commit: &str) -> Vec<(String, Vec<u32>)> {
        let c = commit.to_ascii_lowercase();
        let mut out = Vec::new();
        // Keys that are prefixes of `c` sort just before or at it; scan the short run of
        // keys sharing its first 7 digits.
        for (k, v) in self.by_prefix.range(c[..7.min(c.len())].to_string()..) {
            if !k.starts_with(&c[..7.min(c.len())]) {
                break;
            }
            if c.starts_with(k.as_str()) {
                out.extend(v.iter().cloned());
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.by_prefix.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_prefix.is_empty()
    }
}

/// A commit that fixes a security issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fix {
    pub commit: String,
    pub parent: String,
    /// The message's first line.
    pub summary: String,
    pub evidence: Evidence,
}

impl Fix {
    /// The CWE the pair is labelled with: the first one named.
    pub fn cwe(&self) -> Option<u32> {
        self.evidence.cwes.first().copied()
    }
}

fn gerr(path: &Path, e: git2::Error) -> Error {
    Error::Format { path: path.display().to_string(), message: format!("git: {}", e.message()) }
}

/// What [`fixes`] looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Walk {
    pub commits: u64,
    pub merges: u64,
    pub fixes: u64,
    pub by_message: u64,
    pub by_advisory: u64,
}

/// The security-fix commits reachable from `rev` in the repository at or above `path`, newest
/// first, at most `max_commits` commits walked.
pub fn fixes(
    path: &Path,
    rev: Option<&str>,
    links: &AdvisoryLinks,
    max_commits: u64,
) -> Result<(Vec<Fix>, Walk), Error> {
    let (repo, _) = crate::units::git::discover(path).ok_or_else(|| {
        Error::Config(format!("history:{}: not inside a git repository (no .git found here or above)", path.display()))
    })?;
    let start = crate::units::git::resolve(&repo, rev, path)?;
    let mut walk = repo.revwalk().map_err(|e| gerr(path, e))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME).map_err(|e| gerr(path, e))?;
    walk.push(start.id()).map_err(|e| gerr(path, e))?;
    let mut out = Vec::new();
    let mut stats = Walk::default();
    for oid in walk {
        if stats.commits >= max_commits {
            break;
        }
        let oid = oid.map_err(|e| gerr(path, e))?;
        stats.commits += 1;
        let commit = repo.find_commit(oid).map_err(|e| gerr(path, e))?;
        if commit.parent_count() != 1 {
            stats.merges += u64::from(commit.parent_count() > 1);
            continue;
        }
        let message = String::from_utf8_lossy(commit.message_bytes()).into_owned();
        let mut evidence = classify(&message);
        let by_message = evidence.is_fix();
        for (id, cwes) in links.lookup(&oid.to_string()) {
            if !evidence.advisories.contains(&id) {
                evidence.advisories.push(id);
            }
            for c in cwes {
                if !evidence.cwes.contains(&c) {
                    evidence.cwes.push(c);
                }
            }
        }
        if !evidence.is_fix() {
            continue;
        }
        stats.fixes += 1;
        if by_message {
            stats.by_message += 1;
        } else {
            stats.by_advisory += 1;
        }
        let parent = commit.parent_id(0).map_err(|e| gerr(path, e))?;
        out.push(Fix {
            commit: oid.to_string(),
            parent: parent.to_string(),
            summary: message.lines().next().unwrap_or("").trim().to_string(),
            evidence,
        });
    }
    Ok((out, stats))
}

/// One side of a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub code: String,
    pub start_line: u32,
}

/// A function before and after a fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FnPair {
    pub path: String,
    pub language: Language,
    /// Scope-qualified name (`Type::method`).
    pub function: String,
    pub before: Side,
    pub after: Side,
}

/// Function pieces of `text` keyed by qualified name and position among namesakes.
fn keyed(text: &str, lang: Language) -> BTreeMap<(String, usize), cut::Piece> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for p in cut::functions(text, lang) {
        let q = p.qualified();
        let n = seen.entry(q.clone()).or_default();
        out.insert((q, *n), p);
        *n += 1;
    }
    out
}

/// Pairs the functions two versions of one file have in common whose text differs.
pub fn changed_functions(path: &str, lang: Language, before: &str, after: &str) -> Vec<FnPair> {
    let (b, a) = (keyed(before, lang), keyed(after, lang));
    let mut out = Vec::new();
    for (key, pa) in &a {
        let Some(pb) = b.get(key) else { continue };
        let (Some(tb), Some(ta)) = (before.get(pb.start_byte..pb.end_byte), after.get(pa.start_byte..pa.end_byte))
        else {
            continue;
        };
        if crate::quality::dedup::exact_key(tb) == crate::quality::dedup::exact_key(ta) {
            continue;
        }
        out.push(FnPair {
            path: path.to_string(),
            language: lang,
            function: key.0.clone(),
            before: Side { code: tb.to_string(), start_line: pb.start_line },
            after: Side { code: ta.to_string(), start_line: pa.start_line },
        });
    }
    out.sort_by_key(|p| p.after.start_line);
    out
}

/// What [`pairs`] skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairNotes {
    /// The commit changed more files in verifier languages than allowed.
    pub too_many_files: bool,
    pub files: usize,
}

/// The changed functions of `fix` in the repository at `repo` (a path [`git2::Repository::open`]
/// accepts), for files in a verifier language; nothing when it changes more than `max_files`
/// such files (a sweeping refactor is no function-level lesson).
pub fn pairs(repo: &Path, fix: &Fix, max_files: usize) -> Result<(Vec<FnPair>, PairNotes), Error> {
    crate::units::git::with_repo(repo, |r| {
        let tree_of = |id: &str| -> Result<git2::Tree<'_>, Error> {
            let oid = git2::Oid::from_str(id).map_err(|e| gerr(repo, e))?;
            r.find_commit(oid).and_then(|c| c.tree()).map_err(|e| gerr(repo, e))
        };
        let (old, new) = (tree_of(&fix.parent)?, tree_of(&fix.commit)?);
        let diff = r.diff_tree_to_tree(Some(&old), Some(&new), None).map_err(|e| gerr(repo, e))?;
        let mut changed = Vec::new();
        for d in diff.deltas() {
            if d.status() != git2::Delta::Modified {
                continue;
            }
            let (Some(p), o, n) = (d.new_file().path(), d.old_file().id(), d.new_file().id()) else { continue };
            let rel = p.to_string_lossy().replace('\\', "/");
            let lang = rel.rsplit_once('.').and_then(|(_, x)| Language::from_extension(x));
            if let Some(lang) = lang {
                changed.push((rel, lang, o, n));
            }
        }
        let mut notes = PairNotes { too_many_files: false, files: changed.len() };
        if changed.len() > max_files {
            notes.too_many_files = true;
            return Ok((Vec::new(), notes));
        }
        let text = |oid: git2::Oid| -> Option<String> {
            let blob = r.find_blob(oid).ok()?;
            String::from_utf8(blob.content().to_vec()).ok()
        };
        let mut out = Vec::new();
        for (rel, lang, o, n) in changed {
            if let (Some(before), Some(after)) = (text(o), text(n)) {
                out.extend(changed_functions(&rel, lang, &before, &after));
            }
        }
        Ok((out, notes))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_that_mark_security_fixes() {
        let e = classify("Fix heap overflow in parse_header (CVE-2024-12345, CWE-122)\n\nReported by X.");
        assert!(e.is_fix());
        assert_eq!(e.ids, ["CVE-2024-12345", "CWE-122"]);
        assert_eq!(e.cwes, [122]);
        assert_eq!(e.words, ["overflow"]);
        assert_eq!(classify("sanitize user input before building the query").words, ["sanitize"]);
        assert_eq!(classify("Use after   free in list_remove").words, ["use after free"]);
        assert_eq!(classify("bump RUSTSEC-2021-0001 / ghsa-xxxx").ids, ["RUSTSEC-2021-0001"]);
        assert!(!classify("Add README and tidy the CI config").is_fix());
        assert!(!classify("Overflowing text in the header").is_fix(), "whole words only");
        assert!(!classify("Revert \"Fix buffer overflow\"").is_fix(), "a revert undoes a fix");
    }

    #[test]
    fn changed_functions_pair_by_qualified_name() {
        let before = "class A:\n    def run(self, cmd):\n        os.system(cmd)\n\ndef same():\n    return 1\n\ndef gone():\n    pass\n";
        let after = "class A:\n    def run(self, cmd):\n        subprocess.run([cmd])\n\ndef same():\n        return 1\n\ndef added():\n    pass\n";
        let p = changed_functions("a.py", Language::Python, before, after);
        assert_eq!(p.len(), 1, "re-indentation is no change; added and removed functions have no pair");
        assert_eq!(p[0].function, "A::run");
        assert!(p[0].before.code.contains("os.system") && p[0].after.code.contains("subprocess.run"));
        assert_eq!(p[0].after.start_line, 2);
    }

    #[test]
    fn advisory_links_match_abbreviated_ids() {
        let mut l = AdvisoryLinks::default();
        l.add("abcdef1", "GHSA-1", &[79]);
        l.add("0123456789abcdef0123456789abcdef01234567", "OSV-2", &[]);
        l.add("xyz", "bad", &[]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.lookup("abcdef1234567890abcdef1234567890abcdef12"), vec![("GHSA-1".to_string(), vec![79])]);
        assert_eq!(l.lookup("0123456789abcdef0123456789abcdef01234567").len(), 1);
        assert!(l.lookup("1111111111111111111111111111111111111111").is_empty());
    }
}
