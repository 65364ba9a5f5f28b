//! The embedded rule catalogue and language files, and loading extra rules from a directory.
use std::path::Path;
use std::sync::OnceLock;

use crate::rule::{LanguageSpec, Rule, RuleError};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// Every embedded rule (parsed once per process).
pub fn embedded_rules() -> Result<Vec<Rule>, RuleError> {
    static CACHE: OnceLock<Result<Vec<Rule>, String>> = OnceLock::new();
    let r = CACHE.get_or_init(|| {
        let mut out: Vec<Rule> = Vec::new();
        for (path, text) in RULE_FILES {
            let rule = Rule::from_toml(path, text).map_err(|e| e.to_string())?;
            if out.iter().any(|r| r.id == rule.id) {
                return Err(RuleError::Duplicate(rule.id).to_string());
            }
            out.push(rule);
        }
        Ok(out)
    });
    r.clone().map_err(|message| RuleError::Invalid { path: "(embedded rules)".into(), message })
}

/// The embedded language files (taint configuration and fact detectors).
pub fn language_specs() -> Result<Vec<LanguageSpec>, RuleError> {
    static CACHE: OnceLock<Result<Vec<LanguageSpec>, String>> = OnceLock::new();
    let r = CACHE.get_or_init(|| {
        LANGUAGE_FILES
            .iter()
            .map(|(path, text)| toml::from_str::<LanguageSpec>(text).map_err(|e| format!("{path}: {e}")))
            .collect()
    });
    r.clone().map_err(|message| RuleError::Invalid { path: "(embedded language files)".into(), message })
}

/// Load every `*.toml` rule file under `dir` (recursively).
pub fn load_dir(dir: &Path) -> Result<Vec<Rule>, RuleError> {
    let mut files = Vec::new();
    walk(dir, &mut files, 0)?;
    files.sort();
    let mut out: Vec<Rule> = Vec::new();
    for f in files {
        let path = f.display().to_string();
        let text = std::fs::read_to_string(&f).map_err(|source| RuleError::Io { path: path.clone(), source })?;
        let rule = Rule::from_toml(&path, &text)?;
        if out.iter().any(|r| r.id == rule.id) {
            return Err(RuleError::Duplicate(rule.id));
        }
        out.push(rule);
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>, depth: usize) -> Result<(), RuleError> {
    if depth > 32 {
        return Ok(());
    }
    let rd = std::fs::read_dir(dir).map_err(|source| RuleError::Io { path: dir.display().to_string(), source })?;
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, out, depth + 1)?;
        } else if ft.is_file() && p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
    Ok(())
}
