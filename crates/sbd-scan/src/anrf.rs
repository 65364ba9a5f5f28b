//! The ANRF 1.1.0 instance of a scanned unit.
//!
//! The instance starts from `sbd_anrf`'s secure default and records what the scan found:
//! one entity for the unit with its `memory_safe`, `type_safe` and `resource_bounded`
//! properties, a formal guarantee for each property that holds, every valid override (the
//! first fills the override fields of all three layers; each one adds an `Override` audit
//! event), and the verification result (findings, facts, properties). A unit with an unsafe
//! construct is valid ANRF only under a justified, approved override — the validator's rule
//! S3/S4 — and stays `memory_safe: false` either way. Overrides are recorded as the unit's
//! override only when no memory-safety finding remains active (every unsafe construct is
//! covered); otherwise they are kept as audit events and the instance is invalid.
use serde_json::{Map, Value, json};

use sbd_anrf::builder::{EntityFacts, InstanceBuilder, OverrideFacts};
use sbd_anrf::model::{AuditEventType, OverrideScope as AnrfScope, PropertyType};

use crate::report::{OverrideScope, Report};

fn approval_time(date: Option<&str>, fallback: &str) -> String {
    match date {
        Some(d) if crate::overrides::valid_date(d) => format!("{d}T00:00:00Z"),
        _ => fallback.to_string(),
    }
}

/// Build the unit's ANRF instance; `timestamp` (RFC 3339) is the scan time.
pub fn unit_anrf(report: &Report, timestamp: &str) -> sbd_anrf::Anrf {
    let name = report.path.clone().unwrap_or_else(|| "unit".into());
    let p = &report.properties;
    let mut entity = EntityFacts::new(name.clone(), "Module")
        .id("ENT-UNIT")
        .memory_safe(p.memory_safe)
        .type_safe(p.type_safe)
        .resource_bounded(p.resource_bounded)
        .property("language", json!(report.language.name()));
    let method = format!("sbd-scan {} static analysis", env!("CARGO_PKG_VERSION"));
    if p.memory_safe {
        entity = entity.guarantee(
            PropertyType::MemorySafety,
            "no memory-safety finding and no unsafe construct",
            method.clone(),
        );
    }
    if p.type_safe {
        entity = entity.guarantee(
            PropertyType::TypeSafety,
            "no type-unsafe construct (transmute, reinterpret_cast, unsafe pointers)",
            method.clone(),
        );
    }
    if p.resource_bounded {
        entity = entity.guarantee(
            PropertyType::ResourceBounds,
            "no unbounded loop or input-driven allocation detected",
            method.clone(),
        );
    }
    let mut b =
        InstanceBuilder::new("sbd-scan", format!("{} unit {name}", report.language)).at(timestamp).entity(entity);
    let valid: Vec<_> = report.overrides.iter().filter(|o| o.valid).collect();
    // An override justifies the unit only when it covers every memory-safety finding: an
    // unsafe construct outside any valid override leaves the unit without a justification.
    let uncovered = report.findings.iter().any(|f| f.class == crate::report::Class::MemorySafety);
    if uncovered {
        for o in &valid {
            b = b.audit(
                AuditEventType::Modification,
                &approval_time(o.approved.as_deref(), timestamp),
                o.approver.as_deref().unwrap_or(""),
                &format!(
                    "sbd:allow({}) approved, but memory-safety findings remain outside every valid override",
                    o.rules.join(", ")
                ),
            );
        }
    } else if let Some(first) = valid.first() {
        let justification = valid.iter().filter_map(|o| o.justification.clone()).collect::<Vec<_>>().join("; ");
        let scope = match first.scope {
            OverrideScope::Statement | OverrideScope::Block => AnrfScope::Block,
            OverrideScope::Function => AnrfScope::Function,
            OverrideScope::File => AnrfScope::Module,
        };
        let context = match &first.ticket {
            Some(t) => format!("sbd:allow({}) ticket {t}", first.rules.join(", ")),
            None => format!("sbd:allow({}) in source", first.rules.join(", ")),
        };
        b = b.override_with(OverrideFacts {
            justification,
            approver_id: first.approver.clone().unwrap_or_default(),
            approval_timestamp: approval_time(first.approved.as_deref(), timestamp),
            approval_context: context,
            conditions: Some(
                valid
                    .iter()
                    .map(|o| {
                        format!(
                            "{} on lines {}-{} ({:?} scope)",
                            o.rules.join(", "),
                            o.covers_lines.0,
                            o.covers_lines.1,
                            o.scope
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            scope,
        });
        for o in valid.iter().skip(1) {
            b = b.audit(
                AuditEventType::Override,
                &approval_time(o.approved.as_deref(), timestamp),
                o.approver.as_deref().unwrap_or(""),
                &format!("override approved: {} — {}", o.rules.join(", "), o.justification.as_deref().unwrap_or("")),
            );
        }
    }
    let mut results = Map::new();
    results.insert("findings".into(), json!(report.findings.len()));
    results.insert("suppressed".into(), json!(report.suppressed.len()));
    results
        .insert("rules".into(), Value::Array(report.findings.iter().map(|f| Value::String(f.rule.clone())).collect()));
    results.insert("memory_safety_verified".into(), json!(p.memory_safe));
    results.insert("properties".into(), json!(p));
    b.verified(method, timestamp, results).build()
}

/// The instance as JSON and the validator's verdict on it.
pub fn unit_anrf_validated(report: &Report, timestamp: &str) -> (Value, sbd_anrf::Report) {
    let inst = unit_anrf(report, timestamp);
    let value = serde_json::to_value(&inst).unwrap_or(Value::Null);
    let verdict = sbd_anrf::validate(&value);
    (value, verdict)
}
