//! `sbd scan`, `sbd rules`, `sbd explain` end to end.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn run(args: &[&str], dir: &Path) -> Output {
    sbd().args(args).current_dir(dir).output().expect("sbd runs")
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child =
        sbd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sbd runs");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    child.wait_with_output().expect("sbd finishes")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("sbd-scan-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn clean_code_exits_0_and_findings_exit_1() {
    let d = TempDir::new("exit");
    d.write("ok.py", "print('hello')\n");
    d.write("bad.c", "void f(char *d, char *s) { strcpy(d, s); }\n");
    let o = run(&["scan", "ok.py"], &d.0);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&["scan", "bad.c"], &d.0);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("bad.c:1:28: high[C001]"), "{out}");
    assert!(out.contains("^^^^^^^^^^^^"), "{out}");
    // --fail-on above the finding's severity
    let o = run(&["scan", "--fail-on", "critical", "bad.c"], &d.0);
    assert_eq!(o.status.code(), Some(0));
    // --ignore the rule
    let o = run(&["scan", "--ignore", "C001", "bad.c"], &d.0);
    assert_eq!(o.status.code(), Some(0));
    // --select another rule
    let o = run(&["scan", "--select", "PY", "bad.c"], &d.0);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn directories_are_walked_honouring_gitignore_in_parallel() {
    let d = TempDir::new("walk");
    std::fs::create_dir_all(d.0.join(".git")).expect("git dir");
    d.write(".gitignore", "build/\n");
    d.write("src/a.py", "import os\ndef f(c):\n    os.system(c)\n");
    d.write("src/b.go", "package p\nimport \"crypto/md5\"\nfunc f(b []byte) { md5.Sum(b) }\n");
    d.write("build/gen.py", "import os\ndef f(c):\n    os.system(c)\n");
    d.write("notes.txt", "strcpy(a, b);\n");
    let o = run(&["scan", "--format", "json", "--jobs", "2", "."], &d.0);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["schema"], "sbd-scan-report");
    let paths: Vec<&str> = v["reports"].as_array().unwrap().iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with("a.py")) && paths.iter().any(|p| p.ends_with("b.go")));
    assert!(!paths.iter().any(|p| p.contains("build")));
}

#[test]
fn stdin_with_lang_and_shebang() {
    let o = run_stdin(&["scan", "-", "--lang", "rust"], "fn f() { unsafe { g() } }\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("<stdin>:1:10: medium[RS001]"), "{}", stdout(&o));
    let o = run_stdin(&["scan", "-"], "#!/usr/bin/env python3\nimport pickle\npickle.loads(x)\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("PY004"));
    let o = run_stdin(&["scan", "-"], "no idea what this is\n");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sarif_output() {
    let d = TempDir::new("sarif");
    d.write("x.js", "const crypto = require('crypto');\ncrypto.createHash('md5');\n");
    let o = run(&["scan", "--format", "sarif", "x.js"], &d.0);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("sarif json");
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "JS004");
    assert_eq!(v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
}

#[test]
fn anrf_output_validates() {
    let d = TempDir::new("anrf");
    d.write(
        "ok.rs",
        "// sbd:allow(RS001, justification=\"FFI buffer checked above\", approver=\"alice\", approved=\"2026-03-01\")\nfn f(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n",
    );
    d.write("bad.rs", "fn f(p: *const u8) -> u8 { unsafe { *p } }\n");
    let o = run(&["scan", "--anrf", "ok.rs"], &d.0);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let unit = &v["units"][0];
    assert_eq!(unit["valid"], true);
    // the emitted instance also validates through the ANRF crate on its own
    let report = sbd_anrf::validate(&unit["anrf"]);
    assert!(report.is_valid(), "{:?}", report.violations);
    assert_eq!(unit["anrf"]["semantics"]["entities"][0]["security_properties"]["memory_safe"], false);
    let o = run(&["scan", "--anrf", "bad.rs"], &d.0);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["units"][0]["valid"], false);
}

#[test]
fn bad_inputs_are_notes_or_errors_never_crashes() {
    let d = TempDir::new("bad");
    d.write("bin.c", "\u{0}\u{1}\u{2}ELF");
    std::fs::write(d.0.join("latin1.py"), b"x = '\xe9'\nimport os\ndef f(c):\n    os.system(c)\n").expect("write");
    d.write("big.py", &"x = 1\n".repeat(2000));
    let o = run(&["scan", "--max-bytes", "1000", "bin.c", "latin1.py", "big.py"], &d.0);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("bin.c: note: not scanned: binary"), "{out}");
    assert!(out.contains("latin1.py: note: invalid UTF-8"), "{out}");
    assert!(out.contains("big.py: note: not scanned: 12000 bytes exceeds the size limit"), "{out}");
    // a missing path is an error (exit 2) but the other files are still scanned
    let o = run(&["scan", "missing.py", "latin1.py"], &d.0);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("missing.py: error: cannot read"));
    assert!(stdout(&o).contains("PY001"));
    // a symlink loop does not hang the walk
    #[cfg(unix)]
    {
        std::fs::create_dir_all(d.0.join("loop")).expect("dir");
        let _ = std::os::unix::fs::symlink(d.0.join("loop"), d.0.join("loop/again"));
        let o = run(&["scan", "loop"], &d.0);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        let _ = std::os::unix::fs::symlink(d.0.join("self"), d.0.join("self"));
        let o = run(&["scan", "self"], &d.0);
        assert_eq!(o.status.code(), Some(2));
    }
}

