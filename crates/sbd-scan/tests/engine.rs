//! Engine behaviour on real inputs: taint, import resolution, fragments, overrides, facts,
//! properties, outputs, ANRF.
use sbd_scan::{Language, OverrideScope, OverrideStatus, Report, Scanner, scan};

fn rules(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn has_fact(r: &Report, name: &str) -> bool {
    r.facts.iter().any(|f| f.name == name)
}

// ---- the issue's examples -------------------------------------------------------------

const FLASK: &str = "import subprocess\nfrom flask import request\nx = request.args.get(\"x\")\n";

#[test]
fn subprocess_list_form_is_fine() {
    let r = scan(&format!("{FLASK}subprocess.run([\"ls\", x])\n"), Language::Python);
    assert!(r.findings.is_empty(), "{:?}", rules(&r));
}

#[test]
fn subprocess_fstring_shell_with_request_input_is_flagged() {
    let r = scan(&format!("{FLASK}subprocess.run(f\"ls {{x}}\", shell=True)\n"), Language::Python);
    assert_eq!(rules(&r), ["PY002"]);
    assert_eq!(r.findings[0].span.start_line, 4);
    assert_eq!(r.findings[0].cwe, [78]);
}

#[test]
fn subprocess_constant_shell_string_is_fine() {
    let r = scan(&format!("{FLASK}subprocess.run(\"ls -l\", shell=True)\n"), Language::Python);
    assert!(r.findings.is_empty(), "{:?}", rules(&r));
    let r = scan("import subprocess\ncmd = \"ls \" + \"-l\"\nsubprocess.run(cmd, shell=True)\n", Language::Python);
    assert!(r.findings.is_empty(), "{:?}", rules(&r));
}

// ---- taint --------------------------------------------------------------------------

#[test]
fn taint_flows_through_assignments_concatenation_and_format() {
    let code =
        "import os, sys\na = sys.argv[1]\nb = a.strip()\nc = \"echo {}\".format(b)\nd = c + \" | wc\"\nos.system(d)\n";
    assert_eq!(rules(&scan(code, Language::Python)), ["PY001"]);
    let code = "import os, sys\na = sys.argv[1]\nb = \"echo %s\" % a\nos.system(b)\n";
    assert_eq!(rules(&scan(code, Language::Python)), ["PY001"]);
}

#[test]
fn sanitizers_stop_taint() {
    let code = "import os, sys, shlex\na = shlex.quote(sys.argv[1])\nos.system(\"echo \" + a)\n";
    assert!(scan(code, Language::Python).findings.is_empty());
    let code = "import os, sys\nn = int(sys.argv[1])\nos.system(f\"sleep {n}\")\n";
    assert!(scan(code, Language::Python).findings.is_empty());
}

#[test]
fn unknown_values_are_not_tainted_but_parameters_are() {
    // Not proven tainted: no PY001; the computed command is still reported, with less certainty.
    let code = "import os\ndef f():\n    v = compute()\n    os.system(v)\n";
    let r = scan(code, Language::Python);
    assert_eq!(rules(&r), ["PY013"]);
    assert_eq!(r.findings[0].confidence, sbd_scan::Confidence::Medium);
    let code = "import os\ndef f(v):\n    os.system(v)\n";
    assert_eq!(rules(&scan(code, Language::Python)), ["PY001"]);
}

#[test]
fn fragments_that_close_blocks_they_did_not_open_are_rebalanced() {
    // A window of a controller: the end of one action, then a POST action, then the ends of
    // the class and the namespace.
    let cs = "        return View();\n    }\n\n    [HttpPost]\n    public ActionResult Delete(int id)\n    {\n        return View();\n    }\n}\n}\n";
    let r = scan(cs, Language::CSharp);
    assert_eq!(rules(&r), ["CS004"], "{:?}", r.parse);
    assert_eq!(r.findings[0].span.start_line, 4);
    assert_eq!(r.parse.error_nodes, 0);
    // The continuation of a callback: `});` closes a function and a call it never opened.
    let js = "  const cmd = req.query.cmd;\n  cp.exec(\"ls \" + cmd);\n});\n";
    let r = scan(&format!("const cp = require(\"child_process\");\n{js}"), Language::JavaScript);
    assert_eq!(rules(&r), ["JS001"], "{:?}", r.parse);
    assert_eq!(r.findings[0].span.start_line, 3);
}

#[test]
fn validation_guards_clean_a_value_on_the_passing_side_only() {
    let flagged = |code: &str, lang| !scan(code, lang).findings.is_empty();
    // A failed check that leaves, or replaces the value, guards what follows.
    let py = "import os, re\ndef f(name):\n    if not re.fullmatch(r\"[a-z]+\", name):\n        raise ValueError(name)\n    os.system(\"ls \" + name)\n";
    assert!(!flagged(py, Language::Python));
    let py = "import os\nALLOWED = {\"a\", \"b\"}\ndef f(name):\n    if name in ALLOWED:\n        os.system(\"ls \" + name)\n";
    assert!(!flagged(py, Language::Python));
    // Membership in a collection that is not constant proves nothing.
    let py = "import os\ndef f(name, seen):\n    if name not in seen:\n        os.system(\"ls \" + name)\n";
    assert!(flagged(py, Language::Python));
    // The failing branch of a negated check is not guarded.
    let py = "import os, re\ndef f(name):\n    if not re.fullmatch(r\"[a-z]+\", name):\n        os.system(\"echo bad \" + name)\n";
    assert!(flagged(py, Language::Python));
    // A check whose failing branch goes on does not guard what follows.
    let py = "import os, re\ndef f(name):\n    if not re.fullmatch(r\"[a-z]+\", name):\n        print(\"bad\")\n    os.system(\"ls \" + name)\n";
    assert!(flagged(py, Language::Python));
    // Weak checks: an unanchored pattern, a prefix that is not a directory.
    let js = "const cp = require(\"child_process\");\nfunction f(n) {\n  if (!/[a-z]+$/.test(n)) return;\n  cp.exec(\"ls \" + n);\n}\n";
    assert!(flagged(js, Language::JavaScript));
    let js = "const cp = require(\"child_process\");\nfunction f(n) {\n  if (!/^[a-z]+$/.test(n)) return;\n  cp.exec(\"ls \" + n);\n}\n";
    assert!(!flagged(js, Language::JavaScript));
    let py = "import os\ndef f(line):\n    if line.startswith(\"[\"):\n        os.system(line)\n";
    assert!(flagged(py, Language::Python));
    let php =
        "<?php\n$to = $_GET[\"to\"];\nif (!preg_match('#^[a-z]+$#', $to)) { $to = \"x\"; }\nsystem(\"ls \" . $to);\n";
    assert!(!flagged(php, Language::Php));
}

#[test]
fn a_methods_own_object_is_not_caller_input() {
    // `self.cmd` may hold anything, but it is not proven to come from the caller: the
    // computed-command rule reports it, the taint rule does not.
    let r = scan("import os\nclass T:\n    def run(self):\n        os.system(self.cmd)\n", Language::Python);
    assert_eq!(rules(&r), ["PY013"]);
    let r = scan("import os\nclass T:\n    def run(self, cmd):\n        os.system(cmd)\n", Language::Python);
    assert_eq!(rules(&r), ["PY001"]);
}

#[test]
fn computed_strings_are_seen_through_variables() {
    let code = "def f(db, scene):\n    sql = \"select * from t where s='{}'\".format(scene)\n    db.exec(sql)\n";
    assert_eq!(rules(&scan(code, Language::Python)), ["PY016"]);
    let code =
        "def f(db, scene):\n    sql = \"select * from t where s='{scene}'\"\n    db.exec(sql, {\"scene\": scene})\n";
    assert!(scan(code, Language::Python).findings.is_empty());
}

#[test]
fn self_referential_assignments_terminate() {
    let mut code = String::from("import os, sys\nx = sys.argv[1]\n");
    for _ in 0..300 {
        code.push_str("x = x + x\n");
    }
    code.push_str("os.system(x)\n");
    assert_eq!(rules(&scan(&code, Language::Python)), ["PY001"]);
}

#[test]
fn c_taint_through_snprintf_out_parameter() {
    let code = "void f(const char *h) { char c[64]; snprintf(c, sizeof c, \"ping %s\", h); system(c); }";
    assert_eq!(rules(&scan(code, Language::C)), ["C009"]);
    let code = "void f(void) { char c[64]; snprintf(c, sizeof c, \"ping %s\", \"localhost\"); system(c); }";
    assert!(scan(code, Language::C).findings.is_empty());
}

#[test]
fn sql_parameterised_vs_built() {
    let bad = "def f(cur, name):\n    cur.execute(\"SELECT * FROM t WHERE n = '\" + name + \"'\")\n";
    assert_eq!(rules(&scan(bad, Language::Python)), ["PY003"]);
    let good = "def f(cur, name):\n    cur.execute(\"SELECT * FROM t WHERE n = %s\", (name,))\n";
    assert!(scan(good, Language::Python).findings.is_empty());
}

// ---- qualified names ------------------------------------------------------------------

#[test]
fn python_aliases_resolve() {
    assert_eq!(rules(&scan("from yaml import load as l\nl(s)\n", Language::Python)), ["PY005"]);
    assert_eq!(
        rules(&scan("import subprocess as sp\ndef f(c):\n    sp.call(c, shell=True)\n", Language::Python)),
        ["PY002"]
    );
    // a local function that happens to be called `load` is not yaml.load
    assert!(scan("def load(x):\n    return x\nload(s)\n", Language::Python).findings.is_empty());
}

#[test]
fn javascript_imports_and_requires_resolve() {
    let r = scan(
        "const { exec: run } = require('child_process');\nfunction f(x) { run('ls ' + x); }",
        Language::JavaScript,
    );
    assert_eq!(rules(&r), ["JS001"]);
    let r = scan("import * as cp from 'child_process';\nfunction f(x) { cp.exec(`ls ${x}`); }", Language::TypeScript);
    assert_eq!(rules(&r), ["JS001"]);
}

#[test]
fn java_go_rust_imports_resolve() {
    let java = "import java.security.MessageDigest;\nclass A { void f() throws Exception { MessageDigest.getInstance(\"MD5\"); } }";
    assert_eq!(rules(&scan(java, Language::Java)), ["JAVA004"]);
    let go = "package p\nimport h \"crypto/md5\"\nfunc f(b []byte) { h.Sum(b) }\n";
    assert_eq!(rules(&scan(go, Language::Go)), ["GO004"]);
    let go_other = "package p\nimport h \"example.com/hash\"\nfunc f(b []byte) { h.Sum(b) }\n";
    assert!(scan(go_other, Language::Go).findings.is_empty());
    let rust = "use std::mem::{self as m, transmute as tm};\nfn f(x: u32) -> f32 { tm(x) }\nfn g(x: u32) -> f32 { m::transmute(x) }\n";
    assert_eq!(rules(&scan(rust, Language::Rust)), ["RS004", "RS004"]);
}

// ---- fragments -----------------------------------------------------------------------

#[test]
fn fragments_parse_in_every_language() {
    let cases: &[(Language, &str, &str)] = &[
        (Language::Java, "Cipher c = Cipher.getInstance(\"DES\");\nc.init(1, k);", "JAVA005"),
        (Language::Go, "out, _ := exec.Command(\"sh\", \"-c\", os.Args[1]).Output()\n_ = out", ""),
        (Language::CSharp, "var f = new BinaryFormatter();\nvar o = f.Deserialize(s);", "CS002"),
        (Language::Php, "$o = unserialize($_GET['x']);", "PHP002"),
        (Language::Rust, "let v = unsafe { p.read() };\nv + 1", "RS001"),
        (Language::C, "char b[4];\nstrcpy(b, s);\nreturn 0;", "C001"),
        (Language::Cpp, "auto p = std::make_unique<int>(1);\nstrcat(d, s);", "C002"),
    ];
    for (lang, code, rule) in cases {
        let r = scan(code, *lang);
        if !rule.is_empty() {
            assert!(rules(&r).contains(rule), "{lang}: {:?} {:?}", rules(&r), r.notes);
        }
        // spans refer to the text given, not to the wrapper
        for f in &r.findings {
            assert!(f.span.end_byte <= code.len(), "{lang}: span past the end");
            assert!(f.span.start_line >= 1 && f.span.start_line <= code.lines().count());
        }
    }
    let r = scan("Cipher c = Cipher.getInstance(\"DES\");", Language::Java);
    assert_eq!(r.findings[0].span.start_line, 1);
    assert_eq!(r.findings[0].span.start_column, 12);
    // a fragment that only parses inside a wrapper keeps its own line numbers
    let r = scan("x := f()\nreturn x", Language::Java);
    assert!(r.parse.wrapped_in.is_some());
    let r = scan("x := f();\nCipher c = Cipher.getInstance(\"DES\");\n", Language::Java);
    assert_eq!((r.findings[0].span.start_line, r.findings[0].span.start_column), (2, 12));
}

// ---- overrides -----------------------------------------------------------------------

const GOOD: &str =
    r#"justification="bounds checked by caller", approver="alice", approved="2026-03-01", ticket="SEC-7""#;

#[test]
fn justified_override_of_unsafe_keeps_memory_safe_false_and_suppresses() {
    let code = format!(
        "// sbd:allow(RS001, RS006, {GOOD})\nfn at(v: &[u32], i: usize) -> u32 {{\n    unsafe {{ *v.get_unchecked(i) }}\n}}\n"
    );
    let r = scan(&code, Language::Rust);
    assert!(r.findings.is_empty(), "{:?}", rules(&r));
    assert_eq!(r.suppressed.len(), 2);
    assert_eq!(r.overrides.len(), 1);
    assert!(r.overrides[0].valid);
    assert_eq!(r.overrides[0].scope, OverrideScope::Function);
    assert_eq!(r.overrides[0].covers_lines, (2, 4));
    assert_eq!(r.overrides[0].suppressed, 2);
    assert!(!r.properties.memory_safe);
    assert_eq!(r.properties.override_status, OverrideStatus::Justified);
    assert!(has_fact(&r, "rust.unsafe_block"));
    assert!(has_fact(&r, "rust.unchecked_access"));
}

#[test]
fn override_scopes() {
    // trailing comment: that statement only
    let code = format!("import os\ndef f(a, b):\n    os.system(a)  # sbd:allow(PY001, {GOOD})\n    os.system(b)\n");
    let r = scan(&code, Language::Python);
    assert_eq!(r.overrides[0].scope, OverrideScope::Statement);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].span.start_line, 4);
    // own line before a statement: the next statement
    let code = format!("import os\ndef f(a, b):\n    # sbd:allow(PY001, {GOOD})\n    os.system(a)\n    os.system(b)\n");
    let r = scan(&code, Language::Python);
    assert_eq!(r.overrides[0].scope, OverrideScope::Statement);
    assert_eq!(r.findings.len(), 1);
    // before a block statement: the block
    let code = format!(
        "void f(char *d, char *s) {{\n  // sbd:allow(C001, {GOOD})\n  if (d) {{\n    strcpy(d, s);\n    strcpy(d, s);\n  }}\n  strcpy(d, s);\n}}\n"
    );
    let r = scan(&code, Language::C);
    assert_eq!(r.overrides[0].scope, OverrideScope::Block);
    assert_eq!(r.suppressed.len(), 2);
    assert_eq!(r.findings.len(), 1);
    // file header followed by a blank line: the whole file
    let code = format!(
        "/* sbd:allow(C001, {GOOD}) */\n\nvoid f(char *d, char *s) {{ strcpy(d, s); }}\nvoid g(char *d, char *s) {{ strcpy(d, s); }}\n"
    );
    let r = scan(&code, Language::C);
    assert_eq!(r.overrides[0].scope, OverrideScope::File);
    assert!(r.findings.is_empty());
    assert_eq!(r.suppressed.len(), 2);
}

