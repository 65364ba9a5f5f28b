//! The runners compile and run units inside the sandbox; the checkers catch planted memory
//! errors and pass the fixed versions.
use sbd_sandbox::runner::{Harness, Language, RunRequest, Toolchain, Verdict, run_unit};

fn available(lang: Language) -> bool {
    match Toolchain::discover(lang) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("skipping {}: {e}", lang.name());
            false
        }
    }
}

fn run(lang: Language, src: &str, stdin: &str, expected: &str) -> sbd_sandbox::runner::RunReport {
    let mut req = RunRequest::new(lang, src);
    req.harness = Harness {
        stdin: stdin.as_bytes().to_vec(),
        args: vec!["arg1".into()],
        expected_stdout: Some(expected.into()),
        test_script: None,
    };
    run_unit(&req).unwrap()
}

#[test]
fn every_language_runs_with_stdin_args_and_expected_output() {
    let units = [
        (
            Language::C,
            "#include <stdio.h>\nint main(int c, char**v){char b[64]; if(!fgets(b,64,stdin)) return 3; printf(\"%s %s\", v[1], b); return 0;}\n",
        ),
        (
            Language::Cpp,
            "#include <iostream>\n#include <string>\nint main(int c, char**v){std::string s; std::getline(std::cin, s); std::cout << v[1] << ' ' << s << '\\n';}\n",
        ),
        (
            Language::Rust,
            "use std::io::BufRead;\nfn main(){ let a: Vec<String> = std::env::args().collect(); let l = std::io::stdin().lock().lines().next().unwrap().unwrap(); println!(\"{} {}\", a[1], l); }\n",
        ),
        (Language::Python, "import sys\nprint(sys.argv[1], sys.stdin.readline().strip())\n"),
        (
            Language::JavaScript,
            "const l = require('fs').readFileSync(0, 'utf8').split('\\n')[0];\nconsole.log(process.argv[2] + ' ' + l);\n",
        ),
        (
            Language::Java,
            "import java.util.Scanner;\npublic class Echo { public static void main(String[] a) { Scanner s = new Scanner(System.in); System.out.println(a[0] + \" \" + s.nextLine()); } }\n",
        ),
    ];
    for (lang, src) in units {
        if !available(lang) {
            continue;
        }
        let r = run(lang, src, "hello\n", "arg1 hello\n");
        assert_eq!(r.verdict, Verdict::Passed, "{}: {r:#?}", lang.name());
        let wrong = run(lang, src, "bye\n", "arg1 hello\n");
        assert_eq!(wrong.verdict, Verdict::WrongOutput, "{}: {wrong:#?}", lang.name());
    }
}

const C_BUGS: &[(&str, &str, &str)] = &[
    (
        "heap-buffer-overflow",
        "#include <stdlib.h>\n#include <string.h>\nint main(void){ char *p = (char *)malloc(8); memset(p, 'a', 9); int r = p[0]; free(p); return r == 'a' ? 0 : 1; }\n",
        "#include <stdlib.h>\n#include <string.h>\nint main(void){ char *p = (char *)malloc(9); memset(p, 'a', 9); int r = p[0]; free(p); return r == 'a' ? 0 : 1; }\n",
    ),
    (
        "stack-buffer-overflow",
        "#include <stdio.h>\n__attribute__((noinline)) void put(int *q, int i){ q[i] = 1; }\nint main(int c, char **v){ int a[4] = {0}; put(a, c + 3); printf(\"%d\\n\", a[0]); return 0; }\n",
        "#include <stdio.h>\n__attribute__((noinline)) void put(int *q, int i){ q[i] = 1; }\nint main(int c, char **v){ int a[5] = {0}; put(a, c + 3); printf(\"%d\\n\", a[0]); return 0; }\n",
    ),
    (
        "stack-overflow",
        "#include <stdio.h>\nint depth(int n){ volatile char pad[256]; pad[0] = (char)n; return n == 0 ? pad[0] : depth(n + 1) + pad[0]; }\nint main(void){ printf(\"%d\\n\", depth(1)); return 0; }\n",
        "#include <stdio.h>\nint depth(int n){ volatile char pad[256]; pad[0] = (char)n; return n >= 1000 ? pad[0] : depth(n + 1) + pad[0]; }\nint main(void){ printf(\"%d\\n\", depth(1)); return 0; }\n",
    ),
    (
        "heap-use-after-free",
        "#include <stdlib.h>\n#include <stdio.h>\nint main(void){ int *p = (int *)malloc(sizeof *p); *p = 7; free(p); printf(\"%d\\n\", *p); return 0; }\n",
        "#include <stdlib.h>\n#include <stdio.h>\nint main(void){ int *p = (int *)malloc(sizeof *p); *p = 7; printf(\"%d\\n\", *p); free(p); return 0; }\n",
    ),
    (
        "signed-integer-overflow",
        "#include <stdio.h>\n#include <limits.h>\nint main(int c, char **v){ int x = INT_MAX - 1 + c; printf(\"%d\\n\", x + 1); return 0; }\n",
        "#include <stdio.h>\n#include <limits.h>\nint main(int c, char **v){ long long x = (long long)INT_MAX - 1 + c; printf(\"%lld\\n\", x + 1); return 0; }\n",
    ),
];

