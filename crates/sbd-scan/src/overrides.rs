//! In-source overrides: a comment of the language that starts with `sbd:allow(RULE-ID[,
//! RULE-ID…], justification="…", approver="…", approved="YYYY-MM-DD", ticket="…")`
//! (`// sbd:allow(…)`, `# sbd:allow(…)`, `/* sbd:allow(…) */`). Text that only mentions the
//! syntax later in a comment is not an annotation.
//!
//! Scope, from where the comment stands:
//! - at the end of a line of code: that statement (from its first line to the comment's line);
//! - on its own line before a function/method definition: the whole function;
//! - on its own line before a block statement (`if`, loop, `unsafe { }`, `impl`, class, `with`,
//!   `try`, …): that block;
//! - on its own line before any other statement: the next statement;
//! - on its own line as the last thing in a block: the enclosing block;
//! - in the file's leading comments (before any code) and followed by a blank line: the file.
//!
//! A valid override names only known rules and has a non-empty justification and approver;
//! `approved`, when given, must be a real `YYYY-MM-DD` date. Invalid overrides suppress
//! nothing and are findings themselves (rules `OVR001`–`OVR004`).
use tree_sitter::Node;

use crate::report::OverrideScope;

/// The fields of one annotation, as written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Annotation {
    pub rules: Vec<String>,
    pub justification: Option<String>,
    pub approver: Option<String>,
    pub approved: Option<String>,
    pub ticket: Option<String>,
    /// Syntax problems (unterminated string, unknown key, missing `)`).
    pub malformed: Vec<String>,
}

pub(crate) const MARKER: &str = "sbd:allow(";

/// Parse the `sbd:allow(...)` that starts a comment (after the comment markers `//`, `#`,
/// `/*`, `*`, `--` and doc markers `!`), if any. A comment that only mentions the syntax in
/// passing (documentation such as this) is not an annotation.
pub(crate) fn parse_annotations(comment: &str) -> Vec<Annotation> {
    let body = comment.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '/' | '*' | '#' | '!' | '-'));
    match body.strip_prefix(MARKER) {
        Some(rest) => vec![parse_body(rest).0],
        None => Vec::new(),
    }
}

fn parse_body(s: &str) -> (Annotation, usize) {
    let mut ann = Annotation::default();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut i = 0;
    let mut closed = false;
    while i < chars.len() {
        // skip whitespace and commas
        while i < chars.len() && (chars[i].1.is_whitespace() || chars[i].1 == ',') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        if chars[i].1 == ')' {
            closed = true;
            i += 1;
            break;
        }
        // a word: rule id or key
        let start = i;
        while i < chars.len() && (chars[i].1.is_alphanumeric() || chars[i].1 == '-' || chars[i].1 == '_') {
            i += 1;
        }
        let word: String = chars[start..i].iter().map(|(_, c)| c).collect();
        while i < chars.len() && chars[i].1.is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i].1 == '=' {
            i += 1;
            while i < chars.len() && chars[i].1.is_whitespace() {
                i += 1;
            }
            let quote = chars.get(i).map(|c| c.1);
            if quote != Some('"') && quote != Some('\'') {
                ann.malformed.push(format!("value of `{word}` must be a quoted string"));
                break;
            }
            i += 1;
            let vstart = i;
            while i < chars.len() && Some(chars[i].1) != quote {
                i += 1;
            }
            if i >= chars.len() {
                ann.malformed.push(format!("unterminated string for `{word}`"));
                break;
            }
            let value: String = chars[vstart..i].iter().map(|(_, c)| c).collect();
            i += 1;
            let value = value.trim().to_string();
            let slot = match word.as_str() {
                "justification" | "reason" => &mut ann.justification,
                "approver" | "approved_by" => &mut ann.approver,
                "approved" | "date" => &mut ann.approved,
                "ticket" => &mut ann.ticket,
                other => {
                    ann.malformed.push(format!("unknown key `{other}`"));
                    continue;
                }
            };
            *slot = Some(value).filter(|v| !v.is_empty());
        } else if word.is_empty() {
            ann.malformed.push(format!("unexpected character `{}`", chars[i].1));
            break;
        } else {
            ann.rules.push(word);
        }
    }
    if !closed && ann.malformed.is_empty() {
        ann.malformed.push("missing closing `)`".into());
    }
    if ann.rules.is_empty() {
        ann.malformed.push("names no rule".into());
    }
    let consumed = chars.get(i).map(|c| c.0).unwrap_or(s.len());
    (ann, consumed)
}

/// Is `s` a real `YYYY-MM-DD` date?
pub(crate) fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=9999).contains(&y) && d >= 1 && d <= days
}