#[test]
fn override_only_suppresses_the_named_rule() {
    let code = format!("// sbd:allow(C002, {GOOD})\nvoid f(char *d, char *s) {{ strcpy(d, s); }}\n");
    let r = scan(&code, Language::C);
    assert_eq!(rules(&r), ["C001"]);
    assert_eq!(r.overrides[0].suppressed, 0);
}

#[test]
fn bad_overrides_are_findings_and_suppress_nothing() {
    let code = "// sbd:allow(RS001)\nfn f() { unsafe { g() } }\n";
    let r = scan(code, Language::Rust);
    let mut ids = rules(&r);
    ids.sort();
    assert_eq!(ids, ["OVR001", "OVR002", "RS001"]);
    assert_eq!(r.properties.override_status, OverrideStatus::Invalid);
    let code = "// sbd:allow(RS999, justification=\"x\", approver=\"y\")\nfn f() {}\n";
    assert_eq!(rules(&scan(code, Language::Rust)), ["OVR003"]);
    let code =
        "// sbd:allow(RS001, justification=\"x\", approver=\"y\", approved=\"2026-02-30\")\nfn f() { unsafe {} }\n";
    let r = scan(code, Language::Rust);
    let mut ids = rules(&r);
    ids.sort();
    assert_eq!(ids, ["OVR004", "RS001"]);
}

