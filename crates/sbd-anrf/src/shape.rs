//! The structure of an ANRF 1.1.0 instance as data.
//!
//! One tree drives both the structural half of the validator and the JSON Schema, so the two
//! cannot disagree about which fields exist, their types and their enum values. Every field
//! names the rule that reports it when it is missing or malformed.

use std::sync::OnceLock;

use crate::rules::Rule;

/// What a JSON value must look like.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Any string.
    String,
    /// A string or `null`.
    NullableString,
    Bool,
    /// A finite number, at least 0 (every number in ANRF is a quantity).
    Quantity,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An RFC 3339 date-time string.
    Timestamp,
    /// An RFC 3339 date-time string or `null`.
    NullableTimestamp,
    /// An object with these fields (others are allowed and kept).
    Object(Vec<Field>),
    /// Any object.
    AnyObject,
    /// Any object or `null`.
    NullableAnyObject,
    /// An array whose items have this kind.
    Array(Box<Kind>),
}

/// A required field of an object.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub rule: Rule,
}

fn f(name: &'static str, rule: Rule, kind: Kind) -> Field {
    Field { name, kind, rule }
}

fn obj(fields: Vec<Field>) -> Kind {
    Kind::Object(fields)
}

fn arr(kind: Kind) -> Kind {
    Kind::Array(Box::new(kind))
}

pub const SAFETY_LEVELS: &[&str] = &["MemorySafe", "TypeSafe", "ResourceBounded"];
pub const FILESYSTEM: &[&str] = &["None", "ReadOnly", "ReadWrite"];
pub const AUDIT_EVENTS: &[&str] = &["Creation", "Modification", "Override", "Verification"];
pub const REQUIREMENT_TYPES: &[&str] = &["Functional", "Security", "Performance", "Reliability"];
pub const PRIORITIES: &[&str] = &["Critical", "High", "Medium", "Low"];
pub const CONSTRAINT_TYPES: &[&str] = &["Security", "Performance", "Compatibility", "Resource"];
pub const ENFORCEMENT_LEVELS: &[&str] = &["Mandatory", "Recommended", "Optional"];
pub const PROPERTY_TYPES: &[&str] = &["MemorySafety", "TypeSafety", "ResourceBounds", "DataIsolation"];
pub const INFORMATION_FLOW: &[&str] = &["None", "Controlled", "Unrestricted"];
pub const SECURITY_IMPACT: &[&str] = &["None", "Low", "Medium", "High"];
pub const MEMORY_MECHANISMS: &[&str] = &["BoundsChecking", "PointerValidation", "MemoryIsolation", "GarbageCollection"];
pub const SANDBOX_MECHANISMS: &[&str] = &["ProcessIsolation", "MemoryIsolation", "ResourceLimiting", "CapabilityModel"];
pub const MEMORY_SCOPES: &[&str] = &["Global", "Function", "Block"];
pub const SANDBOX_SCOPES: &[&str] = &["Global", "Function", "Module"];
pub const OVERRIDE_SCOPES: &[&str] = &["Global", "Function", "Module", "Block"];
pub const ENFORCEMENT_POINTS: &[&str] = &["Compilation", "JIT", "Runtime"];
pub const AUDIT_REQUIREMENTS: &[&str] = &["None", "LogOnly", "ApprovalRequired"];

/// The fields of the top-level object (after `anrf_version`, which rule C1 checks by hand).
pub fn root() -> &'static [Field] {
    static ROOT: OnceLock<Vec<Field>> = OnceLock::new();
    ROOT.get_or_init(build_root)
}

