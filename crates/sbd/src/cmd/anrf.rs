//! `sbd anrf …` — validate, migrate and describe ANRF 1.1.0 metadata.
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use sbd_anrf::input::{Limits, parse_json, read_limited};
use sbd_anrf::migrate::{IsolationHints, MigrateOptions};
use sbd_anrf::{Report, Rule, validate};
use serde::Serialize;

use crate::cmd::output::write_atomically;

#[derive(Subcommand)]
pub enum AnrfCommand {
    /// Validate ANRF instances against every 1.1.0 rule.
    ///
    /// Reads each FILE (or `-` for stdin) as one JSON instance; files ending in `.jsonl` (or
    /// all inputs, with --jsonl) hold one instance per line. Reports every violation with its
    /// rule id, JSON Pointer, message and hint. Exit status: 0 all valid, 1 some invalid,
    /// 2 an input could not be read or parsed (or bad usage).
    Validate(ValidateArgs),
    /// Upgrade a pre-1.1 instance to 1.1.0.
    ///
    /// Adds the mandatory security metadata (secure by default, isolation inferred from what
    /// the unit does), keeps every field it does not know, appends a `Modification` audit
    /// event and validates the result. Migrating a 1.1.0 instance changes nothing. Exit
    /// status: 0 the result is valid, 1 written but still invalid (see the report), 2 error.
    Migrate(MigrateArgs),
    /// Print the JSON Schema (draft 2020-12) of ANRF 1.1.0.
    Schema,
    /// List the validation rules and their ids.
    Rules {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args)]
pub struct LimitArgs {
    /// Largest accepted input in bytes.
    #[arg(long, default_value_t = Limits::default().max_bytes, env = "SBD_ANRF_MAX_BYTES")]
    max_bytes: u64,
    /// Deepest accepted nesting of arrays/objects (1–127).
    #[arg(long, default_value_t = Limits::default().max_depth, env = "SBD_ANRF_MAX_DEPTH")]
    max_depth: usize,
}

impl LimitArgs {
    fn limits(&self) -> anyhow::Result<Limits> {
        let l = Limits { max_bytes: self.max_bytes, max_depth: self.max_depth };
        l.check()?;
        Ok(l)
    }
}

