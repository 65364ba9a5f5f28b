//! OpenAI-compatible generation from a local checkpoint (`sbd serve --model DIR`).
//!
//! - `GET /v1/models` lists the one loaded model.
//! - `POST /v1/chat/completions` answers a conversation in the model's multi-layer format:
//!   the message content is the fenced code, the answer's ANRF 1.1.0 instance in a
//!   ```` ```json ```` block and the explanation; with `"sbd": {"verify": true, "language":
//!   "python"}` the verifier guides the decoding (statement rollbacks, resampling, repair
//!   rounds) and the response's `sbd` object reports what it found.
//! - `POST /v1/completions` continues a plain prompt.
//!
//! Both accept the usual OpenAI fields (`model`, `temperature`, `top_p`, `max_tokens`,
//! `seed`, `n`, `stream`, `stop` is refused explicitly rather than ignored). With
//! `"stream": true` the answer is sent as server-sent events in the chat-completion-chunk
//! format, ending with `data: [DONE]`. Generation runs on the blocking pool, at most
//! `max_generations` at once (more get 429 with `Retry-After`), and within the request time
//! limit.// Handlers return a ready `Response` as the error of their helpers (the axum idiom, as in
// `api`); boxing it would only add an allocation per rejected request.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sbd_model::generate::{Answer, AnswerOptions, Sampling, VerifyOptions};
use sbd_model::local::LocalModel;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::error;

type Shared = Arc<AppState>;

/// Largest `max_tokens` a request may ask for.
const MAX_NEW_TOKENS: usize = 4096;
/// Most choices (`n`) per request.
const MAX_CHOICES: usize = 8;

fn unavailable() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no_model",
        "this server has no model; start it with `sbd serve --model DIR` (a directory written by `sbd train`)",
    )
}

fn model_of(state: &AppState) -> Result<Arc<LocalModel>, Response> {
    state.model.clone().ok_or_else(unavailable)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn request_id(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos:x}")
}

/// `GET /v1/models`.
pub async fn models(State(state): State<Shared>) -> Response {
    let Ok(m) = model_of(&state) else { return unavailable() };
    Json(json!({
        "object": "list",
        "data": [{"id": m.id(), "object": "model", "created": 0, "owned_by": "sbd",
                  "context_length": m.context_length(), "stage": m.stage()}]
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Message {
    role: String,
    /// A string, or OpenAI's list of content parts (only `text` parts are accepted).
    content: Value,
}

/// sbd's extension of the request: verification-guided generation.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SbdOptions {
    /// Verify while generating (needs `language`).
    #[serde(default)]
    verify: bool,
    /// Language of the expected code (`python`, `c`, …).
    #[serde(default)]
    language: Option<String>,
    /// Whole-answer samples while the code has blocking findings (default 1).
    #[serde(default)]
    attempts: Option<usize>,
    /// Repair rounds with the verifier's findings after that (default 0).
    #[serde(default)]
    repair_rounds: Option<usize>,
    /// Generate the ANRF layers (default true).
    #[serde(default)]
    anrf: Option<bool>,
}

#[derive(Deserialize)]
struct Common {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default, alias = "max_completion_tokens")]
    max_tokens: Option<usize>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    n: Option<usize>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stop: Option<Value>,
}

#[derive(Deserialize)]
struct ChatRequest {
    messages: Vec<Message>,
    #[serde(flatten)]
    common: Common,
    #[serde(default)]
    sbd: Option<SbdOptions>,
}

#[derive(Deserialize)]
struct CompletionRequest {
    prompt: Value,
    #[serde(flatten)]
    common: Common,
}

fn bad(code: &str, message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

/// Checks the fields both endpoints share and turns them into sampling settings.
fn sampling(c: &Common, m: &LocalModel) -> Result<(Sampling, usize), Response> {
    if let Some(name) = &c.model
        && !name.is_empty()
        && name != m.id()
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            "model_not_found",
            format!("model `{name}` is not served here; this server serves `{}` (GET /v1/models)", m.id()),
        ));
    }
    if c.stop.as_ref().is_some_and(|s| !s.is_null()) {
        return Err(bad(
            "unsupported_parameter",
            "`stop` sequences are not supported; the model ends its answer itself",
        ));
    }
    let temperature = c.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(bad("invalid_parameter", format!("temperature must be between 0 and 2, got {temperature}")));
    }
    let top_p = c.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(bad("invalid_parameter", format!("top_p must be in (0, 1], got {top_p}")));
    }
    let max_new_tokens = c.max_tokens.unwrap_or(256);
    if max_new_tokens == 0 || max_new_tokens > MAX_NEW_TOKENS {
        return Err(bad("invalid_parameter", format!("max_tokens must be between 1 and {MAX_NEW_TOKENS}")));
    }
    let n = c.n.unwrap_or(1);
    if n == 0 || n > MAX_CHOICES {
        return Err(bad("invalid_parameter", format!("n must be between 1 and {MAX_CHOICES}")));
    }
    let s = Sampling {
        max_new_tokens,
        temperature,
        top_k: c.top_k.unwrap_or(0),
        top_p,
        seed: c.seed.unwrap_or_else(|| now_secs() ^ 0x5bd),
    };
    Ok((s, n))
}

