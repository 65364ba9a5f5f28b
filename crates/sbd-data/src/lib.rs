//! Security-labelled code for training and evaluation.
//!
//! This crate reads the public vulnerability data the project builds on and turns every
//! record into the same shape, a [`sources::Sample`]: code, language, origin, and the label
//! (vulnerable or fixed, the CWE, the flagged line where known, the pair it belongs to).
//!
//! Readers ([`sources`]):
//! - CyberSecEval instruct/autocomplete JSON — insecure code with the labelled line and CWE;
//! - SVEN and SafeCoder JSONL — vulnerable/fixed function pairs from real CVE fixes;
//! - a generic labelled JSONL so users can bring their own data;
//! - the RustSec advisory database — vulnerability records with affected functions.
//!
//! Every reader names the file and line of a bad record and skips nothing silently: records
//! it cannot use are counted in [`sources::LoadReport`] with the reason.
#![forbid(unsafe_code)]

pub mod lang;
pub mod sources;

/// Errors reading a source.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Record { path: String, line: usize, message: String },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}