#[derive(Args)]
pub struct ValidateArgs {
    /// Instance files; `-` reads stdin.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Treat every input as JSON Lines (one instance per line).
    #[arg(long)]
    jsonl: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

#[derive(Args)]
pub struct MigrateArgs {
    /// The instance to migrate; `-` reads stdin.
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// Write the migrated instance here (atomically) instead of stdout.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Who is migrating, for the audit event.
    #[arg(long, default_value = "sbd-anrf-migrate")]
    actor: String,
    /// Known network use of the unit (overrides inference from the instance's text).
    #[arg(long)]
    network: Option<bool>,
    /// Known filesystem access of the unit (overrides inference).
    #[arg(long, value_parser = ["None", "ReadOnly", "ReadWrite"])]
    filesystem: Option<String>,
    /// Format of the migration report (stderr, or stdout when -o is given).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    limits: LimitArgs,
}

pub fn run(cmd: AnrfCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AnrfCommand::Validate(args) => run_validate(args),
        AnrfCommand::Migrate(args) => run_migrate(args),
        AnrfCommand::Schema => {
            let schema = serde_json::to_string_pretty(&sbd_anrf::json_schema())?;
            println!("{schema}");
            Ok(ExitCode::SUCCESS)
        }
        AnrfCommand::Rules { format } => {
            match format {
                Format::Text => {
                    for r in Rule::ALL {
                        println!("{:<3} {}", r.id(), r.title());
                    }
                }
                Format::Json => {
                    let rules: Vec<_> =
                        Rule::ALL.iter().map(|r| serde_json::json!({"id": r.id(), "title": r.title()})).collect();
                    println!("{}", serde_json::to_string_pretty(&rules)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_input(path: &Path, limits: &Limits) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        return read_limited(io::stdin().lock(), limits).context("reading stdin");
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            anyhow::bail!("{} is a directory; pass instance files", path.display());
        }
        if meta.len() > limits.max_bytes {
            anyhow::bail!(
                "{}: {} bytes is larger than the limit of {} bytes; raise --max-bytes if the file is really one instance",
                path.display(),
                meta.len(),
                limits.max_bytes
            );
        }
    }
    read_limited(file, limits).with_context(|| format!("reading {}", path.display()))
}

#[derive(Serialize)]
struct FileResult {
    path: String,
    /// 1-based line for JSON Lines input.
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    violations: Vec<sbd_anrf::Violation>,
}

fn run_validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let limits = args.limits.limits()?;
    let mut results = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let bytes = match read_input(path, &limits) {
            Ok(b) => b,
            Err(e) => {
                results.push(FileResult {
                    path: name,
                    line: None,
                    valid: false,
                    error: Some(format!("{e:#}")),
                    violations: vec![],
                });
                continue;
            }
        };
        let jsonl = args.jsonl || path.extension().is_some_and(|e| e == "jsonl");
        if jsonl {
            let mut any = false;
            for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                any = true;
                results.push(one(&name, Some(i + 1), line, &limits));
            }
            if !any {
                results.push(FileResult {
                    path: name,
                    line: None,
                    valid: false,
                    error: Some("no instances: the JSON Lines input is empty".into()),
                    violations: vec![],
                });
            }
        } else {
            results.push(one(&name, None, &bytes, &limits));
        }
    }
    let errors = results.iter().filter(|r| r.error.is_some()).count();
    let invalid = results.iter().filter(|r| r.error.is_none() && !r.valid).count();
    let valid = results.iter().filter(|r| r.valid).count();
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "anrf_version": sbd_anrf::ANRF_VERSION,
                "results": results,
                "summary": {"instances": results.len(), "valid": valid, "invalid": invalid, "errors": errors},
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => {
            for r in &results {
                let place = match r.line {
                    Some(l) => format!("{}:{l}", r.path),
                    None => r.path.clone(),
                };
                if let Some(e) = &r.error {
                    writeln!(out, "{place}: error: {e}")?;
                } else if r.valid {
                    writeln!(out, "{place}: valid")?;
                } else {
                    let n = r.violations.len();
                    writeln!(out, "{place}: invalid ({n} violation{})", if n == 1 { "" } else { "s" })?;
                    for v in &r.violations {
                        let ptr = if v.pointer.is_empty() { "(root)" } else { &v.pointer };
                        writeln!(out, "  {} {ptr}: {}", v.rule, v.message)?;
                        writeln!(out, "      hint: {}", v.hint)?;
                    }
                }
            }
            if results.len() > 1 {
                writeln!(out, "{} instances: {valid} valid, {invalid} invalid, {errors} unreadable", results.len())?;
            }
        }
    }
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn one(path: &str, line: Option<usize>, bytes: &[u8], limits: &Limits) -> FileResult {
    match parse_json(bytes, limits) {
        Ok(value) => {
            let Report { violations } = validate(&value);
            FileResult { path: path.into(), line, valid: violations.is_empty(), error: None, violations }
        }
        Err(e) => FileResult { path: path.into(), line, valid: false, error: Some(e.to_string()), violations: vec![] },
    }
}

fn run_migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let limits = args.limits.limits()?;
    let bytes = read_input(&args.input, &limits)?;
    let value = parse_json(&bytes, &limits).with_context(|| args.input.display().to_string())?;
    let opts = MigrateOptions {
        actor: args.actor.clone(),
        hints: IsolationHints { network: args.network, filesystem: args.filesystem.clone() },
        ..MigrateOptions::default()
    };
    let m = sbd_anrf::migrate(value, &opts).with_context(|| args.input.display().to_string())?;
    let text = serde_json::to_string_pretty(&m.instance)? + "\n";
    let report_to_stdout = args.output.is_some();
    match &args.output {
        Some(out) => write_atomically(out, text.as_bytes())?,
        None => io::stdout().lock().write_all(text.as_bytes())?,
    }
    let report = match args.format {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "from_version": m.from_version,
                "changed": m.changed,
                "inferred": m.inferred,
                "remaining": m.remaining.violations,
            }))? + "\n"
        }
        Format::Text => {
            let mut s = String::new();
            let from = m.from_version.as_deref().unwrap_or("(unversioned)");
            if m.changed {
                s += &format!("migrated {from} -> {}: {} value(s) added\n", sbd_anrf::ANRF_VERSION, m.inferred.len());
                for i in &m.inferred {
                    s += &format!("  + {} ({})\n", i.pointer, i.reason);
                }
            } else {
                s += &format!("already {}: nothing to migrate\n", sbd_anrf::ANRF_VERSION);
            }
            if m.remaining.is_valid() {
                s += "result: valid\n";
            } else {
                s += &format!(
                    "result: still invalid ({} violation(s)); fix these or add a justified, approved override:\n",
                    m.remaining.violations.len()
                );
                for v in &m.remaining.violations {
                    s += &format!("  {} {}: {}\n      hint: {}\n", v.rule, v.pointer, v.message, v.hint);
                }
            }
            s
        }
    };
    if report_to_stdout {
        io::stdout().lock().write_all(report.as_bytes())?;
    } else {
        io::stderr().lock().write_all(report.as_bytes())?;
    }
    Ok(if m.remaining.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
