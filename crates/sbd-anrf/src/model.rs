//! The typed model of an ANRF 1.1.0 instance.
//!
//! Field names, nesting and enum spellings are exactly those of the format. Every struct keeps
//! the fields it does not know in `extra` and writes them back, and quantities are kept as
//! JSON numbers (not `f64`), so parse → serialise never changes an instance's data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// Unknown fields of an object, kept verbatim.
pub type Extra = Map<String, Value>;

/// A JSON number from an `f64`, written as an integer when it is one.
pub fn quantity(x: f64) -> Number {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Number::from(x as i64)
    } else {
        Number::from_f64(x).unwrap_or_else(|| Number::from(0))
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $( $variant:ident = $text:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $( #[serde(rename = $text)] $variant, )* }

        impl $name {
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $text, )* }
            }
        }
    };
}

string_enum!(SafetyLevel { MemorySafe = "MemorySafe", TypeSafe = "TypeSafe", ResourceBounded = "ResourceBounded" });
string_enum!(Filesystem { None = "None", ReadOnly = "ReadOnly", ReadWrite = "ReadWrite" });
string_enum!(AuditEventType { Creation = "Creation", Modification = "Modification", Override = "Override", Verification = "Verification" });
string_enum!(RequirementType { Functional = "Functional", Security = "Security", Performance = "Performance", Reliability = "Reliability" });
string_enum!(Priority { Critical = "Critical", High = "High", Medium = "Medium", Low = "Low" });
string_enum!(ConstraintType { Security = "Security", Performance = "Performance", Compatibility = "Compatibility", Resource = "Resource" });
string_enum!(EnforcementLevel { Mandatory = "Mandatory", Recommended = "Recommended", Optional = "Optional" });
string_enum!(PropertyType { MemorySafety = "MemorySafety", TypeSafety = "TypeSafety", ResourceBounds = "ResourceBounds", DataIsolation = "DataIsolation" });
string_enum!(InformationFlow { None = "None", Controlled = "Controlled", Unrestricted = "Unrestricted" });
string_enum!(SecurityImpact { None = "None", Low = "Low", Medium = "Medium", High = "High" });
string_enum!(MemoryMechanism { BoundsChecking = "BoundsChecking", PointerValidation = "PointerValidation", MemoryIsolation = "MemoryIsolation", GarbageCollection = "GarbageCollection" });
string_enum!(SandboxMechanism { ProcessIsolation = "ProcessIsolation", MemoryIsolation = "MemoryIsolation", ResourceLimiting = "ResourceLimiting", CapabilityModel = "CapabilityModel" });
string_enum!(MemoryScope { Global = "Global", Function = "Function", Block = "Block" });
string_enum!(SandboxScope { Global = "Global", Function = "Function", Module = "Module" });
string_enum!(OverrideScope { Global = "Global", Function = "Function", Module = "Module", Block = "Block" });
string_enum!(EnforcementPoint { Compilation = "Compilation", Jit = "JIT", Runtime = "Runtime" });
string_enum!(AuditRequirements { None = "None", LogOnly = "LogOnly", ApprovalRequired = "ApprovalRequired" });

