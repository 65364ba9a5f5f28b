//! The JSON Schema (draft 2020-12) of ANRF 1.1.0, generated from the same structure tree the
//! validator uses. It covers structure — required fields, types, enum values, timestamps,
//! non-negative quantities — and leaves the semantic and cross-layer rules (C5, C6, I3, I4,
//! S3–S5, E3–E5, X1–X4, R1–R3) to the validator, which a schema cannot express well.

use serde_json::{Map, Value, json};

use crate::ANRF_VERSION;
use crate::shape::{self, Field, Kind};

/// The schema as a JSON value.
pub fn json_schema() -> Value {
    let mut root = object_schema(shape::root());
    if let Value::Object(map) = &mut root {
        if let Some(Value::Object(props)) = map.get_mut("properties") {
            let mut with_version = Map::new();
            with_version.insert(
                "anrf_version".into(),
                json!({"type": "string", "const": ANRF_VERSION, "description": "C1: the ANRF version"}),
            );
            with_version.extend(std::mem::take(props));
            *props = with_version;
        }
        if let Some(Value::Array(req)) = map.get_mut("required") {
            req.insert(0, Value::from("anrf_version"));
        }
        let mut out = Map::new();
        out.insert("$schema".into(), "https://json-schema.org/draft/2020-12/schema".into());
        out.insert("$id".into(), format!("urn:sbd:anrf:{ANRF_VERSION}").into());
        out.insert("title".into(), format!("ANRF {ANRF_VERSION} instance").into());
        out.insert(
            "description".into(),
            "Structure of an ANRF 1.1.0 instance. Semantic and cross-layer rules are checked by `sbd anrf validate`."
                .into(),
        );
        out.extend(std::mem::take(map));
        return Value::Object(out);
    }
    root
}

fn object_schema(fields: &[Field]) -> Value {
    let mut props = Map::new();
    for field in fields {
        let mut s = kind_schema(&field.kind);
        if let Value::Object(m) = &mut s {
            m.insert("description".into(), format!("{}: {}", field.rule.id(), field.rule.title()).into());
        }
        props.insert(field.name.into(), s);
    }
    let required: Vec<Value> = fields.iter().map(|f| Value::from(f.name)).collect();
    json!({"type": "object", "required": required, "properties": props})
}

fn kind_schema(kind: &Kind) -> Value {
    match kind {
        Kind::String => json!({"type": "string"}),
        Kind::NullableString => json!({"type": ["string", "null"]}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Quantity => json!({"type": "number", "minimum": 0}),
        Kind::Enum(values) => json!({"type": "string", "enum": values}),
        Kind::Timestamp => json!({"type": "string", "format": "date-time"}),
        Kind::NullableTimestamp => json!({"type": ["string", "null"], "format": "date-time"}),
        Kind::Object(fields) => object_schema(fields),
        Kind::AnyObject => json!({"type": "object"}),
        Kind::NullableAnyObject => json!({"type": ["object", "null"]}),
        Kind::Array(item) => json!({"type": "array", "items": kind_schema(item)}),
    }
}
