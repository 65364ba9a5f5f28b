//! `sbd train pretrain|sft|dpo|rl|sweep` — train the security-aware model.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sbd_model::config::{LoraConfig, ModelConfig, Precision, TrainConfig};
use sbd_model::curriculum::Meta;
use sbd_model::data::{self, Chat, CodeExample, Pair, PairKind};
use sbd_model::model::Model;
use sbd_model::tokenizer::Tok;
use sbd_model::train::{self, RunOptions, StepLog, Task};
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum TrainCommand {
    /// Pretraining objectives (next token, fill-in-the-middle, security properties, token
    /// tags, explanations, code–metadata consistency, adversarial mutants) on
    /// verifier-labelled code under a curriculum; reports the property head's held-out AUROC
    /// and calibration.
    Pretrain(TrainArgs),
    /// Supervised fine-tuning on chats (`{"messages": [...]}` JSONL) or task → secure code
    /// from the corpus; reports the held-out loss.
    Sft(TrainArgs),
    /// Direct preference optimisation on `{"prompt","chosen","rejected"}` JSONL, the corpus'
    /// pairs (secure over insecure sides, originals over their mutants, justified over
    /// unjustified overrides) and rated review files (`--feedback`), against a frozen copy of
    /// the initial model; reports held-out preference accuracy before and after.
    Dpo(DpoArgs),
    /// Reinforcement learning (GRPO-style) with the verifier's reward (the formula of
    /// `POST /v1/reward`, functional tests in the sandbox when a prompt has them) and a KL
    /// penalty to the initial model, on `{"prompt","language",…}` JSONL or the corpus' task
    /// prompts; reports held-out compliance and parse rates before and after.
    Rl(RlArgs),
    /// Pretraining runs over a grid (`--grid lr=1e-3,3e-3 --grid batch_size=4,8`), each in its
    /// own directory with its config, plus `sweep.jsonl` comparing them; `--ablate` applies to
    /// every run.
    Sweep(SweepArgs),
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PrecisionArg {
    F32,
    Bf16,
    F16,
}

#[derive(Args, Clone)]
pub struct TrainArgs {
    /// Training data: a dataset built by `sbd data build` (a directory with manifest.json;
    /// its eval split is held out) or JSONL (format by mode). Default: the seed corpus,
    /// SVEN/SafeCoder pairs under --shared and the embedded pairs, with verifier-confirmed
    /// mutants and override scenarios.
    #[arg(long)]
    pub data: Option<PathBuf>,
    #[arg(long, default_value = "../shared/data")]
    pub shared: PathBuf,
    /// Training hyperparameters as JSON (fields of TrainConfig; flags below override).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Start from this model directory (required for a meaningful SFT/DPO).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continual learning: start from this earlier run's model, mix a replay buffer of its
    /// training data into the new data (--replay-fraction), and report forgetting on its
    /// held-out evaluation (pretrain and sft).
    #[arg(long, conflicts_with = "init")]
    pub continue_from: Option<PathBuf>,
    /// Replay rows as a fraction of the new training data (with --continue-from).
    #[arg(long, default_value_t = 0.25)]
    pub replay_fraction: f64,
    /// Model size preset when starting from scratch: tiny, mini, small, base, 350m, 1b, 7b.
    #[arg(long, default_value = "tiny")]
    pub preset: String,
    /// Model architecture as JSON (fields of ModelConfig; vocab_size is the tokenizer's)
    /// instead of a preset.
    #[arg(long)]
    pub model_config: Option<PathBuf>,
    /// Tokenizer when starting from scratch (default: train one of --vocab-size on the data).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    #[arg(long, default_value_t = 2048)]
    pub vocab_size: usize,
    /// Run directory: checkpoint/, metrics.jsonl, final model, eval.json.
    #[arg(short, long)]
    pub output: PathBuf,
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    #[arg(long)]
    pub grad_accum: Option<usize>,
    #[arg(long)]
    pub seq_len: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub warmup: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// DPO β.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Switch off an objective (next_token, fim, property, tags, explanation, consistency,
    /// adversarial), the curriculum (curriculum) or the override scenarios (overrides);
    /// repeatable.
    #[arg(long)]
    pub ablate: Vec<String>,
    /// Train LoRA adapters of this rank instead of all weights (merged at the end).
    #[arg(long)]
    pub lora_rank: Option<usize>,
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f64,
    /// Comma-separated projections for LoRA (default: all seven).
    #[arg(long, value_delimiter = ',')]
    pub lora_targets: Vec<String>,
    /// Recompute memory-bound activations in the backward pass (less memory, more time).
    #[arg(long)]
    pub gradient_checkpointing: bool,
    /// Split each batch into N shards trained at the same time, one thread each, with their
    /// gradients averaged (default: one per core; a resumed run keeps its checkpoint's N).
    #[arg(long, value_name = "N")]
    pub data_parallel: Option<usize>,
    /// Precision of the transformer blocks (bf16/f16: mixed, f32 master weights).
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionArg>,
    /// Continue from the run directory's checkpoint (exactly where it stopped).
    #[arg(long)]
    pub resume: bool,
    /// Skip code longer than this many bytes.
    #[arg(long, default_value_t = 4000)]
    pub max_bytes: usize,
    /// At most this many held-out items are evaluated.
    #[arg(long, default_value_t = 200)]
    pub eval_limit: usize,
    /// Leave the mutants and override scenarios out of the default corpus.
    #[arg(long)]
    pub no_variants: bool,
    /// No progress line.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Args)]
pub struct DpoArgs {
    #[command(flatten)]
    pub base: TrainArgs,
    /// Human feedback: rated `sbd eval export-review` rows or `{"prompt","chosen","rejected"}`
    /// rows (repeatable); their pairs join the training pairs.
    #[arg(long)]
    pub feedback: Vec<PathBuf>,
}

#[derive(Args)]
pub struct RlArgs {
    #[command(flatten)]
    pub base: TrainArgs,
    /// Answers sampled per prompt.
    #[arg(long, default_value_t = 4)]
    pub group: usize,
    /// KL penalty coefficient.
    #[arg(long, default_value_t = 0.05)]
    pub kl_beta: f64,
    #[arg(long, default_value_t = 48)]
    pub max_new_tokens: usize,
    /// Sampling temperature for training and evaluation answers.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Top-k filter of the sampler (0: off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus (top-p) filter of the sampler (1: off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Answers sampled per held-out prompt for the before/after evaluation.
    #[arg(long, default_value_t = 1)]
    pub eval_samples: usize,
    /// Keep prompts whose reference answer is longer than --max-new-tokens (by default they
    /// are left out of training and evaluation: no answer within the budget can parse).
    #[arg(long)]
    pub keep_long_prompts: bool,
}

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub base: TrainArgs,
    /// `NAME=V1,V2,…` for lr, batch_size, seq_len, steps, warmup, weight_decay (repeatable).
    #[arg(long, required = true)]
    pub grid: Vec<String>,
}

/// The data parallelism recorded in the checkpoint a `--resume` continues from.
fn resumed_data_parallel(a: &TrainArgs) -> Option<usize> {
    let dir = train::checkpoint_dir(&a.output).filter(|_| a.resume)?;
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    let c: train::DirConfig = serde_json::from_str(&text).ok()?;
    c.train.map(|t| t.data_parallel)
}

fn train_config(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut dp_in_file = false;
    let mut c = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let c: TrainConfig =
                serde_json::from_str(&text).with_context(|| format!("{}: not a training config", p.display()))?;
            dp_in_file =
                serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v.get("data_parallel").is_some());
            c
        }
        None => TrainConfig::default(),
    };
    if let Some(v) = a.steps {
        c.steps = v;
    }
    if let Some(v) = a.batch_size {
        c.batch_size = v;
    }
    if let Some(v) = a.grad_accum {
        c.grad_accum = v;
    }
    if let Some(v) = a.seq_len {
        c.seq_len = v;
    }
    if let Some(v) = a.lr {
        c.lr = v;
        c.min_lr = v / 10.0;
    }
    if let Some(v) = a.warmup {
        c.warmup = v;
    }
    if let Some(v) = a.seed {
        c.seed = v;
    }
    if let Some(v) = a.checkpoint_every {
        c.checkpoint_every = v;
    }
    if let Some(v) = a.beta {
        c.dpo_beta = v;
    }
    for o in &a.ablate {
        c.ablate(o)?;
    }
    if let Some(r) = a.lora_rank {
        let mut l = LoraConfig { rank: r, alpha: a.lora_alpha, ..Default::default() };
        if !a.lora_targets.is_empty() {
            l.targets = a.lora_targets.clone();
        }
        l.validate()?;
        c.lora = Some(l);
    }
    c.gradient_checkpointing |= a.gradient_checkpointing;
    c.data_parallel = match a.data_parallel {
        Some(n) => n,
        // A resumed run takes the same shards as before, so it continues exactly.
        None => resumed_data_parallel(a)
            .or(dp_in_file.then_some(c.data_parallel))
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    anyhow::ensure!(c.data_parallel > 0, "--data-parallel must be at least 1");
    if let Some(p) = a.precision {
        c.precision = match p {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::Bf16 => Precision::Bf16,
            PrecisionArg::F16 => Precision::F16,
        };
    }
    c.warmup = c.warmup.min(c.steps / 5 + 1);
    anyhow::ensure!(
        c.batch_size > 0 && c.steps > 0 && c.seq_len >= 8,
        "steps, batch size and seq_len must be positive"
    );
    anyhow::ensure!((0.0..=1.0).contains(&a.replay_fraction), "--replay-fraction must be in [0, 1]");
    Ok(c)
}

