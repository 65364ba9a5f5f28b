//! `sbd bench serve` end to end with a small request count: the table is printed, the verify
//! and reward runs answer every request, and the flood beyond capacity is answered with 429s
//! while `/healthz` keeps answering. (Throughput is measured by the benchmark, never asserted.)
use std::process::Command;

/// The numeric columns of the row whose endpoint name is `name`: requests, conns, req/s, p50,
/// p99, max, errors, 429s (the CPU columns may be `-`).
fn row(out: &str, name: &str) -> Vec<f64> {
    let line = out
        .lines()
        .find(|l| {
            l.starts_with(name)
                && l[name.len()..].starts_with(char::is_whitespace)
                && !l[name.len()..].trim_start().starts_with('(')
        })
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{out}"));
    line[name.len()..]
        .split_whitespace()
        .take(8)
        .map(|c| c.parse().unwrap_or_else(|_| panic!("column {c:?} in {line:?}")))
        .collect()
}

#[test]
fn small_load_run_answers_everything_and_floods_into_429s() {
    let out = Command::new(env!("CARGO_BIN_EXE_sbd"))
        .args(["bench", "serve", "--requests", "200", "--connections", "4"])
        .output()
        .expect("running sbd bench serve");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "exit {:?}\n{text}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("server µs/req") && text.contains("client µs/req"), "{text}");

    let verify = row(&text, "POST /v1/verify");
    assert_eq!(verify[0], 200.0, "requests: {text}");
    assert_eq!((verify[6], verify[7]), (0.0, 0.0), "verify errors / 429s: {text}");
    assert!(verify[2] > 0.0 && verify[4] >= verify[3], "req/s and p99 >= p50: {text}");

    let reward = row(&text, "POST /v1/reward (8/batch)");
    assert_eq!((reward[6], reward[7]), (0.0, 0.0), "reward errors / 429s: {text}");

    let flood = row(&text, "flood /v1/reward (cap 4)");
    assert!(flood[7] > 0.0, "the flood beyond capacity must get 429s: {text}");
    assert!(text.contains("transport errors 0"), "{text}");
    let health = row(&text, "GET /healthz during flood");
    assert_eq!((health[0], health[6]), (200.0, 0.0), "/healthz during the flood: {text}");
}
