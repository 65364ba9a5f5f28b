//! `sbd data …` — build, inspect, validate and export security-annotated datasets.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use sbd_data::output::{export, quantity};
use sbd_data::pipeline::{self, Config, Options, Progress, Source};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Build a dataset: annotate code with the verifier, add ANRF metadata, explanations and
    /// variants, apply the quality gates, split, and write zstd Parquet shards plus
    /// manifest.json, stats.json and a README.md dataset card. Resumable: run the same command
    /// again after an interruption and it continues.
    Build(BuildArgs),
    /// Merge the chunks of a sharded build (`build --shard i/N` for every i) into the dataset.
    Merge(MergeArgs),
    /// Print a dataset's statistics, quality-gate counts and the quantity report against the
    /// requirements' minimums.
    Stats(StatsArgs),
    /// Check a dataset: shards, manifest, digest, splits, ANRF validity and consistency, tags
    /// (exit 0 valid, 1 problems found).
    Validate(ValidateArgs),
    /// Write the JSONL a trainer reads: `sft` (chat messages), `dpo` (prompt/chosen/rejected)
    /// or `rl` (prompts with verifier metadata).
    Export(ExportArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// Sources: `seed` (the embedded pairs), `registry` (~/.cargo/registry/src), `python-stdlib`,
    /// `sven:PATH`, `safecoder:PATH`, `cyberseceval:PATH`, `jsonl:PATH`, `rustsec:PATH` and
    /// `osv:PATH` (advisories; crates.io fixes fetched with cargo become pairs),
    /// `history:REPO[@REV]` (security-fix commits as before/after pairs), a directory (read
    /// from git at HEAD when inside a repository), `REPO@REV` (a repository at a revision) or
    /// `dir:PATH` (plain files even inside a work tree). Default: seed, registry and
    /// python-stdlib, bounded by the config's budgets.
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
    /// Output directory.
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Build settings (TOML; see `sbd_data::pipeline::Config` for the fields).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run only shard I of N (chunks numbered I modulo N) and skip the merge.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Override the config's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The output directory of the sharded build.
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct StatsArgs {
    pub dir: PathBuf,
    /// `table` or `json`.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args)]
pub struct ValidateArgs {
    pub dir: PathBuf,
    /// `table` or `json`.
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args)]
pub struct ExportArgs {
    pub dir: PathBuf,
    /// `sft`, `dpo` or `rl`.
    #[arg(long)]
    pub format: String,
    /// Splits to export (repeatable); default: all.
    #[arg(long = "split", value_name = "SPLIT")]
    pub splits: Vec<String>,
    /// Output file (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Progress bars on stderr.
pub struct Bars {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
    enabled: bool,
}

impl Bars {
    pub fn new(enabled: bool) -> Bars {
        Bars { bar: std::sync::Mutex::new(None), enabled }
    }
}

impl Progress for Bars {
    fn start(&self, phase: &str, total: u64) {
        if !self.enabled {
            return;
        }
        let b = indicatif::ProgressBar::new(total);
        let unit = if phase == "fetch" { "advisories" } else { "chunks" };
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
            "{{prefix:>9}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{elapsed_precise}} eta {{eta}}"
        )) {
            b.set_style(style.progress_chars("=> "));
        }
        b.set_prefix(phase.to_string());
        if let Ok(mut g) = self.bar.lock() {
            *g = Some(b);
        }
    }
    fn inc(&self, n: u64) {
        if let Ok(g) = self.bar.lock()
            && let Some(b) = g.as_ref()
        {
            b.inc(n);
        }
    }
    fn finish(&self) {
        if let Ok(mut g) = self.bar.lock()
            && let Some(b) = g.take()
        {
            b.finish();
        }
    }
}

pub fn run(cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Build(a) => build(a),
        DataCommand::Merge(a) => {
            let m = pipeline::merge(&a.dir, &Bars::new(true))?;
            println!("{} rows in {} shards, digest {}", m.rows, m.files.len(), m.digest);
            Ok(ExitCode::SUCCESS)
        }
        DataCommand::Stats(a) => stats(a),
        DataCommand::Validate(a) => validate(a),
        DataCommand::Export(a) => export_cmd(a),
    }
}

pub fn parse_shard(s: &str) -> anyhow::Result<(usize, usize)> {
    let (i, n) = s.split_once('/').context("--shard takes I/N, e.g. 0/4")?;
    let (i, n): (usize, usize) = (i.trim().parse()?, n.trim().parse()?);
    anyhow::ensure!(n > 0 && i < n, "--shard {s}: need 0 <= I < N");
    Ok((i, n))
}

