//! `sbd bench …` — benchmarks that print a table (never timed assertions).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use rayon::prelude::*;
use sbd_scan::{Language, Scanner};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Verifier throughput (MB/s, files/s) per language on real code on this machine — the
    /// Rust sources under ~/.cargo/registry/src and the Python standard library — next to raw
    /// tree-sitter parse speed, 1 KB snippet latency percentiles, and semgrep/bandit on the
    /// same files when installed.
    Scan(BenchScanArgs),
    /// Verifier accuracy on labelled data (CyberSecEval, SVEN, SafeCoder, your own JSONL):
    /// precision, recall, F1, pair accuracy and false-positive rate on fixed code, per language
    /// and CWE, with the installed peers (bandit, cppcheck, flawfinder, ICD) side by side.
    Accuracy(super::bench_accuracy::AccuracyArgs),
    /// The HTTP service under load on loopback: /v1/verify and /v1/reward throughput and
    /// p50/p99 latency, a flood beyond capacity (429s, /healthz still answering) and memory.
    Serve(super::bench_serve::BenchServeArgs),
    /// Overhead of the sandbox: start-up and steady state, inside vs outside.
    Sandbox(super::bench_sandbox::SandboxBenchArgs),
    /// The dataset pipeline end to end on real code: lines/s and MB/s per core with
    /// near-duplicate detection on, and peak memory.
    Data(super::bench_data::DataBenchArgs),
    /// Training throughput (tokens/s) and MFU against a measured matmul peak, for two sizes.
    Train(super::bench_train::BenchTrainArgs),
}

#[derive(Args)]
pub struct BenchScanArgs {
    /// Rust corpus (default: ~/.cargo/registry/src).
    #[arg(long, value_name = "DIR")]
    rust_dir: Option<PathBuf>,
    /// Python corpus (default: the standard library of `python3`).
    #[arg(long, value_name = "DIR")]
    python_dir: Option<PathBuf>,
    /// At most this many MB of source per language.
    #[arg(long, value_name = "MB", default_value_t = 8.0)]
    max_mb: f64,
    /// Number of 1 KB snippets for the latency percentiles.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    snippets: usize,
    /// Where to look for semgrep and bandit first (then $PATH).
    #[arg(long, value_name = "DIR", default_value = "~/.cache/sbd-peers/bin")]
    peers_bin: String,
    /// Semgrep rules for the peer run.
    #[arg(long, value_name = "FILE", default_value = "bench/semgrep-rules.yml")]
    semgrep_rules: PathBuf,
    /// Do not run semgrep/bandit.
    #[arg(long)]
    no_peers: bool,
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Scan(a) => bench_scan(a),
        BenchCommand::Accuracy(a) => super::bench_accuracy::run(a),
        BenchCommand::Serve(a) => super::bench_serve::run(a),
        BenchCommand::Sandbox(a) => super::bench_sandbox::run_sandbox_bench(a),
        BenchCommand::Data(a) => super::bench_data::run_data_bench(a),
        BenchCommand::Train(a) => super::bench_train::run(a),
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

fn expand(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(p),
    }
}

fn python_stdlib() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sysconfig;print(sysconfig.get_paths()['stdlib'])"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let p = PathBuf::from(s.trim());
    p.is_dir().then_some(p)
}

struct Corpus {
    lang: Language,
    files: Vec<(PathBuf, String)>,
    bytes: usize,
}

fn load_corpus(lang: Language, dir: &Path, ext: &str, max_bytes: usize) -> Corpus {
    let mut paths = Vec::new();
    for e in ignore::WalkBuilder::new(dir).standard_filters(false).follow_links(false).build().flatten() {
        if e.file_type().is_some_and(|t| t.is_file()) && e.path().extension().is_some_and(|x| x == ext) {
            paths.push(e.into_path());
        }
    }
    paths.sort();
    let mut files = Vec::new();
    let mut bytes = 0;
    for p in paths {
        if bytes >= max_bytes {
            break;
        }
        if let Ok(t) = std::fs::read_to_string(&p)
            && t.len() <= 2 * 1024 * 1024
        {
            bytes += t.len();
            files.push((p, t));
        }
    }
    Corpus { lang, files, bytes }
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9)
}

