//! Find the slowest ~1 KB snippets of a directory of sources (for performance work):
//! `cargo run --release -p sbd-scan --example slowest -- LANG DIR`.
use std::time::Instant;

fn main() {
    let mut a = std::env::args().skip(1);
    let (Some(lang), Some(dir)) = (a.next(), a.next()) else { return };
    let Ok(lang) = lang.parse::<sbd_scan::Language>() else { return };
    let Ok(s) = sbd_scan::Scanner::new() else { return };
    let mut times = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(t) = std::fs::read_to_string(&p) {
                let mut snip = String::new();
                for l in t.lines() {
                    if snip.len() + l.len() > 1024 {
                        break;
                    }
                    snip.push_str(l);
                    snip.push('\n');
                }
                if snip.len() < 512 {
                    continue;
                }
                let t0 = Instant::now();
                let r = s.scan(&snip, lang);
                let d = t0.elapsed();
                let t1 = Instant::now();
                let _ = sbd_scan::raw_parse(&snip, lang);
                times.push((d, t1.elapsed(), r.parse.error_nodes, r.parse.wrapped_in.clone(), p.display().to_string()));
            }
        }
        if times.len() > 3000 {
            break;
        }
    }
    times.sort_by_key(|t| std::cmp::Reverse(t.0));
    for t in times.iter().take(8) {
        println!("{:?} raw {:?} errors {} wrapped {:?} {}", t.0, t.1, t.2, t.3, t.4);
    }
}
