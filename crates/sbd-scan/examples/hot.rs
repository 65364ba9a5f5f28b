//! Time the scan of one file many times (for performance work):
//! `cargo run --release -p sbd-scan --example hot -- LANG FILE [N]`.
use std::time::Instant;

fn main() {
    let mut a = std::env::args().skip(1);
    let (Some(lang), Some(file)) = (a.next(), a.next()) else { return };
    let n: usize = a.next().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let Ok(lang) = lang.parse::<sbd_scan::Language>() else { return };
    let Ok(src) = std::fs::read_to_string(&file) else { return };
    let Ok(s) = sbd_scan::Scanner::new() else { return };
    let _ = s.scan(&src, lang);
    let t = Instant::now();
    for _ in 0..n {
        let _ = sbd_scan::raw_parse(&src, lang);
    }
    let parse = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        let r = s.scan(&src, lang);
        bytes += serde_json::to_vec(&r).map_or(0, |v| v.len());
    }
    let scan = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("parse {parse:.0} µs, scan+json {scan:.0} µs ({} bytes of JSON)", bytes / n);
}
