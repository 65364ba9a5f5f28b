//! `sbd export hf` — Hugging Face Llama-layout export.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Write a Llama-layout `model.safetensors` + `config.json` + `tokenizer.json` that
    /// `transformers.LlamaForCausalLM` loads (security heads in `sbd_heads.safetensors`).
    Hf(ExportHfArgs),
}

#[derive(Args)]
pub struct ExportHfArgs {
    /// A model directory written by `sbd train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Output directory.
    #[arg(short, long)]
    pub output: PathBuf,
}

pub fn run(cmd: ExportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExportCommand::Hf(a) => {
            let (model, tok, _) = sbd_model::train::load_model_dir(&a.model, &sbd_model::generate::default_device())?;
            let n = sbd_model::export::export_hf(&model, &tok, &a.output)?;
            println!("wrote {} ({n} tensors, {} parameters)", a.output.display(), model.cfg.n_params());
            Ok(ExitCode::SUCCESS)
        }
    }
}
