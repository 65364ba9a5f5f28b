//! Evaluation measures: AUROC, expected calibration error, temperature scaling.

/// Area under the ROC curve of `scores` against binary `labels` (ties count half). `None`
/// when one class is absent.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let pos: Vec<f64> = scores.iter().zip(labels).filter(|p| *p.1).map(|p| *p.0).collect();
    let neg: Vec<f64> = scores.iter().zip(labels).filter(|p| !*p.1).map(|p| *p.0).collect();
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    Some(wins / (pos.len() * neg.len()) as f64)
}

/// The logistic function, logit → probability.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Expected calibration error of probabilities `sigmoid(logit / t)` over `bins` equal-width bins.
pub fn ece(logits: &[f64], labels: &[bool], t: f64, bins: usize) -> f64 {
    let n = logits.len().max(1) as f64;
    let mut sum = vec![(0.0, 0.0, 0usize); bins];
    for (z, y) in logits.iter().zip(labels) {
        let p = sigmoid(z / t);
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sum[b].0 += p;
        sum[b].1 += *y as u8 as f64;
        sum[b].2 += 1;
    }
    sum.iter().filter(|b| b.2 > 0).map(|(p, y, _)| (p - y).abs() / n).sum::<f64>()
}

/// Negative log-likelihood of labels under `sigmoid(logit / t)`.
pub fn nll(logits: &[f64], labels: &[bool], t: f64) -> f64 {
    logits
        .iter()
        .zip(labels)
        .map(|(z, y)| {
            let p = sigmoid(z / t).clamp(1e-12, 1.0 - 1e-12);
            if *y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / logits.len().max(1) as f64
}

/// The temperature in [0.05, 20] minimising NLL (golden-section search on log t).
pub fn fit_temperature(logits: &[f64], labels: &[bool]) -> f64 {
    let (mut a, mut b) = ((0.05f64).ln(), (20.0f64).ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let c = b - g * (b - a);
        let d = a + g * (b - a);
        if nll(logits, labels, c.exp()) < nll(logits, labels, d.exp()) { b = d } else { a = c }
    }
    ((a + b) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_of_perfect_random_and_reversed() {
        let l = [false, false, true, true];
        assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &l), Some(1.0));
        assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &l), Some(0.0));
        assert_eq!(auroc(&[0.5; 4], &l), Some(0.5));
        assert_eq!(auroc(&[0.5, 0.5], &[true, true]), None);
    }

    #[test]
    fn temperature_scaling_reduces_ece_of_overconfident_logits() {
        // Logits 10x too large for labels drawn at the true rate.
        let mut logits = Vec::new();
        let mut labels = Vec::new();
        let mut rng = crate::rng::Rng::new(3);
        for _ in 0..4000 {
            let z = rng.normal();
            labels.push(rng.f64() < sigmoid(z));
            logits.push(10.0 * z);
        }
        let t = fit_temperature(&logits, &labels);
        assert!((t - 10.0).abs() < 2.0, "fitted {t}");
        assert!(ece(&logits, &labels, t, 10) < ece(&logits, &labels, 1.0, 10) / 2.0);
    }
}