fn build_root() -> Vec<Field> {
    use Kind::*;
    use Rule::*;
    let security = obj(vec![
        f("safety_level", C3, Enum(SAFETY_LEVELS)),
        f(
            "isolation_requirements",
            C4,
            obj(vec![
                f("process_isolation", C4, Bool),
                f("memory_isolation", C4, Bool),
                f(
                    "resource_limits",
                    C4,
                    obj(vec![
                        f("cpu", C4, Quantity),
                        f("memory", C4, Quantity),
                        f("time", C4, Quantity),
                        f("network", C4, Bool),
                        f("filesystem", C4, Enum(FILESYSTEM)),
                    ]),
                ),
            ]),
        ),
        f("override_status", C2, Bool),
        f("override_justification", C2, NullableString),
        f(
            "override_approval",
            C2,
            obj(vec![
                f("approver_id", C2, NullableString),
                f("approval_timestamp", C2, NullableTimestamp),
                f("approval_context", C2, NullableString),
            ]),
        ),
        f(
            "audit_trail",
            C2,
            arr(obj(vec![
                f("event_type", C2, Enum(AUDIT_EVENTS)),
                f("timestamp", C2, Timestamp),
                f("actor_id", C2, String),
                f("description", C2, String),
            ])),
        ),
    ]);
    let dependencies =
        arr(obj(vec![f("id", C7, String), f("version", C7, String), f("security_compatibility", C7, Bool)]));
    let verification_status = obj(vec![
        f("verified", C7, Bool),
        f("verification_timestamp", C7, NullableTimestamp),
        f("verification_method", C7, NullableString),
        f("verification_results", C7, NullableAnyObject),
    ]);
    let intent = obj(vec![
        f("description", I1, String),
        f(
            "requirements",
            I1,
            arr(obj(vec![
                f("id", I1, String),
                f("description", I1, String),
                f("type", I1, Enum(REQUIREMENT_TYPES)),
                f("priority", I1, Enum(PRIORITIES)),
                f("verification_approach", I1, String),
            ])),
        ),
        f(
            "security_intentions",
            I2,
            obj(vec![
                f("memory_safety_required", I2, Bool),
                f("isolation_required", I2, Bool),
                f("resource_constraints_required", I2, Bool),
                f(
                    "override_intention",
                    I2,
                    obj(vec![
                        f("allowed", I2, Bool),
                        f("conditions", I2, NullableString),
                        f("justification", I2, NullableString),
                    ]),
                ),
            ]),
        ),
        f(
            "constraints",
            I1,
            arr(obj(vec![
                f("id", I1, String),
                f("description", I1, String),
                f("type", I1, Enum(CONSTRAINT_TYPES)),
                f("enforcement_level", I1, Enum(ENFORCEMENT_LEVELS)),
            ])),
        ),
    ]);
    let semantics = obj(vec![
        f(
            "entities",
            S1,
            arr(obj(vec![
                f("id", S1, String),
                f("name", S1, String),
                f("type", S1, String),
                f("properties", S1, AnyObject),
                f(
                    "security_properties",
                    S2,
                    obj(vec![
                        f("memory_safe", S2, Bool),
                        f("type_safe", S2, Bool),
                        f("resource_bounded", S2, Bool),
                        f(
                            "formal_guarantees",
                            S2,
                            arr(obj(vec![
                                f("property_type", S2, Enum(PROPERTY_TYPES)),
                                f("property_description", S2, String),
                                f("verification_approach", S2, String),
                            ])),
                        ),
                    ]),
                ),
            ])),
        ),
        f(
            "relationships",
            S1,
            arr(obj(vec![
                f("source_id", S1, String),
                f("target_id", S1, String),
                f("type", S1, String),
                f("properties", S1, AnyObject),
                f(
                    "security_implications",
                    S1,
                    obj(vec![
                        f("information_flow", S1, Enum(INFORMATION_FLOW)),
                        f("privilege_escalation_risk", S1, Bool),
                        f("resource_sharing", S1, Bool),
                    ]),
                ),
            ])),
        ),
        f(
            "invariants",
            S1,
            arr(obj(vec![
                f("id", S1, String),
                f("description", S1, String),
                f("formal_representation", S1, String),
                f("security_relevance", S1, Bool),
            ])),
        ),
        f(
            "security_contracts",
            S1,
            arr(obj(vec![
                f("id", S1, String),
                f("description", S1, String),
                f("preconditions", S1, arr(String)),
                f("postconditions", S1, arr(String)),
                f("invariants", S1, arr(String)),
            ])),
        ),
    ]);
    let mechanism = |names: &'static [&'static str], scopes: &'static [&'static str]| {
        arr(obj(vec![
            f("mechanism", E2, Enum(names)),
            f("scope", E2, Enum(scopes)),
            f("enforcement_point", E2, Enum(ENFORCEMENT_POINTS)),
        ]))
    };
    let execution = obj(vec![
        f(
            "target_environment",
            E1,
            obj(vec![
                f("platform", E1, String),
                f("runtime_version", E1, String),
                f(
                    "security_features",
                    E1,
                    obj(vec![
                        f("hardware_memory_protection", E1, Bool),
                        f("address_space_layout_randomization", E1, Bool),
                        f("control_flow_integrity", E1, Bool),
                        f("sandboxing_support", E1, Bool),
                    ]),
                ),
            ]),
        ),
        f(
            "resource_requirements",
            E1,
            obj(vec![
                f("cpu", E1, Quantity),
                f("memory", E1, Quantity),
                f("time_complexity", E1, String),
                f("space_complexity", E1, String),
            ]),
        ),
        f(
            "optimizations",
            E1,
            arr(obj(vec![
                f("type", E1, String),
                f("description", E1, String),
                f("security_impact", E1, Enum(SECURITY_IMPACT)),
                f("security_verification", E1, String),
            ])),
        ),
        f(
            "security_enforcement",
            E2,
            obj(vec![
                f("memory_safety_mechanisms", E2, mechanism(MEMORY_MECHANISMS, MEMORY_SCOPES)),
                f("sandboxing_mechanisms", E2, mechanism(SANDBOX_MECHANISMS, SANDBOX_SCOPES)),
                f(
                    "override_mechanisms",
                    E2,
                    obj(vec![
                        f("enabled", E2, Bool),
                        f("scope", E2, Enum(OVERRIDE_SCOPES)),
                        f("enforcement_point", E2, Enum(ENFORCEMENT_POINTS)),
                        f("audit_requirements", E2, Enum(AUDIT_REQUIREMENTS)),
                    ]),
                ),
            ]),
        ),
    ]);
    vec![
        f("creation_timestamp", C7, Timestamp),
        f("creator_id", C7, String),
        f("security", C2, security),
        f("dependencies", C7, dependencies),
        f("verification_status", C7, verification_status),
        f("intent", I1, intent),
        f("semantics", S1, semantics),
        f("execution", E1, execution),
    ]
}
