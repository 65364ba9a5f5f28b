//! Building valid instances from facts.
//!
//! [`InstanceBuilder::new`] starts from the secure default — memory safe, process and memory
//! isolation, bounded resources, no network, read-only filesystem, no override — and the
//! methods record what a tool knows about a unit: its entities and their properties, the
//! mechanisms that enforce them, an approved override, a verification result. `build` returns
//! the typed instance; `build_validated` also runs the validator and refuses an invalid one.
//!
//! ```
//! use sbd_anrf::builder::{EntityFacts, InstanceBuilder};
//! use sbd_anrf::model::PropertyType;
//!
//! let anrf = InstanceBuilder::new("sbd-scan", "Copy a bounded string")
//!     .at("2026-01-01T00:00:00Z")
//!     .entity(EntityFacts::new("copy_bounded", "Function")
//!         .guarantee(PropertyType::MemorySafety, "no out-of-bounds write", "static analysis"))
//!     .build_validated()
//!     .expect("the secure default with one guaranteed entity is valid");
//! assert!(!anrf.security.override_status);
//! ```

use serde_json::{Map, Value};

use crate::ANRF_VERSION;
use crate::model::*;
use crate::time::now_rfc3339;
use crate::validate::{Report, validate};

/// What is known about one entity (function, type, module) of the unit.
#[derive(Debug, Clone)]
pub struct EntityFacts {
    pub id: Option<String>,
    pub name: String,
    pub kind: String,
    pub memory_safe: bool,
    pub type_safe: bool,
    pub resource_bounded: bool,
    pub guarantees: Vec<FormalGuarantee>,
    pub properties: Map<String, Value>,
}

impl EntityFacts {
    /// A safe entity (memory safe, type safe, resource bounded) without guarantees yet.
    pub fn new(name: impl Into<String>, kind: impl Into<String>) -> Self {
        EntityFacts {
            id: None,
            name: name.into(),
            kind: kind.into(),
            memory_safe: true,
            type_safe: true,
            resource_bounded: true,
            guarantees: Vec::new(),
            properties: Map::new(),
        }
    }
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    pub fn memory_safe(mut self, yes: bool) -> Self {
        self.memory_safe = yes;
        self
    }
    pub fn type_safe(mut self, yes: bool) -> Self {
        self.type_safe = yes;
        self
    }
    pub fn resource_bounded(mut self, yes: bool) -> Self {
        self.resource_bounded = yes;
        self
    }
    pub fn guarantee(
        mut self,
        kind: PropertyType,
        description: impl Into<String>,
        approach: impl Into<String>,
    ) -> Self {
        self.guarantees.push(FormalGuarantee {
            property_type: kind,
            property_description: description.into(),
            verification_approach: approach.into(),
            extra: Map::new(),
        });
        self
    }
    pub fn property(mut self, key: impl Into<String>, value: Value) -> Self {
        self.properties.insert(key.into(), value);
        self
    }
}

/// A justified, approved override of secure-by-default.
#[derive(Debug, Clone)]
pub struct OverrideFacts {
    pub justification: String,
    pub approver_id: String,
    pub approval_timestamp: String,
    pub approval_context: String,
    /// When the override applies (e.g. "FFI call into libfoo only").
    pub conditions: Option<String>,
    pub scope: OverrideScope,
}

/// Builds an [`Anrf`] instance from facts, starting from the secure default.
#[derive(Debug, Clone)]
pub struct InstanceBuilder {
    inst: Anrf,
    explicit_mechanisms: bool,
}

