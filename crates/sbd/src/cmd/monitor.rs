//! `sbd monitor ingest FILE` — production generations into the history database.
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use sbd_eval::history::History;
use sbd_eval::monitor::{Generation, event};

#[derive(Subcommand)]
pub enum MonitorCommand {
    /// Ingest logged generations (JSONL: {"language", "completion", "model"?, "explanation"?,
    /// "received_at"?} per line): each is verified and stored as a monitoring event
    /// (compliance, override status, explanation quality); prints the totals.
    Ingest(IngestArgs),
}

#[derive(Args)]
pub struct IngestArgs {
    /// JSONL file (`-` for standard input).
    file: PathBuf,
    #[arg(long, default_value = "sbd-history.sqlite")]
    db: PathBuf,
}

pub fn run(cmd: MonitorCommand) -> anyhow::Result<ExitCode> {
    let MonitorCommand::Ingest(a) = cmd;
    let reader: Box<dyn BufRead> = if a.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?,
        ))
    };
    let now = sbd_eval::run::now_utc();
    let mut events = Vec::new();
    let mut skipped = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let g: Generation = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a generation record", a.file.display(), i + 1))?;
        match event(&g, &now) {
            Some(e) => events.push(e),
            None => skipped += 1,
        }
    }
    let mut h = History::open(&a.db)?;
    h.add_monitor_events(&events)?;
    let s = h.monitor_summary()?;
    println!("ingested {} generations ({skipped} in unknown languages skipped) into {}", events.len(), a.db.display());
    println!("{}", serde_json::to_string_pretty(&s)?);
    Ok(ExitCode::SUCCESS)
}