/// The live progress line: step, loss per objective, tokens/s, ETA.
fn progress(quiet: bool) -> impl FnMut(&StepLog) {
    let bar = (!quiet).then(|| {
        let b = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:20} {pos}/{len} {msg}") {
            b.set_style(style.progress_chars("=> "));
        }
        b
    });
    move |l: &StepLog| {
        let Some(b) = &bar else { return };
        b.set_length(l.steps as u64);
        b.set_position(l.step as u64);
        let parts: Vec<String> = l.parts.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
        b.set_message(format!(
            "loss {:.4} [{}] lr {:.2e} | {:.0} tok/s | ETA {:.0} s",
            l.loss,
            parts.join(", "),
            l.lr,
            l.tokens_per_s,
            l.eta_s
        ));
        if l.step == l.steps {
            b.finish();
        }
    }
}

/// Where the run starts: the `--init` or `--continue-from` model directory.
fn init_dir(a: &TrainArgs) -> Option<&Path> {
    a.init.as_deref().or(a.continue_from.as_deref())
}

/// The model and tokenizer to start from: `--init`/`--continue-from`, or a fresh model of
/// `--preset` / `--model-config` with a tokenizer from `--tokenizer` or trained on `texts`.
fn start(a: &TrainArgs, texts: &[String]) -> anyhow::Result<(Model, Tok)> {
    let device = sbd_model::generate::default_device().autodiff();
    // A resumed run keeps the tokenizer and model of its checkpoint.
    let ckpt = if a.resume { train::checkpoint_dir(&a.output) } else { None };
    if let Some(dir) = ckpt.as_deref().or(init_dir(a)) {
        let (m, t, _) = train::load_model_dir(dir, &device).with_context(|| format!("loading {}", dir.display()))?;
        return Ok((m, t));
    }
    let tok = match &a.tokenizer {
        Some(p) => Tok::load(p)?,
        None => Tok::train(texts.iter(), a.vocab_size)?,
    };
    let cfg = match &a.model_config {
        Some(p) => {
            let mut c: ModelConfig =
                serde_json::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                    .with_context(|| format!("{}: not a model config", p.display()))?;
            c.vocab_size = tok.vocab_size();
            c.validate()?;
            c
        }
        None => ModelConfig::preset(&a.preset, tok.vocab_size())?,
    };
    Ok((Model::init(&cfg, &device, a.seed.unwrap_or(0))?, tok))
}

