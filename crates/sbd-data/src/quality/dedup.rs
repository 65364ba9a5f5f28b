//! Exact and near-duplicate detection.
//!
//! Exact: a 64-bit hash of the text with every line trimmed and blank lines dropped.
//! Near: MinHash signatures ([`PERMS`] values) over 5-token shingles of identifier and number
//! tokens, indexed by LSH ([`BANDS`] bands of [`ROWS`] rows: candidates are found with
//! probability above 99% at Jaccard 0.85), each candidate confirmed by the estimated Jaccard
//! against the configured threshold.
use std::collections::HashMap;

pub const PERMS: usize = 128;
pub const BANDS: usize = 16;
pub const ROWS: usize = PERMS / BANDS;
const SHINGLE: usize = 5;

/// A fast, stable 64-bit hash (not cryptographic).
pub fn hash64(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    h = (h ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    mix(h)
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Hash of the normalised text (lines trimmed, blank lines dropped).
pub fn exact_key(code: &str) -> u64 {
    let mut h: u64 = 0;
    for line in code.lines() {
        let t = line.trim();
        if !t.is_empty() {
            h = mix(h ^ hash64(t.as_bytes())).wrapping_add(0x9E37_79B9);
        }
    }
    h
}

/// A MinHash signature.
pub type Signature = [u32; PERMS];

fn params() -> &'static [(u64, u64); PERMS] {
    static P: std::sync::OnceLock<[(u64, u64); PERMS]> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut p = [(0u64, 0u64); PERMS];
        let mut s: u64 = 0x5EED_5EED;
        for slot in p.iter_mut() {
            s = mix(s.wrapping_add(0x9E37_79B9_7F4A_7C15));
            let a = s | 1;
            s = mix(s.wrapping_add(0x9E37_79B9_7F4A_7C15));
            *slot = (a, s);
        }
        p
    })
}

/// The MinHash signature of `code`.
pub fn signature(code: &str) -> Signature {
    let tokens: Vec<u64> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(|t| hash64(t.as_bytes()))
        .collect();
    let mut sig = [u32::MAX; PERMS];
    let p = params();
    let mut feed = |x: u64| {
        for (s, (a, b)) in sig.iter_mut().zip(p.iter()) {
            let v = (x.wrapping_mul(*a).wrapping_add(*b) >> 32) as u32;
            if v < *s {
                *s = v;
            }
        }
    };
    if tokens.len() < SHINGLE {
        feed(mix(tokens.iter().fold(0, |h, t| mix(h ^ t))));
    } else {
        for w in tokens.windows(SHINGLE) {
            let mut h = 0u64;
            for t in w {
                h = (h.rotate_left(17) ^ t).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
            feed(h);
        }
    }
    sig
}

/// Estimated Jaccard similarity of two signatures.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    a.iter().zip(b.iter()).filter(|(x, y)| x == y).count() as f64 / PERMS as f64
}

/// The LSH bucket key of each band of `sig`.
pub fn band_keys(sig: &Signature) -> [u64; BANDS] {
    let mut keys = [0u64; BANDS];
    for (b, k) in keys.iter_mut().enumerate() {
        let mut h = b as u64;
        for v in &sig[b * ROWS..(b + 1) * ROWS] {
            h = mix(h ^ u64::from(*v)).wrapping_add(1);
        }
        *k = h;
    }
    keys
}

/// An LSH index over signatures of items `0..n` (in memory; [`super::spill`] is the
/// bounded-memory version the merge and the validator use).
pub struct Lsh {
    threshold: f64,
    buckets: Vec<HashMap<u64, Vec<u32>>>,
    signatures: Vec<Signature>,
}

impl Lsh {
    pub fn new(threshold: f64) -> Lsh {
        Lsh { threshold, buckets: (0..BANDS).map(|_| HashMap::new()).collect(), signatures: Vec::new() }
    }

    /// Items already indexed whose estimated similarity to `sig` reaches the threshold, best
    /// first.
    pub fn query(&self, sig: &Signature) -> Vec<(u32, f64)> {
        let mut seen: Vec<u32> = Vec::new();
        for (b, k) in band_keys(sig).iter().enumerate() {
            if let Some(items) = self.buckets[b].get(k) {
                seen.extend(items.iter().copied());
            }
        }
        seen.sort_unstable();
        seen.dedup();
        let mut out: Vec<(u32, f64)> = seen
            .into_iter()
            .map(|i| (i, similarity(sig, &self.signatures[i as usize])))
            .filter(|(_, s)| *s >= self.threshold)
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// Adds `sig` and returns its item number.
    pub fn insert(&mut self, sig: Signature) -> u32 {
        let id = self.signatures.len() as u32;
        for (b, k) in band_keys(&sig).iter().enumerate() {
            let v = self.buckets[b].entry(*k).or_default();
            if v.len() < 8 {
                v.push(id);
            }
        }
        self.signatures.push(sig);
        id
    }

    pub fn len(&self) -> usize {
        self.signatures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signatures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "def load(path):\n    with open(path) as f:\n        data = json.load(f)\n    items = [normalise(x) for x in data['items'] if x.get('enabled')]\n    return sorted(items, key=lambda i: (i['priority'], i['name']))\n";

    #[test]
    fn exact_key_ignores_indentation_and_blank_lines() {
        assert_eq!(exact_key("a = 1\n\n  b = 2\n"), exact_key("a = 1\nb = 2"));
        assert_ne!(exact_key("a = 1"), exact_key("a = 2"));
    }

    #[test]
    fn near_duplicates_are_found_and_different_code_is_not() {
        let b = A.replace("priority", "rank");
        let c = "fn main() { let v: Vec<u32> = (0..10).map(|x| x * x).collect(); println!(\"{v:?}\"); }";
        let sa = signature(A);
        assert!(similarity(&sa, &signature(&b)) > 0.5);
        let mut lsh = Lsh::new(0.85);
        lsh.insert(sa);
        assert_eq!(lsh.query(&signature(A)).len(), 1);
        assert!(lsh.query(&signature(c)).is_empty());
        let a2 = format!("{A}\n# trailing comment\n");
        assert!(!lsh.query(&signature(&a2)).is_empty(), "a one-line addition is a near-duplicate");
    }
}
