//! The decoder: a Llama-style transformer with a security-tag head and a property head.
//!
//! Parameters are named tensors in PyTorch layout (`[out, in]`), named as in Hugging Face's
//! Llama (`model.layers.0.self_attn.q_proj.weight`); the two security heads are `sbd.*`.
//! One-dimensional weights are held as `[1, n]` on the device and saved as `[n]`.

use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, FloatDType, Int, Tensor, TensorData};

use crate::config::{LoraConfig, ModelConfig, N_PROPS, N_TAGS, Precision, PropertyPool};
use crate::rng::Rng;
use crate::tensor_io::TensorFile;
use crate::{Error, Result};

/// Copies a device tensor to the host.
pub fn host<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().map_err(|e| Error::Tensor(format!("{e:?}")))
}

/// A tensor from host values.
pub fn dev<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

fn ids_tensor(ids: &[u32], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

/// Indices of one layer's parameters in [`Model::params`].
#[derive(Debug, Clone, Copy)]
struct LayerIdx {
    attn_norm: usize,
    q: usize,
    k: usize,
    v: usize,
    o: usize,
    mlp_norm: usize,
    gate: usize,
    up: usize,
    down: usize,
}

/// Keys and values of every layer for the positions seen so far.
pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    pub len: usize,
}

impl KvCache {
    pub fn new(n_layers: usize) -> Self {
        KvCache { layers: (0..n_layers).map(|_| None).collect(), len: 0 }
    }

    /// Forgets every position from `len` on (a rollback in verification-guided decoding).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        for l in &mut self.layers {
            *l = match l.take() {
                Some((k, v)) if len > 0 => Some((k.narrow(2, 0, len), v.narrow(2, 0, len))),
                _ => None,
            };
        }
        self.len = len;
    }
}

/// What one forward pass returns.
pub struct Output {
    /// `[B, T, vocab]`.
    pub logits: Tensor<3>,
    /// `[B, T, N_TAGS]`.
    pub tags: Tensor<3>,
    /// Final normalised hidden states `[B, T, d]` (input to the property head).
    pub hidden: Tensor<3>,
}

/// The model: configuration, device and named parameters.
#[derive(Clone)]
pub struct Model {
    pub cfg: ModelConfig,
    pub device: Device,
    pub names: Vec<String>,
    /// Saved shapes (1-D weights are `[n]`).
    pub shapes: Vec<Vec<usize>>,
    pub params: Vec<Tensor<2>>,
    /// Which parameters train (all, except the base weights under LoRA).
    pub trainable: Vec<bool>,
    /// Precision of the transformer blocks (see [`Precision`]).
    pub precision: Precision,
    /// For each parameter that has a LoRA adapter: the indices of its `A` and `B`.
    lora: Vec<Option<(usize, usize)>>,
    layers: Vec<LayerIdx>,
    embed: usize,
    norm: usize,
    lm_head: usize,
    tag_head: usize,
    prop_w: usize,
    prop_b: usize,
}

/// Parameter names and saved shapes for a configuration, in a fixed order.
pub fn param_layout(cfg: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (d, ff, v) = (cfg.d_model, cfg.d_ff, cfg.vocab_size);
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..cfg.n_layers {
        let p = format!("model.layers.{i}");
        out.push((format!("{p}.input_layernorm.weight"), vec![d]));
        for n in ["q_proj", "k_proj", "v_proj", "o_proj"] {
            out.push((format!("{p}.self_attn.{n}.weight"), vec![d, d]));
        }
        out.push((format!("{p}.post_attention_layernorm.weight"), vec![d]));
        out.push((format!("{p}.mlp.gate_proj.weight"), vec![ff, d]));
        out.push((format!("{p}.mlp.up_proj.weight"), vec![ff, d]));
        out.push((format!("{p}.mlp.down_proj.weight"), vec![d, ff]));
    }
    out.push(("model.norm.weight".into(), vec![d]));
    out.push(("lm_head.weight".into(), vec![v, d]));
    out.push(("sbd.tag_head.weight".into(), vec![N_TAGS, d]));
    out.push(("sbd.property_head.weight".into(), vec![N_PROPS, cfg.property_pool.width(d)]));
    out.push(("sbd.property_head.bias".into(), vec![N_PROPS]));
    if let Some(l) = &cfg.lora {
        out.extend(lora_layout(&out, l));
    }
    out
}