fn find_tool(name: &str, first: &Path) -> Option<PathBuf> {
    let p = first.join(name);
    if p.is_file() {
        return Some(p);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// Run a peer; returns its wall time and how many files it reports as scanned (from its JSON:
/// semgrep's `paths.scanned`, bandit's `metrics` entries).
/// One peer's line: time, MB/s, how much slower than sbd, and how many files it scanned.
fn peer_row(
    out: &mut impl Write,
    lang: Language,
    peer: &str,
    timed: Result<(Duration, Option<usize>), String>,
    bytes: usize,
    ours: Duration,
    files: usize,
) -> std::io::Result<()> {
    match timed {
        Ok((d, scanned)) => writeln!(
            out,
            "{:<8} {peer:<8} {:>8.1} s  {:>7.2} MB/s  ratio {:>6.1}x  ({} of {files} files scanned)",
            lang.name(),
            d.as_secs_f64(),
            mbps(bytes, d),
            d.as_secs_f64() / ours.as_secs_f64().max(1e-9),
            scanned.map_or("?".to_string(), |n| n.to_string()),
        ),
        Err(e) => writeln!(out, "{:<8} {peer}: failed: {e}", lang.name()),
    }
}

fn time_peer(mut cmd: Command) -> Result<(Duration, Option<usize>), String> {
    let t = Instant::now();
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
    let d = t.elapsed();
    let scanned = serde_json::from_slice::<serde_json::Value>(&out.stdout).ok().and_then(|v| {
        v["paths"]["scanned"]
            .as_array()
            .map(Vec::len)
            .or_else(|| v["metrics"].as_object().map(|m| m.keys().filter(|k| *k != "_totals").count()))
    });
    // bandit and semgrep exit 1 when they find something; 2+ is a failure.
    match out.status.code() {
        Some(0 | 1) => Ok((d, scanned)),
        c => {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: String = err.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            Err(format!("exit {c:?}: {tail}"))
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// ~1 KB snippets: the first lines of each file up to about 1024 bytes.
fn snippets(c: &Corpus, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (_, t) in &c.files {
        let mut s = String::new();
        for line in t.lines() {
            if s.len() + line.len() > 1024 {
                break;
            }
            s.push_str(line);
            s.push('\n');
        }
        if s.len() >= 512 {
            out.push(s);
        }
        if out.len() >= n {
            break;
        }
    }
    out
}

fn bench_scan(a: BenchScanArgs) -> anyhow::Result<ExitCode> {
    let scanner = Scanner::new().context("cannot build the rule set")?;
    let max_bytes = (a.max_mb * 1e6) as usize;
    let rust_dir = a.rust_dir.clone().unwrap_or_else(|| home().join(".cargo/registry/src"));
    let py_dir = a.python_dir.clone().or_else(python_stdlib);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "sbd bench scan — {} rules, {} worker threads available; single-thread unless marked",
        scanner.rules().len(),
        rayon::current_num_threads()
    )?;
    let mut corpora = Vec::new();
    if rust_dir.is_dir() {
        corpora.push(load_corpus(Language::Rust, &rust_dir, "rs", max_bytes));
    } else {
        writeln!(out, "rust: corpus {} missing, skipped", rust_dir.display())?;
    }
    match &py_dir {
        Some(d) => corpora.push(load_corpus(Language::Python, d, "py", max_bytes)),
        None => writeln!(out, "python: no standard library found (python3 missing), skipped")?,
    }
    writeln!(
        out,
        "\n{:<8} {:>6} {:>7} {:>10} {:>10} {:>8} {:>9} {:>12} {:>9}",
        "language", "files", "MB", "parse MB/s", "scan MB/s", "scan/par", "files/s", "par scan MB/s", "findings"
    )?;
    let mut timings = Vec::new();
    for c in &corpora {
        // warm-up (grammar load, rule compile, page cache)
        for (_, t) in c.files.iter().take(20) {
            let _ = scanner.scan(t, c.lang);
        }
        let t0 = Instant::now();
        for (_, t) in &c.files {
            let _ = sbd_scan::raw_parse(t, c.lang);
        }
        let parse = t0.elapsed();
        let t1 = Instant::now();
        let mut findings = 0;
        for (_, t) in &c.files {
            findings += scanner.scan(t, c.lang).findings.len();
        }
        let scan = t1.elapsed();
        let t2 = Instant::now();
        let _n: usize = c.files.par_iter().map(|(_, t)| scanner.scan(t, c.lang).findings.len()).sum();
        let par = t2.elapsed();
        writeln!(
            out,
            "{:<8} {:>6} {:>7.1} {:>10.2} {:>10.2} {:>8.2} {:>9.0} {:>12.2} {:>9}",
            c.lang.name(),
            c.files.len(),
            c.bytes as f64 / 1e6,
            mbps(c.bytes, parse),
            mbps(c.bytes, scan),
            parse.as_secs_f64() / scan.as_secs_f64().max(1e-9),
            c.files.len() as f64 / scan.as_secs_f64().max(1e-9),
            mbps(c.bytes, par),
            findings
        )?;
        timings.push((c.lang, scan));
    }

    writeln!(out, "\n1 KB snippet latency (in-process, one thread, scanner reused)")?;
    writeln!(
        out,
        "{:<8} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "language", "snippets", "p50 µs", "p90 µs", "p99 µs", "max µs"
    )?;
    for c in &corpora {
        let sn = snippets(c, a.snippets);
        let mut lat = Vec::with_capacity(sn.len());
        let mut raw = Vec::with_capacity(sn.len());
        for s in &sn {
            let t = Instant::now();
            let _ = scanner.scan(s, c.lang);
            lat.push(t.elapsed());
            let t = Instant::now();
            let _ = sbd_scan::raw_parse(s, c.lang);
            raw.push(t.elapsed());
        }
        lat.sort();
        raw.sort();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        writeln!(
            out,
            "{:<8} {:>8} {:>9.0} {:>9.0} {:>9.0} {:>9.0}   {:>12.0} {:>12.0}",
            c.lang.name(),
            sn.len(),
            us(percentile(&lat, 0.5)),
            us(percentile(&lat, 0.9)),
            us(percentile(&lat, 0.99)),
            us(percentile(&lat, 1.0)),
            us(percentile(&raw, 0.5)),
            us(percentile(&raw, 0.99))
        )?;
    }

    if a.no_peers {
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "\npeers on the same files (one process, one job each; ratio = peer time / sbd single-thread time)")?;
    let bin = expand(&a.peers_bin);
    let semgrep = find_tool("semgrep", &bin);
    let bandit = find_tool("bandit", &bin);
    for c in &corpora {
        let ours = timings.iter().find(|(l, _)| *l == c.lang).map(|(_, d)| *d).unwrap_or_default();
        let files: Vec<&Path> = c.files.iter().map(|(p, _)| p.as_path()).collect();
        match &semgrep {
            None => {
                writeln!(out, "{:<8} semgrep: not installed (bash ../shared/tools/install-peers.sh)", c.lang.name())?
            }
            Some(s) if !a.semgrep_rules.is_file() => writeln!(
                out,
                "{:<8} semgrep: rules file {} missing ({})",
                c.lang.name(),
                a.semgrep_rules.display(),
                s.display()
            )?,
            Some(s) => {
                let mut cmd = Command::new(s);
                cmd.args(["scan", "--metrics=off", "--disable-version-check", "--quiet", "--json", "-j", "1"])
                    .args(["--no-git-ignore", "--max-target-bytes", "0", "--timeout", "0", "--config"])
                    .arg(&a.semgrep_rules)
                    .args(&files);
                peer_row(&mut out, c.lang, "semgrep", time_peer(cmd), c.bytes, ours, files.len())?;
            }
        }
        if c.lang == Language::Python {
            match &bandit {
                None => {
                    writeln!(out, "{:<8} bandit: not installed (bash ../shared/tools/install-peers.sh)", c.lang.name())?
                }
                Some(b) => {
                    let mut cmd = Command::new(b);
                    cmd.args(["-q", "-f", "json"]).args(&files);
                    peer_row(&mut out, c.lang, "bandit", time_peer(cmd), c.bytes, ours, files.len())?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The machine's speed right now, for reading a benchmark's absolute figures: KB/s at which
/// one thread of tree-sitter parses the embedded seed corpus (both sides of every pair, all
/// ten languages), best of five rounds of about 0.1 s. On a shared VM this moves by more than
/// the changes being measured; a benchmark prints it before and after its runs.
pub fn reference_parse_kbps() -> anyhow::Result<f64> {
    let pairs = sbd_data::seed::pairs().context("the embedded seed corpus")?;
    let mut parsers: Vec<(Language, tree_sitter::Parser)> = Vec::new();
    for lang in Language::ALL {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&lang.grammar()).with_context(|| format!("the {} grammar", lang.name()))?;
        parsers.push((lang, p));
    }
    let texts: Vec<(usize, &str)> = pairs
        .iter()
        .flat_map(|p| {
            let i = parsers.iter().position(|(l, _)| *l == p.language).unwrap_or(0);
            [(i, p.insecure.as_str()), (i, p.secure.as_str())]
        })
        .collect();
    let bytes: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let mut best = 0.0f64;
    for _ in 0..5 {
        let t0 = Instant::now();
        let mut rounds = 0usize;
        while t0.elapsed() < Duration::from_millis(100) || rounds == 0 {
            for (i, t) in &texts {
                std::hint::black_box(parsers[*i].1.parse(t, None));
            }
            rounds += 1;
        }
        best = best.max((bytes * rounds) as f64 / 1024.0 / t0.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// One line naming [`reference_parse_kbps`] (or why it is missing).
pub fn reference_line(when: &str) -> String {
    match reference_parse_kbps() {
        Ok(k) => format!("machine reference ({when}): tree-sitter parses the seed corpus at {k:.0} KB/s on one thread"),
        Err(e) => format!("machine reference ({when}): unavailable ({e:#})"),
    }
}
