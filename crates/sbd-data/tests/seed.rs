//! The seed corpus: shape, coverage, and what the verifier confirms.
use std::collections::BTreeSet;

use sbd_data::seed;

/// Pairs whose insecure side the verifier must flag (and whose secure side it must leave
/// clean) for the test to pass. The rest are listed as blind spots. Raise it as the scanner
/// learns more rules.
const MIN_CONFIRMED: usize = 75;

#[test]
fn corpus_has_200_pairs_over_10_languages_and_40_cwes() {
    let pairs = seed::pairs().expect("every seed file parses");
    assert!(pairs.len() >= 200, "{} pairs", pairs.len());
    let langs: BTreeSet<_> = pairs.iter().map(|p| p.language).collect();
    assert_eq!(langs.len(), 10, "{langs:?}");
    let cwes: BTreeSet<_> = pairs.iter().map(|p| p.cwe).collect();
    assert!(cwes.len() >= 40, "{} CWEs", cwes.len());
    let ids: BTreeSet<_> = pairs.iter().map(|p| p.id.clone()).collect();
    assert_eq!(ids.len(), pairs.len(), "ids are unique");
    for p in &pairs {
        assert_ne!(p.insecure.trim(), p.secure.trim(), "{}", p.id);
        assert!(p.task.len() > 20, "{}: task too short", p.id);
    }
}

#[test]
fn a_bad_seed_file_names_itself() {
    let err =
        seed::parse("python/cwe-078-x.toml", "task = \"t\"\ncwe = 79\ninsecure = \"a\"\nsecure = \"b\"\n").unwrap_err();
    assert!(err.to_string().contains("seed/python/cwe-078-x.toml"), "{err}");
    assert!(seed::parse("cobol/cwe-078-x.toml", "task = \"t\"\ncwe = 78\ninsecure = \"a\"\nsecure = \"b\"\n").is_err());
}

#[test]
fn verifier_confirms_pairs_and_never_flags_a_secure_side() {
    let pairs = seed::pairs().unwrap();
    let scanner = sbd_scan::Scanner::new().unwrap();
    let results = seed::confirm(&scanner, &pairs);
    let false_positive: Vec<_> = results.iter().filter(|c| c.secure_flagged).collect();
    let confirmed = results.iter().filter(|c| c.confirmed()).count();
    let blind: Vec<_> = results.iter().filter(|c| !c.insecure_flagged).collect();
    eprintln!("seed pairs: {} confirmed by the verifier of {}", confirmed, results.len());
    eprintln!("blind spots ({}): insecure side not flagged for its CWE family:", blind.len());
    for c in &blind {
        let lang = pairs.iter().find(|p| p.id == c.id).map(|p| p.language);
        // A blind spot the catalogue claims to cover is a verifier bug worth reporting.
        let covered = scanner.rules().iter().any(|r| {
            lang.is_some_and(|l| r.languages.contains(&l)) && r.cwe.iter().any(|&w| sbd_data::cwe::related(w, c.cwe))
        });
        let note = if covered { "a rule exists for this CWE and language" } else { "no rule for this CWE" };
        eprintln!("  {} (CWE-{}): {note}; rules fired: {:?}", c.id, c.cwe, c.insecure_rules);
    }
    assert!(
        false_positive.is_empty(),
        "secure sides flagged for their own CWE: {:?}",
        false_positive.iter().map(|c| (&c.id, &c.secure_rules)).collect::<Vec<_>>()
    );
    assert!(confirmed >= MIN_CONFIRMED, "only {confirmed} pairs confirmed (threshold {MIN_CONFIRMED})");
}
