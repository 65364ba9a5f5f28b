//! A generic labelled JSONL format, so users can bring their own data.
//!
//! One object per line:
//!
//! ```json
//! {"id": "q-17", "code": "...", "language": "python", "label": "vulnerable", "cwe": "CWE-89", "line": 3, "pair": "p-4"}
//! ```
//!
//! - `code` and `language` are required; `language` takes names and aliases (`py`, `c++`).
//! - `label`: `"vulnerable"`/`"insecure"`/`true`/`1` or `"safe"`/`"secure"`/`"fixed"`/`false`/`0`.
//! - `cwe` (`"CWE-89"` or `89`), `line` (1-based), `id` and `pair` (pairs two lines, one
//!   vulnerable and one safe) are optional; `description` is kept when present.

use std::path::Path;

use serde_json::Value;

use super::{LoadReport, Origin, Sample, Variant, parse_cwe, read};
use crate::{Error, lang};

/// Reads one labelled JSONL file.
pub fn load(path: &Path) -> Result<(Vec<Sample>, LoadReport), Error> {
    let text = read(path)?;
    let dataset = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "labelled".into());
    let mut report = LoadReport::default();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| Error::Record { path: path.display().to_string(), line: i + 1, message };
        let v: Value = serde_json::from_str(line).map_err(|e| err(format!("not JSON: {e}")))?;
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        let code = field("code").and_then(Value::as_str).ok_or_else(|| err("`code` (a string) is required".into()))?;
        let language_name =
            field("language").and_then(Value::as_str).ok_or_else(|| err("`language` (a string) is required".into()))?;
        let Some(language) = lang::canonical(language_name) else {
            report.skip(format!("unknown language {language_name}"));
            continue;
        };
        let vulnerable = match field("label") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) if n.as_u64() == Some(1) => true,
            Some(Value::Number(n)) if n.as_u64() == Some(0) => false,
            Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                "vulnerable" | "insecure" | "bad" | "positive" | "1" | "true" => true,
                "safe" | "secure" | "fixed" | "good" | "negative" | "0" | "false" => false,
                other => return Err(err(format!("`label` \"{other}\" is neither vulnerable nor safe"))),
            },
            _ => return Err(err("`label` is required: \"vulnerable\" or \"safe\" (or true/false)".into())),
        };
        let cwe = match field("cwe") {
            None => None,
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Some(Value::String(s)) => Some(parse_cwe(s).ok_or_else(|| err(format!("`cwe` \"{s}\" is not a CWE id")))?),
            Some(_) => return Err(err("`cwe` must be \"CWE-n\" or a number".into())),
        };
        let line_no = match field("line") {
            None => None,
            Some(x) => {
                Some(x.as_u64().filter(|&n| n >= 1).ok_or_else(|| err("`line` must be a 1-based number".into()))?
                    as usize)
            }
        };
        let id = match field("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => format!("{dataset}/{}", i + 1),
        };
        let pair = field("pair").map(|p| {
            let pid = p.as_str().map(str::to_owned).unwrap_or_else(|| p.to_string());
            (format!("{dataset}/{pid}"), if vulnerable { Variant::Vulnerable } else { Variant::Fixed })
        });
        out.push(Sample {
            id,
            language: language.into(),
            code: code.to_string(),
            vulnerable,
            cwe,
            line: line_no,
            pair,
            description: field("description").and_then(Value::as_str).map(str::to_owned),
            origin: Origin { dataset: dataset.clone(), ..Origin::default() },
        });
        report.loaded += 1;
    }
    Ok((out, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(content: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sbd-labelled-{}-{}", std::process::id(), content.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("mine.jsonl");
        std::fs::write(&p, content).unwrap();
        p
    }

    #[test]
    fn reads_labels_in_every_spelling() {
        let p = write(concat!(
            r#"{"code": "os.system(x)", "language": "py", "label": "vulnerable", "cwe": "CWE-78", "line": 1, "pair": 1}"#,
            "\n\n",
            r#"{"code": "subprocess.run([x])", "language": "python", "label": false, "cwe": 78, "pair": 1}"#,
            "\n",
            r#"{"code": "x", "language": "cobol", "label": 1}"#,
            "\n"
        ));
        let (s, r) = load(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert!(s[0].vulnerable && !s[1].vulnerable);
        assert_eq!(s[0].cwe, Some(78));
        assert_eq!(s[0].line, Some(1));
        assert_eq!(s[0].pair.as_ref().unwrap().0, s[1].pair.as_ref().unwrap().0);
        assert_eq!(r.skipped, vec![("unknown language cobol".to_string(), 1)]);
    }

    #[test]
    fn bad_records_name_file_and_line() {
        let p = write("{\"code\": \"x\", \"language\": \"c\", \"label\": \"maybe\"}\n");
        let e = load(&p).unwrap_err().to_string();
        assert!(e.ends_with("mine.jsonl:1: `label` \"maybe\" is neither vulnerable nor safe"), "{e}");
        let p = write("{\"language\": \"c\", \"label\": true}\n\n");
        assert!(load(&p).unwrap_err().to_string().contains(":1: `code` (a string) is required"));
    }
}
