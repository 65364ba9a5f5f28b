//! Evaluation.
//!
//! [`accuracy`] measures a detector — the project's verifier or a peer tool (Bandit, cppcheck,
//! flawfinder, Meta's Insecure Code Detector) — on labelled code: precision, recall and F1 per
//! language and CWE, and for vulnerable/fixed pairs the pair accuracy and the false-positive
//! rate on fixed versions. Every detector sees exactly the same samples.
#![forbid(unsafe_code)]

pub mod accuracy;
pub mod history;
