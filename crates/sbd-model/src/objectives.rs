//! Training rows, batches and the losses computed on them.
//!
//! A pretraining batch holds, for each drawn example, its main row — the code (in plain or
//! fill-in-the-middle form) followed by its explanation — and optionally:
//!
//! - a **consistency pair**: the code followed by its own ANRF layers, and the same code
//!   followed by mismatched layers (those of a pair partner or mutant when they differ, else
//!   of another example). The loss is `−log σ(s⁺ − s⁻)` where `s` is the mean log-likelihood
//!   of the ANRF tokens after the code: the model must find the metadata that describes the
//!   code more likely than metadata that does not (contrastive code–metadata consistency).
//!   The matched row also teaches writing the layers after the code (next-token loss).
//! - an **adversarial pair**: a verifier-confirmed mutant next to the secure code it was made
//!   from. Besides their own property labels, the loss `−log σ(z_mutant − z_original)` on the
//!   property head's "insecure" logit asks the model to rank the one-edit-away insecure
//!   version above its original.
//!
//! Code longer than the window is cut to a window of tokens — around a finding half of the
//! time — and the window's labels come from the findings inside it: "insecure" and the CWE
//! bits from the blocking findings whose span overlaps the window, the unit-level properties
//! as they are.

use burn::tensor::activation::{log_softmax, softplus};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::config::{CWES, N_PROPS, N_TAGS, TrainConfig};
use crate::data::{CodeExample, Pair, Span};
use crate::model::{Model, dev, host};
use crate::rng::Rng;
use crate::tokenizer::{self as tk, Tok};
use crate::{Error, Result};

/// A padded batch of rows and per-position targets.
pub struct Batch {
    pub ids: Vec<u32>,
    pub b: usize,
    pub t: usize,
    /// Weight of predicting `ids[i+1]` at position `i`, for the main next-token loss.
    pub lm_w: Vec<f32>,
    /// The same, for explanation tokens.
    pub expl_w: Vec<f32>,
    /// The same, for the ANRF tokens of consistency rows.
    pub cons_w: Vec<f32>,
    pub tag: Vec<i64>,
    pub tag_w: Vec<f32>,
    /// 1 for the tokens the property head pools (a row's code, not padding and not the
    /// explanation that follows the code: that states the labels the head predicts).
    pub seq_mask: Vec<f32>,
    pub props: Vec<f32>,
    /// Per row: 1 when the property loss applies.
    pub prop_w: Vec<f32>,
    /// (matched, mismatched) row indices.
    pub cons_pairs: Vec<(usize, usize)>,
    /// (original, mutant) row indices.
    pub adv_pairs: Vec<(usize, usize)>,
    pub tokens: usize,
}

/// One encoded row before padding.
pub struct Row {
    pub(crate) ids: Vec<u32>,
    pub(crate) lm: Vec<f32>,
    pub(crate) expl: Vec<f32>,
    pub(crate) cons: Vec<f32>,
    pub(crate) tag: Vec<i64>,
    pub(crate) tag_w: Vec<f32>,
    /// 1 for the tokens the property head pools.
    pub(crate) pool: Vec<f32>,
    pub(crate) props: [f32; N_PROPS],
    pub(crate) prop_on: bool,
}

impl Row {
    pub(crate) fn empty(ids: Vec<u32>, props: [f32; N_PROPS], prop_on: bool) -> Row {
        let n = ids.len();
        Row {
            ids,
            lm: vec![0.0; n],
            expl: vec![0.0; n],
            cons: vec![0.0; n],
            tag: vec![0; n],
            tag_w: vec![0.0; n],
            pool: vec![1.0; n],
            props,
            prop_on,
        }
    }
}

fn char_boundary(s: &str, mut i: usize) -> usize {
    while i < s.len() && !s.is_char_boundary(i) {
        i += 1;
    }
    i.min(s.len())
}