#[test]
fn overrides_work_in_every_comment_style() {
    let cases: &[(Language, String)] = &[
        (
            Language::Java,
            format!("class A {{\n  // sbd:allow(JAVA005, {GOOD})\n  Cipher c = Cipher.getInstance(\"DES\");\n}}"),
        ),
        (
            Language::Go,
            format!(
                "package p\nimport \"crypto/md5\"\n/* sbd:allow(GO004, {GOOD}) */\nfunc f(b []byte) {{ md5.Sum(b) }}\n"
            ),
        ),
        (
            Language::JavaScript,
            format!("const crypto = require('crypto');\ncrypto.createHash('md5'); // sbd:allow(JS004, {GOOD})\n"),
        ),
        (Language::Php, format!("<?php\n# sbd:allow(PHP002, {GOOD})\n$o = unserialize($_GET['x']);\n")),
        (
            Language::CSharp,
            format!(
                "class A {{\n  // sbd:allow(CS003, {GOOD})\n  byte[] F(byte[] b) {{ return MD5.HashData(b); }}\n}}"
            ),
        ),
    ];
    for (lang, code) in cases {
        let r = scan(code, *lang);
        assert!(r.findings.is_empty(), "{lang}: {:?}", rules(&r));
        assert_eq!(r.suppressed.len(), 1, "{lang}");
    }
}

