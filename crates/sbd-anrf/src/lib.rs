//! ANRF 1.1.0 — the metadata every training example and every generated program carries.
//!
//! ANRF describes one unit of code in three linked layers (intent, semantics, execution) plus
//! a common block; since 1.1.0 security metadata is mandatory: a unit is memory safe and
//! sandboxed unless an explicit, justified, approved override says otherwise.
//!
//! This crate is the project's one implementation of the format:
//!
//! - [`model`]: the typed serde model. Unknown fields are kept and written back, and numbers
//!   stay JSON numbers, so parse → serialise never loses data.
//! - [`validate()`]: every rule (C0–C7, I1–I4, S1–S5, E1–E5, X1–X4, R1–R3, see [`Rule`]) on
//!   arbitrary JSON, reporting all violations with a JSON Pointer, a message and a hint.
//! - [`migrate()`]: upgrades pre-1.1 instances, idempotently, keeping unknown fields and
//!   recording a `Modification` audit event.
//! - [`json_schema()`]: a draft 2020-12 JSON Schema generated from the same structure tree as
//!   the validator, so the two agree on structure.
//! - [`builder`]: produce valid instances from facts (used by the verifier and data pipeline).
//! - [`input`]: read untrusted JSON under size and depth limits.
//! - [`extract`]: find the instance a model put into its answer (a fenced `json`/`anrf` block).
#![forbid(unsafe_code)]

pub mod builder;
pub mod extract;
pub mod input;
pub mod migrate;
pub mod model;
pub mod rules;
pub mod schema;
mod shape;
pub mod time;
pub mod validate;

pub use migrate::{MigrateOptions, Migration, migrate};
pub use model::Anrf;
pub use rules::Rule;
pub use schema::json_schema;
pub use validate::{Report, Violation, validate};

/// The ANRF version this crate reads, writes and validates.
pub const ANRF_VERSION: &str = "1.1.0";

/// Errors reading, parsing or migrating an instance.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "input is larger than the limit of {limit} bytes; raise the limit (--max-bytes) if the file is really one instance"
    )]
    TooLarge { limit: u64 },
    #[error(
        "input nests arrays/objects deeper than {limit} levels (byte {offset}); a valid instance nests about 8 deep — raise --max-depth (at most 127) only for deep user data"
    )]
    TooDeep { limit: usize, offset: usize },
    #[error("input is empty; expected one ANRF JSON object")]
    Empty,
    #[error("input is not UTF-8 text (invalid byte at offset {offset}); ANRF instances are JSON")]
    NotUtf8 { offset: usize },
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("{0}")]
    BadLimit(String),
    #[error("cannot migrate: {0}")]
    Migrate(String),
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Parses `bytes` under `limits` and validates the result.
pub fn validate_bytes(bytes: &[u8], limits: &input::Limits) -> Result<Report, Error> {
    let value = input::parse_json(bytes, limits)?;
    Ok(validate(&value))
}
