//! AdamW with decoupled weight decay, a warmup + cosine schedule and global-norm clipping.
//! The moments live on the device; [`AdamW::state`] and [`AdamW::load_state`] move them to and
//! from a checkpoint so a resumed run continues bit for bit.

use burn::tensor::Tensor;

use crate::config::TrainConfig;
use crate::model::{Model, dev, host};
use crate::tensor_io::TensorFile;
use crate::{Error, Result};

/// Learning rate at `step` (0-based): linear warmup, then cosine decay to `min_lr`.
pub fn lr_at(cfg: &TrainConfig, step: usize) -> f64 {
    if step < cfg.warmup {
        return cfg.lr * (step + 1) as f64 / cfg.warmup as f64;
    }
    let span = cfg.steps.saturating_sub(cfg.warmup).max(1) as f64;
    let p = ((step - cfg.warmup) as f64 / span).min(1.0);
    cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1.0 + (std::f64::consts::PI * p).cos())
}

/// Optimizer state: first and second moments per trainable parameter (`None` for frozen
/// ones) and the step count.
pub struct AdamW {
    pub m: Vec<Option<Tensor<2>>>,
    pub v: Vec<Option<Tensor<2>>>,
    pub t: u64,
}

impl AdamW {
    pub fn new(model: &Model) -> Self {
        // The moments live on the inner backend: optimizer arithmetic is never differentiated.
        let z = |(p, t): (&Tensor<2>, &bool)| t.then(|| Tensor::<2>::zeros(p.dims(), &model.device).inner());
        AdamW {
            m: model.params.iter().zip(&model.trainable).map(z).collect(),
            v: model.params.iter().zip(&model.trainable).map(z).collect(),
            t: 0,
        }
    }

