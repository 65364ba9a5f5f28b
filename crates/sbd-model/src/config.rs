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

/// How the property head pools the final hidden states of a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PropertyPool {
    /// The mean over the sequence (`[N_PROPS, d]` head).
    #[default]
    Mean,
    /// The mean and the element-wise maximum, concatenated (`[N_PROPS, 2d]` head): a
    /// weakness is usually a few tokens, which a mean over hundreds of tokens dilutes.
    MeanMax,
}

impl PropertyPool {
    /// Width of the pooled vector for a model of width `d`.
    pub fn width(self, d: usize) -> usize {
        match self {
            PropertyPool::Mean => d,
            PropertyPool::MeanMax => 2 * d,
        }
    }
}

/// Low-rank adapters (LoRA) on the projection matrices: `W x + (alpha / rank) · B A x` with
/// `A: [rank, in]`, `B: [out, rank]`; only `A` and `B` train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    pub rank: usize,
    pub alpha: f64,
    /// Projection names that get adapters: any of `q_proj`, `k_proj`, `v_proj`, `o_proj`,
    /// `gate_proj`, `up_proj`, `down_proj`.
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
                .map(String::from)
                .to_vec(),
        }
    }
}

impl LoraConfig {
    pub const TARGETS: [&'static str; 7] =
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    pub fn validate(&self) -> Result<()> {
        if self.rank == 0 || self.alpha <= 0.0 {
            return Err(Error::Invalid("LoRA rank and alpha must be positive".into()));
        }
        if self.targets.is_empty() {
            return Err(Error::Invalid("LoRA needs at least one target projection".into()));
        }
        if let Some(t) = self.targets.iter().find(|t| !Self::TARGETS.contains(&t.as_str())) {
            return Err(Error::Invalid(format!("LoRA target {t}: expected one of {}", Self::TARGETS.join(", "))));
        }
        Ok(())
    }

    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

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
    /// Pooling of the property head (checkpoints written before this field pool by mean).
    #[serde(default)]
    pub property_pool: PropertyPool,
    /// Unmerged LoRA adapters held in the weights file (only inside a training checkpoint;
    /// finished models have them merged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
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
            // Between tiny and small: what trains in minutes on a laptop CPU.
            "mini" => (128, 4, 4, 352, 512),
            "350m" => (1024, 24, 16, 2816, 2048),
            "1b" => (2048, 22, 32, 5632, 2048),
            "7b" => (4096, 32, 32, 11008, 4096),
            other => {
                return Err(Error::Invalid(format!("unknown preset {other} (tiny, mini, small, base, 350m, 1b, 7b)")));
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
            property_pool: PropertyPool::MeanMax,
            lora: None,
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
        if let Some(l) = &self.lora {
            l.validate()?;
        }
        Ok(())
    }

    /// Parameters of the transformer (heads included, adapters excluded).
    pub fn n_params(&self) -> usize {
        let d = self.d_model;
        let per_layer = 4 * d * d + 3 * d * self.d_ff + 2 * d;
        2 * self.vocab_size * d
            + self.n_layers * per_layer
            + d
            + N_TAGS * d
            + N_PROPS * (self.property_pool.width(d) + 1)
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
    /// Sequence-level security property prediction (BCE: the mean over the four properties
    /// plus the mean over the CWE labels).
    pub property: f64,
    /// Token-level security tags (CE).
    pub tags: f64,
    /// Next-token prediction on the explanation segment.
    pub explanation: f64,
    /// Code–metadata consistency: the ANRF summary of the code itself must be more likely
    /// after the code than a mismatched one (the pair partner's, else another example's).
    pub consistency: f64,
    /// Share of examples that also get a consistency pair (0..1).
    pub consistency_rate: f64,
    /// Adversarial examples: a verifier-confirmed mutant must score as more insecure than the
    /// secure code it was made from (a margin on the property head's logit).
    pub adversarial: f64,
}

impl Default for ObjectiveWeights {
    fn default() -> Self {
        ObjectiveWeights {
            next_token: 1.0,
            fim_rate: 0.3,
            property: 1.0,
            tags: 0.5,
            explanation: 1.0,
            consistency: 0.5,
            consistency_rate: 0.25,
            adversarial: 0.5,
        }
    }
}

/// Everything `--ablate` can switch off.
pub const ABLATIONS: [&str; 9] =
    ["next_token", "fim", "property", "tags", "explanation", "consistency", "adversarial", "curriculum", "overrides"];

impl ObjectiveWeights {
    /// Switches one objective off (`--ablate NAME`).
    pub fn ablate(&mut self, name: &str) -> Result<()> {
        match name {
            "next_token" => self.next_token = 0.0,
            "fim" => self.fim_rate = 0.0,
            "property" => self.property = 0.0,
            "tags" => self.tags = 0.0,
            "explanation" => self.explanation = 0.0,
            "consistency" => self.consistency = 0.0,
            "adversarial" => self.adversarial = 0.0,
            other => {
                return Err(Error::Invalid(format!(
                    "unknown objective {other} (next_token, fim, property, tags, explanation, consistency, adversarial)"
                )));
            }
        }
        Ok(())
    }
}

/// The curriculum: which examples a step may draw, by progress `p` = step / steps.
///
/// - complexity (`simple` < `moderate` < `complex`): level `c` enters at
///   `p = c · complexity_ramp / 2`, so the hardest code arrives at `complexity_ramp`;
/// - security concepts (the verifier's weakness classes; clean code counts as one concept)
///   enter one after another in order of frequency, the last at `concept_ramp`;
/// - override scenarios enter at `override_start`;
/// - among the admitted examples, a concept is drawn in proportion to
///   `frequency^(1 − balance)` (0 = as often as in the data, 1 = every concept equally often).
///
/// Disabled, every example is drawn once per epoch in a shuffled order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CurriculumConfig {
    pub enabled: bool,
    pub complexity_ramp: f64,
    pub concept_ramp: f64,
    pub override_start: f64,
    pub balance: f64,
    /// Override scenarios at all (`--ablate overrides` drops them from training).
    pub overrides: bool,
}

impl Default for CurriculumConfig {
    fn default() -> Self {
        CurriculumConfig {
            enabled: true,
            complexity_ramp: 0.4,
            concept_ramp: 0.3,
            override_start: 0.6,
            balance: 0.5,
            overrides: true,
        }
    }
}

/// Numeric precision of the forward and backward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// f32 everywhere.
    #[default]
    F32,
    /// Mixed: f32 master weights and optimizer state; the transformer blocks run in bf16
    /// (weights and activations cast per step); norms, softmax statistics, losses and
    /// gradients reaching the optimizer stay f32.
    Bf16,
    /// As `bf16` with IEEE half precision.
    F16,
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
    pub curriculum: CurriculumConfig,
    /// Recompute memory-bound activations in the backward pass instead of keeping them
    /// (burn's balanced checkpointing strategy).
    pub gradient_checkpointing: bool,
    pub precision: Precision,
    /// Train low-rank adapters instead of the full weights (fine-tuning modes); they are
    /// merged into the weights when the run ends.
    pub lora: Option<LoraConfig>,
    /// Data parallelism on one machine: each batch is split into this many shards whose
    /// forward and backward passes run at the same time, one thread each, on replicas of the
    /// model that share its weights; their gradients are averaged. 1 runs the batch whole.
    /// The CLI sets it to the number of cores unless told otherwise.
    pub data_parallel: usize,
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
            curriculum: CurriculumConfig::default(),
            gradient_checkpointing: false,
            precision: Precision::F32,
            lora: None,
            data_parallel: 1,
        }
    }
}

