//! Training loops: pretraining objectives, SFT and DPO, with checkpoints that resume exactly.
//!
//! A run directory holds `checkpoint/` (the latest checkpoint: `model.safetensors`,
//! `config.json`, `tokenizer.json`, `training_state.safetensors` with the AdamW moments, step,
//! data position and RNG state), `metrics.jsonl` (one line per step) and, when the run ends,
//! the final model files at the top level. Checkpoints are staged in a sibling directory and
//! swapped in by renames, so a kill at any instant leaves a complete checkpoint behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::activation::{log_softmax, softplus};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::{ModelConfig, N_PROPS, N_TAGS, TrainConfig};
use crate::data::{Chat, CodeExample, Pair};
use crate::model::{Model, dev, host};
use crate::optim::{AdamW, lr_at};
use crate::rl::{RlConfig, RlPrompt, grpo_loss};
use crate::rng::Rng;
use crate::tensor_io::TensorFile;
use crate::tokenizer::{self as tk, Tok};
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

/// A padded batch of rows and per-position targets.
pub struct Batch {
    pub ids: Vec<u32>,
    pub b: usize,
    pub t: usize,
    /// Weight of predicting `ids[i+1]` at position `i`, for the main next-token loss.
    pub lm_w: Vec<f32>,
    /// The same, for explanation tokens.
    pub expl_w: Vec<f32>,
    pub tag: Vec<i64>,
    pub tag_w: Vec<f32>,
    /// 1 for real (non-padding) tokens.
    pub seq_mask: Vec<f32>,
    pub props: Vec<f32>,
    pub tokens: usize,
}

pub(crate) struct Row {
    ids: Vec<u32>,
    pub(crate) lm: Vec<f32>,
    expl: Vec<f32>,
    tag: Vec<i64>,
    tag_w: Vec<f32>,
    props: [f32; N_PROPS],
}

fn pick_char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

/// Encodes a labelled code example, as plain text or (with `fim`) in fill-in-the-middle form.
fn code_row(tok: &Tok, ex: &CodeExample, fim: bool, rng: &mut Rng, t: usize) -> Result<Row> {
    if fim && ex.code.len() > 4 {
        let mut a = pick_char_boundary(&ex.code, rng.below(ex.code.len()));
        let mut b = pick_char_boundary(&ex.code, rng.below(ex.code.len()));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        let (pre, mid, suf) = (&ex.code[..a], &ex.code[a..b], &ex.code[b..]);
        let text =
            format!("{}{}{pre}{}{suf}{}{mid}{}", tk::BOS, tk::FIM_PREFIX, tk::FIM_SUFFIX, tk::FIM_MIDDLE, tk::EOS);
        let enc = tok.encode(&text)?;
        let n = enc.ids.len().min(t);
        let mut lm = vec![1.0; n];
        lm[n - 1] = 0.0;
        return Ok(Row {
            ids: enc.ids[..n].to_vec(),
            expl: vec![0.0; n],
            tag: vec![0; n],
            tag_w: vec![0.0; n],
            lm,
            props: ex.props,
        });
    }
    let head = format!("{}{}", tk::BOS, tk::CODE);
    let code_start = head.len();
    let code_end = code_start + ex.code.len();
    let text = format!("{head}{}{}{}{}", ex.code, tk::EXPLANATION, ex.explanation, tk::EOS);
    let enc = tok.encode(&text)?;
    let n = enc.ids.len().min(t);
    let mut row = Row {
        ids: enc.ids[..n].to_vec(),
        lm: vec![0.0; n],
        expl: vec![0.0; n],
        tag: vec![0; n],
        tag_w: vec![0.0; n],
        props: ex.props,
    };
    for i in 0..n {
        let (s, e) = enc.offsets[i];
        let in_code = s >= code_start && e <= code_end && e > s;
        if in_code {
            row.tag_w[i] = 1.0;
            let (cs, ce) = (s - code_start, e - code_start);
            if let Some(&(_, _, c)) = ex.tags.iter().find(|(a, b, _)| cs < *b && ce > *a) {
                row.tag[i] = c as i64;
            }
        }
        if i > 0 {
            if s >= code_start && e <= code_end + tk::EXPLANATION.len() {
                row.lm[i - 1] = 1.0;
            } else if s >= code_end {
                row.expl[i - 1] = 1.0;
            }
        }
    }
    Ok(row)
}

