//! Vulnerable/fixed function pairs in the SVEN and SafeCoder JSONL format.
//!
//! Each line: `func_src_before` (vulnerable), `func_src_after` (fixed), `vul_type`
//! (`cwe-089`), `file_name` (gives the language), optionally `commit_link`, `commit_msg`,
//! `description`. One line yields two samples sharing a pair id.

use std::path::Path;

use serde::Deserialize;

use super::{LoadReport, Origin, Sample, Variant, parse_cwe, read};
use crate::{Error, lang};

#[derive(Deserialize)]
struct Record {
    func_src_before: String,
    func_src_after: String,
    vul_type: String,
    file_name: String,
    #[serde(default)]
    func_name: Option<String>,
    #[serde(default)]
    commit_link: Option<String>,
    #[serde(default)]
    commit_msg: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Reads one pair file. `dataset` names it in ids and origins (`sven`, `safecoder`).
pub fn load(path: &Path, dataset: &str) -> Result<(Vec<Sample>, LoadReport), Error> {
    let text = read(path)?;
    let stem =
        path.parent().and_then(|p| p.file_name()).map(|p| format!("{}/", p.to_string_lossy())).unwrap_or_default()
            + &path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = LoadReport::default();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: Record = serde_json::from_str(line).map_err(|e| Error::Record {
            path: path.display().to_string(),
            line: i + 1,
            message: format!("not a vulnerable/fixed pair record: {e}"),
        })?;
        let Some(language) = lang::from_path(&r.file_name) else {
            report.skip(format!("no language for file name {}", r.file_name));
            continue;
        };
        if r.func_src_before == r.func_src_after {
            report.skip("vulnerable and fixed versions are identical");
            continue;
        }
        let pair_id = format!("{dataset}/{stem}/{i}");
        let (repo, commit) = split_commit_link(r.commit_link.as_deref());
        let origin = Origin { dataset: dataset.into(), repo, path: Some(r.file_name.clone()), commit };
        let description = r.description.clone().or(r.commit_msg.clone()).or(r.func_name.clone());
        for (variant, code) in [(Variant::Vulnerable, r.func_src_before), (Variant::Fixed, r.func_src_after)] {
            let side = if variant == Variant::Vulnerable { "vulnerable" } else { "fixed" };
            out.push(Sample {
                id: format!("{pair_id}/{side}"),
                language: language.into(),
                code,
                vulnerable: variant == Variant::Vulnerable,
                cwe: parse_cwe(&r.vul_type),
                line: None,
                pair: Some((pair_id.clone(), variant)),
                description: description.clone(),
                origin: origin.clone(),
            });
        }
        report.loaded += 1;
    }
    Ok((out, report))
}

/// `github.com/owner/repo/commit/SHA` → (`owner/repo`, `SHA`).
fn split_commit_link(link: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(link) = link else { return (None, None) };
    let trimmed = link.trim_start_matches("https://").trim_start_matches("http://");
    let parts: Vec<&str> = trimmed.split('/').collect();
    match parts.as_slice() {
        [_, owner, repo, "commit", sha, ..] => (Some(format!("{owner}/{repo}")), Some((*sha).to_string())),
        _ => (Some(link.to_string()), None),
    }
}

/// Reads every `*.jsonl` under `dir` (recursively, sorted) as pair files.
pub fn load_dir(dir: &Path, dataset: &str) -> Result<(Vec<Sample>, LoadReport), Error> {
    let mut files = Vec::new();
    collect_jsonl(dir, &mut files)?;
    files.sort();
    let mut all = Vec::new();
    let mut report = LoadReport::default();
    for f in files {
        let (s, r) = load(&f, dataset)?;
        all.extend(s);
        report.loaded += r.loaded;
        for (reason, n) in r.skipped {
            for _ in 0..n {
                report.skip(reason.clone());
            }
        }
    }
    Ok((all, report))
}

fn collect_jsonl(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
    for e in entries {
        let e = e.map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
        let p = e.path();
        if p.is_dir() {
            collect_jsonl(&p, out)?;
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_commit_links() {
        assert_eq!(
            split_commit_link(Some("github.com/abrt/libreport/commit/239c4f7")),
            (Some("abrt/libreport".into()), Some("239c4f7".into()))
        );
        assert_eq!(split_commit_link(None), (None, None));
    }
}
