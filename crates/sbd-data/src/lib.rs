//! Security-annotated, ANRF-carrying training datasets.
//!
//! The pipeline reads like its folders:
//! 1. [`sources`] and [`seed`] — labelled public datasets (CyberSecEval, SVEN/SafeCoder,
//!    labelled JSONL, RustSec) and the seed corpus of secure/insecure pairs written here;
//!    plus advisories (RustSec, OSV) whose crates.io fixes are fetched with cargo, and
//!    security fixes mined from git history, both as before/after function pairs;
//! 2. [`units`] — code from directory trees and git repositories, cut into function-level
//!    units with the verifier's tree-sitter grammars, origin (repository, commit, path,
//!    licence) kept;
//! 3. [`annotate`] — the verifier's findings, facts and properties, token-level security tags
//!    as character spans, explanations from the rules' documentation, a validated ANRF 1.1.0
//!    instance;
//! 4. [`variants`] — override scenarios, synthetic mutants confirmed by the verifier,
//!    obfuscating mutants and the verifier blind-spot report;
//! 5. [`quality`] — gates (parse, re-verification, consistency, exact and near-duplicate
//!    removal, secret redaction, length bounds), each counting what it removed;
//! 6. [`split`] — group-aware, deterministic splits, and [`balance`] — stratified
//!    resampling toward configured shares;
//! 7. [`output`] — zstd Parquet shards, `manifest.json`, `stats.json`, a dataset card, and the
//!    SFT/DPO/RL exports;
//! 8. [`pipeline`] — the resumable, shardable build that ties them together; [`chunk`] is its
//!    work-folder format.
//!
//! Every reader names the file and line of a bad record and skips nothing silently.
#![forbid(unsafe_code)]

pub mod annotate;
pub mod balance;
pub mod chunk;
pub mod cwe;
pub mod lang;
pub mod output;
pub mod pipeline;
pub mod quality;
pub mod record;
pub mod seed;
pub mod sources;
pub mod split;
pub mod units;
pub mod variants;

/// Errors reading a source or writing a dataset.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Record { path: String, line: usize, message: String },
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("{0}")]
    Config(String),
    #[error("{path}: parquet: {message}")]
    Parquet { path: String, message: String },
    #[error("the verifier failed to load: {0}")]
    Scanner(String),
    #[error("interrupted after {0} chunks (resume by running the same build again)")]
    Interrupted(usize),
}

impl Error {
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
}