#[test]
fn extra_rules_directory() {
    let d = TempDir::new("rules");
    d.write(
        "rules/X001.toml",
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
"#,
    );
    d.write("x.c", "int main(void) { frobnicate(); }\n");
    let o = run(&["scan", "--rules", "rules", "x.c"], &d.0);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("low[X001] `frobnicate` is banned here"), "{}", stdout(&o));
    let o = run(&["explain", "x001", "--rules", "rules"], &d.0);
    assert!(stdout(&o).contains("# X001 — Call of frobnicate"));
    d.write("broken/Y.toml", "id = 3");
    let o = run(&["scan", "--rules", "broken", "x.c"], &d.0);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn rules_and_explain() {
    let d = TempDir::new("list");
    let o = run(&["rules"], &d.0);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("PY002") && out.contains("RS001") && out.contains("C001"));
    let o = run(&["rules", "--format", "json"], &d.0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(v.as_array().unwrap().len() >= 40);
    let o = run(&["rules", "--format", "markdown", "--lang", "go"], &d.0);
    let out = stdout(&o);
    assert!(out.contains("## Why is this bad?") && out.contains("GO001") && !out.contains("PY001"));
    let o = run(&["explain", "PY005"], &d.0);
    let out = stdout(&o);
    for section in ["## What it does", "## Why is this bad?", "## Example", "## Use instead", "## References"] {
        assert!(out.contains(section), "{section}");
    }
    let o = run(&["explain", "PY999"], &d.0);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("PY001"));
}

/// `--format sarif` output validates against the SARIF 2.1.0 JSON Schema (checked with
/// Python's `jsonschema`, which CI installs through `.ci/deps/scan.sh`; outside CI the test
/// says so and passes when that module is missing).
#[test]
fn sarif_validates_against_the_schema() {
    let has_jsonschema = Command::new("python3")
        .args(["-c", "import jsonschema"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_jsonschema {
        assert!(std::env::var_os("CI").is_none(), "CI must install python3 jsonschema (.ci/deps/scan.sh)");
        eprintln!("skipped: python3 with jsonschema not available");
        return;
    }
    let d = TempDir::new("sarif-schema");
    d.write("a.py", "import os, pickle\ndef f(c, b):\n    os.system(c)\n    pickle.loads(b)  # sbd:allow(PY004, justification=\"trusted\", approver=\"a\")\n");
    d.write("b.rs", "// sbd:allow(RS001)\nfn f(p: *const u8) -> u8 { unsafe { *p } }\n");
    d.write("c.c", "int main(int argc, char **argv) { char b[4]; strcpy(b, argv[1]); printf(argv[2]); }\n");
    let o = run(&["scan", "--format", "sarif", "a.py", "b.rs", "c.c"], &d.0);
    assert_eq!(o.status.code(), Some(1));
    let sarif_path = d.0.join("out.sarif");
    std::fs::write(&sarif_path, &o.stdout).expect("write sarif");
    let schema = manifest_dir().join("../sbd-scan/tests/data/sarif-2.1.0-rtm.5.json");
    let script = "import json, sys, jsonschema\n\
                  schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))\n\
                  cls = jsonschema.validators.validator_for(schema)\n\
                  errs = list(cls(schema).iter_errors(doc))\n\
                  [print(list(e.path), e.message[:300]) for e in errs[:20]]\n\
                  sys.exit(1 if errs else 0)\n";
    let v = Command::new("python3").arg("-c").arg(script).arg(&schema).arg(&sarif_path).output().expect("python3 runs");
    assert!(v.status.success(), "SARIF schema violations:\n{}{}", stdout(&v), String::from_utf8_lossy(&v.stderr));
    // and the validator does reject a broken log
    let mut broken: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    std::fs::write(&sarif_path, serde_json::to_vec(&broken).expect("json")).expect("write");
    let v = Command::new("python3").arg("-c").arg(script).arg(&schema).arg(&sarif_path).output().expect("python3 runs");
    assert!(!v.status.success());
}

#[test]
fn the_rule_reference_in_docs_is_generated_from_the_rules() {
    let o = sbd().args(["rules", "--format", "markdown"]).output().unwrap();
    assert!(o.status.success());
    let docs = manifest_dir().join("../../docs/rules.md");
    let committed = std::fs::read_to_string(&docs).unwrap();
    assert!(
        committed == String::from_utf8_lossy(&o.stdout),
        "docs/rules.md is out of date: regenerate it with `sbd rules --format markdown > docs/rules.md`"
    );
}

/// This crate's folder, read at run time (a test binary reused from a build of the same
/// sources in another checkout would carry that checkout's compile-time path).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
}
