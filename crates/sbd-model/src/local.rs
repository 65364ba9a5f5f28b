//! A trained checkpoint as a chat and completion model: the API behind `sbd serve`'s
//! OpenAI-compatible endpoints and behind the local `sbd eval` backend.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sbd_model::generate::{Sampling, VerifyOptions};
//! use sbd_model::local::LocalModel;
//!
//! # fn main() -> sbd_model::Result<()> {
//! let model = Arc::new(LocalModel::load("runs/sft".as_ref())?); // Send + Sync: share it
//! let s = Sampling { temperature: 0.0, max_new_tokens: 256, ..Sampling::default() };
//! // /v1/chat/completions: the answer's code, ANRF instance, explanation and token counts.
//! let a = model.chat(&[("user", "Look up a user by name in SQLite.")], &s,
//!                    Some(VerifyOptions::for_language("python")?))?;
//! println!("{}\n{} + {} tokens, {}", a.markdown(), a.prompt_tokens, a.completion_tokens,
//!          a.finish_reason.as_str());
//! // /v1/completions: a plain continuation.
//! let c = model.complete("def read_config(path):\n", &s)?;
//! println!("{}{}", c.text, model.id());
//! # Ok(()) }
//! ```
//!
//! Messages are `(role, content)` pairs with roles `system`, `user` and `assistant`; they
//! become the prompt exactly as the SFT trainer builds it from a `{"messages": …}` row
//! ([`crate::data::chat_from_row`]), so a model sees at inference what it saw in training.
//! `chat` generates in the multi-layer format (code, ANRF layers, explanation; see
//! [`crate::generate`]); with [`VerifyOptions`] the verifier guides the decoding. Token
//! counts follow OpenAI's usage fields: `prompt_tokens` are the prompt tokens the model saw
//! (a prompt longer than the context keeps its end), `completion_tokens` the answer's tokens.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::{Value, json};

use crate::generate::{self, Answer, AnswerOptions, Completion, Sampling, VerifyOptions};
use crate::model::Model;
use crate::tokenizer::Tok;
use crate::train::load_model_dir;
use crate::{Error, Result, io_err};

/// A loaded model directory (`model.safetensors`, `config.json`, `tokenizer.json`).
pub struct LocalModel {
    model: Model,
    tok: Tok,
    id: String,
    stage: Option<String>,
    dir: PathBuf,
}

// `LocalModel` is shared across server and eval threads behind an `Arc`.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LocalModel>();
};

impl LocalModel {
    /// Loads `dir` on the default device (burn's CPU backend).
    pub fn load(dir: &Path) -> Result<LocalModel> {
        Self::load_on(dir, &generate::default_device())
    }

    /// Loads `dir` on `device`. The model id is `name` from `config.json` when it has one,
    /// else the directory's name.
    pub fn load_on(dir: &Path, device: &Device) -> Result<LocalModel> {
        if !dir.join("config.json").is_file() {
            return Err(Error::Invalid(format!(
                "{}: not a model directory (no config.json); give a directory written by `sbd train`",
                dir.display()
            )));
        }
        let (model, tok, cfg) = load_model_dir(dir, device)?;
        let p = dir.join("config.json");
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&p).map_err(io_err(&p))?)
            .map_err(|e| Error::Format { path: p.display().to_string(), message: e.to_string() })?;
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let id = raw
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| canonical.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "sbd-model".into());
        Ok(LocalModel { model, tok, id, stage: cfg.stage, dir: dir.to_path_buf() })
    }

    /// The model id (OpenAI's `model` field).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The training stage that wrote the checkpoint (`pretrain`, `sft`, `dpo`, `rl`).
    pub fn stage(&self) -> Option<&str> {
        self.stage.as_deref()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Context length in tokens (prompt and answer together).
    pub fn context_length(&self) -> usize {
        self.model.cfg.max_seq
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn tokenizer(&self) -> &Tok {
        &self.tok
    }

    /// Tokens of `text` (special tokens written in it count as one each).
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self.tok.encode(text)?.ids.len())
    }

    /// Answers a conversation in the multi-layer format with an ANRF instance; with `verify`,
    /// verification-guided. See [`LocalModel::chat_with`] for every option.
    pub fn chat<R: AsRef<str>, C: AsRef<str>>(
        &self,
        messages: &[(R, C)],
        s: &Sampling,
        verify: Option<VerifyOptions>,
    ) -> Result<Answer> {
        self.chat_with(messages, s, &AnswerOptions { verify, creator: self.id.clone(), ..AnswerOptions::default() })
    }

    /// [`LocalModel::chat`] with explicit [`AnswerOptions`].
    pub fn chat_with<R: AsRef<str>, C: AsRef<str>>(
        &self,
        messages: &[(R, C)],
        s: &Sampling,
        opts: &AnswerOptions,
    ) -> Result<Answer> {
        let prompt = chat_prompt_text(messages)?;
        generate::answer(&self.model, &self.tok, &prompt, opts, s)
    }

    /// Continues `prompt` as plain text (no chat format, no verification).
    pub fn complete(&self, prompt: &str, s: &Sampling) -> Result<Completion> {
        generate::complete(&self.model, &self.tok, prompt, s)
    }
}

/// The user text the SFT trainer makes of a conversation (everything before the answer).
/// Roles are `system`, `user` and `assistant`; the last message must not be the
/// assistant's (the answer is what is generated).
pub fn chat_prompt_text<R: AsRef<str>, C: AsRef<str>>(messages: &[(R, C)]) -> Result<String> {
    if messages.is_empty() {
        return Err(Error::Invalid("a chat needs at least one message".into()));
    }
    let mut rows = Vec::new();
    for (i, (role, content)) in messages.iter().enumerate() {
        let role = role.as_ref();
        if !matches!(role, "system" | "user" | "assistant") {
            return Err(Error::Invalid(format!("message {i}: role {role:?} (system, user or assistant)")));
        }
        rows.push(json!({"role": role, "content": content.as_ref()}));
    }
    if messages.last().is_some_and(|m| m.0.as_ref() == "assistant") {
        return Err(Error::Invalid("the last message is the assistant's; end with a user message".into()));
    }
    rows.push(json!({"role": "assistant", "content": ""}));
    Ok(crate::data::chat_from_row(&json!({ "messages": rows }))?.prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_prompts_match_the_sft_rows() {
        let p = chat_prompt_text(&[("system", "be safe"), ("user", "copy a string")]).unwrap();
        let row = json!({"messages": [{"role": "system", "content": "be safe"}, {"role": "user", "content": "copy a string"},
            {"role": "assistant", "content": "x"}]});
        assert_eq!(p, crate::data::chat_from_row(&row).unwrap().prompt);
        assert!(chat_prompt_text::<&str, &str>(&[]).is_err());
        assert!(chat_prompt_text(&[("tool", "x")]).unwrap_err().to_string().contains("role"));
        assert!(chat_prompt_text(&[("user", "a"), ("assistant", "b")]).is_err());
    }
}
