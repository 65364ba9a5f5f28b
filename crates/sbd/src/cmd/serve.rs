//! `sbd serve` — the verifier, reward and ANRF tools as an HTTP service.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use sbd_serve::{Config, Tokens};

#[derive(Args)]
#[command(after_help = "Endpoints:
  POST /v1/verify            {code, language|path, sarif?, anrf?} -> report, unit ANRF, SARIF
  POST /v1/reward            {items: [{prompt?, completion, language, expectations?, explanation?, tests?}], weights?} -> rewards
  POST /v1/anrf/validate     ANRF instance -> {valid, violations}
  POST /v1/anrf/migrate      pre-1.1 instance -> {instance, inferred, remaining}
  POST /v1/monitor/events    {events: [{model?, language, completion, explanation?}]} (needs --db)
  GET  /v1/monitor/summary   compliance, override and explanation rates (needs --db)
  GET  /v1/models            the model of --model (OpenAI-compatible)
  POST /v1/chat/completions  OpenAI chat request (+ sbd: {verify, language, attempts, repair_rounds, anrf}) -> code, ANRF, explanation (needs --model)
  POST /v1/completions       OpenAI completion request (needs --model)
  GET  /healthz              liveness (no token needed)
  GET  /metrics              Prometheus metrics

Every endpoint but /healthz needs `Authorization: Bearer <token>`.")]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// File with accepted bearer tokens, one per line (at least 16 characters each).
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Serve without authentication (loopback addresses only).
    #[arg(long)]
    insecure_no_auth: bool,
    /// History database (SQLite) for the monitoring endpoints.
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Most items per reward or monitoring batch.
    #[arg(long, default_value_t = 1024)]
    max_batch: usize,
    /// Largest code of one item in bytes.
    #[arg(long, default_value_t = 512 * 1024)]
    max_item_bytes: usize,
    /// Parse time budget per item, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    item_budget_ms: u64,
    /// Requests handled at once; more are answered 429 with Retry-After.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Serve this model (a directory written by `sbd train`) on the OpenAI-compatible
    /// generation endpoints.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Generations running at once (each uses a core); more are answered 429.
    #[arg(long, default_value_t = 2)]
    max_generations: usize,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(args.addr);
    config.tokens = match (&args.tokens, std::env::var("SBD_SERVE_TOKENS").ok()) {
        (Some(file), _) => Some(Tokens::from_file(file).map_err(anyhow::Error::msg)?),
        (None, Some(env)) if !env.trim().is_empty() => {
            Some(Tokens::parse(&env).map_err(|e| anyhow::anyhow!("SBD_SERVE_TOKENS: {e}"))?)
        }
        _ if args.insecure_no_auth => None,
        _ => bail!(
            "no tokens: pass --tokens FILE or set SBD_SERVE_TOKENS (comma-separated); --insecure-no-auth serves without auth on loopback only"
        ),
    };
    if config.tokens.is_some() && args.insecure_no_auth {
        bail!("--insecure-no-auth contradicts the tokens given; drop one");
    }
    config.db = args.db;
    config.max_body_bytes = args.max_body_bytes;
    config.max_batch = args.max_batch;
    config.max_item_bytes = args.max_item_bytes;
    config.item_budget = Duration::from_millis(args.item_budget_ms);
    config.max_in_flight = args.max_in_flight.max(1);
    config.model = args.model;
    config.max_generations = args.max_generations.max(1);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(t) = args.threads {
        rt.worker_threads(t.max(1));
    }
    let rt = rt.enable_all().build().context("starting the async runtime")?;
    rt.block_on(sbd_serve::serve(config))?;
    Ok(ExitCode::SUCCESS)
}
