//! The model commands end to end on the embedded pairs (no ../shared needed): tokenizer,
//! pretraining with a kill and an exact resume, SFT, DPO, sweep, generation, export, bench.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-model-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SMALL: &[&str] = &[
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
    "--no-progress",
];

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

fn pretrain(dir: &Path, extra: &[&str]) -> Command {
    let mut c = sbd();
    c.args(["train", "pretrain", "-o"]).arg(dir).args(SMALL).args(["--steps", "14", "--checkpoint-every", "1"]);
    c.args(extra);
    c
}

#[test]
fn pretraining_resumes_exactly_after_a_kill() {
    let base = tmp("resume");
    let a = base.join("a");
    let b = base.join("b");
    let text = ok(&mut pretrain(&a, &[]));
    assert!(text.contains("property_auroc_insecure") && text.contains("mutants"), "{text}");
    // Kill the second run as soon as it has written a checkpoint, then resume it.
    let mut child = pretrain(&b, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while !b.join("checkpoint/training_state.safetensors").exists() && t.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed_at = std::fs::read_to_string(b.join("metrics.jsonl")).unwrap_or_default().lines().count();
    ok(&mut pretrain(&b, &["--resume"]));
    let ma = std::fs::read(a.join("model.safetensors")).unwrap();
    let mb = std::fs::read(b.join("model.safetensors")).unwrap();
    assert!(ma == mb, "resumed weights differ from the uninterrupted run (killed after {killed_at} steps)");
    let la = std::fs::read_to_string(a.join("metrics.jsonl")).unwrap();
    let lb = std::fs::read_to_string(b.join("metrics.jsonl")).unwrap();
    let loss = |s: &str| -> Vec<f64> {
        s.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"].as_f64().unwrap()).collect()
    };
    assert_eq!(loss(&la).len(), 14);
    assert_eq!(loss(&la), loss(&lb));
    for f in ["model.safetensors", "config.json", "tokenizer.json", "training_state.safetensors"] {
        assert!(b.join("checkpoint").join(f).is_file(), "{f}");
    }
    // Every held-out example's property score, for error analysis, agrees with eval.json.
    let held = std::fs::read_to_string(a.join("heldout.jsonl")).unwrap().lines().count();
    let scores: Vec<serde_json::Value> = std::fs::read_to_string(a.join("heldout_scores.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scores.len(), held);
    let eval = eval_json(&a);
    assert_eq!(eval["held_out_examples"].as_u64(), Some(held as u64));
    let flagged = scores.iter().filter(|s| s["insecure"] == true).count();
    assert_eq!(eval["held_out_insecure"].as_u64(), Some(flagged as u64));
    assert!(scores.iter().all(|s| s["id"].is_string()
        && s["logit"].is_number()
        && s["tag_log_odds"].is_number()
        && s["p_insecure"].as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))));

    // Generation (verification-guided) and export work on the result.
    let g = ok(sbd()
        .args(["generate", "--model"])
        .arg(&a)
        .args(["--language", "python", "--attempts", "2", "--max-new-tokens", "12", "--format", "json"])
        .arg("Look up a user by name in SQLite."));
    let v: serde_json::Value = serde_json::from_str(
        g.lines().take_while(|l| !l.starts_with("confidence")).collect::<Vec<_>>().join("\n").trim(),
    )
    .unwrap();
    assert!(v["confidence"].as_f64().is_some_and(|c| (0.0..=1.0).contains(&c)), "{g}");
    assert!(v["attempts"].as_u64().is_some_and(|n| (1..=2).contains(&n)));
    let e = base.join("hf");
    ok(sbd().args(["export", "hf", "--model"]).arg(&a).arg("-o").arg(&e));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(e.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["architectures"][0], "LlamaForCausalLM");
    assert!(e.join("model.safetensors").is_file() && e.join("tokenizer.json").is_file());

    // DPO from the pretrained model with LoRA and human feedback: before training the
    // policy is the reference, so every implicit reward margin is a tie (accuracy 0.5).
    let fb = base.join("feedback.jsonl");
    std::fs::write(
        &fb,
        [
            r#"{"task_id":"t1","prompt":"Look up a user.","answer":"db.execute(q, (name,))","explanation_accurate":true}"#,
            r#"{"task_id":"t1","prompt":"Look up a user.","answer":"db.execute(q + name)","explanation_accurate":false}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let d = base.join("dpo");
    let out = ok(sbd()
        .args(["train", "dpo", "--init"])
        .arg(&a)
        .arg("-o")
        .arg(&d)
        .args(SMALL)
        .args(["--steps", "2", "--lora-rank", "2", "--feedback"])
        .arg(&fb));
    assert!(out.contains("1 pairs from"), "{out}");
    let v = eval_json(&d);
    assert_eq!(v["reward_accuracy_before"]["accuracy"], 0.5, "{v}");
    assert!(v["reward_accuracy_after"]["accuracy"].is_number() && v["preference_accuracy_after"].is_number());
    assert!(d.join("adapter.safetensors").is_file() && d.join("model.safetensors").is_file());

    // SFT, then continual SFT on it with a replay buffer, reporting forgetting.
    let s = base.join("sft");
    ok(sbd().args(["train", "sft", "--init"]).arg(&a).arg("-o").arg(&s).args(SMALL).args(["--steps", "2"]));
    assert!(s.join("model.safetensors").is_file() && s.join("replay.jsonl").is_file());
    assert!(eval_json(&s)["held_out_loss"].is_number());
    let s2 = base.join("sft2");
    ok(sbd().args(["train", "sft", "--continue-from"]).arg(&s).arg("-o").arg(&s2).args(SMALL).args(["--steps", "2"]));
    let c = &eval_json(&s2)["continual"];
    assert!(c["replayed_chats"].as_u64().is_some_and(|n| n > 0) && c["forgetting"].is_number(), "{c}");
    let wrong = sbd()
        .args(["train", "pretrain", "--continue-from"])
        .arg(&s)
        .arg("-o")
        .arg(base.join("x"))
        .args(SMALL)
        .output()
        .unwrap();
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("sft run"));

    // RL from the SFT model: held-out compliance and parse rates before and after.
    // No reference answer fits in 8 tokens: by default that is an error that says what to do.
    let r = base.join("rl");
    let rl_args = ["--steps", "1", "--group", "2", "--max-new-tokens", "8", "--eval-limit", "3"];
    let short =
        sbd().args(["train", "rl", "--init"]).arg(&s).arg("-o").arg(&r).args(SMALL).args(rl_args).output().unwrap();
    assert!(!short.status.success() && String::from_utf8_lossy(&short.stderr).contains("--keep-long-prompts"));
    ok(sbd()
        .args(["train", "rl", "--init"])
        .arg(&s)
        .arg("-o")
        .arg(&r)
        .args(SMALL)
        .args(rl_args)
        .arg("--keep-long-prompts"));
    let v = eval_json(&r);
    assert_eq!(v["prompts_before_budget_filter"]["kept_long"], true);
    for k in ["compliance_before", "compliance_after", "parse_rate_before", "parse_rate_after"] {
        assert!(v[k].as_f64().is_some_and(|x| (0.0..=1.0).contains(&x)), "{k}: {v}");
    }
    std::fs::remove_dir_all(&base).ok();
}

fn eval_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("eval.json")).unwrap()).unwrap()
}

