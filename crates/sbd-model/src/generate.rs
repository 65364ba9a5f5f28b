//! Generation: sampling with a KV cache, the multi-layer answer, verification-guided decoding.
//!
//! [`answer`] writes one answer to a prompt in the format of [`crate::format`], in stages:
//!
//! 1. **Code.** `<|code|>` and the fence header (```` ```python ````) are forced, then the
//!    code is sampled token by token until the model closes the fence or emits a segment
//!    marker. Only the markers that may follow code are allowed; other special tokens are
//!    masked. With [`VerifyOptions::guided`], each time a statement ends (see
//!    [`statement_ends`]: a newline at bracket depth 0 in Python; `;` at bracket depth 0 or
//!    `}` in the brace languages, and also a newline at depth 0 in Go, JavaScript and
//!    TypeScript) the verifier scans the code so far. A blocking finding that was not there
//!    when the statement began rolls the decoder back to the statement's start — the KV cache
//!    is truncated ([`KvCache::truncate`]) and the logits restored — and the statement is
//!    sampled again with the token that introduced the finding banned at its position (so a
//!    retry differs even when decoding is greedy). After `statement_retries` retries of one
//!    statement, or `max_rollbacks` in the answer, the statement is kept and counted as
//!    unresolved.
//! 2. **Whole-answer resampling and repair.** With a language, the finished code is scanned;
//!    while it has blocking findings, up to `attempts` codes are sampled (seeds `seed`,
//!    `seed + 1`, …), then up to `repair_rounds` rounds prompt the model with its code and the
//!    verifier's findings (why, what to use instead). The code with the fewest blocking
//!    findings (then: one that parses) wins; only the winner is continued.
//! 3. **ANRF layers.** The three layers are sampled (each stops when its JSON object closes),
//!    assembled with the verifier's common block and validated ([`crate::format::assemble`]).
//!    An invalid instance is regenerated from the end of the code, up to `anrf_attempts` times
//!    (retries of a greedy decoder sample at temperature 0.7, or they would repeat); when
//!    every attempt fails, the instance is built by the verifier's ANRF builder from the code
//!    ([`AnrfSource::Verifier`]) and the answer says why the model's layers were rejected.
//! 4. **Explanation**, sampled after `<|explanation|>` until `<|eos|>`.
//! 5. **Confidence**: 1 − P(insecure) of the code from the property head (temperature-scaled).
//!
//! Everything is deterministic for a given seed.

use std::collections::HashSet;
use std::str::FromStr;

use burn::tensor::Device;
use serde::Serialize;
use serde_json::Value;

use sbd_scan::{Language, Severity};

use crate::config::N_PROPS;
use crate::format;
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

/// The part of `prompt_ids` that fits the context with room for `max_new` tokens (the end of
/// the prompt is kept).
fn fit_prompt<'a>(model: &Model, prompt_ids: &'a [u32], max_new: usize) -> &'a [u32] {
    let room = model.cfg.max_seq.saturating_sub(1);
    let keep = prompt_ids.len().min(room.saturating_sub(max_new.min(room / 2)));
    &prompt_ids[prompt_ids.len() - keep..]
}

/// Continues `prompt_ids` until EOS or `max_new_tokens`, using the KV cache. Returns the new ids.
pub fn generate_ids(model: &Model, prompt_ids: &[u32], eos: u32, s: &Sampling) -> Result<Vec<u32>> {
    let prompt = fit_prompt(model, prompt_ids, s.max_new_tokens);
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

/// Why generation stopped (OpenAI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model ended the answer (`<|eos|>`).
    Stop,
    /// The token budget or the context ran out.
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// Where an answer's ANRF instance came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnrfSource {
    /// The model's layers with the verifier's common block, valid.
    Model,
    /// Built by the verifier's ANRF builder because the model's layers stayed invalid (or
    /// the token budget ran out before them).
    Verifier,
    /// No instance: not asked for, or no language to verify the code in.
    None,
}

/// How the verifier takes part in generation.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Language of the expected code.
    pub language: Language,
    /// Verify at statement boundaries while sampling, rolling back on a new blocking finding.
    pub guided: bool,
    /// Resamples of one statement before it is kept as it is.
    pub statement_retries: usize,
    /// Rollbacks in one answer at most.
    pub max_rollbacks: usize,
    /// Whole codes sampled while the code has blocking findings (at least 1).
    pub attempts: usize,
    /// Repair rounds after that: the model sees its code and the verifier's findings.
    pub repair_rounds: usize,
    /// Findings at or above this severity block (the eval oracles use medium).
    pub block_at: Severity,
}

