//! `sbd gate RUN` — judge a run against the success criteria.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sbd_eval::gate::{DEFAULT_POLICY, Status, describe, evaluate, junit};
use sbd_eval::run::read_summary;

/// Judge an evaluation run (a directory written by `sbd eval run`, or its run.json) against the
/// success criteria of the requirements' section 7: prints each criterion, its threshold, the
/// measured value with its 95% interval and pass/fail. Exit 0 when every criterion passes (or
/// is not measured and not required), 1 when one fails, 2 on errors.
#[derive(Args)]
pub struct GateArgs {
    /// Run directory or run.json.
    #[arg(required_unless_present = "print_policy")]
    run: Option<PathBuf>,
    /// Policy TOML (default: the built-in section 7 policy; see --print-policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Also write JUnit XML here (one test case per criterion).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// History database: human ratings imported for this run add USS (skipped when absent).
    #[arg(long, default_value = "sbd-history.sqlite")]
    db: PathBuf,
    /// Print the default policy (to edit) and exit.
    #[arg(long)]
    print_policy: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: super::eval::Format,
}

pub fn run(a: GateArgs) -> anyhow::Result<ExitCode> {
    if a.print_policy {
        print!("{DEFAULT_POLICY}");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(run) = a.run else { anyhow::bail!("give a run directory") };
    let (summary, _) = read_summary(&run)?;
    let policy = super::eval::load_policy(a.policy.as_deref())?;
    let mut metrics = summary.metrics.clone();
    if a.db.exists() {
        let h = sbd_eval::history::History::open(&a.db)?;
        metrics.extend(h.feedback_metrics(Some(&summary.id))?.into_iter().filter(|m| m.n > 0));
    }
    let result = evaluate(&policy, &metrics);
    if let Some(p) = &a.junit {
        std::fs::write(p, junit(&result, &format!("sbd gate {}", summary.id)))
            .with_context(|| format!("writing {}", p.display()))?;
    }
    match a.format {
        super::eval::Format::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        super::eval::Format::Text => {
            println!(
                "gate for run {} ({}, {} tasks, backend {})",
                summary.id, summary.suite, summary.tasks, summary.backend
            );
            println!("{:<55} {:<14} {:>10}  {:<38} result", "criterion", "metric", "needs", "measured [95% CI]");
            for v in &result.verdicts {
                let c = &v.criterion;
                let needs = c.min.map(|x| format!(">= {x}")).or(c.max.map(|x| format!("<= {x}"))).unwrap_or_default();
                let measured = v.metric.as_ref().map(describe).unwrap_or_else(|| "not measured".into());
                let st = match v.status {
                    Status::Pass => "pass",
                    Status::Fail => "FAIL",
                    Status::NotMeasured => "n/a",
                };
                println!("{:<55} {:<14} {:>10}  {:<38} {st}", c.name, c.metric, needs, measured);
            }
            println!("gate: {}", if result.pass { "PASS" } else { "FAIL" });
        }
    }
    Ok(if result.pass { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
