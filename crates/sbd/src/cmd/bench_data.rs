//! `sbd bench data`: end-to-end throughput of the dataset
//! pipeline on real code — plan, annotate (verifier, ANRF, variants, gates), merge
//! (exact and near-duplicate removal, splits, Parquet) — as lines/s and MB/s per core, and
//! the process's peak memory (VmHWM).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use sbd_data::pipeline::{self, Config, Options, Quiet, Source};

#[derive(Args)]
pub struct DataBenchArgs {
    /// Sources (default: `registry python-stdlib`, real code on this machine).
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Megabytes of code per default source.
    #[arg(long, value_name = "MB", default_value_t = 8)]
    pub mb: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep the dataset here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

/// Peak resident memory of this process in MiB, from /proc/self/status (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// CPU seconds (user + system, all threads) this process has used, from /proc/self/stat
/// (clock ticks at the usual 100 Hz). On a shared machine this, not wall time, measures the
/// work per core.
pub fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

pub fn run_data_bench(a: DataBenchArgs) -> anyhow::Result<ExitCode> {
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let config =
        Config { registry_bytes: a.mb << 20, stdlib_bytes: a.mb << 20, tree_bytes: a.mb << 20, ..Config::default() };
    let sources: Vec<Source> = if a.sources.is_empty() {
        vec![Source::Registry, Source::PythonStdlib]
    } else {
        a.sources.iter().map(|s| s.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?
    };
    let tmp;
    let out = match &a.keep {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("sbd-data-bench-{}", std::process::id()));
            tmp.clone()
        }
    };
    let _ = std::fs::remove_dir_all(&out);
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    let plan = pipeline::plan(&config, &sources)?;
    let t_plan = t0.elapsed().as_secs_f64();
    let c_plan = cpu_seconds();
    let (mut bytes, mut lines) = (0u64, 0u64);
    for it in &plan.items {
        if let pipeline::Item::File { file, .. } = it {
            let text = std::fs::read(&file.path).with_context(|| format!("reading {}", file.path.display()))?;
            bytes += text.len() as u64;
            lines += text.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    anyhow::ensure!(
        bytes > 0,
        "no input code found for {:?}",
        sources.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
    let opts = Options { shard: None, stop_after: None, progress: &Quiet };
    let c_read = cpu_seconds();
    let t1 = Instant::now();
    pool.install(|| pipeline::run_chunks(&out, &config, &sources, &plan, &opts))?;
    let t_annotate = t1.elapsed().as_secs_f64();
    let c_annotate = cpu_seconds();
    let t2 = Instant::now();
    let manifest = pipeline::merge(&out, &Quiet)?;
    let t_merge = t2.elapsed().as_secs_f64();
    let c_merge = cpu_seconds();
    let total = t_plan + t_annotate + t_merge;
    let mb = bytes as f64 / 1e6;
    let span = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (b - a).max(0.01));
    let row = |name: &str, secs: f64, cpu: Option<f64>| {
        // Per core: over CPU time where /proc gives it (honest on a shared machine), else
        // wall time divided by the threads.
        let per_core = cpu.unwrap_or(secs * threads as f64);
        println!(
            "{name:<22} {secs:>8.2} {:>8.2} {:>12.0} {:>12.0} {:>10.2} {:>10.2}",
            cpu.unwrap_or(f64::NAN),
            lines as f64 / secs,
            lines as f64 / per_core,
            mb / secs,
            mb / per_core
        );
    };
    println!(
        "input: {} files, {lines} lines, {mb:.1} MB; {threads} threads; near-dup on (Jaccard {}); output {} rows",
        plan.items.len(),
        config.near_dup_threshold,
        manifest.rows
    );
    println!(
        "{:<22} {:>8} {:>8} {:>12} {:>12} {:>10} {:>10}",
        "phase", "wall s", "cpu s", "lines/s", "lines/s/core", "MB/s", "MB/s/core"
    );
    row("plan (walk)", t_plan, span(c0, c_plan));
    row("annotate + variants", t_annotate, span(c_read, c_annotate));
    row("merge (dedup, write)", t_merge, span(c_annotate, c_merge));
    let c_total = span(c0, c_merge).map(|t| t - span(c_plan, c_read).unwrap_or(0.0));
    row("end to end", total, c_total);
    match peak_rss_mib() {
        Some(m) => println!("peak memory (VmHWM): {m:.0} MiB"),
        None => println!("peak memory: unavailable (no /proc/self/status)"),
    }
    if a.keep.is_none() {
        let _ = std::fs::remove_dir_all(&out);
    }
    Ok(ExitCode::SUCCESS)
}
