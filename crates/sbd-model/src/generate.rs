//! Sampling with a KV cache, and verification-guided generation.

use std::str::FromStr;

use burn::tensor::Device;

use crate::config::N_PROPS;
use crate::model::{KvCache, Model, host};
use crate::rng::Rng;
use crate::tokenizer::{self as tk, Tok};
use crate::{Error, Result};

/// Sampling settings.
#[derive(Debug, Clone)]
pub struct Sampling {
    pub max_new_tokens: usize,
    /// 0 means greedy.
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { max_new_tokens: 128, temperature: 0.8, top_k: 40, top_p: 0.95, seed: 0 }
    }
}

/// Picks a token from `logits` (temperature, then top-k, then top-p).
pub fn sample(logits: &[f32], s: &Sampling, rng: &mut Rng) -> u32 {
    if s.temperature <= 0.0 {
        return logits.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b }).0
            as u32;
    }
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    if s.top_k > 0 {
        idx.truncate(s.top_k);
    }
    let max = logits[idx[0]] as f64;
    let mut p: Vec<f64> = idx.iter().map(|&i| ((logits[i] as f64 - max) / s.temperature).exp()).collect();
    let z: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= z);
    let mut cum = 0.0;
    let mut keep = p.len();
    for (i, v) in p.iter().enumerate() {
        cum += v;
        if cum >= s.top_p {
            keep = i + 1;
            break;
        }
    }
    let z: f64 = p[..keep].iter().sum();
    let mut r = rng.f64() * z;
    for (i, v) in p[..keep].iter().enumerate() {
        r -= v;
        if r <= 0.0 {
            return idx[i] as u32;
        }
    }
    idx[keep - 1] as u32
}

/// Continues `prompt_ids` until EOS or `max_new_tokens`, using the KV cache. Returns the new ids.
pub fn generate_ids(model: &Model, prompt_ids: &[u32], eos: u32, s: &Sampling) -> Result<Vec<u32>> {
    let room = model.cfg.max_seq.saturating_sub(1);
    let keep = prompt_ids.len().min(room.saturating_sub(s.max_new_tokens.min(room / 2)));
    let prompt = &prompt_ids[prompt_ids.len() - keep..];
    if prompt.is_empty() {
        return Err(Error::Invalid("empty prompt".into()));
    }
    let mut rng = Rng::new(s.seed);
    let mut cache = KvCache::new(model.cfg.n_layers);
    let v = model.cfg.vocab_size;
    let logits = host(model.forward(prompt, 1, Some(&mut cache))?.logits)?;
    let mut next = sample(&logits[logits.len() - v..], s, &mut rng);
    let mut out = Vec::new();
    while next != eos && out.len() < s.max_new_tokens && cache.len < model.cfg.max_seq {
        out.push(next);
        let l = host(model.forward(&[next], 1, Some(&mut cache))?.logits)?;
        next = sample(&l, s, &mut rng);
    }
    Ok(out)
}

/// The chat form of a prompt.
pub fn chat_prompt(prompt: &str) -> String {
    format!("{}{}{prompt}{}", tk::BOS, tk::USER, tk::ASSISTANT)
}

/// One generated answer, with the verifier's view and the model's own confidence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Answer {
    pub text: String,
    pub attempts: usize,
    /// Active findings at medium severity or above (when a language was given).
    pub blocking_findings: Option<usize>,
    pub parses: Option<bool>,
    /// 1 − P(insecure) from the property head, temperature-scaled.
    pub confidence: f64,
}

/// The property head's P(insecure) of `text` read as code.
pub fn insecure_probability(model: &Model, tok: &Tok, text: &str) -> Result<f64> {
    let enc = tok.encode(&format!("{}{}{text}", tk::BOS, tk::CODE))?;
    let n = enc.ids.len().min(model.cfg.max_seq);
    let hidden = model.forward(&enc.ids[..n], 1, None)?.hidden;
    let z = host(model.property_logits(hidden, &vec![1.0; n]))?;
    debug_assert_eq!(z.len(), N_PROPS);
    Ok(1.0 / (1.0 + (-(z[0] as f64) / model.cfg.property_temperature).exp()))
}

/// Generates an answer. With a language, each attempt is checked by the verifier and the
/// first one without a blocking finding (or, failing that, the one with fewest) is returned
/// after at most `attempts` samples: verification-guided resampling.
pub fn answer(
    model: &Model,
    tok: &Tok,
    prompt: &str,
    language: Option<&str>,
    attempts: usize,
    s: &Sampling,
) -> Result<Answer> {
    let ids = tok.encode(&chat_prompt(prompt))?.ids;
    let lang = match language {
        Some(l) => Some(sbd_scan::Language::from_str(l).map_err(|e| Error::Invalid(e.to_string()))?),
        None => None,
    };
    let mut best: Option<Answer> = None;
    for a in 0..attempts.max(1) {
        let s = Sampling { seed: s.seed.wrapping_add(a as u64), ..s.clone() };
        let text = tok.decode(&generate_ids(model, &ids, tok.eos, &s)?, true)?;
        let (blocking, parses) = match lang {
            Some(l) => {
                let (code, _) = sbd_scan::reward::split_completion(&text);
                let r = sbd_scan::scan(&code, l);
                let b = r.findings.iter().filter(|f| f.severity >= sbd_scan::Severity::Medium).count();
                (Some(b), Some(sbd_scan::raw_parse(&code, l)))
            }
            None => (None, None),
        };
        let confidence = 1.0 - insecure_probability(model, tok, &text)?;
        let cand = Answer { text, attempts: a + 1, blocking_findings: blocking, parses, confidence };
        let done = blocking == Some(0) || lang.is_none();
        if best.as_ref().is_none_or(|b| cand.blocking_findings < b.blocking_findings) {
            best = Some(cand);
        }
        if done {
            break;
        }
    }
    let mut best = best.ok_or_else(|| Error::Invalid("no attempt".into()))?;
    best.attempts = best.attempts.max(1);
    Ok(best)
}

/// The default device: burn's pure-Rust CPU backend.
pub fn default_device() -> Device {
    Device::flex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_respects_greedy_top_k_and_top_p() {
        let logits = [0.0f32, 5.0, 1.0, 4.9];
        let mut rng = Rng::new(1);
        let greedy = Sampling { temperature: 0.0, ..Default::default() };
        assert_eq!(sample(&logits, &greedy, &mut rng), 1);
        let k2 = Sampling { temperature: 1.0, top_k: 2, top_p: 1.0, ..Default::default() };
        for _ in 0..200 {
            let t = sample(&logits, &k2, &mut rng);
            assert!(t == 1 || t == 3);
        }
        let p = Sampling { temperature: 1.0, top_k: 0, top_p: 0.3, ..Default::default() };
        for _ in 0..50 {
            assert_eq!(sample(&logits, &p, &mut rng), 1);
        }
    }
}
