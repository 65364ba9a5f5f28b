//! `sbd scan` — run the verifier over files, directories or standard input.
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use rayon::prelude::*;
use sbd_scan::output::{ScanFailure, json_document, render_text, sarif};
use sbd_scan::{Language, Limits, Report, Scanner, Severity, catalog};

#[derive(Args)]
pub struct ScanArgs {
    /// Files or directories to scan (directories recursively, honouring .gitignore); `-` reads
    /// standard input (then give --lang unless the text starts with a #! line).
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<String>,
    /// Treat every input as this language (c, cpp, rust, python, go, java, javascript,
    /// typescript, csharp, php) instead of detecting it from the extension or #! line.
    #[arg(long, value_name = "L")]
    lang: Option<Language>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Text)]
    format: ScanFormat,
    /// Also load every rule file (*.toml) under DIR; a rule with an existing id replaces it.
    #[arg(long, value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Only these rules (comma-separated ids or id prefixes, e.g. `PY,C001`).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    select: Vec<String>,
    /// Skip these rules (comma-separated ids or id prefixes).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    ignore: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Exit with 1 when a finding at or above this severity remains (info, low, medium, high,
    /// critical).
    #[arg(long, value_name = "SEVERITY", default_value = "info")]
    fail_on: Severity,
    /// Print each unit's ANRF 1.1.0 instance with the validator's verdict instead of findings;
    /// exit 1 when an instance is invalid.
    #[arg(long)]
    anrf: bool,
    /// Also write a self-contained HTML page: code with findings, facts and overrides
    /// highlighted inline, each finding's explanation, and the unit's ANRF layers side by side.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Skip files larger than this many bytes (reported as a note).
    #[arg(long, value_name = "BYTES", default_value_t = 10 * 1024 * 1024)]
    max_bytes: usize,
    /// Give up parsing a file after this many milliseconds (reported as a note).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    parse_budget_ms: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Compiler-style diagnostics with the source line and a caret.
    Text,
    /// The versioned JSON report document (schema `sbd-scan-report`).
    Json,
    /// SARIF 2.1.0 with every active rule and its documentation.
    Sarif,
}

/// Build the scanner from the common rule options.
pub fn build_scanner(
    rules: &[PathBuf],
    select: Vec<String>,
    ignore: Vec<String>,
    limits: Limits,
) -> anyhow::Result<Scanner> {
    let mut extra = Vec::new();
    for dir in rules {
        extra.extend(catalog::load_dir(dir).with_context(|| format!("cannot load rules from {}", dir.display()))?);
    }
    Ok(Scanner::builder().rules(extra).select(select).ignore(ignore).limits(limits).build()?)
}

struct Unit {
    report: Report,
    rendered: String,
    /// The text, kept when an HTML page is wanted.
    source: Option<String>,
}

