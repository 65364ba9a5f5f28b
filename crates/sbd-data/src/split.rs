//! Group-aware, deterministic splits.
//!
//! Rows are joined into components: rows of one group (pair sides, all variants of a unit)
//! and rows found to be near-duplicates of each other. A whole component goes to one split,
//! so neither a pair nor a near-duplicate cluster ever straddles splits. Groups are known by
//! a 64-bit hash of their name (about 30 bytes of memory per group, whatever the name). The
//! split of a component is a function of the seed and its smallest group hash:
//! - `eval` with probability `eval_fraction`;
//! - otherwise `adversarial` when it holds a mutant or obfuscated row;
//! - otherwise `finetune` when it holds labelled material (pairs, seed, datasets with labels);
//! - otherwise `pretrain` (code as found).
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub const SPLITS: [&str; 4] = ["pretrain", "finetune", "eval", "adversarial"];

/// Union-find over groups, known by the hash of their name.
#[derive(Debug, Default)]
pub struct Groups {
    index: HashMap<u64, u32>,
    keys: Vec<u64>,
    parent: Vec<u32>,
    /// Bit 0: holds adversarial rows; bit 1: holds labelled rows.
    flags: Vec<u8>,
}

impl Groups {
    pub fn id(&mut self, name: &str) -> u32 {
        let key = crate::quality::dedup::hash64(name.as_bytes());
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.keys.len() as u32;
        self.index.insert(key, i);
        self.keys.push(key);
        self.parent.push(i);
        self.flags.push(0);
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

    /// Joins two groups; the root is the one with the smaller key, so the result does not
    /// depend on the order of unions.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (root, child) = if self.keys[ra as usize] <= self.keys[rb as usize] { (ra, rb) } else { (rb, ra) };
        self.parent[child as usize] = root;
        self.flags[root as usize] |= self.flags[child as usize];
    }

    pub fn mark(&mut self, i: u32, adversarial: bool, labelled: bool) {
        let r = self.find(i);
        self.flags[r as usize] |= u8::from(adversarial) | (u8::from(labelled) << 1);
    }

    /// The split of group `i`.
    pub fn split(&mut self, i: u32, cfg: &SplitConfig) -> &'static str {
        let r = self.find(i) as usize;
        let key = format!("{:016x}", self.keys[r]);
        if crate::variants::chosen(cfg.seed, &key, cfg.eval_fraction) {
            "eval"
        } else if self.flags[r] & 1 != 0 {
            "adversarial"
        } else if self.flags[r] & 2 != 0 {
            "finetune"
        } else {
            "pretrain"
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
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
        assert_eq!(a.find(z), b.find(z2));
        assert_eq!(a.find(x), a.find(y));
        a.mark(z, true, false);
        let s = a.split(x, &cfg);
        assert_eq!(s, a.split(y, &cfg));
        assert!(s == "adversarial" || s == "eval");
    }
}
