//! An OpenAI-compatible HTTP backend (`/v1/chat/completions` or `/v1/completions`), blocking,
//! built on `ureq` with rustls.
//!
//! - model, base URL and key from the caller (the CLI takes flags or `OPENAI_BASE_URL`,
//!   `OPENAI_API_KEY`, `SBD_EVAL_MODEL`);
//! - streaming (server-sent events, `data: {…}` … `data: [DONE]`) or a single JSON response;
//! - a timeout per request; retries with exponential backoff (base · 2^attempt, at most 30 s)
//!   on connection errors, timeouts, 5xx and 429 — a 429's `Retry-After` (seconds) is obeyed;
//!   other 4xx fail at once with the server's message;
//! - a response cache keyed by the request (base URL, API kind and the JSON body without the
//!   `stream` flag): a file per request under the cache directory, so a rerun or a resumed run
//!   asks the server only for what it has not answered yet.
//!
//! Concurrency is bounded by the runner (`--concurrency` generations in flight).

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Backend, BackendError, Mode, Request};

/// Which endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Chat,
    Completions,
}

/// Configuration of the client.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// E.g. `https://api.openai.com/v1` or `http://localhost:8000/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub api: Api,
    pub stream: bool,
    pub timeout: Duration,
    pub max_retries: u32,
    pub temperature: f64,
    pub max_tokens: u32,
    pub cache_dir: Option<PathBuf>,
    /// Backoff base (tests shorten it).
    pub backoff: Duration,
}

impl OpenAiConfig {
    pub fn new(base_url: &str, model: &str) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: None,
            model: model.to_string(),
            api: Api::Chat,
            stream: false,
            timeout: Duration::from_secs(120),
            max_retries: 4,
            temperature: 0.0,
            max_tokens: 1024,
            cache_dir: None,
            backoff: Duration::from_millis(500),
        }
    }
}

/// The client.
pub struct OpenAi {
    cfg: OpenAiConfig,
    agent: ureq::Agent,
}

const SYSTEM: &str = "You are a careful programmer. Write secure code by default.";

/// 128-bit FNV-1a style hash (two 64-bit lanes) as hex: the cache key.
fn cache_key(text: &str) -> String {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x6c62_272e_07bb_0142;
    for byte in text.bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(5);
    }
    format!("{a:016x}{b:016x}")
}

enum Attempt {
    Done(String),
    Retry { after: Option<Duration>, why: String },
    Fail(String),
}

