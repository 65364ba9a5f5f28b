//! Routes, middleware and handlers.
// Handlers return a ready `Response` as the error of their helpers (the axum idiom); boxing it
// would only add an allocation per rejected request.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sbd_scan::reward::{self, Expectations, Weights};
use sbd_scan::{Language, Report, Severity};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;

type Shared = Arc<AppState>;

pub fn routes(state: Shared) -> Router {
    let limit = state.config.max_body_bytes;
    let api = Router::new()
        .route("/v1/verify", post(verify))
        .route("/v1/reward", post(reward_batch))
        .route("/v1/anrf/validate", post(anrf_validate))
        .route("/v1/anrf/migrate", post(anrf_migrate))
        .route("/v1/monitor/events", post(monitor_events))
        .route("/v1/monitor/summary", get(monitor_summary))
        .route("/metrics", get(metrics))
        .route("/v1/models", get(crate::generation::models))
        .route("/v1/chat/completions", post(crate::generation::chat))
        .route("/v1/completions", post(crate::generation::completions))
        .layer(middleware::from_fn_with_state(state.clone(), limit_concurrency))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// A JSON error body: `{"error": {"code": …, "message": …}}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see the API list in `sbd serve --help`")
}

/// Logs (without bodies) and records metrics for every request.
async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint =
        req.extensions().get::<MatchedPath>().map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let response = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.request(&endpoint, status, secs);
    tracing::info!(%method, endpoint, status, ms = secs * 1000.0, "request");
    response
}

async fn authenticate(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(tokens) = &state.config.tokens {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        match presented {
            Some(t) if tokens.accepts(t.as_bytes()) => {}
            Some(_) => {
                state.metrics.rejected("auth");
                return with_header(
                    error(StatusCode::UNAUTHORIZED, "unauthorized", "the bearer token is not accepted"),
                    header::WWW_AUTHENTICATE,
                    "Bearer",
                );
            }
            None => {
                state.metrics.rejected("auth");
                return with_header(
                    error(StatusCode::UNAUTHORIZED, "unauthorized", "send `Authorization: Bearer <token>`"),
                    header::WWW_AUTHENTICATE,
                    "Bearer",
                );
            }
        }
    }
    next.run(req).await
}

fn with_header(mut r: Response, name: header::HeaderName, value: &'static str) -> Response {
    r.headers_mut().insert(name, HeaderValue::from_static(value));
    r
}

/// Bounded concurrency: beyond `max_in_flight` requests, answer 429 at once.
async fn limit_concurrency(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let Ok(_permit) = state.permits.clone().try_acquire_owned() else {
        state.metrics.rejected("overload");
        // Read the (size-limited) body first, for at most a second: a response sent before the
        // body was read makes the connection unusable, so a keep-alive client would see a reset
        // instead of the 429 and have to reconnect for its retry.
        let limit = state.config.max_body_bytes;
        let _ = tokio::time::timeout(Duration::from_secs(1), axum::body::to_bytes(req.into_body(), limit)).await;
        return with_header(
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "overloaded",
                "too many requests in flight; retry after the given delay",
            ),
            header::RETRY_AFTER,
            "1",
        );
    };
    match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => {
            state.metrics.rejected("timeout");
            error(StatusCode::SERVICE_UNAVAILABLE, "timeout", "the request took longer than the server's limit")
        }
    }
}

pub(crate) fn body_json<T: for<'de> Deserialize<'de>>(body: Result<Bytes, BytesRejection>) -> Result<T, Response> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            error(status, "body_too_large", "the request body is larger than the server's limit")
        } else {
            error(status, "bad_body", e.body_text())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        error(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not the expected JSON: {e}"))
    })
}

fn language(name: Option<&str>, path: Option<&str>, what: &str) -> Result<Language, Response> {
    match (name, path) {
        (Some(n), _) => n
            .parse::<Language>()
            .map_err(|e| error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_language", format!("{what}: {e}"))),
        (None, Some(p)) => Language::detect(std::path::Path::new(p), None).ok_or_else(|| {
            error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_language",
                format!("{what}: cannot tell the language of `{p}`; send `language`"),
            )
        }),
        (None, None) => Err(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_language",
            format!("{what}: send `language` (e.g. \"python\")"),
        )),
    }
}

