//! Migration of instances older than 1.1.0 (and completion of partial 1.1.0 instances).
//!
//! Migration adds what 1.1.0 made mandatory and never removes or rewrites a value it finds:
//! the `security` block (memory safe, isolation inferred from what the unit does, no
//! override), `security_intentions`, per-entity `security_properties`, per-relationship
//! `security_implications` and `security_enforcement`, plus the smaller fields 1.1.0 added.
//! Every value it supplies is reported as an [`Inference`] with its reason, a `Modification`
//! event is appended to the audit trail, and the result is validated so the caller sees what
//! still fails (an unsafe entity needs a human's justified override; migration never invents
//! one). Running it on its own output changes nothing.

use serde::Serialize;
use serde_json::{Value, json};

use crate::validate::{Report, is_pre_1_1, push_pointer, validate};
use crate::{ANRF_VERSION, Error};

/// What the caller knows about the unit's behaviour (e.g. from `sbd scan` facts). Known facts
/// win over the keyword inference from the instance's own text.
#[derive(Debug, Clone, Default)]
pub struct IsolationHints {
    pub network: Option<bool>,
    /// "None", "ReadOnly" or "ReadWrite".
    pub filesystem: Option<String>,
}

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// RFC 3339 time of the migration (audit event, missing timestamps).
    pub now: String,
    /// Who migrates (audit event, missing `creator_id`).
    pub actor: String,
    pub hints: IsolationHints,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            now: crate::time::now_rfc3339(),
            actor: "sbd-anrf-migrate".into(),
            hints: IsolationHints::default(),
        }
    }
}

/// One value migration supplied, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    pub pointer: String,
    pub value: Value,
    pub reason: String,
}

/// The migrated instance and what happened.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub instance: Value,
    /// `anrf_version` before migration (`None` when absent).
    pub from_version: Option<String>,
    pub changed: bool,
    pub inferred: Vec<Inference>,
    /// Violations left after migration; empty when the result is valid.
    pub remaining: Report,
}

struct Ctx {
    inferred: Vec<Inference>,
}

impl Ctx {
    /// Inserts `value` at `parent/key` when the key is missing. Returns true if inserted.
    fn ensure(&mut self, root: &mut Value, parent: &str, key: &str, value: Value, reason: &str) -> bool {
        let Some(Value::Object(map)) = root.pointer_mut(parent) else { return false };
        if map.contains_key(key) {
            return false;
        }
        map.insert(key.to_string(), value.clone());
        self.inferred.push(Inference { pointer: push_pointer(parent, key), value, reason: reason.into() });
        true
    }

    /// `ensure` on every object element of the array at `list`.
    fn ensure_each(&mut self, root: &mut Value, list: &str, key: &str, value: impl Fn(&Value) -> Value, reason: &str) {
        let len = root.pointer(list).and_then(Value::as_array).map_or(0, Vec::len);
        for i in 0..len {
            let parent = format!("{list}/{i}");
            let v = match root.pointer(&parent) {
                Some(item @ Value::Object(_)) => value(item),
                _ => continue,
            };
            self.ensure(root, &parent, key, v, reason);
        }
    }
}