impl OpenAi {
    pub fn new(cfg: OpenAiConfig) -> OpenAi {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(cfg.timeout)).http_status_as_error(false).build().into();
        OpenAi { cfg, agent }
    }

    /// The request body for a prompt (without the stream flag).
    pub fn body(&self, prompt: &str) -> Value {
        match self.cfg.api {
            Api::Chat => json!({
                "model": self.cfg.model,
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
                "temperature": self.cfg.temperature,
                "max_tokens": self.cfg.max_tokens,
            }),
            Api::Completions => json!({
                "model": self.cfg.model,
                "prompt": prompt,
                "temperature": self.cfg.temperature,
                "max_tokens": self.cfg.max_tokens,
            }),
        }
    }

    fn url(&self) -> String {
        match self.cfg.api {
            Api::Chat => format!("{}/chat/completions", self.cfg.base_url),
            Api::Completions => format!("{}/completions", self.cfg.base_url),
        }
    }

    fn extract(&self, v: &Value, streaming: bool) -> Option<String> {
        let c = v.get("choices")?.get(0)?;
        match (self.cfg.api, streaming) {
            (Api::Chat, false) => c.get("message")?.get("content")?.as_str().map(str::to_owned),
            (Api::Chat, true) => {
                Some(c.get("delta").and_then(|d| d.get("content")).and_then(Value::as_str).unwrap_or("").to_owned())
            }
            (Api::Completions, _) => c.get("text")?.as_str().map(str::to_owned),
        }
    }

    fn attempt(&self, body: &Value) -> Attempt {
        let mut req = self.agent.post(&self.url()).header("Content-Type", "application/json");
        if let Some(k) = &self.cfg.api_key {
            req = req.header("Authorization", &format!("Bearer {k}"));
        }
        let mut body = body.clone();
        if self.cfg.stream {
            body["stream"] = Value::Bool(true);
        }
        let text = body.to_string();
        let mut resp = match req.send(text.as_bytes()) {
            Ok(r) => r,
            Err(e) => return Attempt::Retry { after: None, why: e.to_string() },
        };
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            let after = resp
                .headers()
                .get("retry-after")
                .and_then(|h| h.to_str().ok())
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 300.0)));
            return Attempt::Retry { after, why: format!("HTTP {status}") };
        }
        let raw = match resp.body_mut().read_to_string() {
            Ok(t) => t,
            Err(e) => return Attempt::Retry { after: None, why: e.to_string() },
        };
        if status >= 400 {
            let msg = serde_json::from_str::<Value>(&raw)
                .ok()
                .and_then(|v| v.get("error")?.get("message")?.as_str().map(str::to_owned))
                .unwrap_or(raw);
            return Attempt::Fail(format!("HTTP {status}: {msg}"));
        }
        if self.cfg.stream {
            let mut out = String::new();
            let mut done = false;
            for line in raw.lines() {
                let Some(data) = line.strip_prefix("data:") else { continue };
                let data = data.trim();
                if data == "[DONE]" {
                    done = true;
                    break;
                }
                match serde_json::from_str::<Value>(data).ok().and_then(|v| self.extract(&v, true)) {
                    Some(piece) => out.push_str(&piece),
                    None => return Attempt::Fail(format!("malformed stream event: {data}")),
                }
            }
            if !done {
                return Attempt::Retry { after: None, why: "stream ended without [DONE]".into() };
            }
            Attempt::Done(out)
        } else {
            match serde_json::from_str::<Value>(&raw).ok().and_then(|v| self.extract(&v, false)) {
                Some(t) => Attempt::Done(t),
                None => Attempt::Fail(format!(
                    "response without choices[0] content: {}",
                    raw.chars().take(200).collect::<String>()
                )),
            }
        }
    }

    /// Sends one prompt with retries and the cache.
    pub fn complete_prompt(&self, prompt: &str) -> Result<String, BackendError> {
        self.complete_sample(prompt, 0)
    }

    /// Sends one prompt for sample `sample` of a task (pass@k): samples after the first carry
    /// `"seed": sample` (servers that honour it then differ reproducibly) and have their own
    /// cache entries.
    pub fn complete_sample(&self, prompt: &str, sample: u32) -> Result<String, BackendError> {
        let mut body = self.body(prompt);
        if sample > 0 {
            body["seed"] = json!(sample);
        }
        let key = cache_key(&format!("{}\n{:?}\n{}", self.cfg.base_url, self.cfg.api, body));
        let cached = self.cfg.cache_dir.as_ref().map(|d| d.join(format!("{key}.json")));
        if let Some(p) = &cached
            && let Ok(t) = std::fs::read_to_string(p)
            && let Ok(v) = serde_json::from_str::<Value>(&t)
            && let Some(c) = v.get("completion").and_then(Value::as_str)
        {
            return Ok(c.to_string());
        }
        let mut last = String::new();
        for attempt in 0..=self.cfg.max_retries {
            match self.attempt(&body) {
                Attempt::Done(text) => {
                    if let Some(p) = &cached {
                        if let Some(d) = p.parent() {
                            std::fs::create_dir_all(d)
                                .map_err(|source| BackendError::Io { path: d.display().to_string(), source })?;
                        }
                        let rec = json!({"request": body, "completion": text});
                        std::fs::write(p, rec.to_string())
                            .map_err(|source| BackendError::Io { path: p.display().to_string(), source })?;
                    }
                    return Ok(text);
                }
                Attempt::Fail(m) => return Err(BackendError::Other(format!("{}: {m}", self.url()))),
                Attempt::Retry { after, why } => {
                    last = why;
                    if attempt < self.cfg.max_retries {
                        let backoff =
                            self.cfg.backoff.saturating_mul(1 << attempt.min(16)).min(Duration::from_secs(30));
                        std::thread::sleep(after.unwrap_or(backoff));
                    }
                }
            }
        }
        Err(BackendError::Other(format!("{}: gave up after {} attempts: {last}", self.url(), self.cfg.max_retries + 1)))
    }
}

impl Backend for OpenAi {
    fn name(&self) -> String {
        format!("openai:{}@{}", self.cfg.model, self.cfg.base_url)
    }
    fn complete(&self, req: &Request<'_>) -> Result<String, BackendError> {
        let raw_prefix = match (self.cfg.api, req.mode, &req.task.prefix, &req.repair) {
            // The completions endpoint continues raw code in autocomplete mode.
            (Api::Completions, Mode::Autocomplete, Some(prefix), None) => Some(prefix.clone()),
            _ => None,
        };
        match raw_prefix {
            Some(prefix) => Ok(format!("{prefix}{}", self.complete_sample(&prefix, req.sample)?)),
            None => self.complete_sample(&req.prompt_text(), req.sample),
        }
    }
}
