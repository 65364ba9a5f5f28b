//! The OpenAI-compatible backend against a real HTTP server in the test that follows the
//! chat-completions contract: JSON and streamed (SSE) answers, authentication errors,
//! timeouts, 500s and 429 with Retry-After, the response cache.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sbd_eval::backend::openai::{Api, OpenAi, OpenAiConfig};
use serde_json::{Value, json};

#[derive(Default)]
struct Counters {
    calls: AtomicUsize,
    flaky: AtomicUsize,
}

fn answer(model: &str, prompt: &str) -> String {
    format!("[{model}] {}", prompt.chars().rev().take(12).collect::<String>())
}

async fn chat(State(c): State<Arc<Counters>>, headers: HeaderMap, body: Bytes) -> Response {
    c.calls.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|h| h.to_str().ok()) != Some("Bearer sk-test") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": "invalid api key", "type": "auth"}})),
        )
            .into_response();
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "bad json").into_response();
    };
    let model = req["model"].as_str().unwrap_or("").to_string();
    let prompt = req["messages"][1]["content"].as_str().or(req["prompt"].as_str()).unwrap_or("").to_string();
    match model.as_str() {
        "slow" => tokio::time::sleep(Duration::from_secs(3)).await,
        "broken" => return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        "limited" if c.flaky.fetch_add(1, Ordering::SeqCst) < 2 => {
            return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "slow down").into_response();
        }
        "bad" => {
            return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"message": "unknown model bad"}})))
                .into_response();
        }
        _ => {}
    }
    let text = answer(&model, &prompt);
    if req["stream"].as_bool() == Some(true) {
        let mut sse = String::new();
        for piece in text.as_bytes().chunks(5) {
            let p = String::from_utf8_lossy(piece);
            let event = if req.get("messages").is_some() {
                json!({"choices": [{"index": 0, "delta": {"content": p}}]})
            } else {
                json!({"choices": [{"index": 0, "text": p}]})
            };
            sse.push_str(&format!("data: {event}\n\n"));
        }
        sse.push_str("data: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], sse).into_response();
    }
    if req.get("messages").is_some() {
        axum::Json(json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}))
            .into_response()
    } else {
        axum::Json(json!({"id": "x", "object": "text_completion", "choices": [{"index": 0, "text": text}]}))
            .into_response()
    }
}

fn server() -> (String, Arc<Counters>) {
    let counters = Arc::new(Counters::default());
    let c = counters.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/v1/chat/completions", post(chat))
                .route("/v1/completions", post(chat))
                .with_state(c);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}/v1"), counters)
}

fn client(base: &str, model: &str) -> OpenAiConfig {
    let mut cfg = OpenAiConfig::new(base, model);
    cfg.api_key = Some("sk-test".into());
    cfg.timeout = Duration::from_secs(1);
    cfg.max_retries = 2;
    cfg.backoff = Duration::from_millis(10);
    cfg
}

#[test]
fn chat_json_and_streaming_and_completions() {
    let (base, _) = server();
    let plain = OpenAi::new(client(&base, "m1"));
    assert_eq!(plain.complete_prompt("hello world").unwrap(), answer("m1", "hello world"));
    let mut cfg = client(&base, "m1");
    cfg.stream = true;
    assert_eq!(
        OpenAi::new(cfg).complete_prompt("a longer prompt to stream").unwrap(),
        answer("m1", "a longer prompt to stream")
    );
    let mut cfg = client(&base, "m2");
    cfg.api = Api::Completions;
    assert_eq!(OpenAi::new(cfg.clone()).complete_prompt("int main(").unwrap(), answer("m2", "int main("));
    cfg.stream = true;
    assert_eq!(OpenAi::new(cfg).complete_prompt("int main(").unwrap(), answer("m2", "int main("));
}

#[test]
fn errors_timeouts_and_rate_limits() {
    let (base, counters) = server();
    // Wrong key: a 4xx fails at once with the server's message, no retries.
    let mut cfg = client(&base, "m");
    cfg.api_key = Some("wrong".into());
    let before = counters.calls.load(Ordering::SeqCst);
    let e = OpenAi::new(cfg).complete_prompt("x").unwrap_err().to_string();
    assert!(e.contains("401") && e.contains("invalid api key"), "{e}");
    assert_eq!(counters.calls.load(Ordering::SeqCst) - before, 1);
    let e = OpenAi::new(client(&base, "bad")).complete_prompt("x").unwrap_err().to_string();
    assert!(e.contains("unknown model bad"), "{e}");
    // 500: retried, then given up.
    let before = counters.calls.load(Ordering::SeqCst);
    let e = OpenAi::new(client(&base, "broken")).complete_prompt("x").unwrap_err().to_string();
    assert!(e.contains("gave up after 3 attempts") && e.contains("500"), "{e}");
    assert_eq!(counters.calls.load(Ordering::SeqCst) - before, 3);
    // Timeout: the server sleeps 3 s, the client waits 1 s per attempt.
    let t = Instant::now();
    let e = OpenAi::new(client(&base, "slow")).complete_prompt("x").unwrap_err().to_string();
    assert!(e.contains("gave up"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    // 429 twice with Retry-After: 1, then an answer: the client waited about 2 s.
    let t = Instant::now();
    let ok = OpenAi::new(client(&base, "limited")).complete_prompt("abc").unwrap();
    assert_eq!(ok, answer("limited", "abc"));
    assert!(t.elapsed() >= Duration::from_millis(1900), "{:?}", t.elapsed());
}

#[test]
fn cache_answers_repeated_requests() {
    let (base, counters) = server();
    let dir = std::env::temp_dir().join(format!("sbd-openai-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = client(&base, "m");
    cfg.cache_dir = Some(dir.clone());
    let a = OpenAi::new(cfg.clone()).complete_prompt("cache me").unwrap();
    let n = counters.calls.load(Ordering::SeqCst);
    let b = OpenAi::new(cfg.clone()).complete_prompt("cache me").unwrap();
    assert_eq!(a, b);
    assert_eq!(counters.calls.load(Ordering::SeqCst), n, "second request served from the cache");
    OpenAi::new(cfg).complete_prompt("another").unwrap();
    assert_eq!(counters.calls.load(Ordering::SeqCst), n + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
