//! The validation rules, each with a stable id.
//!
//! The ids C1–C6, I1–I4, S1–S5, E1–E5 and X1–X4 are the ones the ANRF 1.1.0 page names. The
//! page also requires a well-formed document, the remaining common-block fields and reference
//! integrity without giving them ids; sbd gives them C0, C7 and R1–R3. Ids are never reused.

use std::fmt;

use serde::{Serialize, Serializer};

macro_rules! rules {
    ($( $variant:ident = $id:literal, $title:literal; )*) => {
        /// A validation rule of ANRF 1.1.0.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Rule { $( $variant, )* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )* ];

            /// The stable id, e.g. `"C5"`.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )* }
            }

            /// One line saying what the rule requires.
            pub fn title(self) -> &'static str {
                match self { $( Rule::$variant => $title, )* }
            }

            /// The rule with this id (case-insensitive).
            pub fn from_id(id: &str) -> Option<Rule> {
                let id = id.trim().to_ascii_uppercase();
                Rule::ALL.iter().copied().find(|r| r.id() == id)
            }
        }
    };
}

rules! {
    C0 = "C0", "the instance is a JSON object";
    C1 = "C1", "`anrf_version` is present and a known version (1.1.0)";
    C2 = "C2", "`security` is present with every field, each well-formed";
    C3 = "C3", "`security.safety_level` is MemorySafe, TypeSafe or ResourceBounded";
    C4 = "C4", "`security.isolation_requirements` is present and well-formed";
    C5 = "C5", "an override (`override_status: true`) has a non-empty `override_justification`";
    C6 = "C6", "an override has `override_approval` fully filled (approver, RFC 3339 timestamp, context)";
    C7 = "C7", "`creation_timestamp`, `creator_id`, `dependencies` and `verification_status` are present and well-formed";
    I1 = "I1", "`intent` is present and complete";
    I2 = "I2", "`intent.security_intentions` is present and complete";
    I3 = "I3", "`override_intention.allowed` requires a non-empty `override_intention.justification`";
    I4 = "I4", "`intent.requirements` holds at least one requirement of type Security";
    S1 = "S1", "`semantics` is present and complete";
    S2 = "S2", "every entity has well-formed `security_properties`";
    S3 = "S3", "entities are memory safe by default: `memory_safe: false` needs an override";
    S4 = "S4", "an entity with `memory_safe: false` is valid only under an effective override (justified and approved)";
    S5 = "S5", "the semantic layer holds at least one formal guarantee";
    E1 = "E1", "`execution` is present and complete";
    E2 = "E2", "`execution.security_enforcement` is present and complete";
    E3 = "E3", "at least one memory-safety mechanism";
    E4 = "E4", "at least one sandboxing mechanism";
    E5 = "E5", "`override_mechanisms.enabled` equals the common `override_status`";
    X1 = "X1", "security properties agree across layers (intent, safety level, entities)";
    X2 = "X2", "override status agrees in all three layers";
    X3 = "X3", "enforcement mechanisms match the declared isolation and resource properties";
    X4 = "X4", "`verification_status` agrees with the properties it claims";
    R1 = "R1", "ids are unique";
    R2 = "R2", "relationship endpoints name existing entities";
    R3 = "R3", "security-contract invariants name existing invariants";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}
