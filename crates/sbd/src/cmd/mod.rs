//! One module per command group. Each exposes a clap `Subcommand`/`Args` type and a
//! `run(..) -> anyhow::Result<ExitCode>` function that `main` dispatches to.
pub mod anrf;
pub mod bench;
pub mod bench_accuracy;
pub mod bench_data;
pub mod bench_sandbox;
pub mod bench_serve;
pub mod bench_train;
pub mod data;
pub mod eval;
pub mod explain;
pub mod export;
pub mod gate;
pub mod generate;
pub mod monitor;
pub mod output;
pub mod override_cmd;
pub mod pipeline;
pub mod rules;
pub mod run;
pub mod sandbox;
pub mod scan;
pub mod scan_html;
pub mod serve;
pub mod tokenizer;
pub mod train;
pub mod verify_formal;