/// The adapter tensors for `base` (names as in PEFT: `….q_proj.lora_A.weight` `[rank, in]`,
/// `….q_proj.lora_B.weight` `[out, rank]`).
fn lora_layout(base: &[(String, Vec<usize>)], l: &LoraConfig) -> Vec<(String, Vec<usize>)> {
    let mut out = Vec::new();
    for (name, shape) in base {
        let Some(stem) = name.strip_suffix(".weight") else { continue };
        if !l.targets.iter().any(|t| stem.ends_with(&format!(".{t}"))) {
            continue;
        }
        if let [o, i] = shape[..] {
            out.push((format!("{stem}.lora_A.weight"), vec![l.rank, i]));
            out.push((format!("{stem}.lora_B.weight"), vec![o, l.rank]));
        }
    }
    out
}

fn dev_shape(shape: &[usize]) -> [usize; 2] {
    match shape {
        [n] => [1, *n],
        [a, b] => [*a, *b],
        _ => [0, 0],
    }
}

impl Model {
    /// A freshly initialised model (normal(0, 0.02), residual projections scaled by
    /// 1/√(2·layers), norms at 1, biases at 0).
    pub fn init(cfg: &ModelConfig, device: &Device, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let mut rng = Rng::new(seed);
        let mut file = TensorFile::default();
        let resid = 0.02 / (2.0 * cfg.n_layers as f64).sqrt();
        for (name, shape) in param_layout(cfg) {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = if name.ends_with("norm.weight") {
                vec![1.0; n]
            } else if name.ends_with(".bias") || name.ends_with("lora_B.weight") {
                vec![0.0; n]
            } else {
                let std =
                    if name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight") { resid } else { 0.02 };
                (0..n).map(|_| (rng.normal() * std) as f32).collect()
            };
            file.insert(name, shape, data);
        }
        Self::from_file(cfg, &file, device)
    }

    /// A model from named host tensors (a `model.safetensors`).
    pub fn from_file(cfg: &ModelConfig, file: &TensorFile, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let layout = param_layout(cfg);
        let mut names = Vec::new();
        let mut shapes = Vec::new();
        let mut params = Vec::new();
        for (name, shape) in layout {
            let t = file.get(&name)?;
            if t.shape != shape {
                return Err(Error::Invalid(format!("{name}: shape {:?}, config wants {:?}", t.shape, shape)));
            }
            params.push(dev(t.data.clone(), dev_shape(&shape), device));
            names.push(name);
            shapes.push(shape);
        }
        let idx = |n: &str| names.iter().position(|x| x == n).unwrap_or(usize::MAX);
        let mut lora = vec![None; names.len()];
        for (i, n) in names.iter().enumerate() {
            if let Some(stem) = n.strip_suffix(".lora_A.weight") {
                let base = idx(&format!("{stem}.weight"));
                let b = idx(&format!("{stem}.lora_B.weight"));
                if base == usize::MAX || b == usize::MAX {
                    return Err(Error::Invalid(format!("{n}: adapter without its base weight or B")));
                }
                lora[base] = Some((i, b));
            }
        }
        let trainable = names.iter().map(|n| cfg.lora.is_none() || n.contains(".lora_")).collect();
        let layers = (0..cfg.n_layers)
            .map(|i| {
                let p = format!("model.layers.{i}");
                LayerIdx {
                    attn_norm: idx(&format!("{p}.input_layernorm.weight")),
                    q: idx(&format!("{p}.self_attn.q_proj.weight")),
                    k: idx(&format!("{p}.self_attn.k_proj.weight")),
                    v: idx(&format!("{p}.self_attn.v_proj.weight")),
                    o: idx(&format!("{p}.self_attn.o_proj.weight")),
                    mlp_norm: idx(&format!("{p}.post_attention_layernorm.weight")),
                    gate: idx(&format!("{p}.mlp.gate_proj.weight")),
                    up: idx(&format!("{p}.mlp.up_proj.weight")),
                    down: idx(&format!("{p}.mlp.down_proj.weight")),
                }
            })
            .collect();
        Ok(Model {
            cfg: cfg.clone(),
            device: device.clone(),
            embed: idx("model.embed_tokens.weight"),
            norm: idx("model.norm.weight"),
            lm_head: idx("lm_head.weight"),
            tag_head: idx("sbd.tag_head.weight"),
            prop_w: idx("sbd.property_head.weight"),
            prop_b: idx("sbd.property_head.bias"),
            names,
            shapes,
            params,
            trainable,
            precision: Precision::F32,
            lora,
            layers,
        })
    }

