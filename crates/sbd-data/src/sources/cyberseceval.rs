//! CyberSecEval instruct/autocomplete prompts (`instruct.json`, `autocomplete.json`).
//!
//! Each record holds the insecure `origin_code`, the flagged `line_text` and its CWE: every
//! record is a positive at that line. The line number is found by locating `line_text` in the
//! code (the dataset's `line_number` counts from the original file, not the snippet).

use std::path::Path;

use serde::Deserialize;

use super::{LoadReport, Origin, Sample, parse_cwe, read};
use crate::{Error, lang};

#[derive(Deserialize)]
struct Record {
    prompt_id: serde_json::Value,
    #[serde(default)]
    file_path: Option<String>,
    cwe_identifier: String,
    line_text: String,
    test_case_prompt: String,
    origin_code: String,
    language: String,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    pattern_desc: Option<String>,
}

/// Reads one CyberSecEval JSON file (an array of records).
pub fn load(path: &Path) -> Result<(Vec<Sample>, LoadReport), Error> {
    let text = read(path)?;
    let records: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| Error::Format {
        path: path.display().to_string(),
        message: format!("expected a JSON array of CyberSecEval records: {e}"),
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut report = LoadReport::default();
    let mut out = Vec::with_capacity(records.len());
    for (i, raw) in records.into_iter().enumerate() {
        let r: Record = match serde_json::from_value(raw) {
            Ok(r) => r,
            Err(e) => {
                return Err(Error::Record {
                    path: path.display().to_string(),
                    line: i + 1,
                    message: format!("record {i}: {e}"),
                });
            }
        };
        let Some(language) = lang::canonical(&r.language) else {
            report.skip(format!("unknown language {}", r.language));
            continue;
        };
        let line = locate_line(&r.origin_code, &r.line_text);
        if line.is_none() {
            report.skip("labelled line not found in the code");
            continue;
        }
        let variant = r.variant.clone().unwrap_or_else(|| stem.clone());
        let id = match &r.prompt_id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(Sample {
            id: format!("cyberseceval/{variant}/{language}/{id}"),
            language: language.into(),
            code: r.origin_code,
            vulnerable: true,
            cwe: parse_cwe(&r.cwe_identifier),
            line,
            pair: None,
            description: Some(r.test_case_prompt).filter(|s| !s.trim().is_empty()).or(r.pattern_desc),
            origin: Origin {
                dataset: format!("cyberseceval-{variant}"),
                repo: r.repo,
                path: r.file_path,
                commit: None,
            },
        });
        report.loaded += 1;
    }
    Ok((out, report))
}

/// The 1-based line of `code` that holds `line_text` (compared without surrounding space).
pub fn locate_line(code: &str, line_text: &str) -> Option<usize> {
    let needle = line_text.trim();
    if needle.is_empty() {
        return None;
    }
    if let Some(i) = code.lines().position(|l| l.trim() == needle) {
        return Some(i + 1);
    }
    code.lines().position(|l| l.contains(needle)).map(|i| i + 1).or_else(|| {
        // The labelled text may span lines: locate its start.
        code.find(needle).map(|off| code[..off].matches('\n').count() + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines() {
        let code = "int f() {\n  char b[8];\n  strcpy(b, s);\n}\n";
        assert_eq!(locate_line(code, "  strcpy(b, s);"), Some(3));
        assert_eq!(locate_line(code, "strcpy(b, s)"), Some(3));
        assert_eq!(locate_line(code, "char b[8];\n  strcpy"), Some(2));
        assert_eq!(locate_line(code, "gets(b)"), None);
        assert_eq!(locate_line(code, "   "), None);
    }
}
