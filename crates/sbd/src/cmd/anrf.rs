//! `sbd anrf …` — ANRF 1.1.0 tooling.
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum AnrfCommand {
    /// Print the ANRF version this build implements.
    Version,
}

pub fn run(cmd: AnrfCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AnrfCommand::Version => {
            println!("{}", sbd_anrf::ANRF_VERSION);
            Ok(ExitCode::SUCCESS)
        }
    }
}
