//! Override scenarios: `sbd:allow` comments on the lines of an insecure unit's findings.
use sbd_scan::Report;

use crate::record::VariantKind;
use crate::units::Unit;

/// Justifications by rule prefix: plausible reasons reviewers accept for legacy code.
fn justification(rule: &str) -> &'static str {
    match rule.get(..2).unwrap_or("") {
        "RS" => "FFI boundary: the pointer and length come from a checked slice; reviewed with Miri",
        "C0" => "buffer sizes checked by the caller against MAX_LEN before this call; fuzzed in CI",
        "GO" => "input comes from the service's own configuration file, not from users",
        _ => "input is validated against an allow-list by the caller; covered by the security test suite",
    }
}

/// Rewrites `code` with an override at the end of each line that has an active finding.
/// `justified` adds a justification, approver and date; otherwise the override names the
/// rule only. `None` when there is no finding to override.
pub fn with_override(unit: &Unit, report: &Report, justified: bool) -> Option<Unit> {
    let mut by_line: std::collections::BTreeMap<usize, Vec<&str>> = std::collections::BTreeMap::new();
    for f in report.findings.iter().filter(|f| !f.rule.starts_with("OVR")) {
        let rules = by_line.entry(f.span.start_line).or_default();
        if !rules.contains(&f.rule.as_str()) {
            rules.push(&f.rule);
        }
    }
    if by_line.is_empty() {
        return None;
    }
    let c = super::line_comment(unit.language);
    let mut out = String::with_capacity(unit.code.len() + 128);
    for (i, line) in unit.code.lines().enumerate() {
        out.push_str(line);
        if let Some(rules) = by_line.get(&(i + 1)) {
            let list = rules.join(", ");
            if justified {
                out.push_str(&format!(
                    " {c} sbd:allow({list}, justification=\"{}\", approver=\"security-review\", approved=\"2025-06-02\", ticket=\"SEC-{}\")",
                    justification(rules[0]),
                    100 + i
                ));
            } else {
                out.push_str(&format!(" {c} sbd:allow({list})"));
            }
        }
        out.push('\n');
    }
    let (variant, suffix) = if justified {
        (VariantKind::OverrideJustified, "override-justified")
    } else {
        (VariantKind::OverrideUnjustified, "override-unjustified")
    };
    let mut u = unit.clone();
    u.id = format!("{}~{suffix}", unit.id);
    u.variant = variant;
    u.code = out;
    // The weakness is still there; the override only changes whether it is accepted.
    u.label_claimed = None;
    Some(u)
}

/// Did the verifier treat the override as intended? Justified: every finding suppressed and
/// the status `justified`. Unjustified: the status `invalid` with an `OVR` finding.
pub fn behaves(report: &Report, justified: bool) -> bool {
    use sbd_scan::OverrideStatus;
    if justified {
        report.properties.override_status == OverrideStatus::Justified
            && report.findings.is_empty()
            && !report.suppressed.is_empty()
    } else {
        report.properties.override_status == OverrideStatus::Invalid
            && report.findings.iter().any(|f| f.rule.starts_with("OVR"))
    }
}

#[cfg(test)]
mod tests {
    use sbd_scan::Language;

    use super::*;

    #[test]
    fn justified_suppresses_and_unjustified_is_rejected() {
        let code = "import os\ndef f(x):\n    os.system(x)\n";
        let unit = Unit::snippet("t".into(), "test", Language::Python, code.into());
        let s = sbd_scan::Scanner::new().unwrap();
        let r = s.scan(code, Language::Python);
        let j = with_override(&unit, &r, true).unwrap();
        assert!(behaves(&s.scan(&j.code, Language::Python), true), "{}", j.code);
        let u = with_override(&unit, &r, false).unwrap();
        assert!(behaves(&s.scan(&u.code, Language::Python), false), "{}", u.code);
    }
}