// ---- facts and properties -------------------------------------------------------------

#[test]
fn facts_per_language() {
    let r = scan(
        "static mut X: u8 = 0;\nextern \"C\" { fn abs(x: i32) -> i32; }\nunsafe impl Send for T {}\nfn f(x: u32) -> f32 { unsafe { std::mem::transmute(x) } }\n",
        Language::Rust,
    );
    for f in ["rust.static_mut", "rust.extern_ffi", "rust.unsafe_impl", "rust.transmute", "rust.unsafe_block"] {
        assert!(has_fact(&r, f), "{f}");
    }
    assert!(!r.properties.memory_safe && !r.properties.type_safe);

    let r = scan("fn f(v: &[u8]) -> Option<&u8> { let b = Box::new(1); v.get(0) }\n", Language::Rust);
    assert!(r.properties.memory_safe && r.properties.type_safe);
    assert!(has_fact(&r, "rust.bounds_checked_get") && has_fact(&r, "rust.smart_pointer"));

    let r = scan(
        "package p\nimport \"unsafe\"\nfunc f(p *int) uintptr { defer g(); return uintptr(unsafe.Pointer(p)) }\n",
        Language::Go,
    );
    assert!(has_fact(&r, "go.unsafe") && has_fact(&r, "go.defer"));
    assert!(!r.properties.memory_safe);

    let r = scan("import ctypes\nwith open('f') as fh:\n    ctypes.memmove(a, b, 4)\n", Language::Python);
    assert!(has_fact(&r, "python.ctypes") && has_fact(&r, "python.with"));
    assert!(!r.properties.memory_safe);

    let r = scan("class A { unsafe void F(int* p) { fixed (byte* b = buf) { } } }", Language::CSharp);
    assert!(has_fact(&r, "csharp.unsafe") && has_fact(&r, "csharp.fixed"));

    let r =
        scan("class A { native void f(); void g() throws Exception { try (var in = open()) { } } }", Language::Java);
    assert!(has_fact(&r, "java.jni_native") && has_fact(&r, "java.try_with_resources"));
}

