//! `sbd serve` — the verifier, the RL reward and the ANRF tools over HTTP.
//!
//! Large models are trained on distributed stacks (TRL, verl, OpenRLHF) that call a reward
//! function thousands of times per step, and production generation wants a verification gate
//! with monitoring. This crate serves both from one process:
//!
//! | endpoint | what it does |
//! |---|---|
//! | `POST /v1/verify` | code (+ language) → report: findings with explanations, facts, properties, overrides, the unit's ANRF; SARIF on request |
//! | `POST /v1/reward` | a batch of (prompt, completion, expectations) → one reward per item with its components ([`sbd_scan::reward`], formula v1) |
//! | `POST /v1/anrf/validate`, `POST /v1/anrf/migrate` | the `sbd anrf` commands |
//! | `POST /v1/monitor/events`, `GET /v1/monitor/summary` | production generations → compliance tracking in the history database |
//! | `GET /healthz`, `GET /metrics` | liveness; Prometheus metrics |
//!
//! Safety of the service itself: bearer-token auth (constant-time comparison; no auth only on
//! loopback and only when asked), request size and batch limits, a parse time budget per
//! item, bounded concurrency that answers 429 with `Retry-After` instead of queueing without
//! bound, graceful shutdown that finishes in-flight requests, and logs without code bodies.
//! Code is only ever parsed, never executed.
#![forbid(unsafe_code)]

mod api;
mod auth;
mod generation;
pub mod loadgen;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use sbd_eval::history::History;
use sbd_scan::Scanner;
use tokio::sync::Semaphore;

pub use api::{TestCase, run_tests, score, score_with_tests};
pub use auth::Tokens;

/// Errors starting the service.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    History(#[from] sbd_eval::history::HistoryError),
    #[error("building the verifier: {0}")]
    Scanner(#[from] sbd_scan::ScanError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// How the service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Accepted bearer tokens; `None` means no auth (allowed on loopback only).
    pub tokens: Option<Tokens>,
    /// The history database for monitoring (`None`: monitoring endpoints answer 503).
    pub db: Option<PathBuf>,
    /// Largest request body (default 4 MiB).
    pub max_body_bytes: usize,
    /// Most items in one `/v1/reward` or `/v1/monitor/events` batch (default 1024).
    pub max_batch: usize,
    /// Largest code of one item (default 512 KiB).
    pub max_item_bytes: usize,
    /// Parse time budget per item (default 2 s).
    pub item_budget: Duration,
    /// Requests handled at once; more get 429 (default 64).
    pub max_in_flight: usize,
    /// Whole-request time limit (default 30 s); a request over it gets 503.
    pub request_timeout: Duration,
    /// A model directory written by `sbd train`: served on the OpenAI-compatible generation
    /// endpoints (`/v1/models`, `/v1/chat/completions`, `/v1/completions`).
    pub model: Option<PathBuf>,
    /// Generations running at once; more get 429 (default 2).
    pub max_generations: usize,
}

impl Config {
    pub fn new(addr: SocketAddr) -> Config {
        Config {
            addr,
            tokens: None,
            db: None,
            max_body_bytes: 4 * 1024 * 1024,
            max_batch: 1024,
            max_item_bytes: 512 * 1024,
            item_budget: Duration::from_secs(2),
            max_in_flight: 64,
            request_timeout: Duration::from_secs(30),
            model: None,
            max_generations: 2,
        }
    }
}

/// What every handler shares.
pub(crate) struct AppState {
    pub config: Config,
    pub scanner: Scanner,
    pub history: Option<Mutex<History>>,
    pub permits: Arc<Semaphore>,
    pub metrics: metrics::Metrics,
    pub model: Option<Arc<sbd_model::local::LocalModel>>,
    pub gen_permits: Arc<Semaphore>,
}

/// Builds the router for a configuration (used by [`serve`] and by tests).
pub fn router(config: Config) -> Result<Router, ServeError> {
    if config.tokens.is_none() && !config.addr.ip().is_loopback() {
        return Err(ServeError::Config(format!(
            "refusing to serve without authentication on {}: give tokens (--tokens FILE or SBD_SERVE_TOKENS), or bind a loopback address",
            config.addr
        )));
    }
    let scanner = Scanner::builder()
        .limits(sbd_scan::Limits { max_bytes: config.max_item_bytes, parse_budget: config.item_budget })
        .build()?;
    let history = match &config.db {
        Some(p) => Some(Mutex::new(History::open(p)?)),
        None => None,
    };
    let model = match &config.model {
        Some(dir) => Some(Arc::new(sbd_model::local::LocalModel::load(dir).map_err(|e| {
            ServeError::Config(format!(
                "loading the model {}: {e} (give a directory written by `sbd train`)",
                dir.display()
            ))
        })?)),
        None => None,
    };
    let state = Arc::new(AppState {
        gen_permits: Arc::new(Semaphore::new(config.max_generations.max(1))),
        model,
        permits: Arc::new(Semaphore::new(config.max_in_flight)),
        config,
        scanner,
        history,
        metrics: metrics::Metrics::default(),
    });
    Ok(api::routes(state))
}

/// Serves until SIGINT/SIGTERM, then finishes in-flight requests and returns.
pub async fn serve(config: Config) -> Result<(), ServeError> {
    let addr = config.addr;
    let app = router(config)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "sbd serve listening");
    eprintln!("sbd serve: listening on http://{local}");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    eprintln!("sbd serve: stopped");
    Ok(())
}

/// A server running in this process (for benchmarks and tests).
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and waits for the server to end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.handle.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Starts the service on `config.addr` (port 0 picks a free port) inside the current runtime.
pub async fn start(config: Config) -> Result<Running, ServeError> {
    let addr = config.addr;
    let app = router(config)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running { addr, stop: Some(tx), handle })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    eprintln!("sbd serve: shutting down, finishing in-flight requests");
}
