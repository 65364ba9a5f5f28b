//! Training loops: pretraining objectives, SFT, DPO and RL, with checkpoints that resume
//! exactly.
//!
//! A run directory holds `checkpoint/` (the latest checkpoint: `model.safetensors`,
//! `config.json`, `tokenizer.json`, `training_state.safetensors` with the AdamW moments, step,
//! data position and RNG state), `metrics.jsonl` (one line per step) and, when the run ends,
//! the final model files at the top level. Checkpoints are staged in a sibling directory and
//! swapped in by renames, so a kill at any instant leaves a complete checkpoint behind.
//!
//! What the trainer does on this CPU backend and what it would do elsewhere:
//!
//! - **Gradient accumulation** (`grad_accum`): the gradients of several batches are summed
//!   (each loss scaled by 1/`grad_accum`) before one optimizer step.
//! - **Gradient checkpointing** (`gradient_checkpointing`): burn's autodiff runs with its
//!   balanced checkpointing strategy, which does not keep the outputs of memory-bound
//!   operations (element-wise ops, activations, norms) for the backward pass but recomputes
//!   them there, while compute-bound ones (matmuls) keep theirs. It is a property of the
//!   autodiff device, so it works the same on the CPU and GPU backends.
//! - **Mixed precision** (`precision`: `bf16` or `f16`): master weights, optimizer state,
//!   norms, attention softmax and losses stay f32; each projection casts its weight and input
//!   to the low precision, multiplies, and casts the result back; gradients flow back through
//!   the casts. burn's flex CPU backend computes bf16 matmuls by converting to f32 and back,
//!   and f16 ones with a half-precision GEMM that x86 CPUs without FP16 arithmetic emulate,
//!   so on this machine mixed precision saves no time (`sbd bench train --precision`
//!   measures it); it pays off on a GPU backend with tensor cores.
//! - **LoRA** (`lora`): adapters are added to the chosen projections and only they train; the
//!   checkpoint holds them unmerged (resume continues them), and the finished model has them
//!   merged into its weights, with the adapters alone in `adapter.safetensors`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, N_PROPS, N_TAGS, TrainConfig};
use crate::curriculum::{Curriculum, Meta};
use crate::data::{Chat, CodeExample, Pair};
use crate::model::{Model, host};
pub use crate::objectives::{Batch, dpo_loss, pretrain_loss};
pub(crate) use crate::objectives::{Row, chat_row, collate, row_logp};
use crate::objectives::{
    code_row, code_row_of, consistency_rows, next_token_logp, pair_batch, shifted, weighted_nll, window,
};
use crate::optim::{AdamW, lr_at};
use crate::rl::{RlConfig, RlPrompt, grpo_loss};
use crate::rng::Rng;
use crate::tensor_io::TensorFile;
use crate::tokenizer::Tok;
use crate::{Error, Result, io_err};

/// What a run trains on.
pub enum Task<'a> {
    Pretrain(&'a [CodeExample]),
    Sft(&'a [Chat]),
    /// Pairs and the frozen reference model (on a device without autodiff).
    Dpo(&'a [Pair], &'a Model),
    /// Prompts, the frozen reference (without autodiff) and the RL settings.
    Rl(&'a [RlPrompt], &'a Model, &'a RlConfig),
}

impl Task<'_> {
    fn len(&self) -> usize {
        match self {
            Task::Pretrain(x) => x.len(),
            Task::Sft(x) => x.len(),
            Task::Dpo(x, _) => x.len(),
            Task::Rl(x, ..) => x.len(),
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Task::Pretrain(_) => "pretrain",
            Task::Sft(_) => "sft",
            Task::Dpo(..) => "dpo",
            Task::Rl(..) => "rl",
        }
    }
}

/// `config.json` of a model directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DirConfig {
    pub model: ModelConfig,
    #[serde(default)]
    pub train: Option<TrainConfig>,
    #[serde(default)]
    pub stage: Option<String>,
}

/// One row of `metrics.jsonl` (and the progress line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepLog {
    pub step: usize,
    pub steps: usize,
    pub lr: f64,
    pub loss: f64,
    pub parts: Vec<(String, f64)>,
    pub grad_norm: f64,
    pub tokens: usize,
    pub tokens_per_s: f64,
    pub eta_s: f64,
}

/// Everything that a checkpoint restores besides weights and moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub step: usize,
    pub epoch: u64,
    pub cursor: usize,
    pub rng: u64,
}

/// The data order: a permutation per epoch, drawn from the seed and the epoch number.
fn order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    Rng::new(seed ^ epoch.wrapping_mul(0x9E37_79B9)).shuffle(&mut v);
    v
}

fn next_indices(pos: &mut Position, n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut out = Vec::with_capacity(k);
    let mut ord = order(n, seed, pos.epoch);
    while out.len() < k {
        if pos.cursor >= n {
            pos.epoch += 1;
            pos.cursor = 0;
            ord = order(n, seed, pos.epoch);
        }
        out.push(ord[pos.cursor]);
        pos.cursor += 1;
    }
    out
}

/// Writes `model.safetensors`, `config.json` and `tokenizer.json` into `dir`.
pub fn save_model_dir(model: &Model, tok: &Tok, dir: &Path, train: Option<&TrainConfig>, stage: &str) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut f = model.to_file()?;
    f.metadata.insert("format".into(), "pt".into());
    f.save(&dir.join("model.safetensors"))?;
    let cfg = DirConfig { model: model.cfg.clone(), train: train.cloned(), stage: Some(stage.into()) };
    let json = serde_json::to_string_pretty(&cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    crate::write_atomic(&dir.join("config.json"), json.as_bytes())?;
    tok.save(&dir.join("tokenizer.json"))
}

