//! `sbd rules` — list the verifier's rules.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sbd_scan::Limits;
use sbd_scan::output::rule_markdown;

#[derive(Args)]
pub struct RulesArgs {
    /// Output format: an aligned table, JSON (the full rule definitions), or a Markdown
    /// reference with every rule's documentation.
    #[arg(long, value_enum, default_value_t = RulesFormat::Table)]
    format: RulesFormat,
    /// Also load every rule file (*.toml) under DIR.
    #[arg(long, value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Only rules for this language.
    #[arg(long, value_name = "L")]
    lang: Option<sbd_scan::Language>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    Table,
    Json,
    Markdown,
}

pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let scanner = super::scan::build_scanner(&args.rules, Vec::new(), Vec::new(), Limits::default())?;
    let rules: Vec<&sbd_scan::Rule> =
        scanner.rules().iter().filter(|r| args.lang.is_none_or(|l| r.languages.contains(&l))).collect();
    let out = std::io::stdout();
    let mut out = out.lock();
    match args.format {
        RulesFormat::Table => {
            writeln!(out, "{:<8} {:<9} {:<16} {:<10} {:<24} TITLE", "ID", "SEVERITY", "CLASS", "CWE", "LANGUAGES")?;
            for r in &rules {
                let cwe: Vec<String> = r.cwe.iter().map(u32::to_string).collect();
                let langs: Vec<&str> = r.languages.iter().map(|l| l.name()).collect();
                let langs = if langs.len() > 3 { "all".to_string() } else { langs.join(",") };
                writeln!(
                    out,
                    "{:<8} {:<9} {:<16} {:<10} {:<24} {}",
                    r.id,
                    r.severity.name(),
                    r.class.name(),
                    cwe.join(","),
                    langs,
                    r.title
                )?;
            }
            writeln!(out, "{} rules", rules.len())?;
        }
        RulesFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rules)?)?,
        RulesFormat::Markdown => {
            writeln!(out, "# sbd rule reference\n")?;
            writeln!(out, "| id | title | severity | CWE |\n|---|---|---|---|")?;
            for r in &rules {
                let cwe: Vec<String> = r.cwe.iter().map(|c| format!("CWE-{c}")).collect();
                writeln!(
                    out,
                    "| [{}](#{}) | {} | {} | {} |",
                    r.id,
                    r.id.to_lowercase(),
                    r.title,
                    r.severity.name(),
                    cwe.join(", ")
                )?;
            }
            writeln!(out)?;
            for r in &rules {
                writeln!(out, "{}", rule_markdown(r))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