fn message_text(i: usize, m: &Message) -> Result<String, Response> {
    match &m.content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = String::new();
            for p in parts {
                match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => out.push_str(t),
                    _ => {
                        return Err(bad(
                            "invalid_content",
                            format!("messages[{i}]: only text content parts are supported"),
                        ));
                    }
                }
            }
            Ok(out)
        }
        Value::Null => Ok(String::new()),
        _ => Err(bad("invalid_content", format!("messages[{i}].content must be a string or a list of text parts"))),
    }
}

/// Runs `f` on the blocking pool under the generation permits.
async fn generate<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Response> {
    let Ok(_permit) = state.gen_permits.clone().try_acquire_owned() else {
        state.metrics.rejected("generation_busy");
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "generation_busy",
            "all generation slots are busy; retry after the given delay",
        );
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        return Err(r);
    };
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(msg)) => Err(error(StatusCode::UNPROCESSABLE_ENTITY, "generation_failed", msg)),
        Err(_) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the generation worker failed")),
    }
}

fn sse(chunks: Vec<Value>) -> Response {
    let mut body = String::new();
    for c in chunks {
        body.push_str("data: ");
        body.push_str(&c.to_string());
        body.push_str("\n\n");
    }
    body.push_str("data: [DONE]\n\n");
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// `POST /v1/chat/completions`.
pub async fn chat(State(state): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let m = match model_of(&state) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let req: ChatRequest = match crate::api::body_json(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (s, n) = match sampling(&req.common, &m) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if req.messages.is_empty() {
        return bad("invalid_messages", "messages must not be empty");
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, msg) in req.messages.iter().enumerate() {
        if !matches!(msg.role.as_str(), "system" | "user" | "assistant" | "developer") {
            return bad("invalid_role", format!("messages[{i}].role `{}`: use system, user or assistant", msg.role));
        }
        let role = if msg.role == "developer" { "system".to_string() } else { msg.role.clone() };
        match message_text(i, msg) {
            Ok(t) => messages.push((role, t)),
            Err(e) => return e,
        }
    }
    let sbd = req.sbd.unwrap_or_default();
    let verify = match (sbd.verify, sbd.language.as_deref()) {
        (false, _) => None,
        (true, None) => return bad("missing_language", "sbd.verify needs sbd.language (e.g. \"python\")"),
        (true, Some(l)) => match VerifyOptions::for_language(l) {
            Ok(v) => Some(VerifyOptions {
                attempts: sbd.attempts.unwrap_or(1).clamp(1, 8),
                repair_rounds: sbd.repair_rounds.unwrap_or(0).min(4),
                ..v
            }),
            Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_language", e.to_string()),
        },
    };
    let opts = AnswerOptions {
        verify,
        anrf: sbd.anrf.unwrap_or(true),
        creator: m.id().to_string(),
        ..AnswerOptions::default()
    };
    let stream = req.common.stream;
    let model = m.clone();
    let answers = generate(&state, move || {
        (0..n)
            .map(|i| {
                let s = Sampling { seed: s.seed.wrapping_add(i as u64), ..s.clone() };
                model.chat_with(&messages, &s, &opts).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<Answer>, String>>()
    })
    .await;
    let answers = match answers {
        Ok(a) => a,
        Err(e) => return e,
    };
    for a in &answers {
        state.metrics.generation(a.blocking_findings, a.anrf_valid);
    }
    let id = request_id("chatcmpl");
    let created = now_secs();
    let prompt_tokens = answers.first().map_or(0, |a| a.prompt_tokens);
    let completion_tokens: usize = answers.iter().map(|a| a.completion_tokens).sum();
    let report = |a: &Answer| {
        json!({
            "language": a.language, "blocking_findings": a.blocking_findings, "rules": a.rules,
            "parses": a.parses, "anrf_valid": a.anrf_valid, "anrf_source": a.anrf_source,
            "anrf_problems": a.anrf_problems, "attempts": a.attempts, "repair_rounds": a.repair_rounds,
            "rollbacks": a.rollbacks, "confidence": a.confidence, "generated_tokens": a.generated_tokens,
        })
    };
    if stream {
        let mut chunks = Vec::new();
        for (i, a) in answers.iter().enumerate() {
            let base = |delta: Value, finish: Value| {
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": m.id(),
                       "choices": [{"index": i, "delta": delta, "finish_reason": finish}]})
            };
            chunks.push(base(json!({"role": "assistant", "content": ""}), Value::Null));
            chunks.push(base(json!({"content": a.markdown_with_anrf()}), Value::Null));
            let mut last = base(json!({}), json!(a.finish_reason.as_str()));
            last["sbd"] = report(a);
            chunks.push(last);
        }
        return sse(chunks);
    }
    let choices: Vec<Value> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({"index": i, "message": {"role": "assistant", "content": a.markdown_with_anrf()},
                   "finish_reason": a.finish_reason.as_str(), "logprobs": null, "sbd": report(a)})
        })
        .collect();
    Json(json!({
        "id": id, "object": "chat.completion", "created": created, "model": m.id(),
        "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }))
    .into_response()
}

/// `POST /v1/completions`.
pub async fn completions(State(state): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let m = match model_of(&state) {
        Ok(m) => m,
        Err(e) => return e,
    };
    let req: CompletionRequest = match crate::api::body_json(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let (s, n) = match sampling(&req.common, &m) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let prompts: Vec<String> = match &req.prompt {
        Value::String(p) => vec![p.clone()],
        Value::Array(ps) if !ps.is_empty() && ps.len() <= MAX_CHOICES && ps.iter().all(Value::is_string) => {
            ps.iter().filter_map(|p| p.as_str().map(str::to_string)).collect()
        }
        _ => return bad("invalid_prompt", format!("prompt must be a string or a list of 1 to {MAX_CHOICES} strings")),
    };
    if prompts.len() * n > MAX_CHOICES {
        return bad("invalid_parameter", format!("prompts × n must be at most {MAX_CHOICES}"));
    }
    let stream = req.common.stream;
    let model = m.clone();
    let outs = generate(&state, move || {
        let mut out = Vec::new();
        for p in &prompts {
            for i in 0..n {
                let s = Sampling { seed: s.seed.wrapping_add(i as u64), ..s.clone() };
                out.push(model.complete(p, &s).map_err(|e| e.to_string())?);
            }
        }
        Ok(out)
    })
    .await;
    let outs = match outs {
        Ok(o) => o,
        Err(e) => return e,
    };
    let id = request_id("cmpl");
    let created = now_secs();
    if stream {
        let chunks = outs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                json!({"id": id, "object": "text_completion", "created": created, "model": m.id(),
                       "choices": [{"index": i, "text": c.text, "finish_reason": c.finish_reason.as_str(), "logprobs": null}]})
            })
            .collect();
        return sse(chunks);
    }
    let prompt_tokens: usize = outs.iter().step_by(n.max(1)).map(|c| c.prompt_tokens).sum();
    let completion_tokens: usize = outs.iter().map(|c| c.completion_tokens).sum();
    let choices: Vec<Value> = outs
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"index": i, "text": c.text, "finish_reason": c.finish_reason.as_str(), "logprobs": null}))
        .collect();
    Json(json!({
        "id": id, "object": "text_completion", "created": created, "model": m.id(), "choices": choices,
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }))
    .into_response()
}
