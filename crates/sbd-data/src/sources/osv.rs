//! OSV (Open Source Vulnerability) JSON records, as served by osv.dev and exported by GitHub
//! (GHSA), RustSec, PyPA and the Go vulnerability database.
//!
//! A file holds one record or an array of them; a directory is read recursively (`*.json`, in
//! path order). Each affected package of a record becomes one [`Advisory`] (the same type the
//! RustSec reader fills, `format = "osv"`): its `SEMVER`/`ECOSYSTEM` ranges become
//! [`VersionRange`]s, `GIT` ranges' `fixed` events and `…/commit/<id>` references become fix
//! commits (which git history mining picks up), `database_specific.cwe_ids` the CWEs, and
//! `ecosystem_specific.affects.functions` (RustSec's export) the affected functions.
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::read;
use super::rustsec::{Advisory, VersionRange, commit_of_url};
use crate::Error;

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The advisories of one OSV record.
pub fn parse_record(path: &Path, v: &Value) -> Result<Vec<Advisory>, Error> {
    let fmt = |m: &str| Error::Format { path: path.display().to_string(), message: m.to_string() };
    let obj = v.as_object().ok_or_else(|| fmt("an OSV record must be a JSON object"))?;
    let id = obj.get("id").and_then(Value::as_str).ok_or_else(|| fmt("OSV record without an `id`"))?;
    let text = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut cwe_ids: Vec<u32> =
        strings(v.pointer("/database_specific/cwe_ids")).iter().filter_map(|c| super::parse_cwe(c)).collect();
    cwe_ids.sort_unstable();
    cwe_ids.dedup();
    let references: Vec<String> = obj
        .get("references")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|r| r.get("url").and_then(Value::as_str).map(str::to_string)).collect())
        .unwrap_or_default();
    let mut fix_commits: Vec<String> = references.iter().filter_map(|u| commit_of_url(u)).collect();
    let severity = obj
        .get("severity")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(|s| s.get("score"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let base = Advisory {
        id: id.to_string(),
        package: String::new(),
        date: if obj.contains_key("published") { text("published") } else { text("modified") },
        aliases: strings(obj.get("aliases")),
        categories: Vec::new(),
        keywords: Vec::new(),
        cvss: severity,
        informational: None,
        withdrawn: obj.get("withdrawn").and_then(Value::as_str).map(str::to_string),
        patched: Vec::new(),
        unaffected: Vec::new(),
        affected_functions: Default::default(),
        title: text("summary"),
        description: text("details"),
        path: path.display().to_string(),
        format: "osv".into(),
        ecosystem: String::new(),
        cwe_ids,
        fix_commits: Vec::new(),
        references,
        ranges: Vec::new(),
    };
    let affected = obj.get("affected").and_then(Value::as_array).cloned().unwrap_or_default();
    // Git ranges fix commits for the whole record.
    for a in &affected {
        for r in a.get("ranges").and_then(Value::as_array).into_iter().flatten() {
            if r.get("type").and_then(Value::as_str) == Some("GIT") {
                for e in r.get("events").and_then(Value::as_array).into_iter().flatten() {
                    if let Some(f) = e.get("fixed").and_then(Value::as_str) {
                        fix_commits.push(f.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    fix_commits.sort();
    fix_commits.dedup();
    let mut out = Vec::new();
    for a in &affected {
        let mut adv = base.clone();
        adv.fix_commits = fix_commits.clone();
        adv.package = a.pointer("/package/name").and_then(Value::as_str).unwrap_or("").to_string();
        adv.ecosystem = a.pointer("/package/ecosystem").and_then(Value::as_str).unwrap_or("").to_string();
        for r in a.get("ranges").and_then(Value::as_array).into_iter().flatten() {
            if !matches!(r.get("type").and_then(Value::as_str), Some("SEMVER" | "ECOSYSTEM")) {
                continue;
            }
            // Events come in order: each `introduced` opens an interval that the next
            // `fixed` or `last_affected` closes.
            let mut open: Option<VersionRange> = None;
            for e in r.get("events").and_then(Value::as_array).into_iter().flatten() {
                let get = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
                if let Some(i) = get("introduced") {
                    if let Some(prev) = open.take() {
                        adv.ranges.push(prev);
                    }
                    open = Some(VersionRange { introduced: Some(i), ..Default::default() });
                } else if let Some(f) = get("fixed") {
                    let mut r = open.take().unwrap_or_default();
                    adv.patched.push(format!(">= {f}"));
                    r.fixed = Some(f);
                    adv.ranges.push(r);
                } else if let Some(l) = get("last_affected") {
                    let mut r = open.take().unwrap_or_default();
                    r.last_affected = Some(l);
                    adv.ranges.push(r);
                }
            }
            adv.ranges.extend(open);
        }
        for f in strings(a.pointer("/ecosystem_specific/affects/functions")) {
            adv.affected_functions.insert(f, Vec::new());
        }
        adv.categories = strings(a.pointer("/database_specific/categories"));
        adv.informational = a.pointer("/database_specific/informational").and_then(Value::as_str).map(str::to_string);
        out.push(adv);
    }
    if out.is_empty() {
        let mut adv = base;
        adv.fix_commits = fix_commits;
        out.push(adv);
    }
    Ok(out)
}

/// The advisories of one file (a record or an array of records).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Advisory>, Error> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| Error::Format { path: path.display().to_string(), message: format!("OSV JSON: {e}") })?;
    match v {
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in &items {
                out.extend(parse_record(path, item)?);
            }
            Ok(out)
        }
        other => parse_record(path, &other),
    }
}

/// Reads an OSV file or every `*.json` under a directory, in path order. Files that fail to
/// parse are returned as errors beside the advisories.
pub fn load(root: &Path) -> Result<(Vec<Advisory>, Vec<Error>), Error> {
    let files: Vec<PathBuf> = if root.is_dir() {
        let mut f: Vec<PathBuf> = ignore::WalkBuilder::new(root)
            .standard_filters(false)
            .build()
            .flatten()
            .map(|e| e.into_path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
            .collect();
        f.sort();
        f
    } else if root.is_file() {
        vec![root.to_path_buf()]
    } else {
        return Err(Error::Config(format!("osv:{}: no such file or directory", root.display())));
    };
    let mut advisories = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match read(&f).and_then(|t| parse(&f, &t)) {
            Ok(a) => advisories.extend(a),
            Err(e) => errors.push(e),
        }
    }
    Ok((advisories, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GHSA: &str = r#"{
      "id": "GHSA-aaaa-bbbb-cccc", "modified": "2024-01-02T00:00:00Z", "published": "2024-01-01T00:00:00Z",
      "aliases": ["CVE-2024-0001"], "summary": "XSS in render", "details": "Unescaped output.",
      "affected": [
        {"package": {"ecosystem": "PyPI", "name": "demo"},
         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.4.0"}, {"introduced": "2.0.0"}, {"fixed": "2.0.3"}]},
                    {"type": "GIT", "repo": "https://example.org/demo", "events": [{"introduced": "0"}, {"fixed": "0123456789abcdef0123456789abcdef01234567"}]}]}
      ],
      "references": [{"type": "FIX", "url": "https://github.com/o/demo/commit/fedcba9876543210"}],
      "database_specific": {"cwe_ids": ["CWE-79"], "severity": "MODERATE"}
    }"#;

    #[test]
    fn ranges_fix_commits_and_cwes() {
        let a = parse(Path::new("g.json"), GHSA).unwrap();
        assert_eq!(a.len(), 1);
        let a = &a[0];
        assert_eq!((a.package.as_str(), a.ecosystem.as_str()), ("demo", "PyPI"));
        assert_eq!(a.cwe_ids, [79]);
        assert_eq!(a.all_cwes(), [79]);
        assert_eq!(a.ranges.len(), 2);
        assert_eq!(a.patched, [">= 1.4.0", ">= 2.0.3"]);
        assert_eq!(a.fix_commits, ["0123456789abcdef0123456789abcdef01234567", "fedcba9876543210"]);
        let v = |s: &str| semver::Version::parse(s).unwrap();
        assert!(a.affects(&v("1.3.9")) && !a.affects(&v("1.4.0")) && a.affects(&v("2.0.2")));
        assert!(a.patched_in(&v("1.5.0")) && a.patched_in(&v("2.0.3")) && !a.patched_in(&v("2.0.0")));
    }

    #[test]
    fn rustsec_exports_carry_functions_and_bad_records_say_why() {
        let r = r#"[{"id": "RUSTSEC-2099-0001", "modified": "2099-01-01T00:00:00Z",
          "affected": [{"package": {"ecosystem": "crates.io", "name": "demo"},
            "ecosystem_specific": {"affects": {"functions": ["demo::Buf::push"]}},
            "database_specific": {"categories": ["memory-corruption"]},
            "ranges": [{"type": "SEMVER", "events": [{"introduced": "0.0.0-0"}, {"fixed": "1.2.3"}]}]}]}]"#;
        let a = parse(Path::new("r.json"), r).unwrap();
        assert_eq!(a[0].affected_functions.keys().collect::<Vec<_>>(), ["demo::Buf::push"]);
        assert_eq!(a[0].all_cwes(), [119, 787]);
        let e = parse(Path::new("bad.json"), r#"{"summary": "no id"}"#).unwrap_err().to_string();
        assert_eq!(e, "bad.json: OSV record without an `id`");
        assert!(parse(Path::new("x.json"), "{").unwrap_err().to_string().starts_with("x.json: OSV JSON:"));
    }
}
