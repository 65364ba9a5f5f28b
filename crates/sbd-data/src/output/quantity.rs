//! Dataset statistics and the quantity report against requirements section 2.4.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{Record, VariantKind};

/// Counts for one split.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitStats {
    pub rows: u64,
    pub lines: u64,
    pub bytes: u64,
    /// Rows carrying the verifier's annotation (findings, facts, properties, tags): all rows.
    pub annotated: u64,
    /// Rows carrying an ANRF instance (every row) …
    pub anrf: u64,
    /// … of which the validator accepts this many (insecure code fails ANRF's rules).
    pub anrf_valid: u64,
    /// Rows with a security explanation drawn from a rule or the seed (not just "no finding").
    pub explained: u64,
    pub vulnerable: u64,
}

/// Adversarial counts of requirements 2.4.4.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adversarial {
    /// Rows the verifier flags, in the adversarial split.
    pub vulnerability_examples: u64,
    /// Unjustified overrides and obfuscations: attempts to get insecure code past the verifier.
    pub bypass_attempts: u64,
    /// Obfuscated rows the verifier misses: subtle issues.
    pub subtle: u64,
    /// Flagged rows of complexity `complex` in any split.
    pub complex: u64,
}

/// `stats.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub rows: u64,
    pub splits: BTreeMap<String, SplitStats>,
    pub languages: BTreeMap<String, u64>,
    /// Per CWE: rows labelled with it or flagged for it.
    pub cwes: BTreeMap<String, u64>,
    pub variants: BTreeMap<String, u64>,
    pub override_status: BTreeMap<String, u64>,
    pub complexity: BTreeMap<String, u64>,
    /// Rows where each property holds.
    pub properties: BTreeMap<String, u64>,
    pub sources: BTreeMap<String, u64>,
    pub adversarial: Adversarial,
}

impl Stats {
    pub fn add(&mut self, r: &Record) {
        self.rows += 1;
        let s = self.splits.entry(r.split.clone()).or_default();
        s.rows += 1;
        s.lines += u64::from(r.lines);
        s.bytes += u64::from(r.bytes);
        s.annotated += 1;
        s.anrf += 1;
        s.anrf_valid += u64::from(r.anrf_valid);
        let explained =
            r.vulnerable || r.variant == VariantKind::Secure || !r.tags.is_empty() || r.override_status != "none";
        s.explained += u64::from(explained && !r.explanation.is_empty());
        s.vulnerable += u64::from(r.vulnerable);
        *self.languages.entry(r.language.clone()).or_default() += 1;
        let mut cwes: Vec<u32> = r.cwes.clone();
        cwes.extend(r.cwe_label);
        cwes.sort_unstable();
        cwes.dedup();
        for c in cwes {
            *self.cwes.entry(format!("CWE-{c}")).or_default() += 1;
        }
        *self.variants.entry(r.variant.name().to_string()).or_default() += 1;
        *self.override_status.entry(r.override_status.clone()).or_default() += 1;
        *self.complexity.entry(r.complexity.clone()).or_default() += 1;
        for (k, v) in [
            ("memory_safe", r.memory_safe),
            ("type_safe", r.type_safe),
            ("resource_bounded", r.resource_bounded),
            ("sandboxed", r.sandboxed),
        ] {
            *self.properties.entry(k.to_string()).or_default() += u64::from(v);
        }
        *self.sources.entry(r.source.clone()).or_default() += 1;
        let a = &mut self.adversarial;
        if r.split == "adversarial" && r.vulnerable {
            a.vulnerability_examples += 1;
        }
        if matches!(r.variant, VariantKind::OverrideUnjustified | VariantKind::Obfuscated) {
            a.bypass_attempts += 1;
        }
        if r.variant == VariantKind::Obfuscated && !r.label_verified {
            a.subtle += 1;
        }
        if r.vulnerable && r.complexity == "complex" {
            a.complex += 1;
        }
    }
}

/// One line of the quantity report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub split: String,
    pub metric: String,
    pub required: u64,
    pub actual: u64,
    pub ratio: f64,
}

/// The minimums of requirements 2.4 against `stats`.
pub fn report(stats: &Stats) -> Vec<Line> {
    let mut out = Vec::new();
    let mins: [(&str, [u64; 4]); 3] = [
        ("pretrain", [1_000_000_000, 100_000_000, 10_000_000, 1_000_000]),
        ("finetune", [10_000_000, 1_000_000, 100_000, 10_000]),
        ("eval", [100_000, 10_000, 1_000, 100]),
    ];
    let empty = SplitStats::default();
    for (split, m) in mins {
        let s = stats.splits.get(split).unwrap_or(&empty);
        for (metric, required, actual) in [
            ("lines of code", m[0], s.lines),
            ("security-annotated examples", m[1], s.annotated),
            ("examples with ANRF metadata", m[2], s.anrf),
            ("examples with security explanations", m[3], s.explained),
        ] {
            out.push(Line {
                split: split.into(),
                metric: metric.into(),
                required,
                actual,
                ratio: actual as f64 / required as f64,
            });
        }
    }
    let a = &stats.adversarial;
    for (metric, required, actual) in [
        ("security vulnerability examples", 10_000, a.vulnerability_examples),
        ("security bypass attempts", 1_000, a.bypass_attempts),
        ("subtle security issues", 100, a.subtle),
        ("complex security vulnerabilities", 10, a.complex),
    ] {
        out.push(Line {
            split: "adversarial".into(),
            metric: metric.into(),
            required,
            actual,
            ratio: actual as f64 / required as f64,
        });
    }
    out
}

/// The report as a Markdown table.
pub fn markdown(lines: &[Line]) -> String {
    let mut s = String::from("| split | metric | required | actual | ratio |\n|---|---|---:|---:|---:|\n");
    for l in lines {
        s.push_str(&format!("| {} | {} | {} | {} | {:.6} |\n", l.split, l.metric, l.required, l.actual, l.ratio));
    }
    s
}
