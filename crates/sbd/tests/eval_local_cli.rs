//! `sbd eval run --backend local`: a tiny checkpoint trained here (a few SFT steps on the
//! embedded pairs) answers a suite slice, and the run completes with metrics.

use std::path::PathBuf;
use std::process::Command;

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-eval-local-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_local_checkpoint_answers_a_suite_slice() {
    let base = tmp("run");
    let model = base.join("sft");
    let (ok, text) = run(sbd().args(["train", "sft", "-o"]).arg(&model).args([
        "--shared",
        "/nonexistent",
        "--preset",
        "tiny",
        "--vocab-size",
        "320",
        "--batch-size",
        "2",
        "--seq-len",
        "48",
        "--steps",
        "3",
        "--no-progress",
    ]));
    assert!(ok, "{text}");
    let out = base.join("eval");
    let (ok, text) = run(sbd()
        .args(["eval", "run", "--suite", "securebench", "--limit", "2", "--backend", "local", "--model"])
        .arg(&model)
        .args(["--max-new-tokens", "16", "--temperature", "0.7", "--seed", "3", "--guided", "--repair", "1"])
        .args(["--no-db", "--concurrency", "2", "-o"])
        .arg(&out));
    assert!(ok, "{text}");
    assert!(text.contains("backend local:sft+guided") && text.contains("SCR"), "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(summary["tasks"], 2);
    assert!(summary["metrics"].as_array().is_some_and(|m| m.iter().any(|m| m["name"] == "SCR")), "{summary}");
    let results = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 2);

    // The same seed gives the same answers.
    let again = base.join("again");
    let (ok, text) = run(sbd()
        .args(["eval", "run", "--suite", "securebench", "--limit", "2", "--backend", "local", "--model"])
        .arg(&model)
        .args(["--max-new-tokens", "16", "--temperature", "0.7", "--seed", "3", "--guided", "--repair", "1"])
        .args(["--no-db", "--concurrency", "1", "-o"])
        .arg(&again));
    assert!(ok, "{text}");
    let completions = |p: &PathBuf| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = std::fs::read_to_string(p.join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let r: serde_json::Value = serde_json::from_str(l).unwrap();
                (r["task_id"].as_str().unwrap().to_string(), r["completion"].as_str().unwrap().to_string())
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(completions(&out), completions(&again));

    // Tasks that require metadata get an ANRF instance in the answer, scored by MCC.
    let sandbox = base.join("sandbox");
    let (ok, text) = run(sbd()
        .args(["eval", "run", "--suite", "sandboxbench", "--limit", "1", "--backend", "local", "--model"])
        .arg(&model)
        .args(["--max-new-tokens", "16", "--seed", "3", "--no-db", "-o"])
        .arg(&sandbox));
    assert!(ok, "{text}");
    let answers = completions(&sandbox);
    assert!(answers.iter().all(|(_, c)| c.contains("```json") && c.contains("anrf_version")), "{answers:?}");
    assert!(text.contains("MCC.present"), "{text}");

    // Clear errors for a missing or wrong model directory.
    let (ok, text) = run(sbd().args(["eval", "run", "--suite", "securebench", "--backend", "local", "--no-db"]));
    assert!(!ok && text.contains("--backend local needs --model DIR"), "{text}");
    let (ok, text) = run(sbd().args([
        "eval",
        "run",
        "--suite",
        "securebench",
        "--backend",
        "local",
        "--model",
        "/nonexistent",
        "--no-db",
    ]));
    assert!(!ok && text.contains("not a model directory"), "{text}");
    std::fs::remove_dir_all(&base).ok();
}
