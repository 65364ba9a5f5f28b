//! The RustSec advisory database (`crates/<package>/RUSTSEC-YYYY-NNNN.md`).
//!
//! Each advisory is Markdown with a TOML front matter block (```` ```toml ````) holding
//! `[advisory]` (id, package, date, aliases, categories, keywords, cvss, informational…),
//! `[versions]` (patched, unaffected) and optionally `[affected]` (functions and the versions
//! in which they are vulnerable). The Markdown's first heading is the title, the rest the
//! description.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::read;
use crate::Error;

/// One advisory as a vulnerability record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advisory {
    pub id: String,
    pub package: String,
    pub date: String,
    pub aliases: Vec<String>,
    pub categories: Vec<String>,
    pub keywords: Vec<String>,
    pub cvss: Option<String>,
    /// `unmaintained`, `unsound`, `notice` … for informational advisories.
    pub informational: Option<String>,
    pub withdrawn: Option<String>,
    pub patched: Vec<String>,
    pub unaffected: Vec<String>,
    /// Affected function paths (`crate::module::fn`) and their vulnerable version ranges.
    pub affected_functions: BTreeMap<String, Vec<String>>,
    pub title: String,
    pub description: String,
    pub path: String,
    /// `rustsec` or `osv`: the format the record was read from.
    pub format: String,
    /// The package ecosystem (`crates.io`, `PyPI`, `npm`, `Go`, …).
    pub ecosystem: String,
    /// CWE numbers the record states (OSV `database_specific.cwe_ids`; RustSec has none).
    pub cwe_ids: Vec<u32>,
    /// Commits the record names as fixes (OSV git ranges, `…/commit/<id>` references).
    pub fix_commits: Vec<String>,
    pub references: Vec<String>,
    /// OSV version ranges (`introduced` / `fixed` / `last_affected` events); empty for
    /// RustSec, whose `patched` and `unaffected` requirements say the same.
    pub ranges: Vec<VersionRange>,
}

/// One OSV interval of affected versions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VersionRange {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
}

/// `>= 1.2.3 ` → a requirement (`None` for text semver cannot read).
fn req(text: &str) -> Option<semver::VersionReq> {
    semver::VersionReq::parse(text.trim()).ok()
}

fn version(text: &str) -> Option<semver::Version> {
    let t = text.trim();
    semver::Version::parse(t).ok().or_else(|| match t.matches('.').count() {
        0 => semver::Version::parse(&format!("{t}.0.0")).ok(),
        1 => semver::Version::parse(&format!("{t}.0")).ok(),
        _ => None,
    })
}

