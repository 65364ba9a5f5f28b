//! One module per command group. Each exposes a clap `Subcommand`/`Args` type and a
//! `run(..) -> anyhow::Result<ExitCode>` function that `main` dispatches to.
pub mod anrf;
pub mod bench;
pub mod bench_accuracy;
pub mod bench_data;
pub mod data;
pub mod explain;
pub mod output;
pub mod rules;
pub mod scan;
