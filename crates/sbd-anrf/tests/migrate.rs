//! Migration of pre-1.1 instances.
mod common;

use sbd_anrf::migrate::{IsolationHints, MigrateOptions, migrate};
use sbd_anrf::{Rule, validate};
use serde_json::{Value, json};

fn opts() -> MigrateOptions {
    MigrateOptions { now: "2026-11-25T00:00:00Z".into(), actor: "test".into(), hints: IsolationHints::default() }
}

#[test]
fn v1_0_instance_migrates_to_a_valid_1_1_instance() {
    let old = common::load("migrate/v1.0-download.json");
    assert!(!validate(&old).is_valid());
    let m = migrate(old.clone(), &opts()).unwrap();
    assert!(m.changed);
    assert_eq!(m.from_version.as_deref(), Some("1.0.0"));
    assert!(m.remaining.is_valid(), "{:#?}", m.remaining);
    assert!(validate(&m.instance).is_valid());
    assert_eq!(m.instance["anrf_version"], "1.1.0");
    // The unit downloads over HTTP and saves a file: network and read-write inferred.
    let limits = &m.instance["security"]["isolation_requirements"]["resource_limits"];
    assert_eq!(limits["network"], true);
    assert_eq!(limits["filesystem"], "ReadWrite");
    assert_eq!(limits["memory"], 256);
    // A Modification event is the last audit entry.
    let trail = m.instance["security"]["audit_trail"].as_array().unwrap();
    assert_eq!(trail.last().unwrap()["event_type"], "Modification");
    assert_eq!(trail.last().unwrap()["timestamp"], "2026-11-25T00:00:00Z");
    assert!(!m.inferred.is_empty() && m.inferred.iter().all(|i| !i.reason.is_empty()));
}

#[test]
fn unknown_fields_and_existing_values_survive() {
    let old = common::load("migrate/v1.0-download.json");
    let m = migrate(old.clone(), &opts()).unwrap();
    assert_eq!(m.instance["x_custom_top"], json!({"keep": "me"}));
    assert_eq!(m.instance["intent"]["x_legacy_ticket"], "OPS-77");
    assert_eq!(m.instance["intent"]["requirements"][0], old["intent"]["requirements"][0]);
    assert_eq!(m.instance["execution"]["resource_requirements"], old["execution"]["resource_requirements"]);
    assert_eq!(m.instance["semantics"]["entities"][0]["properties"], json!({"pure": false}));
}

#[test]
fn migrating_twice_changes_nothing() {
    let old = common::load("migrate/v1.0-download.json");
    let once = migrate(old, &opts()).unwrap();
    let later = MigrateOptions { now: "2027-01-01T00:00:00Z".into(), ..opts() };
    let twice = migrate(once.instance.clone(), &later).unwrap();
    assert!(!twice.changed);
    assert!(twice.inferred.is_empty());
    assert_eq!(twice.instance, once.instance);
    // And a valid 1.1.0 instance is untouched.
    let minimal = common::load("valid/minimal.json");
    let m = migrate(minimal.clone(), &opts()).unwrap();
    assert!(!m.changed);
    assert_eq!(m.instance, minimal);
}

#[test]
fn caller_facts_win_over_text_inference() {
    let old = common::load("migrate/v1.0-download.json");
    let o =
        MigrateOptions { hints: IsolationHints { network: Some(false), filesystem: Some("None".into()) }, ..opts() };
    let m = migrate(old, &o).unwrap();
    let limits = &m.instance["security"]["isolation_requirements"]["resource_limits"];
    assert_eq!(limits["network"], false);
    assert_eq!(limits["filesystem"], "None");
}

#[test]
fn an_unsafe_entity_is_left_for_a_human_override() {
    let mut old = common::load("migrate/v1.0-download.json");
    old["semantics"]["entities"][1]["properties"] = json!({"unsafe": true});
    let m = migrate(old, &opts()).unwrap();
    assert_eq!(m.remaining.rules(), vec![Rule::S3]);
    assert_eq!(m.instance["security"]["override_status"], false, "migration never invents an override");
}

#[test]
fn unversioned_and_bare_instances_migrate() {
    let m = migrate(json!({"intent": {"description": "parse a config file"}}), &opts()).unwrap();
    assert_eq!(m.from_version, None);
    // No entity means no formal guarantee can be stated: that is what remains.
    assert_eq!(m.remaining.rules(), vec![Rule::S5]);
    assert_eq!(m.instance["security"]["isolation_requirements"]["resource_limits"]["filesystem"], "ReadOnly");
}

#[test]
fn refuses_what_it_cannot_migrate() {
    assert!(migrate(json!([1, 2]), &opts()).is_err());
    assert!(migrate(json!({"anrf_version": "2.0.0"}), &opts()).is_err());
    assert!(migrate(Value::Null, &opts()).is_err());
}
