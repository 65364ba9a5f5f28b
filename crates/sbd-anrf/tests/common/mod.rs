#![allow(dead_code)]
use std::path::PathBuf;

use serde_json::Value;

pub fn fixtures() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("fixtures")
}

pub fn load(rel: &str) -> Value {
    let path = fixtures().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (file, rule id, pointer) for every invalid fixture.
pub fn expected_invalid() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(fixtures().join("invalid/EXPECTED.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split('\t');
            let file = parts.next().unwrap().to_string();
            let rule = parts.next().unwrap().to_string();
            let ptr = parts.next().unwrap_or("").to_string();
            (file, rule, ptr)
        })
        .collect()
}

pub fn valid_fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("valid"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}
