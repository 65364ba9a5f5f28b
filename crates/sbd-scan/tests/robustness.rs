//! Bad input never panics or hangs: binary, invalid UTF-8, size and time limits, deep
//! nesting, very long lines; property tests on random bytes and mutated real code for every
//! language, and the regression cases they found.
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sbd_scan::{Language, Limits, Scanner, scan};

fn scanner() -> &'static Scanner {
    static S: std::sync::OnceLock<Scanner> = std::sync::OnceLock::new();
    S.get_or_init(|| Scanner::new().expect("embedded rules"))
}

#[test]
fn binary_is_skipped_with_a_note() {
    let r = scanner().scan_bytes(b"\x7fELF\x02\x01\x01\0\0\0\0strcpy(a,b);", Language::C, Some("a.out"));
    assert!(r.findings.is_empty());
    assert!(r.notes[0].contains("binary"), "{:?}", r.notes);
}

#[test]
fn invalid_utf8_is_decoded_lossily_with_a_note() {
    let r = scanner().scan_bytes(b"strcpy(a, b); /* \xff\xfe */", Language::C, None);
    assert_eq!(r.findings[0].rule, "C001");
    assert!(r.notes[0].contains("invalid UTF-8"), "{:?}", r.notes);
}

#[test]
fn size_limit_is_reported() {
    let s = Scanner::builder().limits(Limits { max_bytes: 100, ..Limits::default() }).build().unwrap();
    let r = s.scan(&"x = 1\n".repeat(100), Language::Python);
    assert!(r.notes[0].contains("size limit"), "{:?}", r.notes);
    assert!(!r.properties.memory_safe, "an unscanned unit claims nothing");
}

