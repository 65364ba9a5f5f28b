//! `sbd eval …` — evaluate code models on the four benchmark suites.
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use sbd_eval::backend::openai::{Api, OpenAi, OpenAiConfig};
use sbd_eval::backend::{Backend, Mode, References, Replay, Which, references_jsonl};
use sbd_eval::gate::{Policy, evaluate};
use sbd_eval::history::History;
use sbd_eval::oracle::{FormalEvidence, OracleOptions, TaskResult};
use sbd_eval::run::{RunOptions, now_utc, read_results, read_summary, run_tasks, write_summary};
use sbd_eval::suite::{BUILTIN, Task, resolve};

#[derive(Subcommand)]
pub enum EvalCommand {
    /// Run suites against a backend and write a run directory (results.jsonl, run.json).
    ///
    /// Results are appended as each task finishes, so an interrupted run (Ctrl-C) keeps what it
    /// finished; `--resume` continues it. The run is also stored in the history database.
    Run(RunArgs),
    /// Calibration: each built-in suite's insecure references must score SCR ≤ 2% and its
    /// secure references ≥ 98%; exit 1 otherwise.
    Selfcheck(SelfcheckArgs),
    /// Metric values over time from the history database (SET).
    History(HistoryArgs),
    /// A/B comparison of two run directories: per metric the difference with a paired-bootstrap
    /// 95% interval and McNemar's exact test.
    Compare(CompareArgs),
    /// Write the HTML report (SVG charts, self-contained) and/or a Markdown summary of a run.
    Report(ReportArgs),
    /// Print a suite's reference solutions as replay JSONL (to try the pipeline end to end).
    ExportReferences(ExportArgs),
    /// Export a review sample of a run (task, prompt, answer, verifier findings) as JSONL with
    /// empty rating fields for experts and users to fill in.
    ExportReview(ExportReviewArgs),
    /// Import ratings (JSONL: {"task_id", "reviewer", "role"?: "expert"|"user", "run_id"?,
    /// "explanation_clear"?, "explanation_accurate"?, "override_intuitive"?,
    /// "prefers_secure_default"?, "comment"?}) into the history database: feeds USS and the
    /// human part of SEQ (`sbd gate` reads them for the run).
    ImportFeedback(ImportFeedbackArgs),
}

#[derive(Args)]
pub struct ExportReviewArgs {
    /// Run directory.
    run: PathBuf,
    /// At most this many answers (a deterministic spread over the run).
    #[arg(long, default_value_t = 50)]
    sample: usize,
}

#[derive(Args)]
pub struct ImportFeedbackArgs {
    /// JSONL ratings.
    file: PathBuf,
    #[arg(long, default_value = "sbd-history.sqlite")]
    db: PathBuf,
}

/// Output format.
#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum WhichArg {
    Secure,
    Insecure,
}

