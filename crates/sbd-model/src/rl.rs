//! Reinforcement learning with the verifier as reward (GRPO-style): for each prompt, sample
//! a group of answers from the current policy, score each with [`sbd_scan::reward::reward`]
//! (the same formula as `POST /v1/reward`) minus β·(log π − log π_ref) as the KL penalty, and
//! push up the log-probability of answers above their group's mean reward (advantages
//! centred within the group, not scaled by its spread: see [`group_advantages`]). Prompts
//! with functional tests have them run in `sbd-sandbox` for every sampled answer, and the
//! share passed enters the reward.

use std::str::FromStr;

use burn::tensor::Tensor;
use serde_json::Value;

use crate::generate::{Sampling, chat_prompt, generate_ids};
use crate::model::{Model, dev, host};
use crate::tokenizer::Tok;
use crate::train::{chat_row, collate, row_logp};
use crate::{Error, Result};
use sbd_scan::reward::{Expectations, OverrideExpectation, TestOutcome, Weights, reward, split_completion};

/// One functional test of an answer, run in `sbd-sandbox` (the fields of a test in
/// `POST /v1/reward` items).
pub use sbd_sandbox::runner::TestCase;

/// A prompt with what the verifier should expect of the answer.
#[derive(Debug, Clone)]
pub struct RlPrompt {
    pub prompt: String,
    pub language: String,
    pub expect: Expectations,
    /// Functional tests (empty when the prompt has none).
    pub tests: Vec<TestCase>,
    /// A reference answer's code (the corpus's clean version, or a row's `reference`), which
    /// tells whether an answer fits the generation budget ([`fits_budget`]).
    pub reference: Option<String>,
}

/// Whether a prompt's reference answer, fenced as the SFT answers are, fits in `max_new_tokens`
/// (prompts without a reference always do). A prompt whose own solution is longer than the
/// budget cannot be answered with code that parses: every sample is cut off, every group
/// scores alike and gives GRPO no signal.
pub fn fits_budget(tok: &Tok, p: &RlPrompt, max_new_tokens: usize) -> Result<bool> {
    let Some(code) = &p.reference else { return Ok(true) };
    Ok(tok.encode(&crate::data::code_answer(&p.language, code))?.ids.len() < max_new_tokens)
}

/// Runs `tests` on `code` in the sandbox; a test passes when the run's verdict is `passed`
/// (built, no checker finding, within limits, expected output). An error when the sandbox
/// cannot run the language here (missing toolchain, no namespaces).
pub fn run_tests(code: &str, language: &str, tests: &[TestCase]) -> Result<TestOutcome> {
    let lang = sbd_sandbox::runner::Language::from_name(language).ok_or_else(|| {
        Error::Invalid(format!("tests run for c, cpp, rust, python, javascript and java, not {language}"))
    })?;
    let passed =
        sbd_sandbox::runner::passed_tests(lang, code, tests).map_err(|e| Error::Invalid(format!("sandbox: {e}")))?;
    Ok(TestOutcome { passed, total: tests.len() })
}

/// RL settings.
#[derive(Debug, Clone)]
pub struct RlConfig {
    /// Answers sampled per prompt.
    pub group: usize,
    /// KL penalty coefficient.
    pub kl_beta: f64,
    pub sampling: Sampling,
}