fn write_eval(out: &Path, v: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("eval.json"), serde_json::to_string_pretty(v)?)?;
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn split<T: Clone>(items: &[(T, bool)]) -> (Vec<T>, Vec<T>) {
    let mut tr = Vec::new();
    let mut ev = Vec::new();
    for (x, held) in items {
        if *held { ev.push(x.clone()) } else { tr.push(x.clone()) }
    }
    (tr, ev)
}

/// The examples of `--data` (a dataset directory or pretraining JSONL) or the default corpus.
fn corpus(a: &TrainArgs) -> anyhow::Result<Vec<CodeExample>> {
    let c = match &a.data {
        Some(p) if data::is_dataset_dir(p) => data::dataset_examples(p, a.max_bytes)?,
        Some(p) => {
            let ex = data::read_jsonl(p)?
                .iter()
                .enumerate()
                .map(|(i, r)| data::code_from_row(r, i))
                .collect::<Result<Vec<_>, _>>()?;
            data::Corpus { note: format!("{} rows of {}", ex.len(), p.display()), examples: ex }
        }
        None => data::default_corpus(&a.shared, a.max_bytes, !a.no_variants)?,
    };
    eprintln!("data: {}", c.note);
    Ok(c.examples)
}

/// A deterministic sample of at most `k` items (by a hash of their position and `salt`).
fn sample<T: Clone>(items: &[T], k: usize, salt: u64) -> Vec<T> {
    if items.len() <= k {
        return items.to_vec();
    }
    let mut idx: Vec<usize> = (0..items.len()).collect();
    sbd_model::rng::Rng::new(salt).shuffle(&mut idx);
    idx.truncate(k);
    idx.sort_unstable();
    idx.into_iter().map(|i| items[i].clone()).collect()
}

const REPLAY_ROWS: usize = 4000;

fn write_jsonl(path: &Path, rows: impl IntoIterator<Item = Value>) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("{}", path.display()))?);
    for r in rows {
        writeln!(f, "{r}")?;
    }
    f.flush()?;
    Ok(())
}

