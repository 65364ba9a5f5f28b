//! Tables of accuracy results: aligned text for terminals, Markdown for the README, JSON for
//! machines. Rows are (dataset, slice, detector) so the detectors sit side by side.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use super::{Counts, DetectorResult, Slice};

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub dataset: String,
    pub slice: String,
    pub detector: String,
    pub samples: usize,
    pub coverage: Option<f64>,
    pub tp: usize,
    #[serde(rename = "fn")]
    pub fn_: usize,
    pub fp: usize,
    pub tn: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub pair_accuracy: Option<f64>,
    pub fpr_fixed: Option<f64>,
    pub recall_any_line: Option<f64>,
    pub pairs: usize,
}

fn row(dataset: &str, slice: &Slice, detector: &str, c: &Counts) -> Row {
    Row {
        dataset: dataset.into(),
        slice: slice.to_string(),
        detector: detector.into(),
        samples: c.samples,
        coverage: c.coverage(),
        tp: c.tp,
        fn_: c.fn_,
        fp: c.fp,
        tn: c.tn,
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
        pair_accuracy: c.pair_accuracy(),
        fpr_fixed: c.fpr(),
        recall_any_line: c.recall_any_line(),
        pairs: c.pairs,
    }
}

/// Which slices to show besides "all".
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail {
    pub by_language: bool,
    pub by_cwe: bool,
}

/// Rows grouped by dataset, then slice (all, languages, CWEs by sample count), then detector.
pub fn rows(results: &[DetectorResult], detail: Detail) -> Vec<Row> {
    let mut keys: BTreeSet<(String, Slice)> = BTreeSet::new();
    for r in results {
        keys.extend(r.breakdown.keys().cloned());
    }
    let datasets: BTreeSet<String> = keys.iter().map(|(d, _)| d.clone()).collect();
    let mut out = Vec::new();
    for ds in datasets {
        let mut slices: Vec<Slice> = vec![Slice::All];
        if detail.by_language {
            slices.extend(
                keys.iter().filter(|(d, s)| *d == ds && matches!(s, Slice::Language(_))).map(|(_, s)| s.clone()),
            );
        }
        if detail.by_cwe {
            let mut cwes: Vec<(usize, Slice)> = keys
                .iter()
                .filter(|(d, s)| *d == ds && matches!(s, Slice::Cwe(_)))
                .map(|(_, s)| {
                    let n = results
                        .first()
                        .and_then(|r| r.breakdown.get(&(ds.clone(), s.clone())))
                        .map_or(0, |c| c.samples);
                    (n, s.clone())
                })
                .collect();
            cwes.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            slices.extend(cwes.into_iter().map(|(_, s)| s));
        }
        for slice in slices {
            for r in results {
                if let Some(c) = r.breakdown.get(&(ds.clone(), slice.clone())) {
                    out.push(row(&ds, &slice, &r.detector, c));
                }
            }
        }
    }
    out
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.3}", v))
}

const HEADERS: [&str; 14] = [
    "dataset",
    "slice",
    "detector",
    "n",
    "cover",
    "TP",
    "FN",
    "FP",
    "TN",
    "prec",
    "recall",
    "F1",
    "pair-acc",
    "FPR-fixed",
];

fn cells(r: &Row) -> [String; 14] {
    [
        r.dataset.clone(),
        r.slice.clone(),
        r.detector.clone(),
        r.samples.to_string(),
        pct(r.coverage),
        r.tp.to_string(),
        r.fn_.to_string(),
        r.fp.to_string(),
        r.tn.to_string(),
        pct(r.precision),
        pct(r.recall),
        pct(r.f1),
        if r.pairs > 0 { pct(r.pair_accuracy) } else { "-".into() },
        pct(r.fpr_fixed),
    ]
}

/// An aligned text table.
pub fn text(rows: &[Row]) -> String {
    let all: Vec<[String; 14]> = rows.iter().map(cells).collect();
    let mut widths = HEADERS.map(str::len);
    for c in &all {
        for (w, cell) in widths.iter_mut().zip(c) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| if i < 3 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&mut out, &HEADERS.map(String::from));
    let mut last: Option<(String, String)> = None;
    for (r, c) in rows.iter().zip(&all) {
        let key = (r.dataset.clone(), r.slice.clone());
        if last.as_ref().is_some_and(|k| k.0 != key.0) {
            out.push('\n');
        }
        last = Some(key);
        line(&mut out, c);
    }
    out
}

/// A Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADERS.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        ["---"; 14]
            .iter()
            .enumerate()
            .map(|(i, d)| if i < 3 { d.to_string() } else { format!("{d}:") })
            .collect::<Vec<_>>()
            .join("|")
    );
    for r in rows {
        let _ = writeln!(out, "| {} |", cells(r).join(" | "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accuracy::{Finding, judge, tally};
    use sbd_data::sources::{Origin, Sample};

    #[test]
    fn renders_side_by_side() {
        let s = Sample {
            id: "1".into(),
            language: "python".into(),
            code: "x".into(),
            vulnerable: true,
            cwe: Some(78),
            line: None,
            pair: None,
            description: None,
            origin: Origin::default(),
        };
        let hit = vec![Finding { rule: "R".into(), cwes: vec![78], line: 1, end_line: 1 }];
        let a = judge(&s, "ds", true, &hit);
        let b = judge(&s, "ds", false, &[]);
        let mk = |name: &str, j| DetectorResult {
            detector: name.into(),
            breakdown: tally(&[j]),
            judgements: vec![],
            error: None,
            seconds: 0.0,
        };
        let results = [mk("sbd", a), mk("peer", b)];
        let rs = rows(&results, Detail { by_language: true, by_cwe: true });
        assert_eq!(rs.len(), 6);
        let t = text(&rs);
        assert!(t.lines().nth(1).unwrap().starts_with("ds       all     sbd"), "{t}");
        assert!(t.contains("1.000") && t.contains("0.000"));
        let m = markdown(&rs);
        assert_eq!(m.lines().count(), 8);
        assert!(m.contains("| ds | CWE-78 | peer | 1 | 0.000 |"), "{m}");
    }
}
