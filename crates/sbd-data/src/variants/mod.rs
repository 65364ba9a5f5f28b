//! Variants of a unit (requirements 2.2.3 and 2.2.4).
//!
//! - [`overrides`]: the insecure unit with a justified override on its findings, and with an
//!   unjustified one (a bypass attempt the verifier must reject);
//! - [`mutate`]: operators that turn secure code insecure (weak hash, unsafe deserialiser,
//!   unbounded copy, `gets`, unchecked allocation size, `unsafe` wrapper, broken cipher mode,
//!   non-cryptographic randomness, dropped shell escaping, …); a mutant is kept only when the
//!   verifier confirms a new finding of the operator's CWE family, so its label is verified;
//! - [`obfuscate`]: rewrites of flagged code that keep the weakness but hide it (indirection
//!   through an alias, dynamic attribute access, split string literals, macro aliases); the
//!   ones the verifier misses are its blind spots, collected in a [`obfuscate::BlindSpots`]
//!   report.
pub mod mutate;
pub mod obfuscate;
pub mod overrides;

use sbd_scan::Language;

/// The line comment marker of a language.
pub fn line_comment(lang: Language) -> &'static str {
    match lang {
        Language::Python => "#",
        _ => "//",
    }
}

/// A 64-bit FNV-1a hash, for deterministic choices.
pub fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// True for a deterministic `rate` fraction of keys.
pub fn chosen(seed: u64, key: &str, rate: f64) -> bool {
    let h = fnv(&[&seed.to_string(), key]);
    ((h >> 11) as f64 / (1u64 << 53) as f64) < rate
}
