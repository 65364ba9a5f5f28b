//! `sbd bench data`: end-to-end throughput of the dataset pipeline on real code — plan,
//! annotate (verifier, ANRF, variants, gates), merge (exact and near-duplicate removal,
//! splits, Parquet) — as lines/s and MB/s per core from CPU time and from wall time, with the
//! peak memory of each phase, for two corpus sizes (so a reader sees whether memory grows
//! with the corpus), and the machine's load average. The annotate and merge phases each run
//! in a fresh child process (`--phase`), so each one's peak resident memory is its own.
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use sbd_data::pipeline::{self, Config, Options, Quiet, Source};

#[derive(Args)]
pub struct DataBenchArgs {
    /// Sources (default: `registry python-stdlib`, real code on this machine).
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Megabytes of code per default source for the first run; the second run takes twice as
    /// much.
    #[arg(long, value_name = "MB", default_value_t = 8)]
    pub mb: u64,
    /// Run only the first size.
    #[arg(long)]
    pub single: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Keep the datasets here (`DIR/<mb>mb`) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Internal: run one phase (`annotate` or `merge`) on the dataset folder `--work` and
    /// print its measurements (what the benchmark's child processes do).
    #[arg(long, hide = true, requires = "work")]
    pub phase: Option<String>,
    #[arg(long, hide = true)]
    pub work: Option<PathBuf>,
}

const PHASE_LINE: &str = "sbd-bench-phase ";

fn config_for(mb: u64) -> Config {
    Config { registry_bytes: mb << 20, stdlib_bytes: mb << 20, tree_bytes: mb << 20, ..Config::default() }
}

/// A child process's side: one phase, measured, printed as one JSON line.
fn run_phase(phase: &str, sources: &[Source], mb: u64, threads: usize, work: &Path) -> anyhow::Result<ExitCode> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let config = config_for(mb);
    let (_, p) = match phase {
        "annotate" => {
            let plan = pipeline::plan(&config, sources, &Quiet)?;
            let opts = Options { shard: None, stop_after: None, progress: &Quiet };
            measure("annotate + variants", || {
                Ok(pool.install(|| pipeline::run_chunks(work, &config, sources, &plan, &opts))?)
            })?
        }
        "merge" => measure("merge (dedup, write)", || {
            Ok(pool.install(|| pipeline::merge(work, &Quiet)).map(|m| m.rows as usize)?)
        })?,
        other => anyhow::bail!("--phase {other}: expected annotate or merge"),
    };
    // The whole child's peak: what this phase needed, plus the plan it worked from.
    let peak = peak_rss_mib();
    println!("{PHASE_LINE}{}", serde_json::json!({"wall": p.wall, "cpu": p.cpu, "peak": peak}));
    Ok(ExitCode::SUCCESS)
}

/// Runs `phase` in a child process of this binary and reads its measurements.
fn child_phase(
    name: &'static str,
    phase: &str,
    args: &DataBenchArgs,
    mb: u64,
    threads: usize,
    work: &Path,
) -> anyhow::Result<Phase> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe)
        .args(["bench", "data", "--phase", phase, "--work"])
        .arg(work)
        .args(["--mb", &mb.to_string(), "--threads", &threads.to_string()])
        .args(&args.sources)
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(PHASE_LINE));
    let Some(line) = line.filter(|_| out.status.success()) else {
        anyhow::bail!("the {phase} phase failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    };
    let v: serde_json::Value = serde_json::from_str(line)?;
    Ok(Phase { name, wall: v["wall"].as_f64().unwrap_or(f64::NAN), cpu: v["cpu"].as_f64(), peak: v["peak"].as_f64() })
}

/// Peak resident memory of this process in MiB since the last [`reset_peak`], from
/// /proc/self/status (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak (VmHWM) to the current resident size (`5` to /proc/self/clear_refs);
/// false where the kernel does not allow it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unavailable".into())
}

/// One phase of one run.
struct Phase {
    name: &'static str,
    wall: f64,
    cpu: Option<f64>,
    peak: Option<f64>,
}

/// One run of the pipeline.
struct Run {
    mb: u64,
    files: usize,
    lines: u64,
    bytes: u64,
    rows: u64,
    phases: Vec<Phase>,
}

fn measure<T>(name: &'static str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Phase)> {
    let reset = reset_peak();
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    let v = f()?;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(c0).map(|(b, a)| (b - a).max(0.01));
    let peak = if reset { peak_rss_mib() } else { None };
    Ok((v, Phase { name, wall, cpu, peak }))
}