impl From<WhichArg> for Which {
    fn from(w: WhichArg) -> Which {
        match w {
            WhichArg::Secure => Which::Secure,
            WhichArg::Insecure => Which::Insecure,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    Openai,
    Replay,
    References,
    /// A model directory written by `sbd train` (--model DIR), run on this machine.
    Local,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ApiArg {
    Chat,
    Completions,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ModeArg {
    Instruct,
    Autocomplete,
}

#[derive(Args)]
pub struct RunArgs {
    /// Suite: securebench, memsafebench, sandboxbench, overridebench, `all`, a JSONL task file
    /// or a CyberSecEval .json file (repeatable, or comma-separated).
    #[arg(long, required = true, value_delimiter = ',')]
    suite: Vec<String>,
    /// Backend: `openai` (any OpenAI-compatible server; see --base-url, --model), `replay`
    /// (with --replay), `references` (with --references) or `local` (--model DIR: a
    /// checkpoint of `sbd train`; see --temperature, --max-new-tokens, --top-k, --top-p,
    /// --seed, --guided).
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// OpenAI-compatible base URL.
    #[arg(long, env = "OPENAI_BASE_URL", default_value = "https://api.openai.com/v1")]
    base_url: String,
    /// Model name for the openai backend; the model directory for the local backend.
    #[arg(long, env = "SBD_EVAL_MODEL")]
    model: Option<String>,
    /// API key for the openai backend.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Endpoint: chat (/chat/completions) or completions (/completions).
    #[arg(long, value_enum, default_value = "chat")]
    api: ApiArg,
    /// Stream responses (server-sent events).
    #[arg(long)]
    stream: bool,
    /// Seconds per HTTP request.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Retries per request (connection errors, timeouts, 5xx, 429 with Retry-After).
    #[arg(long, default_value_t = 4)]
    retries: u32,
    #[arg(long, default_value_t = 0.0)]
    temperature: f64,
    #[arg(long, alias = "max-new-tokens", default_value_t = 1024)]
    max_tokens: u32,
    /// Local backend: top-k sampling (0: off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Local backend: nucleus sampling threshold.
    #[arg(long, default_value_t = 1.0)]
    top_p: f64,
    /// Local backend: base seed (each task's seed mixes it with the task id and round).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Local backend: verification-guided decoding (statement rollbacks on new findings).
    #[arg(long)]
    guided: bool,
    /// Response cache directory (default: RUN/cache); requests already answered are not resent.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Replay completions from JSONL (`{"task_id", "completion", "round"?}` per line).
    #[arg(long, value_name = "FILE", conflicts_with = "references")]
    replay: Option<PathBuf>,
    /// Answer with the suites' own reference solutions (calibration).
    #[arg(long, value_enum)]
    references: Option<WhichArg>,
    /// Verify-and-repair rounds: findings and explanations go back to the backend.
    #[arg(long, default_value_t = 0)]
    repair: u32,
    /// Only N tasks of each suite, spread evenly over it (every k-th task), so that a slice
    /// still covers the suite's languages and weaknesses.
    #[arg(long)]
    limit: Option<usize>,
    /// Run the tests in the sandbox (C/C++ under ASan+UBSan; slow): functional tests, and the
    /// security (exploit) tests without which some tasks cannot be judged for security.
    #[arg(long)]
    tests: bool,
    /// With --tests: also run each task's insecure reference on the same tests to measure the
    /// runtime and memory cost of the answers' security features (SOR.runtime, SOR.memory).
    #[arg(long, requires = "tests")]
    overhead: bool,
    /// Independent samples per task; with more than one, pass@k (k = 1, 5, 10) is reported.
    /// Use a temperature above 0 (or a replay file with `"sample"` fields).
    #[arg(long, default_value_t = 1)]
    samples: u32,
    /// Also run the sandbox's escape suite once and report SER.escape (the share of hostile
    /// programs the test sandbox contains).
    #[arg(long)]
    escape_suite: bool,
    /// Formal checking: Frama-C EVA on the C answers of tasks with the `formal` oracle
    /// (MemSafeBench); feeds MSS and MSS.formal. Slow (seconds per answer).
    #[arg(long)]
    formal: bool,
    /// With --tests, also run C/C++ tests under valgrind's memcheck (uninitialised reads,
    /// invalid accesses ASan misses); feeds MSS and MSS.valgrind. Slow.
    #[arg(long, requires = "tests")]
    valgrind: bool,
    /// Prompt mode.
    #[arg(long, value_enum, default_value = "instruct")]
    mode: ModeArg,
    /// Parallel generations.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Run directory (default: eval-runs/<time>-<suites>).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Continue an interrupted run in --out.
    #[arg(long, requires = "out")]
    resume: bool,
    /// History database.
    #[arg(long, default_value = "sbd-history.sqlite")]
    db: PathBuf,
    /// Do not record the run in the history database.
    #[arg(long)]
    no_db: bool,
}

#[derive(Args)]
pub struct SelfcheckArgs {
    /// Also run the functional tests of the secure references of up to N tasks per suite in
    /// the sandbox (they must all pass).
    #[arg(long, default_value_t = 0)]
    tests: usize,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Only this metric (SCR, MSS, …).
    #[arg(long)]
    metric: Option<String>,
    #[arg(long, default_value = "sbd-history.sqlite")]
    db: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Args)]
pub struct CompareArgs {
    /// Run directory A (baseline).
    a: PathBuf,
    /// Run directory B.
    b: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Run directory.
    run: PathBuf,
    /// HTML output file (default: RUN/report.html).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Markdown output file (default: RUN/report.md).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Gate policy to include (default: the built-in section 7 policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// History database for the trend charts (skipped when absent).
    #[arg(long, default_value = "sbd-history.sqlite")]
    db: PathBuf,
}

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, required = true, value_delimiter = ',')]
    suite: Vec<String>,
    #[arg(long, value_enum)]
    which: WhichArg,
}