/// One ANRF 1.1.0 instance: the common block and the three layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anrf {
    pub anrf_version: String,
    pub creation_timestamp: String,
    pub creator_id: String,
    pub security: Security,
    pub dependencies: Vec<Dependency>,
    pub verification_status: VerificationStatus,
    pub intent: Intent,
    pub semantics: Semantics,
    pub execution: Execution,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Security {
    pub safety_level: SafetyLevel,
    pub isolation_requirements: IsolationRequirements,
    pub override_status: bool,
    pub override_justification: Option<String>,
    pub override_approval: OverrideApproval,
    pub audit_trail: Vec<AuditEvent>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationRequirements {
    pub process_isolation: bool,
    pub memory_isolation: bool,
    pub resource_limits: ResourceLimits,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Resource limits. The format gives no units; sbd reads `cpu` as CPU seconds, `memory` as
/// MiB and `time` as wall-clock milliseconds (see the sandbox's policy mapping).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceLimits {
    pub cpu: Number,
    pub memory: Number,
    pub time: Number,
    pub network: bool,
    pub filesystem: Filesystem,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideApproval {
    pub approver_id: Option<String>,
    pub approval_timestamp: Option<String>,
    pub approval_context: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub event_type: AuditEventType,
    pub timestamp: String,
    pub actor_id: String,
    pub description: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dependency {
    pub id: String,
    pub version: String,
    pub security_compatibility: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationStatus {
    pub verified: bool,
    pub verification_timestamp: Option<String>,
    pub verification_method: Option<String>,
    pub verification_results: Option<Map<String, Value>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub description: String,
    pub requirements: Vec<Requirement>,
    pub security_intentions: SecurityIntentions,
    pub constraints: Vec<Constraint>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub id: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: RequirementType,
    pub priority: Priority,
    pub verification_approach: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityIntentions {
    pub memory_safety_required: bool,
    pub isolation_required: bool,
    pub resource_constraints_required: bool,
    pub override_intention: OverrideIntention,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideIntention {
    pub allowed: bool,
    pub conditions: Option<String>,
    pub justification: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    pub id: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: ConstraintType,
    pub enforcement_level: EnforcementLevel,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Semantics {
    pub entities: Vec<Entity>,
    pub relationships: Vec<Relationship>,
    pub invariants: Vec<Invariant>,
    pub security_contracts: Vec<SecurityContract>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: Map<String, Value>,
    pub security_properties: SecurityProperties,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityProperties {
    pub memory_safe: bool,
    pub type_safe: bool,
    pub resource_bounded: bool,
    pub formal_guarantees: Vec<FormalGuarantee>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormalGuarantee {
    pub property_type: PropertyType,
    pub property_description: String,
    pub verification_approach: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub source_id: String,
    pub target_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub properties: Map<String, Value>,
    pub security_implications: SecurityImplications,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityImplications {
    pub information_flow: InformationFlow,
    pub privilege_escalation_risk: bool,
    pub resource_sharing: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invariant {
    pub id: String,
    pub description: String,
    pub formal_representation: String,
    pub security_relevance: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityContract {
    pub id: String,
    pub description: String,
    pub preconditions: Vec<String>,
    pub postconditions: Vec<String>,
    /// Ids of entries in `semantics.invariants`.
    pub invariants: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    pub target_environment: TargetEnvironment,
    pub resource_requirements: ResourceRequirements,
    pub optimizations: Vec<Optimization>,
    pub security_enforcement: SecurityEnforcement,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetEnvironment {
    pub platform: String,
    pub runtime_version: String,
    pub security_features: SecurityFeatures,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityFeatures {
    pub hardware_memory_protection: bool,
    pub address_space_layout_randomization: bool,
    pub control_flow_integrity: bool,
    pub sandboxing_support: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequirements {
    pub cpu: Number,
    pub memory: Number,
    pub time_complexity: String,
    pub space_complexity: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimization {
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub security_impact: SecurityImpact,
    pub security_verification: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecurityEnforcement {
    pub memory_safety_mechanisms: Vec<MemorySafetyMechanism>,
    pub sandboxing_mechanisms: Vec<SandboxingMechanism>,
    pub override_mechanisms: OverrideMechanisms,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemorySafetyMechanism {
    pub mechanism: MemoryMechanism,
    pub scope: MemoryScope,
    pub enforcement_point: EnforcementPoint,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxingMechanism {
    pub mechanism: SandboxMechanism,
    pub scope: SandboxScope,
    pub enforcement_point: EnforcementPoint,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideMechanisms {
    pub enabled: bool,
    pub scope: OverrideScope,
    pub enforcement_point: EnforcementPoint,
    pub audit_requirements: AuditRequirements,
    #[serde(flatten)]
    pub extra: Extra,
}
