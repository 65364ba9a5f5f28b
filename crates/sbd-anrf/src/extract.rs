//! Find the ANRF instance a model put into its answer.
//!
//! Generated answers carry their metadata next to the code, as a fenced block whose info
//! string is `json`, `anrf` or `anrf-json`:
//!
//! ````text
//! ```python
//! def f(): ...
//! ```
//! ```json
//! {"anrf_version": "1.1.0", ...}
//! ```
//! Short explanation.
//! ````
//!
//! [`from_answer`] returns the first such block that parses as a JSON object with an
//! `anrf_version` key, read under the same size and depth limits as `sbd anrf validate`.
//! Blocks tagged `json` that are not ANRF (a config file the task asked for) are skipped.

use serde_json::Value;

use crate::input::{Limits, parse_json};

/// Info strings that mark a fenced block as metadata rather than code.
pub const METADATA_FENCES: [&str; 3] = ["json", "anrf", "anrf-json"];

/// True when a fence line (`` ```json ``) opens a metadata block.
pub fn is_metadata_fence(line: &str) -> bool {
    let info = line.trim_start().trim_start_matches('`').trim().to_ascii_lowercase();
    METADATA_FENCES.contains(&info.as_str())
}

/// What [`from_answer`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// No metadata block that looks like ANRF.
    Absent,
    /// A metadata block that names itself ANRF (`anrf` fence, or text mentioning
    /// `anrf_version`) but is not a readable JSON object.
    Unreadable(String),
    /// The instance.
    Instance(Value),
}

/// The fenced blocks of `text` with their info strings, in order. An unterminated last block
/// runs to the end of the text.
fn fenced_blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            match current.take() {
                Some(block) => out.push(block),
                None => current = Some((t.trim_start_matches('`').trim().to_ascii_lowercase(), String::new())),
            }
            continue;
        }
        if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    out.extend(current);
    out
}

/// The first ANRF instance in a metadata block of `answer`.
pub fn from_answer(answer: &str) -> Found {
    let limits = Limits::default();
    let mut unreadable = None;
    for (info, body) in fenced_blocks(answer) {
        if !METADATA_FENCES.contains(&info.as_str()) {
            continue;
        }
        let names_anrf = info.starts_with("anrf") || body.contains("anrf_version");
        match parse_json(body.as_bytes(), &limits) {
            Ok(v) if v.get("anrf_version").is_some() => return Found::Instance(v),
            Ok(_) if names_anrf && unreadable.is_none() => {
                unreadable = Some("the metadata block is JSON but has no `anrf_version`".to_string());
            }
            Err(e) if names_anrf && unreadable.is_none() => unreadable = Some(e.to_string()),
            _ => {}
        }
    }
    match unreadable {
        Some(why) => Found::Unreadable(why),
        None => Found::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_instance_and_skips_code_and_other_json() {
        let a =
            "```python\nx = 1\n```\n```json\n{\"port\": 8080}\n```\n```json\n{\"anrf_version\": \"1.1.0\"}\n```\nWhy.";
        assert_eq!(from_answer(a), Found::Instance(serde_json::json!({"anrf_version": "1.1.0"})));
        assert_eq!(from_answer("```python\nx = 1\n```\n"), Found::Absent);
        assert_eq!(from_answer("no fences at all"), Found::Absent);
    }

    #[test]
    fn reports_a_broken_anrf_block() {
        let a = "```c\nint x;\n```\n```anrf\n{\"anrf_version\": \"1.1.0\",\n```\n";
        assert!(matches!(from_answer(a), Found::Unreadable(_)), "{:?}", from_answer(a));
        let a = "```json\n{\"creator_id\": \"m\"}\n```\n";
        assert_eq!(from_answer(a), Found::Absent, "plain JSON that does not claim to be ANRF");
        // Unterminated block at the end of a truncated generation.
        let a = "```json\n{\"anrf_version\": \"1.1.0\"}\n";
        assert!(matches!(from_answer(a), Found::Instance(_)));
    }

    #[test]
    fn metadata_fences() {
        assert!(is_metadata_fence("```json"));
        assert!(is_metadata_fence("  ``` ANRF "));
        assert!(!is_metadata_fence("```python"));
        assert!(!is_metadata_fence("```"));
    }
}