fn code_rows(ex: &[CodeExample]) -> Vec<Value> {
    ex.iter().map(|e| json!({"id": e.id, "language": e.language, "code": e.code})).collect()
}

fn chat_rows(ch: &[Chat]) -> Vec<Value> {
    ch.iter()
        .map(|c| json!({"messages": [{"role": "user", "content": c.prompt}, {"role": "assistant", "content": c.response}]}))
        .collect()
}

/// The earlier run of `--continue-from`: its replay rows, held-out rows and evaluation.
struct Previous {
    replay: Vec<Value>,
    held_out: Vec<Value>,
    eval: Value,
}

fn previous(a: &TrainArgs, stage: &str) -> anyhow::Result<Option<Previous>> {
    let Some(dir) = &a.continue_from else { return Ok(None) };
    let read = |f: &str| -> anyhow::Result<Vec<Value>> {
        let p = dir.join(f);
        anyhow::ensure!(
            p.is_file(),
            "{}: missing; --continue-from needs a run made by `sbd train {stage}`",
            p.display()
        );
        Ok(data::read_jsonl(&p)?)
    };
    let eval: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("eval.json"))
            .with_context(|| format!("{}: no eval.json (was the earlier run finished?)", dir.display()))?,
    )?;
    anyhow::ensure!(
        eval["stage"] == stage,
        "{} is a {} run; continue it with `sbd train {}`",
        dir.display(),
        eval["stage"].as_str().unwrap_or("unknown"),
        eval["stage"].as_str().unwrap_or("?")
    );
    Ok(Some(Previous { replay: read("replay.jsonl")?, held_out: read("heldout.jsonl")?, eval }))
}

/// Property-head evaluation of held-out examples: AUROC of P(insecure) against the
/// verifier's label, a temperature fitted on the first half and ECE on the second; and each
/// example's score (for `heldout_scores.jsonl`).
fn property_eval(model: &Model, tok: &Tok, ev: &[CodeExample], t: usize) -> anyhow::Result<(Value, f64, Vec<Value>)> {
    use sbd_model::metrics::{auroc, ece, fit_temperature, sigmoid};
    let (scores, tag_max) = train::code_scores(model, tok, ev, t)?;
    let z: Vec<f64> = scores.iter().map(|s| s[0]).collect();
    let y: Vec<bool> = ev.iter().map(|e| e.props[0] > 0.5).collect();
    // Interleave the halves so that both see every source and variant.
    let (cal, test): (Vec<usize>, Vec<usize>) = (0..z.len()).partition(|i| i % 2 == 0);
    let pick = |ix: &[usize], v: &[f64]| ix.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let pickb = |ix: &[usize]| ix.iter().map(|&i| y[i]).collect::<Vec<_>>();
    let (zc, yc, zt, yt) = (pick(&cal, &z), pickb(&cal), pick(&test, &z), pickb(&test));
    let temp = fit_temperature(&zc, &yc);
    let mut by_variant = serde_json::Map::new();
    let mut variants: Vec<_> = ev.iter().map(|e| e.variant.name()).collect();
    variants.sort();
    variants.dedup();
    for v in variants {
        let ix: Vec<usize> = (0..ev.len()).filter(|&i| ev[i].variant.name() == v).collect();
        let zz = pick(&ix, &z);
        let yy = pickb(&ix);
        by_variant.insert(
            v.into(),
            json!({"examples": ix.len(), "insecure": yy.iter().filter(|b| **b).count(), "auroc": auroc(&zz, &yy)}),
        );
    }
    let cwe = cwe_auroc(&scores, ev);
    Ok((
        json!({
            "held_out_examples": ev.len(),
            "held_out_insecure": y.iter().filter(|v| **v).count(),
            "property_auroc_insecure": auroc(&z, &y),
            "tag_head_auroc_insecure": auroc(&tag_max, &y),
            "auroc_by_variant": by_variant,
            "cwe_auroc_macro": cwe.0,
            "cwe_labels_scored": cwe.1,
            "temperature": temp,
            "temperature_fit_examples": zc.len(),
            "ece_before": ece(&zt, &yt, 1.0, 10),
            "ece_after": ece(&zt, &yt, temp, 10),
            "ece_examples": zt.len(),
        }),
        temp,
        ev.iter()
            .zip(z.iter().zip(&y).zip(&tag_max))
            .map(|(e, ((z, y), tg))| {
                json!({"id": e.id, "variant": e.variant.name(), "language": e.language, "insecure": y,
                       "logit": z, "p_insecure": sigmoid(z / temp), "tag_log_odds": tg})
            })
            .collect(),
    ))
}