    /// Applies one update with gradients `grads` (one per parameter, `None` for parameters the
    /// loss did not reach). Clips to `clip_norm` first; returns the global norm before clipping.
    pub fn step(
        &mut self,
        model: &mut Model,
        grads: Vec<Option<Tensor<2>>>,
        lr: f64,
        cfg: &TrainConfig,
    ) -> Result<f64> {
        if grads.len() != model.params.len() {
            return Err(Error::Invalid("one gradient per parameter expected".into()));
        }
        let mut sq = Vec::new();
        for g in grads.iter().flatten() {
            sq.push(g.clone().square().sum());
        }
        let norm = if sq.is_empty() { 0.0 } else { host(Tensor::cat(sq, 0).sum())?[0] as f64 }.sqrt();
        let scale = if cfg.clip_norm > 0.0 && norm > cfg.clip_norm { cfg.clip_norm / (norm + 1e-6) } else { 1.0 };
        self.t += 1;
        let t = self.t as i32;
        let (b1, b2) = (cfg.beta1, cfg.beta2);
        let c1 = 1.0 - b1.powi(t);
        let c2 = 1.0 - b2.powi(t);
        // Each parameter's update is independent and element-wise (memory-bound): with
        // `data_parallel` > 1 the parameters are dealt out to that many threads, largest
        // first, so the step takes the time of its share of the bytes, not of all of them.
        // The arithmetic per parameter is the same whatever the thread, so results are too.
        let mut work: Vec<(usize, Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>, f64)> = Vec::new();
        for (i, g) in grads.into_iter().enumerate() {
            let (Some(g), Some(m0), Some(v0)) = (g, &self.m[i], &self.v[i]) else { continue };
            let decay =
                if model.shapes[i].len() == 2 && !model.names[i].contains("embed") { cfg.weight_decay } else { 0.0 };
            work.push((i, g, m0.clone(), v0.clone(), model.params[i].clone().detach(), decay));
        }
        let update = |(i, g, m0, v0, p, decay): (usize, Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>, f64)| {
            let g = g.mul_scalar(scale);
            let m = m0.mul_scalar(b1).add(g.clone().mul_scalar(1.0 - b1));
            let v = v0.mul_scalar(b2).add(g.square().mul_scalar(1.0 - b2));
            let tracked = p.is_autodiff();
            // Keep the parameter's gradient-checkpointing strategy: `autodiff()` alone would
            // give it the default one, which cannot meet the device's tensors in one op.
            let strategy = p.gradient_checkpointing_strategy();
            let p = p.inner();
            let upd = m.clone().div_scalar(c1).div(v.clone().div_scalar(c2).sqrt().add_scalar(cfg.eps));
            let np = p.clone().sub(upd.mul_scalar(lr)).sub(p.mul_scalar(lr * decay));
            let np = match (tracked, strategy) {
                (true, Some(st)) => np.autodiff().with_gradient_checkpointing_strategy(st).require_grad(),
                (true, None) => np.autodiff().require_grad(),
                (false, _) => np,
            };
            (i, np, m, v)
        };
        let threads = cfg.data_parallel.clamp(1, work.len().max(1));
        let done: Vec<(usize, Tensor<2>, Tensor<2>, Tensor<2>)> = if threads == 1 {
            work.into_iter().map(update).collect()
        } else {
            work.sort_by_key(|w| std::cmp::Reverse(w.1.shape().num_elements()));
            let mut lanes: Vec<(usize, Vec<_>)> = (0..threads).map(|_| (0, Vec::new())).collect();
            for w in work {
                let n = w.1.shape().num_elements();
                let lane = lanes.iter_mut().min_by_key(|l| l.0).expect("at least one lane");
                lane.0 += n;
                lane.1.push(w);
            }
            let update = &update;
            std::thread::scope(|sc| {
                let hs: Vec<_> = lanes
                    .into_iter()
                    .map(|(_, ws)| sc.spawn(move || ws.into_iter().map(update).collect::<Vec<_>>()))
                    .collect();
                hs.into_iter().map(|h| h.join()).collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(|_| Error::Invalid("an optimizer thread panicked".into()))?
            .into_iter()
            .flatten()
            .collect()
        };
        for (i, np, m, v) in done {
            model.params[i] = np;
            self.m[i] = Some(m);
            self.v[i] = Some(v);
        }
        Ok(norm)
    }

    /// The moments as named host tensors (`m.NAME`, `v.NAME`).
    pub fn state(&self, model: &Model, out: &mut TensorFile) -> Result<()> {
        for (i, n) in model.names.iter().enumerate() {
            let (Some(m), Some(v)) = (&self.m[i], &self.v[i]) else { continue };
            let s = m.dims().to_vec();
            out.insert(format!("m.{n}"), s.clone(), host(m.clone())?);
            out.insert(format!("v.{n}"), s, host(v.clone())?);
        }
        out.metadata.insert("adam_t".into(), self.t.to_string());
        Ok(())
    }

    pub fn load_state(model: &Model, file: &TensorFile) -> Result<Self> {
        let mut m = Vec::new();
        let mut v = Vec::new();
        for (i, n) in model.names.iter().enumerate() {
            let dims = model.params[i].dims();
            for (prefix, out) in [("m", &mut m), ("v", &mut v)] {
                if !model.trainable[i] {
                    out.push(None);
                    continue;
                }
                let t = file.get(&format!("{prefix}.{n}"))?;
                if t.shape != dims.to_vec() {
                    return Err(Error::Invalid(format!("optimizer state {prefix}.{n} has the wrong shape")));
                }
                out.push(Some(dev(t.data.clone(), dims, &model.device).inner()));
            }
        }
        let t = file
            .metadata
            .get("adam_t")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Invalid("training state lacks adam_t".into()))?;
        Ok(AdamW { m, v, t })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_warms_up_then_decays_to_min() {
        let c = TrainConfig { steps: 100, warmup: 10, lr: 1.0, min_lr: 0.1, ..Default::default() };
        assert!((lr_at(&c, 0) - 0.1).abs() < 1e-12);
        assert!((lr_at(&c, 9) - 1.0).abs() < 1e-12);
        assert!((lr_at(&c, 10) - 1.0).abs() < 1e-12);
        assert!(lr_at(&c, 55) < 0.6 && lr_at(&c, 55) > 0.5);
        assert!((lr_at(&c, 100) - 0.1).abs() < 1e-12);
        assert!((lr_at(&c, 500) - 0.1).abs() < 1e-12);
    }
}