#[test]
fn sandboxing_and_resource_hazards() {
    let r = scan("import resource\nresource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n", Language::Python);
    assert!(r.properties.sandboxed);
    let r = scan(
        "int main(void) { prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); seccomp_load(ctx); chroot(\"/jail\"); }",
        Language::C,
    );
    assert!(r.properties.sandboxed);
    assert!(has_fact(&r, "c.chroot_namespaces"));
    let r = scan("print(1)\n", Language::Python);
    assert!(!r.properties.sandboxed && r.properties.resource_bounded);
    let r = scan("while True:\n    work()\n", Language::Python);
    assert!(!r.properties.resource_bounded);
    let r = scan("while True:\n    if work():\n        break\n", Language::Python);
    assert!(r.properties.resource_bounded);
    let r = scan("import sys\nn = int(sys.argv[1])\nbuf = [0] * n\n", Language::Python);
    assert!(r.properties.resource_bounded, "int() sanitises: the size is still input-driven but bounded by type");
    let r = scan("def f(n):\n    return [0] * n\n", Language::Python);
    assert!(!r.properties.resource_bounded);
}

// ---- outputs ------------------------------------------------------------------------

#[test]
fn text_output_has_source_line_and_caret() {
    let code = "import os\ndef f(c):\n    os.system(c)\n";
    let r = Scanner::new().unwrap().scan_path(code, Language::Python, Some("x.py"));
    let t = sbd_scan::output::render_text(&r, Some(code));
    assert!(t.contains("x.py:3:5: high[PY001]"), "{t}");
    assert!(t.contains("3 |     os.system(c)"), "{t}");
    assert!(t.contains("  |     ^^^^^^^^^^^^"), "{t}");
}