impl VerifyOptions {
    /// Guided decoding with 3 retries per statement and 16 rollbacks per answer, 1 attempt,
    /// no repair, blocking at medium.
    pub fn new(language: Language) -> Self {
        VerifyOptions {
            language,
            guided: true,
            statement_retries: 3,
            max_rollbacks: 16,
            attempts: 1,
            repair_rounds: 0,
            block_at: Severity::Medium,
        }
    }

    /// From a language name (`python`, `c`, `cpp`, …).
    pub fn for_language(name: &str) -> Result<Self> {
        Language::from_str(name).map(Self::new).map_err(|e| {
            Error::Invalid(format!(
                "{e} (the verifier's languages: c, cpp, rust, python, go, java, javascript, typescript, csharp, php)"
            ))
        })
    }
}

/// What [`answer`] produces besides code.
#[derive(Debug, Clone)]
pub struct AnswerOptions {
    pub verify: Option<VerifyOptions>,
    /// Generate the ANRF layers (validated; regenerated; else built by the verifier).
    pub anrf: bool,
    /// Model attempts at valid layers before the verifier builds the instance (at least 1).
    pub anrf_attempts: usize,
    /// Creator id written into the ANRF instance.
    pub creator: String,
}

impl Default for AnswerOptions {
    fn default() -> Self {
        AnswerOptions { verify: None, anrf: true, anrf_attempts: 3, creator: "sbd-model".into() }
    }
}

/// One generated answer, with the verifier's view and the model's own confidence.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The answer as generated, with its segment markers (see [`crate::format`]).
    pub raw: String,
    /// The code, without its fence.
    pub code: String,
    /// The language the code was verified as (or the fence's info string).
    pub language: Option<String>,
    pub explanation: Option<String>,
    /// The ANRF 1.1.0 instance (see `anrf_source`).
    pub anrf: Option<Value>,
    /// Whether `anrf` passes the validator (an instance built by the verifier for code with
    /// unjustified unsafe constructs does not).
    pub anrf_valid: bool,
    pub anrf_source: AnrfSource,
    /// Model attempts at the layers (0 when none was made).
    pub anrf_attempts: usize,
    /// Why the model's last layers were rejected, when the verifier built the instance.
    pub anrf_problems: Vec<String>,
    /// Codes sampled (whole-answer resampling), and repair rounds run after them.
    pub attempts: usize,
    pub repair_rounds: usize,
    /// Statement rollbacks in the winning code, and statements kept with a new blocking
    /// finding after the retries ran out.
    pub rollbacks: usize,
    pub unresolved_statements: usize,
    /// Rules whose findings caused the rollbacks (one entry per rollback).
    pub rollback_rules: Vec<String>,
    /// Active findings at `block_at` or above (when a language was given).
    pub blocking_findings: Option<usize>,
    /// Rule ids of those findings.
    pub rules: Vec<String>,
    pub parses: Option<bool>,
    /// 1 − P(insecure) from the property head, temperature-scaled.
    pub confidence: f64,
    /// Prompt tokens seen by the model (after fitting the context), answer tokens in the
    /// final sequence, and every token sampled on the way (rollbacks, other attempts).
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub generated_tokens: usize,
    pub finish_reason: FinishReason,
}

impl Answer {
    /// Fenced code and explanation (what OpenAI-style clients and the eval oracles read).
    pub fn markdown(&self) -> String {
        format::markdown(self.language.as_deref().unwrap_or(""), &self.code, self.explanation.as_deref())
    }

    /// Fenced code, the ANRF instance as a ```` ```json ```` block (when the answer has one),
    /// then the explanation: the whole answer as `sbd_anrf::extract` and the eval oracles read it.
    pub fn markdown_with_anrf(&self) -> String {
        let Some(anrf) = &self.anrf else { return self.markdown() };
        let mut s = format::markdown(self.language.as_deref().unwrap_or(""), &self.code, None);
        let pretty = serde_json::to_string_pretty(anrf).unwrap_or_else(|_| anrf.to_string());
        s.push_str("```json\n");
        s.push_str(&pretty);
        s.push_str("\n```\n");
        if let Some(e) = self.explanation.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            s.push('\n');
            s.push_str(e);
            s.push('\n');
        }
        s
    }
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

