//! `sbd tokenizer train` — byte-level BPE with the model's special tokens.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use sbd_model::tokenizer::Tok;

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer on JSONL data (or the default pairs) and write
    /// `tokenizer.json` (loads in Python `tokenizers` too).
    Train(TokenizerTrainArgs),
}

#[derive(Args)]
pub struct TokenizerTrainArgs {
    /// JSONL files: every string field of every row is training text. Default: the SVEN and
    /// SafeCoder pairs under --shared plus the embedded pairs.
    #[arg(long)]
    pub data: Vec<PathBuf>,
    /// Where the public datasets live (sven/, safecoder/).
    #[arg(long, default_value = "../shared/data")]
    pub shared: PathBuf,
    /// Vocabulary size, special tokens included.
    #[arg(long, default_value_t = 2048)]
    pub vocab_size: usize,
    /// Output file.
    #[arg(short, long, default_value = "tokenizer.json")]
    pub output: PathBuf,
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Training texts for a tokenizer: string fields of JSONL rows, or the default samples.
pub fn corpus(data: &[PathBuf], shared: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let mut texts = Vec::new();
    if data.is_empty() {
        let (samples, note) = sbd_model::data::default_samples(shared)?;
        eprintln!("tokenizer corpus: {note}");
        texts.extend(samples.into_iter().flat_map(|s| [s.code].into_iter().chain(s.description)));
    } else {
        for f in data {
            for row in sbd_model::data::read_jsonl(f).with_context(|| format!("reading {}", f.display()))? {
                strings(&row, &mut texts);
            }
        }
    }
    Ok(texts)
}

pub fn run(cmd: TokenizerCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenizerCommand::Train(a) => {
            let texts = corpus(&a.data, &a.shared)?;
            anyhow::ensure!(!texts.is_empty(), "no training text");
            let t = std::time::Instant::now();
            let tok = Tok::train(texts.iter(), a.vocab_size)?;
            tok.save(&a.output)?;
            println!(
                "wrote {} ({} tokens, {} texts, {:.1} s)",
                a.output.display(),
                tok.vocab_size(),
                texts.len(),
                t.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
