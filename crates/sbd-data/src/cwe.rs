//! CWE families: which weaknesses count as "the same or a close relative" when a verifier
//! finding is compared with a label.
//!
//! The families follow the CWE research view's parent/child links for the weaknesses the
//! verifier and the datasets use (memory buffer errors, injection, cryptography, randomness,
//! resource lifetime, …). Two CWEs are related when they are equal or share a family.

const FAMILIES: &[&[u32]] = &[
    // Improper restriction of operations within the bounds of a memory buffer.
    &[119, 120, 121, 122, 124, 125, 126, 127, 129, 131, 170, 193, 242, 787, 805, 806, 823],
    // Numeric errors that feed allocation sizes and bounds.
    &[190, 191, 680, 681, 131, 197],
    // Resource lifetime: use after free, double free, dangling, mismatched release.
    &[416, 415, 825, 762, 763, 590, 401, 404, 119],
    // Uninitialised data.
    &[908, 909, 457, 665],
    // Type confusion and unsafe reinterpretation.
    &[843, 704, 119, 681],
    // Concurrency.
    &[362, 366, 367, 820, 821, 119],
    // OS command and argument injection.
    &[78, 77, 88],
    // SQL and other query injection.
    &[89, 564, 943, 90, 643],
    // Code injection and dynamic evaluation.
    &[94, 95, 96, 98, 470, 1336],
    // Deserialisation.
    &[502, 915, 1321],
    // Broken or weak cryptography and hashing.
    &[327, 328, 326, 916, 759, 760, 780],
    // Insufficient randomness.
    &[330, 331, 338, 335, 340],
    // Temporary files and permissions.
    &[377, 378, 379, 732, 276],
    // Certificates and transport.
    &[295, 296, 297, 319, 757],
    // Credentials.
    &[798, 259, 321, 522],
    // Resource consumption.
    &[400, 770, 789, 674, 1333, 834],
    // Path traversal.
    &[22, 23, 36, 73],
    // Foreign code and unsafe blocks (Rust, Go).
    &[111, 119, 676],
    // Overrides (the verifier's own policy).
    &[1068],
];

/// True when `a` and `b` are the same CWE or share a family.
pub fn related(a: u32, b: u32) -> bool {
    a == b || FAMILIES.iter().any(|f| f.contains(&a) && f.contains(&b))
}

/// True when any of `found` is related to `label`.
pub fn any_related(found: &[u32], label: u32) -> bool {
    found.iter().any(|&c| related(c, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relatives() {
        assert!(related(787, 120));
        assert!(related(328, 327));
        assert!(related(89, 89));
        assert!(!related(89, 78));
        assert!(!related(79, 22));
    }
}
