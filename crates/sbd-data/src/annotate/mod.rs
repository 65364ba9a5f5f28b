//! Annotation: the verifier's view of a unit, turned into a [`Record`].
//!
//! - findings, facts and properties from [`sbd_scan::Scanner`];
//! - token-level security tags: the character spans of findings (`finding:<class>`) and
//!   facts (`fact:<category>`), see [`tags`];
//! - explanations of two lengths built from the rules' documentation (*Why is this bad?* and
//!   *Use instead*), or the seed pair's own text, see [`explain`];
//! - the unit's ANRF 1.1.0 instance from [`sbd_scan::anrf`], checked with
//!   [`sbd_anrf::validate`].
pub mod explain;
pub mod tags;

use sbd_scan::{Report, Scanner};

use crate::record::Record;
use crate::units::Unit;

/// Annotates units; holds the compiled verifier.
pub struct Annotator {
    scanner: Scanner,
    timestamp: String,
}

impl Annotator {
    /// `timestamp` (RFC 3339) goes into every ANRF instance; a fixed value keeps builds
    /// reproducible.
    pub fn new(timestamp: impl Into<String>) -> Result<Annotator, crate::Error> {
        let scanner = Scanner::new().map_err(|e| crate::Error::Scanner(e.to_string()))?;
        Ok(Annotator { scanner, timestamp: timestamp.into() })
    }

    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// Scans `unit` and builds its row (split still empty).
    pub fn annotate(&self, unit: &Unit) -> (Record, Report) {
        let report = self.scan(unit);
        let record = self.record(unit, &report);
        (record, report)
    }

    /// The verifier's report on `unit`.
    pub fn scan(&self, unit: &Unit) -> Report {
        let mut report = self.scanner.scan(&unit.code, unit.language);
        report.path = Some(unit.id.clone());
        report
    }

    /// [`Annotator::scan`] for a unit cut from a file whose parse is at hand: scanned on
    /// `tree` (the parse of `text`, where the unit is `range`), falling back to parsing the
    /// unit's code when the tree cannot stand in for that ([`sbd_scan::Scanner::scan_subtree`]).
    pub fn scan_in_file(
        &self,
        unit: &Unit,
        text: &str,
        tree: &tree_sitter::Tree,
        range: std::ops::Range<usize>,
    ) -> Report {
        if text.get(range.clone()) != Some(unit.code.as_str()) {
            return self.scan(unit);
        }
        match self.scanner.scan_subtree(text, tree, unit.language, range, Some(&unit.id)) {
            Some(r) => r,
            None => self.scan(unit),
        }
    }

    /// Builds the row of `unit` from an existing report of its code.
    pub fn record(&self, unit: &Unit, report: &Report) -> Record {
        self.record_checked(unit, report).0
    }

    /// [`Annotator::record`], and whether the ANRF instance records the row's properties
    /// ([`crate::quality::consistent_value`], checked before the instance becomes text).
    pub fn record_checked(&self, unit: &Unit, report: &Report) -> (Record, bool) {
        let mut cwes: Vec<u32> = report.findings.iter().flat_map(|f| f.cwe.iter().copied()).collect();
        cwes.sort_unstable();
        cwes.dedup();
        let mut rules: Vec<String> = report.findings.iter().map(|f| f.rule.clone()).collect();
        rules.sort();
        rules.dedup();
        let vulnerable = !report.findings.is_empty();
        let label_verified = match (unit.label_claimed, unit.cwe_label) {
            (None, _) => true,
            (Some(true), Some(cwe)) => crate::cwe::any_related(&cwes, cwe),
            (Some(true), None) => vulnerable,
            (Some(false), Some(cwe)) => !crate::cwe::any_related(&cwes, cwe),
            (Some(false), None) => !vulnerable,
        };
        let (anrf, verdict) = sbd_scan::anrf::unit_anrf_validated(report, &self.timestamp);
        let p = &report.properties;
        let consistent = crate::quality::consistent_value(&anrf, p.memory_safe, p.type_safe, p.resource_bounded);
        let (short, long) = explain::explain(unit, report);
        let record = Record {
            id: unit.id.clone(),
            group: unit.group.clone(),
            split: String::new(),
            source: unit.source.clone(),
            language: unit.language.name().to_string(),
            unit: unit.unit.to_string(),
            variant: unit.variant,
            repo: unit.repo.clone(),
            path: unit.path.clone(),
            commit: unit.commit.clone(),
            licence: unit.licence.clone(),
            start_line: unit.start_line,
            task: unit.task.clone(),
            lines: unit.code.lines().count() as u32,
            bytes: unit.code.len() as u32,
            code: unit.code.clone(),
            cwe_label: unit.cwe_label,
            label_claimed: unit.label_claimed,
            vulnerable,
            label_verified,
            cwes,
            rules,
            findings: serde_json::to_string(&report.findings).unwrap_or_default(),
            facts: serde_json::to_string(&report.facts).unwrap_or_default(),
            memory_safe: p.memory_safe,
            type_safe: p.type_safe,
            resource_bounded: p.resource_bounded,
            sandboxed: p.sandboxed,
            override_status: serde_json::to_value(p.override_status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            tags: tags::tags(&unit.code, report),
            explanation_short: short,
            explanation: long,
            anrf: anrf.to_string(),
            anrf_valid: verdict.is_valid(),
            complexity: complexity(&unit.code).to_string(),
            parent: None,
            operator: None,
        };
        (record, consistent)
    }
}

/// `simple`, `moderate` or `complex` from size and branching (a cyclomatic estimate).
pub fn complexity(code: &str) -> &'static str {
    let lines = code.lines().filter(|l| !l.trim().is_empty()).count();
    let mut branches = 0usize;
    for w in code.split(|c: char| !c.is_ascii_alphanumeric() && c != '_') {
        if matches!(w, "if" | "for" | "while" | "case" | "catch" | "except" | "elif" | "match" | "loop" | "switch") {
            branches += 1;
        }
    }
    branches += code.matches("&&").count() + code.matches("||").count();
    if lines <= 15 && branches <= 2 {
        "simple"
    } else if lines <= 60 && branches <= 10 {
        "moderate"
    } else {
        "complex"
    }
}