/// Loads a model directory (`model.safetensors`, `config.json`, `tokenizer.json`).
pub fn load_model_dir(dir: &Path, device: &Device) -> Result<(Model, Tok, DirConfig)> {
    let p = dir.join("config.json");
    let text = std::fs::read_to_string(&p).map_err(io_err(&p))?;
    let cfg: DirConfig = serde_json::from_str(&text)
        .map_err(|e| Error::Format { path: p.display().to_string(), message: e.to_string() })?;
    let file = TensorFile::load(&dir.join("model.safetensors"))?;
    let model = Model::from_file(&cfg.model, &file, device)?;
    let tok = Tok::load(&dir.join("tokenizer.json"))?;
    if tok.vocab_size() > cfg.model.vocab_size {
        return Err(Error::Invalid(format!(
            "tokenizer has {} tokens, model {}",
            tok.vocab_size(),
            cfg.model.vocab_size
        )));
    }
    Ok((model, tok, cfg))
}

fn save_checkpoint(
    run: &Path,
    model: &Model,
    opt: &AdamW,
    tok: &Tok,
    cfg: &TrainConfig,
    pos: Position,
    stage: &str,
) -> Result<()> {
    let stage_dir = run.join(".checkpoint.staging");
    let old = run.join(".checkpoint.old");
    let live = run.join("checkpoint");
    if stage_dir.exists() {
        std::fs::remove_dir_all(&stage_dir).map_err(io_err(&stage_dir))?;
    }
    save_model_dir(model, tok, &stage_dir, Some(cfg), stage)?;
    let mut st = TensorFile::default();
    opt.state(model, &mut st)?;
    for (k, v) in [("step", pos.step as u64), ("epoch", pos.epoch), ("cursor", pos.cursor as u64), ("rng", pos.rng)] {
        st.metadata.insert(k.into(), v.to_string());
    }
    st.save(&stage_dir.join("training_state.safetensors"))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
    }
    if live.exists() {
        std::fs::rename(&live, &old).map_err(io_err(&live))?;
    }
    std::fs::rename(&stage_dir, &live).map_err(io_err(&live))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
    }
    Ok(())
}

/// The checkpoint directory to resume from, if any (a kill between the two renames leaves
/// only `.checkpoint.old`).
pub fn checkpoint_dir(run: &Path) -> Option<PathBuf> {
    [run.join("checkpoint"), run.join(".checkpoint.old")]
        .into_iter()
        .find(|d| d.join("training_state.safetensors").is_file())
}

fn load_checkpoint(dir: &Path, device: &Device) -> Result<(Model, AdamW, Position)> {
    let (model, _, _) = load_model_dir(dir, device)?;
    let model = model.require_grad();
    let st = TensorFile::load(&dir.join("training_state.safetensors"))?;
    let opt = AdamW::load_state(&model, &st)?;
    let get = |k: &str| -> Result<u64> {
        st.metadata
            .get(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| Error::Invalid(format!("training state lacks {k}")))
    };
    let pos = Position {
        step: get("step")? as usize,
        epoch: get("epoch")?,
        cursor: get("cursor")? as usize,
        rng: get("rng")?,
    };
    Ok((model, opt, pos))
}

/// Options of one run.
pub struct RunOptions<'a> {
    pub run_dir: &'a Path,
    pub resume: bool,
    /// Stop after this many steps of this invocation (a simulated kill in tests).
    pub stop_after: Option<usize>,
    /// Curriculum metadata of SFT or DPO items, one per item (pretraining takes it from its
    /// examples). Without it those modes draw shuffled epochs.
    pub meta: Option<&'a [Meta]>,
}

/// The autodiff device a run trains on: `base` with autodiff, and burn's balanced gradient
/// checkpointing when the config asks for it.
pub fn train_device(base: &Device, cfg: &TrainConfig) -> Device {
    let d = base.clone().autodiff();
    if cfg.gradient_checkpointing { d.gradient_checkpointing() } else { d }
}

/// The curriculum view of an example.
pub fn meta_of(e: &CodeExample) -> Meta {
    Meta { complexity: e.complexity, concept: e.concept, is_override: e.is_override }
}

/// Partners of pretraining examples: for consistency, examples of the same group whose
/// ANRF layers differ (hard negatives); for the adversarial objective, a mutant's original
/// and an original's first mutant (with whether the example is the mutant).
struct PretrainAux {
    neg: Vec<Vec<usize>>,
    adv: Vec<Option<(usize, bool)>>,
}

fn pretrain_aux(ex: &[CodeExample]) -> PretrainAux {
    let mut by_group: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    let mut by_id: std::collections::HashMap<&str, usize> = Default::default();
    for (i, e) in ex.iter().enumerate() {
        by_group.entry(&e.group).or_default().push(i);
        by_id.insert(&e.id, i);
    }
    let neg = ex
        .iter()
        .map(|e| {
            by_group[e.group.as_str()]
                .iter()
                .copied()
                .filter(|&j| !ex[j].anrf.is_empty() && ex[j].anrf != e.anrf)
                .collect()
        })
        .collect();
    let mut adv = vec![None; ex.len()];
    for (i, e) in ex.iter().enumerate() {
        if e.variant != sbd_data::record::VariantKind::Mutant {
            continue;
        }
        if let Some(&p) = e.parent.as_deref().and_then(|p| by_id.get(p)) {
            adv[i] = Some((p, true));
            if adv[p].is_none() {
                adv[p] = Some((i, false));
            }
        }
    }
    PretrainAux { neg, adv }
}

