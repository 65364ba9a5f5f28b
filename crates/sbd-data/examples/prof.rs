// Profiling harness: plan + chunks + merge on registry/python-stdlib (`cargo run --release -p sbd-data --example prof -- MB DIR`).
use sbd_data::pipeline::{self, Config, Options, Quiet, Source};
fn main() {
    let mb: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let out = std::path::PathBuf::from(std::env::args().nth(2).unwrap_or_else(|| "/tmp/sbd-prof".into()));
    let mut config = Config { registry_bytes: mb << 20, stdlib_bytes: mb << 20, ..Config::default() };
    if std::env::var("NOVAR").is_ok() {
        config.mutation_rate = 0.0;
        config.overrides = false;
        config.obfuscation_rate = 0.0;
    }
    if std::env::var("ONLYPLAN").is_ok() {
        let t = std::time::Instant::now();
        let p = pipeline::plan(&config, &[Source::Registry, Source::PythonStdlib], &Quiet).unwrap();
        let mut n = 0usize;
        for it in &p.items {
            if let pipeline::Item::File { file, .. } = it {
                let t1 = std::time::Instant::now();
                let u = sbd_data::units::tree::units(file, "x", false).unwrap();
                n += u.len();
                let dt = t1.elapsed().as_secs_f64();
                if dt > 0.01 {
                    eprintln!("slow {:.3}s {} {}", dt, file.bytes, file.rel);
                }
            }
        }
        eprintln!("cut only: {} units {:.2}s", n, t.elapsed().as_secs_f64());
        return;
    }
    if std::env::var("MERGE_ONLY").is_ok() {
        // The merge of an existing work directory (e.g. `sbd bench data --keep`'s), alone.
        let t = std::time::Instant::now();
        let m = pipeline::merge(&out, &Quiet).unwrap();
        eprintln!("merge {:.2}s, {} rows", t.elapsed().as_secs_f64(), m.rows);
        return;
    }
    let sources = vec![Source::Registry, Source::PythonStdlib];
    let _ = std::fs::remove_dir_all(&out);
    let t = std::time::Instant::now();
    let plan = pipeline::plan(&config, &sources, &Quiet).unwrap();
    let lines: u64 = plan
        .items
        .iter()
        .map(|it| match it {
            pipeline::Item::File { file, .. } => file.read().unwrap().iter().filter(|&&b| b == b'\n').count() as u64,
            _ => 0,
        })
        .sum();
    eprintln!("plan {:.2}s, {} items, {lines} lines", t.elapsed().as_secs_f64(), plan.items.len());
    let t = std::time::Instant::now();
    let opts = Options { shard: None, stop_after: None, progress: &Quiet };
    pipeline::run_chunks(&out, &config, &sources, &plan, &opts).unwrap();
    eprintln!("chunks {:.2}s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let m = pipeline::merge(&out, &Quiet).unwrap();
    eprintln!("merge {:.2}s, {} rows", t.elapsed().as_secs_f64(), m.rows);
}
