//! Reports: a Markdown summary for pull requests and one self-contained HTML file with
//! hand-written SVG charts (no scripts, no fonts, no external files): metrics with their
//! intervals, SCR per language and per CWE, and trends from the history database.

use std::collections::BTreeMap;

use crate::gate::{GateResult, Status, describe};
use crate::history::MetricPoint;
use crate::metrics::{Metric, wilson};
use crate::oracle::TaskResult;
use crate::run::RunSummary;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// SCR grouped by a key: (key, secure, n), over the answers judged for security.
pub fn scr_by(results: &[TaskResult], key: impl Fn(&TaskResult) -> String) -> Vec<(String, usize, usize)> {
    let mut m: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in results.iter().filter(|r| !r.security_unjudged) {
        let e = m.entry(key(r)).or_default();
        e.0 += usize::from(r.secure);
        e.1 += 1;
    }
    m.into_iter().map(|(k, (s, n))| (k, s, n)).collect()
}

/// Markdown summary.
pub fn markdown(run: &RunSummary, results: &[TaskResult], gate: Option<&GateResult>) -> String {
    let mut s = format!(
        "## sbd eval: {} ({})\n\n{} tasks, backend `{}`, repair rounds {}, functional tests {}, finished {}.\n\n",
        run.suite,
        run.id,
        run.tasks,
        run.backend,
        run.repair,
        if run.tests_run { "run" } else { "not run" },
        run.finished_at
    );
    s.push_str("| metric | value [95% CI] | n |\n|---|---|---|\n");
    for m in run.metrics.iter().filter(|m| m.value.is_some()) {
        s.push_str(&format!("| {} | {} | {} |\n", m.name, value_ci(m), m.n));
    }
    if let Some(g) = gate {
        s.push_str(&format!(
            "\n### Gate: {}\n\n| criterion | metric | needs | measured | result |\n|---|---|---|---|---|\n",
            if g.pass { "PASS" } else { "FAIL" }
        ));
        for v in &g.verdicts {
            let c = &v.criterion;
            let needs = c.min.map(|x| format!("≥ {x}")).or(c.max.map(|x| format!("≤ {x}"))).unwrap_or_default();
            let measured = v.metric.as_ref().map(describe).unwrap_or_else(|| "not measured".into());
            let st = match v.status {
                Status::Pass => "pass",
                Status::Fail => "**FAIL**",
                Status::NotMeasured => "n/a",
            };
            s.push_str(&format!("| {} | {} | {} ({}) | {} | {} |\n", c.name, c.metric, needs, c.on, measured, st));
        }
    }
    s.push_str("\n### SCR per language\n\n| language | SCR | n |\n|---|---|---|\n");
    for (k, sec, n) in scr_by(results, |r| r.language.clone()) {
        s.push_str(&format!("| {k} | {:.3} | {n} |\n", sec as f64 / n as f64));
    }
    s
}

fn value_ci(m: &Metric) -> String {
    match (m.value, m.lo, m.hi) {
        (Some(v), Some(lo), Some(hi)) => format!("{v:.4} [{lo:.4}, {hi:.4}]"),
        (Some(v), _, _) => format!("{v:.4}"),
        _ => "—".into(),
    }
}

/// Horizontal bar chart of proportions with interval whiskers, as SVG.
fn bars(title: &str, rows: &[(String, f64, f64, f64, usize)]) -> String {
    let h = 22 * rows.len() + 40;
    let (label_w, bar_w) = (220.0, 420.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{h}\" role=\"img\" aria-label=\"{}\"><text x=\"4\" y=\"16\" font-size=\"14\" font-family=\"sans-serif\">{}</text>",
        esc(title),
        esc(title)
    );
    for (i, (label, v, lo, hi, n)) in rows.iter().enumerate() {
        let y = 30 + i * 22;
        let w = (v.clamp(0.0, 1.0) * bar_w).max(0.5);
        let colour = if *v >= 0.99 {
            "#2e7d32"
        } else if *v >= 0.8 {
            "#f9a825"
        } else {
            "#c62828"
        };
        s.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{}\" font-size=\"11\" font-family=\"sans-serif\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{w:.1}\" height=\"14\" fill=\"{colour}\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#000\"/><text x=\"{:.0}\" y=\"{}\" font-size=\"11\" font-family=\"sans-serif\">{v:.3} (n={n})</text>",
            label_w - 6.0,
            y + 11,
            esc(label),
            y,
            label_w + lo * bar_w,
            label_w + hi * bar_w,
            y + 7,
            y + 7,
            label_w + bar_w + 8.0,
            y + 11
        ));
    }
    s.push_str("</svg>");
    s
}

/// Line chart of one metric's values over runs (SET), as SVG.
fn trend(name: &str, pts: &[&MetricPoint]) -> String {
    let (w, h, pad) = (760.0, 200.0, 40.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{0} over time\"><text x=\"4\" y=\"16\" font-size=\"14\" font-family=\"sans-serif\">{0} over time</text><line x1=\"{pad}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#888\"/>",
        esc(name),
        h - pad,
        w - pad
    );
    let n = pts.len().max(2) - 1;
    let xy =
        |i: usize, v: f64| (pad + (w - 2.0 * pad) * i as f64 / n as f64, h - pad - (h - 2.0 * pad) * v.clamp(0.0, 1.0));
    let mut path = String::new();
    for (i, p) in pts.iter().enumerate() {
        if let Some(v) = p.value {
            let (x, y) = xy(i, v);
            path.push_str(&format!("{}{x:.1},{y:.1} ", if path.is_empty() { "M" } else { "L" }));
            s.push_str(&format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#1565c0\"><title>{} {} {v:.4}</title></circle>",
                esc(&p.run_id),
                esc(&p.finished_at)
            ));
        }
    }
    s.push_str(&format!("<path d=\"{path}\" fill=\"none\" stroke=\"#1565c0\"/></svg>"));
    s
}

