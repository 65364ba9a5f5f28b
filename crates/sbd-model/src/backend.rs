//! A local checkpoint as an `sbd eval` backend.
//!
//! [`LocalBackend`] answers each [`Request`] with [`LocalModel::chat`] on
//! `Request::prompt_text()` (the same text an OpenAI-compatible model gets, repair rounds
//! included) and returns the answer as Markdown — the fenced code, the ANRF instance as a
//! ```` ```json ```` block where there is one, and the explanation, which is what the oracles read. The code fence is forced in the task's language, and the code
//! is verified, when the verifier knows the language. With `guided`, decoding is
//! verification-guided (statement rollbacks; see [`crate::generate`]) — a different system
//! than the plain model, so runs record it in the backend name. ANRF layers are generated for
//! tasks that require metadata (the metadata oracle scores them) and, with `anrf`, for every
//! task; otherwise not, since they cost tokens.
//!
//! Runs are deterministic: each request's seed mixes the configured seed with the task id,
//! the round and the sample (pass@k), so the answers do not depend on the order in which concurrent tasks run.

use std::sync::Arc;

use sbd_eval::backend::{Backend, BackendError, Request};
use sbd_eval::suite::scan_language;

use crate::generate::{AnswerOptions, Sampling, VerifyOptions};
use crate::local::LocalModel;

/// The local backend.
pub struct LocalBackend {
    pub model: Arc<LocalModel>,
    pub sampling: Sampling,
    /// Verification-guided decoding (statement rollbacks).
    pub guided: bool,
    /// Also generate (and validate) the ANRF layers.
    pub anrf: bool,
}

impl LocalBackend {
    pub fn new(model: Arc<LocalModel>, sampling: Sampling) -> Self {
        LocalBackend { model, sampling, guided: false, anrf: false }
    }

    /// The seed of one request.
    fn seed(&self, task: &str, round: u32, sample: u32) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ self.sampling.seed;
        for b in task.bytes().chain(round.to_le_bytes()).chain(sample.to_le_bytes()) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> String {
        let mut n = format!("local:{}", self.model.id());
        if self.guided {
            n.push_str("+guided");
        }
        n
    }

    fn complete(&self, req: &Request<'_>) -> Result<String, BackendError> {
        let s = Sampling { seed: self.seed(&req.task.id, req.round, req.sample), ..self.sampling.clone() };
        let verify = scan_language(&req.task.language).map(|l| VerifyOptions {
            guided: self.guided,
            attempts: 1,
            repair_rounds: 0,
            ..VerifyOptions::new(l)
        });
        // Tasks that require metadata get the ANRF layers whatever the backend's setting.
        let anrf = self.anrf || req.task.expect.metadata;
        let opts = AnswerOptions { verify, anrf, creator: self.model.id().to_string(), ..Default::default() };
        let answer = self
            .model
            .chat_with(&[("user", req.prompt_text())], &s, &opts)
            .map_err(|e| BackendError::Other(format!("local model {}: {e}", self.model.id())))?;
        Ok(if anrf { answer.markdown_with_anrf() } else { answer.markdown() })
    }
}