#[test]
fn sweep_ablation_tokenizer_and_bench() {
    let base = tmp("sweep");
    let out = ok(sbd().args(["train", "sweep", "-o"]).arg(&base).args(SMALL).args([
        "--steps",
        "2",
        "--ablate",
        "fim",
        "--ablate",
        "curriculum",
        "--grid",
        "lr=0.001,0.003",
    ]));
    assert!(out.contains("2 runs"), "{out}");
    let rows = std::fs::read_to_string(base.join("sweep.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 2);
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert_eq!(first["result"]["config"]["objectives"]["fim_rate"], 0.0);
    assert_eq!(first["result"]["config"]["curriculum"]["enabled"], false);
    assert_eq!(first["result"]["config"]["lr"], 0.001);
    let bad = sbd()
        .args(["train", "pretrain", "-o"])
        .arg(base.join("x"))
        .args(SMALL)
        .args(["--ablate", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let t = base.join("tok.json");
    ok(sbd().args(["tokenizer", "train", "--shared", "/nonexistent", "--vocab-size", "300", "-o"]).arg(&t));
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&t).unwrap()).unwrap();
    assert!(j["added_tokens"].as_array().unwrap().iter().any(|x| x["content"] == "<|anrf_intent|>"));

    let b = ok(sbd().args([
        "bench",
        "train",
        "--sizes",
        "tiny",
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
        "--vocab-size",
        "300",
        "--matmul",
        "128",
    ]));
    assert!(b.contains("MFU") && b.lines().any(|l| l.starts_with("tiny")), "{b}");
    std::fs::remove_dir_all(&base).ok();
}