/// Encodes a prompt and a response; weights on the response tokens (and the closing EOS).
pub(crate) fn chat_row(tok: &Tok, prompt: &str, response: &str, t: usize) -> Result<Row> {
    let p = tok.encode(&format!("{}{}{prompt}{}", tk::BOS, tk::USER, tk::ASSISTANT))?.ids;
    let r = tok.encode(&format!("{response}{}", tk::EOS))?.ids;
    let keep_p = p.len().min(t / 2).max(t.saturating_sub(r.len())).min(p.len());
    let mut ids: Vec<u32> = p[p.len() - keep_p..].to_vec();
    let plen = ids.len();
    ids.extend(&r[..r.len().min(t - plen.min(t))]);
    let n = ids.len();
    let mut lm = vec![0.0; n];
    for w in lm.iter_mut().take(n.saturating_sub(1)).skip(plen.saturating_sub(1)) {
        *w = 1.0;
    }
    Ok(Row { ids, lm, expl: vec![0.0; n], tag: vec![0; n], tag_w: vec![0.0; n], props: [0.0; N_PROPS] })
}

pub(crate) fn collate(rows: Vec<Row>, pad: u32) -> Batch {
    let b = rows.len();
    let t = rows.iter().map(|r| r.ids.len()).max().unwrap_or(1).max(2);
    let mut out = Batch {
        ids: Vec::with_capacity(b * t),
        b,
        t,
        lm_w: Vec::new(),
        expl_w: Vec::new(),
        tag: Vec::new(),
        tag_w: Vec::new(),
        seq_mask: Vec::new(),
        props: Vec::new(),
        tokens: 0,
    };
    for r in rows {
        let n = r.ids.len();
        out.tokens += n;
        let padn = t - n;
        out.ids.extend(r.ids.iter().copied().chain(std::iter::repeat_n(pad, padn)));
        out.lm_w.extend(r.lm.into_iter().chain(std::iter::repeat_n(0.0, padn)));
        out.expl_w.extend(r.expl.into_iter().chain(std::iter::repeat_n(0.0, padn)));
        out.tag.extend(r.tag.into_iter().chain(std::iter::repeat_n(0, padn)));
        out.tag_w.extend(r.tag_w.into_iter().chain(std::iter::repeat_n(0.0, padn)));
        out.seq_mask.extend(std::iter::repeat_n(1.0, n).chain(std::iter::repeat_n(0.0, padn)));
        out.props.extend(r.props);
    }
    out
}

fn int2(v: Vec<i64>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Per-position log-probabilities of the next token, `[B*(T-1)]` as `[N, 1]`.
fn next_token_logp(logits: Tensor<3>, ids: &[u32], b: usize, t: usize, device: &Device) -> Tensor<2> {
    let [_, _, v] = logits.dims();
    let lp = log_softmax(logits.narrow(1, 0, t - 1).reshape([b * (t - 1), v]), 1);
    let mut tgt = Vec::with_capacity(b * (t - 1));
    for r in 0..b {
        for i in 1..t {
            tgt.push(ids[r * t + i] as i64);
        }
    }
    lp.gather(1, int2(tgt, [b * (t - 1), 1], device))
}

fn shifted(w: &[f32], b: usize, t: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * (t - 1));
    for r in 0..b {
        out.extend_from_slice(&w[r * t..r * t + t - 1]);
    }
    out
}

/// Weighted mean of `-logp` (a `[1]` tensor) and the weight sum.
fn weighted_nll(logp: Tensor<2>, w: Vec<f32>, device: &Device) -> (Tensor<1>, f32) {
    let n = w.len();
    let s: f32 = w.iter().sum();
    let wt: Tensor<2> = dev(w, [n, 1], device);
    (logp.mul(wt).sum().neg().div_scalar(s.max(1.0)), s)
}

/// Pretraining losses of a batch: the weighted total and each objective's value.
pub fn pretrain_loss(model: &Model, batch: &Batch, cfg: &TrainConfig) -> Result<(Tensor<1>, Vec<(String, f64)>)> {
    let d = &model.device;
    let w = &cfg.objectives;
    let out = model.forward(&batch.ids, batch.b, None)?;
    let (b, t) = (batch.b, batch.t);
    let logp = next_token_logp(out.logits, &batch.ids, b, t, d);
    let mut parts: Vec<(&str, f64, Tensor<1>)> = Vec::new();
    let (lm, s) = weighted_nll(logp.clone(), shifted(&batch.lm_w, b, t), d);
    if s > 0.0 && w.next_token > 0.0 {
        parts.push(("next_token", w.next_token, lm));
    }
    let (ex, s) = weighted_nll(logp, shifted(&batch.expl_w, b, t), d);
    if s > 0.0 && w.explanation > 0.0 {
        parts.push(("explanation", w.explanation, ex));
    }
    if w.tags > 0.0 {
        let lp = log_softmax(out.tags.reshape([b * t, N_TAGS]), 1).gather(1, int2(batch.tag.clone(), [b * t, 1], d));
        let (tl, s) = weighted_nll(lp, batch.tag_w.clone(), d);
        if s > 0.0 {
            parts.push(("tags", w.tags, tl));
        }
    }
    if w.property > 0.0 {
        let z = model.property_logits(out.hidden, &batch.seq_mask);
        let y: Tensor<2> = dev(batch.props.clone(), [b, N_PROPS], d);
        let bce = softplus(z.clone(), 1.0).sub(y.mul(z)).mean();
        parts.push(("property", w.property, bce));
    }
    combine(parts)
}