#[test]
fn sanitizers_catch_planted_bugs_and_pass_fixes() {
    for lang in [Language::C, Language::Cpp] {
        if !available(lang) {
            continue;
        }
        for (kind, buggy, fixed) in C_BUGS {
            let r = run_unit(&RunRequest::new(lang, *buggy)).unwrap();
            assert_eq!(r.verdict, Verdict::CheckerError, "{kind} ({}): {r:#?}", lang.name());
            assert!(r.findings.iter().any(|f| f.kind == *kind), "{kind}: findings {:?}", r.findings);
            assert!(r.findings.iter().any(|f| f.location.is_some()), "{kind}: no location");
            let ok = run_unit(&RunRequest::new(lang, *fixed)).unwrap();
            assert_eq!(ok.verdict, Verdict::Passed, "{kind} fixed ({}): {ok:#?}", lang.name());
            assert!(ok.findings.is_empty());
        }
    }
}

#[test]
fn rust_overflow_checks_catch_signed_overflow() {
    if !available(Language::Rust) {
        return;
    }
    let buggy = "fn main(){ let n = std::env::args().count() as i32; let x: i32 = i32::MAX - 1 + n; println!(\"{}\", x + 1); }\n";
    let fixed = "fn main(){ let n = std::env::args().count() as i64; let x: i64 = i32::MAX as i64 - 1 + n; println!(\"{}\", x + 1); }\n";
    let r = run_unit(&RunRequest::new(Language::Rust, buggy)).unwrap();
    assert_eq!(r.verdict, Verdict::CheckerError, "{r:#?}");
    assert_eq!(r.findings[0].kind, "arithmetic-overflow");
    assert!(r.findings[0].location.as_deref().unwrap_or("").contains("main.rs:1"));
    let ok = run_unit(&RunRequest::new(Language::Rust, fixed)).unwrap();
    assert_eq!(ok.verdict, Verdict::Passed, "{ok:#?}");
}

#[test]
fn compile_errors_are_reported() {
    if !available(Language::C) {
        return;
    }
    let r = run_unit(&RunRequest::new(Language::C, "int main(void) { return x; }\n")).unwrap();
    assert_eq!(r.verdict, Verdict::CompileFailed);
    assert!(r.compile.unwrap().stderr.contains("undeclared"));
}

#[test]
fn valgrind_catches_heap_errors_when_installed() {
    if !available(Language::C) {
        return;
    }
    for (kind, buggy, fixed) in C_BUGS.iter().filter(|(k, _, _)| k.starts_with("heap")) {
        let mut req = RunRequest::new(Language::C, *buggy);
        req.valgrind = true;
        let r = match run_unit(&req) {
            Ok(r) => r,
            Err(e) if e.to_string().contains("valgrind") => {
                eprintln!("skipping: {e}");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(r.verdict, Verdict::CheckerError, "{kind}: {r:#?}");
        assert!(
            r.findings.iter().any(|f| f.tool == "valgrind-memcheck" && f.kind == *kind),
            "{kind}: {:?}",
            r.findings
        );
        assert!(r.findings[0].location.as_deref().unwrap_or("").contains("main.c:"), "{:?}", r.findings);
        let mut req = RunRequest::new(Language::C, *fixed);
        req.valgrind = true;
        let ok = run_unit(&req).unwrap();
        assert_eq!(ok.verdict, Verdict::Passed, "{kind} fixed: {ok:#?}");
    }
}

#[test]
fn test_scripts_pass_and_fail() {
    let cases: [(Language, &str, &str); 6] = [
        (
            Language::C,
            "int add(int a, int b) { return a + b; }\nint main(void) { return add(1, 2) == 3 ? 0 : 1; }\n",
            "int add(int, int);\nint main(void) { return add(2, 2) == WANT ? 0 : 1; }\n",
        ),
        (
            Language::Cpp,
            "int add(int a, int b) { return a + b; }\nint main() { return 0; }\n",
            "int add(int, int);\nint main() { return add(2, 2) == WANT ? 0 : 1; }\n",
        ),
        (
            Language::Rust,
            "fn add(a: i32, b: i32) -> i32 { a + b }\nfn main() { println!(\"{}\", add(1, 2)); }\n",
            "#[test]\nfn adds() { assert_eq!(add(2, 2), WANT); }\n",
        ),
        (
            Language::Python,
            "def add(a, b):\n    return a + b\n\nif __name__ == '__main__':\n    print(add(1, 2))\n",
            "import main\nassert main.add(2, 2) == WANT\n",
        ),
        (
            Language::JavaScript,
            "function add(a, b) { return a + b; }\nmodule.exports = { add };\n",
            "const { add } = require('./main.js');\nif (add(2, 2) !== WANT) process.exit(1);\n",
        ),
        (
            Language::Java,
            "public class Adder { static int add(int a, int b) { return a + b; } public static void main(String[] a) {} }\n",
            "public class AdderTest { public static void main(String[] a) { if (Adder.add(2, 2) != WANT) System.exit(1); } }\n",
        ),
    ];
    for (lang, unit, script) in cases {
        if !available(lang) {
            continue;
        }
        for (want, verdict) in [("4", Verdict::Passed), ("5", Verdict::TestsFailed)] {
            let mut req = RunRequest::new(lang, unit);
            req.harness.test_script = Some(script.replace("WANT", want));
            let r = run_unit(&req).unwrap();
            assert_eq!(r.verdict, verdict, "{} want {want}: {r:#?}", lang.name());
        }
    }
}
