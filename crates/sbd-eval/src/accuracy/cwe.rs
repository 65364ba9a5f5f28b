//! Which CWEs count as the same weakness when scoring a finding against a label.
//!
//! A finding hits a label when its CWE equals the label's or both belong to one of the small,
//! explicit families below: CWE ids that name the same weakness at different levels of
//! abstraction (CWE-119 and its children 120/121/122/787…) or a cause and its direct
//! consequence (CWE-680 integer overflow to buffer overflow). There is no catch-all family.

/// (family name, members).
pub const FAMILIES: &[(&str, &[u32])] = &[
    ("out-of-bounds write", &[119, 120, 121, 122, 123, 124, 131, 193, 680, 785, 787, 788, 805, 806]),
    ("out-of-bounds read", &[119, 125, 126, 127, 786, 823]),
    ("dangerous function (unchecked copy)", &[120, 242, 676, 477]),
    ("integer overflow / conversion", &[128, 190, 191, 192, 197, 680, 681]),
    ("use after free / double free", &[415, 416, 672, 763, 825]),
    ("null dereference / unchecked result", &[252, 253, 476, 690]),
    ("uninitialised memory", &[457, 665, 908, 909]),
    ("OS command injection", &[77, 78, 88]),
    ("code injection", &[94, 95, 96]),
    ("SQL injection", &[89, 564, 943]),
    ("cross-site scripting / output encoding", &[79, 80, 83, 116]),
    ("path traversal", &[22, 23, 35, 36, 73]),
    ("unsafe deserialisation", &[502]),
    ("weak cryptography / hashing", &[323, 325, 326, 327, 328, 759, 760, 916, 1240]),
    ("weak randomness", &[330, 335, 338, 1241]),
    ("hard-coded credentials", &[259, 321, 798]),
    ("certificate validation", &[295, 297, 599]),
    ("insecure temporary file", &[377, 378, 379]),
    ("XML external entities", &[611, 776, 827]),
    ("permissions", &[276, 281, 732]),
    ("information exposure", &[200, 209, 312, 319, 359, 532]),
    // CWE-353 (missing support for integrity check: encryption without a MAC) is, like 347
    // and 354, a child of CWE-345 (insufficient verification of data authenticity).
    ("signature / integrity", &[345, 347, 353, 354]),
    ("resource exhaustion", &[400, 770, 789, 1333]),
    ("authentication / authorisation", &[285, 287, 290, 306, 807, 862, 863]),
    ("regular expression", &[185, 625]),
];

/// True when a finding of CWE `found` counts for a label of CWE `label`.
pub fn related(label: u32, found: u32) -> bool {
    label == found || FAMILIES.iter().any(|(_, m)| m.contains(&label) && m.contains(&found))
}

/// The first family a CWE belongs to, for grouping reports.
pub fn family_of(cwe: u32) -> Option<&'static str> {
    FAMILIES.iter().find(|(_, m)| m.contains(&cwe)).map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relatives_and_strangers() {
        assert!(related(787, 120));
        assert!(related(680, 190));
        assert!(related(680, 787));
        assert!(related(78, 78));
        assert!(!related(78, 89));
        assert!(!related(125, 416));
        assert!(!related(22, 78));
    }

    #[test]
    fn no_family_is_a_catch_all() {
        for (name, members) in FAMILIES {
            assert!(members.len() <= 14, "{name} is too broad");
        }
    }
}