fn combine(parts: Vec<(&str, f64, Tensor<1>)>) -> Result<(Tensor<1>, Vec<(String, f64)>)> {
    let mut total: Option<Tensor<1>> = None;
    let mut vals = Vec::new();
    for (name, wt, l) in parts {
        vals.push((name.to_string(), host(l.clone().detach())?[0] as f64));
        let l = l.mul_scalar(wt);
        total = Some(match total {
            Some(t) => t.add(l),
            None => l,
        });
    }
    total.map(|t| (t, vals)).ok_or_else(|| Error::Invalid("every objective is switched off".into()))
}

/// Summed log-probability of each row's weighted tokens, `[B, 1]`.
pub(crate) fn row_logp(model: &Model, batch: &Batch) -> Result<Tensor<2>> {
    let out = model.forward(&batch.ids, batch.b, None)?;
    let (b, t) = (batch.b, batch.t);
    let lp = next_token_logp(out.logits, &batch.ids, b, t, &model.device);
    let w: Tensor<2> = dev(shifted(&batch.lm_w, b, t), [b * (t - 1), 1], &model.device);
    Ok(lp.mul(w).reshape([b, t - 1]).sum_dim(1))
}

fn pair_batch(tok: &Tok, pairs: &[&Pair], t: usize) -> Result<Batch> {
    let mut rows = Vec::new();
    for p in pairs {
        rows.push(chat_row(tok, &p.prompt, &p.chosen, t)?);
        rows.push(chat_row(tok, &p.prompt, &p.rejected, t)?);
    }
    Ok(collate(rows, tok.pad))
}

/// DPO loss: −log σ(β·((π_c − ref_c) − (π_r − ref_r))), averaged over pairs.
pub fn dpo_loss(model: &Model, reference: &Model, batch: &Batch, beta: f64) -> Result<(Tensor<1>, Vec<(String, f64)>)> {
    let n = batch.b / 2;
    let pol = row_logp(model, batch)?.reshape([n, 2]);
    let r = host(row_logp(reference, batch)?)?;
    let ref_delta: Vec<f32> = (0..n).map(|i| r[2 * i] - r[2 * i + 1]).collect();
    let pd = pol.clone().narrow(1, 0, 1).sub(pol.narrow(1, 1, 1));
    let margin = pd.sub(dev(ref_delta, [n, 1], &model.device)).mul_scalar(beta);
    let acc = host(margin.clone().detach())?.iter().filter(|m| **m > 0.0).count() as f64 / n as f64;
    let loss = softplus(margin.neg(), 1.0).mean();
    let (total, mut parts) = combine(vec![("dpo", 1.0, loss)])?;
    parts.push(("reward_acc".into(), acc));
    Ok((total, parts))
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
}