/// Decide the scope of an override comment: (scope, covered byte range).
pub(crate) fn scope_of(
    comment: Node<'_>,
    src: &str,
    first_code_byte: usize,
    functions: &[&str],
    blocks: &[&str],
) -> (OverrideScope, std::ops::Range<usize>) {
    let start = comment.start_byte();
    let line_start = src[..start.min(src.len())].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let before = src.get(line_start..start).unwrap_or("");
    let trailing = !before.trim().is_empty();
    if trailing {
        // the statement that ends on this line
        let stmt = comment.prev_named_sibling().filter(|p| !crate::kind::of(p).contains("comment"));
        let from = stmt.map(|s| s.start_byte()).unwrap_or(line_start);
        let line_end = src[start..].find('\n').map(|i| start + i).unwrap_or(src.len());
        return (OverrideScope::Statement, from.min(line_start)..line_end);
    }
    let after = comment.end_byte();
    if after <= first_code_byte {
        let gap = src.get(after..first_code_byte.min(src.len())).unwrap_or("");
        if first_code_byte >= src.len() || gap.matches('\n').count() >= 2 {
            return (OverrideScope::File, 0..src.len());
        }
    }
    let mut next = comment.next_named_sibling();
    while let Some(n) = next {
        if crate::kind::of(n).contains("comment") {
            next = n.next_named_sibling();
        } else {
            break;
        }
    }
    // Python attaches a comment that precedes a body's first statement to the enclosing
    // definition, before the indented `block`: the statement meant is the block's first.
    if let Some(n) = next
        && crate::kind::of(n) == "block"
        && !src.get(n.start_byte()..).is_some_and(|t| t.starts_with('{'))
    {
        let mut c = n.walk();
        next = n.named_children(&mut c).find(|ch| !crate::kind::of(ch).contains("comment")).or(next);
    }
    match next {
        Some(n) => {
            let k = crate::kind::of(n);
            let is_fn = functions.contains(&k)
                || k == "decorated_definition"
                    && n.child_by_field_name("definition").is_some_and(|d| functions.contains(&crate::kind::of(d)))
                || k.contains("function")
                || k.contains("method")
                || (k == "declaration" && n.child_by_field_name("body").is_some());
            let scope = if is_fn {
                OverrideScope::Function
            } else if blocks.contains(&k) || k.contains("class") || k.contains("impl") || k.contains("unsafe") {
                OverrideScope::Block
            } else {
                OverrideScope::Statement
            };
            (scope, n.start_byte()..n.end_byte())
        }
        None => match comment.parent() {
            Some(p) if p.parent().is_some() => (OverrideScope::Block, p.start_byte()..p.end_byte()),
            _ => (OverrideScope::File, 0..src.len()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_annotation() {
        let a = parse_annotations(
            r#"// sbd:allow(RS001, RS002, justification="FFI buffer", approver="alice", approved="2026-03-01", ticket="SEC-12")"#,
        );
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].rules, ["RS001", "RS002"]);
        assert_eq!(a[0].justification.as_deref(), Some("FFI buffer"));
        assert_eq!(a[0].approver.as_deref(), Some("alice"));
        assert_eq!(a[0].approved.as_deref(), Some("2026-03-01"));
        assert_eq!(a[0].ticket.as_deref(), Some("SEC-12"));
        assert!(a[0].malformed.is_empty());
    }

    #[test]
    fn reports_malformed() {
        let a = parse_annotations(r#"# sbd:allow(PY001, justification="x"#);
        assert!(!a[0].malformed.is_empty());
        let a = parse_annotations("# sbd:allow()");
        assert!(a[0].malformed.iter().any(|m| m.contains("no rule")));
        let a = parse_annotations(r#"# sbd:allow(PY001, colour="red")"#);
        assert!(a[0].malformed.iter().any(|m| m.contains("unknown key")));
    }

    #[test]
    fn only_a_leading_annotation_counts() {
        assert!(parse_annotations("/// One `sbd:allow(…)` annotation.").is_empty());
        assert!(parse_annotations("// TODO: sbd:allow(C001, justification=\"x\", approver=\"y\")").is_empty());
        assert_eq!(parse_annotations("/* sbd:allow(C001, justification=\"x\", approver=\"y\") */").len(), 1);
        assert_eq!(parse_annotations("#sbd:allow(PY001, justification='x', approver='y')").len(), 1);
    }

    #[test]
    fn dates() {
        assert!(valid_date("2026-03-01"));
        assert!(valid_date("2024-02-29"));
        assert!(!valid_date("2023-02-29"));
        assert!(!valid_date("2026-13-01"));
        assert!(!valid_date("26-03-01"));
    }
}
