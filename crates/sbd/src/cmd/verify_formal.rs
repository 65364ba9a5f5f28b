//! `sbd verify-formal FILE.c` — formal checks of a C unit.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use sbd_sandbox::formal::{FormalVerdict, ToolStatus, verify_c};

use super::run::Format;

/// Run Frama-C's EVA abstract interpreter (inside the sandbox) on a C file and report
/// proven / failed / unknown with each alarm's location.
///
/// "proven" means EVA raised no alarm and reached every statement: no out-of-bounds access,
/// invalid pointer, signed overflow, division by zero or uninitialised read on any execution
/// from `main`. A tool that is not installed is reported as "not available" — never as
/// verified. Exit status: 0 proven, 1 anything else, 2 usage error.
#[derive(Args)]
pub struct VerifyFormalArgs {
    /// The C file (with a `main`).
    pub file: PathBuf,
    #[arg(long)]
    pub allow_degraded: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(a: VerifyFormalArgs) -> anyhow::Result<ExitCode> {
    if a.file.extension().and_then(|e| e.to_str()) != Some("c") {
        bail!("{}: only C files (.c) are supported; Miri for Rust is not supported yet", a.file.display());
    }
    let results = verify_c(&a.file, a.allow_degraded)?;
    let proven = results.iter().any(|r| matches!(r.status, ToolStatus::Ran { verdict: FormalVerdict::Proven, .. }));
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&results)?),
        Format::Text => {
            for r in &results {
                match &r.status {
                    ToolStatus::NotAvailable { reason } => {
                        println!("{}: not available ({reason})", r.tool)
                    }
                    ToolStatus::Error { message } => println!("{}: error: {message}", r.tool),
                    ToolStatus::Ran { verdict, properties, coverage, main_terminates, .. } => {
                        let v = match verdict {
                            FormalVerdict::Proven => "proven",
                            FormalVerdict::Failed => "FAILED",
                            FormalVerdict::Unknown => "unknown",
                        };
                        let cov = coverage.map(|(r, t)| format!(", {r}/{t} statements reached")).unwrap_or_default();
                        let term = if *main_terminates { "" } else { ", main never terminates normally" };
                        println!("{}: {v} ({} alarm(s){cov}{term})", r.tool, properties.len());
                        for p in properties {
                            println!("  {} {}: {} [{}] in {}", p.location, p.status, p.property, p.kind, p.function);
                        }
                    }
                }
            }
        }
    }
    Ok(if proven { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
