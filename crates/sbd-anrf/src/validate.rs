//! The validator: every rule of ANRF 1.1.0 on arbitrary JSON.
//!
//! It never stops at the first problem and never needs the instance to deserialise: a
//! structurally broken instance gets one precise violation per broken field (missing, wrong
//! type, bad enum value, bad timestamp), and the semantic and cross-layer rules run on
//! whatever parts are sound. Each violation carries the stable rule id, an RFC 6901 JSON
//! Pointer to the offending value, a one-line message and a hint saying what to do.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::ANRF_VERSION;
use crate::rules::Rule;
use crate::shape::{self, Field, Kind};
use crate::time::parse_rfc3339;

/// One broken rule at one place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub rule: Rule,
    /// RFC 6901 JSON Pointer to the offending value ("" is the whole instance).
    pub pointer: String,
    pub message: String,
    pub hint: String,
}

/// The outcome of validating one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub violations: Vec<Violation>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.violations.is_empty()
    }

    /// The distinct rule ids that were broken, sorted.
    pub fn rules(&self) -> Vec<Rule> {
        let mut rules: Vec<Rule> = self.violations.iter().map(|v| v.rule).collect();
        rules.sort();
        rules.dedup();
        rules
    }
}

/// Appends an RFC 6901-escaped token to a pointer.
pub fn push_pointer(base: &str, token: &str) -> String {
    let mut out = String::with_capacity(base.len() + token.len() + 1);
    out.push_str(base);
    out.push('/');
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

struct Sink {
    out: Vec<Violation>,
}

impl Sink {
    fn add(&mut self, rule: Rule, pointer: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) {
        self.out.push(Violation { rule, pointer: pointer.into(), message: message.into(), hint: hint.into() });
    }
}

/// Validates one instance against every rule.
pub fn validate(instance: &Value) -> Report {
    let mut sink = Sink { out: Vec::new() };
    let Some(root) = instance.as_object() else {
        sink.add(
            Rule::C0,
            "",
            format!("an ANRF instance is a JSON object, found {}", describe(instance)),
            "wrap the metadata in one object holding the common block and `intent`, `semantics`, `execution`",
        );
        return Report { violations: sink.out };
    };
    check_version(root.get("anrf_version"), &mut sink);
    check_fields(root, shape::root(), "", &mut sink);
    semantic_rules(instance, &mut sink);
    Report { violations: sink.out }
}

fn check_version(version: Option<&Value>, sink: &mut Sink) {
    let ptr = "/anrf_version";
    match version {
        None => sink.add(
            Rule::C1,
            ptr,
            "missing required field `anrf_version`",
            format!("add \"anrf_version\": \"{ANRF_VERSION}\" (older instances: run `sbd anrf migrate`)"),
        ),
        Some(Value::String(s)) if s == ANRF_VERSION => {}
        Some(Value::String(s)) if is_pre_1_1(s) => sink.add(
            Rule::C1,
            ptr,
            format!("version \"{s}\" predates 1.1.0 and lacks the mandatory security metadata"),
            "run `sbd anrf migrate` to upgrade it to 1.1.0",
        ),
        Some(Value::String(s)) => sink.add(
            Rule::C1,
            ptr,
            format!("unknown ANRF version \"{s}\""),
            format!("this validator implements \"{ANRF_VERSION}\""),
        ),
        Some(other) => sink.add(
            Rule::C1,
            ptr,
            format!("`anrf_version` must be a string, found {}", describe(other)),
            format!("use \"anrf_version\": \"{ANRF_VERSION}\""),
        ),
    }
}

/// True for version strings below 1.1 (`"1.0"`, `"1.0.3"`, `"0.9"`).
pub(crate) fn is_pre_1_1(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next().and_then(|p| p.parse::<u64>().ok());
    let minor = parts.next().map(|p| p.parse::<u64>().ok()).unwrap_or(Some(0));
    matches!((major, minor), (Some(0), Some(_)) | (Some(1), Some(0)))
}

fn check_fields(obj: &serde_json::Map<String, Value>, fields: &[Field], ptr: &str, sink: &mut Sink) {
    for field in fields {
        let child = push_pointer(ptr, field.name);
        match obj.get(field.name) {
            None => sink.add(
                field.rule,
                child,
                format!("missing required field `{}`", field.name),
                format!("add `{}`: {}", field.name, expectation(&field.kind)),
            ),
            Some(v) => check_kind(v, &field.kind, &child, field.rule, sink),
        }
    }
}

fn check_kind(v: &Value, kind: &Kind, ptr: &str, rule: Rule, sink: &mut Sink) {
    let ok = match (kind, v) {
        (Kind::String, Value::String(_)) => true,
        (Kind::NullableString, Value::String(_) | Value::Null) => true,
        (Kind::Bool, Value::Bool(_)) => true,
        (Kind::Quantity, Value::Number(n)) => {
            if n.as_f64().is_some_and(|x| x.is_finite() && x >= 0.0) {
                true
            } else {
                sink.add(rule, ptr, format!("{n} is not a quantity (negative)"), "use a number of at least 0");
                return;
            }
        }
        (Kind::Enum(values), Value::String(s)) => {
            if values.contains(&s.as_str()) {
                true
            } else {
                sink.add(
                    rule,
                    ptr,
                    format!("\"{s}\" is not an allowed value"),
                    format!("use one of {}", quoted_list(values)),
                );
                return;
            }
        }
        (Kind::Timestamp, Value::String(s)) | (Kind::NullableTimestamp, Value::String(s)) => {
            if parse_rfc3339(s).is_some() {
                true
            } else {
                sink.add(
                    rule,
                    ptr,
                    format!("\"{}\" is not an RFC 3339 timestamp", truncate(s, 60)),
                    "write it like 2026-01-01T00:00:00Z (date, `T`, time, then `Z` or an offset such as +02:00)",
                );
                return;
            }
        }
        (Kind::NullableTimestamp, Value::Null) => true,
        (Kind::Object(fields), Value::Object(map)) => {
            check_fields(map, fields, ptr, sink);
            true
        }
        (Kind::AnyObject, Value::Object(_)) => true,
        (Kind::NullableAnyObject, Value::Object(_) | Value::Null) => true,
        (Kind::Array(item), Value::Array(items)) => {
            for (i, it) in items.iter().enumerate() {
                check_kind(it, item, &push_pointer(ptr, &i.to_string()), rule, sink);
            }
            true
        }
        _ => false,
    };
    if !ok {
        sink.add(
            rule,
            ptr,
            format!("expected {}, found {}", expectation(kind), describe(v)),
            format!("make it {}", expectation(kind)),
        );
    }
}

/// What a value of this kind is, for messages.
pub(crate) fn expectation(kind: &Kind) -> String {
    match kind {
        Kind::String => "a string".into(),
        Kind::NullableString => "a string or null".into(),
        Kind::Bool => "true or false".into(),
        Kind::Quantity => "a number (at least 0)".into(),
        Kind::Enum(values) => format!("one of {}", quoted_list(values)),
        Kind::Timestamp => "an RFC 3339 timestamp string".into(),
        Kind::NullableTimestamp => "an RFC 3339 timestamp string or null".into(),
        Kind::Object(fields) => {
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            format!("an object with {}", names.join(", "))
        }
        Kind::AnyObject => "an object".into(),
        Kind::NullableAnyObject => "an object or null".into(),
        Kind::Array(item) => format!("an array of {}", expectation(item)),
    }
}

fn quoted_list(values: &[&str]) -> String {
    values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

pub(crate) fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn non_empty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty())
}

