//! `sbd sandbox …` — check the sandbox itself.
use std::process::ExitCode;

use clap::{Args, Subcommand};
use sbd_sandbox::Mechanisms;
use sbd_sandbox::escape::{run_selftest, table};

use super::run::Format;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Run the escape suite and print attempt / expected / observed / contained.
    ///
    /// Hostile programs in C, Python and Rust try to read a secret outside the work
    /// directory, write outside it, reach a 127.0.0.1 listener, resolve a host name, fork-bomb,
    /// allocate and spin without bound, fill the disk, exec a shell, ptrace, see or signal host
    /// processes, follow symlinks out, outlive the time limit and leave a daemon behind. Exit
    /// status 1 if anything escaped; attempts whose toolchain is missing are shown as skipped.
    Selftest(SelftestArgs),
}

#[derive(Args)]
pub struct SelftestArgs {
    /// Run even when landlock or seccomp is missing (the table then shows what still holds).
    #[arg(long)]
    pub allow_degraded: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

pub fn run(cmd: SandboxCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SandboxCommand::Selftest(a) => {
            let rows = run_selftest(a.allow_degraded)?;
            let escaped = rows.iter().filter(|r| r.contained == Some(false)).count();
            match a.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
                Format::Text => {
                    let m = Mechanisms::get();
                    println!(
                        "sandbox as uid {}: landlock {}, seccomp {}",
                        current_uid(),
                        match &m.landlock_abi {
                            Ok(v) => format!("ABI {v}"),
                            Err(e) => format!("missing ({e})"),
                        },
                        if m.seccomp { "yes" } else { "missing" }
                    );
                    print!("{}", table(&rows));
                    let skipped = rows.iter().filter(|r| r.contained.is_none()).count();
                    println!("{} contained, {escaped} escaped, {skipped} skipped", rows.len() - escaped - skipped);
                }
            }
            Ok(if escaped == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

fn current_uid() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        })
        .unwrap_or_else(|| "?".into())
}
