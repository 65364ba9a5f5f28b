//! The curriculum scheduler: which examples a training step draws, as training progresses.
//!
//! Each example has a complexity level (simple, moderate, complex), a security concept (the
//! verifier's weakness class, or "clean") and whether it is an override scenario. At
//! progress `p` (step / steps) an example is admitted when its complexity level, its concept
//! and its override flag have all been introduced (see
//! [`CurriculumConfig`](crate::config::CurriculumConfig) for the schedule); admitted examples
//! are drawn with replacement, each concept in proportion to `frequency^(1 − balance)` and
//! evenly over the concept's admitted examples. The draw uses the run's saved RNG, so a resumed run
//! draws the same examples.
//!
//! Switched off (`--ablate curriculum`), the trainer falls back to shuffled epochs over all
//! examples.

use crate::config::CurriculumConfig;
use crate::rng::Rng;

/// What the scheduler knows about one example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// 0 simple, 1 moderate, 2 complex.
    pub complexity: u8,
    /// 0 clean, else the weakness class.
    pub concept: u8,
    pub is_override: bool,
}

/// The schedule over a fixed set of examples.
pub struct Curriculum {
    cfg: CurriculumConfig,
    metas: Vec<Meta>,
    /// Concepts from most to least frequent (the order they are introduced in).
    order: Vec<u8>,
    /// Examples per concept.
    freq: [usize; 256],
}

impl Curriculum {
    pub fn new(metas: Vec<Meta>, cfg: &CurriculumConfig) -> Self {
        let mut freq = [0usize; 256];
        for m in &metas {
            freq[m.concept as usize] += 1;
        }
        let mut order: Vec<u8> = (0..=255u8).filter(|c| freq[*c as usize] > 0).collect();
        // Most frequent first; ties by class number, so the order is deterministic.
        order.sort_by(|a, b| freq[*b as usize].cmp(&freq[*a as usize]).then(a.cmp(b)));
        Curriculum { cfg: cfg.clone(), metas, order, freq }
    }

    /// Progress at which concept `c` enters.
    fn concept_start(&self, c: u8) -> f64 {
        let k = self.order.iter().position(|x| *x == c).unwrap_or(0);
        if self.order.len() <= 1 { 0.0 } else { self.cfg.concept_ramp * k as f64 / (self.order.len() - 1) as f64 }
    }

    /// Whether example `i` may be drawn at progress `p`.
    pub fn admitted(&self, i: usize, p: f64) -> bool {
        let m = self.metas[i];
        if m.is_override && (!self.cfg.overrides || p < self.cfg.override_start) {
            return false;
        }
        p >= m.complexity.min(2) as f64 * self.cfg.complexity_ramp / 2.0 && p >= self.concept_start(m.concept)
    }

    /// Sampling weights at progress `p` (all zero when nothing is admitted).
    pub fn weights(&self, p: f64) -> Vec<f64> {
        let mut admitted = [0usize; 256];
        for i in 0..self.metas.len() {
            if self.admitted(i, p) {
                admitted[self.metas[i].concept as usize] += 1;
            }
        }
        (0..self.metas.len())
            .map(|i| {
                if !self.admitted(i, p) {
                    return 0.0;
                }
                let c = self.metas[i].concept as usize;
                (self.freq[c] as f64).powf(-self.cfg.balance) * self.freq[c] as f64 / admitted[c] as f64
            })
            .collect()
    }

    /// Draws `k` example indices for the step at progress `p`.
    pub fn draw(&self, p: f64, k: usize, rng: &mut Rng) -> Vec<usize> {
        let mut w = self.weights(p);
        if w.iter().all(|x| *x == 0.0) {
            // Nothing admitted yet (an unusual schedule): draw from everything allowed at all.
            w = (0..self.metas.len())
                .map(|i| if self.metas[i].is_override && !self.cfg.overrides { 0.0 } else { 1.0 })
                .collect();
        }
        let mut cum = Vec::with_capacity(w.len());
        let mut total = 0.0;
        for x in &w {
            total += x;
            cum.push(total);
        }
        (0..k)
            .map(|_| {
                let r = rng.f64() * total;
                cum.partition_point(|c| *c <= r).min(w.len() - 1)
            })
            .collect()
    }