/// Mean AUROC over the CWE outputs that have both classes among the held-out examples.
fn cwe_auroc(scores: &[Vec<f64>], ev: &[CodeExample]) -> (Option<f64>, usize) {
    let mut vals = Vec::new();
    for j in 4..sbd_model::config::N_PROPS {
        let z: Vec<f64> = scores.iter().map(|s| s[j]).collect();
        let y: Vec<bool> = ev.iter().map(|e| e.props[j] > 0.5).collect();
        if y.iter().filter(|b| **b).count() >= 3
            && let Some(a) = sbd_model::metrics::auroc(&z, &y)
        {
            vals.push(a);
        }
    }
    ((!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64), vals.len())
}

fn plain(m: &Model) -> anyhow::Result<Model> {
    Ok(m.to_device(&sbd_model::generate::default_device())?)
}

fn pretrain(a: &TrainArgs) -> anyhow::Result<Value> {
    let cfg = train_config(a)?;
    let prev = previous(a, "pretrain")?;
    let all = corpus(a)?;
    let (mut tr, ev): (Vec<CodeExample>, Vec<CodeExample>) = all.into_iter().partition(|e| !e.held_out);
    anyhow::ensure!(!tr.is_empty(), "no training examples");
    let new_train = tr.len();
    let mut replayed = 0;
    if let Some(p) = &prev {
        let k = (a.replay_fraction * new_train as f64).round() as usize;
        for (i, r) in sample(&p.replay, k, cfg.seed ^ 0x5e).iter().enumerate() {
            tr.push(data::code_from_row(r, i)?);
            replayed += 1;
        }
    }
    let texts: Vec<String> = tr.iter().map(|e| format!("{}\n{}", e.code, e.explanation)).collect();
    let (model, tok) = start(a, &texts)?;
    eprintln!(
        "pretrain: {} train ({replayed} replayed) / {} held-out examples, {} parameters, {} steps",
        tr.len(),
        ev.len(),
        model.cfg.n_params(),
        cfg.steps
    );
    let t = cfg.seq_len.min(model.cfg.max_seq);
    let ev: Vec<CodeExample> = sample(&ev, a.eval_limit, 17);
    let prev_before = match &prev {
        Some(p) => prev_property_auroc(&plain(&model)?, &tok, &p.held_out, t)?,
        None => None,
    };
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None, meta: None };
    let mut model = train::train(model, &tok, &Task::Pretrain(&tr), &cfg, &opts, &mut progress(a.no_progress))?;
    let pm = plain(&model)?;
    let (mut result, temp, scores) = property_eval(&pm, &tok, &ev, t)?;
    result["stage"] = json!("pretrain");
    result["train_examples"] = json!(tr.len());
    result["parameters"] = json!(model.cfg.n_params());
    result["config"] = serde_json::to_value(&cfg)?;
    if let Some(p) = &prev {
        let after = prev_property_auroc(&pm, &tok, &p.held_out, t)?;
        let recorded = p.eval["property_auroc_insecure"].as_f64();
        result["continual"] = json!({
            "previous_run": a.continue_from,
            "replayed_examples": replayed,
            "previous_held_out_examples": p.held_out.len(),
            "previous_auroc_recorded": recorded,
            "previous_auroc_before": prev_before,
            "previous_auroc_after": after,
            "forgetting": match (prev_before, after) { (Some(b), Some(x)) => Some(b - x), _ => None },
        });
    }
    model.cfg.property_temperature = temp;
    train::save_model_dir(&model, &tok, &a.output, Some(&cfg), "pretrain")?;
    write_jsonl(&a.output.join("replay.jsonl"), code_rows(&sample(&tr, REPLAY_ROWS, cfg.seed)))?;
    write_jsonl(&a.output.join("heldout.jsonl"), code_rows(&ev))?;
    write_jsonl(&a.output.join("heldout_scores.jsonl"), scores)?;
    Ok(result)
}

fn prev_property_auroc(model: &Model, tok: &Tok, rows: &[Value], t: usize) -> anyhow::Result<Option<f64>> {
    let ex = rows.iter().enumerate().map(|(i, r)| data::code_from_row(r, i)).collect::<Result<Vec<_>, _>>()?;
    let z: Vec<f64> = train::property_scores(model, tok, &ex, t)?.iter().map(|s| s[0]).collect();
    let y: Vec<bool> = ex.iter().map(|e| e.props[0] > 0.5).collect();
    Ok(sbd_model::metrics::auroc(&z, &y))
}

/// Chats of `--data` (SFT JSONL or a dataset directory) or the default corpus, with the
/// curriculum view of each when it comes from code examples.
/// An SFT chat, its curriculum metadata, and whether it is held out.
type SftItem = ((Chat, Option<Meta>), bool);