    /// Marks the trainable parameters as requiring gradients (on an autodiff device).
    pub fn require_grad(mut self) -> Self {
        self.params = self
            .params
            .into_iter()
            .zip(&self.trainable)
            .map(|(p, &t)| if t { p.detach().require_grad() } else { p.detach() })
            .collect();
        self
    }

    /// Adds fresh LoRA adapters (`A` random, `B` zero, so the model's function is unchanged)
    /// and freezes every other parameter.
    pub fn with_lora(&self, l: &LoraConfig, seed: u64) -> Result<Self> {
        if self.cfg.lora.is_some() {
            return Err(Error::Invalid("the model already has LoRA adapters".into()));
        }
        l.validate()?;
        let mut file = self.to_file()?;
        let cfg = ModelConfig { lora: Some(l.clone()), ..self.cfg.clone() };
        let mut rng = Rng::new(seed ^ 0x4C6F_5241);
        for (name, shape) in lora_layout(&param_layout(&self.cfg), l) {
            let n: usize = shape.iter().product();
            let data = if name.ends_with("lora_A.weight") {
                let bound = 1.0 / (shape[1].max(1) as f64).sqrt();
                (0..n).map(|_| ((rng.f64() * 2.0 - 1.0) * bound) as f32).collect()
            } else {
                vec![0.0; n]
            };
            file.insert(name, shape, data);
        }
        let mut m = Model::from_file(&cfg, &file, &self.device)?;
        m.precision = self.precision;
        Ok(m)
    }

    /// Folds the adapters into their weights (`W + (alpha / rank) · B A`) and drops them.
    pub fn merge_lora(&self) -> Result<Self> {
        let Some(l) = &self.cfg.lora else { return Ok(self.clone()) };
        let scale = l.scale();
        let mut file = TensorFile::default();
        for (i, ((n, s), p)) in self.names.iter().zip(&self.shapes).zip(&self.params).enumerate() {
            if n.contains(".lora_") {
                continue;
            }
            let w = match self.lora[i] {
                Some((a, b)) => {
                    let delta = self.params[b].clone().matmul(self.params[a].clone()).mul_scalar(scale);
                    p.clone().add(delta)
                }
                None => p.clone(),
            };
            file.insert(n.clone(), s.clone(), host(w)?);
        }
        let cfg = ModelConfig { lora: None, ..self.cfg.clone() };
        let mut m = Model::from_file(&cfg, &file, &self.device)?;
        m.precision = self.precision;
        Ok(m)
    }

