//! `sbd anrf …` end to end: exit codes, output formats and bad input.
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn fixtures() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../sbd-anrf/fixtures")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child =
        sbd().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn valid_fixtures_exit_0() {
    let out = sbd()
        .args(["anrf", "validate"])
        .arg(fixtures().join("valid/minimal.json"))
        .arg(fixtures().join("valid/override-approved.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = text(&out);
    assert!(s.contains("minimal.json: valid") && s.contains("2 instances: 2 valid, 0 invalid, 0 unreadable"), "{s}");
}

#[test]
fn every_invalid_fixture_prints_its_rule_and_pointer() {
    let expected = std::fs::read_to_string(fixtures().join("invalid/EXPECTED.tsv")).unwrap();
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let mut p = line.split('\t');
        let (file, rule, pointer) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap_or(""));
        let out = sbd().args(["anrf", "validate"]).arg(fixtures().join("invalid").join(file)).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{file}: {}", text(&out));
        let shown = if pointer.is_empty() { "(root)" } else { pointer };
        assert!(text(&out).contains(&format!("  {rule} {shown}: ")), "{file}: {}", text(&out));
    }
}

#[test]
fn json_format_is_machine_readable() {
    let out = sbd()
        .args(["anrf", "validate", "--format", "json"])
        .arg(fixtures().join("invalid/C5-override-unjustified.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["summary"]["invalid"], 1);
    let v = &doc["results"][0]["violations"][0];
    assert_eq!(v["rule"], "C5");
    assert_eq!(v["pointer"], "/security/override_justification");
    assert!(v["hint"].as_str().is_some_and(|h| !h.is_empty()));
}

#[test]
fn stdin_and_bad_input_get_clear_errors_and_exit_2() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "input is empty"),
        (b"not json", "not valid JSON at line 1, column 2"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"{\"a\": [1, 2", "not valid JSON"),
    ];
    for (input, needle) in cases {
        let out = run_stdin(&["anrf", "validate", "-"], input);
        assert_eq!(out.status.code(), Some(2), "{needle}: {}", text(&out));
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
    }
    // A non-object top level is an invalid instance (C0), not an I/O error.
    let out = run_stdin(&["anrf", "validate", "-"], b"[1, 2, 3]");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("C0 (root)"));
}

#[test]
fn nesting_100k_deep_is_refused_quickly() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let out = run_stdin(&["anrf", "validate", "-"], deep.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("deeper than 64 levels"), "{}", text(&out));
    let out = run_stdin(&["anrf", "validate", "--max-depth", "500", "-"], b"{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("max depth must be between 1 and 127"), "{}", text(&out));
}

#[test]
fn a_1_gb_file_is_refused_without_reading_it() {
    let dir = std::env::temp_dir().join(format!("sbd-anrf-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap(); // sparse: no disk used
    let out = sbd().args(["anrf", "validate"]).arg(&big).output().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("larger than the limit of 67108864 bytes"), "{}", text(&out));
    // Stdin is capped the same way.
    let out = run_stdin(&["anrf", "validate", "--max-bytes", "10", "-"], b"{\"anrf_version\": \"1.1.0\"}");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("larger than the limit of 10 bytes"), "{}", text(&out));
}

#[test]
fn missing_file_and_directory_are_errors_but_others_still_validate() {
    let out = sbd()
        .args(["anrf", "validate", "/nonexistent/x.json"])
        .arg(fixtures().join("valid/minimal.json"))
        .arg(fixtures())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let s = text(&out);
    assert!(
        s.contains("cannot open /nonexistent/x.json")
            && s.contains("minimal.json: valid")
            && s.contains("is a directory"),
        "{s}"
    );
}

#[test]
fn jsonl_validates_each_line() {
    let minimal = std::fs::read_to_string(fixtures().join("valid/minimal.json")).unwrap();
    let one_line: serde_json::Value = serde_json::from_str(&minimal).unwrap();
    let input = format!("{}\n\n{{\"anrf_version\": \"1.1.0\"}}\n", serde_json::to_string(&one_line).unwrap());
    let out = run_stdin(&["anrf", "validate", "--jsonl", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let s = text(&out);
    assert!(s.contains("-:1: valid") && s.contains("-:3: invalid"), "{s}");
}

#[test]
fn migrate_writes_a_valid_instance_atomically_and_is_idempotent() {
    let dir = std::env::temp_dir().join(format!("sbd-anrf-mig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let once = dir.join("once.json");
    let twice = dir.join("twice.json");
    let out = sbd()
        .args(["anrf", "migrate"])
        .arg(fixtures().join("migrate/v1.0-download.json"))
        .arg("-o")
        .arg(&once)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("migrated 1.0.0 -> 1.1.0") && text(&out).contains("result: valid"));
    let out = sbd().args(["anrf", "migrate", "--format", "json"]).arg(&once).arg("-o").arg(&twice).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["changed"], false);
    assert_eq!(std::fs::read(&once).unwrap(), std::fs::read(&twice).unwrap());
    let out = sbd().args(["anrf", "validate"]).arg(&once).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn migrate_to_stdout_and_refusals() {
    let out = sbd().args(["anrf", "migrate"]).arg(fixtures().join("migrate/v1.0-download.json")).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["anrf_version"], "1.1.0");
    assert!(String::from_utf8_lossy(&out.stderr).contains("result: valid"));
    let out = run_stdin(&["anrf", "migrate", "-"], b"{\"anrf_version\": \"3.0\"}");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot migrate"), "{}", text(&out));
}

#[test]
fn schema_and_rules_print() {
    let out = sbd().args(["anrf", "schema"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let out = sbd().args(["anrf", "rules", "--format", "json"]).output().unwrap();
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 29);
}