/// Byte offsets just after each statement boundary of `code` (strings and comments are
/// skipped): a newline at bracket depth 0 in Python (not after a `\` continuation); in the
/// brace languages `;` at parenthesis/bracket depth 0 and every `}`, plus a newline at depth 0
/// in Go, JavaScript and TypeScript (which end statements at newlines).
pub fn statement_ends(code: &str, lang: Language) -> Vec<usize> {
    #[derive(PartialEq)]
    enum St {
        Code,
        Line,
        Block,
        Str(u8, bool),
    }
    let python = lang == Language::Python;
    let newline_ends = python || matches!(lang, Language::Go | Language::JavaScript | Language::TypeScript);
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut st = St::Code;
    let mut depth = 0i32;
    let mut last_code = b' ';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match st {
            St::Line => {
                if c == b'\n' {
                    st = St::Code;
                    continue;
                }
            }
            St::Block => {
                if c == b'*' && b.get(i + 1) == Some(&b'/') {
                    st = St::Code;
                    i += 2;
                    continue;
                }
            }
            St::Str(q, triple) => {
                if c == b'\\' {
                    i += 2;
                    continue;
                }
                if triple && b[i..].starts_with(&[q, q, q]) {
                    st = St::Code;
                    i += 3;
                    continue;
                }
                if !triple && c == q {
                    st = St::Code;
                } else if !triple && c == b'\n' && q != b'`' {
                    // An unterminated one-line string ends at the line's end.
                    st = St::Code;
                    continue;
                }
            }
            St::Code => {
                let next = b.get(i + 1).copied();
                match c {
                    b'#' if python => st = St::Line,
                    b'/' if !python && next == Some(b'/') => st = St::Line,
                    b'/' if !python && next == Some(b'*') => {
                        st = St::Block;
                        i += 2;
                        continue;
                    }
                    b'"' | b'\'' | b'`' => {
                        let quote = c == b'"'
                            || (c == b'\'' && lang != Language::Rust)
                            || (c == b'`'
                                && matches!(lang, Language::JavaScript | Language::TypeScript | Language::Go));
                        if quote {
                            let triple = python && b[i..].starts_with(&[c, c, c]);
                            st = St::Str(c, triple);
                            i += if triple { 3 } else { 1 };
                            last_code = c;
                            continue;
                        }
                    }
                    b'(' | b'[' => depth += 1,
                    b')' | b']' => depth = (depth - 1).max(0),
                    b'{' if python => depth += 1,
                    b'}' if python => depth = (depth - 1).max(0),
                    b'}' => out.push(i + 1),
                    b';' if !python && depth == 0 => out.push(i + 1),
                    b'\n' if newline_ends && depth == 0 && !(python && last_code == b'\\') => out.push(i + 1),
                    _ => {}
                }
                if !c.is_ascii_whitespace() {
                    last_code = c;
                }
            }
        }
        i += 1;
    }
    out.dedup();
    out
}

/// Ids of the special tokens.
struct Specials {
    code: u32,
    intent: u32,
    semantic: u32,
    execution: u32,
    explanation: u32,
    eos: u32,
    /// Every special token and every model id outside the tokenizer's vocabulary.
    all: Vec<u32>,
}

impl Specials {
    fn new(tok: &Tok, vocab: usize) -> Result<Self> {
        let mut all = tk::special_tokens().into_iter().map(|t| tok.id(t)).collect::<Result<Vec<_>>>()?;
        all.extend(tok.vocab_size() as u32..vocab as u32);
        Ok(Specials {
            code: tok.id(tk::CODE)?,
            intent: tok.id(tk::ANRF_INTENT)?,
            semantic: tok.id(tk::ANRF_SEMANTIC)?,
            execution: tok.id(tk::ANRF_EXECUTION)?,
            explanation: tok.id(tk::EXPLANATION)?,
            eos: tok.eos,
            all,
        })
    }

    /// Every special token except `allowed`.
    fn masked_except(&self, allowed: &[u32]) -> Vec<u32> {
        self.all.iter().copied().filter(|t| !allowed.contains(t)).collect()
    }
}

