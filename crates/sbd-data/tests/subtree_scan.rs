//! A function cut from a file and scanned on the file's parse (`Scanner::scan_subtree`, what
//! the data pipeline does) gets exactly the report that scanning its text alone gives.

use std::collections::BTreeMap;

use sbd_data::units::cut;
use sbd_scan::{Language, Report, Scanner};

/// The parts of a report that become a dataset row.
fn essence(r: &Report) -> serde_json::Value {
    serde_json::json!({
        "findings": r.findings,
        "suppressed": r.suppressed,
        "facts": r.facts,
        "properties": r.properties,
        "overrides": r.overrides,
        "notes": r.notes,
        "error_nodes": r.parse.error_nodes,
        "bytes": r.parse.bytes,
    })
}

/// Cuts `text` and compares both ways of scanning every function. Returns (functions scanned
/// on the tree, findings among them).
fn compare(scanner: &Scanner, text: &str, lang: Language, what: &str) -> (usize, usize) {
    let (tree, pieces) = cut::functions_and_tree(text, lang).expect("parses");
    let (mut on_tree, mut findings) = (0, 0);
    for p in &pieces {
        let code = &text[p.start_byte..p.end_byte];
        let Some(sub) = scanner.scan_subtree(text, &tree, lang, p.start_byte..p.end_byte, None) else { continue };
        let alone = scanner.scan(code, lang);
        // A piece that needs a wrapper when parsed alone (a method outside its class) is
        // analysed differently there; PHP's `<?php` opener changes nothing.
        if alone.parse.wrapped_in.as_deref().is_some_and(|w| w != "<?php") {
            continue;
        }
        assert_eq!(
            essence(&sub),
            essence(&alone),
            "{what}: {lang:?} function at line {} scanned on the file's tree differs from scanning it alone:\n{code}",
            p.start_line
        );
        on_tree += 1;
        findings += alone.findings.len() + alone.facts.len();
    }
    (on_tree, findings)
}

#[test]
fn functions_scanned_on_the_files_tree_match_a_scan_of_their_text() {
    let scanner = Scanner::new().unwrap();
    let mut by_lang: BTreeMap<String, (Language, String)> = BTreeMap::new();
    for p in sbd_data::seed::pairs().unwrap() {
        let e = by_lang.entry(p.language.name().to_string()).or_insert_with(|| (p.language, String::new()));
        for code in [&p.insecure, &p.secure] {
            let code =
                if e.0 == Language::Php && !e.1.is_empty() { code.replacen("<?php", "", 1) } else { code.clone() };
            e.1.push_str(&code);
            e.1.push_str("\n\n");
        }
    }
    let (mut total, mut with_findings) = (0, 0);
    for (name, (lang, text)) in &by_lang {
        let (n, f) = compare(&scanner, text, *lang, name);
        println!("{name}: {n} functions compared, {f} findings and facts");
        total += n;
        with_findings += f;
    }
    // The seed corpus has hundreds of functions in ten languages, many with findings.
    assert!(total >= 300, "only {total} functions were scanned on the tree");
    assert!(with_findings >= 150, "only {with_findings} findings and facts were compared");
}

#[test]
fn indented_methods_macros_and_overrides_keep_their_positions() {
    let scanner = Scanner::new().unwrap();
    let py = "import os\n\nclass Runner:\n    def run(self, cmd):\n        # sbd:allow(PY001, justification=\"fixed input\")\n        os.system(cmd)\n        return eval(cmd)\n\n    def ok(self):\n        return 1\n";
    let rs = "struct S;\nimpl S {\n    pub fn dump(&self) {\n        println!(\"{}\", unsafe { *std::ptr::null::<u8>() });\n        let p = std::env::current_exe().unwrap();\n    }\n}\n";
    let c = "#include <string.h>\nvoid copy(char *d, const char *s) { strcpy(d, s); }\n  int f(char *b) { return sprintf(b, \"%s\", b); }\n";
    for (lang, text) in [(Language::Python, py), (Language::Rust, rs), (Language::C, c)] {
        let (n, f) = compare(&scanner, text, lang, "inline");
        assert!(n >= 1 && f >= 1, "{lang:?}: {n} functions, {f} findings");
    }
    // Positions are the unit's: the `eval` of the indented method is on its 4th line, column 16.
    let (tree, pieces) = cut::functions_and_tree(py, Language::Python).unwrap();
    let r = scanner.scan_subtree(py, &tree, Language::Python, pieces[0].start_byte..pieces[0].end_byte, None).unwrap();
    let eval = r.findings.iter().find(|f| f.span.start_line == 4).expect("eval finding");
    assert_eq!(eval.span.start_column, 16, "{eval:?}");
    // A range that is not a node, or a node with a syntax error, is refused.
    assert!(scanner.scan_subtree(py, &tree, Language::Python, 0..5, None).is_none());
    let broken = "def a():\n    return (\n\ndef b():\n    return 2\n";
    let (tree, pieces) = cut::functions_and_tree(broken, Language::Python).unwrap();
    for p in &pieces {
        let sub = scanner.scan_subtree(broken, &tree, Language::Python, p.start_byte..p.end_byte, None);
        assert_eq!(
            sub.is_none(),
            tree.root_node().descendant_for_byte_range(p.start_byte, p.end_byte).unwrap().has_error()
        );
    }
}
