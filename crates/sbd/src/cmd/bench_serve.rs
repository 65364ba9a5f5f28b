//! `sbd bench serve` — the service under load on loopback: throughput, latency percentiles,
//! errors, a flood beyond capacity, and memory over a soak.
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sbd_serve::loadgen::{self, LoadResult, LoadSpec};
use sbd_serve::{Config, Tokens};

#[derive(Args)]
pub struct BenchServeArgs {
    /// Requests per endpoint run.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Soak: keep /v1/verify under load this many seconds and print memory every 30 s.
    #[arg(long, default_value_t = 0)]
    soak_seconds: u64,
    /// Server worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// A realistic 1 KB Python snippet: a request handler with one injection and safe code.
pub fn snippet_1k() -> String {
    let mut s = String::from(
        "import subprocess\nimport hashlib\nfrom flask import request\n\n\ndef archive(name):\n    \
         path = request.args.get(\"path\")\n    subprocess.run([\"tar\", \"czf\", name + \".tgz\", path], check=True)\n    \
         digest = hashlib.sha256(open(name + \".tgz\", \"rb\").read()).hexdigest()\n    return digest\n\n\n\
         def lookup(db, user_id):\n    cur = db.cursor()\n    cur.execute(\"SELECT name FROM users WHERE id = %s\", (user_id,))\n    \
         return cur.fetchone()\n\n\ndef run(cmd):\n    import os\n    os.system(\"echo \" + request.args.get(\"q\"))\n",
    );
    let mut i = 0;
    while s.len() < 1024 {
        s.push_str(&format!("\n\ndef helper_{i}(xs):\n    return [x * 2 for x in xs if x > {i}]\n"));
        i += 1;
    }
    s.truncate(1024);
    while !s.ends_with('\n') {
        s.pop();
    }
    s
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn row(name: &str, conns: usize, r: &LoadResult) -> String {
    format!(
        "{name:<28} {:>8} {conns:>5} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7}",
        r.requests,
        r.rps(),
        r.percentile(0.50),
        r.percentile(0.99),
        r.latencies_ms.last().copied().unwrap_or(0.0),
        r.errors() - r.count(429),
        r.count(429)
    )
}

pub fn run(args: BenchServeArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("runtime")?;
    rt.block_on(async move {
        let token = "bench-token-0123456789abcdef".to_string();
        let mut config = Config::new("127.0.0.1:0".parse().expect("loopback address"));
        config.tokens = Some(Tokens::parse(&token).map_err(anyhow::Error::msg)?);
        let server = sbd_serve::start(config).await?;
        let addr = server.addr;
        let code = snippet_1k();
        let verify_body = serde_json::json!({"code": code, "language": "python", "anrf": false}).to_string().into_bytes();
        let verify_anrf_body = serde_json::json!({"code": code, "language": "python"}).to_string().into_bytes();
        let item = serde_json::json!({"completion": code, "language": "python", "expectations": {"cwe": 78, "explanation_expected": true}});
        let reward_body = serde_json::json!({"items": vec![item; 8]}).to_string().into_bytes();
        let spec = |path: &str, body: Vec<u8>, requests: usize| LoadSpec {
            addr,
            method: "POST",
            path: path.into(),
            body,
            token: Some(token.clone()),
            connections: args.connections,
            requests,
            timeout: Duration::from_secs(30),
        };
        let rss_start = rss_kib();
        println!("sbd bench serve: loopback {addr}, {} cores, 1 KB Python snippet ({} bytes)", std::thread::available_parallelism().map_or(1, |n| n.get()), code.len());
        println!("{:<28} {:>8} {:>5} {:>10} {:>8} {:>8} {:>8} {:>7} {:>7}", "endpoint", "requests", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "429s");
        // Warm-up.
        let _ = loadgen::run(spec("/v1/verify", verify_body.clone(), 500)).await;
        let r = loadgen::run(spec("/v1/verify", verify_body.clone(), args.requests)).await;
        println!("{}", row("POST /v1/verify", args.connections, &r));
        let r = loadgen::run(spec("/v1/verify", verify_anrf_body, args.requests / 2)).await;
        println!("{}", row("POST /v1/verify (+ANRF)", args.connections, &r));
        let r = loadgen::run(spec("/v1/reward", reward_body, args.requests / 8)).await;
        println!("{}", row("POST /v1/reward (8/batch)", args.connections, &r));
        println!("  reward items/s: {:.0}", r.rps() * 8.0);
        server.stop().await?;

        // Flood beyond capacity: few permits, heavy batches, many connections; /healthz probed meanwhile.
        let mut flood_cfg = Config::new("127.0.0.1:0".parse().expect("loopback address"));
        flood_cfg.tokens = Some(Tokens::parse(&token).map_err(anyhow::Error::msg)?);
        flood_cfg.max_in_flight = 4;
        let flood_server = sbd_serve::start(flood_cfg).await?;
        let fa = flood_server.addr;
        let heavy = serde_json::json!({"completion": code.repeat(16), "language": "python"});
        let heavy_body = serde_json::json!({"items": vec![heavy; 32]}).to_string().into_bytes();
        let mut flood = spec("/v1/reward", heavy_body, 2000);
        flood.addr = fa;
        flood.connections = 64;
        let health = LoadSpec { addr: fa, method: "GET", path: "/healthz".into(), body: vec![], token: None, connections: 1, requests: 200, timeout: Duration::from_secs(5) };
        let (f, h) = tokio::join!(loadgen::run(flood), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            loadgen::run(health).await
        });
        println!("{}", row("flood /v1/reward (cap 4)", 64, &f));
        println!("{}", row("GET /healthz during flood", 1, &h));
        println!("  flood responses by status: {:?}, transport errors {}", f.status, f.transport_errors);
        flood_server.stop().await?;

        let rss_end = rss_kib();
        if let (Some(a), Some(b)) = (rss_start, rss_end) {
            println!("process RSS: {:.1} MiB at start, {:.1} MiB after the runs", a as f64 / 1024.0, b as f64 / 1024.0);
        }

        if args.soak_seconds > 0 {
            let mut soak_cfg = Config::new("127.0.0.1:0".parse().expect("loopback address"));
            soak_cfg.tokens = Some(Tokens::parse(&token).map_err(anyhow::Error::msg)?);
            let soak_server = sbd_serve::start(soak_cfg).await?;
            let start = Instant::now();
            println!("soak: /v1/verify for {} s, RSS every 30 s", args.soak_seconds);
            let mut total = 0usize;
            let mut errors = 0usize;
            while start.elapsed() < Duration::from_secs(args.soak_seconds) {
                let mut s = spec("/v1/verify", verify_body.clone(), 10_000);
                s.addr = soak_server.addr;
                let t = Instant::now();
                let mut r = LoadResult::default();
                while t.elapsed() < Duration::from_secs(30) && start.elapsed() < Duration::from_secs(args.soak_seconds) {
                    let part = loadgen::run(s.clone()).await;
                    r.requests += part.requests;
                    errors += part.errors();
                }
                total += r.requests;
                println!("  t={:>4.0}s  requests {total:>9}  errors {errors}  RSS {:.1} MiB", start.elapsed().as_secs_f64(), rss_kib().unwrap_or(0) as f64 / 1024.0);
            }
            soak_server.stop().await?;
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
