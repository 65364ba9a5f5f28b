//! Scratch (not committed): JSONL {id, lang, code} on stdin -> JSONL findings on stdout.
use std::io::{BufRead, Write};

fn main() {
    let dir = std::env::var("RULES").unwrap_or_else(|_| "crates/sbd-scan/rules".into());
    let extra = sbd_scan::catalog::load_dir(std::path::Path::new(&dir)).expect("rules dir");
    let s = sbd_scan::Scanner::builder().rules(extra).build().expect("rules");
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    for line in stdin.lock().lines() {
        let line = line.expect("line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        let id = v["id"].as_str().unwrap_or("").to_string();
        let Ok(lang) = v["lang"].as_str().unwrap_or("").parse::<sbd_scan::Language>() else {
            writeln!(out, "{}", serde_json::json!({"id": id, "f": []})).ok();
            continue;
        };
        let r = s.scan(v["code"].as_str().unwrap_or(""), lang);
        let f: Vec<_> =
            r.findings.iter().map(|f| serde_json::json!([f.rule, f.cwe, f.span.start_line, f.span.end_line])).collect();
        writeln!(
            out,
            "{}",
            serde_json::json!({"id": id, "f": f, "notes": r.notes, "w": r.parse.wrapped_in, "e": r.parse.error_nodes})
        )
        .ok();
    }
}