fn sft_items(a: &TrainArgs) -> anyhow::Result<Vec<SftItem>> {
    match &a.data {
        Some(p) if !data::is_dataset_dir(p) => Ok(data::read_jsonl(p)?
            .iter()
            .enumerate()
            .map(|(i, r)| data::chat_from_row(r).map(|c| ((c, None), data::is_held_out(&format!("row{i}"), 10))))
            .collect::<Result<_, _>>()?),
        _ => {
            let ex = corpus(a)?;
            let mut out = Vec::new();
            for e in &ex {
                for (c, held) in data::chats_from_examples(std::slice::from_ref(e)) {
                    out.push(((c, Some(train::meta_of(e))), held));
                }
            }
            Ok(out)
        }
    }
}

fn sft(a: &TrainArgs) -> anyhow::Result<Value> {
    let cfg = train_config(a)?;
    let prev = previous(a, "sft")?;
    let items = sft_items(a)?;
    let (tr, ev) = split(&items);
    anyhow::ensure!(!tr.is_empty(), "no training chats");
    let (mut chats, metas): (Vec<Chat>, Vec<Option<Meta>>) = tr.into_iter().unzip();
    let ev: Vec<Chat> = sample(&ev.into_iter().map(|x| x.0).collect::<Vec<_>>(), a.eval_limit, 17);
    let mut metas: Option<Vec<Meta>> = metas.into_iter().collect();
    let mut replayed = 0;
    if let Some(p) = &prev {
        let k = (a.replay_fraction * chats.len() as f64).round() as usize;
        for r in sample(&p.replay, k, cfg.seed ^ 0x5e) {
            chats.push(data::chat_from_row(&r)?);
            replayed += 1;
        }
        // Replayed chats carry no curriculum metadata.
        metas = None;
    }
    let texts: Vec<String> = chats.iter().map(|c| format!("{}\n{}", c.prompt, c.response)).collect();
    let (model, tok) = start(a, &texts)?;
    let t = cfg.seq_len.min(model.cfg.max_seq);
    let prev_chats = |p: &Previous| -> anyhow::Result<Vec<Chat>> {
        Ok(p.held_out.iter().map(data::chat_from_row).collect::<Result<Vec<_>, _>>()?)
    };
    let pm0 = plain(&model)?;
    let before = train::chat_loss(&pm0, &tok, &ev, t)?;
    let prev_before = match &prev {
        Some(p) => Some(train::chat_loss(&pm0, &tok, &prev_chats(p)?, t)?),
        None => None,
    };
    drop(pm0);
    eprintln!("sft: {} train ({replayed} replayed) / {} held-out chats, {} steps", chats.len(), ev.len(), cfg.steps);
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None, meta: metas.as_deref() };
    let model = train::train(model, &tok, &Task::Sft(&chats), &cfg, &opts, &mut progress(a.no_progress))?;
    let pm = plain(&model)?;
    let after = train::chat_loss(&pm, &tok, &ev, t)?;
    let mut result = json!({
        "stage": "sft",
        "train_chats": chats.len(),
        "held_out_chats": ev.len(),
        "held_out_loss_before": before,
        "held_out_loss": after,
        "lora": cfg.lora,
        "config": cfg,
    });
    if let Some(p) = &prev {
        let after_prev = train::chat_loss(&pm, &tok, &prev_chats(p)?, t)?;
        result["continual"] = json!({
            "previous_run": a.continue_from,
            "replayed_chats": replayed,
            "previous_held_out_chats": p.held_out.len(),
            "previous_loss_recorded": p.eval["held_out_loss"],
            "previous_loss_before": prev_before,
            "previous_loss_after": after_prev,
            "forgetting": prev_before.map(|b| after_prev - b),
        });
    }
    write_jsonl(&a.output.join("replay.jsonl"), chat_rows(&sample(&chats, REPLAY_ROWS, cfg.seed)))?;
    write_jsonl(&a.output.join("heldout.jsonl"), chat_rows(&ev))?;
    Ok(result)
}

