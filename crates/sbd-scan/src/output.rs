//! Output formats: compiler-style text, the versioned JSON document, and SARIF 2.1.0.
use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::report::{Finding, Report, Severity};
use crate::rule::Rule;

/// A file that could not be scanned at all (unreadable, …).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanFailure {
    pub path: String,
    pub error: String,
}

const MAX_LINE: usize = 160;

/// The 1-based `line` of `src`, cut to a window around byte column `col` when very long.
/// Returns the shown text and the shown start column (0-based byte within the line).
fn line_window(src: &str, line: usize, col: usize) -> Option<(String, usize)> {
    let l = src.split('\n').nth(line.checked_sub(1)?)?;
    let l = l.strip_suffix('\r').unwrap_or(l);
    if l.len() <= MAX_LINE {
        return Some((l.to_string(), 0));
    }
    let mut start = col.saturating_sub(MAX_LINE / 2).min(l.len());
    while !l.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + MAX_LINE).min(l.len());
    while !l.is_char_boundary(end) {
        end -= 1;
    }
    Some((l[start..end].to_string(), start))
}

/// Render one finding in compiler style, with the source line and a caret span.
pub fn render_finding(out: &mut String, path: &str, src: Option<&str>, f: &Finding) {
    let s = &f.span;
    let _ =
        writeln!(out, "{path}:{}:{}: {}[{}] {}", s.start_line, s.start_column, f.severity.name(), f.rule, f.message);
    let gutter = s.start_line.to_string().len();
    if let Some((line, shown_from)) = src.and_then(|t| line_window(t, s.start_line, s.start_column - 1)) {
        let col0 = (s.start_column - 1).saturating_sub(shown_from);
        let end0 = if s.end_line == s.start_line { (s.end_column - 1).saturating_sub(shown_from) } else { line.len() };
        let prefix: String = line
            .get(..col0.min(line.len()))
            .unwrap_or("")
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let width = line
            .get(col0.min(line.len())..end0.clamp(col0.min(line.len()), line.len()))
            .map(|t| t.chars().count())
            .unwrap_or(1)
            .max(1);
        let _ = writeln!(out, "{:gutter$} |", "");
        let _ = writeln!(out, "{} | {}", s.start_line, line);
        let _ = writeln!(out, "{:gutter$} | {}{}", "", prefix, "^".repeat(width));
    }
    let cwe: Vec<String> = f.cwe.iter().map(|c| format!("CWE-{c}")).collect();
    let _ = writeln!(
        out,
        "{:gutter$} = {} · {} · confidence {:?} · `sbd explain {}`",
        "",
        f.title,
        cwe.join(", "),
        f.confidence,
        f.rule
    );
    let _ = writeln!(out);
}

/// Render a report as text (findings, then overrides and notes).
pub fn render_text(report: &Report, src: Option<&str>) -> String {
    let path = report.path.as_deref().unwrap_or("<input>");
    let mut out = String::new();
    for f in &report.findings {
        render_finding(&mut out, path, src, f);
    }
    for o in &report.overrides {
        let _ = writeln!(
            out,
            "{path}:{}:{}: override {} {} ({:?} scope, lines {}-{}){}",
            o.span.start_line,
            o.span.start_column,
            if o.valid { "of" } else { "INVALID for" },
            o.rules.join(", "),
            o.scope,
            o.covers_lines.0,
            o.covers_lines.1,
            if o.valid { format!(", suppressed {}", o.suppressed) } else { format!(": {}", o.problems.join("; ")) }
        );
    }
    for n in &report.notes {
        let _ = writeln!(out, "{path}: note: {n}");
    }
    out
}

/// The JSON document for a set of reports.
pub fn json_document(reports: &[Report], failures: &[ScanFailure]) -> Value {
    json!({
        "schema": "sbd-scan-report",
        "version": crate::report::REPORT_SCHEMA_VERSION,
        "tool": {"name": "sbd", "version": env!("CARGO_PKG_VERSION")},
        "reports": reports,
        "errors": failures,
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The rule's documentation as Markdown (ruff's sections).
pub fn rule_markdown(r: &Rule) -> String {
    let lang = r.languages.first().map(|l| l.name()).unwrap_or("");
    let mut s = String::new();
    let _ = writeln!(s, "# {} — {}\n", r.id, r.title);
    let cwe: Vec<String> =
        r.cwe.iter().map(|c| format!("[CWE-{c}](https://cwe.mitre.org/data/definitions/{c}.html)")).collect();
    let langs: Vec<&str> = r.languages.iter().map(|l| l.name()).collect();
    let _ = writeln!(
        s,
        "{} · class {} · severity {} · confidence {:?} · {}\n",
        cwe.join(", "),
        r.class.name(),
        r.severity.name(),
        r.confidence,
        langs.join(", ")
    );
    let _ = writeln!(s, "## What it does\n{}\n", r.docs.what.trim());
    let _ = writeln!(s, "## Why is this bad?\n{}\n", r.docs.why.trim());
    let _ = writeln!(s, "## Example\n```{lang}\n{}\n```\n", r.docs.example.trim_end());
    let _ = writeln!(s, "## Use instead\n```{lang}\n{}\n```\n", r.docs.use_instead.trim_end());
    let _ = writeln!(s, "## References");
    for x in &r.docs.references {
        let _ = writeln!(s, "- {x}");
    }
    s
}

/// A SARIF 2.1.0 log for `reports`, with every rule in `rules` (and its documentation).
pub fn sarif(reports: &[Report], rules: &[Rule]) -> Value {
    let rule_objs: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut tags = vec![
                "security".to_string(),
                r.class.name().to_string(),
            ];
            tags.extend(r.cwe.iter().map(|c| format!("external/cwe/cwe-{c}")));
            json!({
                "id": r.id,
                "name": r.title,
                "shortDescription": {"text": r.title},
                "fullDescription": {"text": r.docs.what.trim()},
                "help": {"text": format!("{}\n\n{}", r.docs.why.trim(), r.docs.use_instead.trim()), "markdown": rule_markdown(r)},
                "helpUri": r.docs.references.first(),
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {
                    "tags": tags,
                    "precision": match r.confidence {
                        crate::report::Confidence::High => "high",
                        crate::report::Confidence::Medium => "medium",
                        crate::report::Confidence::Low => "low",
                    },
                    "security-severity": security_severity(r.severity),
                },
            })
        })
        .collect();
    let index_of = |id: &str| rules.iter().position(|r| r.id == id);
    let mut results = Vec::new();
    for rep in reports {
        let uri = rep.path.clone().unwrap_or_else(|| "stdin".into());
        let mk = |f: &Finding, suppressed: bool| {
            let mut res = json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {
                            "startLine": f.span.start_line,
                            "startColumn": f.span.start_column,
                            "endLine": f.span.end_line,
                            "endColumn": f.span.end_column,
                        }
                    }
                }],
            });
            if let Some(i) = index_of(&f.rule) {
                res["ruleIndex"] = json!(i);
            }
            if suppressed {
                let just = f
                    .suppressed_by
                    .and_then(|i| rep.overrides.get(i))
                    .and_then(|o| o.justification.clone())
                    .unwrap_or_default();
                res["suppressions"] = json!([{"kind": "inSource", "justification": just}]);
            }
            res
        };
        for f in &rep.findings {
            results.push(mk(f, false));
        }
        for f in &rep.suppressed {
            results.push(mk(f, true));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sbd",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://cwe.mitre.org/",
                "rules": rule_objs,
            }},
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}