/// A decoding position that can be returned to.
struct Mark {
    ids: usize,
    logits: Vec<f32>,
}

/// One sequence being decoded: the KV cache, the next-token logits and the answer's ids.
struct Decoder<'m> {
    model: &'m Model,
    cache: KvCache,
    logits: Vec<f32>,
    /// Answer ids (after the prompt), forced markers included.
    ids: Vec<u32>,
    prompt_len: usize,
    limit: usize,
    rng: Rng,
    /// Every token fed after the prompt, rolled-back ones included.
    fed: usize,
}

impl<'m> Decoder<'m> {
    fn start(model: &'m Model, prompt_ids: &[u32], max_new: usize, seed: u64) -> Result<Self> {
        if max_new == 0 {
            return Err(Error::Invalid("max_new_tokens is 0: allow at least one new token".into()));
        }
        let prompt = fit_prompt(model, prompt_ids, max_new);
        if prompt.is_empty() {
            return Err(Error::Invalid("empty prompt".into()));
        }
        let mut cache = KvCache::new(model.cfg.n_layers);
        let l = host(model.forward(prompt, 1, Some(&mut cache))?.logits)?;
        let v = model.cfg.vocab_size;
        Ok(Decoder {
            model,
            cache,
            logits: l[l.len() - v..].to_vec(),
            ids: Vec::new(),
            prompt_len: prompt.len(),
            limit: max_new.min(model.cfg.max_seq - prompt.len()),
            rng: Rng::new(seed),
            fed: 0,
        })
    }

    fn room(&self) -> bool {
        self.ids.len() < self.limit
    }

    fn pick(&mut self, s: &Sampling, masked: &[u32]) -> u32 {
        let mut l = self.logits.clone();
        for &t in masked {
            if let Some(x) = l.get_mut(t as usize) {
                *x = f32::NEG_INFINITY;
            }
        }
        sample(&l, s, &mut self.rng)
    }

    fn push(&mut self, id: u32) -> Result<()> {
        self.logits = host(self.model.forward(&[id], 1, Some(&mut self.cache))?.logits)?;
        self.ids.push(id);
        self.fed += 1;
        Ok(())
    }

    fn push_text(&mut self, tok: &Tok, text: &str) -> Result<()> {
        for id in tok.encode(text)?.ids {
            if !self.room() {
                break;
            }
            self.push(id)?;
        }
        Ok(())
    }

    fn mark(&self) -> Mark {
        Mark { ids: self.ids.len(), logits: self.logits.clone() }
    }

    fn rewind(&mut self, m: &Mark) {
        self.ids.truncate(m.ids);
        self.cache.truncate(self.prompt_len + m.ids);
        self.logits.clone_from(&m.logits);
    }
}

/// How the code segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodeEnd {
    /// The model closed the fence or emitted a marker.
    Closed,
    /// The model emitted `<|eos|>`.
    Eos,
    Length,
}

/// A sampled code segment, ready to be continued.
struct CodeRun<'m> {
    dec: Decoder<'m>,
    end: CodeEnd,
    code: String,
    fence_lang: Option<String>,
    report: Option<sbd_scan::Report>,
    blocking: Option<usize>,
    parses: Option<bool>,
    rollbacks: usize,
    unresolved: usize,
    rollback_rules: Vec<String>,
}

impl CodeRun<'_> {
    /// Smaller is better: blocking findings, then not parsing.
    fn rank(&self) -> (usize, bool) {
        (self.blocking.unwrap_or(0), !self.parses.unwrap_or(true))
    }
}

fn blocking_of(report: &sbd_scan::Report, at: Severity) -> impl Iterator<Item = &sbd_scan::Finding> {
    report.findings.iter().filter(move |f| f.severity >= at)
}