/// A window of an example's code: the byte range, and the labels of what it contains.
pub struct Window<'a> {
    pub code: &'a str,
    /// Byte offset of `code` in the example's code.
    pub start: usize,
    pub props: [f32; N_PROPS],
    pub spans: Vec<Span>,
    /// The whole code.
    pub whole: bool,
}

/// Labels of a byte range of `ex.code` from the findings that overlap it.
fn window_labels(ex: &CodeExample, a: usize, b: usize) -> ([f32; N_PROPS], Vec<Span>) {
    let spans: Vec<Span> = ex
        .spans
        .iter()
        .filter(|s| s.start < b && s.end > a)
        .map(|s| Span { start: s.start.max(a) - a, end: s.end.min(b) - a, ..s.clone() })
        .collect();
    let mut props = ex.props;
    props[0] = spans.iter().any(|s| s.blocking) as u8 as f32;
    for p in props.iter_mut().skip(4) {
        *p = 0.0;
    }
    for s in &spans {
        for c in &s.cwes {
            if let Some(i) = CWES.iter().position(|x| x == c) {
                props[4 + i] = 1.0;
            }
        }
    }
    (props, spans)
}

/// Cuts `ex.code` to at most `budget` tokens. Short code is returned whole; otherwise the
/// window starts at a random token, or (half of the time, when there are findings) a little
/// before a random finding; with `around`, a little before that byte offset.
pub fn window<'a>(
    tok: &Tok,
    ex: &'a CodeExample,
    budget: usize,
    around: Option<usize>,
    rng: &mut Rng,
) -> Result<Window<'a>> {
    let enc = tok.encode(&ex.code)?;
    let n = enc.ids.len();
    if n <= budget {
        return Ok(Window { code: &ex.code, start: 0, props: ex.props, spans: ex.spans.clone(), whole: true });
    }
    let budget = budget.max(1);
    let token_at = |byte: usize| enc.offsets.iter().position(|o| o.1 > byte).unwrap_or(n - 1);
    let focus = match around {
        Some(b) => Some(b),
        None if !ex.spans.is_empty() && rng.f64() < 0.5 => Some(ex.spans[rng.below(ex.spans.len())].start),
        None => None,
    };
    let first = match focus {
        Some(b) => token_at(b).saturating_sub(budget / 4 + rng.below(budget / 4 + 1)),
        None => rng.below(n - budget + 1),
    }
    .min(n - budget);
    let a = char_boundary(&ex.code, enc.offsets[first].0);
    let b = char_boundary(&ex.code, enc.offsets[first + budget - 1].1).max(a);
    let (props, spans) = window_labels(ex, a, b);
    Ok(Window { code: &ex.code[a..b], start: a, props, spans, whole: false })
}

/// Encodes a labelled code example (a window of it when long), as plain text followed by
/// the explanation or (with `fim`) in fill-in-the-middle form.
pub fn code_row(tok: &Tok, ex: &CodeExample, fim: bool, rng: &mut Rng, t: usize) -> Result<Row> {
    let w = window(tok, ex, t.saturating_sub(4), None, rng)?;
    code_row_of(tok, &w, &ex.explanation, fim, rng, t)
}