/// The rows of one pretraining batch for examples `idx` (see [`crate::objectives`]).
fn pretrain_batch(
    tok: &Tok,
    ex: &[CodeExample],
    aux: &PretrainAux,
    idx: &[usize],
    cfg: &TrainConfig,
    rng: &mut Rng,
    t: usize,
) -> Result<Batch> {
    let w = &cfg.objectives;
    let mut rows = Vec::new();
    let mut cons = Vec::new();
    let mut adv = Vec::new();
    for &i in idx {
        let fim = rng.f64() < w.fim_rate;
        match aux.adv[i].filter(|_| w.adversarial > 0.0) {
            Some((j, self_mutant)) => {
                let (o, m) = if self_mutant { (j, i) } else { (i, j) };
                // Both windows around the mutation, so that they show the same code.
                let focus = ex[m].spans.iter().find(|s| s.blocking).map(|s| s.start);
                let wo = window(tok, &ex[o], t.saturating_sub(4), focus, rng)?;
                let wm = window(tok, &ex[m], t.saturating_sub(4), focus, rng)?;
                let k = rows.len();
                rows.push(code_row_of(tok, &wo, &ex[o].explanation, false, rng, t)?);
                rows.push(code_row_of(tok, &wm, &ex[m].explanation, false, rng, t)?);
                if wm.props[0] == 1.0 && wo.props[0] == 0.0 {
                    adv.push((k, k + 1));
                }
            }
            None => rows.push(code_row(tok, &ex[i], fim, rng, t)?),
        }
        if w.consistency > 0.0 && !ex[i].anrf.is_empty() && rng.f64() < w.consistency_rate {
            let neg = if aux.neg[i].is_empty() {
                (0..8).map(|_| rng.below(ex.len())).find(|&j| !ex[j].anrf.is_empty() && ex[j].anrf != ex[i].anrf)
            } else {
                Some(aux.neg[i][rng.below(aux.neg[i].len())])
            };
            if let Some(j) = neg {
                let (m, n) = consistency_rows(tok, &ex[i], &ex[i].anrf, &ex[j].anrf, rng, t)?;
                cons.push((rows.len(), rows.len() + 1));
                rows.push(m);
                rows.push(n);
            }
        }
    }
    let mut b = collate(rows, tok.pad);
    b.cons_pairs = cons;
    b.adv_pairs = adv;
    Ok(b)
}

/// Writes the adapters of a LoRA model as `adapter.safetensors` and `adapter_config.json`.
fn save_adapters(model: &Model, dir: &Path) -> Result<()> {
    let Some(l) = &model.cfg.lora else { return Ok(()) };
    let mut f = model.to_file()?;
    f.tensors.retain(|n, _| n.contains(".lora_"));
    f.metadata.insert("format".into(), "pt".into());
    f.save(&dir.join("adapter.safetensors"))?;
    let json = serde_json::json!({
        "peft_type": "LORA",
        "r": l.rank,
        "lora_alpha": l.alpha,
        "target_modules": l.targets,
        "bias": "none",
        "merged_into": "model.safetensors",
    });
    crate::write_atomic(&dir.join("adapter_config.json"), json.to_string().as_bytes())
}

/// What one micro-batch (or one shard of it) contributes to a step.
struct MicroOut {
    /// Gradients of the scaled loss, by parameter index (`None` for frozen parameters).
    grads: Vec<Option<Tensor<2>>>,
    /// The unscaled loss and its parts.
    loss: f64,
    parts: Vec<(String, f64)>,
    tokens: usize,
}

