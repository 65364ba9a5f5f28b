//! Production monitoring: turn logged generations (JSONL) into [`MonitorEvent`]s for the
//! history database's monitoring tables — compliance, override frequency, explanation quality.
//! The same judgement as `POST /v1/monitor/events` of `sbd serve`.

use serde::Deserialize;

use sbd_scan::report::Severity;
use sbd_scan::reward::{Expectations, Weights, reward, split_completion};

use crate::history::MonitorEvent;
use crate::suite::scan_language;

/// One logged generation.
#[derive(Debug, Deserialize)]
pub struct Generation {
    #[serde(default)]
    pub received_at: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    pub language: String,
    pub completion: String,
    #[serde(default)]
    pub explanation: Option<String>,
}

/// Judges one generation; `None` for a language the verifier does not know.
pub fn event(g: &Generation, now: &str) -> Option<MonitorEvent> {
    let lang = scan_language(&g.language)?;
    let (code, prose) = split_completion(&g.completion);
    let report = sbd_scan::scan(&code, lang);
    let explanation = g.explanation.as_deref().or(prose.as_deref());
    let expect = Expectations { explanation_expected: true, ..Expectations::default() };
    let r = reward(&report, &expect, explanation, None, &Weights::default());
    Some(MonitorEvent {
        received_at: g.received_at.clone().unwrap_or_else(|| now.to_string()),
        model: g.model.clone(),
        language: lang.name().to_string(),
        compliant: !report.findings.iter().any(|f| f.severity >= Severity::Medium),
        override_status: serde_json::to_value(report.properties.override_status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "none".into()),
        has_explanation: explanation.is_some(),
        explanation_names_weakness: r.explanation.is_some_and(|e| e > 0.0) && !report.findings.is_empty(),
        findings: report.findings.iter().map(|f| (f.rule.clone(), f.severity.name().to_string())).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_logged_generations() {
        let g: Generation = serde_json::from_str(
            r#"{"model":"m","language":"python","completion":"import os\ndef f(x):\n    os.system(x)\n","explanation":"Shell command built from untrusted input"}"#,
        )
        .unwrap();
        let e = event(&g, "2026-01-01T00:00:00Z").unwrap();
        assert!(!e.compliant && e.findings[0].0 == "PY001" && e.explanation_names_weakness);
        let g = Generation {
            received_at: None,
            model: None,
            language: "cobol".into(),
            completion: String::new(),
            explanation: None,
        };
        assert!(event(&g, "t").is_none());
    }
}
