//! The accuracy harness: score detectors on labelled code, side by side.
//!
//! Scoring, per sample:
//! - a **vulnerable** sample is a true positive when the detector reports a finding whose CWE is
//!   the label's or a close relative (see [`cwe`]); when the dataset gives the flagged line
//!   (CyberSecEval), the finding must also cover that line. Otherwise it is a false negative.
//!   `recall_any_line` relaxes the line condition, for reference.
//! - a **fixed / safe** sample is a false positive when the detector reports a finding related
//!   to the label's CWE anywhere in it (the weakness the fix removed), else a true negative.
//!   Samples without a CWE label count any finding.
//! - a **pair** is correct when its vulnerable side is a true positive and its fixed side a
//!   true negative.
//!
//! Samples in languages a detector does not support stay in the denominators (a user relying
//! on that tool would miss them); `coverage` says what share the tool could look at.

pub mod cwe;
pub mod peers;
pub mod sbd;
pub mod table;

use std::collections::BTreeMap;

use sbd_data::sources::{Sample, Variant};
use serde::Serialize;

/// One finding of a detector, reduced to what scoring needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: String,
    pub cwes: Vec<u32>,
    /// 1-based first and last line of the finding.
    pub line: usize,
    pub end_line: usize,
}

/// Anything that finds weaknesses in code.
pub trait Detector: Sync {
    /// Shown in tables (`sbd`, `bandit 1.8.6` …).
    fn name(&self) -> String;
    /// Whether the detector analyses this canonical language at all.
    fn supports(&self, language: &str) -> bool;
    /// The findings for each sample, in order (empty for unsupported languages).
    fn detect(&self, samples: &[Sample]) -> Result<Vec<Vec<Finding>>, String>;
}

/// How one detector did on one sample.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub sample: String,
    pub dataset: String,
    pub language: String,
    pub cwe: Option<u32>,
    pub vulnerable: bool,
    pub pair: Option<String>,
    pub supported: bool,
    /// Vulnerable: detected (at the line where one is labelled). Safe: flagged (a false positive).
    pub flagged: bool,
    /// Vulnerable: detected anywhere in the sample.
    pub flagged_any_line: bool,
    /// Rules that matched the label (for misses: empty).
    pub matched_rules: Vec<String>,
}

/// Judges one sample's findings.
pub fn judge(sample: &Sample, dataset: &str, supported: bool, findings: &[Finding]) -> Judgement {
    let relevant: Vec<&Finding> = findings
        .iter()
        .filter(|f| match sample.cwe {
            Some(label) => f.cwes.iter().any(|&c| cwe::related(label, c)),
            None => true,
        })
        .collect();
    let at_line: Vec<&Finding> = match (sample.vulnerable, sample.line) {
        (true, Some(line)) => {
            relevant.iter().copied().filter(|f| f.line <= line && line <= f.end_line.max(f.line)).collect()
        }
        _ => relevant.clone(),
    };
    let mut matched_rules: Vec<String> = at_line.iter().map(|f| f.rule.clone()).collect();
    matched_rules.sort();
    matched_rules.dedup();
    Judgement {
        sample: sample.id.clone(),
        dataset: dataset.to_string(),
        language: sample.language.clone(),
        cwe: sample.cwe,
        vulnerable: sample.vulnerable,
        pair: sample.pair.as_ref().map(|(p, _)| p.clone()),
        supported,
        flagged: !at_line.is_empty(),
        flagged_any_line: !relevant.is_empty(),
        matched_rules,
    }
}

/// Confusion counts and the metrics derived from them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub samples: usize,
    pub supported: usize,
    pub tp: usize,
    pub fn_: usize,
    pub fp: usize,
    pub tn: usize,
    pub tp_any_line: usize,
    pub pairs: usize,
    pub pairs_correct: usize,
}

impl Counts {
    fn add(&mut self, j: &Judgement) {
        self.samples += 1;
        self.supported += usize::from(j.supported);
        match (j.vulnerable, j.flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
        if j.vulnerable && j.flagged_any_line {
            self.tp_any_line += 1;
        }
    }

    fn ratio(num: usize, den: usize) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }
    pub fn precision(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fn_)
    }
    pub fn recall_any_line(&self) -> Option<f64> {
        Self::ratio(self.tp_any_line, self.tp + self.fn_)
    }
    pub fn f1(&self) -> Option<f64> {
        match (self.precision(), self.recall()) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        }
    }
    /// False-positive rate on fixed/safe samples.
    pub fn fpr(&self) -> Option<f64> {
        Self::ratio(self.fp, self.fp + self.tn)
    }
    pub fn pair_accuracy(&self) -> Option<f64> {
        Self::ratio(self.pairs_correct, self.pairs)
    }
    pub fn coverage(&self) -> Option<f64> {
        Self::ratio(self.supported, self.samples)
    }
}

/// A slice of the results: everything, one language, or one CWE.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Slice {
    All,
    Language(String),
    Cwe(Option<u32>),
}

impl std::fmt::Display for Slice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slice::All => f.write_str("all"),
            Slice::Language(l) => f.write_str(l),
            Slice::Cwe(Some(c)) => write!(f, "CWE-{c}"),
            Slice::Cwe(None) => f.write_str("no CWE"),
        }
    }
}

/// Counts per (dataset, slice) for one detector.
pub type Breakdown = BTreeMap<(String, Slice), Counts>;