impl TrainConfig {
    /// Switches an objective or the curriculum (or its override scenarios) off.
    pub fn ablate(&mut self, name: &str) -> Result<()> {
        match name {
            "curriculum" => self.curriculum.enabled = false,
            "overrides" => self.curriculum.overrides = false,
            other => {
                self.objectives.ablate(other).map_err(|_| {
                    Error::Invalid(format!("unknown ablation {other} (one of {})", ABLATIONS.join(", ")))
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_count_parameters() {
        for p in ["tiny", "mini", "small", "base", "350m", "1b", "7b"] {
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
        let mut t = TrainConfig::default();
        for a in ABLATIONS {
            t.ablate(a).unwrap();
        }
        assert!(!t.curriculum.enabled && !t.curriculum.overrides);
        assert_eq!((t.objectives.consistency, t.objectives.adversarial), (0.0, 0.0));
        assert!(t.ablate("nope").is_err());
        // Configs written before the new fields still read (their property head pools by mean).
        let old: ModelConfig =
            serde_json::from_str(r#"{"vocab_size":10,"d_model":8,"n_layers":1,"n_heads":2,"d_ff":16,"max_seq":16}"#)
                .unwrap();
        assert_eq!(old.property_pool, PropertyPool::Mean);
        assert!(old.lora.is_none());
        let bad = LoraConfig { targets: vec!["wq".into()], ..Default::default() };
        assert!(bad.validate().is_err());
    }
}
