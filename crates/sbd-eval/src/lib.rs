//! Evaluation.
//!
//! [`accuracy`] measures a detector — the project's verifier or a peer tool (Bandit, cppcheck,
//! flawfinder, Meta's Insecure Code Detector) — on labelled code: precision, recall and F1 per
//! language and CWE, and for vulnerable/fixed pairs the pair accuracy and the false-positive
//! rate on fixed versions. Every detector sees exactly the same samples.
//!
//! The model evaluation is a pipeline of small modules:
//! [`suite`] (tasks: the four embedded suites, JSONL and CyberSecEval importers) →
//! [`backend`] (where answers come from: replay, references) →
//! [`oracle`] (verifier, sandbox, override and functional-test oracles per answer) →
//! [`run`] (a suite against a backend, verify-and-repair, resumable run directories) →
//! [`metrics`] (SCR, secure-pass@k, MSS, SER, OHQ, SPB, SUB, SEQ, SDC, SOR, SIR with 95%
//! intervals) → [`gate`] (the success criteria as an editable TOML policy, JUnit XML) and
//! [`history`] (SQLite: runs, per-task results, metrics over time).
#![forbid(unsafe_code)]

pub mod accuracy;
pub mod backend;
pub mod gate;
pub mod history;
pub mod metrics;
pub mod monitor;
pub mod oracle;
pub mod report;
pub mod run;
pub mod selfcheck;
pub mod suite;