fn run_once(a: &DataBenchArgs, sources: &[Source], mb: u64, threads: usize, out: &Path) -> anyhow::Result<Run> {
    let config = config_for(mb);
    let _ = std::fs::remove_dir_all(out);
    let (plan, p_plan) = measure("plan (walk)", || Ok(pipeline::plan(&config, sources, &Quiet)?))?;
    // Input size, outside the timed phases.
    let (mut bytes, mut lines) = (0u64, 0u64);
    for it in &plan.items {
        if let pipeline::Item::File { file, .. } = it {
            let text = file.read()?;
            bytes += text.len() as u64;
            lines += text.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
    anyhow::ensure!(
        bytes > 0,
        "no input code found for {:?}",
        sources.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
    let files = plan.items.len();
    drop(plan);
    let p_annotate = child_phase("annotate + variants", "annotate", a, mb, threads, out)?;
    let p_merge = child_phase("merge (dedup, write)", "merge", a, mb, threads, out)?;
    let rows = pipeline::read_manifest(out)?.rows;
    Ok(Run { mb, files, lines, bytes, rows, phases: vec![p_plan, p_annotate, p_merge] })
}

fn print_run(r: &Run, threads: usize) {
    let mb = r.bytes as f64 / 1e6;
    println!("\n{} MB per source: {} files, {} lines, {mb:.1} MB in; {} rows out", r.mb, r.files, r.lines, r.rows);
    println!(
        "{:<22} {:>8} {:>8} {:>10} {:>12} {:>12} {:>8} {:>10} {:>9}",
        "phase", "wall s", "cpu s", "lines/s", "lines/s/core", "(wall/thr)", "MB/s", "MB/s/core", "peak MiB"
    );
    let row = |name: &str, wall: f64, cpu: Option<f64>, peak: Option<f64>| {
        let per_core_cpu = cpu.map(|c| r.lines as f64 / c);
        let per_core_wall = r.lines as f64 / (wall * threads as f64);
        println!(
            "{name:<22} {wall:>8.2} {:>8} {:>10.0} {:>12} {:>12.0} {:>8.2} {:>10} {:>9}",
            cpu.map(|c| format!("{c:.2}")).unwrap_or_else(|| "-".into()),
            r.lines as f64 / wall,
            per_core_cpu.map(|v| format!("{v:.0}")).unwrap_or_else(|| "-".into()),
            per_core_wall,
            mb / wall,
            cpu.map(|c| format!("{:.2}", mb / c)).unwrap_or_else(|| "-".into()),
            peak.map(|p| format!("{p:.0}")).unwrap_or_else(|| "-".into()),
        );
    };
    for p in &r.phases {
        row(p.name, p.wall, p.cpu, p.peak);
    }
    let wall: f64 = r.phases.iter().map(|p| p.wall).sum();
    let cpu: Option<f64> = r.phases.iter().map(|p| p.cpu).sum();
    let peak = r.phases.iter().filter_map(|p| p.peak).fold(None, |m: Option<f64>, p| Some(m.map_or(p, |m| m.max(p))));
    row("end to end", wall, cpu, peak);
}

pub fn run_data_bench(a: DataBenchArgs) -> anyhow::Result<ExitCode> {
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let sources: Vec<Source> = if a.sources.is_empty() {
        vec![Source::Registry, Source::PythonStdlib]
    } else {
        a.sources.iter().map(|s| s.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?
    };
    if let (Some(phase), Some(work)) = (&a.phase, &a.work) {
        return run_phase(phase, &sources, a.mb, threads, work);
    }
    let base = match &a.keep {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("sbd-data-bench-{}", std::process::id())),
    };
    let load_before = load_average();
    println!(
        "sbd bench data: {} on {threads} threads; near-dup on (MinHash+LSH, Jaccard {}); load average {load_before}",
        sources.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "),
        Config::default().near_dup_threshold
    );
    println!("lines/s/core is lines over CPU seconds (all threads); (wall/thr) is lines over wall x threads");
    println!("{}", super::bench::reference_line("before"));
    let sizes: Vec<u64> = if a.single { vec![a.mb] } else { vec![a.mb, a.mb * 2] };
    let mut runs = Vec::new();
    for mb in sizes {
        let out = base.join(format!("{mb}mb"));
        let r = run_once(&a, &sources, mb, threads, &out)?;
        print_run(&r, threads);
        if a.keep.is_none() {
            let _ = std::fs::remove_dir_all(&out);
        }
        runs.push(r);
    }
    if a.keep.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    if runs.len() > 1 {
        println!(
            "\npeak memory against corpus size (MiB; plan: VmHWM reset before the phase; annotate and merge: their own processes):"
        );
        println!("{:>8} {:>10} {:>9} {:>10} {:>10} {:>10}", "MB/src", "lines", "rows", "plan", "annotate", "merge");
        for r in &runs {
            let p = |i: usize| r.phases[i].peak.map(|p| format!("{p:.0}")).unwrap_or_else(|| "-".into());
            println!("{:>8} {:>10} {:>9} {:>10} {:>10} {:>10}", r.mb, r.lines, r.rows, p(0), p(1), p(2));
        }
    }
    println!("\nload average after: {}", load_average());
    println!("{}", super::bench::reference_line("after"));
    Ok(ExitCode::SUCCESS)
}