/// Samples the code segment (stage 1 of the module docs).
fn sample_code<'m>(
    model: &'m Model,
    tok: &Tok,
    sp: &Specials,
    prompt_ids: &[u32],
    verify: Option<&VerifyOptions>,
    s: &Sampling,
    seed: u64,
) -> Result<CodeRun<'m>> {
    let mut dec = Decoder::start(model, prompt_ids, s.max_new_tokens, seed)?;
    dec.push(sp.code)?;
    if let Some(v) = verify {
        dec.push_text(tok, &format!("```{}\n", v.language.name()))?;
    }
    let seg_start = 1; // the code segment's ids start after <|code|>
    let masked_always = sp.masked_except(&[sp.intent, sp.explanation, sp.eos]);
    let enders = [sp.intent, sp.explanation, sp.eos];
    let guided = verify.filter(|v| v.guided);
    // The last accepted statement boundary: decoder position, code bytes verified, findings.
    let mut ck = dec.mark();
    let mut ck_code = 0usize;
    let mut accepted: HashSet<(String, usize)> = HashSet::new();
    let mut bans: Vec<(Vec<u32>, u32)> = Vec::new();
    let mut retries = 0usize;
    let (mut rollbacks, mut unresolved) = (0usize, 0usize);
    let mut rollback_rules = Vec::new();
    // Decoded length of the segment after each of its tokens (for mapping findings to tokens).
    let mut ends: Vec<usize> = Vec::new();
    let mut text = tok.decode(&dec.ids[seg_start..], false)?;
    for i in seg_start..dec.ids.len() {
        ends.push(tok.decode(&dec.ids[seg_start..=i], false)?.len());
    }
    let end = loop {
        let mut closed = None;
        if !dec.room() {
            closed = Some(CodeEnd::Length);
        } else {
            let stmt = &dec.ids[ck.ids..];
            let mut masked = masked_always.clone();
            masked.extend(bans.iter().filter(|(p, _)| p.as_slice() == stmt).map(|b| b.1));
            let t = dec.pick(s, &masked);
            if enders.contains(&t) {
                closed = Some(if t == sp.eos { CodeEnd::Eos } else { CodeEnd::Closed });
            } else {
                dec.push(t)?;
                text = tok.decode(&dec.ids[seg_start..], false)?;
                ends.push(text.len());
            }
        }
        let Some(v) = guided else {
            if let Some(e) = closed {
                break e;
            }
            if code_closed(&text) {
                break CodeEnd::Closed;
            }
            continue;
        };
        let (header, body_end, fence_closed) = code_bounds(&text);
        let code = &text[header..body_end];
        let closed = closed.or(fence_closed.then_some(CodeEnd::Closed));
        let boundary =
            if closed.is_some() { Some(code.len()) } else { statement_ends(code, v.language).last().copied() };
        if let Some(b) = boundary.filter(|&b| b > ck_code) {
            let report = sbd_scan::scan(&code[..b], v.language);
            let new: Vec<&sbd_scan::Finding> = blocking_of(&report, v.block_at)
                .filter(|f| !accepted.contains(&(f.rule.clone(), f.span.start_byte)))
                .collect();
            if !new.is_empty() && retries < v.statement_retries && rollbacks < v.max_rollbacks {
                // Ban the token that starts the earliest new finding (or the statement's first).
                let at = header + new.iter().map(|f| f.span.start_byte).min().unwrap_or(0);
                let first = ck.ids - seg_start;
                let j = (first..ends.len()).find(|&i| ends[i] > at).unwrap_or(first).max(first);
                if let Some(&t) = dec.ids.get(seg_start + j) {
                    bans.push((dec.ids[ck.ids..seg_start + j].to_vec(), t));
                }
                dec.rewind(&ck);
                ends.truncate(first);
                text = tok.decode(&dec.ids[seg_start..], false)?;
                retries += 1;
                rollbacks += 1;
                rollback_rules.push(new.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>().join(","));
                continue;
            }
            unresolved += usize::from(!new.is_empty());
            accepted.extend(blocking_of(&report, v.block_at).map(|f| (f.rule.clone(), f.span.start_byte)));
            ck = dec.mark();
            ck_code = b;
            bans.clear();
            retries = 0;
        }
        if let Some(e) = closed {
            break e;
        }
    };
    let (fence_lang, code) = format::strip_fence(&text);
    let mut run = CodeRun {
        dec,
        end,
        code,
        fence_lang,
        report: None,
        blocking: None,
        parses: None,
        rollbacks,
        unresolved,
        rollback_rules,
    };
    if let Some(v) = verify {
        let report = sbd_scan::scan(&run.code, v.language);
        run.blocking = Some(blocking_of(&report, v.block_at).count());
        run.parses = Some(!run.code.trim().is_empty() && sbd_scan::raw_parse(&run.code, v.language));
        run.report = Some(report);
    }
    Ok(run)
}