fn check_size(state: &AppState, code: &str, what: &str) -> Result<(), Response> {
    if code.len() > state.config.max_item_bytes {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "item_too_large",
            format!("{what}: {} bytes of code is over the limit of {}", code.len(), state.config.max_item_bytes),
        ));
    }
    Ok(())
}

/// Runs CPU work inline when small, on the blocking pool when large (so big batches do not
/// stall the event loop).
async fn compute<T: Send + 'static>(heavy: bool, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    if heavy {
        tokio::task::spawn_blocking(f).await.map_err(|_| {
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "a worker failed; the request was not processed")
        })
    } else {
        Ok(f())
    }
}

async fn healthz(State(state): State<Shared>) -> Response {
    let in_flight = state.config.max_in_flight - state.permits.available_permits();
    Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "in_flight": in_flight})).into_response()
}

async fn metrics(State(state): State<Shared>) -> Response {
    let in_flight = state.config.max_in_flight - state.permits.available_permits();
    let mut r = state.metrics.render(in_flight).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    r
}

#[derive(Deserialize)]
struct VerifyRequest {
    code: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    path: Option<String>,
    /// Include the SARIF 2.1.0 log.
    #[serde(default)]
    sarif: bool,
    /// Include the unit's ANRF instance (default true).
    #[serde(default = "yes")]
    anrf: bool,
}

fn yes() -> bool {
    true
}

async fn verify(State(state): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let req: VerifyRequest = match body_json(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let lang = match language(req.language.as_deref(), req.path.as_deref(), "verify") {
        Ok(l) => l,
        Err(e) => return e,
    };
    if let Err(e) = check_size(&state, &req.code, "verify") {
        return e;
    }
    let heavy = req.code.len() > 64 * 1024;
    let st = state.clone();
    let result = compute(heavy, move || {
        let report = st.scanner.scan_path(&req.code, lang, req.path.as_deref());
        st.metrics.report(&report);
        let anrf = req.anrf.then(|| {
            let (instance, verdict) = sbd_scan::anrf::unit_anrf_validated(&report, &sbd_anrf::time::now_rfc3339());
            json!({"instance": instance, "valid": verdict.is_valid(), "violations": verdict.violations})
        });
        let sarif = req.sarif.then(|| sbd_scan::output::sarif(std::slice::from_ref(&report), st.scanner.rules()));
        // Serialised straight from the report (no intermediate JSON tree): this is the hot path.
        serde_json::to_vec(&VerifyResponse { report: &report, anrf, sarif })
    })
    .await;
    match result {
        Ok(Ok(bytes)) => {
            ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], bytes).into_response()
        }
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("serialising the report: {e}")),
        Err(e) => e,
    }
}

#[derive(serde::Serialize)]
struct VerifyResponse<'a> {
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    anrf: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sarif: Option<Value>,
}

/// One functional test of an answer, run in `sbd-sandbox` (the fields of a test in
/// `POST /v1/reward` items).
pub use sbd_sandbox::runner::TestCase;

/// Most tests per item, and per request.
const MAX_TESTS_PER_ITEM: usize = 16;
const MAX_TESTS_PER_REQUEST: usize = 64;

/// Runs the tests of one completion's code in the sandbox; a test passes when the run's
/// verdict is `passed` (built, no checker finding, within limits, expected output).
pub fn run_tests(code: &str, lang: Language, tests: &[TestCase]) -> Result<sbd_scan::reward::TestOutcome, String> {
    let sl = sbd_sandbox::runner::Language::from_name(lang.name())
        .ok_or_else(|| format!("tests are run for c, cpp, rust, python, javascript and java, not {}", lang.name()))?;
    let passed = sbd_sandbox::runner::passed_tests(sl, code, tests).map_err(|e| format!("sandbox: {e}"))?;
    Ok(sbd_scan::reward::TestOutcome { passed, total: tests.len() })
}

#[derive(Deserialize)]
struct RewardItem {
    #[serde(default)]
    #[allow(dead_code)]
    prompt: Option<String>,
    completion: String,
    language: String,
    #[serde(default)]
    expectations: Expectations,
    /// The answer's explanation; when absent, the prose outside code fences.
    #[serde(default)]
    explanation: Option<String>,
    /// Functional tests, run in the sandbox (c, cpp, rust, python, javascript, java).
    #[serde(default)]
    tests: Vec<TestCase>,
}

