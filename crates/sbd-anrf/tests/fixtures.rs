//! Every rule has a fixture that breaks exactly that rule, reported at the right pointer; the
//! valid fixtures (including the minimal instance of the ANRF page) validate.
mod common;

use std::collections::BTreeSet;

use sbd_anrf::{Anrf, Rule, validate};
use serde_json::Value;

#[test]
fn minimal_instance_from_the_format_page_validates() {
    let page = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/docs/anrf-1.1.md");
    let fixture = common::load("valid/minimal.json");
    assert!(validate(&fixture).is_valid(), "{:#?}", validate(&fixture));
    match std::fs::read_to_string(&page) {
        Ok(doc) => {
            let start = doc.find("```json").expect("the page has a JSON block") + "```json".len();
            let end = start + doc[start..].find("```").expect("closed block");
            let from_page: Value = serde_json::from_str(&doc[start..end]).unwrap();
            assert_eq!(from_page, fixture, "fixtures/valid/minimal.json must equal the page's minimal instance");
        }
        Err(_) => eprintln!("skipping the comparison with the format page: {} is absent", page.display()),
    }
}

#[test]
fn valid_fixtures_validate_and_deserialise() {
    for name in common::valid_fixture_names() {
        let v = common::load(&format!("valid/{name}"));
        let report = validate(&v);
        assert!(report.is_valid(), "{name}: {report:#?}");
        let typed: Anrf = serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(serde_json::to_value(&typed).unwrap(), v, "{name}: typed round trip changed the data");
    }
}

#[test]
fn each_invalid_fixture_breaks_exactly_its_rule_at_its_pointer() {
    for (file, rule, pointer) in common::expected_invalid() {
        let v = common::load(&format!("invalid/{file}"));
        let report = validate(&v);
        let rule = Rule::from_id(&rule).unwrap_or_else(|| panic!("{file}: unknown rule {rule}"));
        let ids: BTreeSet<Rule> = report.violations.iter().map(|x| x.rule).collect();
        // S4 is about an override that C5/C6 already find incomplete: it never comes alone.
        let expected: BTreeSet<Rule> =
            if rule == Rule::S4 { [Rule::S4, Rule::C6].into_iter().collect() } else { [rule].into_iter().collect() };
        assert_eq!(ids, expected, "{file}: {report:#?}");
        assert!(
            report.violations.iter().any(|x| x.rule == rule && x.pointer == pointer),
            "{file}: no {rule} at {pointer:?}: {report:#?}"
        );
        for x in &report.violations {
            assert!(!x.message.is_empty() && !x.hint.is_empty(), "{file}: empty message or hint");
            assert!(
                v.pointer(&x.pointer).is_some() || x.message.starts_with("missing"),
                "{file}: {} does not resolve",
                x.pointer
            );
        }
    }
}

#[test]
fn every_rule_has_a_fixture() {
    let covered: BTreeSet<String> = common::expected_invalid().into_iter().map(|(_, r, _)| r).collect();
    for rule in Rule::ALL {
        assert!(covered.contains(rule.id()), "rule {rule} has no invalid fixture");
    }
}

#[test]
fn all_violations_are_reported_not_just_the_first() {
    let mut v = common::load("valid/minimal.json");
    v["security"]["safety_level"] = Value::from("Sometimes");
    v["intent"]["requirements"][0]["type"] = Value::from("Functional");
    v["execution"]["security_enforcement"]["sandboxing_mechanisms"] = Value::Array(vec![]);
    v["creation_timestamp"] = Value::from(42);
    let rules = validate(&v).rules();
    assert_eq!(rules, vec![Rule::C3, Rule::C7, Rule::I4, Rule::E4]);
}

#[test]
fn wrong_types_everywhere_give_precise_errors_without_panicking() {
    let minimal = common::load("valid/minimal.json");
    // Replace every leaf and container in turn with each JSON type.
    let mut pointers = Vec::new();
    collect_pointers(&minimal, String::new(), &mut pointers);
    let replacements = [
        Value::Null,
        Value::from(true),
        Value::from(-3.5),
        Value::from("x"),
        Value::Array(vec![]),
        serde_json::json!({}),
    ];
    let mut checked = 0;
    for ptr in &pointers {
        for r in &replacements {
            let mut v = minimal.clone();
            *v.pointer_mut(ptr).unwrap() = r.clone();
            let report = validate(&v);
            if v == minimal {
                continue;
            }
            checked += 1;
            for x in &report.violations {
                assert!(x.pointer.starts_with('/') || x.pointer.is_empty());
            }
        }
    }
    assert!(checked > 300, "{checked}");
}

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if !at.is_empty() {
        out.push(at.clone());
    }
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| collect_pointers(c, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| collect_pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

#[test]
fn pointers_are_escaped() {
    let mut v = common::load("valid/minimal.json");
    v["semantics"]["entities"][0]["properties"] = serde_json::json!({"a/b": 1});
    assert!(validate(&v).is_valid());
    assert_eq!(sbd_anrf::validate::push_pointer("/x", "a/b~c"), "/x/a~1b~0c");
}