    /// Whether any example is ever admitted (override scenarios may be switched off).
    pub fn is_empty(&self) -> bool {
        (0..self.metas.len()).all(|i| !self.admitted(i, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(complexity: u8, concept: u8, is_override: bool) -> Meta {
        Meta { complexity, concept, is_override }
    }

    #[test]
    fn introduces_complexity_concepts_and_overrides_in_order() {
        let mut metas = Vec::new();
        for i in 0..60 {
            metas.push(meta((i % 3) as u8, 0, false)); // clean code, all complexities
        }
        for _ in 0..20 {
            metas.push(meta(0, 2, false)); // injection, frequent
        }
        for _ in 0..5 {
            metas.push(meta(0, 6, false)); // path traversal, rare
        }
        metas.push(meta(0, 2, true)); // an override scenario
        let cfg = CurriculumConfig::default();
        let c = Curriculum::new(metas.clone(), &cfg);
        let at = |p: f64| -> Vec<usize> { (0..metas.len()).filter(|&i| c.admitted(i, p)).collect() };
        // At the start: simple clean code only.
        assert!(at(0.0).iter().all(|&i| metas[i].complexity == 0 && metas[i].concept == 0));
        // Complex code arrives at complexity_ramp, the rarest concept at concept_ramp.
        assert!(!at(cfg.complexity_ramp - 0.01).iter().any(|&i| metas[i].complexity == 2));
        assert!(at(cfg.complexity_ramp).iter().any(|&i| metas[i].complexity == 2));
        assert!(!at(cfg.concept_ramp - 0.01).iter().any(|&i| metas[i].concept == 6));
        assert!(at(cfg.concept_ramp).iter().any(|&i| metas[i].concept == 6));
        // Overrides only after override_start.
        assert!(!at(cfg.override_start - 0.01).iter().any(|&i| metas[i].is_override));
        assert!(at(cfg.override_start).iter().any(|&i| metas[i].is_override));
        // With override scenarios ablated they never come.
        let no = Curriculum::new(metas.clone(), &CurriculumConfig { overrides: false, ..cfg.clone() });
        assert!(!(0..metas.len()).any(|i| no.admitted(i, 1.0) && metas[i].is_override));

        // Balance: at the end, the rare concept is drawn more often than its share of the data.
        let mut rng = Rng::new(5);
        let draws = c.draw(1.0, 20_000, &mut rng);
        let rare = draws.iter().filter(|&&i| metas[i].concept == 6).count() as f64 / draws.len() as f64;
        let share = 5.0 / metas.len() as f64;
        assert!(rare > 1.5 * share, "rare concept drawn {rare:.3}, data share {share:.3}");
        // Balance 0 draws in proportion to the data.
        let flat = Curriculum::new(metas.clone(), &CurriculumConfig { balance: 0.0, ..cfg });
        let draws = flat.draw(1.0, 20_000, &mut rng);
        let rare = draws.iter().filter(|&&i| metas[i].concept == 6).count() as f64 / draws.len() as f64;
        assert!((rare - share).abs() < 0.02, "{rare} vs {share}");
    }

    #[test]
    fn draws_are_reproducible_from_the_rng_state() {
        let metas: Vec<Meta> = (0..50).map(|i| meta((i % 3) as u8, (i % 4) as u8, i % 7 == 0)).collect();
        let c = Curriculum::new(metas, &CurriculumConfig::default());
        let mut a = Rng::new(9);
        let first = c.draw(0.5, 16, &mut a);
        let saved = a;
        let second = c.draw(0.7, 16, &mut a);
        let mut b = saved;
        assert_eq!(c.draw(0.7, 16, &mut b), second);
        assert_ne!(first, second);
    }
}