pub(crate) fn code_row_of(tok: &Tok, w: &Window, explanation: &str, fim: bool, rng: &mut Rng, t: usize) -> Result<Row> {
    let code = w.code;
    if fim && code.len() > 4 {
        let mut a = char_boundary(code, rng.below(code.len()));
        let mut b = char_boundary(code, rng.below(code.len()));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        let (pre, mid, suf) = (&code[..a], &code[a..b], &code[b..]);
        let text =
            format!("{}{}{pre}{}{suf}{}{mid}{}", tk::BOS, tk::FIM_PREFIX, tk::FIM_SUFFIX, tk::FIM_MIDDLE, tk::EOS);
        let enc = tok.encode(&text)?;
        let n = enc.ids.len().min(t);
        let mut row = Row::empty(enc.ids[..n].to_vec(), w.props, true);
        row.lm = vec![1.0; n];
        row.lm[n - 1] = 0.0;
        return Ok(row);
    }
    let head = format!("{}{}", tk::BOS, tk::CODE);
    let code_start = head.len();
    let code_end = code_start + code.len();
    // A window's explanation would describe code outside it: only whole code has one.
    let text = if w.whole {
        format!("{head}{code}{}{explanation}{}", tk::EXPLANATION, tk::EOS)
    } else {
        format!("{head}{code}")
    };
    let enc = tok.encode(&text)?;
    let n = enc.ids.len().min(t);
    let mut row = Row::empty(enc.ids[..n].to_vec(), w.props, true);
    for i in 0..n {
        let (s, e) = enc.offsets[i];
        // The property head reads the code (and the markers before it), never the
        // explanation: at evaluation and in generation there is none to read.
        if e > code_end {
            row.pool[i] = 0.0;
        }
        if s >= code_start && e <= code_end && e > s {
            row.tag_w[i] = 1.0;
            let (cs, ce) = (s - code_start, e - code_start);
            if let Some(sp) = w.spans.iter().find(|sp| cs < sp.end && ce > sp.start) {
                row.tag[i] = sp.class as i64;
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

/// The two rows of a consistency pair: a window of the code followed by `matched` ANRF
/// layers, and the same window followed by `mismatched` ones. Weights sit on the ANRF tokens.
pub fn consistency_rows(
    tok: &Tok,
    ex: &CodeExample,
    matched: &str,
    mismatched: &str,
    rng: &mut Rng,
    t: usize,
) -> Result<(Row, Row)> {
    let am = tok.encode(&format!("{matched}{}", tk::EOS))?.ids;
    let an = tok.encode(&format!("{mismatched}{}", tk::EOS))?.ids;
    let budget = t.saturating_sub(2 + am.len().max(an.len())).max(8);
    let w = window(tok, ex, budget, None, rng)?;
    let head = tok.encode(&format!("{}{}{}", tk::BOS, tk::CODE, w.code))?.ids;
    let make = |anrf: &[u32], lm: bool| {
        let mut ids = head.clone();
        ids.extend_from_slice(anrf);
        ids.truncate(t);
        let n = ids.len();
        let mut row = Row::empty(ids, w.props, false);
        for i in head.len().saturating_sub(1)..n.saturating_sub(1) {
            row.cons[i] = 1.0;
            if lm {
                row.lm[i] = 1.0;
            }
        }
        row
    };
    Ok((make(&am, true), make(&an, false)))
}

/// Encodes a prompt and a response; weights on the response tokens (and the closing EOS).
pub fn chat_row(tok: &Tok, prompt: &str, response: &str, t: usize) -> Result<Row> {
    let p = tok.encode(&format!("{}{}{prompt}{}", tk::BOS, tk::USER, tk::ASSISTANT))?.ids;
    let r = tok.encode(&format!("{response}{}", tk::EOS))?.ids;
    Ok(prompt_response_row(&p, &r, t))
}

fn prompt_response_row(p: &[u32], r: &[u32], t: usize) -> Row {
    let keep_p = p.len().min(t / 2).max(t.saturating_sub(r.len())).min(p.len());
    let mut ids: Vec<u32> = p[p.len() - keep_p..].to_vec();
    let plen = ids.len();
    ids.extend(&r[..r.len().min(t - plen.min(t))]);
    let n = ids.len();
    let mut row = Row::empty(ids, [0.0; N_PROPS], false);
    for w in row.lm.iter_mut().take(n.saturating_sub(1)).skip(plen.saturating_sub(1)) {
        *w = 1.0;
    }
    row
}

/// The two rows of a preference pair. When the longer response does not fit the window
/// after the prompt, both responses lose the same number of leading tokens from their
/// common prefix — tokens whose log-probabilities are identical under both and cancel in
/// every pair score — so that the window covers where they differ.
pub fn pair_rows(tok: &Tok, pair: &Pair, t: usize) -> Result<(Row, Row)> {
    let p = tok.encode(&format!("{}{}{}{}", tk::BOS, tk::USER, pair.prompt, tk::ASSISTANT))?.ids;
    let c = tok.encode(&format!("{}{}", pair.chosen, tk::EOS))?.ids;
    let r = tok.encode(&format!("{}{}", pair.rejected, tk::EOS))?.ids;
    let keep_p = p.len().min(t / 4);
    let room = t - keep_p;
    let longest = c.len().max(r.len());
    let mut cut = 0;
    if longest > room {
        let common = c.iter().zip(&r).take_while(|(a, b)| a == b).count();
        // Keep a quarter of the window as shared context before the first difference.
        cut = common.saturating_sub(room / 4).min(longest - room);
    }
    let p = &p[p.len() - keep_p..];
    Ok((prompt_response_row(p, &c[cut..], t), prompt_response_row(p, &r[cut..], t)))
}

/// Pads rows into a batch.
pub fn collate(rows: Vec<Row>, pad: u32) -> Batch {
    let b = rows.len();
    let t = rows.iter().map(|r| r.ids.len()).max().unwrap_or(1).max(2);
    let mut out = Batch {
        ids: Vec::with_capacity(b * t),
        b,
        t,
        lm_w: Vec::new(),
        expl_w: Vec::new(),
        cons_w: Vec::new(),
        tag: Vec::new(),
        tag_w: Vec::new(),
        seq_mask: Vec::new(),
        props: Vec::new(),
        prop_w: Vec::new(),
        cons_pairs: Vec::new(),
        adv_pairs: Vec::new(),
        tokens: 0,
    };
    for r in rows {
        let n = r.ids.len();
        out.tokens += n;
        let padn = t - n;
        let pad_f = |v: Vec<f32>| v.into_iter().chain(std::iter::repeat_n(0.0, padn));
        out.ids.extend(r.ids.iter().copied().chain(std::iter::repeat_n(pad, padn)));
        out.lm_w.extend(pad_f(r.lm));
        out.expl_w.extend(pad_f(r.expl));
        out.cons_w.extend(pad_f(r.cons));
        out.tag.extend(r.tag.into_iter().chain(std::iter::repeat_n(0, padn)));
        out.tag_w.extend(pad_f(r.tag_w));
        out.seq_mask.extend(pad_f(r.pool));
        out.props.extend(r.props);
        out.prop_w.push(r.prop_on as u8 as f32);
    }
    out
}

pub(crate) fn int1(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

fn int2(v: Vec<i64>, shape: [usize; 2], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// Per-position log-probabilities of the next token, `[B*(T-1)]` as `[N, 1]`.
pub(crate) fn next_token_logp(logits: Tensor<3>, ids: &[u32], b: usize, t: usize, device: &Device) -> Tensor<2> {
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

pub(crate) fn shifted(w: &[f32], b: usize, t: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(b * (t - 1));
    for r in 0..b {
        out.extend_from_slice(&w[r * t..r * t + t - 1]);
    }
    out
}

/// Weighted mean of `-logp` (a `[1]` tensor) and the weight sum.
pub(crate) fn weighted_nll(logp: Tensor<2>, w: Vec<f32>, device: &Device) -> (Tensor<1>, f32) {
    let n = w.len();
    let s: f32 = w.iter().sum();
    let wt: Tensor<2> = dev(w, [n, 1], device);
    (logp.mul(wt).sum().neg().div_scalar(s.max(1.0)), s)
}

/// Per-row weighted sums of `logp` (`[B*(T-1), 1]`) with weights `w` (`[B*(T-1)]`): `[B, 1]`.
fn row_sums(logp: Tensor<2>, w: Vec<f32>, b: usize, t: usize, device: &Device) -> Tensor<2> {
    let wt: Tensor<2> = dev(w, [b * (t - 1), 1], device);
    logp.mul(wt).reshape([b, t - 1]).sum_dim(1)
}

/// Pretraining losses of a batch: the weighted total and each objective's value (plus the
/// consistency pairs' ranking accuracy as `consistency_acc`).
pub fn pretrain_loss(model: &Model, batch: &Batch, cfg: &TrainConfig) -> Result<(Tensor<1>, Vec<(String, f64)>)> {
    let d = &model.device;
    let w = &cfg.objectives;
    let out = model.forward(&batch.ids, batch.b, None)?;
    let (b, t) = (batch.b, batch.t);
    let logp = next_token_logp(out.logits, &batch.ids, b, t, d);
    let mut parts: Vec<(&str, f64, Tensor<1>)> = Vec::new();
    let mut extra = Vec::new();
    let (lm, s) = weighted_nll(logp.clone(), shifted(&batch.lm_w, b, t), d);
    if s > 0.0 && w.next_token > 0.0 {
        parts.push(("next_token", w.next_token, lm));
    }
    let (ex, s) = weighted_nll(logp.clone(), shifted(&batch.expl_w, b, t), d);
    if s > 0.0 && w.explanation > 0.0 {
        parts.push(("explanation", w.explanation, ex));
    }
    if w.consistency > 0.0 && !batch.cons_pairs.is_empty() {
        let cw = shifted(&batch.cons_w, b, t);
        let counts: Vec<f32> = cw.chunks(t - 1).map(|c| c.iter().sum::<f32>().max(1.0)).collect();
        let mean = row_sums(logp, cw, b, t, d).div(dev(counts, [b, 1], d));
        let (m, n): (Vec<i64>, Vec<i64>) = batch.cons_pairs.iter().map(|&(a, c)| (a as i64, c as i64)).unzip();
        let k = m.len();
        let margin = mean.clone().select(0, int1(m, d)).sub(mean.select(0, int1(n, d)));
        let acc = host(margin.clone().detach())?.iter().filter(|x| **x > 0.0).count() as f64 / k as f64;
        extra.push(("consistency_acc".to_string(), acc));
        parts.push(("consistency", w.consistency, softplus(margin.neg(), 1.0).mean()));
    }
    if w.tags > 0.0 {
        let lp = log_softmax(out.tags.reshape([b * t, N_TAGS]), 1).gather(1, int2(batch.tag.clone(), [b * t, 1], d));
        let (tl, s) = weighted_nll(lp, batch.tag_w.clone(), d);
        if s > 0.0 {
            parts.push(("tags", w.tags, tl));
        }
    }
    let rows_on: f32 = batch.prop_w.iter().sum();
    if (w.property > 0.0 && rows_on > 0.0) || (w.adversarial > 0.0 && !batch.adv_pairs.is_empty()) {
        let z = model.property_logits(out.hidden, &batch.seq_mask);
        if w.property > 0.0 && rows_on > 0.0 {
            let y: Tensor<2> = dev(batch.props.clone(), [b, N_PROPS], d);
            let rw: Tensor<2> = dev(batch.prop_w.clone(), [b, 1], d);
            // The mean over the four properties plus the mean over the CWE labels: the
            // properties, "insecure" first, are not outvoted by sixteen mostly-absent CWEs.
            let n_cwe = (N_PROPS - 4) as f32;
            let ow: Vec<f32> = (0..N_PROPS).map(|j| if j < 4 { 0.25 } else { 1.0 / n_cwe }).collect();
            let ow: Tensor<2> = dev(ow, [1, N_PROPS], d);
            let bce = softplus(z.clone(), 1.0).sub(y.mul(z.clone())).mul(rw).mul(ow).sum().div_scalar(rows_on as f64);
            parts.push(("property", w.property, bce));
        }
        if w.adversarial > 0.0 && !batch.adv_pairs.is_empty() {
            let (o, m): (Vec<i64>, Vec<i64>) = batch.adv_pairs.iter().map(|&(a, c)| (a as i64, c as i64)).unzip();
            let zi = z.narrow(1, 0, 1);
            let margin = zi.clone().select(0, int1(m, d)).sub(zi.select(0, int1(o, d)));
            parts.push(("adversarial", w.adversarial, softplus(margin.neg(), 1.0).mean()));
        }
    }
    let (total, mut vals) = combine(parts)?;
    vals.extend(extra);
    Ok((total, vals))
}

pub(crate) fn combine(parts: Vec<(&str, f64, Tensor<1>)>) -> Result<(Tensor<1>, Vec<(String, f64)>)> {
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
pub fn row_logp(model: &Model, batch: &Batch) -> Result<Tensor<2>> {
    let out = model.forward(&batch.ids, batch.b, None)?;
    let (b, t) = (batch.b, batch.t);
    let lp = next_token_logp(out.logits, &batch.ids, b, t, &model.device);
    Ok(row_sums(lp, shifted(&batch.lm_w, b, t), b, t, &model.device))
}

/// Chosen and rejected rows of each pair, interleaved.
pub fn pair_batch(tok: &Tok, pairs: &[&Pair], t: usize) -> Result<Batch> {
    let mut rows = Vec::new();
    for p in pairs {
        let (c, r) = pair_rows(tok, p, t)?;
        rows.push(c);
        rows.push(r);
    }
    Ok(collate(rows, tok.pad))
}

/// DPO loss: −log σ(β·((π_c − ref_c) − (π_r − ref_r))), averaged over pairs; also reports
/// the share of pairs whose implicit reward margin is positive (`reward_acc`, TRL's
/// `rewards/accuracies`).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{EMBEDDED, label};

    fn tok() -> Tok {
        let texts: Vec<String> = EMBEDDED.iter().flat_map(|e| [e.3.to_string(), e.4.to_string()]).collect();
        Tok::train(texts.iter(), 400).unwrap()
    }

    #[test]
    fn windows_of_long_code_take_their_labels_from_the_findings_inside() {
        let tok = tok();
        let mut code = String::from("import os\n\n");
        for i in 0..80 {
            code.push_str(&format!("def helper_{i}(x):\n    return x + {i}\n\n"));
        }
        code.push_str("def ping(host):\n    os.system(\"ping -c 1 \" + host)\n");
        let ex = label("long", "python", &code, "g").unwrap();
        assert_eq!(ex.props[0], 1.0, "the verifier flags the command injection");
        let mut rng = Rng::new(1);
        let (mut flagged, mut clean) = (0, 0);
        for _ in 0..40 {
            let w = window(&tok, &ex, 64, None, &mut rng).unwrap();
            assert!(!w.whole && tok.encode(w.code).unwrap().ids.len() <= 64);
            let has = w.code.contains("os.system");
            assert_eq!(w.props[0] == 1.0, has && w.spans.iter().any(|s| s.blocking), "{}", w.code);
            if w.props[0] == 1.0 { flagged += 1 } else { clean += 1 }
        }
        // Half of the windows are drawn around a finding, so both kinds occur.
        assert!(flagged > 5 && clean > 5, "{flagged} flagged, {clean} clean");
        let short = label("s", "python", "import os\nos.system(x)\n", "g").unwrap();
        assert!(window(&tok, &short, 64, None, &mut rng).unwrap().whole);
    }

    #[test]
    fn the_property_head_reads_the_code_not_the_explanation_after_it() {
        // The explanation states the labels ("No finding of medium severity or above." or the
        // findings); pooled with the code it would teach the head to read the answer instead of
        // the code, and at evaluation there is no explanation.
        let tok = tok();
        let code = "import os\ndef f(h):\n    os.system(\"ping \" + h)\n";
        let ex = label("e", "python", code, "g").unwrap();
        let mut rng = Rng::new(3);
        let w = window(&tok, &ex, 200, None, &mut rng).unwrap();
        assert!(w.whole);
        let told = code_row_of(&tok, &w, &ex.explanation, false, &mut rng, 256).unwrap();
        let other = code_row_of(&tok, &w, "No finding of medium severity or above.", false, &mut rng, 256).unwrap();
        let bare = code_row_of(&tok, &w, "", false, &mut rng, 256).unwrap();
        let code_len = tok.encode(&format!("{}{}{code}", tk::BOS, tk::CODE)).unwrap().ids.len();
        for r in [&told, &other, &bare] {
            assert_eq!(r.pool.iter().sum::<f32>() as usize, code_len, "only the code's tokens are pooled");
            assert!(r.pool[..code_len].iter().all(|p| *p == 1.0));
            assert!(r.ids.len() > code_len, "the row goes on past the code");
        }
        let cfg = crate::config::ModelConfig {
            vocab_size: tok.vocab_size(),
            ..crate::config::ModelConfig::preset("tiny", tok.vocab_size()).unwrap()
        };
        let device = Device::flex();
        let model = Model::init(&cfg, &device, 5).unwrap();
        let z = |r: Row| {
            let b = collate(vec![r], tok.pad);
            host(model.property_logits(model.forward(&b.ids, 1, None).unwrap().hidden, &b.seq_mask)).unwrap()
        };
        let (a, b, c) = (z(told), z(other), z(bare));
        let diff = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(diff(&a, &b) < 1e-5 && diff(&a, &c) < 1e-5, "{a:?} {b:?} {c:?}");
    }

    #[test]
    fn pair_rows_keep_the_difference_inside_the_window() {
        let tok = tok();
        let mut common = String::new();
        for i in 0..60 {
            common.push_str(&format!("    total = total + {i}\n"));
        }
        let pair = Pair {
            prompt: "Sum things.".into(),
            chosen: format!("def f(db, name):\n{common}    return db.execute(\"SELECT ?\", (name,))\n"),
            rejected: format!("def f(db, name):\n{common}    return db.execute(\"SELECT \" + name)\n"),
        };
        let (c, r) = pair_rows(&tok, &pair, 48).unwrap();
        assert!(c.ids.len() <= 48 && r.ids.len() <= 48);
        let text_c = tok.decode(&c.ids, false).unwrap();
        let text_r = tok.decode(&r.ids, false).unwrap();
        assert!(text_c.contains("(name,)") && text_r.contains("+ name"), "{text_c}\n---\n{text_r}");
    }

    #[test]
    fn consistency_rows_share_the_code_and_differ_in_the_metadata() {
        let tok = tok();
        let bad = label("b", "python", "import os\ndef f(h):\n    os.system(\"ping \" + h)\n", "g").unwrap();
        let good =
            label("g", "python", "import subprocess\ndef f(h):\n    subprocess.run([\"ping\", h])\n", "g").unwrap();
        assert_ne!(bad.anrf, good.anrf, "the verifier's result is part of the layers");
        let mut rng = Rng::new(2);
        let (m, n) = consistency_rows(&tok, &bad, &bad.anrf, &good.anrf, &mut rng, 256).unwrap();
        let code_len = tok.encode(&format!("{}{}{}", tk::BOS, tk::CODE, bad.code)).unwrap().ids.len();
        assert_eq!(m.ids[..code_len], n.ids[..code_len]);
        assert!(m.cons.iter().sum::<f32>() > 5.0 && n.cons.iter().sum::<f32>() > 5.0);
        assert!(m.lm.iter().sum::<f32>() > 0.0 && n.lm.iter().sum::<f32>() == 0.0);
        assert!(!m.prop_on && !n.prop_on);
    }
}
