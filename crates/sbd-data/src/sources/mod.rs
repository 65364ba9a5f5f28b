//! Readers that turn public datasets into [`Sample`]s, vulnerability databases into
//! advisories ([`rustsec`], [`osv`]) and fixes into before/after function pairs
//! ([`history`] for git history, [`crates`] for crates.io releases fetched with cargo).

pub mod crates;
pub mod cyberseceval;
pub mod history;
pub mod labelled;
pub mod osv;
pub mod pairs;
pub mod rustsec;

use serde::{Deserialize, Serialize};

/// Which side of a vulnerable/fixed pair a sample is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    Vulnerable,
    Fixed,
}

/// Where a sample came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The dataset (`cyberseceval-instruct`, `sven`, `safecoder`, a user's file name …).
    pub dataset: String,
    /// Upstream repository, path and commit where known.
    pub repo: Option<String>,
    pub path: Option<String>,
    pub commit: Option<String>,
}

/// One labelled piece of code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// Stable within its dataset (`sven/train/cwe-022/7/vulnerable`).
    pub id: String,
    /// Canonical language name (see [`crate::lang`]).
    pub language: String,
    pub code: String,
    /// True when the code holds the weakness named by `cwe`.
    pub vulnerable: bool,
    /// The labelled CWE number (`CWE-787` → 787).
    pub cwe: Option<u32>,
    /// 1-based line of the flagged construct within `code`, where the dataset gives one.
    pub line: Option<usize>,
    /// Pair id and side for paired datasets.
    pub pair: Option<(String, Variant)>,
    /// Task or description text where the dataset has one (prompts, commit messages).
    pub description: Option<String>,
    pub origin: Origin,
}

/// What a reader loaded and what it had to skip.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    pub loaded: usize,
    /// (reason, count) for records that could not be used.
    pub skipped: Vec<(String, usize)>,
}

impl LoadReport {
    pub(crate) fn skip(&mut self, reason: impl Into<String>) {
        let reason = reason.into();
        match self.skipped.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => self.skipped.push((reason, 1)),
        }
    }
}

/// `"CWE-787"`, `"cwe-022"`, `"787"` → 787.
pub fn parse_cwe(text: &str) -> Option<u32> {
    let t = text.trim();
    let digits =
        t.strip_prefix("CWE-").or_else(|| t.strip_prefix("cwe-")).or_else(|| t.strip_prefix("CWE")).unwrap_or(t);
    digits.trim_start_matches('0').parse().ok().or_else(|| digits.parse().ok())
}

pub(crate) fn read(path: &std::path::Path) -> Result<String, crate::Error> {
    std::fs::read_to_string(path).map_err(|source| crate::Error::Io { path: path.display().to_string(), source })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_cwes() {
        assert_eq!(super::parse_cwe("CWE-787"), Some(787));
        assert_eq!(super::parse_cwe("cwe-022"), Some(22));
        assert_eq!(super::parse_cwe("79"), Some(79));
        assert_eq!(super::parse_cwe("CWE-"), None);
        assert_eq!(super::parse_cwe("none"), None);
    }
}