#[test]
fn sarif_has_required_structure_and_rule_docs() {
    let s = Scanner::new().unwrap();
    let r = s.scan_path("import os\ndef f(c):\n    os.system(c)  # sbd:allow(PY001, justification=\"j\", approver=\"a\")\n    os.system(c)\n", Language::Python, Some("x.py"));
    let v = sbd_scan::output::sarif(&[r], s.rules());
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), s.rules().len());
    for rule in rules {
        assert!(rule["id"].is_string() && rule["shortDescription"]["text"].is_string());
        assert!(rule["help"]["markdown"].as_str().unwrap().contains("## Why is this bad?"));
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for res in results {
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], res["ruleId"]);
        let region = &res["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(["error", "warning", "note", "none"].contains(&res["level"].as_str().unwrap()));
    }
    assert_eq!(results.iter().filter(|r| r.get("suppressions").is_some()).count(), 1);
}

#[test]
fn json_document_is_versioned() {
    let r = scan("strcpy(a, b);", Language::C);
    let v = sbd_scan::output::json_document(&[r], &[]);
    assert_eq!(v["schema"], "sbd-scan-report");
    assert_eq!(v["version"], sbd_scan::REPORT_SCHEMA_VERSION);
    assert_eq!(v["reports"][0]["findings"][0]["rule"], "C001");
    assert_eq!(v["reports"][0]["properties"]["memory_safe"], false);
}