fn build(a: BuildArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &a.config {
        Some(p) => Config::from_toml(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)?,
        None => Config::default(),
    };
    if let Some(s) = a.seed {
        config.seed = s;
    }
    let sources: Vec<Source> = if a.sources.is_empty() {
        pipeline::default_sources()
    } else {
        a.sources.iter().map(|s| s.parse()).collect::<Result<_, String>>().map_err(anyhow::Error::msg)?
    };
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let bars = Bars::new(!a.no_progress);
    let opts = Options { shard, stop_after: None, progress: &bars };
    let started = std::time::Instant::now();
    let manifest = pipeline::build(&a.out, &config, &sources, &opts)?;
    match manifest {
        None => eprintln!("shard done; run `sbd data merge {}` once every shard has finished", a.out.display()),
        Some(m) => {
            let (stats, _) = pipeline::read_stats(&a.out)?;
            println!(
                "{} rows ({} lines) in {} shards under {} in {:.1}s, digest {}",
                m.rows,
                stats.splits.values().map(|s| s.lines).sum::<u64>(),
                m.files.len(),
                a.out.display(),
                started.elapsed().as_secs_f64(),
                m.digest
            );
            for (split, s) in &stats.splits {
                println!("  {split:<12} {:>8} rows {:>10} lines {:>7} vulnerable", s.rows, s.lines, s.vulnerable);
            }
            for n in &m.source_notes {
                println!("  source: {n}");
            }
            if m.vulnerabilities > 0 {
                println!("  {} vulnerability records in vulnerabilities.jsonl", m.vulnerabilities);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let (stats, gates) = pipeline::read_stats(&a.dir)?;
    if a.format == "json" {
        let q = quantity::report(&stats);
        let p = a.dir.join("stats.json");
        let raw: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?)?;
        let balance = raw.get("balance").cloned().unwrap_or(serde_json::Value::Null);
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"stats": stats, "gates": gates, "quantity": q, "balance": balance})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut o = String::new();
    use std::fmt::Write as _;
    writeln!(o, "rows: {}", stats.rows)?;
    writeln!(
        o,
        "\n{:<12} {:>9} {:>11} {:>10} {:>9} {:>10} {:>10}",
        "split", "rows", "lines", "vulnerable", "anrf", "anrf valid", "explained"
    )?;
    for (k, s) in &stats.splits {
        writeln!(
            o,
            "{k:<12} {:>9} {:>11} {:>10} {:>9} {:>10} {:>10}",
            s.rows, s.lines, s.vulnerable, s.anrf, s.anrf_valid, s.explained
        )?;
    }
    let show = |o: &mut String, title: &str, m: &std::collections::BTreeMap<String, u64>| {
        let _ = writeln!(o, "\n{title}:");
        for (k, v) in m {
            let _ = writeln!(o, "  {k:<28} {v:>9}");
        }
    };
    show(&mut o, "languages", &stats.languages);
    show(&mut o, "variants", &stats.variants);
    show(&mut o, "override status", &stats.override_status);
    show(&mut o, "complexity", &stats.complexity);
    show(&mut o, "properties (rows where true)", &stats.properties);
    show(&mut o, "sources", &stats.sources);
    show(&mut o, "quality gates (removed or changed)", &gates.counts);
    let mut cwes: Vec<_> = stats.cwes.iter().collect();
    cwes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    writeln!(o, "\ntop CWEs:")?;
    for (k, v) in cwes.into_iter().take(15) {
        writeln!(o, "  {k:<12} {v:>9}")?;
    }
    if let Some(b) = balance_report(&a.dir)? {
        o.push_str(&b);
    }
    writeln!(o, "\nquantity against requirements 2.4:")?;
    writeln!(o, "{:<12} {:<38} {:>14} {:>10} {:>10}", "split", "metric", "required", "actual", "ratio")?;
    for l in quantity::report(&stats) {
        writeln!(o, "{:<12} {:<38} {:>14} {:>10} {:>10.6}", l.split, l.metric, l.required, l.actual, l.ratio)?;
    }
    std::io::stdout().lock().write_all(o.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The `balance` section of stats.json as a table: per split and dimension, each stratum's
/// target and share before and after resampling.
fn balance_report(dir: &std::path::Path) -> anyhow::Result<Option<String>> {
    use std::fmt::Write as _;
    let p = dir.join("stats.json");
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?)?;
    let Some(b) = v.get("balance").and_then(|b| b.as_object()) else { return Ok(None) };
    let mut o = String::from("\nresampling toward [balance] targets:\n");
    for (split, r) in b {
        let n = |k: &str| r.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        writeln!(
            o,
            "  {split}: {} rows -> {} ({} dropped, {} copies added)",
            n("rows_before"),
            n("rows_after"),
            n("dropped"),
            n("copies")
        )?;
        writeln!(o, "    {:<10} {:<24} {:>8} {:>8} {:>8}", "dimension", "stratum", "target", "before", "after")?;
        for (dim, strata) in r.get("shares").and_then(|s| s.as_object()).into_iter().flatten() {
            for (stratum, sh) in strata.as_object().into_iter().flatten() {
                let f = |k: &str| sh.get(k).and_then(|x| x.as_f64());
                writeln!(
                    o,
                    "    {dim:<10} {stratum:<24} {:>8} {:>8.3} {:>8.3}",
                    f("target").map(|t| format!("{t:.3}")).unwrap_or_else(|| "-".into()),
                    f("before").unwrap_or(0.0),
                    f("after").unwrap_or(0.0)
                )?;
            }
        }
    }
    Ok(Some(o))
}

fn validate(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let v = pipeline::validate(&a.dir)?;
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("{} rows in {} files", v.rows, v.files);
        if v.ok() {
            println!("valid");
        }
        for (k, n) in &v.problems {
            println!("  {k}: {n}");
        }
        for e in &v.examples {
            println!("  e.g. {e}");
        }
    }
    Ok(if v.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn export_cmd(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let format: export::Format = a.format.parse().map_err(anyhow::Error::msg)?;
    let rows = pipeline::rows(&a.dir, &a.splits)?;
    let n = match &a.out {
        Some(p) => {
            let f = std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?;
            let mut w = std::io::BufWriter::new(f);
            let n = export::write(&rows, format, &mut w)?;
            w.flush()?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let n = export::write(&rows, format, &mut w)?;
            w.flush()?;
            n
        }
    };
    eprintln!("{n} {} examples from {} rows", a.format, rows.len());
    Ok(ExitCode::SUCCESS)
}
