//! The seed corpus shipped in the repository: secure/insecure pairs written for this project,
//! one TOML file per pair under `crates/sbd-data/seed/<language>/cwe-<nnn>-<slug>.toml` with
//! `task`, `cwe`, `insecure`, `secure` and an optional `explanation`. The files are embedded
//! in the binary at build time, so `sbd data build` works on a machine with nothing else.
//!
//! [`confirm`] asks the verifier whether it flags each insecure version for its CWE (or a
//! close relative, see [`crate::cwe`]) and leaves the secure version clean; pairs it cannot
//! confirm are the verifier's blind spots, reported rather than hidden.
use serde::{Deserialize, Serialize};

use sbd_scan::{Language, Scanner};

include!(concat!(env!("OUT_DIR"), "/seed_files.rs"));

/// One secure/insecure pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedPair {
    /// `python/cwe-078-archive-dir`.
    pub id: String,
    pub language: Language,
    pub cwe: u32,
    pub task: String,
    pub insecure: String,
    pub secure: String,
    pub explanation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    task: String,
    cwe: u32,
    insecure: String,
    secure: String,
    #[serde(default)]
    explanation: Option<String>,
}

/// Parses every embedded pair. Errors name the file; a broken seed file is a build defect.
pub fn pairs() -> Result<Vec<SeedPair>, crate::Error> {
    SEED_FILES.iter().map(|(path, text)| parse(path, text)).collect()
}

/// Parses one seed file; `path` is relative to `seed/` (`python/cwe-078-x.toml`).
pub fn parse(path: &str, text: &str) -> Result<SeedPair, crate::Error> {
    let fmt = |message: String| crate::Error::Format { path: format!("seed/{path}"), message };
    let f: File = toml::from_str(text).map_err(|e| fmt(e.to_string()))?;
    let (dir, name) = path.split_once('/').ok_or_else(|| fmt("expected <language>/<file>.toml".into()))?;
    let language: Language = dir.parse().map_err(|_| fmt(format!("unknown language directory {dir:?}")))?;
    let stem = name.strip_suffix(".toml").unwrap_or(name);
    let named = stem.strip_prefix("cwe-").and_then(|s| s.split('-').next()).and_then(|n| n.parse::<u32>().ok());
    if named != Some(f.cwe) {
        return Err(fmt(format!("file name says CWE {named:?}, the file says {}", f.cwe)));
    }
    if f.task.trim().is_empty() || f.insecure.trim().is_empty() || f.secure.trim().is_empty() {
        return Err(fmt("task, insecure and secure must not be empty".into()));
    }
    Ok(SeedPair {
        id: format!("{dir}/{stem}"),
        language,
        cwe: f.cwe,
        task: f.task,
        insecure: f.insecure,
        secure: f.secure,
        explanation: f.explanation.filter(|e| !e.trim().is_empty()),
    })
}

/// What the verifier says about one pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Confirmation {
    pub id: String,
    pub cwe: u32,
    /// The insecure version has an active finding whose CWE is related to the label.
    pub insecure_flagged: bool,
    /// The secure version has an active finding related to the label (a defect of the pair or
    /// a false positive of the verifier).
    pub secure_flagged: bool,
    /// Rules that fired on the insecure version.
    pub insecure_rules: Vec<String>,
    /// Rules that fired on the secure version.
    pub secure_rules: Vec<String>,
}

impl Confirmation {
    pub fn confirmed(&self) -> bool {
        self.insecure_flagged && !self.secure_flagged
    }
}

/// Scans both sides of every pair.
pub fn confirm(scanner: &Scanner, pairs: &[SeedPair]) -> Vec<Confirmation> {
    pairs
        .iter()
        .map(|p| {
            let bad = scanner.scan(&p.insecure, p.language);
            let good = scanner.scan(&p.secure, p.language);
            let related =
                |r: &sbd_scan::Report| r.findings.iter().any(|f| f.cwe.iter().any(|&c| crate::cwe::related(c, p.cwe)));
            Confirmation {
                id: p.id.clone(),
                cwe: p.cwe,
                insecure_flagged: related(&bad),
                secure_flagged: related(&good),
                insecure_rules: bad.findings.iter().map(|f| f.rule.clone()).collect(),
                secure_rules: good.findings.iter().map(|f| f.rule.clone()).collect(),
            }
        })
        .collect()
}
