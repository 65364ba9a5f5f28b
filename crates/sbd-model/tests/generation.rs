//! Generation on tiny models trained in the test (a few dozen SFT steps on a handful of
//! answers, so their behaviour is known): verification-guided rollbacks, ANRF validation
//! with regeneration and the verifier's fallback, the `LocalModel` API, and the local eval
//! backend answering a suite slice.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use sbd_model::backend::LocalBackend;
use sbd_model::config::{ModelConfig, TrainConfig};
use sbd_model::data::Chat;
use sbd_model::format::{self, render, training_answer};
use sbd_model::generate::{AnrfSource, AnswerOptions, FinishReason, Sampling, VerifyOptions, answer};
use sbd_model::local::LocalModel;
use sbd_model::model::Model;
use sbd_model::tokenizer::Tok;
use sbd_model::train::{self, RunOptions, Task, save_model_dir};

const TASK: &str = "Run a command given by the user.";
const HEAD: &str = "import os\nimport subprocess\n\ndef run(cmd):\n";
const BAD: &str = "    os.system(cmd)\n";
const GOOD: &str = "    subprocess.run([cmd], check=True)\n";
const ANRF_TASK: &str = "Ping a host.";
const ANRF_CODE: &str = "import subprocess\n\ndef ping(host):\n    subprocess.run([\"ping\", host])\n";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-gen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// SFT on `chats` from a fresh tiny model; returns the saved directory.
fn train_dir(name: &str, chats: &[Chat], max_seq: usize, steps: usize) -> PathBuf {
    let texts: Vec<String> = chats.iter().map(|c| format!("{}\n{}", c.prompt, c.response)).collect();
    let tok = Tok::train(texts.iter().cycle().take(64), 600).unwrap();
    let cfg = ModelConfig { max_seq, ..ModelConfig::preset("tiny", tok.vocab_size()).unwrap() };
    let device = sbd_model::generate::default_device().autodiff();
    let model = Model::init(&cfg, &device, 7).unwrap();
    let tc = TrainConfig {
        steps,
        batch_size: chats.len().min(4),
        seq_len: max_seq,
        lr: 1e-2,
        min_lr: 1e-3,
        warmup: 5,
        checkpoint_every: 10_000,
        ..TrainConfig::default()
    };
    let dir = tmp(name);
    let opts = RunOptions { run_dir: &dir.join("run"), resume: false, stop_after: None, meta: None };
    let trained = train::train(model, &tok, &Task::Sft(chats), &tc, &opts, &mut |_| {}).unwrap();
    let plain = trained.to_device(&sbd_model::generate::default_device()).unwrap();
    let out = dir.join("model");
    save_model_dir(&plain, &tok, &out, Some(&tc), "sft").unwrap();
    out
}

/// A model that answers TASK with the insecure statement twice as often as the secure one.
fn rollback_model() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let ans = |body: &str| render("python", &format!("{HEAD}{body}"), None, Some("Runs the command."));
        let chats: Vec<Chat> =
            [BAD, BAD, GOOD, BAD, BAD, GOOD].iter().map(|b| Chat { prompt: TASK.into(), response: ans(b) }).collect();
        train_dir("rollback", &chats, 128, 150)
    })
}

fn greedy(n: usize) -> Sampling {
    Sampling { max_new_tokens: n, temperature: 0.0, top_k: 0, top_p: 1.0, seed: 0 }
}

fn verify(guided: bool) -> VerifyOptions {
    VerifyOptions { guided, ..VerifyOptions::for_language("python").unwrap() }
}