#[derive(Deserialize)]
struct RewardRequest {
    items: Vec<RewardItem>,
    #[serde(default)]
    weights: Option<Weights>,
}

/// Scores one completion exactly as the RL trainer does.
pub fn score(
    scanner: &sbd_scan::Scanner,
    item_completion: &str,
    lang: Language,
    expect: &Expectations,
    explanation: Option<&str>,
    w: &Weights,
) -> (reward::Reward, Report) {
    let (code, prose) = reward::split_completion(item_completion);
    let report = scanner.scan(&code, lang);
    let expl = explanation.or(prose.as_deref());
    (reward::reward(&report, expect, expl, None, w), report)
}

/// Scores one completion, running its functional tests in the sandbox when there are any.
pub fn score_with_tests(
    scanner: &sbd_scan::Scanner,
    item_completion: &str,
    lang: Language,
    expect: &Expectations,
    explanation: Option<&str>,
    tests: &[TestCase],
    w: &Weights,
) -> Result<(reward::Reward, Report), String> {
    let (code, prose) = reward::split_completion(item_completion);
    let report = scanner.scan(&code, lang);
    let expl = explanation.or(prose.as_deref());
    let outcome = if tests.is_empty() { None } else { Some(run_tests(&code, lang, tests)?) };
    Ok((reward::reward(&report, expect, expl, outcome, w), report))
}

async fn reward_batch(State(state): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let req: RewardRequest = match body_json(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if req.items.is_empty() {
        return error(StatusCode::BAD_REQUEST, "empty_batch", "`items` is empty");
    }
    if req.items.len() > state.config.max_batch {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{} items is over the batch limit of {}; split the batch", req.items.len(), state.config.max_batch),
        );
    }
    let mut langs = Vec::with_capacity(req.items.len());
    let mut total_tests = 0;
    for (i, it) in req.items.iter().enumerate() {
        match language(Some(&it.language), None, &format!("items[{i}]")) {
            Ok(l) => {
                if !it.tests.is_empty() && sbd_sandbox::runner::Language::from_name(l.name()).is_none() {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "tests_unsupported",
                        format!(
                            "items[{i}]: tests run for c, cpp, rust, python, javascript and java, not {}",
                            l.name()
                        ),
                    );
                }
                langs.push(l)
            }
            Err(e) => return e,
        }
        if let Err(e) = check_size(&state, &it.completion, &format!("items[{i}]")) {
            return e;
        }
        if it.tests.len() > MAX_TESTS_PER_ITEM {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_tests",
                format!("items[{i}]: {} tests is over the limit of {MAX_TESTS_PER_ITEM}", it.tests.len()),
            );
        }
        total_tests += it.tests.len();
    }
    if total_tests > MAX_TESTS_PER_REQUEST {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_tests",
            format!("{total_tests} tests in one request is over the limit of {MAX_TESTS_PER_REQUEST}"),
        );
    }
    let weights = req.weights.unwrap_or_default();
    let heavy = total_tests > 0
        || req.items.len() > 4
        || req.items.iter().map(|i| i.completion.len()).sum::<usize>() > 64 * 1024;
    let st = state.clone();
    let result = compute(heavy, move || {
        let mut rewards = Vec::with_capacity(req.items.len());
        for (i, (it, lang)) in req.items.iter().zip(&langs).enumerate() {
            let scored = score_with_tests(
                &st.scanner,
                &it.completion,
                *lang,
                &it.expectations,
                it.explanation.as_deref(),
                &it.tests,
                &weights,
            );
            match scored {
                Ok((r, report)) => {
                    st.metrics.report(&report);
                    st.metrics.reward(r.reward);
                    rewards.push(r);
                }
                Err(e) => return Err(format!("items[{i}]: {e}")),
            }
        }
        Ok(json!({"version": reward::REWARD_VERSION, "rewards": rewards}))
    })
    .await;
    match result {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "tests_failed_to_run", e),
        Err(e) => e,
    }
}

fn instance_from(body: Result<Bytes, BytesRejection>) -> Result<Value, Response> {
    let bytes = body.map_err(|e| error(e.status(), "bad_body", e.body_text()))?;
    sbd_anrf::input::parse_json(&bytes, &sbd_anrf::input::Limits::default())
        .map_err(|e| error(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))
}

