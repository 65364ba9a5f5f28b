//! The success gate: the requirements' section 7 criteria as an editable TOML policy.
//!
//! Each `[[criterion]]` names a metric of a run (`MSS`, `SER`, `OHQ.justified`, …), a bound
//! (`min` or `max`) and whether the bound applies to the point estimate or to the interval's
//! conservative end (`on = "value"` or `on = "interval"`). A criterion whose metric the run
//! did not measure is `not measured`: it fails the gate only when `required = true`.
//! [`DEFAULT_POLICY`] is what `sbd gate` uses without `--policy`; `sbd gate --print-policy`
//! writes it out to edit.

use serde::{Deserialize, Serialize};

use crate::metrics::Metric;

/// The default policy (section 7 of the requirements).
pub const DEFAULT_POLICY: &str = r#"# sbd success gate — the requirements' section 7 success criteria.
# Each criterion: metric (as in run.json), min or max, on = "value" (point estimate) or
# "interval" (the conservative end of the 95% interval), required (fail when not measured).

[[criterion]]
name = "memory-safe by default (99.9%)"
metric = "MSS"
min = 0.999
on = "value"
required = true

[[criterion]]
name = "appropriate sandboxing (99%)"
metric = "SER"
min = 0.99
on = "value"
required = false

[[criterion]]
name = "the test sandbox contains every escape attempt (100%)"
metric = "SER.escape"
min = 1.0
on = "value"
required = false

[[criterion]]
name = "overrides have proper justification (100%)"
metric = "OHQ.justified"
min = 1.0
on = "value"
required = false

[[criterion]]
name = "override audit trail complete (100%)"
metric = "OHQ.audit"
min = 1.0
on = "value"
required = false

[[criterion]]
name = "override handling correct (99%)"
metric = "OHQ"
min = 0.99
on = "value"
required = false

[[criterion]]
name = "security metadata complete and correct (99.5%)"
metric = "MCC"
min = 0.995
on = "value"
required = false

[[criterion]]
name = "secure-by-default on neutral prompts (99%)"
metric = "SDC"
min = 0.99
on = "value"
required = false

[[criterion]]
name = "response-time overhead of verify-and-repair below 10%"
metric = "SOR.latency"
max = 1.10
on = "value"
required = false

[[criterion]]
name = "memory usage of the security features below +15%"
metric = "SOR.memory"
max = 1.15
on = "value"
required = false

[[criterion]]
name = "security explanations clear and helpful (90% of users)"
metric = "USS"
min = 0.90
on = "value"
required = false
"#;

/// Errors reading a policy.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("gate policy: {0}")]
    Parse(String),
}

/// One criterion of the policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Criterion {
    pub name: String,
    pub metric: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default = "default_on")]
    pub on: String,
    #[serde(default)]
    pub required: bool,
}

fn default_on() -> String {
    "value".into()
}

/// A gate policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    #[serde(rename = "criterion", default)]
    pub criteria: Vec<Criterion>,
}

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, GateError> {
        let p: Policy = toml::from_str(text).map_err(|e| GateError::Parse(e.to_string()))?;
        for c in &p.criteria {
            if c.min.is_none() == c.max.is_none() {
                return Err(GateError::Parse(format!("criterion `{}`: give exactly one of min, max", c.name)));
            }
            if c.on != "value" && c.on != "interval" {
                return Err(GateError::Parse(format!("criterion `{}`: on must be \"value\" or \"interval\"", c.name)));
            }
        }
        Ok(p)
    }

    pub fn default_policy() -> Policy {
        // The embedded default is checked by a test; fall back to no criteria rather than panic.
        Policy::parse(DEFAULT_POLICY).unwrap_or(Policy { criteria: Vec::new() })
    }
}

/// Outcome of one criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    NotMeasured,
}

/// One criterion judged.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub criterion: Criterion,
    pub metric: Option<Metric>,
    pub status: Status,
}

/// The gate's result over a run's metrics.
#[derive(Debug, Clone, Serialize)]
pub struct GateResult {
    pub verdicts: Vec<Verdict>,
    pub pass: bool,
}