#[test]
fn guided_decoding_rolls_back_the_insecure_statement() {
    let m = LocalModel::load(rollback_model()).unwrap();
    let opts = |v: VerifyOptions| AnswerOptions { verify: Some(v), anrf: false, ..Default::default() };
    let plain = m.chat_with(&[("user", TASK)], &greedy(60), &opts(verify(false))).unwrap();
    assert!(plain.code.contains("os.system"), "the trained model prefers the insecure statement:\n{}", plain.raw);
    assert!(plain.blocking_findings.unwrap() >= 1 && plain.rollbacks == 0, "{plain:?}");
    let guided = m.chat_with(&[("user", TASK)], &greedy(60), &opts(verify(true))).unwrap();
    assert!(guided.rollbacks >= 1, "{guided:?}");
    assert_eq!(guided.blocking_findings, Some(0), "{}", guided.raw);
    assert!(guided.code.starts_with(HEAD) && guided.code.contains("subprocess.run"), "{}", guided.code);
    assert_eq!(guided.unresolved_statements, 0);
    assert_eq!(guided.rollback_rules.len(), guided.rollbacks);
    assert!(plain.rules.iter().all(|r| guided.rollback_rules[0].contains(r.as_str())), "{guided:?}");
    assert!(guided.generated_tokens > guided.completion_tokens, "rolled-back tokens count as generated");
    assert!((0.0..=1.0).contains(&guided.confidence));
    // With no retries allowed the statement is kept and reported as unresolved.
    let none = VerifyOptions { statement_retries: 0, ..verify(true) };
    let kept = m.chat_with(&[("user", TASK)], &greedy(60), &opts(none)).unwrap();
    assert_eq!((kept.rollbacks, kept.unresolved_statements), (0, 1), "{kept:?}");
    // Whole-answer repair: the repair prompt carries the finding; the best code is kept.
    let rep = VerifyOptions { guided: false, repair_rounds: 1, ..verify(false) };
    let r = m.chat_with(&[("user", TASK)], &greedy(60), &opts(rep)).unwrap();
    assert_eq!(r.repair_rounds, 1);
    assert!(r.blocking_findings <= plain.blocking_findings);
}

#[test]
fn answers_are_deterministic_and_report_usage() {
    let m = Arc::new(LocalModel::load(rollback_model()).unwrap());
    let s = Sampling { max_new_tokens: 40, temperature: 0.9, top_k: 20, top_p: 0.95, seed: 5 };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = Arc::clone(&m);
            let s = s.clone();
            std::thread::spawn(move || m.chat(&[("user", TASK)], &s, Some(verify(true))).unwrap())
        })
        .collect();
    let a: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(a[0].raw, a[1].raw);
    let a = &a[0];
    assert!(a.prompt_tokens > 0 && a.completion_tokens > 0 && a.completion_tokens <= 40);
    assert!(a.anrf.is_some(), "chat asks for ANRF: {a:?}");
    let short = m.chat(&[("user", TASK)], &greedy(5), None).unwrap();
    assert_eq!(short.finish_reason, FinishReason::Length);
    assert_eq!(short.completion_tokens, 5);
    let c = m.complete("import os\n", &greedy(8)).unwrap();
    assert!(c.completion_tokens <= 8 && c.prompt_tokens >= 2);
    assert_eq!(m.id(), "model");
    assert_eq!(m.stage(), Some("sft"));
    assert!(LocalModel::load(Path::new("/nonexistent")).err().unwrap().to_string().contains("not a model directory"));
    assert!(m.chat(&[("robot", TASK)], &s, None).is_err());
    assert!(m.chat(&[("user", TASK)], &greedy(0), None).unwrap_err().to_string().contains("max_new_tokens"));
}

const EXPLANATION: &str = "No weakness found.";

/// Short but valid layers for ANRF_CODE (the verifier's, with terse texts), so that a tiny
/// model learns them in a few steps.
fn compact_layers() -> format::Layers {
    let report = sbd_scan::scan(ANRF_CODE, sbd_scan::Language::Python);
    let inst = format::verifier_instance(&report, "m", Some(ANRF_TASK), "2026-01-01T00:00:00Z");
    let mut l = format::Layers::of(&inst).unwrap();
    l.intent["requirements"][0]["description"] = "safe".into();
    l.intent["requirements"][0]["verification_approach"] = "scan".into();
    let e = &mut l.semantics["entities"][0];
    e["name"] = "ping".into();
    e["properties"] = serde_json::json!({});
    let g = &mut e["security_properties"]["formal_guarantees"];
    *g = serde_json::json!([{"property_type": "MemorySafety", "property_description": "safe", "verification_approach": "scan"}]);
    l.execution["target_environment"]["runtime_version"] = "3".into();
    let (_, verdict) = format::assemble(&report, &l, "m", "2026-01-01T00:00:00Z");
    assert!(verdict.is_valid(), "{:?}", verdict.violations);
    l
}

