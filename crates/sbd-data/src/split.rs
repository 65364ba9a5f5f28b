//! Group-aware, deterministic splits.
//!
//! Rows are joined into components: rows of one group (pair sides, all variants of a unit)
//! and rows found to be near-duplicates of each other. A whole component goes to one split,
//! so neither a pair nor a near-duplicate cluster ever straddles splits. The split of a
//! component is a function of the seed and its smallest group name:
//! - `eval` with probability `eval_fraction`;
//! - otherwise `adversarial` when it holds a mutant or obfuscated row;
//! - otherwise `finetune` when it holds labelled material (pairs, seed, datasets with labels);
//! - otherwise `pretrain` (code as found).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub const SPLITS: [&str; 4] = ["pretrain", "finetune", "eval", "adversarial"];

/// Union-find over group names.
#[derive(Debug, Default)]
pub struct Groups {
    index: HashMap<String, u32>,
    names: Vec<String>,
    parent: Vec<u32>,
    adversarial: Vec<bool>,
    labelled: Vec<bool>,
}

impl Groups {
    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.to_string(), i);
        self.names.push(name.to_string());
        self.parent.push(i);
        self.adversarial.push(false);
        self.labelled.push(false);
        i
    }

    pub fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            self.parent[i as usize] = self.parent[p as usize];
            i = p;
        }
        i
    }

    /// Joins two groups; the root is the one with the smaller name, so the result does not
    /// depend on the order of unions.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (root, child) = if self.names[ra as usize] <= self.names[rb as usize] { (ra, rb) } else { (rb, ra) };
        self.parent[child as usize] = root;
        self.adversarial[root as usize] |= self.adversarial[child as usize];
        self.labelled[root as usize] |= self.labelled[child as usize];
    }

    pub fn mark(&mut self, i: u32, adversarial: bool, labelled: bool) {
        let r = self.find(i);
        self.adversarial[r as usize] |= adversarial;
        self.labelled[r as usize] |= labelled;
    }

    /// The split of group `i`.
    pub fn split(&mut self, i: u32, cfg: &SplitConfig) -> &'static str {
        let r = self.find(i) as usize;
        let name = &self.names[r];
        if crate::variants::chosen(cfg.seed, name, cfg.eval_fraction) {
            "eval"
        } else if self.adversarial[r] {
            "adversarial"
        } else if self.labelled[r] {
            "finetune"
        } else {
            "pretrain"
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Split settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitConfig {
    pub seed: u64,
    pub eval_fraction: f64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig { seed: 42, eval_fraction: 0.1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_are_order_independent_and_splits_deterministic() {
        let cfg = SplitConfig::default();
        let mut a = Groups::default();
        let (x, y, z) = (a.id("x"), a.id("y"), a.id("z"));
        a.union(z, y);
        a.union(y, x);
        let mut b = Groups::default();
        let (x2, y2, z2) = (b.id("x"), b.id("y"), b.id("z"));
        b.union(x2, y2);
        b.union(y2, z2);
        assert_eq!(a.find(z), x);
        assert_eq!(b.find(z2), x2);
        a.mark(z, true, false);
        let s = a.split(x, &cfg);
        assert_eq!(s, a.split(y, &cfg));
        assert!(s == "adversarial" || s == "eval");
    }
}
