//! A small, security-aware decoder-only code model and everything around it.
//!
//! The layers, lowest first (nothing in a lower layer knows about a higher one):
//!
//! - [`tokenizer`]: byte-level BPE (the `tokenizers` crate) with special tokens for the ANRF
//!   layers, explanations, overrides, fill-in-the-middle and security tags.
//! - [`config`]: model sizes (presets `tiny` … `1b`) and training hyperparameters.
//! - [`tensor_io`]: named `f32` tensors to and from safetensors files.
//! - [`model`]: a Llama-style transformer (RMSNorm, rotary positions, SwiGLU, KV cache) written
//!   on burn's backend-agnostic `Tensor` API, with a token-level security-tag head and a
//!   sequence-level security-property head. Parameters are plain named tensors in PyTorch
//!   layout (`[out, in]`), so the Hugging Face export is a rename.
//! - [`optim`]: AdamW with warmup + cosine, global-norm clipping; its state is saved with the
//!   checkpoint so that a killed run resumes exactly.
//! - [`data`]: training examples (pretraining text with verifier labels, SFT chats, DPO pairs)
//!   from JSONL or from `sbd-data`'s readers, plus a small embedded set.
//! - [`curriculum`]: the scheduler that orders and weights examples by complexity, security
//!   concept and override scenarios as training progresses.
//! - [`metrics`]: AUROC, expected calibration error, temperature scaling.
//! - [`objectives`]: training rows (windows of long code, consistency and adversarial pairs,
//!   preference pairs) and the losses on them.
//! - [`train`]: the training loops (pretrain objectives, SFT, DPO, RL) with checkpoints and resume.
//! - [`rl`]: GRPO-style reinforcement learning with the verifier's reward and a KL penalty.
//! - [`format`]: the multi-layer answer (code, ANRF intent/semantic/execution layers,
//!   explanation) — rendering for training, parsing, assembling and validating the ANRF.
//! - [`generate`]: sampling with a KV cache, the multi-layer answer with ANRF validation and
//!   regeneration, verification-guided decoding (statement rollbacks, resampling, repair) and
//!   the property head's confidence.
//! - [`local`]: a checkpoint as a chat/completions model (`LocalModel`, for `sbd serve`), and
//!   [`backend`]: the same as an `sbd eval` backend.
//! - [`export`]: Hugging Face Llama-layout export.
//!
//! The device is burn's dispatch [`burn::tensor::Device`]: `Device::flex()` (pure Rust CPU) by
//! default; a build with burn's `cuda` feature can pass `Device::cuda(0)` to the same code.
#![forbid(unsafe_code)]

pub mod backend;
pub mod config;
pub mod curriculum;
pub mod data;
pub mod export;
pub mod format;
pub mod generate;
pub mod local;
pub mod metrics;
pub mod model;
pub mod objectives;
pub mod optim;
pub mod rl;
pub mod rng;
pub mod tensor_io;
pub mod tokenizer;
pub mod train;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("{path}: {message}")]
    Format { path: String, message: String },
    #[error("safetensors: {0}")]
    SafeTensors(String),
    #[error("tensor: {0}")]
    Tensor(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Data(#[from] sbd_data::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.display().to_string(), source }
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it).
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}