fn dpo(d: &DpoArgs) -> anyhow::Result<Value> {
    let a = &d.base;
    let cfg = train_config(a)?;
    let mut all: Vec<(Pair, PairKind, bool)> = match &a.data {
        Some(p) if !data::is_dataset_dir(p) => data::read_jsonl(p)?
            .iter()
            .enumerate()
            .map(|(i, r)| {
                data::pair_from_row(r).map(|c| (c, PairKind::External, data::is_held_out(&format!("row{i}"), 10)))
            })
            .collect::<Result<_, _>>()?,
        _ => data::pairs_from_examples(&corpus(a)?),
    };
    for f in &d.feedback {
        let rows = data::read_jsonl(f)?;
        let (pairs, unrated) = data::pairs_from_feedback(&rows).with_context(|| format!("{}", f.display()))?;
        eprintln!("feedback: {} pairs from {} ({unrated} unrated rows skipped)", pairs.len(), f.display());
        all.extend(pairs.into_iter().map(|p| (p, PairKind::External, false)));
    }
    let tr: Vec<Pair> = all.iter().filter(|x| !x.2).map(|x| x.0.clone()).collect();
    let ev_all: Vec<(Pair, PairKind)> = all.iter().filter(|x| x.2).map(|x| (x.0.clone(), x.1)).collect();
    let ev_all = sample(&ev_all, a.eval_limit, 17);
    anyhow::ensure!(!tr.is_empty(), "no training pairs");
    let texts: Vec<String> = tr.iter().map(|p| format!("{}\n{}\n{}", p.prompt, p.chosen, p.rejected)).collect();
    let (model, tok) = start(a, &texts)?;
    let reference = plain(&model)?;
    let t = cfg.seq_len.min(model.cfg.max_seq);
    let ev: Vec<Pair> = ev_all.iter().map(|x| x.0.clone()).collect();
    let ref_lp = train::pair_logps(&reference, &tok, &ev, t)?;
    let before = train::reward_accuracy(&ref_lp, &ref_lp, cfg.dpo_beta);
    let raw_before = ref_lp.iter().filter(|(c, r)| c > r).count() as f64 / ev.len().max(1) as f64;
    eprintln!("dpo: {} train / {} held-out pairs, {} steps", tr.len(), ev.len(), cfg.steps);
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None, meta: None };
    let model = train::train(model, &tok, &Task::Dpo(&tr, &reference), &cfg, &opts, &mut progress(a.no_progress))?;
    let pol_lp = train::pair_logps(&plain(&model)?, &tok, &ev, t)?;
    let after = train::reward_accuracy(&pol_lp, &ref_lp, cfg.dpo_beta);
    let raw_after = pol_lp.iter().filter(|(c, r)| c > r).count() as f64 / ev.len().max(1) as f64;
    let mut by_kind = serde_json::Map::new();
    for kind in [PairKind::Pair, PairKind::Mutant, PairKind::Override, PairKind::External] {
        let ix: Vec<usize> = (0..ev.len()).filter(|&i| ev_all[i].1 == kind).collect();
        if ix.is_empty() {
            continue;
        }
        let p: Vec<_> = ix.iter().map(|&i| pol_lp[i]).collect();
        let r: Vec<_> = ix.iter().map(|&i| ref_lp[i]).collect();
        let name = serde_json::to_value(kind)?.as_str().unwrap_or("?").to_string();
        by_kind
            .insert(name, json!({"pairs": ix.len(), "reward_accuracy": train::reward_accuracy(&p, &r, cfg.dpo_beta)}));
    }
    Ok(json!({
        "stage": "dpo",
        "train_pairs": tr.len(),
        "held_out_pairs": ev.len(),
        "reward_accuracy_before": before,
        "reward_accuracy_after": after,
        "reward_accuracy_by_kind": by_kind,
        "preference_accuracy_before": raw_before,
        "preference_accuracy_after": raw_after,
        "feedback_files": d.feedback,
        "config": cfg,
    }))
}

