//! `sbd run FILE` — compile and run a unit inside the sandbox.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sbd_sandbox::policy::Ceilings;
use sbd_sandbox::runner::{Harness, Language, RunReport, RunRequest, Verdict, run_unit};
use sbd_sandbox::{Outcome, Policy};

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Compile (C, C++, Rust, Java) and run (all six languages) a unit in the sandbox.
///
/// The program gets new namespaces, a read-only system view, landlock, seccomp and rlimits;
/// C and C++ are built with AddressSanitizer and UndefinedBehaviorSanitizer, Rust with
/// overflow checks. Limits come from `--policy` (an ANRF instance's
/// `security.isolation_requirements`) or the strict defaults (5 s, 256 MiB, no network,
/// nothing writable). Exit status: 0 passed, 1 anything else (checker error, crash, limit,
/// wrong output, compile error), 2 usage or setup error.
#[derive(Args)]
pub struct RunArgs {
    /// Source file of the unit.
    pub file: PathBuf,
    /// Language: c, cpp, rust, python, javascript, java (default: from the file extension).
    #[arg(long)]
    pub lang: Option<String>,
    /// ANRF instance whose `security.isolation_requirements` sets the policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// File fed to the program's stdin.
    #[arg(long)]
    pub stdin: Option<PathBuf>,
    /// Argument passed to the program (repeatable).
    #[arg(long = "arg", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// File with the expected stdout (trailing whitespace ignored).
    #[arg(long)]
    pub expect_stdout: Option<PathBuf>,
    /// A test program in the unit's language, run instead of the unit (exit 0 = pass):
    /// Python `import main`, JavaScript `require('./main.js')`, C/C++ a file with its own
    /// `main` linked with the unit (whose `main` becomes `sbd_unit_main`), Rust `#[test]`
    /// functions compiled into the unit, Java a class with a `main`.
    #[arg(long)]
    pub test_script: Option<PathBuf>,
    /// Wall-clock limit in seconds (overrides the policy; the CPU limit is raised to match).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Build C/C++ without ASan/UBSan.
    #[arg(long)]
    pub no_sanitizers: bool,
    /// Run C/C++ under valgrind memcheck instead of the sanitizers (valgrind must be installed).
    #[arg(long)]
    pub valgrind: bool,
    /// Run even when landlock or seccomp is missing (never without namespaces).
    #[arg(long)]
    pub allow_degraded: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let lang = match &a.lang {
        Some(l) => Language::from_name(l)
            .with_context(|| format!("unknown language {l:?} (c, cpp, rust, python, javascript, java)"))?,
        None => Language::from_path(&a.file)
            .with_context(|| format!("cannot tell the language of {}; pass --lang", a.file.display()))?,
    };
    let source = std::fs::read_to_string(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let mut policy = match &a.policy {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Policy::from_anrf_json(&text).with_context(|| format!("policy {}", p.display()))?
        }
        None => Policy::default(),
    };
    if let Some(t) = a.timeout {
        if !(t.is_finite() && t > 0.0) {
            bail!("--timeout must be a positive number of seconds");
        }
        policy.wall_time_ms = ((t * 1000.0).ceil() as u64).min(Ceilings::WALL_TIME_MS);
        // A program given S seconds may also compute for S seconds.
        policy.cpu_time_s = policy.cpu_time_s.max((t.ceil() as u64).min(Ceilings::CPU_TIME_S));
    }
    let stdin = match &a.stdin {
        Some(p) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        None => vec![],
    };
    let expected_stdout = match &a.expect_stdout {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let test_script = match &a.test_script {
        Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let mut req = RunRequest::new(lang, source);
    req.policy = policy;
    req.harness = Harness { stdin, args: a.args.clone(), expected_stdout, test_script };
    req.sanitizers = !a.no_sanitizers;
    req.valgrind = a.valgrind;
    req.allow_degraded = a.allow_degraded;
    let report = run_unit(&req)?;
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print_text(&report),
    }
    Ok(if report.verdict == Verdict::Passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn resources(o: &Outcome) -> String {
    format!("{}, {} ms wall, {} ms CPU, {} KiB peak RSS", o.describe(), o.wall_ms, o.cpu_ms, o.peak_rss_kb)
}

fn print_text(r: &RunReport) {
    let verdict = serde_json::to_value(r.verdict).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    println!("verdict: {verdict} ({})", r.language.name());
    if let Some(c) = &r.compile {
        println!("compile: {}", resources(c));
        if r.verdict == Verdict::CompileFailed {
            print!("{}", c.stderr);
        }
    }
    if let Some(o) = &r.run {
        println!("run: {}", resources(o));
        if !o.degraded.is_empty() {
            let d: Vec<String> = o.degraded.iter().map(|m| m.to_string()).collect();
            println!("DEGRADED: ran without {}", d.join(", "));
        }
        for v in &o.violations {
            match v {
                sbd_sandbox::Violation::Syscall { name, count } => {
                    println!("violation: denied system call {name} ({count}x)")
                }
            }
        }
        for f in &r.findings {
            println!("finding: {} {} at {}: {}", f.tool, f.kind, f.location.as_deref().unwrap_or("?"), f.message);
        }
        if let Some(m) = r.output_matched {
            println!("expected output: {}", if m { "matched" } else { "DIFFERS" });
        }
        println!("--- stdout{} ---", if o.stdout_truncated { " (truncated)" } else { "" });
        print!("{}", o.stdout);
        if !o.stderr.is_empty() {
            println!("--- stderr{} ---", if o.stderr_truncated { " (truncated)" } else { "" });
            print!("{}", o.stderr);
        }
    }
}