impl Advisory {
    /// CWE-like classes implied by the advisory's categories (RustSec has no CWE field).
    pub fn cwes(&self) -> Vec<u32> {
        let mut out = Vec::new();
        for c in &self.categories {
            let cwe: &[u32] = match c.as_str() {
                "memory-corruption" => &[119, 787],
                "memory-exposure" => &[125, 200],
                "denial-of-service" => &[400],
                "crypto-failure" => &[327],
                "format-injection" => &[74],
                "code-execution" => &[94],
                "file-disclosure" => &[22, 200],
                "privilege-escalation" => &[269],
                "thread-safety" => &[362],
                _ => &[],
            };
            out.extend_from_slice(cwe);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Is `v` affected? RustSec: neither patched nor unaffected. OSV: inside a range
    /// (`introduced <= v < fixed`, or `<= last_affected`).
    pub fn affects(&self, v: &semver::Version) -> bool {
        if self.format == "osv" {
            return self.ranges.iter().any(|r| {
                let lo = r.introduced.as_deref().filter(|i| *i != "0").and_then(version);
                let above = lo.is_none_or(|lo| *v >= lo);
                let below = match (r.fixed.as_deref().and_then(version), r.last_affected.as_deref().and_then(version)) {
                    (Some(f), _) => *v < f,
                    (None, Some(l)) => *v <= l,
                    (None, None) => true,
                };
                above && below
            });
        }
        let any = |reqs: &[String]| reqs.iter().filter_map(|r| req(r)).any(|r| r.matches(v));
        !any(&self.patched) && !any(&self.unaffected)
    }

    /// Is `v` a patched version (after a fix, not merely before the bug)?
    pub fn patched_in(&self, v: &semver::Version) -> bool {
        if self.format == "osv" {
            let fixed = self.ranges.iter().filter_map(|r| r.fixed.as_deref().and_then(version));
            return !self.affects(v) && fixed.into_iter().any(|f| *v >= f);
        }
        self.patched.iter().filter_map(|r| req(r)).any(|r| r.matches(v))
    }

    /// CWEs of the record: those it states, else those its categories imply.
    pub fn all_cwes(&self) -> Vec<u32> {
        if self.cwe_ids.is_empty() { self.cwes() } else { self.cwe_ids.clone() }
    }

    /// True for advisories that describe a vulnerability (not `unmaintained` notices).
    pub fn is_vulnerability(&self) -> bool {
        self.withdrawn.is_none() && !matches!(self.informational.as_deref(), Some("unmaintained" | "notice"))
    }
}

#[derive(Deserialize)]
struct Front {
    advisory: AdvisorySection,
    #[serde(default)]
    versions: VersionsSection,
    #[serde(default)]
    affected: Option<AffectedSection>,
}

#[derive(Deserialize)]
struct AdvisorySection {
    id: String,
    package: String,
    date: toml::Value,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    cvss: Option<String>,
    #[serde(default)]
    informational: Option<String>,
    #[serde(default)]
    withdrawn: Option<toml::Value>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    references: Vec<String>,
}

#[derive(Deserialize, Default)]
struct VersionsSection {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

#[derive(Deserialize)]
struct AffectedSection {
    #[serde(default)]
    functions: BTreeMap<String, Vec<String>>,
}

/// Parses one advisory file's text.
pub fn parse(path: &Path, text: &str) -> Result<Advisory, Error> {
    let fmt = |message: String| Error::Format { path: path.display().to_string(), message };
    let body = text.trim_start_matches('\u{feff}');
    let start = body.find("```toml").ok_or_else(|| fmt("no ```toml front matter block".into()))?;
    let after = &body[start + "```toml".len()..];
    let end = after.find("```").ok_or_else(|| fmt("the ```toml block is not closed".into()))?;
    let front: Front = toml::from_str(&after[..end]).map_err(|e| fmt(format!("front matter: {e}")))?;
    let markdown = after[end + 3..].trim();
    let (title, description) = match markdown.split_once('\n') {
        Some((first, rest)) if first.starts_with('#') => {
            (first.trim_start_matches('#').trim().to_string(), rest.trim().to_string())
        }
        _ => (String::new(), markdown.to_string()),
    };
    let value_text = |v: &toml::Value| match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    };
    Ok(Advisory {
        id: front.advisory.id,
        package: front.advisory.package,
        date: value_text(&front.advisory.date),
        aliases: front.advisory.aliases,
        categories: front.advisory.categories,
        keywords: front.advisory.keywords,
        cvss: front.advisory.cvss,
        informational: front.advisory.informational,
        withdrawn: front.advisory.withdrawn.as_ref().map(value_text),
        patched: front.versions.patched,
        unaffected: front.versions.unaffected,
        affected_functions: front.affected.map(|a| a.functions).unwrap_or_default(),
        title,
        description,
        path: path.display().to_string(),
        format: "rustsec".into(),
        ecosystem: "crates.io".into(),
        cwe_ids: Vec::new(),
        fix_commits: front
            .advisory
            .url
            .iter()
            .chain(&front.advisory.references)
            .filter_map(|u| commit_of_url(u))
            .collect(),
        references: front.advisory.url.into_iter().chain(front.advisory.references).collect(),
        ranges: Vec::new(),
    })
}

/// The commit id in a `…/commit/<id>` (GitHub, GitLab) or `…/commits/<id>` URL.
pub fn commit_of_url(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("/commit/").or_else(|| url.split_once("/commits/"))?;
    let id: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    (id.len() >= 7).then(|| id.to_ascii_lowercase())
}

/// Reads every advisory under `root` (the database's `crates/` folder or its parent), sorted
/// by path. Files that fail to parse are returned as errors beside the advisories.
pub fn load_db(root: &Path) -> Result<(Vec<Advisory>, Vec<Error>), Error> {
    let crates = if root.join("crates").is_dir() { root.join("crates") } else { root.to_path_buf() };
    let mut files: Vec<PathBuf> = Vec::new();
    let dirs = std::fs::read_dir(&crates).map_err(|source| Error::Io { path: crates.display().to_string(), source })?;
    for d in dirs.flatten() {
        if let Ok(entries) = std::fs::read_dir(d.path()) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "md")));
        }
    }
    files.sort();
    let mut advisories = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for f in files {
        match read(&f).and_then(|t| parse(&f, &t)) {
            Ok(a) => advisories.push(a),
            Err(e) => errors.push(e),
        }
    }
    Ok((advisories, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "```toml\n[advisory]\nid = \"RUSTSEC-2099-0001\"\npackage = \"demo\"\ndate = \"2099-01-02\"\n\
        categories = [\"memory-corruption\"]\naliases = [\"CVE-2099-1\"]\n\n[versions]\npatched = [\">= 1.2.3\"]\n\n\
        [affected.functions]\n\"demo::Buf::push\" = [\"< 1.2.3\"]\n```\n\n# Out-of-bounds write in `Buf::push`\n\n\
        `push` did not check capacity.\n";

    #[test]
    fn parses_front_matter_and_markdown() {
        let a = parse(Path::new("x.md"), SAMPLE).unwrap();
        assert_eq!(a.id, "RUSTSEC-2099-0001");
        assert_eq!(a.patched, vec![">= 1.2.3"]);
        assert_eq!(a.affected_functions["demo::Buf::push"], vec!["< 1.2.3"]);
        assert_eq!(a.title, "Out-of-bounds write in `Buf::push`");
        assert_eq!(a.description, "`push` did not check capacity.");
        assert_eq!(a.cwes(), vec![119, 787]);
        assert!(a.is_vulnerability());
        let v = |s: &str| semver::Version::parse(s).unwrap();
        assert!(a.affects(&v("1.2.2")) && !a.affects(&v("1.2.3")));
        assert!(a.patched_in(&v("1.3.0")) && !a.patched_in(&v("0.9.0")));
        assert_eq!(commit_of_url("https://github.com/o/r/commit/ABCDEF0123#diff").as_deref(), Some("abcdef0123"));
        assert_eq!(commit_of_url("https://github.com/o/r/pull/12"), None);
    }

    #[test]
    fn malformed_advisories_say_what_is_wrong() {
        let e = parse(Path::new("y.md"), "# no front matter").unwrap_err().to_string();
        assert_eq!(e, "y.md: no ```toml front matter block");
        let e = parse(Path::new("z.md"), "```toml\n[advisory]\nid = 1\n```").unwrap_err().to_string();
        assert!(e.starts_with("z.md: front matter:"), "{e}");
    }
}