/// Scores judgements into counts per dataset and slice (all / language / CWE), pairs included.
pub fn tally(judgements: &[Judgement]) -> Breakdown {
    let mut out: Breakdown = BTreeMap::new();
    for j in judgements {
        for slice in [Slice::All, Slice::Language(j.language.clone()), Slice::Cwe(j.cwe)] {
            out.entry((j.dataset.clone(), slice)).or_default().add(j);
        }
    }
    // Pairs: both sides judged, vulnerable flagged and fixed not.
    let mut pairs: BTreeMap<&str, (Option<&Judgement>, Option<&Judgement>)> = BTreeMap::new();
    for j in judgements {
        if let Some(p) = &j.pair {
            let e = pairs.entry(p.as_str()).or_default();
            if j.vulnerable {
                e.0 = Some(j);
            } else {
                e.1 = Some(j);
            }
        }
    }
    for (v, f) in pairs.values() {
        let (Some(v), Some(f)) = (v, f) else { continue };
        let correct = v.flagged && !f.flagged;
        for slice in [Slice::All, Slice::Language(v.language.clone()), Slice::Cwe(v.cwe)] {
            let c = out.entry((v.dataset.clone(), slice)).or_default();
            c.pairs += 1;
            c.pairs_correct += usize::from(correct);
        }
    }
    out
}

/// A named set of samples scored together (`cyberseceval`, `sven`, `safecoder`, a user file).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub name: String,
    pub samples: Vec<Sample>,
}

/// One detector's results on every dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DetectorResult {
    pub detector: String,
    pub judgements: Vec<Judgement>,
    #[serde(skip)]
    pub breakdown: Breakdown,
    /// Set when the detector failed to run (the row shows the error instead of numbers).
    pub error: Option<String>,
    pub seconds: f64,
}

/// Runs `detector` on every dataset and scores it.
pub fn evaluate(detector: &dyn Detector, datasets: &[Dataset]) -> DetectorResult {
    let start = std::time::Instant::now();
    let mut judgements = Vec::new();
    let mut error = None;
    for ds in datasets {
        match detector.detect(&ds.samples) {
            Ok(findings) if findings.len() == ds.samples.len() => {
                for (s, f) in ds.samples.iter().zip(&findings) {
                    judgements.push(judge(s, &ds.name, detector.supports(&s.language), f));
                }
            }
            Ok(findings) => {
                error =
                    Some(format!("{}: returned {} results for {} samples", ds.name, findings.len(), ds.samples.len()));
            }
            Err(e) => error = Some(format!("{}: {e}", ds.name)),
        }
    }
    let breakdown = tally(&judgements);
    DetectorResult { detector: detector.name(), judgements, breakdown, error, seconds: start.elapsed().as_secs_f64() }
}

/// Pairs a sample list into vulnerable/fixed ids (for callers that build datasets).
pub fn pair_side(sample: &Sample) -> Option<Variant> {
    sample.pair.as_ref().map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sbd_data::sources::Origin;

    fn sample(id: &str, vulnerable: bool, cwe: Option<u32>, line: Option<usize>, pair: Option<&str>) -> Sample {
        Sample {
            id: id.into(),
            language: "c".into(),
            code: "a\nb\nc\n".into(),
            vulnerable,
            cwe,
            line,
            pair: pair.map(|p| (p.to_string(), if vulnerable { Variant::Vulnerable } else { Variant::Fixed })),
            description: None,
            origin: Origin::default(),
        }
    }

    fn finding(cwe: u32, line: usize) -> Finding {
        Finding { rule: format!("R{cwe}"), cwes: vec![cwe], line, end_line: line }
    }

    #[test]
    fn judging_requires_the_right_weakness_and_line() {
        let s = sample("v", true, Some(787), Some(2), None);
        assert!(judge(&s, "d", true, &[finding(120, 2)]).flagged);
        let off_line = judge(&s, "d", true, &[finding(120, 3)]);
        assert!(!off_line.flagged && off_line.flagged_any_line);
        assert!(!judge(&s, "d", true, &[finding(89, 2)]).flagged_any_line);
        let fixed = sample("f", false, Some(787), None, None);
        assert!(judge(&fixed, "d", true, &[finding(787, 1)]).flagged);
        assert!(!judge(&fixed, "d", true, &[finding(78, 1)]).flagged);
    }

    #[test]
    fn hand_computed_metrics() {
        // 3 pairs: (hit, clean) (hit, FP) (miss, clean) and one lone positive hit.
        let cases = [
            (sample("p1v", true, Some(78), None, Some("p1")), vec![finding(78, 1)]),
            (sample("p1f", false, Some(78), None, Some("p1")), vec![]),
            (sample("p2v", true, Some(78), None, Some("p2")), vec![finding(77, 1)]),
            (sample("p2f", false, Some(78), None, Some("p2")), vec![finding(78, 2)]),
            (sample("p3v", true, Some(89), None, Some("p3")), vec![finding(78, 1)]),
            (sample("p3f", false, Some(89), None, Some("p3")), vec![]),
            (sample("x", true, Some(89), None, None), vec![finding(89, 1)]),
        ];
        let js: Vec<Judgement> = cases.iter().map(|(s, f)| judge(s, "d", true, f)).collect();
        let b = tally(&js);
        let all = &b[&("d".to_string(), Slice::All)];
        assert_eq!((all.tp, all.fn_, all.fp, all.tn), (3, 1, 1, 2));
        assert_eq!(all.precision(), Some(0.75));
        assert_eq!(all.recall(), Some(0.75));
        assert_eq!(all.f1(), Some(0.75));
        assert_eq!(all.fpr(), Some(1.0 / 3.0));
        assert_eq!((all.pairs, all.pairs_correct), (3, 1));
        let sqli = &b[&("d".to_string(), Slice::Cwe(Some(89)))];
        assert_eq!((sqli.tp, sqli.fn_, sqli.pairs, sqli.pairs_correct), (1, 1, 1, 0));
        assert_eq!(Counts::default().precision(), None);
    }
}
