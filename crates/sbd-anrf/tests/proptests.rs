//! Property tests: built instances validate and round-trip; mutations never panic.
use proptest::prelude::*;
use sbd_anrf::builder::{EntityFacts, InstanceBuilder, OverrideFacts};
use sbd_anrf::model::*;
use sbd_anrf::{Anrf, validate};
use serde_json::Value;

fn name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,12}"
}

fn text() -> impl Strategy<Value = String> {
    "[ -~]{1,40}"
}

prop_compose! {
    fn entity()(n in name(), kind in prop::sample::select(vec!["Function", "Struct", "Module"]), ts in any::<bool>(),
                desc in text(), extra in prop::option::of(0u32..1000)) -> EntityFacts {
        let mut e = EntityFacts::new(n, kind).type_safe(true).resource_bounded(true)
            .guarantee(PropertyType::MemorySafety, desc, "static analysis");
        if ts { e = e.guarantee(PropertyType::TypeSafety, "well typed", "type checker"); }
        if let Some(x) = extra { e = e.property("lines", Value::from(x)); }
        e
    }
}

prop_compose! {
    fn instance()(desc in text(), ents in prop::collection::vec(entity(), 1..5), unsafe_idx in prop::option::of(0usize..5),
                  with_override in any::<bool>(), level in prop::sample::select(SafetyLevel::ALL.to_vec()),
                  cpu in 1u32..64, mem in 1u32..65536, net in any::<bool>(), fs in prop::sample::select(Filesystem::ALL.to_vec()),
                  verified in any::<bool>(), invariants in 0usize..3, deps in prop::collection::vec((name(), "[0-9]\\.[0-9]{1,2}"), 0..3))
                  -> Anrf {
        let mut b = InstanceBuilder::new("proptest", desc).at("2026-01-01T00:00:00Z").safety_level(level)
            .limits(f64::from(cpu), f64::from(mem), 1000.0, net, fs);
        let n = ents.len();
        for (i, e) in ents.into_iter().enumerate() {
            let unsafe_here = with_override && unsafe_idx.map(|u| u % n) == Some(i);
            b = b.entity(if unsafe_here { e.memory_safe(false) } else { e });
        }
        for i in 0..invariants {
            b = b.invariant(format!("invariant {i}"), "true", true);
        }
        if invariants > 0 {
            b = b.contract("keeps invariants", vec!["pre".into()], vec!["post".into()], vec!["INV-1".into()]);
        }
        if n > 1 { b = b.relationship("ENT-1", "ENT-2", "calls", InformationFlow::Controlled); }
        for (d, v) in deps { b = b.dependency(d, v, true); }
        if with_override {
            b = b.override_with(OverrideFacts { justification: "FFI into a C codec".into(), approver_id: "sec/alice".into(),
                approval_timestamp: "2026-02-01T00:00:00Z".into(), approval_context: "SEC-1".into(), conditions: None, scope: OverrideScope::Function });
        }
        if verified {
            let mut results = serde_json::Map::new();
            results.insert("findings".into(), Value::from(0));
            b = b.verified("sbd-scan", "2026-01-01T00:00:01Z", results);
        }
        b.build()
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove(usize),
    Replace(usize, Value),
    Wrap(usize),
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        Just(Value::Array(vec![])),
        Just(serde_json::json!({})),
        Just(Value::from("2026-02-30T00:00:00Z")),
        Just(Value::from("ENT-1")),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), json_leaf()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        any::<usize>().prop_map(Mutation::Wrap),
    ]
}

fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| pointers(c, format!("{at}/{k}"), out)),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

fn apply(v: &mut Value, m: &Mutation) {
    let mut ps = Vec::new();
    pointers(v, String::new(), &mut ps);
    match m {
        Mutation::Remove(i) => {
            let p = &ps[i % ps.len()];
            if let Some((parent, key)) = p.rsplit_once('/') {
                match v.pointer_mut(parent) {
                    Some(Value::Object(o)) => {
                        o.remove(key);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(idx) = key.parse::<usize>()
                            && idx < a.len()
                        {
                            a.remove(idx);
                        }
                    }
                    _ => {}
                }
            }
        }
        Mutation::Replace(i, new) => {
            if let Some(slot) = v.pointer_mut(&ps[i % ps.len()]) {
                *slot = new.clone();
            }
        }
        Mutation::Wrap(i) => {
            if let Some(slot) = v.pointer_mut(&ps[i % ps.len()]) {
                *slot = Value::Array(vec![slot.take()]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn built_instances_validate_and_round_trip(inst in instance()) {
        let v = serde_json::to_value(&inst).unwrap();
        let report = validate(&v);
        prop_assert!(report.is_valid(), "{:#?}", report);
        let text = serde_json::to_string(&inst).unwrap();
        let back: Anrf = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &inst);
        let back_value: Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back_value, v);
    }

    #[test]
    fn mutations_never_panic_and_point_into_the_instance(inst in instance(), muts in prop::collection::vec(mutation(), 1..6)) {
        let mut v = serde_json::to_value(&inst).unwrap();
        for m in &muts { apply(&mut v, m); }
        let report = validate(&v);
        for x in &report.violations {
            // A pointer names the offending value, or for a missing field, a place in an existing parent.
            let resolves = v.pointer(&x.pointer).is_some()
                || x.pointer.rsplit_once('/').is_some_and(|(parent, _)| v.pointer(parent).is_some());
            prop_assert!(resolves, "{} does not resolve", x.pointer);
        }
        // Whatever still validates also deserialises into the typed model.
        if report.is_valid() {
            prop_assert!(serde_json::from_value::<Anrf>(v).is_ok());
        }
    }
}
