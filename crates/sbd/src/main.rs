//! `sbd` — secure by default.
//!
//! One command for the whole toolkit. Each command group lives in its own module under
//! `cmd/`; this file only parses the command line, sets up logging and maps results to exit
//! codes: 0 success, 1 "the check found something" (invalid instance, findings, escapes),
//! 2 usage or I/O error.
#![forbid(unsafe_code)]

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc for Rust and, through its `override` feature, for the C code linked in (the
/// tree-sitter parsers allocate a node per token): parse-heavy work such as `sbd serve`'s
/// verify requests spent a tenth of its time in glibc malloc.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sbd",
    version,
    about = "secure by default: verify, sandbox, annotate and evaluate what code models write",
    long_about = None,
    propagate_version = true
)]
struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace). `SBD_LOG` takes a tracing filter too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// The whole flow on the embedded default: dataset, tokenizer, tiny model (pretrain, SFT,
    /// DPO, RL), evaluation of base and tuned models, gate, report, summary (resumable).
    Pipeline(cmd::pipeline::PipelineArgs),
    /// Read, validate and migrate ANRF 1.1.0 metadata; print its JSON Schema.
    #[command(subcommand)]
    Anrf(cmd::anrf::AnrfCommand),
    /// Verify code: security findings, facts, properties and overrides for files,
    /// directories or standard input (exit 0 clean, 1 findings at or above --fail-on, 2 errors).
    Scan(cmd::scan::ScanArgs),
    /// List the verifier's rules (table, JSON or a Markdown reference).
    Rules(cmd::rules::RulesArgs),
    /// Print a rule's documentation: what it does, why it matters, example, fix, references.
    Explain(cmd::explain::ExplainArgs),
    /// The override workflow: request an exception, approve it, list them all.
    #[command(subcommand)]
    Override(cmd::override_cmd::OverrideCommand),
    /// Serve the verifier, reward and ANRF tools over HTTP (for RL trainers, CI, production).
    Serve(cmd::serve::ServeArgs),
    /// Compile and run a unit inside the sandbox, with sanitizers and a test harness.
    Run(cmd::run::RunArgs),
    /// Check the sandbox itself (`sbd sandbox selftest`).
    #[command(subcommand)]
    Sandbox(cmd::sandbox::SandboxCommand),
    /// Formal verification of a C unit (Frama-C EVA, when installed).
    VerifyFormal(cmd::verify_formal::VerifyFormalArgs),
    /// Benchmarks that print a table.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Build, inspect, validate and export security-annotated training datasets.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    /// Evaluate code models on SecureBench, MemSafeBench, SandboxBench and OverrideBench:
    /// runs, calibration self-check, history, A/B comparison, reports.
    #[command(subcommand)]
    Eval(cmd::eval::EvalCommand),
    /// Judge an evaluation run against the success criteria (exit 1 on failure; JUnit XML).
    Gate(cmd::gate::GateArgs),
    /// Production monitoring: ingest logged generations into the history database.
    #[command(subcommand)]
    Monitor(cmd::monitor::MonitorCommand),
    /// Train a byte-level BPE tokenizer with the model's special tokens.
    #[command(subcommand)]
    Tokenizer(cmd::tokenizer::TokenizerCommand),
    /// Train the security-aware model: pretrain, sft, dpo, sweep.
    #[command(subcommand)]
    Train(cmd::train::TrainCommand),
    /// Generate from a trained model (verification-guided with --language).
    Generate(cmd::generate::GenerateArgs),
    /// Export a trained model (Hugging Face Llama layout).
    #[command(subcommand)]
    Export(cmd::export::ExportCommand),
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if quiet {
        "error"
    } else {
        match verbose {
            0 => "warn",
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
    };
    let filter = EnvFilter::try_from_env("SBD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Anrf(c) => cmd::anrf::run(c),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Rules(a) => cmd::rules::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Bench(c) => cmd::bench::run(c),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Override(c) => cmd::override_cmd::run(c),
        Command::Run(a) => cmd::run::run(a),
        Command::Sandbox(c) => cmd::sandbox::run(c),
        Command::VerifyFormal(a) => cmd::verify_formal::run(a),
        Command::Data(c) => cmd::data::run(c),
        Command::Eval(c) => cmd::eval::run(c),
        Command::Gate(a) => cmd::gate::run(a),
        Command::Pipeline(a) => cmd::pipeline::run(a),
        Command::Monitor(c) => cmd::monitor::run(c),
        Command::Tokenizer(c) => cmd::tokenizer::run(c),
        Command::Train(c) => cmd::train::run(c),
        Command::Generate(a) => cmd::generate::run(a),
        Command::Export(c) => cmd::export::run(c),
    };
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// A reader that went away (`sbd … | head`) is not an error worth a message.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
}
