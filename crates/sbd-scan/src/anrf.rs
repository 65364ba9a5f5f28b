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

/// Where an ANRF instance a model (or a person) wrote disagrees with the verifier's report of
/// the code it describes: metadata–code alignment. Each entry names the field and what the
/// code shows. Checked:
///
/// - **memory safety**: an entity claims `memory_safe: true` (or the unit claims
///   `safety_level: MemorySafe` with no override) while the verifier reports a memory-safety
///   finding or an unsafe construct;
/// - **resource bounds**: an entity claims `resource_bounded: true` while the verifier sees
///   a resource hazard driven by input;
/// - **overrides**: `security.override_status` must be true exactly when the code carries a
///   valid `sbd:allow` override;
/// - **isolation** (when `isolation_expected`): `intent.security_intentions.isolation_required`
///   is true and `resource_limits` declares a CPU, memory and time bound.
///
/// Structural validity is the validator's job ([`sbd_anrf::validate`]); this only compares the
/// claims with the code, so it tolerates missing fields (they are reported by the validator).
pub fn misalignments(report: &Report, instance: &Value, isolation_expected: bool) -> Vec<String> {
    use crate::report::{Class, OverrideStatus};
    let mut out = Vec::new();
    let ptr = |p: &str| instance.pointer(p);
    let override_on = ptr("/security/override_status").and_then(Value::as_bool).unwrap_or(false);
    let entities: Vec<&Value> =
        ptr("/semantics/entities").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let claims = |key: &str| {
        entities
            .iter()
            .any(|e| e.pointer(&format!("/security_properties/{key}")).and_then(Value::as_bool) == Some(true))
    };
    let memory_problem = report.findings.iter().any(|f| matches!(f.class, Class::MemorySafety));
    if memory_problem || !report.properties.memory_safe {
        if claims("memory_safe") && !override_on {
            out.push(
                "/semantics/entities: claims memory_safe, but the verifier reports memory-unsafe code and there is no override"
                    .into(),
            );
        } else if ptr("/security/safety_level").and_then(Value::as_str) == Some("MemorySafe") && !override_on {
            out.push(
                "/security/safety_level: MemorySafe without an override, but the verifier reports memory-unsafe code"
                    .into(),
            );
        }
    }
    if !report.properties.resource_bounded && claims("resource_bounded") {
        out.push(
            "/semantics/entities: claims resource_bounded, but the verifier sees an input-driven resource hazard"
                .into(),
        );
    }
    let code_override = report.properties.override_status == OverrideStatus::Justified;
    if code_override && !override_on {
        out.push("/security/override_status: false, but the code carries a justified sbd:allow override".into());
    }
    if override_on && report.overrides.is_empty() {
        out.push("/security/override_status: true, but the code has no sbd:allow override".into());
    }
    if isolation_expected {
        if ptr("/intent/security_intentions/isolation_required").and_then(Value::as_bool) != Some(true) {
            out.push("/intent/security_intentions/isolation_required: the task needs isolation, declare it".into());
        }
        let limits = ptr("/security/isolation_requirements/resource_limits");
        for key in ["cpu", "memory", "time"] {
            if limits.and_then(|l| l.get(key)).and_then(Value::as_f64).is_none_or(|v| v <= 0.0) {
                out.push(format!(
                    "/security/isolation_requirements/resource_limits/{key}: the task needs a declared {key} bound"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod alignment_tests {
    use super::*;
    use crate::{Language, scan};

    #[test]
    fn the_units_own_instance_is_aligned_and_false_claims_are_not() {
        let safe = scan("void f(char *d, const char *s, unsigned n) { snprintf(d, n, \"%s\", s); }\n", Language::C);
        let (inst, _) = unit_anrf_validated(&safe, "2026-01-01T00:00:00Z");
        assert_eq!(misalignments(&safe, &inst, false), Vec::<String>::new());
        let unsafe_ = scan("void f(char *d, const char *s) { strcpy(d, s); }\n", Language::C);
        let msgs = misalignments(&unsafe_, &inst, false);
        assert!(msgs.iter().any(|m| m.contains("memory_safe")), "{msgs:?}");
        let msgs = misalignments(&safe, &serde_json::json!({"security": {"override_status": true}}), true);
        assert!(msgs.iter().any(|m| m.contains("override_status: true")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.contains("isolation_required")), "{msgs:?}");
        assert!(msgs.iter().any(|m| m.ends_with("declared cpu bound")), "{msgs:?}");
    }
}
