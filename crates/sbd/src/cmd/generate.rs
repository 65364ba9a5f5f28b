//! `sbd generate` — sample from a trained model, optionally verification-guided.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sbd_model::generate::{Sampling, answer, default_device};

#[derive(Args)]
pub struct GenerateArgs {
    /// A model directory written by `sbd train`.
    #[arg(long)]
    pub model: PathBuf,
    /// The prompt.
    pub prompt: String,
    /// Language of the expected code: each sample is checked by the verifier and resampled
    /// (up to --attempts) while it has findings of medium severity or above.
    #[arg(long)]
    pub language: Option<String>,
    #[arg(long, default_value_t = 4)]
    pub attempts: usize,
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
    /// text or json.
    #[arg(long, default_value = "text")]
    pub format: String,
}

pub fn run(a: GenerateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(a.format == "text" || a.format == "json", "--format is text or json");
    let (model, tok, _) = sbd_model::train::load_model_dir(&a.model, &default_device())?;
    let s = Sampling {
        max_new_tokens: a.max_new_tokens,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    let ans = answer(&model, &tok, &a.prompt, a.language.as_deref(), a.attempts, &s)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&ans)?);
    } else {
        println!("{}", ans.text);
        let verdict = match ans.blocking_findings {
            Some(n) => format!(", {n} blocking findings, parses: {}", ans.parses.unwrap_or(false)),
            None => String::new(),
        };
        eprintln!("confidence {:.3}, attempts {}{verdict}", ans.confidence, ans.attempts);
    }
    Ok(ExitCode::SUCCESS)
}
