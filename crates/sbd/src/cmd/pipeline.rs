//! `sbd pipeline` — the whole flow of the requirements in one command: build the dataset,
//! train the tokenizer and a tiny model (pretrain → SFT → DPO → RL), evaluate the base and the
//! tuned model on the four suites with the local backend (and the tuned one again with
//! verify-and-repair), judge the gate, write the report and print a one-screen summary.
//!
//! Every stage is an `sbd` subcommand run as a child process of this binary, with its output
//! in its own folder under `--out` and its log in `logs/STAGE.log`. A stage that finished
//! leaves a marker (`.sbd-stage.json`) recording the exact arguments it ran with; running the
//! pipeline again skips the stages whose marker matches, resumes an interrupted one where the
//! stage supports it (data builds, training checkpoints, evaluation results) and reruns a
//! stage — and every stage after it — whose settings changed.
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Args)]
pub struct PipelineArgs {
    /// Settings as TOML (any subset of the fields `--print-config` shows; the rest keep their
    /// defaults, or the quick defaults with --quick).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output directory: one folder per stage, logs/, the history database and summary.json.
    /// Run the same command again to resume.
    #[arg(short, long, default_value = "pipeline")]
    pub out: PathBuf,
    /// Small settings that finish in about 5 minutes on 2 cores (the embedded seed data only).
    #[arg(long)]
    pub quick: bool,
    /// Where the public datasets live (sven/, safecoder/); absent folders are skipped.
    #[arg(long, default_value = "../shared/data")]
    pub shared: PathBuf,
    /// Print the settings in effect (defaults, --quick, --config) as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Exit 1 when the gate fails (by default the verdict is reported and the pipeline
    /// succeeds: a tiny model trained for minutes is not expected to pass it).
    #[arg(long)]
    pub strict: bool,
    /// No spinners (the stage lines are still printed).
    #[arg(long)]
    pub no_progress: bool,
}

/// What the pipeline builds, trains and evaluates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sbd data build` sources. `sven` and `safecoder` stand for the folders of that name
    /// under --shared (skipped with a note when absent); anything else is passed as it is.
    pub sources: Vec<String>,
    /// Tokenizer vocabulary size.
    pub vocab_size: usize,
    /// Model size preset (`sbd train pretrain --preset`).
    pub preset: String,
    pub seq_len: usize,
    pub batch_size: usize,
    pub pretrain_steps: usize,
    pub sft_steps: usize,
    pub dpo_steps: usize,
    pub rl_steps: usize,
    /// Answers sampled per RL prompt.
    pub rl_group: usize,
    /// RL also on prompts whose reference answer is longer than `max_new_tokens`
    /// (`sbd train rl --keep-long-prompts`).
    pub rl_keep_long_prompts: bool,
    /// Token budget of each generated answer (RL and evaluation).
    pub max_new_tokens: usize,
    /// Tasks per suite in each evaluation (spread over the suite), 0 for every task.
    pub eval_limit: usize,
    /// Verify-and-repair rounds of the third evaluation.
    pub repair: u32,
    /// Run the suites' tests in the sandbox during evaluation (slower; SER containment,
    /// exploit tests, functional pass rates).
    pub tests: bool,
    pub seed: u64,
}

impl Settings {
    fn full() -> Settings {
        Settings {
            sources: vec!["seed".into(), "sven".into(), "safecoder".into()],
            vocab_size: 2048,
            preset: "tiny".into(),
            seq_len: 256,
            batch_size: 8,
            pretrain_steps: 300,
            sft_steps: 200,
            dpo_steps: 100,
            rl_steps: 10,
            rl_group: 4,
            rl_keep_long_prompts: false,
            max_new_tokens: 192,
            eval_limit: 25,
            repair: 2,
            tests: false,
            seed: 7,
        }
    }

