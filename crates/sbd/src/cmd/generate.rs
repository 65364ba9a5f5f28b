//! `sbd generate` — sample an answer (code, ANRF layers, explanation) from a trained model,
//! optionally verification-guided.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sbd_model::generate::{AnswerOptions, Sampling, VerifyOptions};
use sbd_model::local::LocalModel;

#[derive(Args)]
pub struct GenerateArgs {
    /// A model directory written by `sbd train`.
    #[arg(long)]
    pub model: PathBuf,
    /// The prompt (a user message).
    pub prompt: String,
    /// Language of the expected code. The verifier then guides decoding: at each statement
    /// boundary a new finding of medium severity or above rolls the statement back and
    /// resamples it; whole answers are resampled (up to --attempts) and repaired (up to
    /// --repair) while they have such findings.
    #[arg(long)]
    pub language: Option<String>,
    /// Whole answers sampled while the code has blocking findings.
    #[arg(long, default_value_t = 4)]
    pub attempts: usize,
    /// Repair rounds after the attempts: the model sees its code and the findings.
    #[arg(long, default_value_t = 0)]
    pub repair: usize,
    /// Verify only whole answers, not statements while sampling.
    #[arg(long)]
    pub no_guided: bool,
    /// Resamples of one statement before it is kept.
    #[arg(long, default_value_t = 3)]
    pub statement_retries: usize,
    /// Skip the ANRF layers (code and explanation only).
    #[arg(long)]
    pub no_anrf: bool,
    /// Model attempts at valid ANRF layers before the verifier builds the instance.
    #[arg(long, default_value_t = 3)]
    pub anrf_attempts: usize,
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// 0 for greedy decoding.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// text (Markdown answer; the ANRF instance and verdict on stderr) or json (everything).
    #[arg(long, default_value = "text")]
    pub format: String,
}

pub fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.format == "text" || a.format == "json", "--format is text or json");
    let model = LocalModel::load(&a.model).with_context(|| format!("loading the model in {}", a.model.display()))?;
    let s = Sampling {
        max_new_tokens: a.max_new_tokens,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    let verify = match &a.language {
        Some(l) => Some(VerifyOptions {
            guided: !a.no_guided,
            statement_retries: a.statement_retries,
            attempts: a.attempts.max(1),
            repair_rounds: a.repair,
            ..VerifyOptions::for_language(l)?
        }),
        None => None,
    };
    let opts = AnswerOptions {
        verify,
        anrf: !a.no_anrf,
        anrf_attempts: a.anrf_attempts.max(1),
        creator: model.id().to_string(),
    };
    let ans = model.chat_with(&[("user", a.prompt.as_str())], &s, &opts)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&ans)?);
    } else {
        print!("{}", ans.markdown());
        if let Some(anrf) = &ans.anrf {
            eprintln!(
                "ANRF ({:?}, valid: {}):\n{}",
                ans.anrf_source,
                ans.anrf_valid,
                serde_json::to_string_pretty(anrf)?
            );
            for p in &ans.anrf_problems {
                eprintln!("  model layers rejected: {p}");
            }
        }
        let verdict = match ans.blocking_findings {
            Some(n) => format!(
                ", {n} blocking findings {:?}, parses: {}, {} rollbacks ({} statements unresolved)",
                ans.rules,
                ans.parses.unwrap_or(false),
                ans.rollbacks,
                ans.unresolved_statements
            ),
            None => String::new(),
        };
        eprintln!(
            "confidence {:.3}, attempts {}, repair rounds {}{verdict}; {} prompt + {} answer tokens ({} sampled), finish: {}",
            ans.confidence,
            ans.attempts,
            ans.repair_rounds,
            ans.prompt_tokens,
            ans.completion_tokens,
            ans.generated_tokens,
            ans.finish_reason.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}
