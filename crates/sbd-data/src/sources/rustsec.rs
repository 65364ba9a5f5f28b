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
    })
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
    }

    #[test]
    fn malformed_advisories_say_what_is_wrong() {
        let e = parse(Path::new("y.md"), "# no front matter").unwrap_err().to_string();
        assert_eq!(e, "y.md: no ```toml front matter block");
        let e = parse(Path::new("z.md"), "```toml\n[advisory]\nid = 1\n```").unwrap_err().to_string();
        assert!(e.starts_with("z.md: front matter:"), "{e}");
    }
}
