//! The readers on the real datasets in ../shared/data (skipped with a reason when absent).
use std::path::PathBuf;

use sbd_data::sources::{Variant, cyberseceval, pairs, rustsec};

fn data(rel: &str) -> Option<PathBuf> {
    let p = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../../shared/data")
    .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent (the shared datasets live beside the repository)", p.display());
        None
    }
}

#[test]
fn cyberseceval_every_record_is_a_positive_at_a_located_line() {
    for file in ["cyberseceval/instruct.json", "cyberseceval/autocomplete.json"] {
        let Some(p) = data(file) else { return };
        let (samples, report) = cyberseceval::load(&p).unwrap();
        assert_eq!(report.loaded, 1916, "{file}: {report:?}");
        assert!(report.skipped.is_empty(), "{report:?}");
        let langs: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.language.as_str()).collect();
        assert_eq!(langs.len(), 8, "{langs:?}");
        for s in &samples {
            assert!(s.vulnerable && s.cwe.is_some());
            let line = s.line.unwrap();
            assert!(line >= 1 && line <= s.code.lines().count().max(1), "{}", s.id);
        }
    }
}

#[test]
fn sven_and_safecoder_pairs() {
    let Some(sven) = data("sven") else { return };
    let (samples, report) = pairs::load_dir(&sven, "sven").unwrap();
    assert_eq!(report.loaded + report.skipped.iter().map(|(_, n)| n).sum::<usize>(), 803, "{report:?}");
    assert_eq!(samples.len(), report.loaded * 2);
    assert!(samples.iter().all(|s| s.cwe.is_some() && s.pair.is_some()));
    let langs: std::collections::BTreeSet<&str> = samples.iter().map(|s| s.language.as_str()).collect();
    assert!(langs.contains("c") && langs.contains("python"), "{langs:?}");

    let Some(sc) = data("safecoder/train/sec-new-desc.jsonl") else { return };
    let (samples, report) = pairs::load(&sc, "safecoder").unwrap();
    assert_eq!(report.loaded + report.skipped.iter().map(|(_, n)| n).sum::<usize>(), 421, "{report:?}");
    let vulnerable = samples.iter().filter(|s| s.pair.as_ref().is_some_and(|p| p.1 == Variant::Vulnerable)).count();
    assert_eq!(vulnerable * 2, samples.len());
    assert!(samples.iter().any(|s| s.language == "ruby"));
    assert!(samples.iter().all(|s| s.description.is_some()));
}

#[test]
fn rustsec_database_parses_completely() {
    let Some(db) = data("rustsec") else { return };
    let (advisories, errors) = rustsec::load_db(&db).unwrap();
    assert!(errors.is_empty(), "{:?}", errors.iter().take(3).map(|e| e.to_string()).collect::<Vec<_>>());
    assert_eq!(advisories.len(), 1205);
    let with_functions = advisories.iter().filter(|a| !a.affected_functions.is_empty()).count();
    assert!(with_functions > 100, "{with_functions}");
    let memory = advisories.iter().filter(|a| a.categories.iter().any(|c| c == "memory-corruption")).count();
    assert!(memory > 200, "{memory}");
    assert!(advisories.iter().all(|a| a.id.starts_with("RUSTSEC-") && !a.package.is_empty()));
}
