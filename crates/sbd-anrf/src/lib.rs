//! ANRF 1.1.0 (work in progress).
#![forbid(unsafe_code)]

/// The ANRF version this crate reads, writes and validates.
pub const ANRF_VERSION: &str = "1.1.0";