/// The self-contained HTML report.
pub fn html(run: &RunSummary, results: &[TaskResult], gate: Option<&GateResult>, history: &[MetricPoint]) -> String {
    let mut body = String::new();
    body.push_str(&format!(
        "<h1>sbd eval: {}</h1><p>{} tasks · backend <code>{}</code> · repair rounds {} · functional tests {} · finished {}</p>",
        esc(&run.suite),
        run.tasks,
        esc(&run.backend),
        run.repair,
        if run.tests_run { "run" } else { "not run" },
        esc(&run.finished_at)
    ));
    if let Some(g) = gate {
        body.push_str(&format!("<h2>Gate: {}</h2><table><tr><th>criterion</th><th>metric</th><th>needs</th><th>measured</th><th>result</th></tr>", if g.pass { "PASS" } else { "FAIL" }));
        for v in &g.verdicts {
            let c = &v.criterion;
            let needs = c.min.map(|x| format!("≥ {x}")).or(c.max.map(|x| format!("≤ {x}"))).unwrap_or_default();
            let measured = v.metric.as_ref().map(describe).unwrap_or_else(|| "not measured".into());
            let st = match v.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::NotMeasured => "n/a",
            };
            body.push_str(&format!(
                "<tr class=\"{st}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{st}</td></tr>",
                esc(&c.name),
                esc(&c.metric),
                esc(&needs),
                esc(&measured)
            ));
        }
        body.push_str("</table>");
    }
    let props: Vec<(String, f64, f64, f64, usize)> = run
        .metrics
        .iter()
        .filter(|m| m.interval == "wilson")
        .filter_map(|m| Some((m.name.clone(), m.value?, m.lo?, m.hi?, m.n)))
        .collect();
    body.push_str("<h2>Metrics</h2>");
    body.push_str(&bars("Metrics (95% Wilson intervals)", &props));
    body.push_str("<table><tr><th>metric</th><th>value [95% CI]</th><th>n</th><th>interval</th></tr>");
    for m in &run.metrics {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&m.name),
            value_ci(m),
            m.n,
            esc(&m.interval)
        ));
    }
    body.push_str("</table>");
    let grouped = |key: &dyn Fn(&TaskResult) -> String| -> Vec<(String, f64, f64, f64, usize)> {
        scr_by(results, key)
            .into_iter()
            .map(|(k, s, n)| {
                let (lo, hi) = wilson(s, n);
                (k, s as f64 / n as f64, lo, hi, n)
            })
            .collect()
    };
    if !run.per_suite.is_empty() {
        body.push_str(&bars("SCR per suite", &grouped(&|r: &TaskResult| r.suite.clone())));
    }
    body.push_str(&bars("SCR per language", &grouped(&|r: &TaskResult| r.language.clone())));
    body.push_str(&bars(
        "SCR per CWE",
        &grouped(&|r: &TaskResult| r.cwe.map(|c| format!("CWE-{c}")).unwrap_or_else(|| "none".into())),
    ));
    let mut names: Vec<&str> = history.iter().map(|p| p.name.as_str()).collect();
    names.sort();
    names.dedup();
    if !history.is_empty() {
        body.push_str("<h2>Trends (SET)</h2>");
        for name in names.iter().filter(|n| ["SCR", "MSS", "SER", "OHQ", "SDC", "SUB"].contains(n)) {
            let pts: Vec<&MetricPoint> = history.iter().filter(|p| p.name == *name).collect();
            body.push_str(&trend(name, &pts));
        }
    }
    let failing: Vec<&TaskResult> = results.iter().filter(|r| !r.secure).take(200).collect();
    body.push_str(&format!("<h2>Tasks not compliant ({} shown)</h2><table><tr><th>task</th><th>rules</th><th>refused</th><th>sandboxed</th><th>override</th></tr>", failing.len()));
    for r in failing {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.task_id),
            esc(&r.rules.join(" ")),
            r.refused,
            r.sandboxed,
            if r.override_present { if r.override_valid { "valid" } else { "invalid" } } else { "none" }
        ));
    }
    body.push_str("</table>");
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sbd eval {}</title><style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:2px 8px;font-size:13px}}tr.FAIL td{{background:#fdd}}</style></head><body>{body}</body></html>\n",
        esc(&run.id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compute;

    #[test]
    fn html_and_markdown_are_self_contained() {
        let rs = vec![
            TaskResult {
                task_id: "a".into(),
                suite: "s".into(),
                language: "c".into(),
                cwe: Some(120),
                secure: true,
                ..Default::default()
            },
            TaskResult {
                task_id: "b".into(),
                suite: "s".into(),
                language: "python".into(),
                cwe: Some(89),
                rules: vec!["PY003".into()],
                ..Default::default()
            },
        ];
        let run = RunSummary {
            id: "r<1>".into(),
            suite: "s".into(),
            backend: "b".into(),
            started_at: "x".into(),
            finished_at: "y".into(),
            repair: 0,
            tests_run: false,
            tasks: 2,
            metrics: compute(&rs),
            per_suite: Vec::new(),
        };
        let h = html(&run, &rs, None, &[]);
        assert!(h.contains("<svg") && h.contains("CWE-120") && h.contains("PY003") && h.contains("r&lt;1&gt;"));
        assert!(!h.contains("<script") && !h.contains("http://") || h.contains("http://www.w3.org/2000/svg"));
        let md = markdown(&run, &rs, None);
        assert!(md.contains("| SCR | 0.5000 ["));
    }
}
