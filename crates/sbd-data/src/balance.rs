//! Stratified resampling toward configured shares (`[balance]` in `data.toml`).
//!
//! ```toml
//! [balance]
//! language = { rust = 0.2, c = 0.2 }      # shares of rows, per resampled split
//! cwe = { "CWE-89" = 0.05, none = 0.5 }   # the labelled CWE, else the first found, else `none`
//! variant = { original = 0.4 }
//! override = { invalid = 0.05 }
//! splits = ["pretrain", "finetune", "adversarial"]   # the default: eval keeps its natural mix
//! max_repeat = 3.0                        # no row is copied more than this many times
//! ```
//!
//! Strata not named share what the named ones leave, in their current proportions. Each row
//! falls in one cell (its stratum on every configured dimension); per split, iterative
//! proportional fitting finds one weight per cell so that each dimension's weighted shares
//! meet its targets, then weights are capped at `max_repeat`. A row of weight `w` is kept
//! `⌊w⌋` times plus once more with probability `w − ⌊w⌋`; copies get the id suffix `~rep<k>`
//! and stay in their row's group and split. The draw is a function of the seed, the group and
//! the cell, so both sides of a pair share their fate unless a target splits them apart (a
//! `variant` target). `stats.json` reports, per split and dimension, target, share before and
//! share after.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::record::{Record, VariantKind};

/// The dimensions a target can name, in cell order.
pub const DIMENSIONS: [&str; 4] = ["language", "cwe", "variant", "override"];

/// `[balance]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Balance {
    pub language: BTreeMap<String, f64>,
    pub cwe: BTreeMap<String, f64>,
    pub variant: BTreeMap<String, f64>,
    #[serde(rename = "override")]
    pub override_status: BTreeMap<String, f64>,
    /// Splits resampled.
    pub splits: Vec<String>,
    /// Most copies of one row.
    pub max_repeat: f64,
}

impl Default for Balance {
    fn default() -> Self {
        Balance {
            language: BTreeMap::new(),
            cwe: BTreeMap::new(),
            variant: BTreeMap::new(),
            override_status: BTreeMap::new(),
            splits: vec!["pretrain".into(), "finetune".into(), "adversarial".into()],
            max_repeat: 3.0,
        }
    }
}

/// What a row's strata are read from.
pub struct Strata<'a> {
    pub language: &'a str,
    /// The labelled CWE, else the first found.
    pub cwe: Option<u32>,
    pub variant: VariantKind,
    pub override_status: &'a str,
}