impl InstanceBuilder {
    /// The secure default for a unit described by `description`, produced by `creator_id`.
    pub fn new(creator_id: impl Into<String>, description: impl Into<String>) -> Self {
        let creator_id = creator_id.into();
        let now = now_rfc3339();
        let inst = Anrf {
            anrf_version: ANRF_VERSION.into(),
            creation_timestamp: now.clone(),
            creator_id: creator_id.clone(),
            security: Security {
                safety_level: SafetyLevel::MemorySafe,
                isolation_requirements: IsolationRequirements {
                    process_isolation: true,
                    memory_isolation: true,
                    resource_limits: ResourceLimits {
                        cpu: quantity(1.0),
                        memory: quantity(256.0),
                        time: quantity(10_000.0),
                        network: false,
                        filesystem: Filesystem::ReadOnly,
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                },
                override_status: false,
                override_justification: None,
                override_approval: OverrideApproval {
                    approver_id: None,
                    approval_timestamp: None,
                    approval_context: None,
                    extra: Map::new(),
                },
                audit_trail: vec![AuditEvent {
                    event_type: AuditEventType::Creation,
                    timestamp: now.clone(),
                    actor_id: creator_id,
                    description: "created".into(),
                    extra: Map::new(),
                }],
                extra: Map::new(),
            },
            dependencies: Vec::new(),
            verification_status: VerificationStatus {
                verified: false,
                verification_timestamp: None,
                verification_method: None,
                verification_results: None,
                extra: Map::new(),
            },
            intent: Intent {
                description: description.into(),
                requirements: vec![Requirement {
                    id: "REQ-SEC-1".into(),
                    description: "Memory safe and sandboxed by default".into(),
                    kind: RequirementType::Security,
                    priority: Priority::Critical,
                    verification_approach: "static analysis".into(),
                    extra: Map::new(),
                }],
                security_intentions: SecurityIntentions {
                    memory_safety_required: true,
                    isolation_required: true,
                    resource_constraints_required: true,
                    override_intention: OverrideIntention {
                        allowed: false,
                        conditions: None,
                        justification: None,
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                },
                constraints: Vec::new(),
                extra: Map::new(),
            },
            semantics: Semantics {
                entities: Vec::new(),
                relationships: Vec::new(),
                invariants: Vec::new(),
                security_contracts: Vec::new(),
                extra: Map::new(),
            },
            execution: Execution {
                target_environment: TargetEnvironment {
                    platform: "linux-x86_64".into(),
                    runtime_version: "unspecified".into(),
                    security_features: SecurityFeatures {
                        hardware_memory_protection: true,
                        address_space_layout_randomization: true,
                        control_flow_integrity: false,
                        sandboxing_support: true,
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                },
                resource_requirements: ResourceRequirements {
                    cpu: quantity(1.0),
                    memory: quantity(256.0),
                    time_complexity: "unknown".into(),
                    space_complexity: "unknown".into(),
                    extra: Map::new(),
                },
                optimizations: Vec::new(),
                security_enforcement: SecurityEnforcement {
                    memory_safety_mechanisms: vec![MemorySafetyMechanism {
                        mechanism: MemoryMechanism::BoundsChecking,
                        scope: MemoryScope::Global,
                        enforcement_point: EnforcementPoint::Runtime,
                        extra: Map::new(),
                    }],
                    sandboxing_mechanisms: vec![
                        SandboxingMechanism {
                            mechanism: SandboxMechanism::ProcessIsolation,
                            scope: SandboxScope::Global,
                            enforcement_point: EnforcementPoint::Runtime,
                            extra: Map::new(),
                        },
                        SandboxingMechanism {
                            mechanism: SandboxMechanism::ResourceLimiting,
                            scope: SandboxScope::Global,
                            enforcement_point: EnforcementPoint::Runtime,
                            extra: Map::new(),
                        },
                    ],
                    override_mechanisms: OverrideMechanisms {
                        enabled: false,
                        scope: OverrideScope::Function,
                        enforcement_point: EnforcementPoint::Compilation,
                        audit_requirements: AuditRequirements::ApprovalRequired,
                        extra: Map::new(),
                    },
                    extra: Map::new(),
                },
                extra: Map::new(),
            },
            extra: Map::new(),
        };
        InstanceBuilder { inst, explicit_mechanisms: false }
    }

    /// Uses `timestamp` (RFC 3339) for creation and the creation event instead of now.
    pub fn at(mut self, timestamp: &str) -> Self {
        self.inst.creation_timestamp = timestamp.into();
        if let Some(first) = self.inst.security.audit_trail.first_mut() {
            first.timestamp = timestamp.into();
        }
        self
    }

    pub fn safety_level(mut self, level: SafetyLevel) -> Self {
        self.inst.security.safety_level = level;
        self
    }

    /// Process/memory isolation and resource limits (cpu seconds, memory MiB, time ms).
    pub fn isolation(mut self, iso: IsolationRequirements) -> Self {
        self.inst.security.isolation_requirements = iso;
        self
    }

    /// Sets the resource limits, keeping isolation flags as they are.
    pub fn limits(mut self, cpu_s: f64, memory_mib: f64, time_ms: f64, network: bool, fs: Filesystem) -> Self {
        let rl = &mut self.inst.security.isolation_requirements.resource_limits;
        rl.cpu = quantity(cpu_s);
        rl.memory = quantity(memory_mib);
        rl.time = quantity(time_ms);
        rl.network = network;
        rl.filesystem = fs;
        self
    }

    pub fn platform(mut self, platform: impl Into<String>, runtime_version: impl Into<String>) -> Self {
        self.inst.execution.target_environment.platform = platform.into();
        self.inst.execution.target_environment.runtime_version = runtime_version.into();
        self
    }

    pub fn complexity(mut self, time: impl Into<String>, space: impl Into<String>) -> Self {
        self.inst.execution.resource_requirements.time_complexity = time.into();
        self.inst.execution.resource_requirements.space_complexity = space.into();
        self
    }

    pub fn requirement(
        mut self,
        description: impl Into<String>,
        kind: RequirementType,
        priority: Priority,
        approach: impl Into<String>,
    ) -> Self {
        let id = format!("REQ-{}", self.inst.intent.requirements.len() + 1);
        self.inst.intent.requirements.push(Requirement {
            id,
            description: description.into(),
            kind,
            priority,
            verification_approach: approach.into(),
            extra: Map::new(),
        });
        self
    }

    pub fn constraint(mut self, description: impl Into<String>, kind: ConstraintType, level: EnforcementLevel) -> Self {
        let id = format!("CON-{}", self.inst.intent.constraints.len() + 1);
        self.inst.intent.constraints.push(Constraint {
            id,
            description: description.into(),
            kind,
            enforcement_level: level,
            extra: Map::new(),
        });
        self
    }

    /// Adds an entity; without an explicit id it gets `ENT-<n>`.
    pub fn entity(mut self, facts: EntityFacts) -> Self {
        let id = facts.id.unwrap_or_else(|| format!("ENT-{}", self.inst.semantics.entities.len() + 1));
        self.inst.semantics.entities.push(Entity {
            id,
            name: facts.name,
            kind: facts.kind,
            properties: facts.properties,
            security_properties: SecurityProperties {
                memory_safe: facts.memory_safe,
                type_safe: facts.type_safe,
                resource_bounded: facts.resource_bounded,
                formal_guarantees: facts.guarantees,
                extra: Map::new(),
            },
            extra: Map::new(),
        });
        self
    }

    pub fn relationship(mut self, source_id: &str, target_id: &str, kind: &str, flow: InformationFlow) -> Self {
        self.inst.semantics.relationships.push(Relationship {
            source_id: source_id.into(),
            target_id: target_id.into(),
            kind: kind.into(),
            properties: Map::new(),
            security_implications: SecurityImplications {
                information_flow: flow,
                privilege_escalation_risk: false,
                resource_sharing: false,
                extra: Map::new(),
            },
            extra: Map::new(),
        });
        self
    }

    /// Adds an invariant and returns the builder; its id is `INV-<n>`.
    pub fn invariant(
        mut self,
        description: impl Into<String>,
        formal: impl Into<String>,
        security_relevant: bool,
    ) -> Self {
        let id = format!("INV-{}", self.inst.semantics.invariants.len() + 1);
        self.inst.semantics.invariants.push(Invariant {
            id,
            description: description.into(),
            formal_representation: formal.into(),
            security_relevance: security_relevant,
            extra: Map::new(),
        });
        self
    }

    pub fn contract(
        mut self,
        description: impl Into<String>,
        pre: Vec<String>,
        post: Vec<String>,
        invariant_ids: Vec<String>,
    ) -> Self {
        let id = format!("SEC-{}", self.inst.semantics.security_contracts.len() + 1);
        self.inst.semantics.security_contracts.push(SecurityContract {
            id,
            description: description.into(),
            preconditions: pre,
            postconditions: post,
            invariants: invariant_ids,
            extra: Map::new(),
        });
        self
    }

    pub fn dependency(mut self, id: impl Into<String>, version: impl Into<String>, compatible: bool) -> Self {
        self.inst.dependencies.push(Dependency {
            id: id.into(),
            version: version.into(),
            security_compatibility: compatible,
            extra: Map::new(),
        });
        self
    }

    /// Replaces the default mechanisms with explicit ones on first use.
    fn take_mechanisms(&mut self) {
        if !self.explicit_mechanisms {
            self.explicit_mechanisms = true;
            let se = &mut self.inst.execution.security_enforcement;
            se.memory_safety_mechanisms.clear();
            se.sandboxing_mechanisms.clear();
        }
    }

    /// Declares a memory-safety mechanism (the first call replaces the defaults).
    pub fn memory_mechanism(mut self, m: MemoryMechanism, scope: MemoryScope, at: EnforcementPoint) -> Self {
        self.take_mechanisms();
        self.inst.execution.security_enforcement.memory_safety_mechanisms.push(MemorySafetyMechanism {
            mechanism: m,
            scope,
            enforcement_point: at,
            extra: Map::new(),
        });
        self
    }

    /// Declares a sandboxing mechanism (the first call replaces the defaults).
    pub fn sandbox_mechanism(mut self, m: SandboxMechanism, scope: SandboxScope, at: EnforcementPoint) -> Self {
        self.take_mechanisms();
        self.inst.execution.security_enforcement.sandboxing_mechanisms.push(SandboxingMechanism {
            mechanism: m,
            scope,
            enforcement_point: at,
            extra: Map::new(),
        });
        self
    }

    /// Records an approved override in all three layers and the audit trail.
    pub fn override_with(mut self, o: OverrideFacts) -> Self {
        let s = &mut self.inst.security;
        s.override_status = true;
        s.override_justification = Some(o.justification.clone());
        s.override_approval = OverrideApproval {
            approver_id: Some(o.approver_id.clone()),
            approval_timestamp: Some(o.approval_timestamp.clone()),
            approval_context: Some(o.approval_context.clone()),
            extra: Map::new(),
        };
        s.audit_trail.push(AuditEvent {
            event_type: AuditEventType::Override,
            timestamp: o.approval_timestamp.clone(),
            actor_id: o.approver_id,
            description: format!("override approved ({}): {}", o.approval_context, o.justification),
            extra: Map::new(),
        });
        let oi = &mut self.inst.intent.security_intentions.override_intention;
        oi.allowed = true;
        oi.conditions = o.conditions;
        oi.justification = Some(o.justification);
        let om = &mut self.inst.execution.security_enforcement.override_mechanisms;
        om.enabled = true;
        om.scope = o.scope;
        self
    }

    /// Records a verification run and its results.
    pub fn verified(
        mut self,
        method: impl Into<String>,
        timestamp: impl Into<String>,
        results: Map<String, Value>,
    ) -> Self {
        let method = method.into();
        let timestamp = timestamp.into();
        self.inst.security.audit_trail.push(AuditEvent {
            event_type: AuditEventType::Verification,
            timestamp: timestamp.clone(),
            actor_id: self.inst.creator_id.clone(),
            description: format!("verified by {method}"),
            extra: Map::new(),
        });
        self.inst.verification_status = VerificationStatus {
            verified: true,
            verification_timestamp: Some(timestamp),
            verification_method: Some(method),
            verification_results: Some(results),
            extra: Map::new(),
        };
        self
    }

    /// Appends an audit event.
    pub fn audit(mut self, kind: AuditEventType, timestamp: &str, actor: &str, description: &str) -> Self {
        self.inst.security.audit_trail.push(AuditEvent {
            event_type: kind,
            timestamp: timestamp.into(),
            actor_id: actor.into(),
            description: description.into(),
            extra: Map::new(),
        });
        self
    }

    /// A mutable view for anything the methods do not cover.
    pub fn instance_mut(&mut self) -> &mut Anrf {
        &mut self.inst
    }

    /// The instance as built, valid or not.
    pub fn build(self) -> Anrf {
        self.inst
    }

    /// The instance, if it passes every validation rule; otherwise the validator's report.
    pub fn build_validated(self) -> Result<Anrf, Report> {
        let value = serde_json::to_value(&self.inst).unwrap_or(Value::Null);
        let report = validate(&value);
        if report.is_valid() { Ok(self.inst) } else { Err(report) }
    }
}