/// Migrates one instance to ANRF 1.1.0.
pub fn migrate(mut instance: Value, opts: &MigrateOptions) -> Result<Migration, Error> {
    if !instance.is_object() {
        return Err(Error::Migrate("an ANRF instance is a JSON object".into()));
    }
    let from_version = instance.get("anrf_version").and_then(Value::as_str).map(str::to_owned);
    match from_version.as_deref() {
        None => {}
        Some(v) if v == ANRF_VERSION || is_pre_1_1(v) => {}
        Some(v) => {
            return Err(Error::Migrate(format!(
                "version \"{v}\" is neither {ANRF_VERSION} nor older; this tool migrates pre-1.1 instances only"
            )));
        }
    }
    let mut cx = Ctx { inferred: Vec::new() };
    let root = &mut instance;

    if from_version.as_deref() != Some(ANRF_VERSION) {
        root["anrf_version"] = Value::from(ANRF_VERSION);
        cx.inferred.push(Inference {
            pointer: "/anrf_version".into(),
            value: Value::from(ANRF_VERSION),
            reason: format!("upgraded from {}", from_version.as_deref().unwrap_or("an unversioned instance")),
        });
    }
    cx.ensure(root, "", "creation_timestamp", opts.now.clone().into(), "absent; set to the migration time");
    cx.ensure(root, "", "creator_id", opts.actor.clone().into(), "absent; set to the migrating tool");
    cx.ensure(root, "", "dependencies", json!([]), "absent; no dependencies recorded");
    cx.ensure_each(
        root,
        "/dependencies",
        "security_compatibility",
        |_| Value::Bool(false),
        "not yet checked; assumed incompatible until verified",
    );
    cx.ensure(root, "", "verification_status", json!({}), "absent");
    for (k, v) in [
        ("verified", Value::Bool(false)),
        ("verification_timestamp", Value::Null),
        ("verification_method", Value::Null),
        ("verification_results", Value::Null),
    ] {
        cx.ensure(root, "/verification_status", k, v, "absent; the unit is not verified");
    }

    // security
    let (network, fs, why_net, why_fs) = infer_isolation(root, &opts.hints);
    let (cpu_limit, mem_limit) = infer_limits(root);
    cx.ensure(root, "", "security", json!({}), "mandatory since 1.1.0");
    cx.ensure(root, "/security", "safety_level", "MemorySafe".into(), "secure by default");
    if cx.ensure(root, "/security", "isolation_requirements", json!({}), "mandatory since 1.1.0") {
        cx.ensure(root, "/security/isolation_requirements", "process_isolation", true.into(), "secure by default");
        cx.ensure(root, "/security/isolation_requirements", "memory_isolation", true.into(), "secure by default");
        cx.ensure(
            root,
            "/security/isolation_requirements",
            "resource_limits",
            json!({"cpu": cpu_limit, "memory": mem_limit, "time": 10000, "network": network, "filesystem": fs}),
            &format!("limits from the declared resource requirements; {why_net}; {why_fs}"),
        );
    }
    cx.ensure(root, "/security", "override_status", false.into(), "secure by default: no override");
    cx.ensure(root, "/security", "override_justification", Value::Null, "no override");
    cx.ensure(
        root,
        "/security",
        "override_approval",
        json!({"approver_id": null, "approval_timestamp": null, "approval_context": null}),
        "no override",
    );
    cx.ensure(root, "/security", "audit_trail", json!([]), "mandatory since 1.1.0");
    let override_on = root.pointer("/security/override_status").and_then(Value::as_bool).unwrap_or(false);

    // intent
    cx.ensure(root, "", "intent", json!({}), "mandatory layer");
    cx.ensure(root, "/intent", "description", "unspecified (added by ANRF 1.1 migration)".into(), "absent");
    cx.ensure(root, "/intent", "requirements", json!([]), "absent");
    cx.ensure(root, "/intent", "constraints", json!([]), "absent");
    let has_security_req = root
        .pointer("/intent/requirements")
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|x| x.get("type").and_then(Value::as_str) == Some("Security")));
    if !has_security_req && let Some(Value::Array(reqs)) = root.pointer_mut("/intent/requirements") {
        let req = json!({"id": "REQ-SEC-MIGRATED", "description": "Memory safe and sandboxed by default (ANRF 1.1)",
                "type": "Security", "priority": "Critical", "verification_approach": "static analysis"});
        reqs.push(req.clone());
        cx.inferred.push(Inference {
            pointer: format!("/intent/requirements/{}", reqs.len() - 1),
            value: req,
            reason: "1.1.0 requires a security requirement; secure by default".into(),
        });
    }
    let isolation_required = root
        .pointer("/security/isolation_requirements")
        .map(|iso| {
            iso.get("process_isolation") == Some(&Value::Bool(true))
                || iso.get("memory_isolation") == Some(&Value::Bool(true))
        })
        .unwrap_or(true);
    cx.ensure(
        root,
        "/intent",
        "security_intentions",
        json!({"memory_safety_required": true, "isolation_required": isolation_required, "resource_constraints_required": true,
            "override_intention": {"allowed": override_on, "conditions": null, "justification": if override_on { root.pointer("/security/override_justification").cloned().unwrap_or(Value::Null) } else { Value::Null }}}),
        "mandatory since 1.1.0; secure by default, mirroring the common block",
    );

    // semantics
    cx.ensure(root, "", "semantics", json!({}), "mandatory layer");
    for k in ["entities", "relationships", "invariants", "security_contracts"] {
        cx.ensure(root, "/semantics", k, json!([]), "absent");
    }
    cx.ensure_each(
        root,
        "/semantics/entities",
        "security_properties",
        |entity| {
            let declared_unsafe = entity.pointer("/properties/unsafe").and_then(Value::as_bool) == Some(true);
            json!({"memory_safe": !declared_unsafe, "type_safe": true, "resource_bounded": true,
                "formal_guarantees": if declared_unsafe { json!([]) } else { json!([{"property_type": "MemorySafety",
                    "property_description": "memory safe by default (declared by ANRF 1.1 migration)",
                    "verification_approach": "unverified: declared by migration; verify with sbd scan"}]) }})
        },
        "mandatory since 1.1.0; entities are memory safe by default unless their properties say `unsafe: true`",
    );
    cx.ensure_each(
        root,
        "/semantics/relationships",
        "security_implications",
        |_| json!({"information_flow": "Controlled", "privilege_escalation_risk": false, "resource_sharing": false}),
        "mandatory since 1.1.0; conservative default",
    );
    cx.ensure_each(
        root,
        "/semantics/invariants",
        "security_relevance",
        |_| Value::Bool(false),
        "not marked security relevant before 1.1.0",
    );

    // execution
    cx.ensure(root, "", "execution", json!({}), "mandatory layer");
    cx.ensure(
        root,
        "/execution",
        "target_environment",
        json!({"platform": "unspecified", "runtime_version": "unspecified"}),
        "absent",
    );
    cx.ensure(
        root,
        "/execution/target_environment",
        "security_features",
        json!({"hardware_memory_protection": true, "address_space_layout_randomization": true, "control_flow_integrity": false, "sandboxing_support": true}),
        "mandatory since 1.1.0; typical Linux defaults, control-flow integrity not assumed",
    );
    cx.ensure(
        root,
        "/execution",
        "resource_requirements",
        json!({"cpu": 1, "memory": 256, "time_complexity": "unknown", "space_complexity": "unknown"}),
        "absent",
    );
    cx.ensure(root, "/execution", "optimizations", json!([]), "absent");
    cx.ensure_each(
        root,
        "/execution/optimizations",
        "security_impact",
        |_| Value::from("Low"),
        "not assessed before 1.1.0",
    );
    cx.ensure_each(
        root,
        "/execution/optimizations",
        "security_verification",
        |_| Value::from("unassessed: added by ANRF 1.1 migration"),
        "not assessed before 1.1.0",
    );
    if cx.ensure(root, "/execution", "security_enforcement", json!({}), "mandatory since 1.1.0") {
        cx.ensure(
            root,
            "/execution/security_enforcement",
            "memory_safety_mechanisms",
            json!([{"mechanism": "BoundsChecking", "scope": "Global", "enforcement_point": "Runtime"}]),
            "secure by default",
        );
        cx.ensure(
            root,
            "/execution/security_enforcement",
            "sandboxing_mechanisms",
            json!([{"mechanism": "ProcessIsolation", "scope": "Global", "enforcement_point": "Runtime"},
                   {"mechanism": "ResourceLimiting", "scope": "Global", "enforcement_point": "Runtime"}]),
            "enforces the isolation requirements",
        );
        cx.ensure(
            root,
            "/execution/security_enforcement",
            "override_mechanisms",
            json!({"enabled": override_on, "scope": "Function", "enforcement_point": "Compilation", "audit_requirements": "ApprovalRequired"}),
            "mirrors the common override status",
        );
    }

    let changed = !cx.inferred.is_empty();
    if changed {
        let described: Vec<&str> = cx.inferred.iter().map(|i| i.pointer.as_str()).take(12).collect();
        let more = cx.inferred.len().saturating_sub(12);
        let event = json!({
            "event_type": "Modification",
            "timestamp": opts.now,
            "actor_id": opts.actor,
            "description": format!(
                "migrated from ANRF {} to {ANRF_VERSION}; added {}{}",
                from_version.as_deref().unwrap_or("(unversioned)"),
                described.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ),
        });
        if let Some(Value::Array(trail)) = root.pointer_mut("/security/audit_trail") {
            trail.push(event);
        }
    }
    let remaining = validate(root);
    Ok(Migration { instance, from_version, changed, inferred: cx.inferred, remaining })
}