/// Trains `model` on `task` for `cfg.steps` optimizer steps. With `resume` and a checkpoint
/// in the run directory, continues from it (the passed model is then ignored).
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
    let device = model.device.clone();
    let t = cfg.seq_len.min(model.cfg.max_seq);
    let (mut model, mut opt, mut pos) = match checkpoint_dir(run).filter(|_| opts.resume) {
        Some(dir) => load_checkpoint(&dir, &device)?,
        None => {
            let m = model.require_grad();
            let o = AdamW::new(&m);
            (m, o, Position { step: 0, epoch: 0, cursor: 0, rng: Rng::new(cfg.seed).0 })
        }
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
            let idx = next_indices(&mut pos, task.len(), cfg.batch_size, cfg.seed);
            let mut rng = Rng(pos.rng);
            let (loss, parts, ntok) = match task {
                Task::Pretrain(ex) => {
                    let mut rows = Vec::new();
                    for &i in &idx {
                        let fim = rng.f64() < cfg.objectives.fim_rate;
                        rows.push(code_row(tok, &ex[i], fim, &mut rng, t)?);
                    }
                    let b = collate(rows, tok.pad);
                    let (l, p) = pretrain_loss(&model, &b, cfg)?;
                    (l, p, b.tokens)
                }
                Task::Sft(ch) => {
                    let rows = idx
                        .iter()
                        .map(|&i| chat_row(tok, &ch[i].prompt, &ch[i].response, t))
                        .collect::<Result<Vec<_>>>()?;
                    let b = collate(rows, tok.pad);
                    let (l, s) = weighted_nll(
                        next_token_logp(model.forward(&b.ids, b.b, None)?.logits, &b.ids, b.b, b.t, &device),
                        shifted(&b.lm_w, b.b, b.t),
                        &device,
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
                    let (l, p) = dpo_loss(&model, reference, &b, cfg.dpo_beta)?;
                    (l, p, b.tokens)
                }
                Task::Rl(prompts, reference, rl) => {
                    let ps: Vec<&RlPrompt> = idx.iter().map(|&i| &prompts[i]).collect();
                    let plain = policy_plain.as_ref().ok_or_else(|| Error::Invalid("no sampling policy".into()))?;
                    grpo_loss(&model, plain, reference, tok, &ps, rl, rng.next_u64(), t)?
                }
            };
            pos.rng = rng.0;
            step_tokens += ntok;
            let scale = 1.0 / cfg.grad_accum.max(1) as f64;
            loss_sum += host(loss.clone().detach())?[0] as f64 * scale;
            for (name, v) in parts {
                match sums.iter_mut().find(|s| s.0 == name) {
                    Some(s) => s.1 += v * scale,
                    None => sums.push((name, v * scale)),
                }
            }
            let grads = loss.mul_scalar(scale).backward();
            for (i, p) in model.params.iter().enumerate() {
                if let Some(g) = p.grad(&grads) {
                    acc[i] = Some(match acc[i].take() {
                        Some(a) => a.add(g),
                        None => g,
                    });
                }
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

/// Property-head logits for the first property ("insecure") of each example (no FIM).
pub fn property_scores(model: &Model, tok: &Tok, ex: &[CodeExample], t: usize) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::new();
    let mut rng = Rng::new(0);
    for chunk in ex.chunks(8) {
        let rows = chunk.iter().map(|e| code_row(tok, e, false, &mut rng, t)).collect::<Result<Vec<_>>>()?;
        // Score the code alone: the explanation would give the label away.
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|mut r| {
                let cut = r.expl.iter().position(|w| *w > 0.0).unwrap_or(r.ids.len());
                for v in [&mut r.lm, &mut r.expl, &mut r.tag_w] {
                    v.truncate(cut);
                }
                r.ids.truncate(cut);
                r.tag.truncate(cut);
                r
            })
            .collect();
        let b = collate(rows, tok.pad);
        let hidden = model.forward(&b.ids, b.b, None)?.hidden;
        let z = host(model.property_logits(hidden, &b.seq_mask))?;
        out.extend(z.chunks(N_PROPS).map(|r| r.iter().map(|v| *v as f64).collect()));
    }
    Ok(out)
}

/// Share of pairs whose chosen response is more likely than the rejected one under `model`
/// (summed log-probability of the response tokens).
pub fn preference_accuracy(model: &Model, tok: &Tok, pairs: &[Pair], t: usize) -> Result<f64> {
    let mut wins = 0usize;
    for chunk in pairs.chunks(4) {
        let ps: Vec<&Pair> = chunk.iter().collect();
        let b = pair_batch(tok, &ps, t)?;
        let lp = host(row_logp(model, &b)?)?;
        wins += (0..chunk.len()).filter(|i| lp[2 * i] > lp[2 * i + 1]).count();
    }
    Ok(wins as f64 / pairs.len().max(1) as f64)
}

/// Trains on random tokens (next-token loss only) for `cfg.steps` steps and returns the
/// tokens and seconds of all steps after the first `warmup_steps` (for `sbd bench train`).
pub fn pretrain_batch_random(model: Model, cfg: &TrainConfig, warmup_steps: usize) -> Result<(usize, f64)> {
    let mut model = model.require_grad();
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
        let batch = collate(
            ids.chunks(t)
                .map(|r| Row {
                    ids: r.to_vec(),
                    lm: vec![1.0; t],
                    expl: vec![0.0; t],
                    tag: vec![0; t],
                    tag_w: vec![0.0; t],
                    props: [0.0; N_PROPS],
                })
                .collect(),
            0,
        );
        let (l, _) = weighted_nll(
            next_token_logp(model.forward(&batch.ids, b, None)?.logits, &batch.ids, b, t, &model.device),
            shifted(&batch.lm_w, b, t),
            &model.device,
        );
        let grads = l.backward();
        let g = model.params.iter().map(|p| p.grad(&grads)).collect();
        opt.step(&mut model, g, lr_at(cfg, step), cfg)?;
        tokens += b * t;
    }
    Ok((tokens, start.elapsed().as_secs_f64()))
}