/// Judges `metrics` against `policy`.
pub fn evaluate(policy: &Policy, metrics: &[Metric]) -> GateResult {
    let mut verdicts = Vec::new();
    for c in &policy.criteria {
        let m = metrics.iter().find(|m| m.name == c.metric && m.value.is_some()).cloned();
        let status = match &m {
            None => {
                if c.required {
                    Status::Fail
                } else {
                    Status::NotMeasured
                }
            }
            Some(m) => {
                let v = m.value.unwrap_or(f64::NAN);
                let ok = match (c.min, c.max) {
                    (Some(min), _) => {
                        let x = if c.on == "interval" { m.lo.unwrap_or(v) } else { v };
                        x >= min - 1e-12
                    }
                    (_, Some(max)) => {
                        let x = if c.on == "interval" { m.hi.unwrap_or(v) } else { v };
                        x <= max + 1e-12
                    }
                    _ => false,
                };
                if ok { Status::Pass } else { Status::Fail }
            }
        };
        verdicts.push(Verdict { criterion: c.clone(), metric: m, status });
    }
    let pass = verdicts.iter().all(|v| v.status != Status::Fail);
    GateResult { verdicts, pass }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Formats a metric value with its interval: `0.9950 [0.9871, 0.9981] n=400`.
pub fn describe(m: &Metric) -> String {
    match (m.value, m.lo, m.hi) {
        (Some(v), Some(lo), Some(hi)) => format!("{v:.4} [{lo:.4}, {hi:.4}] n={}", m.n),
        (Some(v), _, _) => format!("{v:.4} n={}", m.n),
        _ => format!("— n={}", m.n),
    }
}

/// JUnit XML: one test case per criterion; failures for failed ones, skipped for unmeasured.
pub fn junit(result: &GateResult, suite_name: &str) -> String {
    let failures = result.verdicts.iter().filter(|v| v.status == Status::Fail).count();
    let skipped = result.verdicts.iter().filter(|v| v.status == Status::NotMeasured).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        xml_escape(suite_name),
        result.verdicts.len()
    );
    for v in &result.verdicts {
        let c = &v.criterion;
        let bound = match (c.min, c.max) {
            (Some(x), _) => format!(">= {x}"),
            (_, Some(x)) => format!("<= {x}"),
            _ => String::new(),
        };
        out.push_str(&format!("    <testcase classname=\"sbd.gate\" name=\"{}\">", xml_escape(&c.name)));
        match (&v.status, &v.metric) {
            (Status::Pass, _) => {}
            (Status::NotMeasured, _) => {
                out.push_str(&format!("<skipped message=\"{} not measured by this run\"/>", xml_escape(&c.metric)))
            }
            (Status::Fail, Some(m)) => out.push_str(&format!(
                "<failure message=\"{} = {} (needs {bound} on {})\"/>",
                xml_escape(&c.metric),
                xml_escape(&describe(m)),
                c.on
            )),
            (Status::Fail, None) => {
                out.push_str(&format!("<failure message=\"{} required but not measured\"/>", xml_escape(&c.metric)))
            }
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_parses() {
        let p = Policy::parse(DEFAULT_POLICY).unwrap();
        assert!(p.criteria.len() >= 6);
        assert!(p.criteria.iter().any(|c| c.metric == "MSS" && c.min == Some(0.999) && c.required));
    }

    #[test]
    fn judges_value_interval_and_missing() {
        let p = Policy::parse(
            "[[criterion]]\nname='a'\nmetric='SCR'\nmin=0.9\n[[criterion]]\nname='b'\nmetric='SCR'\nmin=0.9\non='interval'\n\
             [[criterion]]\nname='c'\nmetric='USS'\nmin=0.9\n[[criterion]]\nname='d'\nmetric='SOR.latency'\nmax=1.1\nrequired=true\n",
        )
        .unwrap();
        let m = vec![Metric::proportion("SCR", 19, 20)];
        let r = evaluate(&p, &m);
        let st: Vec<Status> = r.verdicts.iter().map(|v| v.status).collect();
        // 0.95 ≥ 0.9, but Wilson's lower end for 19/20 is 0.7639 < 0.9.
        assert_eq!(st, [Status::Pass, Status::Fail, Status::NotMeasured, Status::Fail]);
        assert!(!r.pass);
        let x = junit(&r, "run");
        assert!(x.contains("failures=\"2\"") && x.contains("skipped=\"1\"") && x.contains("<testcase"));
        assert!(Policy::parse("[[criterion]]\nname='x'\nmetric='SCR'\n").is_err());
    }
}