/// An RL row `{"prompt", "language", "cwe"?, "override_expectation"?, "explanation_expected"?,
/// "tests"?, "reference"?}`.
pub fn prompt_from_row(v: &Value) -> Result<RlPrompt> {
    let prompt =
        v.get("prompt").and_then(Value::as_str).ok_or_else(|| Error::Invalid("RL row needs a prompt".into()))?;
    let language =
        v.get("language").and_then(Value::as_str).ok_or_else(|| Error::Invalid("RL row needs a language".into()))?;
    let cwe = v
        .get("cwe")
        .and_then(|c| c.as_u64().map(|n| n as u32).or_else(|| c.as_str().and_then(sbd_data::sources::parse_cwe)));
    let override_expectation = match v.get("override_expectation").and_then(Value::as_str) {
        Some("required") => Some(OverrideExpectation::Required),
        Some("refuse") => Some(OverrideExpectation::Refuse),
        Some("none") => Some(OverrideExpectation::None),
        Some(o) => return Err(Error::Invalid(format!("override_expectation {o}: required, refuse or none"))),
        None => None,
    };
    let explanation_expected = v.get("explanation_expected").and_then(Value::as_bool).unwrap_or(false);
    let tests: Vec<TestCase> = match v.get("tests") {
        Some(t) => serde_json::from_value(t.clone()).map_err(|e| Error::Invalid(format!("RL row tests: {e}")))?,
        None => Vec::new(),
    };
    let reference = match v.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(_) => return Err(Error::Invalid("RL row reference: a string of code".into())),
    };
    Ok(RlPrompt {
        prompt: prompt.into(),
        language: language.into(),
        expect: Expectations { override_expectation, cwe, explanation_expected },
        tests,
        reference,
    })
}

/// RL prompts from the corpus: the task of every example the SFT chats teach (clean code
/// with a task), expecting an explanation that names the weakness its pair or seed entry is
/// about. Returns `(prompt, held_out)`.
pub fn prompts_from_examples(ex: &[crate::data::CodeExample]) -> Vec<(RlPrompt, bool)> {
    use sbd_data::record::VariantKind;
    ex.iter()
        .filter(|e| {
            e.props[0] == 0.0 && !e.is_override && matches!(e.variant, VariantKind::Secure | VariantKind::Original)
        })
        .filter(|e| sbd_scan::Language::from_str(&e.language).is_ok())
        .filter_map(|e| {
            let prompt = crate::data::example_prompt(e)?;
            let expect =
                Expectations { cwe: e.cwe_label, explanation_expected: e.cwe_label.is_some(), ..Default::default() };
            let p = RlPrompt {
                prompt,
                language: e.language.clone(),
                expect,
                tests: Vec::new(),
                reference: Some(e.code.clone()),
            };
            Some((p, e.held_out))
        })
        .collect()
}

/// RL prompts from the fixed sides of vulnerable/fixed pairs: the task, its language and the
/// CWE that the vulnerable side had (for the explanation score).
pub fn prompts_from_samples(samples: &[sbd_data::sources::Sample], max_bytes: usize) -> Vec<(String, RlPrompt)> {
    samples
        .iter()
        .filter(|s| s.pair.is_some() && !s.vulnerable && s.code.len() <= max_bytes)
        .filter(|s| sbd_scan::Language::from_str(&s.language).is_ok())
        .map(|s| {
            let expect = Expectations { cwe: s.cwe, ..Default::default() };
            (
                crate::data::group_of(s),
                RlPrompt {
                    prompt: crate::data::task_prompt(s),
                    language: s.language.clone(),
                    expect,
                    tests: Vec::new(),
                    reference: Some(s.code.clone()),
                },
            )
        })
        .collect()
}

/// The verifier's score of one answer (with its functional tests run in the sandbox when the
/// prompt has some) and whether its code parses and is compliant (no active finding at
/// medium or above).
pub fn score(p: &RlPrompt, text: &str) -> Result<(f64, bool, bool)> {
    let lang = sbd_scan::Language::from_str(&p.language).map_err(|e| Error::Invalid(e.to_string()))?;
    let (code, expl) = split_completion(text);
    let report = sbd_scan::scan(&code, lang);
    // The reward's own parse test (no code, not scanned, or mostly syntax errors).
    let parses = !sbd_scan::reward::unparsed(&report);
    let tests = if p.tests.is_empty() || !parses { None } else { Some(run_tests(&code, &p.language, &p.tests)?) };
    // Code that does not parse cannot pass its tests: it scores 0 on them.
    let tests = tests.or_else(|| (!p.tests.is_empty()).then_some(TestOutcome { passed: 0, total: p.tests.len() }));
    let r = reward(&report, &p.expect, expl.as_deref(), tests, &Weights::default());
    Ok((r.reward, parses, parses && r.blocking_findings == 0))
}

/// Named values of one loss (logged per step).
pub type Parts = Vec<(String, f64)>;

