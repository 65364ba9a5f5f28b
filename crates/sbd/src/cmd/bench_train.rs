//! `sbd bench train` — training throughput and model-FLOPs utilisation (MFU) against a
//! matmul peak measured on this machine with the same backend, right before each size.
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use sbd_model::config::{ModelConfig, Precision, TrainConfig};
use sbd_model::model::Model;
use sbd_model::train::{matmul_peak, pretrain_batch_random, train_device};

#[derive(Clone, Copy, ValueEnum)]
pub enum BenchPrecision {
    F32,
    Bf16,
    F16,
}

#[derive(Args)]
pub struct BenchTrainArgs {
    /// Model presets to measure (comma separated).
    #[arg(long, default_value = "tiny,small", value_delimiter = ',')]
    pub sizes: Vec<String>,
    /// Timed optimizer steps per size (after one warm-up step).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 128)]
    pub seq_len: usize,
    #[arg(long, default_value_t = 2048)]
    pub vocab_size: usize,
    /// Square matmul size for the peak measurement.
    #[arg(long, default_value_t = 1024)]
    pub matmul: usize,
    /// Timed matmuls per peak measurement (the best counts).
    #[arg(long, default_value_t = 8)]
    pub peak_repeats: usize,
    /// Precision of the transformer blocks (mixed precision for bf16/f16); the peak is
    /// measured in the same precision.
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: BenchPrecision,
    /// Train with gradient checkpointing.
    #[arg(long)]
    pub gradient_checkpointing: bool,
    /// Shards per batch trained at the same time, one thread each (default: one per core;
    /// 1 runs each batch whole on one graph).
    #[arg(long, value_name = "N")]
    pub data_parallel: Option<usize>,
}

pub fn run(a: BenchTrainArgs) -> anyhow::Result<ExitCode> {
    let (precision, pname) = match a.precision {
        BenchPrecision::F32 => (Precision::F32, "f32"),
        BenchPrecision::Bf16 => (Precision::Bf16, "bf16"),
        BenchPrecision::F16 => (Precision::F16, "f16"),
    };
    println!(
        "backend: burn flex (CPU), {} threads; precision {pname}{}; peak: best of {} {n}x{n} matmuls ({pname}) right before each size",
        rayon_threads(),
        if a.gradient_checkpointing { ", gradient checkpointing" } else { "" },
        a.peak_repeats,
        n = a.matmul
    );
    println!(
        "{:<8} {:>12} {:>6} {:>5} {:>10} {:>10} {:>12} {:>7}",
        "size", "params", "batch", "seq", "tokens/s", "peak GF/s", "model GF/s", "MFU"
    );
    let dp = a.data_parallel.unwrap_or_else(rayon_threads).max(1);
    println!("data parallel: {dp} shard(s) per batch, one thread each");
    for size in &a.sizes {
        let cfg = ModelConfig::preset(size, a.vocab_size)?;
        let seq = a.seq_len.min(cfg.max_seq);
        let tc = TrainConfig {
            steps: a.steps + 1,
            batch_size: a.batch_size,
            seq_len: seq,
            warmup: 1,
            gradient_checkpointing: a.gradient_checkpointing,
            precision,
            data_parallel: dp,
            ..Default::default()
        };
        let device = train_device(&sbd_model::generate::default_device(), &tc);
        let model = Model::init(&cfg, &device, 0)?;
        let peak = matmul_peak(&sbd_model::generate::default_device(), a.matmul, a.peak_repeats, precision)?;
        let (toks, secs) = pretrain_batch_random(model, &tc, 1)?;
        let tps = toks as f64 / secs;
        let flops = tps * cfg.train_flops_per_token(seq);
        println!(
            "{:<8} {:>12} {:>6} {:>5} {:>10.0} {:>10.1} {:>12.2} {:>6.1}%",
            size,
            cfg.n_params(),
            a.batch_size,
            seq,
            tps,
            peak / 1e9,
            flops / 1e9,
            100.0 * flops / peak
        );
    }
    if let Some(kib) = peak_rss_kib() {
        println!("peak resident memory of this process: {:.0} MiB", kib as f64 / 1024.0);
    }
    Ok(ExitCode::SUCCESS)
}

/// `VmHWM` of this process (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
