//! Model sizes and training hyperparameters (`config.json` in a checkpoint).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Number of token-level security tag classes: 0 = none, then one per verifier class.
pub const N_TAGS: usize = 11;
/// CWEs the property head predicts (multi-label), after the four property bits.
pub const CWES: [u32; 16] = [20, 22, 78, 79, 89, 119, 125, 190, 327, 338, 416, 476, 502, 787, 798, 918];
/// Property head outputs: insecure (a finding at medium or above), memory safe, resource
/// bounded, override needed, then one per entry of [`CWES`].
pub const PROPERTY_NAMES: [&str; 4] = ["insecure", "memory_safe", "resource_bounded", "override_needed"];
pub const N_PROPS: usize = PROPERTY_NAMES.len() + CWES.len();

/// Architecture of the decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_ff: usize,
    pub max_seq: usize,
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_eps")]
    pub norm_eps: f64,
    /// Temperature for the property head's probabilities (fitted on validation data).
    #[serde(default = "one")]
    pub property_temperature: f64,
}

fn default_theta() -> f64 {
    10000.0
}
fn default_eps() -> f64 {
    1e-5
}
fn one() -> f64 {
    1.0
}

impl ModelConfig {
    /// Named presets. `tiny` is for CI; `1b` and up only train on a GPU.
    pub fn preset(name: &str, vocab_size: usize) -> Result<Self> {
        let (d, l, h, ff, seq) = match name {
            "tiny" => (64, 2, 4, 176, 256),
            "small" => (256, 4, 8, 688, 512),
            "base" => (512, 8, 8, 1376, 1024),
            "350m" => (1024, 24, 16, 2816, 2048),
            "1b" => (2048, 22, 32, 5632, 2048),
            "7b" => (4096, 32, 32, 11008, 4096),
            other => {
                return Err(Error::Invalid(format!("unknown preset {other} (tiny, small, base, 350m, 1b, 7b)")));
            }
        };
        Ok(ModelConfig {
            vocab_size,
            d_model: d,
            n_layers: l,
            n_heads: h,
            d_ff: ff,
            max_seq: seq,
            rope_theta: default_theta(),
            norm_eps: default_eps(),
            property_temperature: 1.0,
        })
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    pub fn validate(&self) -> Result<()> {
        if self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) || !self.head_dim().is_multiple_of(2) {
            return Err(Error::Invalid("d_model must split into heads of even size".into()));
        }
        if self.vocab_size == 0 || self.n_layers == 0 || self.max_seq < 8 {
            return Err(Error::Invalid("vocab_size, n_layers and max_seq must be positive".into()));
        }
        Ok(())
    }

    /// Parameters of the transformer (heads included).
    pub fn n_params(&self) -> usize {
        let d = self.d_model;
        let per_layer = 4 * d * d + 3 * d * self.d_ff + 2 * d;
        2 * self.vocab_size * d + self.n_layers * per_layer + d + N_TAGS * d + N_PROPS * (d + 1)
    }

    /// Training FLOPs per token (forward + backward ≈ 3 × forward): 6·N plus attention.
    pub fn train_flops_per_token(&self, seq: usize) -> f64 {
        let n = self.n_params() - self.vocab_size * self.d_model; // embedding lookup is free
        6.0 * n as f64 + 12.0 * (self.n_layers * self.d_model * seq) as f64
    }
}

/// Weights of the pretraining objectives (0 switches one off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveWeights {
    /// Next-token prediction on code and metadata.
    pub next_token: f64,
    /// Share of code examples rewritten into fill-in-the-middle form (0..1).
    pub fim_rate: f64,
    /// Sequence-level security property prediction (BCE).
    pub property: f64,
    /// Token-level security tags (CE).
    pub tags: f64,
    /// Next-token prediction on the explanation segment.
    pub explanation: f64,
}

impl Default for ObjectiveWeights {
    fn default() -> Self {
        ObjectiveWeights { next_token: 1.0, fim_rate: 0.3, property: 1.0, tags: 0.5, explanation: 1.0 }
    }
}

impl ObjectiveWeights {
    /// Switches one objective off (`--ablate NAME`).
    pub fn ablate(&mut self, name: &str) -> Result<()> {
        match name {
            "next_token" => self.next_token = 0.0,
            "fim" => self.fim_rate = 0.0,
            "property" => self.property = 0.0,
            "tags" => self.tags = 0.0,
            "explanation" => self.explanation = 0.0,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown objective {other} (next_token, fim, property, tags, explanation)"
                )));
            }
        }
        Ok(())
    }
}

/// Hyperparameters of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub grad_accum: usize,
    pub seq_len: usize,
    pub lr: f64,
    pub min_lr: f64,
    pub warmup: usize,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub clip_norm: f64,
    pub seed: u64,
    pub checkpoint_every: usize,
    pub objectives: ObjectiveWeights,
    /// DPO temperature β.
    pub dpo_beta: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 200,
            batch_size: 8,
            grad_accum: 1,
            seq_len: 128,
            lr: 3e-3,
            min_lr: 3e-4,
            warmup: 20,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            clip_norm: 1.0,
            seed: 0,
            checkpoint_every: 50,
            objectives: ObjectiveWeights::default(),
            dpo_beta: 0.1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_count_parameters() {
        for p in ["tiny", "small", "base", "350m", "1b", "7b"] {
            let c = ModelConfig::preset(p, 32000).unwrap();
            c.validate().unwrap();
        }
        let seven = ModelConfig::preset("7b", 32000).unwrap().n_params() as f64;
        assert!((6.5e9..7.0e9).contains(&seven), "{seven}");
        assert!(ModelConfig::preset("huge", 10).is_err());
        let mut w = ObjectiveWeights::default();
        w.ablate("fim").unwrap();
        assert_eq!(w.fim_rate, 0.0);
        assert!(w.ablate("nope").is_err());
    }
}