impl<'a> Strata<'a> {
    pub fn of(r: &'a Record) -> Strata<'a> {
        Strata {
            language: &r.language,
            cwe: r.cwe_label.or_else(|| r.cwes.first().copied()),
            variant: r.variant,
            override_status: &r.override_status,
        }
    }

    pub fn of_key(k: &'a crate::chunk::Key) -> Strata<'a> {
        Strata {
            language: &k.language,
            cwe: k.cwe_label.or(k.first_cwe),
            variant: k.variant,
            override_status: &k.override_status,
        }
    }
}

/// The stratum of a row on dimension `dim`.
pub fn stratum(s: &Strata, dim: &str) -> String {
    match dim {
        "language" => s.language.to_string(),
        "cwe" => match s.cwe {
            Some(c) => format!("CWE-{c}"),
            None => "none".into(),
        },
        "variant" => s.variant.name().to_string(),
        _ => s.override_status.to_string(),
    }
}

impl Balance {
    fn targets(&self, dim: &str) -> &BTreeMap<String, f64> {
        match dim {
            "language" => &self.language,
            "cwe" => &self.cwe,
            "variant" => &self.variant,
            _ => &self.override_status,
        }
    }

    /// The dimensions with targets.
    pub fn dimensions(&self) -> Vec<&'static str> {
        DIMENSIONS.into_iter().filter(|d| !self.targets(d).is_empty()).collect()
    }

    pub fn active(&self) -> bool {
        !self.dimensions().is_empty()
    }

    pub fn check(&self) -> Result<(), String> {
        for d in DIMENSIONS {
            let t = self.targets(d);
            if t.values().any(|v| !(0.0..=1.0).contains(v)) {
                return Err(format!("balance.{d}: every share must be in [0, 1]"));
            }
            let sum: f64 = t.values().sum();
            if sum > 1.0 + 1e-9 {
                return Err(format!("balance.{d}: shares add up to {sum:.3}, more than 1"));
            }
        }
        if !(self.max_repeat >= 1.0 && self.max_repeat.is_finite()) {
            return Err("balance.max_repeat must be a number of at least 1".into());
        }
        if let Some(s) = self.splits.iter().find(|s| !crate::split::SPLITS.contains(&s.as_str())) {
            return Err(format!("balance.splits: unknown split `{s}` (pretrain, finetune, eval, adversarial)"));
        }
        Ok(())
    }

    /// The cell of a row: its strata on the configured dimensions.
    pub fn cell(&self, s: &Strata) -> Vec<String> {
        self.dimensions().into_iter().map(|d| stratum(s, d)).collect()
    }

    /// Per-cell weights for one split from its cell counts (iterative proportional fitting).
    pub fn weights(&self, counts: &BTreeMap<Vec<String>, u64>) -> BTreeMap<Vec<String>, f64> {
        let dims = self.dimensions();
        let mut w: BTreeMap<Vec<String>, f64> = counts.keys().map(|k| (k.clone(), 1.0)).collect();
        for _ in 0..50 {
            for (di, dim) in dims.iter().enumerate() {
                let targets = self.targets(dim);
                let mut by: BTreeMap<&str, f64> = BTreeMap::new();
                for (cell, n) in counts {
                    *by.entry(cell[di].as_str()).or_default() += *n as f64 * w[cell];
                }
                let total: f64 = by.values().sum();
                if total <= 0.0 {
                    continue;
                }
                let named: f64 = by.keys().filter_map(|s| targets.get(*s)).sum();
                let unnamed: f64 = by.iter().filter(|(s, _)| !targets.contains_key(**s)).map(|(_, v)| v).sum();
                // Named strata absent from the data leave their share to the others; with no
                // unnamed strata, the named ones are scaled to fill the whole.
                let scale = if unnamed > 0.0 || named <= 0.0 { 1.0 } else { 1.0 / named };
                let factor = |s: &str, have: f64| -> f64 {
                    if have <= 0.0 {
                        return 1.0;
                    }
                    match targets.get(s) {
                        Some(t) => t * scale * total / have,
                        None => (1.0 - named).max(0.0) * total / unnamed,
                    }
                };
                let f: BTreeMap<String, f64> = by.iter().map(|(s, have)| (s.to_string(), factor(s, *have))).collect();
                for (cell, x) in w.iter_mut() {
                    *x *= f[&cell[di]];
                }
            }
            for x in w.values_mut() {
                *x = x.min(self.max_repeat);
            }
        }
        w
    }

    /// How many times a row of `weight` is written: a deterministic draw on `key`.
    pub fn copies(seed: u64, key: &str, weight: f64) -> u32 {
        let whole = weight.floor();
        let frac = weight - whole;
        let extra = crate::variants::chosen(seed ^ 0xba1a_2ce5, key, frac);
        whole as u32 + u32::from(extra)
    }
}

/// Shares before and after resampling, against the target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub target: Option<f64>,
    pub before: f64,
    pub after: f64,
}

/// What resampling did, per split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitReport {
    pub rows_before: u64,
    pub rows_after: u64,
    /// Rows written no time.
    pub dropped: u64,
    /// Extra copies written.
    pub copies: u64,
    /// dimension → stratum → shares.
    pub shares: BTreeMap<String, BTreeMap<String, Share>>,
}

