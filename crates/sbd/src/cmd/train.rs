//! `sbd train pretrain|sft|dpo|sweep` — train the security-aware model.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use sbd_model::config::{ModelConfig, TrainConfig};
use sbd_model::data::{self, Chat, CodeExample, Pair, is_held_out};
use sbd_model::model::Model;
use sbd_model::tokenizer::Tok;
use sbd_model::train::{self, RunOptions, StepLog, Task};

#[derive(Subcommand)]
pub enum TrainCommand {
    /// Pretraining objectives (next token, fill-in-the-middle, security properties, token
    /// tags, explanations) on verifier-labelled code; reports the property head's held-out
    /// AUROC and calibration.
    Pretrain(TrainArgs),
    /// Supervised fine-tuning on chats (`{"messages": [...]}` JSONL) or prompt → secure code.
    Sft(TrainArgs),
    /// Direct preference optimisation on `{"prompt","chosen","rejected"}` JSONL or
    /// vulnerable/fixed pairs, against a frozen copy of the initial model; reports held-out
    /// preference accuracy before and after.
    Dpo(TrainArgs),
    /// Reinforcement learning (GRPO-style) with the verifier's reward (the formula of
    /// `POST /v1/reward`) and a KL penalty to the initial model, on `{"prompt","language",…}`
    /// JSONL or prompts from the default pairs; reports held-out compliance and parse rates
    /// before and after.
    Rl(RlArgs),
    /// Pretraining runs over a grid (`--grid lr=1e-3,3e-3 --grid batch_size=4,8`), each in its
    /// own directory with its config, plus `sweep.jsonl` comparing them.
    Sweep(SweepArgs),
}

#[derive(Args, Clone)]
pub struct TrainArgs {
    /// JSONL data (format by mode). Default: SVEN/SafeCoder pairs under --shared plus the
    /// embedded pairs.
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
    /// Model size preset when starting from scratch: tiny, small, base, 350m, 1b, 7b.
    #[arg(long, default_value = "tiny")]
    pub preset: String,
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
    pub seed: Option<u64>,
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// DPO β.
    #[arg(long)]
    pub beta: Option<f64>,
    /// Switch an objective off: next_token, fim, property, tags, explanation (repeatable).
    #[arg(long)]
    pub ablate: Vec<String>,
    /// Continue from the run directory's checkpoint (exactly where it stopped).
    #[arg(long)]
    pub resume: bool,
    /// Skip code longer than this many bytes.
    #[arg(long, default_value_t = 4000)]
    pub max_bytes: usize,
    /// At most this many held-out examples are evaluated.
    #[arg(long, default_value_t = 200)]
    pub eval_limit: usize,
    /// No progress line.
    #[arg(long)]
    pub no_progress: bool,
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
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
}

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub base: TrainArgs,
    /// `NAME=V1,V2,…` for lr, batch_size, seq_len, steps, warmup, weight_decay (repeatable).
    #[arg(long, required = true)]
    pub grid: Vec<String>,
}