/// `idx` cut into `n` contiguous, nearly equal, non-empty slices.
fn shard_slices(idx: &[usize], n: usize) -> Vec<&[usize]> {
    let n = n.clamp(1, idx.len().max(1));
    let (q, r) = (idx.len() / n, idx.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for k in 0..n {
        let len = q + usize::from(k < r);
        out.push(&idx[at..at + len]);
        at += len;
    }
    out
}

/// Runs `f(replica, slice, k)` for every slice `k` at the same time, one thread each, on
/// replicas of `model` (fresh autodiff leaves sharing its weights), in slice order.
fn run_shards<'s, T: Send>(
    model: &Model,
    slices: &[&'s [usize]],
    f: impl Fn(&Model, &'s [usize], usize) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    let f = &f;
    std::thread::scope(|sc| {
        let handles: Vec<_> = slices
            .iter()
            .enumerate()
            .map(|(k, &sl)| {
                let replica = model.clone().require_grad();
                sc.spawn(move || f(&replica, sl, k))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Invalid("a training shard panicked".into()))))
            .collect()
    })
}

/// Adds gradients `g` (by parameter index) into `acc`.
fn add_grads(acc: &mut [Option<Tensor<2>>], g: Vec<Option<Tensor<2>>>) {
    for (a, x) in acc.iter_mut().zip(g) {
        if let Some(x) = x {
            *a = Some(match a.take() {
                Some(y) => y.add(x),
                None => x,
            });
        }
    }
}

/// Forward and backward of the items `idx` of `task` on `model`, the loss scaled by `scale`.
#[allow(clippy::too_many_arguments)]
fn micro_batch(
    model: &Model,
    task: &Task,
    tok: &Tok,
    aux: Option<&PretrainAux>,
    policy_plain: Option<&Model>,
    idx: &[usize],
    cfg: &TrainConfig,
    rng: &mut Rng,
    t: usize,
    scale: f64,
) -> Result<MicroOut> {
    let (loss, parts, tokens) = match task {
        Task::Pretrain(ex) => {
            let aux = aux.ok_or_else(|| Error::Invalid("no pretraining partners".into()))?;
            let b = pretrain_batch(tok, ex, aux, idx, cfg, rng, t)?;
            let (l, p) = pretrain_loss(model, &b, cfg)?;
            (l, p, b.tokens)
        }
        Task::Sft(ch) => {
            let rows =
                idx.iter().map(|&i| chat_row(tok, &ch[i].prompt, &ch[i].response, t)).collect::<Result<Vec<_>>>()?;
            let b = collate(rows, tok.pad);
            let (l, s) = weighted_nll(
                next_token_logp(model.forward(&b.ids, b.b, None)?.logits, &b.ids, b.b, b.t, &model.device),
                shifted(&b.lm_w, b.b, b.t),
                &model.device,
            );
            if s == 0.0 {
                return Err(Error::Invalid("SFT batch without response tokens".into()));
            }
            let v = host(l.clone().detach())?[0] as f64;
            (l, vec![("sft".to_string(), v)], b.tokens)
        }
        Task::Dpo(pairs, reference) => {
            let ps: Vec<&Pair> = idx.iter().map(|&i| &pairs[i]).collect();
            let b = pair_batch(tok, &ps, t)?;
            let (l, p) = dpo_loss(model, reference, &b, cfg.dpo_beta)?;
            (l, p, b.tokens)
        }
        Task::Rl(prompts, reference, rl) => {
            let ps: Vec<&RlPrompt> = idx.iter().map(|&i| &prompts[i]).collect();
            let plain = policy_plain.ok_or_else(|| Error::Invalid("no sampling policy".into()))?;
            grpo_loss(model, plain, reference, tok, &ps, rl, rng.next_u64(), t)?
        }
    };
    let value = host(loss.clone().detach())?[0] as f64;
    let grads = loss.mul_scalar(scale).backward();
    let grads =
        model.params.iter().zip(&model.trainable).map(|(p, &on)| if on { p.grad(&grads) } else { None }).collect();
    Ok(MicroOut { grads, loss: value, parts, tokens })
}

/// Trains `model` on `task` for `cfg.steps` optimizer steps. With `resume` and a checkpoint
/// in the run directory, continues from it (the passed model is then ignored). Returns the
/// trained model (adapters merged) on the training device.
pub fn train(
    model: Model,
    tok: &Tok,
    task: &Task,
    cfg: &TrainConfig,
    opts: &RunOptions,
    on_step: &mut dyn FnMut(&StepLog),
) -> Result<Model> {
    if task.len() == 0 {
        return Err(Error::Invalid("no training examples".into()));
    }
    let run = opts.run_dir;
    std::fs::create_dir_all(run).map_err(io_err(run))?;
    let device = train_device(&model.device, cfg);
    let t = cfg.seq_len.min(model.cfg.max_seq);
    let (mut model, mut opt, mut pos) = match checkpoint_dir(run).filter(|_| opts.resume) {
        Some(dir) => load_checkpoint(&dir, &device)?,
        None => {
            let mut m = model.to_device(&device)?;
            if let Some(l) = &cfg.lora
                && m.cfg.lora.is_none()
            {
                m = m.with_lora(l, cfg.seed)?;
            }
            let m = m.require_grad();
            let o = AdamW::new(&m);
            (m, o, Position { step: 0, epoch: 0, cursor: 0, rng: Rng::new(cfg.seed).0 })
        }
    };
    model.precision = cfg.precision;
    let metas: Option<Vec<Meta>> = match task {
        Task::Pretrain(ex) => Some(ex.iter().map(meta_of).collect()),
        _ => opts.meta.map(<[Meta]>::to_vec),
    };
    if let Some(m) = &metas
        && m.len() != task.len()
    {
        return Err(Error::Invalid(format!("{} curriculum entries for {} items", m.len(), task.len())));
    }
    let curriculum =
        metas.as_ref().filter(|_| cfg.curriculum.enabled).map(|m| Curriculum::new(m.clone(), &cfg.curriculum));
    // Without a curriculum: shuffled epochs over the pool (override scenarios left out when
    // they are switched off).
    let pool: Vec<usize> = match &metas {
        Some(m) if !cfg.curriculum.overrides => (0..m.len()).filter(|&i| !m[i].is_override).collect(),
        _ => (0..task.len()).collect(),
    };
    if pool.is_empty() || curriculum.as_ref().is_some_and(Curriculum::is_empty) {
        return Err(Error::Invalid("no training item is ever admitted (all are override scenarios?)".into()));
    }
    let aux = match task {
        Task::Pretrain(ex) => Some(pretrain_aux(ex)),
        _ => None,
    };
    let metrics_path = run.join("metrics.jsonl");
    keep_metrics_until(&metrics_path, pos.step)?;
    let mut metrics =
        std::fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(io_err(&metrics_path))?;
    let started = Instant::now();
    let first = pos.step;
    let mut tokens_done = 0usize;
    while pos.step < cfg.steps {
        if opts.stop_after.is_some_and(|k| pos.step - first >= k) {
            return Ok(model);
        }
        let lr = lr_at(cfg, pos.step);
        let mut acc: Vec<Option<Tensor<2>>> = vec![None; model.params.len()];
        let mut sums: Vec<(String, f64)> = Vec::new();
        let mut loss_sum = 0.0;
        let mut step_tokens = 0;
        let policy_plain = match task {
            Task::Rl(_, reference, _) => Some(model.to_device(&reference.device)?),
            _ => None,
        };
        for _ in 0..cfg.grad_accum.max(1) {
            let idx = match &curriculum {
                Some(c) => {
                    let mut r = Rng(pos.rng);
                    let v = c.draw(pos.step as f64 / cfg.steps.max(1) as f64, cfg.batch_size, &mut r);
                    pos.rng = r.0;
                    v
                }
                None => {
                    next_indices(&mut pos, pool.len(), cfg.batch_size, cfg.seed).into_iter().map(|i| pool[i]).collect()
                }
            };
            // One shard: the batch as drawn, on the model itself (the RNG stream of a
            // single-threaded run). Several: contiguous slices of it, each with its own RNG
            // drawn from the stream, on replicas, at the same time.
            let shards = cfg.data_parallel.clamp(1, idx.len().max(1));
            let scale = 1.0 / (cfg.grad_accum.max(1) * shards) as f64;
            let mut rng = Rng(pos.rng);
            let results: Vec<Result<MicroOut>> = if shards == 1 {
                vec![micro_batch(&model, task, tok, aux.as_ref(), policy_plain.as_ref(), &idx, cfg, &mut rng, t, scale)]
            } else {
                let slices: Vec<&[usize]> = shard_slices(&idx, shards);
                let seeds: Vec<u64> = slices.iter().map(|_| rng.next_u64()).collect();
                let (aux, plain) = (aux.as_ref(), policy_plain.as_ref());
                run_shards(&model, &slices, |replica, sl, k| {
                    micro_batch(replica, task, tok, aux, plain, sl, cfg, &mut Rng(seeds[k]), t, scale)
                })
            };
            pos.rng = rng.0;
            for r in results {
                let m = r?;
                step_tokens += m.tokens;
                loss_sum += m.loss * scale;
                for (name, v) in m.parts {
                    match sums.iter_mut().find(|s| s.0 == name) {
                        Some(s) => s.1 += v * scale,
                        None => sums.push((name, v * scale)),
                    }
                }
                add_grads(&mut acc, m.grads);
            }
        }
        if !loss_sum.is_finite() {
            return Err(Error::Invalid(format!("loss became {loss_sum} at step {}", pos.step)));
        }
        let gn = opt.step(&mut model, acc, lr, cfg)?;
        pos.step += 1;
        tokens_done += step_tokens;
        let el = started.elapsed().as_secs_f64().max(1e-9);
        let done = (pos.step - first) as f64;
        let log = StepLog {
            step: pos.step,
            steps: cfg.steps,
            lr,
            loss: loss_sum,
            parts: sums,
            grad_norm: gn,
            tokens: step_tokens,
            tokens_per_s: tokens_done as f64 / el,
            eta_s: el / done * (cfg.steps - pos.step) as f64,
        };
        let line = serde_json::to_string(&log).map_err(|e| Error::Invalid(e.to_string()))?;
        writeln!(metrics, "{line}").map_err(io_err(&metrics_path))?;
        on_step(&log);
        if pos.step.is_multiple_of(cfg.checkpoint_every.max(1)) || pos.step == cfg.steps {
            save_checkpoint(run, &model, &opt, tok, cfg, pos, task.name())?;
        }
    }
    save_adapters(&model, run)?;
    let model = model.merge_lora()?;
    save_model_dir(&model, tok, run, Some(cfg), task.name())?;
    Ok(model)
}

/// Drops metric lines past `step` (a resumed run logs those steps again).
fn keep_metrics_until(path: &Path, step: usize) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let kept: Vec<&str> =
        text.lines().filter(|l| serde_json::from_str::<StepLog>(l).is_ok_and(|s| s.step <= step)).collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    std::fs::write(path, out).map_err(io_err(path))
}