fn rl(r: &RlArgs) -> anyhow::Result<Value> {
    use sbd_model::generate::Sampling;
    use sbd_model::rl::{RlConfig, RlPrompt, evaluate, prompt_from_row};
    let a = &r.base;
    let cfg = train_config(a)?;
    let all: Vec<(RlPrompt, bool)> = match &a.data {
        Some(p) if !data::is_dataset_dir(p) => data::read_jsonl(p)?
            .iter()
            .enumerate()
            .map(|(i, row)| prompt_from_row(row).map(|c| (c, data::is_held_out(&format!("row{i}"), 10))))
            .collect::<Result<_, _>>()?,
        _ => sbd_model::rl::prompts_from_examples(&corpus(a)?),
    };
    let (tr, ev) = split(&all);
    anyhow::ensure!(!tr.is_empty(), "no training prompts");
    let texts: Vec<String> = tr.iter().map(|p| p.prompt.clone()).collect();
    let (model, tok) = start(a, &texts)?;
    let (n_tr, n_ev) = (tr.len(), ev.len());
    let (tr, ev) = if r.keep_long_prompts {
        (tr, ev)
    } else {
        let fits = |v: Vec<RlPrompt>| -> anyhow::Result<Vec<RlPrompt>> {
            let mut out = Vec::new();
            for p in v {
                if sbd_model::rl::fits_budget(&tok, &p, r.max_new_tokens)? {
                    out.push(p);
                }
            }
            Ok(out)
        };
        (fits(tr)?, fits(ev)?)
    };
    anyhow::ensure!(
        !tr.is_empty(),
        "no training prompt has a reference answer shorter than --max-new-tokens {}: raise it or pass \
         --keep-long-prompts (`sbd pipeline`: rl_keep_long_prompts = true)",
        r.max_new_tokens
    );
    let reference = plain(&model)?;
    let sampling = Sampling {
        max_new_tokens: r.max_new_tokens,
        temperature: r.temperature,
        top_k: r.top_k,
        top_p: r.top_p,
        seed: 0,
    };
    let ev: Vec<RlPrompt> = sample(&ev, a.eval_limit, 17);
    eprintln!(
        "rl: {} train / {} held-out prompts ({} / {} before the budget filter), {} steps",
        tr.len(),
        ev.len(),
        n_tr,
        n_ev,
        cfg.steps
    );
    let before = evaluate(&reference, &tok, &ev, &sampling, r.eval_samples)?;
    let rc = RlConfig { group: r.group.max(2), kl_beta: r.kl_beta, sampling: sampling.clone() };
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None, meta: None };
    let model = train::train(model, &tok, &Task::Rl(&tr, &reference, &rc), &cfg, &opts, &mut progress(a.no_progress))?;
    let after = evaluate(&plain(&model)?, &tok, &ev, &sampling, r.eval_samples)?;
    Ok(json!({
        "stage": "rl",
        "train_prompts": tr.len(),
        "held_out_prompts": ev.len(),
        "prompts_before_budget_filter": {"train": n_tr, "held_out": n_ev, "kept_long": r.keep_long_prompts},
        "compliance_before": before.compliance,
        "parse_rate_before": before.parse_rate,
        "compliance_after": after.compliance,
        "parse_rate_after": after.parse_rate,
        "before": before,
        "after": after,
        "group": rc.group,
        "kl_beta": rc.kl_beta,
        "sampling": {"max_new_tokens": r.max_new_tokens, "temperature": r.temperature, "top_k": r.top_k, "top_p": r.top_p, "eval_samples": r.eval_samples},
        "config": cfg,
    }))
}

fn sweep(s: &SweepArgs) -> anyhow::Result<ExitCode> {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for g in &s.grid {
        let (k, v) = g.split_once('=').with_context(|| format!("--grid {g}: expected NAME=V1,V2"))?;
        anyhow::ensure!(
            ["lr", "batch_size", "seq_len", "steps", "warmup", "weight_decay"].contains(&k),
            "--grid {k}: not a sweepable field"
        );
        axes.push((k.to_string(), v.split(',').map(str::to_string).collect()));
    }
    let mut combos: Vec<Vec<(String, String)>> = vec![vec![]];
    for (k, vs) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|c| vs.iter().map(move |v| [c.clone(), vec![(k.clone(), v.clone())]].concat()))
            .collect();
    }
    std::fs::create_dir_all(&s.base.output)?;
    let summary = s.base.output.join("sweep.jsonl");
    let mut out = std::fs::File::create(&summary)?;
    for (i, combo) in combos.iter().enumerate() {
        let mut base = train_config(&s.base)?;
        let mut v = serde_json::to_value(&base)?;
        for (k, val) in combo {
            v[k] = serde_json::from_str(val).with_context(|| format!("--grid {k}={val}: not a number"))?;
        }
        base = serde_json::from_value(v)?;
        let dir = s.base.output.join(format!("run-{i}"));
        std::fs::create_dir_all(&dir)?;
        let cfg_path = dir.join("train_config.json");
        std::fs::write(&cfg_path, serde_json::to_string_pretty(&base)?)?;
        let args = TrainArgs {
            config: Some(cfg_path),
            output: dir.clone(),
            lr: None,
            steps: None,
            batch_size: None,
            seq_len: None,
            warmup: None,
            // The config file already has the ablations applied.
            ablate: Vec::new(),
            ..s.base.clone()
        };
        eprintln!("sweep run {i}: {combo:?}");
        let r = pretrain(&args)?;
        write_eval(&dir, &r)?;
        writeln!(out, "{}", json!({"run": dir, "grid": combo, "ablate": s.base.ablate, "result": r}))?;
    }
    println!("wrote {} ({} runs)", summary.display(), combos.len());
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: TrainCommand) -> anyhow::Result<ExitCode> {
    let (out, r) = match cmd {
        TrainCommand::Pretrain(a) => {
            let r = pretrain(&a)?;
            (a.output, r)
        }
        TrainCommand::Sft(a) => {
            let r = sft(&a)?;
            (a.output, r)
        }
        TrainCommand::Dpo(d) => {
            let r = dpo(&d)?;
            (d.base.output, r)
        }
        TrainCommand::Rl(r) => {
            let res = rl(&r)?;
            (r.base.output, res)
        }
        TrainCommand::Sweep(s) => return sweep(&s),
    };
    write_eval(&out, &r)?;
    Ok(ExitCode::SUCCESS)
}