#[test]
fn parse_budget_is_reported_and_respected() {
    let s = Scanner::builder()
        .limits(Limits { parse_budget: Duration::from_millis(1), ..Limits::default() })
        .build()
        .unwrap();
    let big = "int f(int x) { return x + 1; }\n".repeat(60_000);
    let t = Instant::now();
    let r = s.scan(&big, Language::C);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(r.notes.iter().any(|n| n.contains("time budget")), "{:?}", r.notes);
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    for (lang, open, close) in [
        (Language::Python, "[", "]"),
        (Language::C, "(", ")"),
        (Language::JavaScript, "{", "}"),
        (Language::Rust, "(", ")"),
        (Language::Java, "(", ")"),
    ] {
        let code = format!("x = {}1{};\nstrcpy(a, b);\n", open.repeat(10_000), close.repeat(10_000));
        let r = scan(&code, lang);
        assert!(r.parse.bytes == code.len(), "{lang}");
    }
    // deep nesting of statements, with a call at the bottom
    let mut code = String::new();
    for _ in 0..3000 {
        code.push_str("if (x) { ");
    }
    code.push_str("strcpy(a, b);");
    for _ in 0..3000 {
        code.push('}');
    }
    let r = scan(&format!("void f(void) {{ {code} }}"), Language::C);
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn one_very_long_line() {
    let mut code = String::from("x = \"");
    code.push_str(&"a".repeat(5_000_000));
    code.push_str("\"; import os; os.system(x)\n");
    let r = scan(&code, Language::Python);
    let text = sbd_scan::output::render_text(&r, Some(&code));
    assert!(text.len() < 10_000, "the source window is cut, not printed whole");
}

#[test]
fn empty_and_whitespace_units() {
    for lang in Language::ALL {
        for code in ["", " ", "\n\n", "\u{feff}", "#!/bin/sh\n"] {
            let r = scan(code, lang);
            assert!(r.findings.is_empty(), "{lang} {code:?}");
        }
    }
}

/// Hand-picked edge cases (unterminated annotations, multi-byte text after markers, unclosed
/// imports, wrapped fragments with comments), kept as regression tests.
#[test]
fn fuzz_regressions() {
    let cases: &[(Language, &str)] = &[
        // an annotation with a multi-byte character right after the marker
        (Language::Python, "# sbd:allow(é"),
        // an unterminated annotation at the end of the file
        (Language::C, "// sbd:allow(C001, justification=\""),
        // a trailing comment on the first line of a wrapped fragment
        (Language::Go, "x := 1 // sbd:allow(GO004, justification=\"j\", approver=\"a\")"),
        // a comment-only fragment that needs a wrapper
        (Language::Java, "/* sbd:allow(JAVA001) */"),
        // require() without a closing parenthesis
        (Language::JavaScript, "const a = require('x'\na.exec(b)"),
        // nested use groups without a closing brace
        (Language::Rust, "use a::{b::{c, d}, e as f;\nfn g() {}"),
        // PHP without an opening tag but with a closing one
        (Language::Php, "echo 1; ?> <b>html</b> <?php system($_GET['x']);"),
        // deeply nested string interpolation
        (Language::Python, "f'{f\"{x}\"}'"),
        // C# interpolated string in a call
        (Language::CSharp, "Process.Start($\"cmd /c {args[0]}\");"),
    ];
    for (lang, code) in cases {
        let r = scan(code, *lang);
        for f in &r.findings {
            assert!(f.span.start_byte <= code.len() && f.span.end_byte <= code.len() + 1, "{lang}: {code:?}");
        }
    }
}

const SEEDS: &[(Language, &str)] = &[
    (
        Language::C,
        "#include <string.h>\nint main(int argc, char **argv) {\n  char b[8];\n  strcpy(b, argv[1]);\n  printf(argv[2]);\n  return 0;\n}\n",
    ),
    (
        Language::Cpp,
        "#include <memory>\nclass A { public: ~A() {} };\nint f(char *d, const char *s) { auto p = std::make_unique<A>(); strcat(d, s); return reinterpret_cast<long>(d); }\n",
    ),
    (
        Language::Rust,
        "use std::mem;\n// sbd:allow(RS001, justification=\"j\", approver=\"a\")\nfn f(p: *const u8) -> u8 { unsafe { *p } }\nstatic mut X: u8 = 0;\nfn g(x: u32) -> f32 { unsafe { mem::transmute(x) } }\n",
    ),
    (
        Language::Python,
        "import os, pickle, yaml\nfrom flask import request\ndef f(a):\n    x = request.args['q']\n    os.system(f'ls {x}')\n    pickle.loads(a)\n    yaml.load(a)  # sbd:allow(PY005, justification=\"j\", approver=\"a\")\n",
    ),
    (
        Language::Go,
        "package main\nimport (\n\t\"os/exec\"\n\t\"crypto/md5\"\n)\nfunc main() {\n\texec.Command(\"sh\", \"-c\", os.Args[1]).Run()\n\tmd5.Sum(nil)\n}\n",
    ),
    (
        Language::Java,
        "import java.security.MessageDigest;\nclass A {\n  void f(String c) throws Exception {\n    Runtime.getRuntime().exec(\"ls \" + c);\n    MessageDigest.getInstance(\"MD5\");\n  }\n}\n",
    ),
    (
        Language::JavaScript,
        "const { exec } = require('child_process');\napp.get('/', (req, res) => { exec(`ls ${req.query.d}`); eval(req.body.x); });\n",
    ),
    (
        Language::TypeScript,
        "import * as cp from 'child_process';\nexport function f(x: string): void { cp.execSync('ls ' + x); const y = x as any; }\n",
    ),
    (
        Language::CSharp,
        "using System.Diagnostics;\nclass A { unsafe void F(string c) { Process.Start(c); var f = new BinaryFormatter(); fixed (byte* p = b) {} } }\n",
    ),
    (
        Language::Php,
        "<?php\n$x = $_GET['x'];\nsystem(\"ls \" . $x);\n$o = unserialize($_COOKIE['c']);\n$db->query(\"SELECT * FROM t WHERE a = $x\");\n",
    ),
];

fn check(lang: Language, code: &str) {
    let r = scan(code, lang);
    for f in r.findings.iter().chain(r.suppressed.iter()) {
        assert!(f.span.start_byte <= f.span.end_byte);
        assert!(f.span.start_line >= 1);
    }
    let _ = sbd_scan::output::render_text(&r, Some(code));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048), li in 0usize..10) {
        let lang = Language::ALL[li];
        let r = scanner().scan_bytes(&bytes, lang, None);
        prop_assert!(r.parse.bytes == bytes.len() || !r.notes.is_empty());
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,600}", li in 0usize..10) {
        check(Language::ALL[li], &text);
    }

    #[test]
    fn mutated_real_code_never_panics(
        si in 0usize..10,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, "[ -~]{0,6}"), 1..12),
    ) {
        let (lang, seed) = SEEDS[si];
        let mut code: Vec<char> = seed.chars().collect();
        for (at, op, text) in edits {
            let i = at.index(code.len() + 1);
            match op {
                0 => { code.splice(i..i, text.chars()); }
                1 => { let end = (i + text.len()).min(code.len()); code.drain(i..end); }
                2 => { code.splice(i..i, "{([\"'`/*".chars().take(1 + text.len() % 8)); }
                _ => { let end = (i + 3).min(code.len()); code.splice(i..end, text.chars()); }
            }
        }
        let code: String = code.into_iter().collect();
        check(lang, &code);
    }
}

#[test]
fn seeds_find_what_they_should() {
    for (lang, code) in SEEDS {
        let r = scan(code, *lang);
        assert!(!r.findings.is_empty() || !r.suppressed.is_empty(), "{lang}: nothing found");
    }
}