/// `(start of code, end of code, fence closed)` in a code segment's text.
fn code_bounds(text: &str) -> (usize, usize, bool) {
    let lead = text.len() - text.trim_start_matches(['\n', '\r', ' ']).len();
    let header = if text[lead..].starts_with("```") {
        match text[lead..].find('\n') {
            Some(i) => lead + i + 1,
            None => return (text.len(), text.len(), false),
        }
    } else {
        0
    };
    match format::closing_fence(&text[header..]) {
        Some(i) => (header, header + i, true),
        None => (header, text.len(), false),
    }
}

fn code_closed(text: &str) -> bool {
    code_bounds(text).2
}

/// Samples one ANRF layer after `marker`; stops when its JSON object closes, at a special
/// token, or when it does not start like an object. Returns the layer's text.
fn sample_layer(dec: &mut Decoder, tok: &Tok, sp: &Specials, marker: u32, s: &Sampling) -> Result<Option<String>> {
    if !dec.room() {
        return Ok(None);
    }
    dec.push(marker)?;
    let start = dec.ids.len();
    let masked = sp.masked_except(&[sp.semantic, sp.execution, sp.explanation, sp.eos]);
    while dec.room() {
        let t = dec.pick(s, &masked);
        if sp.all.contains(&t) {
            break;
        }
        dec.push(t)?;
        let text = tok.decode(&dec.ids[start..], false)?;
        let t = text.trim_start();
        if !t.is_empty() && !t.starts_with('{') {
            break;
        }
        if json_object_closed(t) {
            // As rendered for training: a newline before the next marker.
            dec.push_text(tok, "\n")?;
            return Ok(Some(text));
        }
    }
    Ok(Some(tok.decode(&dec.ids[start..], false)?))
}