    fn quick() -> Settings {
        Settings {
            sources: vec!["seed".into()],
            vocab_size: 1024,
            seq_len: 128,
            batch_size: 4,
            pretrain_steps: 120,
            sft_steps: 80,
            dpo_steps: 40,
            rl_steps: 4,
            rl_group: 2,
            max_new_tokens: 128,
            eval_limit: 8,
            repair: 1,
            ..Settings::full()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::full()
    }
}

/// The settings in effect: the defaults (or the quick ones), then the config file's fields.
fn settings(a: &PipelineArgs) -> anyhow::Result<Settings> {
    let base = if a.quick { Settings::quick() } else { Settings::full() };
    let Some(path) = &a.config else { return Ok(base) };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the pipeline config {}", path.display()))?;
    // Fields the file leaves out keep the base settings' values.
    let file: toml::Table = toml::from_str(&text)
        .with_context(|| format!("{}: not valid TOML (see `sbd pipeline --print-config`)", path.display()))?;
    let mut merged = serde_json::to_value(&base).context("settings as JSON")?;
    if let (Some(m), Value::Object(f)) = (merged.as_object_mut(), serde_json::to_value(file).context("config as JSON")?)
    {
        m.extend(f);
    }
    let s: Settings = serde_json::from_value(merged).with_context(|| {
        format!("{}: not valid pipeline settings (see `sbd pipeline --print-config`)", path.display())
    })?;
    if s.sources.is_empty() {
        bail!("{}: `sources` is empty; the pipeline needs data (for example sources = [\"seed\"])", path.display());
    }
    if s.pretrain_steps == 0 || s.sft_steps == 0 || s.dpo_steps == 0 || s.rl_steps == 0 {
        bail!("{}: every training stage needs at least one step", path.display());
    }
    Ok(s)
}

/// The settings as TOML (scalars and lists of strings; JSON string escapes are valid TOML).
fn settings_toml(s: &Settings) -> String {
    let mut out = String::from("# sbd pipeline settings (pass a file with any of these to --config)\n");
    if let Ok(Value::Object(m)) = serde_json::to_value(s) {
        for (k, v) in m {
            out.push_str(&format!("{k} = {v}\n"));
        }
    }
    out
}

/// One stage: a child `sbd` invocation writing into `dir` under the output directory.
struct Stage {
    name: &'static str,
    what: String,
    dir: &'static str,
    args: Vec<String>,
    /// Added when an earlier attempt left partial output (the stage's own resume flag).
    resume: Option<&'static str>,
    /// Exit codes that still count as a finished stage (the gate exits 1 on a failed verdict).
    ok_codes: &'static [i32],
}

const MARKER: &str = ".sbd-stage.json";

fn stages(s: &Settings, out: &Path, shared: &Path) -> (Vec<Stage>, Vec<String>) {
    let p = |rel: &str| out.join(rel).display().to_string();
    let mut notes = Vec::new();
    let mut sources = Vec::new();
    for src in &s.sources {
        match src.as_str() {
            "sven" | "safecoder" => {
                let dir = shared.join(src);
                if dir.is_dir() {
                    sources.push(format!("{src}:{}", dir.display()));
                } else {
                    notes.push(format!("source {src} skipped: {} is not a directory", dir.display()));
                }
            }
            other => sources.push(other.to_string()),
        }
    }
    let n = |v: usize| v.to_string();
    let train = |mode: &str, init: Option<&str>, steps: usize| -> Vec<String> {
        let mut a: Vec<String> = vec!["train".into(), mode.into()];
        match init {
            Some(i) => a.extend(["--init".into(), p(i)]),
            None => a.extend(["--tokenizer".into(), p("tokenizer.json"), "--preset".into(), s.preset.clone()]),
        }
        a.extend([
            "--data".into(),
            p("data"),
            "--shared".into(),
            shared.display().to_string(),
            "--steps".into(),
            n(steps),
            "--batch-size".into(),
            n(s.batch_size),
            "--seq-len".into(),
            n(s.seq_len),
            "--seed".into(),
            s.seed.to_string(),
            "--no-progress".into(),
            "-o".into(),
            p(mode),
        ]);
        a
    };
    let mut rl = train("rl", Some("dpo"), s.rl_steps);
    rl.extend(["--group".into(), n(s.rl_group), "--max-new-tokens".into(), n(s.max_new_tokens)]);
    if s.rl_keep_long_prompts {
        rl.push("--keep-long-prompts".into());
    }
    let eval = |model: &str, dir: &str, repair: u32| -> Vec<String> {
        let mut a: Vec<String> =
            ["eval", "run", "--suite", "all", "--backend", "local", "--model"].into_iter().map(String::from).collect();
        a.push(p(model));
        if s.eval_limit > 0 {
            a.extend(["--limit".into(), n(s.eval_limit)]);
        }
        a.extend([
            "--max-tokens".into(),
            n(s.max_new_tokens),
            "--seed".into(),
            s.seed.to_string(),
            "--repair".into(),
            repair.to_string(),
            "--db".into(),
            p("history.sqlite"),
            "-o".into(),
            p(dir),
        ]);
        if s.tests {
            a.push("--tests".into());
        }
        a
    };
    let mut data = vec!["data".to_string(), "build".into()];
    data.extend(sources);
    data.extend(["--seed".into(), s.seed.to_string(), "--no-progress".into(), "-o".into(), p("data")]);
    let tokenizer = vec![
        "tokenizer".to_string(),
        "train".into(),
        "--shared".into(),
        shared.display().to_string(),
        "--vocab-size".into(),
        n(s.vocab_size),
        "-o".into(),
        p("tokenizer.json"),
    ];
    let limit = if s.eval_limit > 0 { format!("{} tasks per suite", s.eval_limit) } else { "every task".into() };
    let st = |name, what: String, dir, args, resume, ok_codes| Stage { name, what, dir, args, resume, ok_codes };
    let list = vec![
        st("data", format!("dataset from {}", s.sources.join(", ")), "data", data, None, &[0][..]),
        st("tokenizer", format!("BPE tokenizer, {} tokens", s.vocab_size), "tokenizer.json", tokenizer, None, &[0]),
        st(
            "pretrain",
            format!("{} model, {} steps", s.preset, s.pretrain_steps),
            "pretrain",
            train("pretrain", None, s.pretrain_steps),
            Some("--resume"),
            &[0],
        ),
        st(
            "sft",
            format!("{} steps", s.sft_steps),
            "sft",
            train("sft", Some("pretrain"), s.sft_steps),
            Some("--resume"),
            &[0],
        ),
        st(
            "dpo",
            format!("{} steps", s.dpo_steps),
            "dpo",
            train("dpo", Some("sft"), s.dpo_steps),
            Some("--resume"),
            &[0],
        ),
        st("rl", format!("{} steps, group {}", s.rl_steps, s.rl_group), "rl", rl, Some("--resume"), &[0]),
        st(
            "eval-base",
            format!("pretrained model, 4 suites, {limit}"),
            "eval-base",
            eval("pretrain", "eval-base", 0),
            Some("--resume"),
            &[0],
        ),
        st(
            "eval-tuned",
            format!("tuned model, 4 suites, {limit}"),
            "eval-tuned",
            eval("rl", "eval-tuned", 0),
            Some("--resume"),
            &[0],
        ),
        st(
            "eval-repair",
            format!("tuned model, verify-and-repair ({} rounds)", s.repair),
            "eval-repair",
            eval("rl", "eval-repair", s.repair),
            Some("--resume"),
            &[0],
        ),
        st(
            "gate",
            "success criteria on the tuned model with repair".into(),
            "gate",
            vec![
                "gate".into(),
                p("eval-repair"),
                "--db".into(),
                p("history.sqlite"),
                "--junit".into(),
                p("gate/junit.xml"),
                "--format".into(),
                "json".into(),
            ],
            None,
            &[0, 1],
        ),
        st(
            "report",
            "HTML and Markdown report".into(),
            "report",
            vec![
                "eval".into(),
                "report".into(),
                p("eval-repair"),
                "--db".into(),
                p("history.sqlite"),
                "--html".into(),
                p("report/report.html"),
                "--markdown".into(),
                p("report/report.md"),
            ],
            None,
            &[0],
        ),
    ];
    (list, notes)
}

/// Where a stage's marker lives: in its folder, or beside a single-file output.
fn marker_path(out: &Path, stage: &Stage) -> PathBuf {
    if stage.dir.contains('.') {
        out.join(format!(".{}{MARKER}", stage.name))
    } else {
        out.join(stage.dir).join(MARKER)
    }
}

fn marker_matches(out: &Path, stage: &Stage) -> bool {
    let Ok(text) = std::fs::read_to_string(marker_path(out, stage)) else { return false };
    serde_json::from_str::<Value>(&text).is_ok_and(|v| v["args"] == serde_json::json!(stage.args))
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

pub fn run(a: PipelineArgs) -> anyhow::Result<ExitCode> {
    let s = settings(&a)?;
    if a.print_config {
        print!("{}", settings_toml(&s));
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("locating the sbd binary to run the stages")?;
    std::fs::create_dir_all(a.out.join("logs"))
        .with_context(|| format!("creating the output directory {}", a.out.display()))?;
    let (list, notes) = stages(&s, &a.out, &a.shared);
    for n in &notes {
        eprintln!("note: {n}");
    }
    let t0 = Instant::now();
    let spin = !a.no_progress && std::io::stderr().is_terminal();
    let total = list.len();
    // Once a stage runs again, every later stage must too (its inputs changed).
    let mut rerun = false;
    let mut timings = Vec::new();
    for (i, stage) in list.iter().enumerate() {
        let label = format!("[{:>2}/{total}] {:<12} {}", i + 1, stage.name, stage.what);
        if !rerun && marker_matches(&a.out, stage) {
            eprintln!("{label}  (done earlier)");
            timings.push((stage.name, None));
            continue;
        }
        rerun = true;
        let target = a.out.join(stage.dir);
        let mut args = stage.args.clone();
        // What an interrupted attempt of this stage ran with: only the same arguments resume.
        let started = a.out.join("logs").join(format!("{}.started.json", stage.name));
        let same_start = std::fs::read_to_string(&started)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .is_some_and(|v| v["args"] == serde_json::json!(stage.args));
        let partial = target.exists() && !stage.dir.contains('.');
        if let Some(flag) = stage.resume
            && partial
            && same_start
            && resumable(stage, &target)
        {
            args.push(flag.to_string());
        } else if partial {
            // Output of other settings (or of a run that never checkpointed): start over.
            std::fs::remove_dir_all(&target).with_context(|| format!("clearing {}", target.display()))?;
        }
        let _ = std::fs::remove_file(marker_path(&a.out, stage));
        std::fs::write(&started, serde_json::to_vec(&serde_json::json!({"args": stage.args}))?)
            .with_context(|| format!("writing {}", started.display()))?;
        if matches!(stage.name, "gate" | "report") {
            // Their commands write files into the folder rather than making it.
            std::fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
        }
        let log_path = a.out.join("logs").join(format!("{}.log", stage.name));
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let err = log.try_clone().with_context(|| format!("opening {}", log_path.display()))?;
        let mut child = Command::new(&exe)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting stage {}: {} {}", stage.name, exe.display(), args.join(" ")))?;
        let bar = spin.then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            b.set_message(label.clone());
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        let started = Instant::now();
        let status = child.wait().with_context(|| format!("waiting for stage {}", stage.name))?;
        let took = started.elapsed();
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let code = status.code();
        if !code.is_some_and(|c| stage.ok_codes.contains(&c)) {
            eprintln!("{label}  FAILED after {}", fmt_duration(took));
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            for l in tail.into_iter().rev() {
                eprintln!("    {l}");
            }
            eprintln!(
                "stage {} {} (log: {}); fix the cause and run the same command again to resume from this stage",
                stage.name,
                match code {
                    Some(c) => format!("exited with status {c}"),
                    None => "was interrupted".to_string(),
                },
                log_path.display()
            );
            return Ok(ExitCode::from(2));
        }
        if stage.name == "gate" {
            // The verdict is stdout of the stage: keep it as the stage's output.
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let json = text.find('{').map(|i| &text[i..]).unwrap_or("");
            std::fs::write(a.out.join("gate/verdict.json"), json)
                .with_context(|| format!("writing {}/gate/verdict.json", a.out.display()))?;
        }
        let marker = serde_json::json!({"stage": stage.name, "args": stage.args, "seconds": took.as_secs_f64()});
        std::fs::write(marker_path(&a.out, stage), serde_json::to_vec_pretty(&marker)?)
            .with_context(|| format!("writing the marker of stage {}", stage.name))?;
        eprintln!("{label}  {}", fmt_duration(took));
        timings.push((stage.name, Some(took)));
    }
    let summary = Summary::read(&a.out, &s, a.quick);
    let screen = summary.render(&a.out, t0.elapsed());
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(screen.as_bytes())?;
    let json = serde_json::json!({
        "settings": s,
        "quick": a.quick,
        "seconds": t0.elapsed().as_secs_f64(),
        "stages": timings.iter().map(|(n, t)| serde_json::json!({"stage": n, "seconds": t.map(|d| d.as_secs_f64())})).collect::<Vec<_>>(),
        "gate_pass": summary.gate_pass,
        "notes": notes,
    });
    std::fs::write(a.out.join("summary.json"), serde_json::to_vec_pretty(&json)?)
        .with_context(|| format!("writing {}/summary.json", a.out.display()))?;
    std::fs::write(a.out.join("summary.txt"), &screen)
        .with_context(|| format!("writing {}/summary.txt", a.out.display()))?;
    Ok(if a.strict && summary.gate_pass != Some(true) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Whether a stage's partial output can be resumed by the stage itself.
fn resumable(stage: &Stage, target: &Path) -> bool {
    if stage.name.starts_with("eval") {
        target.join("run.json").is_file() || target.join("results.jsonl").is_file()
    } else {
        target.join("checkpoint").is_dir()
    }
}

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// What the summary screen shows, read back from the stages' outputs.
struct Summary {
    lines: Vec<String>,
    gate_pass: Option<bool>,
    gate_line: String,
}

const METRICS: &[(&str, &str)] = &[
    ("SCR", "secure code rate"),
    ("MSS", "memory-safe share"),
    ("SER", "sandboxing"),
    ("OHQ", "override handling"),
    ("MCC", "metadata complete"),
    ("SDC", "secure by default"),
    // Static rates alone reward answers that delete the work; SUB does not.
    ("SUB", "secure and usable"),
];

impl Summary {
    fn read(out: &Path, s: &Settings, quick: bool) -> Summary {
        let mut lines = Vec::new();
        let num = |v: &Value| v.as_f64().map(|x| format!("{x:.3}")).unwrap_or_else(|| "–".into());
        lines.push(format!("settings     {}", if quick { "quick (--quick)" } else { "default" }));
        if let Some(m) = read_json(&out.join("data/manifest.json")) {
            lines.push(format!(
                "dataset      {} rows, digest {}  ({})",
                m["rows"],
                m["digest"].as_str().unwrap_or("?"),
                s.sources.join(", ")
            ));
        }
        if let Some(t) = read_json(&out.join("tokenizer.json")) {
            let n = t["model"]["vocab"].as_object().map_or(0, |v| v.len())
                + t["added_tokens"].as_array().map_or(0, |v| v.len());
            lines.push(format!("tokenizer    {n} tokens (byte-level BPE)"));
        }
        if let Some(e) = read_json(&out.join("pretrain/eval.json")) {
            lines.push(format!(
                "pretrain     {} model, property-head AUROC {} on {} held-out examples",
                s.preset,
                num(&e["property_auroc_insecure"]),
                e["held_out_examples"]
            ));
        }
        if let Some(e) = read_json(&out.join("sft/eval.json")) {
            lines.push(format!(
                "sft          held-out loss {} → {}",
                num(&e["held_out_loss_before"]),
                num(&e["held_out_loss"])
            ));
        }
        if let Some(e) = read_json(&out.join("dpo/eval.json")) {
            lines.push(format!(
                "dpo          preference accuracy {} → {}, implicit-reward accuracy {} → {}",
                num(&e["preference_accuracy_before"]),
                num(&e["preference_accuracy_after"]),
                num(&e["reward_accuracy_before"]["accuracy"]),
                num(&e["reward_accuracy_after"]["accuracy"])
            ));
        }
        if let Some(e) = read_json(&out.join("rl/eval.json")) {
            lines.push(format!(
                "rl           held-out compliance {} → {}, parse rate {} → {}",
                num(&e["compliance_before"]),
                num(&e["compliance_after"]),
                num(&e["parse_rate_before"]),
                num(&e["parse_rate_after"])
            ));
        }
        let runs: Vec<(&str, Option<Value>)> = ["eval-base", "eval-tuned", "eval-repair"]
            .into_iter()
            .map(|r| (r, read_json(&out.join(r).join("run.json"))))
            .collect();
        if runs.iter().any(|(_, v)| v.is_some()) {
            let tasks = runs.iter().find_map(|(_, v)| v.as_ref().map(|v| v["tasks"].clone())).unwrap_or(Value::Null);
            lines.push(String::new());
            lines.push(format!("evaluation   {tasks} tasks over 4 suites, local backend; value [95% CI]"));
            lines.push(format!(
                "  {:<22} {:<22} {:<22} {:<22}",
                "metric",
                "base",
                "tuned",
                format!("tuned + repair ×{}", s.repair)
            ));
            for (m, what) in METRICS {
                let mut row = format!("  {:<22}", format!("{m} {what}"));
                for (_, run) in &runs {
                    let cell = run
                        .as_ref()
                        .and_then(|v| v["metrics"].as_array()?.iter().find(|x| x["name"] == *m).cloned())
                        .filter(|x| x["value"].is_number())
                        .map(|x| {
                            format!(
                                "{} [{:.2}, {:.2}]",
                                num(&x["value"]),
                                x["lo"].as_f64().unwrap_or(0.0),
                                x["hi"].as_f64().unwrap_or(1.0)
                            )
                        })
                        .unwrap_or_else(|| "not measured".into());
                    row.push_str(&format!(" {cell:<22}"));
                }
                lines.push(row);
            }
        }
        let (gate_pass, gate_line) = match read_json(&out.join("gate/verdict.json")) {
            Some(v) => {
                let verdicts = v["verdicts"].as_array().cloned().unwrap_or_default();
                let measured = verdicts.iter().filter(|x| x["status"] == "pass" || x["status"] == "fail").count();
                let passed = verdicts.iter().filter(|x| x["status"] == "pass").count();
                let pass = v["pass"].as_bool();
                (
                    pass,
                    format!(
                        "gate         {} — {passed} of {measured} measured criteria met (tuned + repair; `sbd gate {}`)",
                        if pass == Some(true) { "PASS" } else { "FAIL" },
                        out.join("eval-repair").display()
                    ),
                )
            }
            None => (None, "gate         not run".into()),
        };
        Summary { lines, gate_pass, gate_line }
    }

    fn render(&self, out: &Path, took: Duration) -> String {
        let mut s = format!("\nsbd pipeline — {} in {}\n\n", out.display(), fmt_duration(took));
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.gate_line);
        s.push('\n');
        s.push_str(&format!("report       {}\n", out.join("report/report.html").display()));
        s.push_str(&format!(
            "models       {} (tuned), {} (base)\n",
            out.join("rl").display(),
            out.join("pretrain").display()
        ));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_fields_override_the_base_settings() {
        let dir = std::env::temp_dir().join(format!("sbd-pipeline-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("p.toml");
        std::fs::write(&cfg, "eval_limit = 3\nsources = [\"seed\"]\n").unwrap();
        let a = PipelineArgs {
            config: Some(cfg.clone()),
            out: dir.join("out"),
            quick: true,
            shared: dir.clone(),
            print_config: false,
            strict: false,
            no_progress: true,
        };
        let s = settings(&a).unwrap();
        assert_eq!(s.eval_limit, 3);
        assert_eq!(s.pretrain_steps, Settings::quick().pretrain_steps);
        std::fs::write(&cfg, "eval_limt = 3\n").unwrap();
        let e = settings(&a).unwrap_err();
        assert!(format!("{e:#}").contains("not valid pipeline settings"), "{e:#}");
        std::fs::write(&cfg, "rl_steps = 0\n").unwrap();
        assert!(format!("{:#}", settings(&a).unwrap_err()).contains("at least one step"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn absent_shared_sources_are_skipped_with_a_note() {
        let s = Settings::full();
        let (list, notes) = stages(&s, Path::new("out"), Path::new("/nonexistent"));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert_eq!(list[0].args[..3], ["data", "build", "seed"]);
        assert_eq!(list.len(), 11);
    }
}