const NETWORK_WORDS: &[&str] = &[
    "http",
    "https",
    "url",
    "socket",
    "tcp",
    "udp",
    "dns",
    "network",
    "download",
    "upload",
    "fetch",
    "request",
    "requests",
    "server",
    "client",
    "api",
    "websocket",
    "smtp",
];
const WRITE_WORDS: &[&str] = &[
    "write", "writes", "save", "saves", "store", "stores", "delete", "deletes", "create", "creates", "log", "logs",
    "append",
];
const READ_WORDS: &[&str] =
    &["read", "reads", "file", "files", "path", "load", "loads", "open", "opens", "config", "directory"];

/// Network and filesystem needs: the caller's hints, else keywords in the instance's own text.
fn infer_isolation(root: &Value, hints: &IsolationHints) -> (bool, String, String, String) {
    let mut texts = Vec::new();
    collect_text(root, "", &mut texts);
    let find = |words: &[&str]| -> Option<(String, String)> {
        texts.iter().find_map(|(ptr, text)| {
            text.split(|c: char| !c.is_ascii_alphanumeric())
                .map(str::to_ascii_lowercase)
                .find(|w| words.contains(&w.as_str()))
                .map(|w| (w, ptr.clone()))
        })
    };
    let (network, why_net) = match hints.network {
        Some(n) => (n, format!("network {n} from the caller's facts")),
        None => match find(NETWORK_WORDS) {
            Some((w, p)) => (true, format!("network allowed: the instance mentions \"{w}\" at {p}")),
            None => (false, "network denied: nothing in the instance suggests network use".into()),
        },
    };
    let (fs, why_fs) = match &hints.filesystem {
        Some(f) => (f.clone(), format!("filesystem {f} from the caller's facts")),
        None => match (find(WRITE_WORDS), find(READ_WORDS)) {
            (Some((w, p)), _) => {
                ("ReadWrite".into(), format!("filesystem ReadWrite: the instance mentions \"{w}\" at {p}"))
            }
            (None, Some((w, p))) => {
                ("ReadOnly".into(), format!("filesystem ReadOnly: the instance mentions \"{w}\" at {p}"))
            }
            (None, None) => ("None".into(), "filesystem None: nothing suggests file access".into()),
        },
    };
    (network, fs, why_net, why_fs)
}

fn collect_text(v: &Value, ptr: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((ptr.to_string(), s.clone())),
        Value::Array(items) => {
            for (i, it) in items.iter().enumerate() {
                collect_text(it, &format!("{ptr}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, it) in map {
                // Metadata about the instance, not about what the unit does.
                if matches!(
                    k.as_str(),
                    "anrf_version"
                        | "creation_timestamp"
                        | "creator_id"
                        | "audit_trail"
                        | "verification_status"
                        | "security"
                ) {
                    continue;
                }
                collect_text(it, &push_pointer(ptr, k), out);
            }
        }
        _ => {}
    }
}

fn infer_limits(root: &Value) -> (Value, Value) {
    let req = |k: &str| root.pointer(&format!("/execution/resource_requirements/{k}")).and_then(Value::as_f64);
    let cpu = req("cpu").map_or(1.0, |c| c.ceil().max(1.0));
    let mem = req("memory").map_or(256.0, |m| (m * 2.0).max(256.0).ceil());
    (Value::from(crate::model::quantity(cpu)), Value::from(crate::model::quantity(mem)))
}