/// The windows the property head reads to judge a whole example: the code when it fits in
/// `budget` tokens, else windows of `budget` tokens overlapping by half.
fn eval_windows<'a>(tok: &Tok, ex: &'a CodeExample, budget: usize) -> Result<Vec<crate::objectives::Window<'a>>> {
    let enc = tok.encode(&ex.code)?;
    let n = enc.ids.len();
    let budget = budget.max(2);
    let mut out = Vec::new();
    let mut first = 0;
    loop {
        let last = (first + budget).min(n);
        let (a, b) = if n == 0 { (0, ex.code.len()) } else { (enc.offsets[first].0, enc.offsets[last - 1].1) };
        let (a, b) = (a.min(ex.code.len()), b.min(ex.code.len()).max(a));
        let code = ex.code.get(a..b).unwrap_or(&ex.code);
        out.push(crate::objectives::Window { code, start: a, props: ex.props, spans: ex.spans.clone(), whole: false });
        if last >= n {
            break;
        }
        first += budget / 2;
    }
    Ok(out)
}

/// Property-head logits of each example, read as code alone (no explanation, no FIM):
/// examples longer than the window are read in overlapping windows, and the "insecure"
/// logit and the CWE logits are the maximum over windows (a weakness anywhere makes the code
/// insecure), the unit-level properties the mean.
pub fn property_scores(model: &Model, tok: &Tok, ex: &[CodeExample], t: usize) -> Result<Vec<Vec<f64>>> {
    Ok(code_scores(model, tok, ex, t)?.0)
}

/// [`property_scores`] and, from the same forward passes, the token-tag head's sequence
/// score of each example: the largest log-odds, over its code tokens, that a token carries
/// some security tag (`log Σ_{c≥1} p_c − log p_0`), the token-level view of "insecure".
pub fn code_scores(model: &Model, tok: &Tok, ex: &[CodeExample], t: usize) -> Result<(Vec<Vec<f64>>, Vec<f64>)> {
    let mut rng = Rng::new(0);
    let mut rows = Vec::new();
    let mut owner = Vec::new();
    for (k, e) in ex.iter().enumerate() {
        for w in eval_windows(tok, e, t.saturating_sub(2))? {
            rows.push(code_row_of(tok, &w, "", false, &mut rng, t)?);
            owner.push(k);
        }
    }
    let mut z_all: Vec<Vec<f64>> = Vec::with_capacity(rows.len());
    let mut tag_all: Vec<f64> = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Row> = rows.by_ref().take(8).collect();
        let b = collate(chunk, tok.pad);
        let out = model.forward(&b.ids, b.b, None)?;
        let tags = host(out.tags)?;
        let z = host(model.property_logits(out.hidden, &b.seq_mask))?;
        z_all.extend(z.chunks(N_PROPS).map(|r| r.iter().map(|v| *v as f64).collect()));
        for i in 0..b.b {
            let best = (i * b.t..(i + 1) * b.t)
                .filter(|&k| b.seq_mask[k] > 0.0)
                .map(|k| tag_log_odds(&tags[k * N_TAGS..(k + 1) * N_TAGS]))
                .fold(f64::NEG_INFINITY, f64::max);
            tag_all.push(best);
        }
    }
    let mut out = vec![vec![f64::NEG_INFINITY; N_PROPS]; ex.len()];
    let mut tag_out = vec![f64::NEG_INFINITY; ex.len()];
    let mut count = vec![0usize; ex.len()];
    let mut sums = vec![vec![0.0; N_PROPS]; ex.len()];
    for ((z, tg), &k) in z_all.iter().zip(&tag_all).zip(&owner) {
        count[k] += 1;
        tag_out[k] = tag_out[k].max(*tg);
        for j in 0..N_PROPS {
            out[k][j] = out[k][j].max(z[j]);
            sums[k][j] += z[j];
        }
    }
    for k in 0..ex.len() {
        for j in 1..4 {
            out[k][j] = sums[k][j] / count[k].max(1) as f64;
        }
    }
    Ok((out, tag_out))
}

