//! `sbd pipeline`: every stage runs, the summary names what was built and the gate verdict,
//! a second run skips the finished stages, a changed setting reruns from the first stage it
//! affects, and bad settings are refused clearly.
use std::path::PathBuf;
use std::process::Command;

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-pipeline-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let o = cmd.output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn the_pipeline_runs_resumes_and_reruns_what_changed() {
    let d = tmp("run");
    let out = d.join("out");
    let cfg = d.join("small.toml");
    // Smaller than --quick, so the test stays short; the shared data are not needed.
    std::fs::write(
        &cfg,
        "pretrain_steps = 6\nsft_steps = 4\ndpo_steps = 3\nrl_steps = 1\nrl_keep_long_prompts = true\nmax_new_tokens = 32\neval_limit = 2\n",
    )
    .unwrap();
    let pipeline = |cfg: &PathBuf| {
        run(sbd()
            .args(["pipeline", "--quick", "--no-progress", "--shared", "/nonexistent", "--config"])
            .arg(cfg)
            .arg("-o")
            .arg(&out))
    };
    let (code, stdout, stderr) = pipeline(&cfg);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    for stage in [
        "data",
        "tokenizer",
        "pretrain",
        "sft",
        "dpo",
        "rl",
        "eval-base",
        "eval-tuned",
        "eval-repair",
        "gate",
        "report",
    ] {
        assert!(stderr.contains(&format!(" {stage} ")), "stage {stage} missing:\n{stderr}");
    }
    for line in ["dataset", "tokenizer", "pretrain", "sft", "dpo", "rl", "evaluation", "SCR", "MSS", "gate"] {
        assert!(stdout.lines().any(|l| l.trim_start().starts_with(line)), "summary lacks {line}:\n{stdout}");
    }
    assert!(stdout.contains("PASS") || stdout.contains("FAIL"), "{stdout}");
    let html = std::fs::read_to_string(out.join("report/report.html")).unwrap();
    assert!(html.contains("<svg") || html.contains("<table"), "report is not a report");
    let verdict: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("gate/verdict.json")).unwrap()).unwrap();
    assert!(verdict["pass"].is_boolean(), "{verdict}");
    assert!(out.join("gate/junit.xml").is_file());
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stages"].as_array().unwrap().len(), 11);
    assert_eq!(summary["notes"].as_array().unwrap().len(), 0, "quick uses the seed only: {summary}");
    for run in ["eval-base", "eval-tuned", "eval-repair"] {
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(run).join("run.json")).unwrap()).unwrap();
        assert_eq!(r["tasks"], 8, "{run}: 2 tasks of each of the 4 suites");
    }

    // Again: nothing to do.
    let (code, stdout, stderr) = pipeline(&cfg);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("(done earlier)").count(), 11, "{stderr}");

    // A new evaluation size reruns the evaluations and what follows, not the training.
    std::fs::write(
        &cfg,
        "pretrain_steps = 6\nsft_steps = 4\ndpo_steps = 3\nrl_steps = 1\nrl_keep_long_prompts = true\nmax_new_tokens = 32\neval_limit = 1\n",
    )
    .unwrap();
    let (code, stdout, stderr) = pipeline(&cfg);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(stderr.matches("(done earlier)").count(), 6, "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval-tuned/run.json")).unwrap()).unwrap();
    assert_eq!(r["tasks"], 4);

    // --strict turns a failed gate into exit 1 (a model trained for seconds fails it).
    let (code, stdout, _) = run(sbd()
        .args(["pipeline", "--quick", "--no-progress", "--strict", "--shared", "/nonexistent", "--config"])
        .arg(&cfg)
        .arg("-o")
        .arg(&out));
    if stdout.contains("gate         FAIL") {
        assert_eq!(code, Some(1));
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn bad_settings_are_refused_with_the_file_named() {
    let d = tmp("bad");
    let cfg = d.join("bad.toml");
    std::fs::write(&cfg, "pretrain_step = 3\n").unwrap();
    let (code, _, stderr) = run(sbd().args(["pipeline", "--config"]).arg(&cfg).arg("-o").arg(d.join("out")));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("bad.toml") && stderr.contains("pretrain_step"), "{stderr}");
    let (code, stdout, _) = run(sbd().args(["pipeline", "--quick", "--print-config"]));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("pretrain_steps = 120") && stdout.contains("sources = [\"seed\"]"), "{stdout}");
    std::fs::remove_dir_all(&d).unwrap();
}