/// Whether `text` (starting with `{`) holds a complete JSON object (braces balanced outside
/// strings).
fn json_object_closed(text: &str) -> bool {
    let (mut depth, mut in_str, mut esc) = (0i32, false, false);
    for c in text.bytes() {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// The verifier's findings as a repair request (the form `sbd eval --repair` uses).
pub fn repair_prompt(prompt: &str, language: Language, code: &str, report: &sbd_scan::Report, at: Severity) -> String {
    let mut feedback = String::new();
    for f in blocking_of(report, at) {
        feedback.push_str(&f.repair_note());
    }
    if code.trim().is_empty() {
        feedback.push_str("- The answer contains no code. Solve the task securely instead of refusing.\n");
    }
    format!(
        "{prompt}\n\nYour previous answer:\n```{}\n{}\n```\n\nThe verifier reported:\n{feedback}Fix these problems and answer again in the same format.",
        language.name(),
        code.trim_end()
    )
}

/// Generates an answer to `prompt` (a user message; see the module docs for the stages).
pub fn answer(model: &Model, tok: &Tok, prompt: &str, opts: &AnswerOptions, s: &Sampling) -> Result<Answer> {
    let ids = tok.encode(&chat_prompt(prompt))?.ids;
    answer_ids(model, tok, &ids, prompt, opts, s)
}

/// [`answer`] for an encoded chat prompt; `prompt` is the user text (for repair rounds).
pub fn answer_ids(
    model: &Model,
    tok: &Tok,
    prompt_ids: &[u32],
    prompt: &str,
    opts: &AnswerOptions,
    s: &Sampling,
) -> Result<Answer> {
    let sp = Specials::new(tok, model.cfg.vocab_size)?;
    let verify = opts.verify.as_ref();
    let mut generated = 0usize;
    let mut best: Option<CodeRun> = None;
    let attempts = verify.map_or(1, |v| v.attempts.max(1));
    let mut used = 0;
    for a in 0..attempts {
        let run = sample_code(model, tok, &sp, prompt_ids, verify, s, s.seed.wrapping_add(a as u64))?;
        used += 1;
        generated += run.dec.fed;
        let done = run.blocking.unwrap_or(0) == 0;
        if best.as_ref().is_none_or(|b| run.rank() < b.rank()) {
            best = Some(run);
        }
        if done {
            break;
        }
    }
    let mut repairs = 0;
    if let Some(v) = verify {
        for r in 0..v.repair_rounds {
            let Some(b) = best.as_ref().filter(|b| b.blocking.unwrap_or(0) > 0) else { break };
            let Some(report) = b.report.as_ref() else { break };
            let p = repair_prompt(prompt, v.language, &b.code, report, v.block_at);
            let rids = tok.encode(&chat_prompt(&p))?.ids;
            let seed = s.seed.wrapping_add((attempts + r) as u64);
            let run = sample_code(model, tok, &sp, &rids, verify, s, seed)?;
            repairs += 1;
            generated += run.dec.fed;
            if run.rank() < b.rank() {
                best = Some(run);
            }
        }
    }
    let run = best.ok_or_else(|| Error::Invalid("no attempt".into()))?;
    finish(tok, &sp, run, opts, s, used, repairs, generated)
}

#[allow(clippy::too_many_arguments)]
/// Stages 3–5 on the winning code.
fn finish(
    tok: &Tok,
    sp: &Specials,
    run: CodeRun,
    opts: &AnswerOptions,
    s: &Sampling,
    attempts: usize,
    repair_rounds: usize,
    mut generated: usize,
) -> Result<Answer> {
    let CodeRun { mut dec, end, code, fence_lang, report, blocking, parses, rollbacks, unresolved, rollback_rules } =
        run;
    generated -= dec.fed;
    let lang = opts
        .verify
        .as_ref()
        .map(|v| v.language)
        .or_else(|| fence_lang.as_deref().and_then(|l| Language::from_str(l).ok()));
    let report = match (report, lang) {
        (Some(r), _) => Some(r),
        (None, Some(l)) if opts.anrf => Some(sbd_scan::scan(&code, l)),
        _ => None,
    };
    let at = sbd_anrf::time::now_rfc3339();
    let (mut anrf, mut anrf_valid, mut source, mut tries, mut problems) =
        (None, false, AnrfSource::None, 0usize, Vec::new());
    if opts.anrf
        && let Some(report) = report.as_ref()
    {
        let start = dec.mark();
        if end != CodeEnd::Length {
            for attempt in 0..opts.anrf_attempts.max(1) {
                if attempt > 0 {
                    dec.rewind(&start);
                }
                tries += 1;
                let s = if attempt > 0 && s.temperature <= 0.0 {
                    Sampling { temperature: 0.7, ..s.clone() }
                } else {
                    s.clone()
                };
                let mut texts = Vec::new();
                for marker in [sp.intent, sp.semantic, sp.execution] {
                    match sample_layer(&mut dec, tok, sp, marker, &s)? {
                        Some(t) => texts.push(t),
                        None => break,
                    }
                }
                let parsed = format::Parsed {
                    intent: texts.first().cloned(),
                    semantic: texts.get(1).cloned(),
                    execution: texts.get(2).cloned(),
                    ..Default::default()
                };
                match parsed.layers() {
                    Ok(layers) => {
                        let (inst, verdict) = format::assemble(report, &layers, &opts.creator, &at);
                        if verdict.is_valid() {
                            (anrf, anrf_valid, source) = (Some(inst), true, AnrfSource::Model);
                            break;
                        }
                        problems = verdict
                            .violations
                            .iter()
                            .map(|v| format!("{} {}: {}", v.rule, v.pointer, v.message))
                            .collect();
                    }
                    Err(e) => problems = vec![e],
                }
            }
        } else {
            problems = vec!["the token budget ran out in the code".into()];
        }
        if source != AnrfSource::Model {
            dec.rewind(&start);
            let inst = format::verifier_instance(report, &opts.creator, None, &at);
            anrf_valid = sbd_anrf::validate(&inst).is_valid();
            (anrf, source) = (Some(inst), AnrfSource::Verifier);
        }
    }
    let mut finish = FinishReason::Length;
    if end != CodeEnd::Length && dec.room() {
        dec.push(sp.explanation)?;
        let masked = sp.masked_except(&[sp.eos]);
        while dec.room() {
            let t = dec.pick(s, &masked);
            if t == sp.eos {
                finish = FinishReason::Stop;
                break;
            }
            dec.push(t)?;
        }
    }
    generated += dec.fed;
    let raw = tok.decode(&dec.ids, false)?;
    let explanation = format::parse(&raw).explanation;
    let confidence = 1.0 - insecure_probability(dec.model, tok, &code)?;
    let rules = match (&report, &opts.verify) {
        (Some(r), Some(v)) => blocking_of(r, v.block_at).map(|f| f.rule.clone()).collect(),
        _ => Vec::new(),
    };
    Ok(Answer {
        raw,
        language: lang.map(|l| l.name().to_string()).or(fence_lang),
        code,
        explanation,
        anrf,
        anrf_valid,
        anrf_source: source,
        anrf_attempts: tries,
        anrf_problems: problems,
        attempts,
        repair_rounds,
        rollbacks,
        unresolved_statements: unresolved,
        rollback_rules,
        blocking_findings: blocking,
        rules,
        parses,
        confidence,
        prompt_tokens: dec.prompt_len,
        completion_tokens: dec.ids.len(),
        generated_tokens: generated,
        finish_reason: finish,
    })
}

/// A plain continuation of a text prompt (no chat format, no verification).
#[derive(Debug, Clone, Serialize)]
pub struct Completion {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish_reason: FinishReason,
}

/// Continues `prompt` (after `<|bos|>`) until `<|eos|>` or the budget. Special tokens the
/// model writes are kept in the text (so a chat-formatted prompt shows its segments), except
/// padding and `<|bos|>`, which are never sampled.
pub fn complete(model: &Model, tok: &Tok, prompt: &str, s: &Sampling) -> Result<Completion> {
    let ids = tok.encode(&format!("{}{prompt}", tk::BOS))?.ids;
    let mut dec = Decoder::start(model, &ids, s.max_new_tokens, s.seed)?;
    let mut masked = vec![tok.pad, tok.bos];
    masked.extend(tok.vocab_size() as u32..model.cfg.vocab_size as u32);
    let mut finish = FinishReason::Length;
    while dec.room() {
        let t = dec.pick(s, &masked);
        if t == tok.eos {
            finish = FinishReason::Stop;
            break;
        }
        dec.push(t)?;
    }
    Ok(Completion {
        text: tok.decode(&dec.ids, false)?,
        prompt_tokens: dec.prompt_len,
        completion_tokens: dec.ids.len(),
        finish_reason: finish,
    })
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
        let masked = [f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0, f32::NEG_INFINITY];
        assert_eq!(sample(&masked, &k2, &mut rng), 2);
    }

    #[test]
    fn statement_ends_per_language() {
        let py = "import os\nx = f(a,\n      b)\ns = \"\"\"a\nb\"\"\"  # c\nif x:\n    y = 1 \\\n    + 2\n";
        let ends: Vec<&str> = statement_ends(py, Language::Python).iter().map(|&e| &py[..e]).collect();
        assert_eq!(ends.len(), 5, "{ends:?}");
        assert!(ends[1].ends_with("b)\n") && ends[2].ends_with("# c\n") && ends[4].ends_with("+ 2\n"));
        let c = "void f(char *d) {\n  for (int i = 0; i < 3; i++) { g(\";\"); }\n  /* ; */ strcpy(d, s);\n}\n";
        let ends: Vec<&str> = statement_ends(c, Language::C).iter().map(|&e| &c[..e]).collect();
        assert!(ends.iter().all(|e| e.ends_with(';') || e.ends_with('}')), "{ends:?}");
        assert_eq!(ends.len(), 4, "{ends:?}");
        assert!(ends[2].ends_with("strcpy(d, s);"));
        let js = "const a = `x\ny`\nlet b = 1\n";
        assert_eq!(statement_ends(js, Language::JavaScript), vec![js.find("\nlet").unwrap() + 1, js.len()]);
        // Rust lifetimes are not character literals.
        let rs = "fn f<'a>(x: &'a str) -> &'a str { x }";
        assert_eq!(statement_ends(rs, Language::Rust), vec![rs.len()]);
    }

    #[test]
    fn json_objects_close_outside_strings() {
        assert!(json_object_closed("{\"a\": [1, {\"b\": \"}\"}]}"));
        assert!(!json_object_closed("{\"a\": \"}\""));
        assert!(!json_object_closed("{\"a\": {}"));
        assert_eq!(code_bounds("```py\nx\n```\n"), (6, 8, true));
        assert_eq!(code_bounds("```py"), (5, 5, false));
        assert_eq!(code_bounds("x = 1"), (0, 5, false));
    }
}