#[allow(clippy::too_many_arguments)]
/// Loss of one GRPO batch over `prompts`; `policy_plain` is the current policy on a device
/// without autodiff (for sampling), `reference` the frozen reference.
pub fn grpo_loss(
    model: &Model,
    policy_plain: &Model,
    reference: &Model,
    tok: &Tok,
    prompts: &[&RlPrompt],
    cfg: &RlConfig,
    seed: u64,
    t: usize,
) -> Result<(Tensor<1>, Parts, usize)> {
    let mut rows = Vec::new();
    let mut rewards = Vec::new();
    let mut compliant = 0usize;
    for (pi, p) in prompts.iter().enumerate() {
        let ids = tok.encode(&chat_prompt(&p.prompt))?.ids;
        for g in 0..cfg.group {
            let s = Sampling {
                seed: seed.wrapping_mul(1000).wrapping_add((pi * cfg.group + g) as u64),
                ..cfg.sampling.clone()
            };
            let text = tok.decode(&generate_ids(policy_plain, &ids, tok.eos, &s)?, true)?;
            let (r, _, c) = score(p, &text)?;
            compliant += c as usize;
            rewards.push(r);
            rows.push(chat_row(tok, &p.prompt, &text, t)?);
        }
    }
    let ntok: Vec<f32> = rows.iter().map(|r| r.lm.iter().sum::<f32>().max(1.0)).collect();
    let batch = collate(rows, tok.pad);
    let n = batch.b;
    let pol = row_logp(model, &batch)?; // [n, 1]
    let pol_h = host(pol.clone().detach())?;
    let ref_h = host(row_logp(reference, &batch)?)?;
    let kl: Vec<f64> = (0..n).map(|i| (pol_h[i] - ref_h[i]) as f64 / ntok[i] as f64).collect();
    let shaped: Vec<f64> = (0..n).map(|i| rewards[i] - cfg.kl_beta * kl[i]).collect();
    let adv = group_advantages(&shaped, cfg.group, &ntok);
    let a: Tensor<2> = dev(adv, [n, 1], &model.device);
    let loss = pol.mul(a).sum().neg().div_scalar(n as f64);
    let parts = vec![
        ("reward".to_string(), rewards.iter().sum::<f64>() / n as f64),
        ("kl".to_string(), kl.iter().sum::<f64>() / n as f64),
        ("compliant".to_string(), compliant as f64 / n as f64),
    ];
    Ok((loss, parts, batch.tokens))
}

/// Advantages of a batch of `group`-sized groups of shaped rewards: each reward minus its
/// group's mean, spread over the answer's tokens (`ntok`). Not divided by the group's
/// standard deviation (as in Dr. GRPO): when a group's verifier rewards are all equal — most
/// groups while a small policy rarely writes code that parses — what is left is the KL term,
/// and dividing by its tiny spread would blow that noise up to the size of a real signal.
pub fn group_advantages(shaped: &[f64], group: usize, ntok: &[f32]) -> Vec<f32> {
    let mut adv = vec![0f32; shaped.len()];
    for (gi, chunk) in shaped.chunks(group.max(1)).enumerate() {
        let mean = chunk.iter().sum::<f64>() / chunk.len() as f64;
        for (j, r) in chunk.iter().enumerate() {
            let i = gi * group.max(1) + j;
            adv[i] = (r - mean) as f32 / ntok[i].max(1.0);
        }
    }
    adv
}

/// Compliance and parse rates of one sampled answer per prompt.
pub fn compliance(model: &Model, tok: &Tok, prompts: &[RlPrompt], s: &Sampling) -> Result<(f64, f64)> {
    let e = evaluate(model, tok, prompts, s, 1)?;
    Ok((e.compliance, e.parse_rate))
}

/// What sampled answers to held-out prompts achieve.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SampleEval {
    pub prompts: usize,
    pub samples: usize,
    /// Parses and has no active finding at medium or above.
    pub compliance: f64,
    pub parse_rate: f64,
    /// Compliant among the answers that parse.
    pub compliance_of_parsed: f64,
    pub mean_reward: f64,
}