fn train_config(a: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut c = match &a.config {
        Some(p) => {
            serde_json::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                .with_context(|| format!("{}: not a training config", p.display()))?
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
        c.objectives.ablate(o)?;
    }
    c.warmup = c.warmup.min(c.steps / 5 + 1);
    anyhow::ensure!(
        c.batch_size > 0 && c.steps > 0 && c.seq_len >= 8,
        "steps, batch size and seq_len must be positive"
    );
    Ok(c)
}

fn progress(quiet: bool) -> impl FnMut(&StepLog) {
    move |l: &StepLog| {
        if quiet {
            return;
        }
        let parts: Vec<String> = l.parts.iter().map(|(n, v)| format!("{n} {v:.3}")).collect();
        eprint!(
            "\rstep {}/{} loss {:.4} [{}] lr {:.2e} | {:.0} tok/s | ETA {:.0} s   ",
            l.step,
            l.steps,
            l.loss,
            parts.join(", "),
            l.lr,
            l.tokens_per_s,
            l.eta_s
        );
        if l.step == l.steps {
            eprintln!();
        }
    }
}

/// The model and tokenizer to start from: `--init`, or a fresh model of `--preset` with a
/// tokenizer from `--tokenizer` or trained on `texts`.
fn start(a: &TrainArgs, texts: &[String]) -> anyhow::Result<(Model, Tok)> {
    let device = sbd_model::generate::default_device().autodiff();
    // A resumed run keeps the tokenizer and model of its checkpoint.
    let ckpt = if a.resume { train::checkpoint_dir(&a.output) } else { None };
    if let Some(dir) = ckpt.as_ref().or(a.init.as_ref()) {
        let (m, t, _) = train::load_model_dir(dir, &device).with_context(|| format!("loading {}", dir.display()))?;
        return Ok((m, t));
    }
    let tok = match &a.tokenizer {
        Some(p) => Tok::load(p)?,
        None => Tok::train(texts.iter(), a.vocab_size)?,
    };
    let cfg = ModelConfig::preset(&a.preset, tok.vocab_size())?;
    Ok((Model::init(&cfg, &device, a.seed.unwrap_or(0))?, tok))
}

fn write_eval(out: &Path, v: &serde_json::Value) -> anyhow::Result<()> {
    std::fs::write(out.join("eval.json"), serde_json::to_string_pretty(v)?)?;
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn split<T: Clone>(items: &[(String, T)]) -> (Vec<T>, Vec<T>) {
    let mut tr = Vec::new();
    let mut ev = Vec::new();
    for (g, x) in items {
        if is_held_out(g, 10) { ev.push(x.clone()) } else { tr.push(x.clone()) }
    }
    (tr, ev)
}

fn code_examples(a: &TrainArgs) -> anyhow::Result<Vec<(String, CodeExample)>> {
    let ex: Vec<CodeExample> = match &a.data {
        Some(p) => {
            data::read_jsonl(p)?.iter().enumerate().map(|(i, r)| data::code_from_row(r, i)).collect::<Result<_, _>>()?
        }
        None => {
            let (s, note) = data::default_samples(&a.shared)?;
            eprintln!("data: {note}");
            data::label_samples(&s, a.max_bytes)
        }
    };
    Ok(ex.into_iter().map(|e| (e.group.clone(), e)).collect())
}

fn pretrain(a: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = train_config(a)?;
    let all = code_examples(a)?;
    let (tr, ev) = split(&all);
    anyhow::ensure!(!tr.is_empty(), "no training examples");
    let texts: Vec<String> = tr.iter().map(|e| format!("{}\n{}", e.code, e.explanation)).collect();
    let (model, tok) = start(a, &texts)?;
    eprintln!(
        "pretrain: {} train / {} held-out examples, {} parameters, {} steps",
        tr.len(),
        ev.len(),
        model.cfg.n_params(),
        cfg.steps
    );
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None };
    let mut model = train::train(model, &tok, &Task::Pretrain(&tr), &cfg, &opts, &mut progress(a.no_progress))?;
    // Held-out: AUROC of P(insecure) against the verifier's label, temperature fitted on the
    // first half of the held-out set and ECE measured on the second half.
    let ev: Vec<CodeExample> = ev.into_iter().take(a.eval_limit).collect();
    let scores = train::property_scores(&model, &tok, &ev, cfg.seq_len.min(model.cfg.max_seq))?;
    let z: Vec<f64> = scores.iter().map(|s| s[0]).collect();
    let y: Vec<bool> = ev.iter().map(|e| e.props[0] > 0.5).collect();
    let h = z.len() / 2;
    let t = sbd_model::metrics::fit_temperature(&z[..h], &y[..h]);
    let result = serde_json::json!({
        "stage": "pretrain",
        "held_out_examples": ev.len(),
        "held_out_insecure": y.iter().filter(|v| **v).count(),
        "property_auroc_insecure": sbd_model::metrics::auroc(&z, &y),
        "temperature": t,
        "ece_before": sbd_model::metrics::ece(&z[h..], &y[h..], 1.0, 10),
        "ece_after": sbd_model::metrics::ece(&z[h..], &y[h..], t, 10),
        "ece_examples": z.len() - h,
        "config": cfg,
    });
    model.cfg.property_temperature = t;
    train::save_model_dir(&model, &tok, &a.output, Some(&cfg), "pretrain")?;
    Ok(result)
}

fn sft(a: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = train_config(a)?;
    let all: Vec<(String, Chat)> = match &a.data {
        Some(p) => data::read_jsonl(p)?
            .iter()
            .enumerate()
            .map(|(i, r)| data::chat_from_row(r).map(|c| (format!("row{i}"), c)))
            .collect::<Result<_, _>>()?,
        None => {
            let (s, note) = data::default_samples(&a.shared)?;
            eprintln!("data: {note}");
            data::chats_from_samples(&s, a.max_bytes)
        }
    };
    let (tr, ev) = split(&all);
    anyhow::ensure!(!tr.is_empty(), "no training chats");
    let texts: Vec<String> = tr.iter().map(|c| format!("{}\n{}", c.prompt, c.response)).collect();
    let (model, tok) = start(a, &texts)?;
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None };
    train::train(model, &tok, &Task::Sft(&tr), &cfg, &opts, &mut progress(a.no_progress))?;
    Ok(serde_json::json!({"stage": "sft", "train_chats": tr.len(), "held_out_chats": ev.len(), "config": cfg}))
}

