//! The generated JSON Schema agrees with the validator on structure.
mod common;

use sbd_anrf::{Rule, json_schema};

/// Rules that are about structure (presence, types, enums, timestamps): the schema must reject
/// their fixtures. The others are semantic or cross-layer: the schema accepts those fixtures
/// and only the validator catches them.
const STRUCTURAL: &[Rule] = &[
    Rule::C0,
    Rule::C1,
    Rule::C2,
    Rule::C3,
    Rule::C4,
    Rule::C7,
    Rule::I1,
    Rule::I2,
    Rule::S1,
    Rule::S2,
    Rule::E1,
    Rule::E2,
];

fn validator() -> jsonschema::Validator {
    let schema = json_schema();
    assert!(jsonschema::meta::is_valid(&schema), "the schema is not a valid JSON Schema");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

#[test]
fn schema_accepts_valid_fixtures() {
    let v = validator();
    for name in common::valid_fixture_names() {
        let inst = common::load(&format!("valid/{name}"));
        let errors: Vec<String> = v.iter_errors(&inst).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

#[test]
fn schema_rejects_structural_fixtures_and_accepts_semantic_ones() {
    let v = validator();
    for (file, rule, _) in common::expected_invalid() {
        let inst = common::load(&format!("invalid/{file}"));
        let rule = Rule::from_id(&rule).unwrap();
        if STRUCTURAL.contains(&rule) {
            assert!(!v.is_valid(&inst), "{file}: the schema accepted a structural violation of {rule}");
        } else {
            assert!(v.is_valid(&inst), "{file}: the schema rejected an instance that is structurally sound");
        }
    }
}

#[test]
fn schema_declares_every_enum_value_of_the_format() {
    let text = serde_json::to_string(&json_schema()).unwrap();
    for value in [
        "MemorySafe",
        "ResourceBounded",
        "ReadWrite",
        "Verification",
        "Reliability",
        "DataIsolation",
        "Unrestricted",
        "GarbageCollection",
        "CapabilityModel",
        "JIT",
        "ApprovalRequired",
        "LogOnly",
        "Block",
        "Module",
    ] {
        assert!(text.contains(&format!("\"{value}\"")), "{value} missing from the schema");
    }
}