/// Samples `per_prompt` answers to every prompt (seeds `s.seed + k`, the same for every
/// model, so two models are compared on the same draws of the sampler) and scores them.
pub fn evaluate(model: &Model, tok: &Tok, prompts: &[RlPrompt], s: &Sampling, per_prompt: usize) -> Result<SampleEval> {
    let (mut comp, mut parse, mut reward_sum, mut n) = (0usize, 0usize, 0.0, 0usize);
    for (i, p) in prompts.iter().enumerate() {
        let ids = tok.encode(&chat_prompt(&p.prompt))?.ids;
        for k in 0..per_prompt.max(1) {
            let s = Sampling { seed: s.seed.wrapping_add((i * per_prompt.max(1) + k) as u64), ..s.clone() };
            let text = tok.decode(&generate_ids(model, &ids, tok.eos, &s)?, true)?;
            let (r, ps, c) = score(p, &text)?;
            parse += ps as usize;
            comp += c as usize;
            reward_sum += r;
            n += 1;
        }
    }
    let d = n.max(1) as f64;
    Ok(SampleEval {
        prompts: prompts.len(),
        samples: n,
        compliance: comp as f64 / d,
        parse_rate: parse as f64 / d,
        compliance_of_parsed: comp as f64 / parse.max(1) as f64,
        mean_reward: reward_sum / d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(tests: Vec<TestCase>) -> RlPrompt {
        RlPrompt {
            prompt: "Add two numbers from stdin.".into(),
            language: "python".into(),
            expect: Expectations::default(),
            tests,
            reference: None,
        }
    }

    #[test]
    fn advantages_are_centred_per_group_and_not_scaled_up() {
        // Group 1: one answer parses (reward 1), three do not (0), KL differences tiny.
        // Group 2: all rewards equal, only KL noise: the advantages stay that small.
        let shaped = [1.0, 0.0, 0.0, 0.0, -0.001, 0.001, 0.0, 0.0];
        let adv = group_advantages(&shaped, 4, &[1.0; 8]);
        assert!((adv[0] - 0.75).abs() < 1e-6 && (adv[1] + 0.25).abs() < 1e-6, "{adv:?}");
        assert!(adv[4..].iter().all(|a| a.abs() <= 0.001 + 1e-6), "{adv:?}");
        assert!(adv[..4].iter().sum::<f32>().abs() < 1e-6);
        // Longer answers share their advantage among more tokens.
        let adv = group_advantages(&[1.0, 0.0], 2, &[10.0, 5.0]);
        assert_eq!(adv, vec![0.05, -0.1]);
    }

    #[test]
    fn functional_tests_run_in_the_sandbox_and_enter_the_reward() {
        let t = TestCase { stdin: Some("2 3\n".into()), expected_stdout: Some("5".into()), ..Default::default() };
        let good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```";
        let wrong = "```python\na, b = map(int, input().split())\nprint(a - b)\n```";
        match run_tests("print(5)\n", "python", std::slice::from_ref(&t)) {
            Err(e) => {
                println!("SKIPPED sandbox reward check: {e}");
                return;
            }
            Ok(o) => assert_eq!((o.passed, o.total), (1, 1)),
        }
        let p = prompt(vec![t]);
        let (r_good, parses, compliant) = score(&p, good).unwrap();
        let (r_wrong, ..) = score(&p, wrong).unwrap();
        assert!(parses && compliant);
        // The default weights give passing all tests +1.
        assert!((r_good - r_wrong - 1.0).abs() < 1e-9, "{r_good} vs {r_wrong}");
        // Code that does not parse scores 0 on its tests rather than skipping them.
        let (r_junk, parses, _) = score(&p, "```python\n)))(((\n```").unwrap();
        assert!(!parses && r_junk < r_wrong);
        // Without tests, the same answers score alike.
        let none = prompt(Vec::new());
        assert_eq!(score(&none, good).unwrap().0, score(&none, wrong).unwrap().0);
        assert!(
            prompt_from_row(&serde_json::json!({"prompt": "p", "language": "python", "tests": [{"stdin": "1"}]}))
                .is_ok_and(|p| p.tests.len() == 1)
        );
        assert!(prompt_from_row(&serde_json::json!({"prompt": "p", "language": "python", "tests": "no"})).is_err());
    }
}