#[test]
fn anrf_layers_are_validated_and_fall_back_to_the_verifier() {
    // An untrained model writes no valid layers: the verifier builds the instance.
    let tok =
        Tok::train([training_answer("python", ANRF_CODE, Some(ANRF_TASK), true).unwrap()].iter().cycle().take(32), 500)
            .unwrap();
    let cfg = ModelConfig { max_seq: 256, ..ModelConfig::preset("tiny", tok.vocab_size()).unwrap() };
    let raw = Model::init(&cfg, &sbd_model::generate::default_device(), 3).unwrap();
    let opts = AnswerOptions { verify: Some(verify(false)), anrf_attempts: 2, ..Default::default() };
    let a = answer(&raw, &tok, ANRF_TASK, &opts, &greedy(120)).unwrap();
    if a.finish_reason == FinishReason::Length && a.anrf_attempts == 0 {
        assert_eq!(a.anrf_problems, vec!["the token budget ran out in the code".to_string()]);
    } else {
        assert_eq!(a.anrf_attempts, 2, "{a:?}");
    }
    assert_eq!(a.anrf_source, AnrfSource::Verifier);
    assert!(!a.anrf_problems.is_empty());
    let inst = a.anrf.as_ref().unwrap();
    assert_eq!(inst["creator_id"], "sbd-model");
    assert_eq!(a.anrf_valid, sbd_anrf::validate(inst).is_valid());

    // A model trained on an answer writes its layers; they validate.
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let response = render("python", ANRF_CODE, Some(&compact_layers()), Some(EXPLANATION));
        train_dir("anrf", &[Chat { prompt: ANRF_TASK.into(), response }], 512, 180)
    });
    let m = LocalModel::load(dir).unwrap();
    let a = m.chat(&[("user", ANRF_TASK)], &greedy(480), Some(verify(true))).unwrap();
    assert_eq!(a.code, ANRF_CODE.trim_end(), "{}", a.raw);
    assert_eq!(a.anrf_source, AnrfSource::Model, "{:?}\n{}", a.anrf_problems, a.raw);
    assert!(a.anrf_valid && a.anrf_attempts == 1);
    let inst = a.anrf.unwrap();
    assert_eq!(inst["intent"]["description"], ANRF_TASK);
    assert_eq!(inst["creator_id"], "model");
    assert!(sbd_anrf::validate(&inst).is_valid());
    assert_eq!(a.explanation.as_deref(), Some(EXPLANATION));
    assert_eq!(a.finish_reason, FinishReason::Stop);
    assert_eq!(format::parse(&a.raw).code, a.code);
}

#[test]
fn local_backend_answers_a_suite_slice_with_repair() {
    use sbd_eval::backend::Backend;
    use sbd_eval::run::{RunOptions as EvalOptions, run_tasks};
    let m = Arc::new(LocalModel::load(rollback_model()).unwrap());
    let mut b = LocalBackend::new(m, greedy(48));
    b.guided = true;
    assert_eq!(b.name(), "local:model+guided");
    let mut tasks = sbd_eval::suite::builtin("securebench").unwrap();
    tasks.truncate(3);
    let dir = tmp("eval");
    let opts = EvalOptions { repair: 1, concurrency: 2, ..EvalOptions::default() };
    let (results, complete) =
        run_tasks(&b, &tasks, &dir, &opts, &std::sync::atomic::AtomicBool::new(false), &|_, _| {}).unwrap();
    assert!(complete);
    assert_eq!(results.len(), 3);
    for r in &results {
        assert!(r.completion.starts_with("```"), "{}", r.completion);
        assert!(r.latency_us > 0);
    }
    let again = b.complete(&sbd_eval::backend::Request {
        task: &tasks[0],
        mode: sbd_eval::backend::Mode::Instruct,
        repair: None,
        round: 0,
        sample: 0,
    });
    let first = results.iter().find(|r| r.task_id == tasks[0].id).unwrap();
    if first.repair_rounds == 0 {
        assert_eq!(again.unwrap(), first.completion, "same seed, same answer");
    }
}
