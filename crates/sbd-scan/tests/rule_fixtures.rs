//! Every rule's fixtures: the documentation example and each `match` fixture must produce a
//! finding of that rule; the "use instead" code and each `no_match` fixture must not.
//! A rule without both kinds of fixture fails.
use sbd_scan::{Scanner, catalog};

#[test]
fn every_rule_has_fixtures_of_both_kinds_and_they_hold() {
    let scanner = Scanner::new().expect("embedded rules compile");
    scanner.check().expect("every language compiles");
    let rules = catalog::embedded_rules().expect("embedded rules parse");
    assert!(!rules.is_empty());
    let mut failures = Vec::new();
    for rule in &rules {
        if rule.fixtures.must_match.is_empty() || rule.fixtures.no_match.is_empty() {
            failures.push(format!("{}: needs both `match` and `no_match` fixtures", rule.id));
            continue;
        }
        let positives = std::iter::once(&rule.docs.example).chain(rule.fixtures.must_match.iter());
        let negatives = std::iter::once(&rule.docs.use_instead).chain(rule.fixtures.no_match.iter());
        let langs = match rule.fixtures.language {
            Some(l) => vec![l],
            None => rule.languages.clone(),
        };
        for lang in &langs {
            for (i, code) in positives.clone().enumerate() {
                let r = scanner.scan(code, *lang);
                if !r.findings.iter().any(|f| f.rule == rule.id) {
                    failures.push(format!(
                        "{} [{lang}] positive #{i} (0 = docs example) did not match; findings: {:?}; notes: {:?}\n{code}",
                        rule.id,
                        r.findings.iter().map(|f| &f.rule).collect::<Vec<_>>(),
                        r.notes
                    ));
                }
            }
            for (i, code) in negatives.clone().enumerate() {
                let r = scanner.scan(code, *lang);
                if let Some(f) = r.findings.iter().find(|f| f.rule == rule.id) {
                    failures.push(format!(
                        "{} [{lang}] negative #{i} (0 = docs use_instead) matched at line {}: {}\n{code}",
                        rule.id, f.span.start_line, f.message
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} fixture failures:\n\n{}", failures.len(), failures.join("\n\n"));
}
