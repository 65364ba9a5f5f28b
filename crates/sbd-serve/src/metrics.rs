//! Prometheus metrics, rendered in the text exposition format by hand (no client library).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use sbd_scan::Report;

const LATENCY_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
const REWARD_BUCKETS: &[f64] = &[-2.0, -1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0];

#[derive(Debug, Clone)]
struct Histogram {
    buckets: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(buckets: &'static [f64]) -> Histogram {
        Histogram { buckets, counts: vec![0; buckets.len()], sum: 0.0, count: 0 }
    }
    fn observe(&mut self, v: f64) {
        for (i, b) in self.buckets.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (b, c) in self.buckets.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", self.count);
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<String, BTreeMap<u16, u64>>,
    latency: BTreeMap<String, Histogram>,
    findings: BTreeMap<String, u64>,
    units: u64,
    units_with_override: u64,
    rewards: Option<Histogram>,
    rejected: BTreeMap<&'static str, u64>,
    generations: u64,
    generations_blocking: u64,
    generations_anrf_valid: u64,
}

/// Counters and histograms of one service process.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g)
    }

    pub fn request(&self, endpoint: &str, status: u16, seconds: f64) {
        self.with(|m| {
            // Look up before inserting: the keys exist after the first request, so the hot
            // path allocates nothing.
            match m.requests.get_mut(endpoint) {
                Some(by_status) => *by_status.entry(status).or_default() += 1,
                None => {
                    m.requests.insert(endpoint.to_string(), BTreeMap::from([(status, 1)]));
                }
            }
            match m.latency.get_mut(endpoint) {
                Some(h) => h.observe(seconds),
                None => {
                    let mut h = Histogram::new(LATENCY_BUCKETS);
                    h.observe(seconds);
                    m.latency.insert(endpoint.to_string(), h);
                }
            }
        });
    }

    pub fn report(&self, r: &Report) {
        self.with(|m| {
            m.units += 1;
            if !r.overrides.is_empty() {
                m.units_with_override += 1;
            }
            for f in &r.findings {
                *m.findings.entry(f.rule.clone()).or_default() += 1;
            }
        });
    }

    pub fn reward(&self, v: f64) {
        self.with(|m| m.rewards.get_or_insert_with(|| Histogram::new(REWARD_BUCKETS)).observe(v));
    }

    /// One generated answer: whether the verifier left blocking findings in it (when it
    /// verified it) and whether its ANRF instance is valid.
    pub fn generation(&self, blocking: Option<usize>, anrf_valid: bool) {
        self.with(|m| {
            m.generations += 1;
            m.generations_blocking += u64::from(blocking.is_some_and(|b| b > 0));
            m.generations_anrf_valid += u64::from(anrf_valid);
        });
    }

    pub fn rejected(&self, reason: &'static str) {
        self.with(|m| *m.rejected.entry(reason).or_default() += 1);
    }

    pub fn render(&self, in_flight: usize) -> String {
        self.with(|m| {
            let mut out = String::new();
            out.push_str("# HELP sbd_requests_total HTTP requests by endpoint and status.\n# TYPE sbd_requests_total counter\n");
            for (e, s, n) in m.requests.iter().flat_map(|(e, by)| by.iter().map(move |(s, n)| (e, s, n))) {
                let _ = writeln!(out, "sbd_requests_total{{endpoint=\"{e}\",status=\"{s}\"}} {n}");
            }
            out.push_str("# HELP sbd_request_duration_seconds Request latency.\n# TYPE sbd_request_duration_seconds histogram\n");
            for (e, h) in &m.latency {
                h.render(&mut out, "sbd_request_duration_seconds", &format!("endpoint=\"{e}\""));
            }
            out.push_str("# HELP sbd_findings_total Active findings reported, by rule.\n# TYPE sbd_findings_total counter\n");
            for (rule, n) in &m.findings {
                let _ = writeln!(out, "sbd_findings_total{{rule=\"{rule}\"}} {n}");
            }
            out.push_str("# HELP sbd_units_verified_total Units verified.\n# TYPE sbd_units_verified_total counter\n");
            let _ = writeln!(out, "sbd_units_verified_total {}", m.units);
            out.push_str("# HELP sbd_units_with_override_total Units carrying an sbd:allow override.\n# TYPE sbd_units_with_override_total counter\n");
            let _ = writeln!(out, "sbd_units_with_override_total {}", m.units_with_override);
            out.push_str("# HELP sbd_override_rate Share of verified units carrying an override.\n# TYPE sbd_override_rate gauge\n");
            let rate = if m.units > 0 { m.units_with_override as f64 / m.units as f64 } else { 0.0 };
            let _ = writeln!(out, "sbd_override_rate {rate}");
            out.push_str("# HELP sbd_reward Rewards computed.\n# TYPE sbd_reward histogram\n");
            if let Some(h) = &m.rewards {
                h.render(&mut out, "sbd_reward", "");
            }
            out.push_str("# HELP sbd_rejected_total Requests refused before handling, by reason.\n# TYPE sbd_rejected_total counter\n");
            for (reason, n) in &m.rejected {
                let _ = writeln!(out, "sbd_rejected_total{{reason=\"{reason}\"}} {n}");
            }
            out.push_str("# HELP sbd_generations_total Answers generated by the served model.\n# TYPE sbd_generations_total counter\n");
            let _ = writeln!(out, "sbd_generations_total {}", m.generations);
            out.push_str("# HELP sbd_generations_blocking_total Generated answers the verifier left blocking findings in.\n# TYPE sbd_generations_blocking_total counter\n");
            let _ = writeln!(out, "sbd_generations_blocking_total {}", m.generations_blocking);
            out.push_str("# HELP sbd_generations_anrf_valid_total Generated answers with a valid ANRF instance.\n# TYPE sbd_generations_anrf_valid_total counter\n");
            let _ = writeln!(out, "sbd_generations_anrf_valid_total {}", m.generations_anrf_valid);
            out.push_str("# HELP sbd_in_flight Requests being handled now.\n# TYPE sbd_in_flight gauge\n");
            let _ = writeln!(out, "sbd_in_flight {in_flight}");
            out
        })
    }
}
