//! `sbd bench serve` — the service under load on loopback: throughput, latency percentiles,
//! errors, a flood beyond capacity, and memory over a soak.
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use sbd_serve::loadgen::{self, LoadResult, LoadSpec};

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
    /// Threads of the load generator (it shares the machine with the server).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
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
    // Whole helper functions up to 1 KB: the snippet stays valid Python.
    for i in 0.. {
        let helper = format!("\n\ndef helper_{i}(xs):\n    return [x * 2 for x in xs if x > {i}]\n");
        if s.len() + helper.len() > 1024 {
            break;
        }
        s.push_str(&helper);
    }
    s
}

fn rss_kib() -> Option<u64> {
    proc_rss_kib("self")
}

fn proc_rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of a process so far (`/proc/PID/stat`, clock ticks at 100 Hz,
/// the Linux ABI value of `USER_HZ`).
fn proc_cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// `sbd serve` in a child process, so that its CPU time and memory are measured apart from the
/// load generator's.
struct Child {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Child {
    fn start(token: &str, threads: Option<usize>, max_in_flight: usize) -> anyhow::Result<Child> {
        use std::io::BufRead;
        let exe = std::env::current_exe().context("locating the sbd binary")?;
        let mut cmd = std::process::Command::new(exe);
        cmd.args(["-q", "serve", "--addr", "127.0.0.1:0", "--max-in-flight", &max_in_flight.to_string()])
            .env("SBD_SERVE_TOKENS", token)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(t) = threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        let mut child = cmd.spawn().context("starting `sbd serve`")?;
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = std::io::BufReader::new(stderr).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                anyhow::bail!("`sbd serve` exited before it listened");
            };
            let line = line.context("reading the server's stderr")?;
            if let Some(a) = line.split("http://").nth(1) {
                break a.trim().parse().with_context(|| format!("server address in {line:?}"))?;
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Child { child, addr })
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU seconds (server, load generator) spent on a run.
type RunCpu = (Option<f64>, Option<f64>);

fn row(name: &str, conns: usize, r: &LoadResult, cpu: RunCpu) -> String {
    let us =
        |c: Option<f64>| c.map_or_else(|| "-".to_string(), |c| format!("{:.0}", c * 1e6 / r.requests.max(1) as f64));
    let (per_req, client) = (us(cpu.0), us(cpu.1));
    format!(
        "{name:<28} {:>8} {conns:>5} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7} {per_req:>12} {client:>12}",
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
    // The load generator runs on a small runtime of its own; the server is a child process.
    let client_threads = args.client_threads.max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads)
        .enable_all()
        .build()
        .context("runtime")?;
    let token = "bench-token-0123456789abcdef".to_string();
    let server = Child::start(&token, args.threads, 64)?;
    let pid = server.pid();
    let addr = server.addr;
    rt.block_on(async move {
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
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!(
            "sbd bench serve: `sbd serve` in a child process on {addr}, load generator in this process ({client_threads} thread(s)), {cpus} cores, 1 KB Python snippet ({} bytes)",
            code.len()
        );
        println!("{}", super::bench::reference_line("before"));
        println!(
            "{:<28} {:>8} {:>5} {:>10} {:>8} {:>8} {:>8} {:>7} {:>7} {:>12} {:>12}",
            "endpoint", "requests", "conns", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "429s", "server µs/req", "client µs/req"
        );
        // CPU of the server and of this process (the load generator) so far.
        let cpu_now = || (proc_cpu_secs(&pid), proc_cpu_secs("self"));
        let measured = |r: LoadResult, before: RunCpu| {
            let after = cpu_now();
            let d = |b: Option<f64>, a: Option<f64>| b.zip(a).map(|(b, a)| a - b);
            (r, (d(before.0, after.0), d(before.1, after.1)))
        };
        // Warm-up.
        let _ = loadgen::run(spec("/v1/verify", verify_body.clone(), 500)).await;
        let rss_start = proc_rss_kib(&pid);
        let c0 = cpu_now();
        let (r, cpu) = measured(loadgen::run(spec("/v1/verify", verify_body.clone(), args.requests)).await, c0);
        println!("{}", row("POST /v1/verify", args.connections, &r, cpu));
        let c0 = cpu_now();
        let (r, cpu) = measured(loadgen::run(spec("/v1/verify", verify_anrf_body, args.requests / 2)).await, c0);
        println!("{}", row("POST /v1/verify (+ANRF)", args.connections, &r, cpu));
        let c0 = cpu_now();
        let (r, cpu) = measured(loadgen::run(spec("/v1/reward", reward_body, args.requests / 8)).await, c0);
        println!("{}", row("POST /v1/reward (8/batch)", args.connections, &r, cpu));
        println!("  reward items/s: {:.0}", r.rps() * 8.0);
        if let Some(c) = cpu.0.filter(|c| *c > 0.0) {
            println!("  reward: server CPU {:.0} µs per item", c * 1e6 / (r.requests.max(1) * 8) as f64);
        }
        let rss_after = proc_rss_kib(&pid);
        drop(server);

        // Flood beyond capacity: few permits, heavy batches, many connections; /healthz probed meanwhile.
        let flood_server = Child::start(&token, args.threads, 4)?;
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
        println!("{}", row("flood /v1/reward (cap 4)", 64, &f, (None, None)));
        println!("{}", row("GET /healthz during flood", 1, &h, (None, None)));
        println!("  flood responses by status: {:?}, transport errors {}", f.status, f.transport_errors);
        println!("  flood server RSS: {:.1} MiB", proc_rss_kib(&flood_server.pid()).unwrap_or(0) as f64 / 1024.0);
        drop(flood_server);
        if let (Some(a), Some(b)) = (rss_start, rss_after) {
            println!("server RSS: {:.1} MiB after warm-up, {:.1} MiB after the runs", a as f64 / 1024.0, b as f64 / 1024.0);
        }
        println!("load generator RSS: {:.1} MiB", rss_kib().unwrap_or(0) as f64 / 1024.0);
        println!("{}", super::bench::reference_line("after"));

        if args.soak_seconds > 0 {
            let soak_server = Child::start(&token, args.threads, 64)?;
            let spid = soak_server.pid();
            let start = Instant::now();
            println!("soak: /v1/verify for {} s, server RSS every 30 s", args.soak_seconds);
            let mut total = 0usize;
            let mut errors = 0usize;
            let mut first_rss = None;
            let mut max_rss = 0u64;
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
                let rss = proc_rss_kib(&spid).unwrap_or(0);
                first_rss.get_or_insert(rss);
                max_rss = max_rss.max(rss);
                println!(
                    "  t={:>4.0}s  requests {total:>9}  ({:.0} req/s)  errors {errors}  server RSS {:.1} MiB",
                    start.elapsed().as_secs_f64(),
                    r.requests as f64 / t.elapsed().as_secs_f64().max(1e-9),
                    rss as f64 / 1024.0
                );
            }
            if let Some(f) = first_rss {
                println!(
                    "soak: {total} requests, {errors} errors, server RSS {:.1} MiB at 30 s, peak {:.1} MiB",
                    f as f64 / 1024.0,
                    max_rss as f64 / 1024.0
                );
            }
            drop(soak_server);
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_snippet_is_a_whole_kilobyte_of_valid_python() {
        let code = super::snippet_1k();
        assert!((900..=1024).contains(&code.len()), "{} bytes", code.len());
        let report = sbd_scan::Scanner::new().unwrap().scan(&code, sbd_scan::Language::Python);
        assert_eq!(report.parse.error_nodes, 0);
        assert!(code.trim_end().ends_with(']'), "ends inside a function: {code}");
        assert!(report.findings.iter().any(|f| f.cwe.contains(&78)), "{:?}", report.findings);
    }
}