async fn anrf_validate(body: Result<Bytes, BytesRejection>) -> Response {
    match instance_from(body) {
        Ok(v) => {
            let report = sbd_anrf::validate(&v);
            Json(json!({"valid": report.is_valid(), "violations": report.violations})).into_response()
        }
        Err(e) => e,
    }
}

async fn anrf_migrate(body: Result<Bytes, BytesRejection>) -> Response {
    let v = match instance_from(body) {
        Ok(v) => v,
        Err(e) => return e,
    };
    match sbd_anrf::migrate(v, &sbd_anrf::MigrateOptions::default()) {
        Ok(m) => Json(json!({
            "instance": m.instance, "from_version": m.from_version, "changed": m.changed,
            "inferred": m.inferred, "valid": m.remaining.is_valid(), "remaining": m.remaining.violations,
        }))
        .into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, "cannot_migrate", e.to_string()),
    }
}

#[derive(Deserialize)]
struct MonitorEventIn {
    #[serde(default)]
    model: Option<String>,
    language: String,
    /// The generated answer (code, optionally in fences with prose).
    completion: String,
    #[serde(default)]
    explanation: Option<String>,
}

#[derive(Deserialize)]
struct MonitorRequest {
    events: Vec<MonitorEventIn>,
}

async fn monitor_events(State(state): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    if state.history.is_none() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_database",
            "monitoring needs a history database: start with --db FILE",
        );
    }
    let req: MonitorRequest = match body_json(body) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if req.events.len() > state.config.max_batch {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("over the batch limit of {}", state.config.max_batch),
        );
    }
    let mut langs = Vec::new();
    for (i, ev) in req.events.iter().enumerate() {
        match language(Some(&ev.language), None, &format!("events[{i}]")) {
            Ok(l) => langs.push(l),
            Err(e) => return e,
        }
        if let Err(e) = check_size(&state, &ev.completion, &format!("events[{i}]")) {
            return e;
        }
    }
    let st = state.clone();
    let result = compute(true, move || {
        let now = sbd_anrf::time::now_rfc3339();
        let expect = Expectations { explanation_expected: true, ..Expectations::default() };
        let events: Vec<sbd_eval::history::MonitorEvent> = req
            .events
            .iter()
            .zip(&langs)
            .map(|(ev, lang)| {
                let (r, report) =
                    score(&st.scanner, &ev.completion, *lang, &expect, ev.explanation.as_deref(), &Weights::default());
                st.metrics.report(&report);
                let (_, prose) = reward::split_completion(&ev.completion);
                sbd_eval::history::MonitorEvent {
                    received_at: now.clone(),
                    model: ev.model.clone(),
                    language: lang.name().to_string(),
                    compliant: !report.findings.iter().any(|f| f.severity >= Severity::Medium),
                    override_status: serde_json::to_value(report.properties.override_status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_else(|| "none".into()),
                    has_explanation: ev.explanation.is_some() || prose.is_some(),
                    explanation_names_weakness: r.explanation.is_some_and(|e| e > 0.0) && !report.findings.is_empty(),
                    findings: report.findings.iter().map(|f| (f.rule.clone(), f.severity.name().to_string())).collect(),
                }
            })
            .collect();
        let compliant = events.iter().filter(|e| e.compliant).count();
        let stored = match &st.history {
            Some(h) => match h.lock() {
                Ok(mut db) => db.add_monitor_events(&events).map_err(|e| e.to_string()),
                Err(_) => Err("the database lock is poisoned".to_string()),
            },
            None => Err("no database".into()),
        };
        stored.map(|()| json!({"stored": events.len(), "compliant": compliant}))
    })
    .await;
    match result {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, "database", e),
        Err(e) => e,
    }
}

async fn monitor_summary(State(state): State<Shared>) -> Response {
    let Some(h) = &state.history else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_database",
            "monitoring needs a history database: start with --db FILE",
        );
    };
    let summary = match h.lock() {
        Ok(db) => db.monitor_summary().map_err(|e| e.to_string()),
        Err(_) => Err("the database lock is poisoned".into()),
    };
    match summary {
        Ok(s) => Json(s).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "database", e),
    }
}