fn dpo(a: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = train_config(a)?;
    let all: Vec<(String, Pair)> = match &a.data {
        Some(p) => data::read_jsonl(p)?
            .iter()
            .enumerate()
            .map(|(i, r)| data::pair_from_row(r).map(|c| (format!("row{i}"), c)))
            .collect::<Result<_, _>>()?,
        None => {
            let (s, note) = data::default_samples(&a.shared)?;
            eprintln!("data: {note}");
            data::pairs_from_samples(&s, a.max_bytes)
        }
    };
    let (tr, ev) = split(&all);
    anyhow::ensure!(!tr.is_empty(), "no training pairs");
    let texts: Vec<String> = tr.iter().map(|p| format!("{}\n{}\n{}", p.prompt, p.chosen, p.rejected)).collect();
    let (model, tok) = start(a, &texts)?;
    let plain = sbd_model::generate::default_device();
    let reference = model.to_device(&plain)?;
    let t = cfg.seq_len.min(model.cfg.max_seq);
    let ev: Vec<Pair> = ev.into_iter().take(a.eval_limit).collect();
    let before = train::preference_accuracy(&reference, &tok, &ev, t)?;
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None };
    let model = train::train(model, &tok, &Task::Dpo(&tr, &reference), &cfg, &opts, &mut progress(a.no_progress))?;
    let after = train::preference_accuracy(&model.to_device(&plain)?, &tok, &ev, t)?;
    Ok(serde_json::json!({
        "stage": "dpo",
        "train_pairs": tr.len(),
        "held_out_pairs": ev.len(),
        "preference_accuracy_before": before,
        "preference_accuracy_after": after,
        "config": cfg,
    }))
}

fn rl(r: &RlArgs) -> anyhow::Result<serde_json::Value> {
    use sbd_model::generate::Sampling;
    use sbd_model::rl::{RlConfig, RlPrompt, compliance, prompt_from_row};
    let a = &r.base;
    let cfg = train_config(a)?;
    let all: Vec<(String, RlPrompt)> = match &a.data {
        Some(p) => data::read_jsonl(p)?
            .iter()
            .enumerate()
            .map(|(i, row)| prompt_from_row(row).map(|c| (format!("row{i}"), c)))
            .collect::<Result<_, _>>()?,
        None => {
            let (s, note) = data::default_samples(&a.shared)?;
            eprintln!("data: {note}");
            sbd_model::rl::prompts_from_samples(&s, a.max_bytes)
        }
    };
    let (tr, ev) = split(&all);
    anyhow::ensure!(!tr.is_empty(), "no training prompts");
    let texts: Vec<String> = tr.iter().map(|p| p.prompt.clone()).collect();
    let (model, tok) = start(a, &texts)?;
    let plain = sbd_model::generate::default_device();
    let reference = model.to_device(&plain)?;
    let sampling =
        Sampling { max_new_tokens: r.max_new_tokens, temperature: r.temperature, top_k: 0, top_p: 1.0, seed: 0 };
    let ev: Vec<RlPrompt> = ev.into_iter().take(a.eval_limit).collect();
    let before = compliance(&reference, &tok, &ev, &sampling)?;
    let rc = RlConfig { group: r.group.max(2), kl_beta: r.kl_beta, sampling: sampling.clone() };
    let opts = RunOptions { run_dir: &a.output, resume: a.resume, stop_after: None };
    let model = train::train(model, &tok, &Task::Rl(&tr, &reference, &rc), &cfg, &opts, &mut progress(a.no_progress))?;
    let after = compliance(&model.to_device(&plain)?, &tok, &ev, &sampling)?;
    Ok(serde_json::json!({
        "stage": "rl",
        "train_prompts": tr.len(),
        "held_out_prompts": ev.len(),
        "compliance_before": before.0,
        "parse_rate_before": before.1,
        "compliance_after": after.0,
        "parse_rate_after": after.1,
        "group": rc.group,
        "kl_beta": rc.kl_beta,
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
            ..s.base.clone()
        };
        eprintln!("sweep run {i}: {combo:?}");
        let r = pretrain(&args)?;
        writeln!(out, "{}", serde_json::json!({"run": dir, "grid": combo, "result": r}))?;
    }
    println!("wrote {} ({} runs)", summary.display(), combos.len());
    Ok(ExitCode::SUCCESS)
}

pub fn run(cmd: TrainCommand) -> anyhow::Result<ExitCode> {
    let (a, r) = match cmd {
        TrainCommand::Pretrain(a) => {
            let r = pretrain(&a)?;
            (a, r)
        }
        TrainCommand::Sft(a) => {
            let r = sft(&a)?;
            (a, r)
        }
        TrainCommand::Dpo(a) => {
            let r = dpo(&a)?;
            (a, r)
        }
        TrainCommand::Rl(r) => {
            let res = rl(&r)?;
            (r.base, res)
        }
        TrainCommand::Sweep(s) => return sweep(&s),
    };
    write_eval(&a.output, &r)?;
    Ok(ExitCode::SUCCESS)
}