/// `log Σ_{c≥1} e^{l_c} − l_0` of one token's tag logits.
fn tag_log_odds(l: &[f32]) -> f64 {
    let m = l[1..].iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let lse = m + l[1..].iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    lse - l[0] as f64
}

/// Share of pairs whose chosen response is more likely than the rejected one under `model`
/// (summed log-probability of the response tokens; ties count as losses).
pub fn preference_accuracy(model: &Model, tok: &Tok, pairs: &[Pair], t: usize) -> Result<f64> {
    Ok(pair_logps(model, tok, pairs, t)?.iter().filter(|(c, r)| c > r).count() as f64 / pairs.len().max(1) as f64)
}

/// Summed response log-probabilities (chosen, rejected) of each pair.
pub fn pair_logps(model: &Model, tok: &Tok, pairs: &[Pair], t: usize) -> Result<Vec<(f64, f64)>> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(4) {
        let ps: Vec<&Pair> = chunk.iter().collect();
        let b = pair_batch(tok, &ps, t)?;
        let lp = host(row_logp(model, &b)?)?;
        out.extend((0..chunk.len()).map(|i| (lp[2 * i] as f64, lp[2 * i + 1] as f64)));
    }
    Ok(out)
}

/// DPO's implicit-reward view of held-out pairs (TRL's `rewards/accuracies`): the reward
/// margin β·((log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)).
#[derive(Debug, Clone, Serialize)]
pub struct RewardAccuracy {
    pub pairs: usize,
    /// Share with a positive margin.
    pub strict: f64,
    /// Share with a margin of exactly 0 (every pair, before training: π = π_ref).
    pub ties: f64,
    /// `strict + ties / 2`: 0.5 for a model that cannot tell.
    pub accuracy: f64,
    pub mean_margin: f64,
}

pub fn reward_accuracy(policy: &[(f64, f64)], reference: &[(f64, f64)], beta: f64) -> RewardAccuracy {
    let n = policy.len().min(reference.len());
    let margins: Vec<f64> =
        (0..n).map(|i| beta * ((policy[i].0 - reference[i].0) - (policy[i].1 - reference[i].1))).collect();
    let pos = margins.iter().filter(|m| **m > 0.0).count() as f64;
    let ties = margins.iter().filter(|m| **m == 0.0).count() as f64;
    let d = n.max(1) as f64;
    RewardAccuracy {
        pairs: n,
        strict: pos / d,
        ties: ties / d,
        accuracy: (pos + ties / 2.0) / d,
        mean_margin: margins.iter().sum::<f64>() / d,
    }
}

/// Mean negative log-likelihood per response token of `chats` (held-out SFT loss).
pub fn chat_loss(model: &Model, tok: &Tok, chats: &[Chat], t: usize) -> Result<f64> {
    let (mut nll, mut n) = (0.0f64, 0.0f64);
    for chunk in chats.chunks(8) {
        let rows = chunk.iter().map(|c| chat_row(tok, &c.prompt, &c.response, t)).collect::<Result<Vec<_>>>()?;
        let b = collate(rows, tok.pad);
        let w: f64 = shifted(&b.lm_w, b.b, b.t).iter().map(|x| *x as f64).sum();
        let lp = row_logp(model, &b)?;
        nll -= host(lp)?.iter().map(|x| *x as f64).sum::<f64>();
        n += w;
    }
    Ok(nll / n.max(1.0))
}

/// Best of `repeats` timed `n×n·n×n` matmuls on `device` (after two untimed ones) in the
/// given precision, in FLOP/s: the peak that `sbd bench train` divides by.
pub fn matmul_peak(device: &Device, n: usize, repeats: usize, precision: crate::config::Precision) -> Result<f64> {
    use burn::tensor::FloatDType;
    let mut rng = Rng::new(1);
    let mut a: Tensor<2> = crate::model::dev((0..n * n).map(|_| rng.normal() as f32).collect(), [n, n], device);
    let mut b: Tensor<2> = crate::model::dev((0..n * n).map(|_| rng.normal() as f32).collect(), [n, n], device);
    let low = match precision {
        crate::config::Precision::F32 => None,
        crate::config::Precision::Bf16 => Some(FloatDType::BF16),
        crate::config::Precision::F16 => Some(FloatDType::F16),
    };
    if let Some(dt) = low {
        a = a.cast(dt);
        b = b.cast(dt);
    }
    let mut best = f64::MAX;
    for i in 0..repeats.max(1) + 2 {
        let t = Instant::now();
        let c = a.clone().matmul(b.clone());
        let _ = host(c.sum().cast(FloatDType::F32))?;
        if i >= 2 {
            best = best.min(t.elapsed().as_secs_f64());
        }
    }
    Ok(2.0 * (n as f64).powi(3) / best)
}

