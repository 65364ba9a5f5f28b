//! `sbd bench train` — training throughput and model-FLOPs utilisation (MFU) against a
//! matmul peak measured on this machine with the same backend.
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use sbd_model::config::{ModelConfig, TrainConfig};
use sbd_model::model::{Model, dev, host};
use sbd_model::rng::Rng;
use sbd_model::train::pretrain_batch_random;

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
}

/// Best of a few timed `n×n·n×n` matmuls, in FLOP/s.
fn matmul_peak(n: usize) -> anyhow::Result<f64> {
    let d = sbd_model::generate::default_device();
    let mut rng = Rng::new(1);
    let a = dev((0..n * n).map(|_| rng.normal() as f32).collect(), [n, n], &d);
    let b = dev((0..n * n).map(|_| rng.normal() as f32).collect(), [n, n], &d);
    let mut best = f64::MAX;
    for _ in 0..4 {
        let t = Instant::now();
        let c = a.clone().matmul(b.clone());
        let _ = host(c.sum())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(2.0 * (n as f64).powi(3) / best)
}

pub fn run(a: BenchTrainArgs) -> anyhow::Result<ExitCode> {
    let peak = matmul_peak(a.matmul)?;
    println!(
        "backend: burn flex (CPU), {} threads; matmul peak {:.1} GFLOP/s ({n}x{n} f32)",
        rayon_threads(),
        peak / 1e9,
        n = a.matmul
    );
    println!(
        "{:<8} {:>12} {:>8} {:>6} {:>12} {:>14} {:>7}",
        "size", "params", "batch", "seq", "tokens/s", "model GFLOP/s", "MFU"
    );
    for size in &a.sizes {
        let cfg = ModelConfig::preset(size, a.vocab_size)?;
        let seq = a.seq_len.min(cfg.max_seq);
        let device = sbd_model::generate::default_device().autodiff();
        let tc =
            TrainConfig { steps: a.steps + 1, batch_size: a.batch_size, seq_len: seq, warmup: 1, ..Default::default() };
        let model = Model::init(&cfg, &device, 0)?;
        let (toks, secs) = pretrain_batch_random(model, &tc, 1)?;
        let tps = toks as f64 / secs;
        let flops = tps * cfg.train_flops_per_token(seq);
        println!(
            "{:<8} {:>12} {:>8} {:>6} {:>12.0} {:>14.2} {:>6.1}%",
            size,
            cfg.n_params(),
            a.batch_size,
            seq,
            tps,
            flops / 1e9,
            100.0 * flops / peak
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
