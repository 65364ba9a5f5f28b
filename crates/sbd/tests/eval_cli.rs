//! `sbd eval`, `sbd gate` and `sbd monitor` end to end on the built-in suites (static oracles;
//! the functional tests run in the library's tests and with `--tests`).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sbd(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sbd")).current_dir(dir).args(args).output().expect("sbd runs")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-eval-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn selfcheck_passes() {
    let d = tmp("selfcheck");
    let o = sbd(&d, &["eval", "selfcheck", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pass"], true);
    assert_eq!(v["rows"].as_array().unwrap().len(), 4);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn run_gate_report_compare_history() {
    let d = tmp("run");
    // Secure references pass the gate, insecure ones fail it.
    let o = sbd(&d, &["eval", "run", "--suite", "all", "--references", "secure", "-o", "sec"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SCR"));
    // Without --tests, the tasks judged only by exploit tests are reported, not scored.
    assert!(text(&o).contains("102 of 780 tasks not judged for security"), "{}", text(&o));
    let o = sbd(&d, &["gate", "sec"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("gate: PASS"));
    // The insecure references as a replay file, through the replay backend.
    let o = sbd(&d, &["eval", "export-references", "--suite", "all", "--which", "insecure"]);
    assert!(o.status.success());
    std::fs::write(d.join("insecure.jsonl"), &o.stdout).unwrap();
    let o = sbd(&d, &["eval", "run", "--suite", "all", "--replay", "insecure.jsonl", "-o", "ins"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sbd(&d, &["gate", "ins", "--junit", "junit.xml"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let junit = std::fs::read_to_string(d.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure") && junit.contains("MSS"));
    // An edited policy: only SDC with a bound the insecure run meets.
    std::fs::write(d.join("p.toml"), "[[criterion]]\nname='sdc'\nmetric='SDC'\nmax=0.5\n").unwrap();
    let o = sbd(&d, &["gate", "ins", "--policy", "p.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // Reports.
    let o = sbd(&d, &["eval", "report", "sec"]);
    assert!(o.status.success(), "{}", text(&o));
    let html = std::fs::read_to_string(d.join("sec/report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("SCR per language") && html.contains("Trends"));
    assert!(std::fs::read_to_string(d.join("sec/report.md")).unwrap().contains("Gate: PASS"));
    // A/B: every task flips from insecure to secure.
    let o = sbd(&d, &["eval", "compare", "ins", "sec", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let scr = &v["comparisons"][0];
    assert_eq!(scr["metric"], "SCR");
    // 780 tasks, less the 102 that only exploit tests (not run here) can judge.
    assert_eq!(scr["only_b"], 678);
    assert!(scr["p_value"].as_f64().unwrap() < 1e-10);
    // Human review: export a sample, rate it, import; the gate then measures USS for the run.
    let o = sbd(&d, &["eval", "export-review", "sec", "--sample", "4"]);
    assert!(o.status.success(), "{}", text(&o));
    let rated: Vec<String> = std::str::from_utf8(&o.stdout)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["reviewer"] = "rev".into();
            v["explanation_clear"] = (i != 0).into();
            v.to_string()
        })
        .collect();
    assert_eq!(rated.len(), 4);
    std::fs::write(d.join("ratings.jsonl"), rated.join("\n")).unwrap();
    let o = sbd(&d, &["eval", "import-feedback", "ratings.jsonl"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sbd(&d, &["gate", "sec", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let uss = v["verdicts"].as_array().unwrap().iter().find(|x| x["criterion"]["metric"] == "USS").unwrap().clone();
    assert_eq!(uss["metric"]["value"], 0.75);
    assert_eq!(uss["status"], "fail");
    assert_eq!(o.status.code(), Some(1));
    // History has both runs.
    let o = sbd(&d, &["eval", "history", "--metric", "SCR", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn replay_with_missing_answers_fails_and_keeps_results() {
    let d = tmp("missing");
    let o = sbd(&d, &["eval", "export-references", "--suite", "sandboxbench", "--which", "secure"]);
    let lines: Vec<&str> = std::str::from_utf8(&o.stdout).unwrap().lines().take(10).collect();
    std::fs::write(d.join("part.jsonl"), lines.join("\n")).unwrap();
    let o = sbd(
        &d,
        &[
            "eval",
            "run",
            "--suite",
            "sandboxbench",
            "--replay",
            "part.jsonl",
            "--concurrency",
            "1",
            "-o",
            "r",
            "--no-db",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no completion for task"));
    let kept = std::fs::read_to_string(d.join("r/results.jsonl")).unwrap();
    assert_eq!(kept.lines().count(), 10);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn monitor_ingest() {
    let d = tmp("monitor");
    std::fs::write(
        d.join("gen.jsonl"),
        "{\"model\":\"m\",\"language\":\"python\",\"completion\":\"import os\\ndef f(x):\\n    os.system(x)\\n\"}\n\
         {\"model\":\"m\",\"language\":\"python\",\"completion\":\"def f(x):\\n    return x + 1\\n\"}\n",
    )
    .unwrap();
    let o = sbd(&d, &["monitor", "ingest", "gen.jsonl", "--db", "h.sqlite"]);
    assert!(o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("ingested 2 generations") && t.contains("\"compliance_rate\": 0.5"), "{t}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn openai_backend_needs_a_model_and_reports_connection_failures() {
    let d = tmp("openai");
    let o = sbd(&d, &["eval", "run", "--suite", "securebench", "--backend", "openai", "--no-db"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("needs --model"), "{}", text(&o));
    // Nothing listens on port 9 of localhost: retries, then a clear error.
    let o = sbd(
        &d,
        &[
            "eval",
            "run",
            "--suite",
            "securebench",
            "--limit",
            "1",
            "--backend",
            "openai",
            "--model",
            "m",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--retries",
            "0",
            "--timeout",
            "2",
            "--no-db",
            "-o",
            "r",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("gave up after 1 attempts"), "{}", text(&o));
    std::fs::remove_dir_all(&d).unwrap();
}
