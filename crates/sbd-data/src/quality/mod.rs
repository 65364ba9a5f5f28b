//! Quality gates. Each gate counts what it removed (or, for redaction, changed) in
//! [`GateCounts`]:
//! - `length`: units outside the configured line and byte bounds;
//! - `parse`: units the verifier's parser could not read well (too many error nodes);
//! - `secrets` ([`secrets`]): keys, tokens and passwords redacted (the unit is kept);
//! - `reverify`: mutants the verifier does not confirm and override scenarios it does not
//!   treat as intended (plus, not removed, claimed labels it disagrees with);
//! - `consistency`: rows whose ANRF instance disagrees with the code's verified properties
//!   (instances the validator rejects are kept and counted as `anrf_invalid_kept`);
//! - `exact_dup` and `near_dup` ([`dedup`], searched in bounded memory by [`spill`]): exact
//!   duplicates of normalised text and MinHash+LSH near-duplicates across groups.
pub mod dedup;
pub mod secrets;
pub mod spill;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Removed (or changed) counts per gate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateCounts {
    pub counts: BTreeMap<String, u64>,
}

impl GateCounts {
    pub fn add(&mut self, gate: &str, n: u64) {
        *self.counts.entry(gate.to_string()).or_default() += n;
    }

    pub fn get(&self, gate: &str) -> u64 {
        self.counts.get(gate).copied().unwrap_or(0)
    }

    pub fn merge(&mut self, other: &GateCounts) {
        for (k, v) in &other.counts {
            self.add(k, *v);
        }
    }
}

/// Length bounds in lines and bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    pub min_lines: u32,
    pub max_lines: u32,
    pub min_bytes: u32,
    pub max_bytes: u32,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { min_lines: 3, max_lines: 1000, min_bytes: 40, max_bytes: 64 * 1024 }
    }
}

impl Bounds {
    pub fn accepts(&self, code: &str) -> bool {
        let bytes = code.len();
        let lines = code.lines().count();
        bytes >= self.min_bytes as usize
            && bytes <= self.max_bytes as usize
            && lines >= self.min_lines as usize
            && lines <= self.max_lines as usize
    }
}

/// The parse gate: at most one syntax error node per 50 lines (and none in a short unit).
pub fn parses(report: &sbd_scan::Report, lines: usize) -> bool {
    report.parse.bytes > 0 && report.parse.error_nodes <= lines / 50
}

/// The consistency gate: the ANRF instance is JSON and records the same properties as the
/// verifier's report. (An instance the validator rejects is kept and counted: insecure code,
/// e.g. an `unsafe` block without a justified override, correctly fails ANRF's rules.)
pub fn consistent(record: &crate::record::Record) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&record.anrf) else { return false };
    consistent_value(&v, record.memory_safe, record.type_safe, record.resource_bounded)
}

/// [`consistent`] on an instance that is still a JSON value.
pub fn consistent_value(v: &serde_json::Value, memory_safe: bool, type_safe: bool, resource_bounded: bool) -> bool {
    match v.pointer("/execution_layer/verification/results/properties") {
        Some(p) => {
            p.get("memory_safe").and_then(|x| x.as_bool()) == Some(memory_safe)
                && p.get("type_safe").and_then(|x| x.as_bool()) == Some(type_safe)
                && p.get("resource_bounded").and_then(|x| x.as_bool()) == Some(resource_bounded)
        }
        None => v.is_object(),
    }
}