pub fn run(cmd: EvalCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        EvalCommand::Run(a) => run_cmd(a),
        EvalCommand::Selfcheck(a) => selfcheck(a),
        EvalCommand::History(a) => history(a),
        EvalCommand::Compare(a) => compare(a),
        EvalCommand::Report(a) => report(a),
        EvalCommand::ExportReview(a) => export_review(a),
        EvalCommand::ImportFeedback(a) => import_feedback(a),
        EvalCommand::ExportReferences(a) => {
            let tasks = load_suites(&a.suite, None)?;
            print!("{}", references_jsonl(&tasks, a.which.into()));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_suites(specs: &[String], limit: Option<usize>) -> anyhow::Result<Vec<Task>> {
    let mut names: Vec<String> = Vec::new();
    for s in specs {
        if s == "all" {
            names.extend(BUILTIN.iter().map(|s| s.to_string()));
        } else {
            names.push(s.clone());
        }
    }
    let mut tasks = Vec::new();
    for n in &names {
        let mut t = resolve(n).with_context(|| format!("loading suite {n}"))?;
        if let Some(l) = limit {
            t = spread(t, l);
        }
        tasks.extend(t);
    }
    Ok(tasks)
}

/// `n` of `tasks`, evenly spaced (the first task always among them), in their order.
fn spread<T>(tasks: Vec<T>, n: usize) -> Vec<T> {
    let len = tasks.len();
    if n >= len {
        return tasks;
    }
    let keep: std::collections::BTreeSet<usize> = (0..n).map(|i| i * len / n).collect();
    tasks.into_iter().enumerate().filter(|(i, _)| keep.contains(i)).map(|(_, t)| t).collect()
}

fn run_cmd(a: RunArgs) -> anyhow::Result<ExitCode> {
    let tasks = load_suites(&a.suite, a.limit)?;
    if tasks.is_empty() {
        bail!("the suites have no tasks");
    }
    let suite_name = a.suite.join(",");
    let started = now_utc();
    let dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from("eval-runs").join(format!(
            "{}-{}",
            started.replace([':', '-'], ""),
            suite_name.replace([',', '/'], "+")
        ))
    });
    let kind = match (a.backend, &a.replay, a.references) {
        (Some(k), _, _) => k,
        (None, Some(_), _) => BackendArg::Replay,
        (None, None, Some(_)) => BackendArg::References,
        (None, None, None) => {
            bail!(
                "choose a backend: --backend openai --model M, --backend local --model DIR, --replay FILE or --references secure|insecure"
            )
        }
    };
    let backend: Box<dyn Backend> = match kind {
        BackendArg::Replay => match &a.replay {
            Some(p) => Box::new(Replay::open(p)?),
            None => bail!("--backend replay needs --replay FILE"),
        },
        BackendArg::References => match a.references {
            Some(w) => Box::new(References(w.into())),
            None => bail!("--backend references needs --references secure|insecure"),
        },
        BackendArg::Openai => {
            let Some(model) = &a.model else { bail!("--backend openai needs --model (or SBD_EVAL_MODEL)") };
            let mut cfg = OpenAiConfig::new(&a.base_url, model);
            cfg.api_key = a.api_key.clone();
            cfg.api = match a.api {
                ApiArg::Chat => Api::Chat,
                ApiArg::Completions => Api::Completions,
            };
            cfg.stream = a.stream;
            cfg.timeout = std::time::Duration::from_secs(a.timeout.max(1));
            cfg.max_retries = a.retries;
            cfg.temperature = a.temperature;
            cfg.max_tokens = a.max_tokens;
            cfg.cache_dir = Some(a.cache.clone().unwrap_or_else(|| dir.join("cache")));
            Box::new(OpenAi::new(cfg))
        }
        BackendArg::Local => {
            let Some(model) = &a.model else {
                bail!("--backend local needs --model DIR (a directory written by sbd train)")
            };
            let m = sbd_model::local::LocalModel::load(Path::new(model))
                .with_context(|| format!("loading the local model {model}"))?;
            let s = sbd_model::generate::Sampling {
                max_new_tokens: a.max_tokens as usize,
                temperature: a.temperature,
                top_k: a.top_k,
                top_p: a.top_p,
                seed: a.seed,
            };
            let mut b = sbd_model::backend::LocalBackend::new(std::sync::Arc::new(m), s);
            b.guided = a.guided;
            Box::new(b)
        }
    };
    let opts = RunOptions {
        mode: match a.mode {
            ModeArg::Instruct => Mode::Instruct,
            ModeArg::Autocomplete => Mode::Autocomplete,
        },
        repair: a.repair,
        oracle: OracleOptions {
            run_tests: a.tests,
            security_tests: a.tests,
            formal: a.formal,
            valgrind: a.valgrind,
            overhead: a.tests && a.overhead,
            ..OracleOptions::default()
        },
        concurrency: a.concurrency,
        resume: a.resume,
        samples: a.samples.max(1),
        escape_suite: a.escape_suite,
    };
    let cancel = AtomicBool::new(false);
    let tty = std::io::stderr().is_terminal();
    let t0 = Instant::now();
    let progress = |done: usize, total: usize| {
        if tty && (done.is_multiple_of(10) || done == total) {
            let el = t0.elapsed().as_secs_f64();
            let eta = if done > 0 { el / done as f64 * (total - done) as f64 } else { 0.0 };
            eprint!("\r  {done}/{total} tasks  {el:.0}s elapsed  ETA {eta:.0}s   ");
        }
    };
    let (results, complete) = run_tasks(backend.as_ref(), &tasks, &dir, &opts, &cancel, &progress)
        .with_context(|| format!("run in {}", dir.display()))?;
    if tty {
        eprintln!();
    }
    if !complete {
        eprintln!(
            "run incomplete: {} of {} tasks in {}; continue with --resume",
            results.len(),
            tasks.len(),
            dir.display()
        );
        return Ok(ExitCode::from(1));
    }
    let summary = write_summary(&dir, &suite_name, &backend.name(), &started, &opts, &results)?;
    if !a.no_db {
        let mut h = History::open(&a.db)?;
        h.add_run(&summary, &results)?;
    }
    println!("run {} ({} tasks, backend {}) -> {}", summary.id, summary.tasks, summary.backend, dir.display());
    print_metrics(&summary.metrics);
    for (s, m) in &summary.per_suite {
        println!("\n{s}:");
        print_metrics(m);
    }
    let unjudged = results.iter().filter(|r| r.security_unjudged).count();
    if unjudged > 0 {
        let why = if a.tests {
            let reason = results.iter().filter(|r| r.security_unjudged).find_map(|r| r.tests_error.clone());
            format!("the sandbox could not run their tests ({})", reason.unwrap_or_else(|| "no reason given".into()))
        } else {
            "their only security oracle is exploit tests; rerun with --tests".to_string()
        };
        println!("\n{unjudged} of {} tasks not judged for security (left out of SCR): {why}", results.len());
    }
    if a.formal {
        let unavailable: Vec<&TaskResult> = results
            .iter()
            .filter(|r| matches!(r.formal, Some(FormalEvidence::Unavailable | FormalEvidence::Error)))
            .collect();
        if let Some(r) = unavailable.first() {
            println!(
                "{} C answers not formally checked (not counted as verified): {}",
                unavailable.len(),
                r.formal_detail.as_deref().unwrap_or("no reason given")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_metrics(ms: &[sbd_eval::metrics::Metric]) {
    println!("  {:<20} {:>8}  {:<20} {:>6}", "metric", "value", "95% CI", "n");
    for m in ms.iter().filter(|m| m.value.is_some()) {
        let ci = match (m.lo, m.hi) {
            (Some(lo), Some(hi)) => format!("[{lo:.4}, {hi:.4}]"),
            _ => String::new(),
        };
        println!("  {:<20} {:>8.4}  {:<20} {:>6}", m.name, m.value.unwrap_or(f64::NAN), ci, m.n);
    }
}

fn selfcheck(a: SelfcheckArgs) -> anyhow::Result<ExitCode> {
    let t0 = Instant::now();
    let rows = sbd_eval::selfcheck::selfcheck(a.tests)?;
    let secs = t0.elapsed().as_secs_f64();
    let pass = rows.iter().all(|r| r.pass);
    match a.format {
        Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"rows": rows, "pass": pass, "seconds": secs}))?
            )
        }
        Format::Text => {
            println!(
                "{:<15} {:>6} {:>12} {:>14} {:>12} {:>22}  result",
                "suite", "tasks", "SCR secure", "SCR insecure", "tests", "exploit tests s/i"
            );
            for r in &rows {
                let tests = r.tests_secure.map(|(p, t)| format!("{p}/{t}")).unwrap_or_else(|| "-".into());
                let exploits = if r.exploit_tasks > 0 {
                    format!(
                        "{} tasks {}/{} {}/{}",
                        r.exploit_tasks,
                        r.exploit_secure.0,
                        r.exploit_secure.1,
                        r.exploit_insecure.0,
                        r.exploit_insecure.1
                    )
                } else {
                    "-".into()
                };
                println!(
                    "{:<15} {:>6} {:>11.1}% {:>13.1}% {:>12} {:>22}  {}",
                    r.suite,
                    r.tasks,
                    100.0 * r.scr_secure,
                    100.0 * r.scr_insecure,
                    tests,
                    exploits,
                    if r.pass { "ok" } else { "FAIL" }
                );
                for id in &r.misjudged_secure {
                    println!("    secure reference not compliant: {id}");
                }
                for id in &r.misjudged_insecure {
                    println!("    insecure reference judged compliant: {id}");
                }
                if !r.unjudged.is_empty() {
                    println!(
                        "    {} tasks not judged (their exploit tests could not run): {}",
                        r.unjudged.len(),
                        r.unjudged_reason.as_deref().unwrap_or("no reason given")
                    );
                }
            }
            println!(
                "exploit tests s/i: security tests passed by the secure references / run, and failed by the insecure ones / run"
            );
            println!("self-check {} in {secs:.1}s", if pass { "passed" } else { "FAILED" });
        }
    }
    Ok(if pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn history(a: HistoryArgs) -> anyhow::Result<ExitCode> {
    if !a.db.exists() {
        bail!("no history database at {} (sbd eval run records there; --db picks another)", a.db.display());
    }
    let h = History::open(&a.db)?;
    let pts = h.metric_history(a.metric.as_deref())?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&pts)?),
        Format::Text => {
            println!("{:<22} {:<28} {:<16} {:>8}  {:<18} {:>5}", "finished", "suite", "metric", "value", "95% CI", "n");
            for p in &pts {
                let Some(v) = p.value else { continue };
                let ci = match (p.lo, p.hi) {
                    (Some(lo), Some(hi)) => format!("[{lo:.3}, {hi:.3}]"),
                    _ => String::new(),
                };
                println!("{:<22} {:<28} {:<16} {:>8.4}  {:<18} {:>5}", p.finished_at, p.suite, p.name, v, ci, p.n);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(a: CompareArgs) -> anyhow::Result<ExitCode> {
    let ra = read_results(&a.a)?;
    let rb = read_results(&a.b)?;
    if ra.is_empty() || rb.is_empty() {
        bail!("both run directories need a results.jsonl with results");
    }
    let cs = sbd_eval::metrics::compare(&ra, &rb);
    let sir = sbd_eval::metrics::sir(&rb, &ra);
    match a.format {
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({"comparisons": cs, "sir": sir}))?)
        }
        Format::Text => {
            println!("A = {}\nB = {}", a.a.display(), a.b.display());
            println!(
                "{:<15} {:>5} {:>8} {:>8} {:>8}  {:<20} {:>6} {:>6} {:>9}",
                "metric", "n", "A", "B", "B−A", "95% CI (paired)", "A only", "B only", "McNemar p"
            );
            for c in &cs {
                println!(
                    "{:<15} {:>5} {:>8.4} {:>8.4} {:>+8.4}  [{:+.4}, {:+.4}]   {:>6} {:>6} {:>9.4}",
                    c.metric, c.n, c.a, c.b, c.diff, c.lo, c.hi, c.only_a, c.only_b, c.p_value
                );
            }
            if let Some(v) = sir.value {
                println!(
                    "SIR (B over baseline A): {v:.4} [{:.4}, {:.4}] n={}",
                    sir.lo.unwrap_or(v),
                    sir.hi.unwrap_or(v),
                    sir.n
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn load_policy(p: Option<&Path>) -> anyhow::Result<Policy> {
    Ok(match p {
        Some(p) => Policy::parse(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)?,
        None => Policy::default_policy(),
    })
}

fn report(a: ReportArgs) -> anyhow::Result<ExitCode> {
    let (summary, dir) = read_summary(&a.run)?;
    let results = read_results(&dir)?;
    let gate = evaluate(&load_policy(a.policy.as_deref())?, &summary.metrics);
    let history = if a.db.exists() { History::open(&a.db)?.metric_history(None)? } else { Vec::new() };
    let html_path = a.html.unwrap_or_else(|| dir.join("report.html"));
    let md_path = a.markdown.unwrap_or_else(|| dir.join("report.md"));
    std::fs::write(&html_path, sbd_eval::report::html(&summary, &results, Some(&gate), &history))
        .with_context(|| format!("writing {}", html_path.display()))?;
    std::fs::write(&md_path, sbd_eval::report::markdown(&summary, &results, Some(&gate)))
        .with_context(|| format!("writing {}", md_path.display()))?;
    println!("{}\n{}", html_path.display(), md_path.display());
    Ok(ExitCode::SUCCESS)
}

fn export_review(a: ExportReviewArgs) -> anyhow::Result<ExitCode> {
    let (summary, dir) = read_summary(&a.run)?;
    let results = read_results(&dir)?;
    let tasks = load_suites(&["all".to_string()], None).unwrap_or_default();
    let prompts: std::collections::HashMap<&str, &str> =
        tasks.iter().map(|t| (t.id.as_str(), t.prompt.as_str())).collect();
    let n = results.len();
    let take = a.sample.min(n);
    for i in 0..take {
        let r = &results[i * n / take.max(1)];
        let (_, explanation) = sbd_scan::reward::split_completion(&r.completion);
        let line = serde_json::json!({
            "run_id": summary.id,
            "task_id": r.task_id,
            "language": r.language,
            "cwe": r.cwe,
            "prompt": prompts.get(r.task_id.as_str()),
            "answer": r.completion,
            "explanation": explanation,
            "verifier_rules": r.rules,
            "secure": r.secure,
            "reviewer": null,
            "role": "expert",
            "explanation_clear": null,
            "explanation_accurate": null,
            "override_intuitive": null,
            "prefers_secure_default": null,
            "comment": null,
        });
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn import_feedback(a: ImportFeedbackArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: sbd_eval::history::Feedback = serde_json::from_str(line).with_context(|| {
            format!("{}:{}: not a rating (task_id and reviewer are required)", a.file.display(), i + 1)
        })?;
        if f.reviewer.trim().is_empty() {
            bail!("{}:{}: empty reviewer", a.file.display(), i + 1);
        }
        items.push(f);
    }
    let mut h = History::open(&a.db)?;
    h.add_feedback(&items, &now_utc())?;
    println!("imported {} ratings into {}", items.len(), a.db.display());
    for m in h.feedback_metrics(None)? {
        if let Some(v) = m.value {
            println!("  {:<22} {v:.4} [{:.4}, {:.4}] n={}", m.name, m.lo.unwrap_or(v), m.hi.unwrap_or(v), m.n);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn limit_spreads_over_the_suite() {
        let v: Vec<usize> = (0..10).collect();
        assert_eq!(super::spread(v.clone(), 3), vec![0, 3, 6]);
        assert_eq!(super::spread(v.clone(), 5), vec![0, 2, 4, 6, 8]);
        assert_eq!(super::spread(v.clone(), 10), v);
        assert_eq!(super::spread(v, 0), Vec::<usize>::new());
    }
}
