//! Security explanations of two lengths, from the rules' documentation.
use std::fmt::Write as _;

use sbd_scan::Report;

use crate::record::VariantKind;
use crate::units::Unit;

fn first_sentence(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_string(),
        None => flat,
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// (short, long) explanations of `unit` given its report.
pub fn explain(unit: &Unit, report: &Report) -> (String, String) {
    let mut long = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in &report.findings {
        if !seen.insert(f.rule.clone()) {
            continue;
        }
        let cwes: Vec<String> = f.cwe.iter().map(|c| format!("CWE-{c}")).collect();
        let _ = writeln!(long, "{} ({}, rule {}) at line {}.", f.title, cwes.join(", "), f.rule, f.span.start_line);
        let _ = writeln!(long, "{}", f.explanation.trim());
        if !f.fix.trim().is_empty() {
            let _ = writeln!(long, "Use instead:\n{}", f.fix.trim());
        }
        long.push('\n');
    }
    for o in report.overrides.iter().filter(|o| o.valid && o.suppressed > 0) {
        let _ = writeln!(
            long,
            "An override allows {} here: {} (approved by {}). The finding is suppressed but the code is not safer for it.",
            o.rules.join(", "),
            o.justification.as_deref().unwrap_or(""),
            o.approver.as_deref().unwrap_or("")
        );
    }
    let given = unit.explanation.as_deref().map(str::trim).filter(|s| !s.is_empty());
    match (unit.variant, given) {
        (VariantKind::Secure, Some(e)) => {
            long = match unit.cwe_label {
                Some(c) => format!("This version avoids CWE-{c}. {e}\n{long}"),
                None => format!("This version carries the fix. {e}\n{long}"),
            };
        }
        (_, Some(e)) => long = format!("{e}\n\n{long}"),
        _ => {}
    }
    let p = &report.properties;
    if report.findings.is_empty() && given.is_none() {
        let mut facts: Vec<&str> = report.facts.iter().map(|f| f.name.as_str()).collect();
        facts.sort_unstable();
        facts.dedup();
        let _ = write!(
            long,
            "The verifier reports no active finding. Memory safe: {}; type safe: {}; resource bounded: {}; sandboxed: {}.",
            yes(p.memory_safe),
            yes(p.type_safe),
            yes(p.resource_bounded),
            yes(p.sandboxed)
        );
        if !facts.is_empty() {
            let _ = write!(long, " Security-relevant constructs: {}.", facts.join(", "));
        }
    }
    let short = match report.findings.first() {
        Some(f) => {
            let cwes: Vec<String> = f.cwe.iter().map(|c| format!("CWE-{c}")).collect();
            format!("{} ({}) at line {}: {}", f.title, cwes.join(", "), f.span.start_line, first_sentence(&f.message))
        }
        None if unit.variant == VariantKind::Secure && unit.cwe_label.is_some() => {
            format!("No finding: this version avoids CWE-{}.", unit.cwe_label.unwrap_or(0))
        }
        None if !report.suppressed.is_empty() => {
            format!("{} finding(s) suppressed by a justified override.", report.suppressed.len())
        }
        None => format!("No security finding (memory safe: {}).", yes(p.memory_safe)),
    };
    (short, long.trim().to_string())
}