fn scan_file(
    scanner: &Scanner,
    path: &Path,
    lang: Option<Language>,
    text_out: bool,
    keep_source: bool,
) -> Result<Unit, ScanFailure> {
    let shown = path.display().to_string();
    let fail = |e: String| ScanFailure { path: shown.clone(), error: e };
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    let max = scanner.limits().max_bytes;
    let detected = lang.or_else(|| Language::detect(path, None));
    if meta.len() > max as u64 {
        let r = Report::unscanned(
            detected.unwrap_or(Language::C),
            Some(&shown),
            meta.len() as usize,
            format!(
                "not scanned: {} bytes exceeds the size limit of {max} bytes (raise it with --max-bytes)",
                meta.len()
            ),
        );
        let rendered = if text_out { render_text(&r, None) } else { String::new() };
        return Ok(Unit { report: r, rendered, source: keep_source.then(String::new) });
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let lang = match detected {
        Some(l) => l,
        None => {
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
            Language::from_shebang(&head).ok_or_else(|| fail("unknown language (use --lang)".into()))?
        }
    };
    let report = scanner.scan_bytes(&bytes, lang, Some(&shown));
    let rendered = if text_out {
        let text = String::from_utf8_lossy(&bytes);
        render_text(&report, Some(&text))
    } else {
        String::new()
    };
    let source = keep_source.then(|| String::from_utf8_lossy(&bytes).into_owned());
    Ok(Unit { report, rendered, source })
}

/// Expand the command-line paths into files: explicit files as given (any extension),
/// directories walked with .gitignore rules, keeping files of a known language.
fn collect(paths: &[String], lang: Option<Language>, failures: &mut Vec<ScanFailure>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        let path = Path::new(p);
        match std::fs::metadata(path) {
            Err(e) => failures.push(ScanFailure { path: p.clone(), error: format!("cannot read: {e}") }),
            Ok(m) if m.is_dir() => {
                let walker = ignore::WalkBuilder::new(path).follow_links(false).build();
                for entry in walker {
                    match entry {
                        Ok(e) => {
                            if e.file_type().is_some_and(|t| t.is_file())
                                && (lang.is_some() || Language::detect(e.path(), None).is_some())
                            {
                                files.push(e.into_path());
                            }
                        }
                        Err(err) => failures.push(ScanFailure { path: p.clone(), error: err.to_string() }),
                    }
                }
            }
            Ok(_) => files.push(path.to_path_buf()),
        }
    }
    files.sort();
    files.dedup();
    files
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits { max_bytes: args.max_bytes, parse_budget: Duration::from_millis(args.parse_budget_ms) };
    let scanner = build_scanner(&args.rules, args.select.clone(), args.ignore.clone(), limits)?;
    let text_out = args.format == ScanFormat::Text && !args.anrf;
    let mut failures = Vec::new();
    let mut units: Vec<Unit> = Vec::new();

    let stdin = args.paths.iter().any(|p| p == "-");
    if stdin {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(args.max_bytes as u64 + 1)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
        let lang = match args.lang {
            Some(l) => l,
            None => {
                let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
                match Language::from_shebang(&head) {
                    Some(l) => l,
                    None => bail!("cannot tell the language of standard input: give --lang"),
                }
            }
        };
        let report = scanner.scan_bytes(&bytes, lang, Some("<stdin>"));
        let rendered =
            if text_out { render_text(&report, Some(&String::from_utf8_lossy(&bytes))) } else { String::new() };
        let source = args.html.is_some().then(|| String::from_utf8_lossy(&bytes).into_owned());
        units.push(Unit { report, rendered, source });
    }
    let paths: Vec<String> = args.paths.iter().filter(|p| *p != "-").cloned().collect();
    let files = collect(&paths, args.lang, &mut failures);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let results: Vec<Result<Unit, ScanFailure>> = pool.install(|| {
        files.par_iter().map(|f| scan_file(&scanner, f, args.lang, text_out, args.html.is_some())).collect()
    });
    for r in results {
        match r {
            Ok(u) => units.push(u),
            Err(f) => failures.push(f),
        }
    }

    if let Some(path) = &args.html {
        let pages: Vec<(&Report, &str)> =
            units.iter().map(|u| (&u.report, u.source.as_deref().unwrap_or(""))).collect();
        crate::cmd::output::write_atomically(path, super::scan_html::render(&pages).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    let fail_hits = units.iter().flat_map(|u| &u.report.findings).filter(|f| f.severity >= args.fail_on).count();
    if args.anrf {
        let now = sbd_anrf::time::now_rfc3339();
        let mut all_valid = true;
        let items: Vec<serde_json::Value> = units
            .iter()
            .map(|u| {
                let (inst, verdict) = sbd_scan::anrf::unit_anrf_validated(&u.report, &now);
                all_valid &= verdict.is_valid();
                serde_json::json!({
                    "path": u.report.path,
                    "valid": verdict.is_valid(),
                    "violations": verdict.violations,
                    "anrf": inst,
                })
            })
            .collect();
        let doc =
            serde_json::json!({"schema": "sbd-scan-anrf", "version": "1.0.0", "units": items, "errors": failures});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(exit_code(!failures.is_empty(), fail_hits > 0 || !all_valid));
    }
    match args.format {
        ScanFormat::Text => {
            for u in &units {
                out.write_all(u.rendered.as_bytes())?;
            }
            for f in &failures {
                writeln!(out, "{}: error: {}", f.path, f.error)?;
            }
            let total: usize = units.iter().map(|u| u.report.findings.len()).sum();
            let suppressed: usize = units.iter().map(|u| u.report.suppressed.len()).sum();
            let mut by_sev = [0usize; 5];
            for f in units.iter().flat_map(|u| &u.report.findings) {
                by_sev[f.severity as usize] += 1;
            }
            let names = ["info", "low", "medium", "high", "critical"];
            let parts: Vec<String> =
                (0..5).rev().filter(|&i| by_sev[i] > 0).map(|i| format!("{} {}", by_sev[i], names[i])).collect();
            writeln!(
                out,
                "{} finding{}{} in {} unit{}; {} suppressed by overrides; {} error{}",
                total,
                if total == 1 { "" } else { "s" },
                if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(", ")) },
                units.len(),
                if units.len() == 1 { "" } else { "s" },
                suppressed,
                failures.len(),
                if failures.len() == 1 { "" } else { "s" },
            )?;
        }
        ScanFormat::Json => {
            let reports: Vec<Report> = units.into_iter().map(|u| u.report).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&json_document(&reports, &failures))?)?;
        }
        ScanFormat::Sarif => {
            let reports: Vec<Report> = units.into_iter().map(|u| u.report).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&sarif(&reports, scanner.rules()))?)?;
        }
    }
    Ok(exit_code(!failures.is_empty(), fail_hits > 0))
}

fn exit_code(errors: bool, findings: bool) -> ExitCode {
    if errors {
        ExitCode::from(2)
    } else if findings {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