/// Trains on random tokens (next-token loss only) for `cfg.steps` steps and returns the
/// tokens and seconds of all steps after the first `warmup_steps` (for `sbd bench train`).
pub fn pretrain_batch_random(model: Model, cfg: &TrainConfig, warmup_steps: usize) -> Result<(usize, f64)> {
    let mut model = model.require_grad();
    model.precision = cfg.precision;
    let mut opt = AdamW::new(&model);
    let mut rng = Rng::new(cfg.seed);
    let (b, t) = (cfg.batch_size, cfg.seq_len);
    let v = model.cfg.vocab_size;
    let mut tokens = 0;
    let mut start = Instant::now();
    for step in 0..cfg.steps {
        if step == warmup_steps {
            start = Instant::now();
            tokens = 0;
        }
        let ids: Vec<u32> = (0..b * t).map(|_| rng.below(v) as u32).collect();
        let g = random_batch_grads(&model, &ids, b, t, cfg.data_parallel)?;
        opt.step(&mut model, g, lr_at(cfg, step), cfg)?;
        tokens += b * t;
    }
    Ok((tokens, start.elapsed().as_secs_f64()))
}

/// Gradients of the mean next-token loss of `b` rows of `t` ids, computed in `shards`
/// threads on replicas of `model` (what a data-parallel step does) and summed.
fn random_batch_grads(model: &Model, ids: &[u32], b: usize, t: usize, shards: usize) -> Result<Vec<Option<Tensor<2>>>> {
    let rows: Vec<usize> = (0..b).collect();
    let shards = shard_slices(&rows, shards);
    let scale = 1.0 / shards.len() as f64;
    let one = |m: &Model, sl: &[usize]| -> Result<Vec<Option<Tensor<2>>>> {
        let batch = collate(
            sl.iter()
                .map(|&r| {
                    let mut row = Row::empty(ids[r * t..(r + 1) * t].to_vec(), [0.0; N_PROPS], false);
                    row.lm = vec![1.0; t];
                    row
                })
                .collect(),
            0,
        );
        let (l, _) = weighted_nll(
            next_token_logp(m.forward(&batch.ids, sl.len(), None)?.logits, &batch.ids, sl.len(), t, &m.device),
            shifted(&batch.lm_w, sl.len(), t),
            &m.device,
        );
        let grads = l.mul_scalar(scale).backward();
        Ok(m.params.iter().map(|p| p.grad(&grads)).collect())
    };
    let parts =
        if shards.len() == 1 { vec![one(model, shards[0])] } else { run_shards(model, &shards, |m, sl, _| one(m, sl)) };
    let mut g: Vec<Option<Tensor<2>>> = vec![None; model.params.len()];
    for part in parts {
        add_grads(&mut g, part?);
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{chats_from_examples, default_corpus};

    fn setup() -> (Vec<CodeExample>, Tok, Model) {
        // The seed corpus and embedded pairs with their variants (no ../shared needed).
        let c = default_corpus(Path::new("/nonexistent"), 1500, true).unwrap();
        let texts: Vec<String> = c.examples.iter().take(200).map(|e| e.code.clone()).collect();
        let tok = Tok::train(texts.iter(), 320).unwrap();
        let cfg = ModelConfig { max_seq: 64, ..ModelConfig::preset("tiny", tok.vocab_size()).unwrap() };
        let model = Model::init(&cfg, &Device::flex(), 0).unwrap();
        (c.examples, tok, model)
    }

    fn small_cfg(steps: usize) -> TrainConfig {
        TrainConfig { steps, batch_size: 2, seq_len: 48, warmup: 1, checkpoint_every: 100, ..Default::default() }
    }

    fn losses(run: &Path) -> Vec<f64> {
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<StepLog>(l).unwrap().loss)
            .collect()
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sbd-train-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn every_pretraining_objective_contributes_and_checkpointing_changes_nothing() {
        let (ex, tok, model) = setup();
        let examples: Vec<CodeExample> = ex.into_iter().filter(|e| !e.held_out).collect();
        assert!(examples.iter().any(|e| e.variant == sbd_data::record::VariantKind::Mutant), "mutants in the corpus");
        assert!(examples.iter().any(|e| e.is_override), "override scenarios in the corpus");
        let mut cfg = small_cfg(4);
        cfg.batch_size = 6;
        cfg.objectives.consistency_rate = 1.0;
        cfg.curriculum.enabled = false; // draw every kind of example from the first step
        let (a, b) = (tmp("obj-a"), tmp("obj-b"));
        let opts = |d| RunOptions { run_dir: d, resume: false, stop_after: None, meta: None };
        train(model.clone(), &tok, &Task::Pretrain(&examples), &cfg, &opts(&a), &mut |_| {}).unwrap();
        let logs: Vec<StepLog> = std::fs::read_to_string(a.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for name in ["next_token", "property", "tags", "consistency", "adversarial"] {
            assert!(logs.iter().any(|l| l.parts.iter().any(|p| p.0 == name)), "{name} never logged: {:?}", logs[0]);
        }
        let ck = TrainConfig { gradient_checkpointing: true, ..cfg.clone() };
        train(model, &tok, &Task::Pretrain(&examples), &ck, &opts(&b), &mut |_| {}).unwrap();
        let (la, lb) = (losses(&a), losses(&b));
        for (x, y) in la.iter().zip(&lb) {
            assert!((x - y).abs() < 1e-4 * x.abs().max(1.0), "{la:?} vs {lb:?}");
        }
        std::fs::remove_dir_all(&a).ok();
        std::fs::remove_dir_all(&b).ok();
    }

    #[test]
    fn lora_fine_tuning_trains_only_adapters_merges_them_and_resumes_exactly() {
        let (ex, tok, model) = setup();
        let chats: Vec<Chat> = chats_from_examples(&ex).into_iter().map(|c| c.0).take(40).collect();
        let mut cfg = small_cfg(4);
        cfg.lora = Some(crate::config::LoraConfig {
            rank: 2,
            targets: vec!["q_proj".into(), "v_proj".into()],
            ..Default::default()
        });
        cfg.checkpoint_every = 1;
        let (a, b) = (tmp("lora-a"), tmp("lora-b"));
        let full = train(
            model.clone(),
            &tok,
            &Task::Sft(&chats),
            &cfg,
            &RunOptions { run_dir: &a, resume: false, stop_after: None, meta: None },
            &mut |_| {},
        )
        .unwrap();
        assert!(full.cfg.lora.is_none(), "the finished model has the adapters merged");
        assert!(a.join("adapter.safetensors").is_file() && a.join("adapter_config.json").is_file());
        // Only the adapted projections changed.
        let before = model.to_file().unwrap();
        let after = full.to_file().unwrap();
        for (name, t) in &before.tensors {
            let changed = after.tensors[name] != *t;
            let adapted = name.contains("q_proj") || name.contains("v_proj");
            assert_eq!(changed, adapted, "{name}");
        }
        // Stop after two steps, resume, and land on the same weights.
        let o = |resume, stop| RunOptions { run_dir: &b, resume, stop_after: stop, meta: None };
        train(model.clone(), &tok, &Task::Sft(&chats), &cfg, &o(false, Some(2)), &mut |_| {}).unwrap();
        let resumed = train(model, &tok, &Task::Sft(&chats), &cfg, &o(true, None), &mut |_| {}).unwrap();
        assert_eq!(resumed.to_file().unwrap(), after);
        assert_eq!(losses(&a), losses(&b));
        std::fs::remove_dir_all(&a).ok();
        std::fs::remove_dir_all(&b).ok();
    }

    #[test]
    fn data_parallel_shards_give_the_whole_batch_gradient() {
        let (_, _, model) = setup();
        let model = model.to_device(&train_device(&Device::flex(), &TrainConfig::default())).unwrap().require_grad();
        let (b, t) = (4, 32);
        let mut rng = Rng::new(7);
        let ids: Vec<u32> = (0..b * t).map(|_| rng.below(model.cfg.vocab_size) as u32).collect();
        let whole = random_batch_grads(&model, &ids, b, t, 1).unwrap();
        let sharded = random_batch_grads(&model, &ids, b, t, 2).unwrap();
        let mut compared = 0;
        for (i, (w, s)) in whole.into_iter().zip(sharded).enumerate() {
            let (w, s) = match (w, s) {
                (Some(w), Some(s)) => (w, s),
                // The heads the next-token loss does not reach (tags, properties).
                (None, None) => continue,
                _ => panic!("parameter {} has a gradient in one mode only", model.names[i]),
            };
            let (w, s) = (host(w).unwrap(), host(s).unwrap());
            let scale = w.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
            for (x, y) in w.iter().zip(&s) {
                assert!((x - y).abs() <= 1e-4 * scale, "{}: {x} vs {y}", model.names[i]);
            }
            compared += 1;
        }
        assert!(compared >= model.params.len() - 3, "{compared} of {} compared", model.params.len());
        assert_eq!(shard_slices(&[1, 2, 3, 4, 5], 2), vec![&[1, 2, 3][..], &[4, 5][..]]);
        assert_eq!(shard_slices(&[1], 4).len(), 1);
    }

    #[test]
    fn data_parallel_training_resumes_exactly_and_its_optimizer_matches_one_thread() {
        let (ex, tok, model) = setup();
        let examples: Vec<CodeExample> = ex.into_iter().filter(|e| !e.held_out).collect();
        let mut cfg = small_cfg(4);
        cfg.batch_size = 4;
        cfg.data_parallel = 2;
        cfg.checkpoint_every = 1;
        let (a, b) = (tmp("dp-a"), tmp("dp-b"));
        let task = Task::Pretrain(&examples);
        let full = train(
            model.clone(),
            &tok,
            &task,
            &cfg,
            &RunOptions { run_dir: &a, resume: false, stop_after: None, meta: None },
            &mut |_| {},
        )
        .unwrap();
        let o = |resume, stop| RunOptions { run_dir: &b, resume, stop_after: stop, meta: None };
        train(model.clone(), &tok, &task, &cfg, &o(false, Some(2)), &mut |_| {}).unwrap();
        let resumed = train(model.clone(), &tok, &task, &cfg, &o(true, None), &mut |_| {}).unwrap();
        assert_eq!(resumed.to_file().unwrap(), full.to_file().unwrap());
        assert_eq!(losses(&a), losses(&b));
        // The optimizer's threads change nothing: the same gradients give the same weights.
        let grads: Vec<Option<Tensor<2>>> =
            model.params.iter().map(|p| Some(p.clone().mul_scalar(0.5).add_scalar(0.01))).collect();
        let step = |threads| {
            let mut m = model.clone();
            let mut opt = AdamW::new(&m);
            let c = TrainConfig { data_parallel: threads, ..cfg.clone() };
            opt.step(&mut m, grads.clone(), 1e-2, &c).unwrap();
            m.to_file().unwrap()
        };
        assert_eq!(step(1), step(3));
        std::fs::remove_dir_all(&a).ok();
        std::fs::remove_dir_all(&b).ok();
    }

    #[test]
    fn implicit_reward_accuracy_counts_ties_half() {
        let r = reward_accuracy(&[(1.0, 0.0), (0.0, 0.0)], &[(0.0, 0.0), (0.0, 0.0)], 0.1);
        assert_eq!((r.strict, r.ties, r.accuracy), (0.5, 0.5, 0.75));
        let same = reward_accuracy(&[(-3.0, -2.0)], &[(-3.0, -2.0)], 0.1);
        assert_eq!((same.strict, same.accuracy), (0.0, 0.5));
    }
}
