//! `sbd explain RULE` — print a rule's documentation.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use sbd_scan::Limits;
use sbd_scan::output::rule_markdown;

#[derive(Args)]
pub struct ExplainArgs {
    /// The rule id, e.g. PY002 (case-insensitive).
    rule: String,
    /// Also load every rule file (*.toml) under DIR.
    #[arg(long, value_name = "DIR")]
    rules: Vec<PathBuf>,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let scanner = super::scan::build_scanner(&args.rules, Vec::new(), Vec::new(), Limits::default())?;
    let id = args.rule.to_ascii_uppercase();
    let Some(rule) = scanner.rule(&id) else {
        let close: Vec<&str> = scanner
            .rules()
            .iter()
            .map(|r| r.id.as_str())
            .filter(|r| r.starts_with(id.trim_end_matches(|c: char| c.is_ascii_digit())))
            .take(8)
            .collect();
        if close.is_empty() {
            bail!("no rule `{}` (list them with `sbd rules`)", args.rule);
        }
        bail!("no rule `{}`; rules with that prefix: {}", args.rule, close.join(", "));
    };
    let mut out = std::io::stdout().lock();
    write!(out, "{}", rule_markdown(rule))?;
    Ok(ExitCode::SUCCESS)
}