fn bool_at(v: &Value, ptr: &str) -> Option<bool> {
    v.pointer(ptr).and_then(Value::as_bool)
}

fn array_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a Vec<Value>> {
    v.pointer(ptr).and_then(Value::as_array)
}

/// The override in the common block is on, justified and fully approved.
pub fn override_is_effective(instance: &Value) -> bool {
    bool_at(instance, "/security/override_status") == Some(true)
        && non_empty(instance.pointer("/security/override_justification"))
        && approval_is_complete(instance)
}

fn approval_is_complete(instance: &Value) -> bool {
    non_empty(instance.pointer("/security/override_approval/approver_id"))
        && instance
            .pointer("/security/override_approval/approval_timestamp")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339)
            .is_some()
        && non_empty(instance.pointer("/security/override_approval/approval_context"))
}

struct EntityView<'a> {
    ptr: String,
    props: Option<&'a serde_json::Map<String, Value>>,
}

fn entities(instance: &Value) -> Vec<EntityView<'_>> {
    array_at(instance, "/semantics/entities")
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, e)| EntityView {
                    ptr: format!("/semantics/entities/{i}/security_properties"),
                    props: e.get("security_properties").and_then(Value::as_object),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn mechanisms(instance: &Value, list: &str) -> Option<Vec<String>> {
    array_at(instance, &format!("/execution/security_enforcement/{list}")).map(|items| {
        items.iter().filter_map(|m| m.get("mechanism").and_then(Value::as_str).map(str::to_owned)).collect()
    })
}

fn semantic_rules(v: &Value, sink: &mut Sink) {
    let override_on = bool_at(v, "/security/override_status");
    let effective = override_is_effective(v);

    // C5, C6: an override must be justified and approved.
    if override_on == Some(true) {
        if !non_empty(v.pointer("/security/override_justification")) {
            sink.add(
                Rule::C5,
                "/security/override_justification",
                "the security override is on but has no justification",
                "say why the unit cannot be secure by default, or set `override_status` to false",
            );
        }
        if v.pointer("/security/override_approval").is_some_and(Value::is_object) {
            for (field, what) in [
                ("approver_id", "who approved the override"),
                ("approval_timestamp", "when it was approved (RFC 3339)"),
                ("approval_context", "the context of the approval (ticket, review)"),
            ] {
                let ptr = format!("/security/override_approval/{field}");
                if !non_empty(v.pointer(&ptr)) {
                    sink.add(
                        Rule::C6,
                        ptr,
                        format!("the security override has no `{field}`"),
                        format!("record {what}; an override without approval is not valid"),
                    );
                }
            }
        }
    }

    // I3: an allowed override intention must be justified.
    let allowed = bool_at(v, "/intent/security_intentions/override_intention/allowed");
    if allowed == Some(true) && !non_empty(v.pointer("/intent/security_intentions/override_intention/justification")) {
        sink.add(
            Rule::I3,
            "/intent/security_intentions/override_intention/justification",
            "the intent allows an override but does not justify it",
            "state why the unit may need to leave secure-by-default, or set `allowed` to false",
        );
    }

    // I4: at least one security requirement.
    if let Some(reqs) = array_at(v, "/intent/requirements") {
        let has_security = reqs.iter().any(|r| r.get("type").and_then(Value::as_str) == Some("Security"));
        if !has_security {
            sink.add(
                Rule::I4,
                "/intent/requirements",
                "no requirement of type \"Security\"",
                "add at least one requirement with \"type\": \"Security\" (e.g. no out-of-bounds access)",
            );
        }
    }

    // S3, S4: memory safe by default; unsafe only under an effective override.
    let ents = entities(v);
    for e in &ents {
        let Some(props) = e.props else { continue };
        if props.get("memory_safe").and_then(Value::as_bool) == Some(false) {
            let ptr = format!("{}/memory_safe", e.ptr);
            if override_on != Some(true) {
                sink.add(
                    Rule::S3,
                    ptr,
                    "entity is not memory safe and the unit carries no override",
                    "make the entity memory safe, or add a justified and approved override in `security`",
                );
            } else if !effective {
                sink.add(
                    Rule::S4,
                    ptr,
                    "entity is not memory safe under an override that is not justified and approved",
                    "fill `override_justification` and every `override_approval` field",
                );
            }
        }
    }

    // S5: at least one formal guarantee (judged once every entity's properties are sound,
    // so a missing `security_properties` is reported once, by S2).
    let all_sound =
        ents.iter().all(|e| e.props.is_some_and(|p| p.get("formal_guarantees").is_some_and(Value::is_array)));
    if let Some(items) = array_at(v, "/semantics/entities").filter(|_| all_sound) {
        let any = items.iter().any(|e| {
            e.pointer("/security_properties/formal_guarantees").and_then(Value::as_array).is_some_and(|g| !g.is_empty())
        });
        if !any {
            sink.add(
                Rule::S5,
                "/semantics/entities",
                "the semantic layer states no formal guarantee",
                "add a `formal_guarantees` entry (e.g. MemorySafety: no out-of-bounds write) to an entity",
            );
        }
    }

    // E3, E4: at least one mechanism of each kind.
    let memory_mech = mechanisms(v, "memory_safety_mechanisms");
    let sandbox_mech = mechanisms(v, "sandboxing_mechanisms");
    if array_at(v, "/execution/security_enforcement/memory_safety_mechanisms").is_some_and(Vec::is_empty) {
        sink.add(
            Rule::E3,
            "/execution/security_enforcement/memory_safety_mechanisms",
            "no memory-safety mechanism",
            "add one, e.g. {\"mechanism\": \"BoundsChecking\", \"scope\": \"Global\", \"enforcement_point\": \"Runtime\"}",
        );
    }
    if array_at(v, "/execution/security_enforcement/sandboxing_mechanisms").is_some_and(Vec::is_empty) {
        sink.add(
            Rule::E4,
            "/execution/security_enforcement/sandboxing_mechanisms",
            "no sandboxing mechanism",
            "add one, e.g. {\"mechanism\": \"ProcessIsolation\", \"scope\": \"Global\", \"enforcement_point\": \"Runtime\"}",
        );
    }

    // E5: execution override switch mirrors the common status.
    let enabled = bool_at(v, "/execution/security_enforcement/override_mechanisms/enabled");
    if let (Some(en), Some(on)) = (enabled, override_on)
        && en != on
    {
        sink.add(
            Rule::E5,
            "/execution/security_enforcement/override_mechanisms/enabled",
            format!(
                "override mechanisms are {} but the common `override_status` is {on}",
                if en { "enabled" } else { "disabled" }
            ),
            format!("set `enabled` to {on}"),
        );
    }

    cross_layer(v, override_on, &ents, memory_mech.as_deref(), sandbox_mech.as_deref(), sink);
    references(v, sink);
}

fn cross_layer(
    v: &Value,
    override_on: Option<bool>,
    ents: &[EntityView<'_>],
    memory_mech: Option<&[String]>,
    sandbox_mech: Option<&[String]>,
    sink: &mut Sink,
) {
    let overridden = override_on == Some(true);
    let level = v.pointer("/security/safety_level").and_then(Value::as_str);
    let intent = |k: &str| bool_at(v, &format!("/intent/security_intentions/{k}"));

    // X1: properties agree across layers.
    if !overridden {
        if intent("memory_safety_required") == Some(false) {
            sink.add(
                Rule::X1,
                "/intent/security_intentions/memory_safety_required",
                "the intent waives memory safety but the unit carries no override",
                "every safety level includes memory safety: require it, or add a justified override",
            );
        }
        let type_required = matches!(level, Some("TypeSafe" | "ResourceBounded"));
        let bound_required = level == Some("ResourceBounded") || intent("resource_constraints_required") == Some(true);
        for e in ents {
            let Some(props) = e.props else { continue };
            if type_required && props.get("type_safe").and_then(Value::as_bool) == Some(false) {
                sink.add(
                    Rule::X1,
                    format!("{}/type_safe", e.ptr),
                    format!("entity is not type safe but the unit's safety level is {}", level.unwrap_or("?")),
                    "make the entity type safe, lower the safety level, or add a justified override",
                );
            }
            if bound_required && props.get("resource_bounded").and_then(Value::as_bool) == Some(false) {
                sink.add(
                    Rule::X1,
                    format!("{}/resource_bounded", e.ptr),
                    "entity is not resource bounded but the unit requires resource constraints",
                    "bound the entity's resource use, or add a justified override",
                );
            }
        }
        if intent("isolation_required") == Some(true)
            && bool_at(v, "/security/isolation_requirements/process_isolation") == Some(false)
            && bool_at(v, "/security/isolation_requirements/memory_isolation") == Some(false)
        {
            sink.add(
                Rule::X1,
                "/security/isolation_requirements",
                "the intent requires isolation but the common block asks for neither process nor memory isolation",
                "set `process_isolation` or `memory_isolation` to true",
            );
        }
    }

    // X2: override status agrees in all three layers.
    let allowed = bool_at(v, "/intent/security_intentions/override_intention/allowed");
    let enabled = bool_at(v, "/execution/security_enforcement/override_mechanisms/enabled");
    if allowed == Some(false) && (override_on == Some(true) || enabled == Some(true)) {
        sink.add(
            Rule::X2,
            "/intent/security_intentions/override_intention/allowed",
            "an override is in force but the intent layer does not allow one",
            "set `override_intention.allowed` to true with a justification, or remove the override",
        );
    }

    // X3: enforcement mechanisms match the declared properties. A process-isolation sandbox
    // gives a separate address space and enforces the common block's resource limits, so it
    // counts for memory isolation and resource limiting too.
    // An empty list is E4's finding; do not cascade it into X3.
    if let Some(sandbox) = sandbox_mech.filter(|l| !l.is_empty()) {
        let has = |m: &str| sandbox.iter().any(|s| s == m);
        let mem_has = |m: &str| memory_mech.is_some_and(|l| l.iter().any(|s| s == m));
        let ptr = "/execution/security_enforcement/sandboxing_mechanisms";
        if intent("isolation_required") == Some(true)
            && !(has("ProcessIsolation") || has("MemoryIsolation") || has("CapabilityModel"))
        {
            sink.add(
                Rule::X3,
                ptr,
                "the intent requires isolation but no isolating sandboxing mechanism is declared",
                "add ProcessIsolation, MemoryIsolation or CapabilityModel",
            );
        }
        if bool_at(v, "/security/isolation_requirements/process_isolation") == Some(true) && !has("ProcessIsolation") {
            sink.add(
                Rule::X3,
                ptr,
                "process isolation is required but no ProcessIsolation mechanism is declared",
                "add {\"mechanism\": \"ProcessIsolation\", …} to `sandboxing_mechanisms`",
            );
        }
        if bool_at(v, "/security/isolation_requirements/memory_isolation") == Some(true)
            && !(has("MemoryIsolation") || has("ProcessIsolation") || mem_has("MemoryIsolation"))
        {
            sink.add(
                Rule::X3,
                ptr,
                "memory isolation is required but no MemoryIsolation or ProcessIsolation mechanism is declared",
                "add a MemoryIsolation or ProcessIsolation mechanism",
            );
        }
        if intent("resource_constraints_required") == Some(true) {
            if !(has("ResourceLimiting") || has("ProcessIsolation")) {
                sink.add(
                    Rule::X3,
                    ptr,
                    "resource constraints are required but nothing enforces them",
                    "add a ResourceLimiting (or ProcessIsolation) sandboxing mechanism",
                );
            }
            for limit in ["cpu", "memory", "time"] {
                let lp = format!("/security/isolation_requirements/resource_limits/{limit}");
                if v.pointer(&lp).and_then(Value::as_f64) == Some(0.0) {
                    sink.add(
                        Rule::X3,
                        lp,
                        format!("resource constraints are required but the `{limit}` limit is 0"),
                        format!("set a positive `{limit}` limit"),
                    );
                }
            }
        }
    }

    // X4: verification status agrees with what it claims.
    let verified = bool_at(v, "/verification_status/verified");
    if verified == Some(true) {
        for (field, what) in [
            ("verification_method", "the method used (e.g. static-analysis, sanitizers, model checking)"),
            ("verification_timestamp", "when verification ran"),
            ("verification_results", "the results object"),
        ] {
            let ptr = format!("/verification_status/{field}");
            let present = match v.pointer(&ptr) {
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(Value::Object(_)) => true,
                _ => false,
            };
            if !present {
                sink.add(
                    Rule::X4,
                    ptr,
                    format!("the unit claims to be verified but records no `{field}`"),
                    format!("record {what}, or set `verified` to false"),
                );
            }
        }
    }
    let msv = "/verification_status/verification_results/memory_safety_verified";
    if bool_at(v, msv) == Some(true) {
        if verified == Some(false) {
            sink.add(
                Rule::X4,
                msv,
                "results claim verified memory safety but `verified` is false",
                "set `verified` to true with method and timestamp, or drop the claim",
            );
        }
        if ents.iter().any(|e| e.props.and_then(|p| p.get("memory_safe")).and_then(Value::as_bool) == Some(false)) {
            sink.add(
                Rule::X4,
                msv,
                "results claim verified memory safety but an entity is not memory safe",
                "correct the verification results or the entity's `memory_safe`",
            );
        }
    }
}

fn references(v: &Value, sink: &mut Sink) {
    // R1: ids unique across requirements, constraints, entities, invariants and contracts.
    let mut seen: HashMap<&str, String> = HashMap::new();
    for list in [
        "/intent/requirements",
        "/intent/constraints",
        "/semantics/entities",
        "/semantics/invariants",
        "/semantics/security_contracts",
    ] {
        let Some(items) = array_at(v, list) else { continue };
        for (i, item) in items.iter().enumerate() {
            let Some(id) = item.get("id").and_then(Value::as_str) else { continue };
            let ptr = format!("{list}/{i}/id");
            if let Some(first) = seen.get(id) {
                sink.add(
                    Rule::R1,
                    ptr,
                    format!("id \"{}\" is already used at {first}", truncate(id, 60)),
                    "give every requirement, constraint, entity, invariant and contract its own id",
                );
            } else {
                seen.insert(id, ptr);
            }
        }
    }

    // R2: relationship endpoints.
    // (Skipped when the referenced list itself is broken: S1 reports that.)
    let entity_ids: Option<Vec<&str>> = array_at(v, "/semantics/entities")
        .map(|items| items.iter().filter_map(|e| e.get("id").and_then(Value::as_str)).collect());
    if let (Some(rels), Some(entity_ids)) = (array_at(v, "/semantics/relationships"), entity_ids) {
        for (i, rel) in rels.iter().enumerate() {
            for end in ["source_id", "target_id"] {
                if let Some(id) = rel.get(end).and_then(Value::as_str)
                    && !entity_ids.contains(&id)
                {
                    sink.add(
                        Rule::R2,
                        format!("/semantics/relationships/{i}/{end}"),
                        format!("`{end}` \"{}\" names no entity", truncate(id, 60)),
                        "use the `id` of an entry in `semantics.entities`",
                    );
                }
            }
        }
    }

    // R3: contract invariants.
    let invariant_ids: Option<Vec<&str>> = array_at(v, "/semantics/invariants")
        .map(|items| items.iter().filter_map(|e| e.get("id").and_then(Value::as_str)).collect());
    if let (Some(contracts), Some(invariant_ids)) = (array_at(v, "/semantics/security_contracts"), invariant_ids) {
        for (i, c) in contracts.iter().enumerate() {
            let Some(refs) = c.get("invariants").and_then(Value::as_array) else { continue };
            for (j, r) in refs.iter().enumerate() {
                if let Some(id) = r.as_str()
                    && !invariant_ids.contains(&id)
                {
                    sink.add(
                        Rule::R3,
                        format!("/semantics/security_contracts/{i}/invariants/{j}"),
                        format!("invariant \"{}\" does not exist", truncate(id, 60)),
                        "use the `id` of an entry in `semantics.invariants`",
                    );
                }
            }
        }
    }
}
