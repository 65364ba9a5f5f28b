//! One module per command group. Each exposes a clap `Subcommand`/`Args` type and a
//! `run(..) -> anyhow::Result<ExitCode>` function that `main` dispatches to.
pub mod anrf;
pub mod bench_sandbox;
pub mod run;
pub mod sandbox;
pub mod verify_formal;