    /// The same weights on another device (e.g. a frozen copy without autodiff).
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        let mut m = Self::from_file(&self.cfg, &self.to_file()?, device)?;
        m.precision = self.precision;
        Ok(m)
    }

    /// Copies the parameters to the host.
    pub fn to_file(&self) -> Result<TensorFile> {
        let mut f = TensorFile::default();
        for ((n, s), p) in self.names.iter().zip(&self.shapes).zip(&self.params) {
            f.insert(n.clone(), s.clone(), host(p.clone())?);
        }
        Ok(f)
    }

    fn linear(x: Tensor<3>, w: &Tensor<2>) -> Tensor<3> {
        let [b, t, din] = x.dims();
        let [dout, _] = w.dims();
        x.reshape([b * t, din]).matmul(w.clone().transpose()).reshape([b, t, dout])
    }

    fn low(&self) -> Option<FloatDType> {
        match self.precision {
            Precision::F32 => None,
            Precision::Bf16 => Some(FloatDType::BF16),
            Precision::F16 => Some(FloatDType::F16),
        }
    }

    /// The projection by parameter `i`, with its adapter when it has one, in the model's
    /// block precision (`x` is already in it).
    fn proj(&self, x: Tensor<3>, i: usize) -> Tensor<3> {
        let w = |j: usize| match self.low() {
            Some(dt) => self.params[j].clone().cast(dt),
            None => self.params[j].clone(),
        };
        let y = Self::linear(x.clone(), &w(i));
        match (self.lora[i], &self.cfg.lora) {
            (Some((a, b)), Some(l)) => y.add(Self::linear(Self::linear(x, &w(a)), &w(b)).mul_scalar(l.scale())),
            _ => y,
        }
    }

    /// Into the block precision (a no-op in f32).
    fn down(&self, x: Tensor<3>) -> Tensor<3> {
        match self.low() {
            Some(dt) => x.cast(dt),
            None => x,
        }
    }

    /// Back to f32.
    fn up<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self.low() {
            Some(_) => x.cast(FloatDType::F32),
            None => x,
        }
    }

    fn rms_norm(&self, x: Tensor<3>, w: &Tensor<2>) -> Tensor<3> {
        let ms = x.clone().square().mean_dim(2);
        let [_, n] = w.dims();
        x.mul(ms.add_scalar(self.cfg.norm_eps).sqrt().recip()).mul(w.clone().reshape([1, 1, n]))
    }

    /// `cos`/`sin` tables `[1, 1, T, hd]` for positions `start..start+t` (rotate-half layout,
    /// as Hugging Face's Llama).
    fn rope_tables(&self, start: usize, t: usize) -> (Tensor<4>, Tensor<4>) {
        let hd = self.cfg.head_dim();
        let half = hd / 2;
        let mut cos = Vec::with_capacity(t * hd);
        let mut sin = Vec::with_capacity(t * hd);
        for pos in start..start + t {
            for j in 0..hd {
                let f = self.cfg.rope_theta.powf(-((2 * (j % half)) as f64) / hd as f64);
                let a = pos as f64 * f;
                cos.push(a.cos() as f32);
                sin.push(a.sin() as f32);
            }
        }
        (dev(cos, [1, 1, t, hd], &self.device), dev(sin, [1, 1, t, hd], &self.device))
    }

    fn rope(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
        let [_, _, _, hd] = x.dims();
        let half = hd / 2;
        let x1 = x.clone().narrow(3, 0, half);
        let x2 = x.clone().narrow(3, half, half);
        let rot = Tensor::cat(vec![x2.neg(), x1], 3);
        x.mul(cos.clone()).add(rot.mul(sin.clone()))
    }

    /// Runs the decoder on `ids` (`batch` rows of equal length, row-major). With a cache, the
    /// rows continue the cached positions and the cache is extended.
    pub fn forward(&self, ids: &[u32], batch: usize, mut cache: Option<&mut KvCache>) -> Result<Output> {
        if batch == 0 || !ids.len().is_multiple_of(batch) || ids.is_empty() {
            return Err(Error::Invalid(format!("{} ids do not split into {batch} rows", ids.len())));
        }
        let t = ids.len() / batch;
        let start = cache.as_ref().map_or(0, |c| c.len);
        if start + t > self.cfg.max_seq {
            return Err(Error::Invalid(format!("sequence of {} exceeds max_seq {}", start + t, self.cfg.max_seq)));
        }
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= self.cfg.vocab_size) {
            return Err(Error::Invalid(format!("token id {bad} outside the vocabulary")));
        }
        let d = self.cfg.d_model;
        let (h, hd) = (self.cfg.n_heads, self.cfg.head_dim());
        let mut x: Tensor<3> =
            self.params[self.embed].clone().select(0, ids_tensor(ids, &self.device)).reshape([batch, t, d]);
        let (cos, sin) = self.rope_tables(start, t);
        let tk = start + t;
        let mut mask = Vec::with_capacity(t * tk);
        for q in 0..t {
            for k in 0..tk {
                mask.push(if k <= start + q { 0.0 } else { -1e9 });
            }
        }
        let mask: Tensor<4> = dev(mask, [1, 1, t, tk], &self.device);
        let scale = 1.0 / (hd as f64).sqrt();
        for (li, l) in self.layers.iter().enumerate() {
            let p = &self.params;
            let hn = self.down(self.rms_norm(x.clone(), &p[l.attn_norm]));
            let split = |y: Tensor<3>| self.up(y).reshape([batch, t, h, hd]).swap_dims(1, 2);
            let q = Self::rope(split(self.proj(hn.clone(), l.q)), &cos, &sin);
            let mut k = Self::rope(split(self.proj(hn.clone(), l.k)), &cos, &sin);
            let mut v = split(self.proj(hn, l.v));
            if let Some(c) = cache.as_deref_mut() {
                if let Some((pk, pv)) = c.layers[li].take() {
                    k = Tensor::cat(vec![pk, k], 2);
                    v = Tensor::cat(vec![pv, v], 2);
                }
                c.layers[li] = Some((k.clone(), v.clone()));
            }
            let att = softmax(q.matmul(k.swap_dims(2, 3)).mul_scalar(scale).add(mask.clone()), 3);
            let o = self.down(att.matmul(v).swap_dims(1, 2).reshape([batch, t, d]));
            x = x.add(self.up(self.proj(o, l.o)));
            let hn = self.down(self.rms_norm(x.clone(), &p[l.mlp_norm]));
            let g = silu(self.proj(hn.clone(), l.gate)).mul(self.proj(hn, l.up));
            x = x.add(self.up(self.proj(g, l.down)));
        }
        if let Some(c) = cache {
            c.len = tk;
        }
        let hidden = self.rms_norm(x, &self.params[self.norm]);
        Ok(Output {
            logits: Self::linear(hidden.clone(), &self.params[self.lm_head]),
            tags: Self::linear(hidden.clone(), &self.params[self.tag_head]),
            hidden,
        })
    }

    /// Property logits `[B, N_PROPS]` from hidden states pooled over `mask` (`[B, T]`, 1 for
    /// tokens that belong to the sequence) as the config says (mean, or mean and max).
    pub fn property_logits(&self, hidden: Tensor<3>, mask: &[f32]) -> Tensor<2> {
        let [b, t, d] = hidden.dims();
        let m: Tensor<3> = dev(mask.to_vec(), [b, t, 1], &self.device);
        let count = m.clone().sum_dim(1).clamp_min(1.0); // [B,1,1]
        let mean = hidden.clone().mul(m.clone()).sum_dim(1).div(count).reshape([b, d]);
        let pooled = match self.cfg.property_pool {
            PropertyPool::Mean => mean,
            PropertyPool::MeanMax => {
                // Padding gets a large negative offset so it never wins the maximum.
                let max = hidden.add(m.sub_scalar(1.0).mul_scalar(1e4)).max_dim(1).reshape([b, d]);
                Tensor::cat(vec![mean, max], 1)
            }
        };
        pooled.matmul(self.params[self.prop_w].clone().transpose()).add(self.params[self.prop_b].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> ModelConfig {
        ModelConfig { vocab_size: 50, max_seq: 32, ..ModelConfig::preset("tiny", 50).unwrap() }
    }

    #[test]
    fn kv_cache_matches_full_forward() {
        let cfg = tiny();
        let device = Device::flex();
        let m = Model::init(&cfg, &device, 1).unwrap();
        let ids: Vec<u32> = vec![3, 7, 11, 2, 9, 40, 1];
        let full = host(m.forward(&ids, 1, None).unwrap().logits).unwrap();
        let mut cache = KvCache::new(cfg.n_layers);
        let mut inc = host(m.forward(&ids[..4], 1, Some(&mut cache)).unwrap().logits).unwrap();
        for &i in &ids[4..] {
            inc.extend(host(m.forward(&[i], 1, Some(&mut cache)).unwrap().logits).unwrap());
        }
        assert_eq!(full.len(), inc.len());
        let max = full.iter().zip(&inc).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max < 1e-4, "cached and full logits differ by {max}");
        // Causality: the first positions do not depend on later tokens.
        let other = host(m.forward(&[3, 7, 11, 2, 1, 1, 1], 1, None).unwrap().logits).unwrap();
        let v = cfg.vocab_size;
        assert_eq!(&full[..4 * v], &other[..4 * v]);
        assert!(m.forward(&[60], 1, None).is_err());
    }

    #[test]
    fn lora_starts_as_the_base_model_and_merges_into_it() {
        let cfg = tiny();
        let device = Device::flex();
        let m = Model::init(&cfg, &device, 3).unwrap();
        let ids: Vec<u32> = vec![3, 7, 11, 2, 9];
        let base = host(m.forward(&ids, 1, None).unwrap().logits).unwrap();
        let l = LoraConfig { rank: 4, ..Default::default() };
        let mut lm = m.with_lora(&l, 1).unwrap();
        assert_eq!(lm.trainable.iter().filter(|t| **t).count(), 2 * 7 * cfg.n_layers);
        let same = host(lm.forward(&ids, 1, None).unwrap().logits).unwrap();
        assert_eq!(base, same, "B starts at zero");
        // Move the adapters: the output changes, and merging reproduces it without adapters.
        for i in 0..lm.params.len() {
            if lm.names[i].contains("lora_B") {
                let [o, r] = lm.params[i].dims();
                lm.params[i] = dev((0..o * r).map(|k| ((k % 7) as f32 - 3.0) * 0.01).collect(), [o, r], &device);
            }
        }
        let adapted = host(lm.forward(&ids, 1, None).unwrap().logits).unwrap();
        let merged = lm.merge_lora().unwrap();
        assert!(merged.cfg.lora.is_none() && merged.names.iter().all(|n| !n.contains("lora")));
        let out = host(merged.forward(&ids, 1, None).unwrap().logits).unwrap();
        let moved = base.iter().zip(&adapted).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let err = out.iter().zip(&adapted).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(moved > 1e-3 && err < 1e-4, "adapters moved the logits by {moved}, merge differs by {err}");
        // A checkpoint with unmerged adapters loads back with them.
        let back = Model::from_file(&lm.cfg, &lm.to_file().unwrap(), &device).unwrap();
        assert_eq!(host(back.forward(&ids, 1, None).unwrap().logits).unwrap(), adapted);
    }

    #[test]
    fn mixed_precision_forward_stays_close_to_f32() {
        let cfg = tiny();
        let device = Device::flex();
        let mut m = Model::init(&cfg, &device, 4).unwrap();
        let ids: Vec<u32> = vec![3, 7, 11, 2, 9, 1, 4];
        let full = host(m.forward(&ids, 1, None).unwrap().logits).unwrap();
        for p in [Precision::Bf16, Precision::F16] {
            m.precision = p;
            let low = host(m.forward(&ids, 1, None).unwrap().logits).unwrap();
            let err = full.iter().zip(&low).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            let spread = full.iter().map(|x| x.abs()).fold(0.0f32, f32::max);
            assert!(err > 0.0 && err < 0.05 * spread.max(1e-3), "{p:?}: error {err}, logits up to {spread}");
        }
    }

    #[test]
    fn save_load_round_trip() {
        let cfg = tiny();
        let device = Device::flex();
        let m = Model::init(&cfg, &device, 2).unwrap();
        let f = m.to_file().unwrap();
        assert_eq!(f.tensors.len(), param_layout(&cfg).len());
        let n: usize = f.tensors.values().map(|t| t.data.len()).sum();
        assert_eq!(n, cfg.n_params());
        let back = Model::from_file(&cfg, &f, &device).unwrap();
        assert_eq!(back.to_file().unwrap(), f);
    }
}