// ---- ANRF ---------------------------------------------------------------------------

#[test]
fn anrf_of_a_justified_unsafe_unit_is_valid() {
    let code = format!("// sbd:allow(RS001, {GOOD})\nfn f(p: *const u8) -> u8 {{\n    unsafe {{ *p }}\n}}\n");
    let r = scan(&code, Language::Rust);
    let (inst, verdict) = sbd_scan::anrf::unit_anrf_validated(&r, "2026-03-02T10:00:00Z");
    assert!(verdict.is_valid(), "{:?}", verdict.violations);
    assert_eq!(inst["security"]["override_status"], true);
    assert_eq!(inst["semantics"]["entities"][0]["security_properties"]["memory_safe"], false);
    assert_eq!(inst["security"]["override_approval"]["approver_id"], "alice");
    assert_eq!(inst["security"]["override_approval"]["approval_timestamp"], "2026-03-01T00:00:00Z");
    let events = inst["security"]["audit_trail"].as_array().unwrap();
    assert!(events.iter().any(|e| e["event_type"] == "Override"));
}

#[test]
fn anrf_of_unjustified_unsafe_is_invalid_and_of_safe_code_is_valid() {
    let r = scan("fn f(p: *const u8) -> u8 { unsafe { *p } }\n", Language::Rust);
    let (_, verdict) = sbd_scan::anrf::unit_anrf_validated(&r, "2026-03-02T10:00:00Z");
    assert!(!verdict.is_valid());
    let r = scan("fn f(v: &[u8]) -> Option<u8> { v.first().copied() }\n", Language::Rust);
    let (_, verdict) = sbd_scan::anrf::unit_anrf_validated(&r, "2026-03-02T10:00:00Z");
    assert!(verdict.is_valid(), "{:?}", verdict.violations);
}

// ---- selection and extra rules ----------------------------------------------------------