/// Tallies per split and cell, before and after, into a [`SplitReport`] each.
#[derive(Debug, Default)]
pub struct Tally {
    before: BTreeMap<String, BTreeMap<Vec<String>, u64>>,
    after: BTreeMap<String, BTreeMap<Vec<String>, u64>>,
    dropped: BTreeMap<String, u64>,
    copies: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, split: &str, cell: &[String], written: u32) {
        *self.before.entry(split.into()).or_default().entry(cell.to_vec()).or_default() += 1;
        *self.after.entry(split.into()).or_default().entry(cell.to_vec()).or_default() += u64::from(written);
        if written == 0 {
            *self.dropped.entry(split.into()).or_default() += 1;
        } else {
            *self.copies.entry(split.into()).or_default() += u64::from(written - 1);
        }
    }

    pub fn report(&self, b: &Balance) -> BTreeMap<String, SplitReport> {
        let dims = b.dimensions();
        let mut out = BTreeMap::new();
        for (split, before) in &self.before {
            let after = self.after.get(split).cloned().unwrap_or_default();
            let nb: u64 = before.values().sum();
            let na: u64 = after.values().sum();
            let mut shares: BTreeMap<String, BTreeMap<String, Share>> = BTreeMap::new();
            for (di, dim) in dims.iter().enumerate() {
                let m = shares.entry(dim.to_string()).or_default();
                for (cell, n) in before {
                    m.entry(cell[di].clone()).or_default().before += *n as f64 / nb.max(1) as f64;
                }
                for (cell, n) in &after {
                    m.entry(cell[di].clone()).or_default().after += *n as f64 / na.max(1) as f64;
                }
                for (s, t) in b.targets(dim) {
                    m.entry(s.clone()).or_default().target = Some(*t);
                }
            }
            out.insert(
                split.clone(),
                SplitReport {
                    rows_before: nb,
                    rows_after: na,
                    dropped: self.dropped.get(split).copied().unwrap_or(0),
                    copies: self.copies.get(split).copied().unwrap_or(0),
                    shares,
                },
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(a: &str, b: &str) -> Vec<String> {
        vec![a.to_string(), b.to_string()]
    }

    #[test]
    fn fitting_meets_two_dimensions_and_respects_the_cap() {
        let b = Balance {
            language: [("rust".to_string(), 0.5)].into(),
            variant: [("secure".to_string(), 0.3)].into(),
            max_repeat: 10.0,
            ..Balance::default()
        };
        assert_eq!(b.dimensions(), ["language", "variant"]);
        let counts: BTreeMap<Vec<String>, u64> = [
            (cell("rust", "secure"), 10),
            (cell("rust", "original"), 90),
            (cell("python", "secure"), 100),
            (cell("python", "original"), 800),
        ]
        .into();
        let w = b.weights(&counts);
        let total: f64 = counts.iter().map(|(c, n)| *n as f64 * w[c]).sum();
        let rust: f64 = counts.iter().filter(|(c, _)| c[0] == "rust").map(|(c, n)| *n as f64 * w[c]).sum();
        let secure: f64 = counts.iter().filter(|(c, _)| c[1] == "secure").map(|(c, n)| *n as f64 * w[c]).sum();
        assert!((rust / total - 0.5).abs() < 0.01, "{}", rust / total);
        assert!((secure / total - 0.3).abs() < 0.01, "{}", secure / total);
        let capped = Balance { max_repeat: 2.0, ..b.clone() };
        assert!(capped.weights(&counts).values().all(|x| *x <= 2.0));
    }

    #[test]
    fn copies_are_deterministic_and_average_to_the_weight() {
        let n: u32 = (0..10_000).map(|i| Balance::copies(7, &format!("g{i}"), 1.5)).sum();
        assert!((14_500..15_500).contains(&n), "{n}");
        assert_eq!(Balance::copies(7, "x", 0.0), 0);
        assert_eq!(Balance::copies(7, "x", 2.0), 2);
        assert_eq!(Balance::copies(7, "g1", 0.5), Balance::copies(7, "g1", 0.5));
    }

    #[test]
    fn bad_targets_are_refused() {
        let b = Balance { cwe: [("CWE-79".into(), 0.7), ("CWE-89".into(), 0.6)].into(), ..Balance::default() };
        assert!(b.check().unwrap_err().contains("more than 1"));
        let b = Balance { splits: vec!["train".into()], ..Balance::default() };
        assert!(b.check().unwrap_err().contains("unknown split"));
        assert!(Balance::default().check().is_ok() && !Balance::default().active());
    }
}