#[test]
fn select_ignore_and_extra_rule_dirs() {
    let s = Scanner::builder().select(vec!["PY".into()]).build().unwrap();
    assert!(s.rules().iter().all(|r| r.id.starts_with("PY")));
    let s = Scanner::builder().ignore(vec!["C001".into()]).build().unwrap();
    assert!(s.scan("strcpy(a, b);", Language::C).findings.is_empty());
    assert!(Scanner::builder().select(vec!["NOPE".into()]).build().is_err());

    let dir = std::env::temp_dir().join(format!("sbd-scan-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("X001.toml"),
        r#"id = "X001"
title = "Call of frobnicate"
cwe = [676]
class = "MemorySafety"
severity = "low"
confidence = "high"
languages = ["c"]
message = "`{callee}` is banned here"
[match]
calls = ["frobnicate"]
[docs]
what = "w"
why = "y"
example = "frobnicate();"
use_instead = "tidy();"
references = ["https://cwe.mitre.org/data/definitions/676.html"]
[fixtures]
match = ["frobnicate(1);"]
no_match = ["tidy();"]
"#,
    )
    .unwrap();
    let extra = sbd_scan::catalog::load_dir(&dir).unwrap();
    let s = Scanner::builder().rules(extra).build().unwrap();
    let r = s.scan("int main(void) { frobnicate(); }", Language::C);
    assert_eq!(rules(&r), ["X001"]);
    assert_eq!(r.findings[0].message, "`frobnicate` is banned here");
    std::fs::write(dir.join("BAD.toml"), "id = \"bad id\"").unwrap();
    assert!(sbd_scan::catalog::load_dir(&dir).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn converted_kind_facts() {
    let r = scan(
        "class A { public: ~A() {} };\nA::~A() {}\nvoid f(char *d) { std::unique_ptr<int> p; long x = reinterpret_cast<long>(d); char *q = (char *) d; v.at(1); }\n",
        Language::Cpp,
    );
    for f in [
        "cpp.raii_destructor",
        "cpp.smart_pointer_type",
        "cpp.reinterpret_cast",
        "cpp.cast_pointer",
        "cpp.bounds_checked_at",
    ] {
        assert!(has_fact(&r, f), "{f}: {:?}", r.facts.iter().map(|f| &f.name).collect::<Vec<_>>());
    }
    assert!(!r.properties.type_safe);
    let r = scan("function f(x) { try { g(x) } finally { close() } const y = x as any; }", Language::TypeScript);
    assert!(has_fact(&r, "ts.try_finally") && has_fact(&r, "ts.any_cast"));
    let r = scan("try { g() } catch (e) {}", Language::JavaScript);
    assert!(!has_fact(&r, "js.try_finally"));
    let r = scan("class A { [DllImport(\"libc\")] static extern int abs(int x); }", Language::CSharp);
    assert!(has_fact(&r, "csharp.pinvoke"));
    let r = scan("package p\nimport \"C\"\nfunc f() {}\n", Language::Go);
    assert!(has_fact(&r, "go.cgo"));
}

#[test]
fn query_rules_with_captures_and_constraints() {
    let rule = sbd_scan::Rule::from_toml(
        "Q001.toml",
        r#"id = "Q001"
title = "open() of a world-writable path"
cwe = [377]
class = "PathTraversal"
severity = "low"
confidence = "medium"
languages = ["python"]
message = "{text}"
[match]
query = '(call function: (identifier) @f arguments: (argument_list . (string) @path . (string)? @mode)) @match'
[[match.where]]
capture = "f"
regex = "^open$"
[[match.where]]
capture = "path"
regex = "^[rbuf]*['\"]/tmp/"
[[match.not_inside]]
kind = ["with_statement"]
[docs]
what = "w"
why = "y"
example = "open('/tmp/x')"
use_instead = "open('x')"
references = ["https://cwe.mitre.org/data/definitions/377.html"]
"#,
    )
    .unwrap();
    let s = Scanner::builder().without_embedded_rules().rules(vec![rule]).build().unwrap();
    let ids = |code: &str| s.scan(code, Language::Python).findings.iter().map(|f| f.rule.clone()).collect::<Vec<_>>();
    assert_eq!(ids("f = open('/tmp/x', 'w')\n"), ["Q001"]);
    assert!(ids("f = open('/home/x')\n").is_empty());
    assert!(ids("with open('/tmp/x') as f:\n    pass\n").is_empty());
    assert!(ids("f = opener('/tmp/x')\n").is_empty());
    // a query that does not compile names its rule
    let bad = sbd_scan::Rule::from_toml(
        "Q002.toml",
        r#"id = "Q002"
title = "t"
cwe = [1]
class = "Injection"
severity = "low"
confidence = "low"
languages = ["python"]
message = "m"
[match]
query = "(no_such_node) @match"
[docs]
what = "w"
why = "y"
example = "e"
use_instead = "u"
references = ["r"]
"#,
    )
    .unwrap();
    let err = Scanner::builder().rules(vec![bad]).build().err().expect("fails").to_string();
    assert!(err.contains("Q002") || err.contains("no_such_node"), "{err}");
}

#[test]
fn rust_macro_arguments_are_scanned_beside_functions_without_macros() {
    // `plain` holds no macro: its finding comes from both the unit's scan and the macro
    // view's, and must be reported once. `shown` and `nested` hide `unsafe` in macro
    // arguments, one and two levels deep; their findings must sit at their own lines and
    // columns.
    let code = "fn plain(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n\
                fn shown(p: *const u8) {\n    println!(\"{}\", unsafe { *p });\n}\n\
                fn nested(p: *const u8) -> Vec<String> {\n    vec![format!(\"{}\", unsafe { *p })]\n}\n";
    let r = scan(code, Language::Rust);
    let lines: Vec<(usize, usize)> =
        r.findings.iter().filter(|f| f.rule == "RS001").map(|f| (f.span.start_line, f.span.start_column)).collect();
    assert_eq!(lines, [(2, 5), (5, 20), (8, 24)], "{:?}", rules(&r));
}
