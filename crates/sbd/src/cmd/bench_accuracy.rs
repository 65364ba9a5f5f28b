//! `sbd bench accuracy` — the verifier against labelled data and peer tools, side by side.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use sbd_data::sources::{LoadReport, Sample, cyberseceval, labelled, pairs};
use sbd_eval::accuracy::peers::{Bandit, Cppcheck, Flawfinder, Icd};
use sbd_eval::accuracy::sbd::SbdDetector;
use sbd_eval::accuracy::table::{self, Detail};
use sbd_eval::accuracy::{Dataset, Detector, DetectorResult, Slice, cwe, evaluate};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

#[derive(Args)]
pub struct AccuracyArgs {
    /// Datasets: `cyberseceval` (instruct + autocomplete), `sven`, `safecoder`, or the path of
    /// a labelled JSONL file (code, language, label, cwe, optional line/pair). Repeatable.
    #[arg(long = "dataset", value_name = "NAME|FILE", default_values_t = ["cyberseceval".to_string(), "sven".to_string(), "safecoder".to_string()])]
    datasets: Vec<String>,
    /// Folder holding the public datasets (default: ../shared/data, then $SBD_SHARED_DATA).
    #[arg(long, value_name = "DIR", env = "SBD_SHARED_DATA")]
    data_dir: Option<PathBuf>,
    /// Also run the installed peers (bandit, cppcheck, flawfinder, ICD/codeshield) on exactly
    /// the same samples.
    #[arg(long)]
    peers: bool,
    /// Only these peers (bandit, cppcheck, flawfinder, icd); implies --peers.
    #[arg(long = "peer", value_name = "NAME")]
    only_peers: Vec<String>,
    /// At most N samples (pairs count as two) per dataset, taken evenly across it.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Add one row per language.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    by_language: bool,
    /// Add one row per CWE.
    #[arg(long)]
    by_cwe: bool,
    /// List the CWEs our verifier misses most (0 to hide).
    #[arg(long, value_name = "N", default_value_t = 12)]
    misses: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write every judgement (sample, detector, verdict) as JSON Lines here.
    #[arg(long, value_name = "FILE")]
    judgements: Option<PathBuf>,
}

fn data_dir(args: &AccuracyArgs) -> anyhow::Result<PathBuf> {
    if let Some(d) = &args.data_dir {
        return Ok(d.clone());
    }
    for candidate in ["../shared/data", "../../shared/data"] {
        let p = PathBuf::from(candidate);
        if p.is_dir() {
            return Ok(p);
        }
    }
    bail!(
        "no dataset folder: pass --data-dir DIR (the folder with cyberseceval/, sven/, safecoder/) or set SBD_SHARED_DATA"
    )
}

fn note(name: &str, r: &LoadReport) {
    let skipped: usize = r.skipped.iter().map(|(_, n)| n).sum();
    if skipped > 0 {
        eprintln!("{name}: loaded {}, skipped {skipped}: {:?}", r.loaded, r.skipped);
    }
}

/// Keeps at most `limit` samples, evenly spaced, never splitting a pair.
fn thin(samples: Vec<Sample>, limit: Option<usize>) -> Vec<Sample> {
    let Some(limit) = limit else { return samples };
    if samples.len() <= limit {
        return samples;
    }
    // Group pairs (adjacent in every loader) so both sides stay together.
    let mut groups: Vec<Vec<Sample>> = Vec::new();
    for s in samples {
        match (groups.last_mut(), &s.pair) {
            (Some(g), Some((p, _))) if g[0].pair.as_ref().is_some_and(|(q, _)| q == p) => g.push(s),
            _ => groups.push(vec![s]),
        }
    }
    let per = groups.first().map_or(1, Vec::len).max(1);
    let keep = (limit / per).max(1);
    let step = groups.len() as f64 / keep as f64;
    (0..keep).filter_map(|i| groups.get((i as f64 * step) as usize).cloned()).flatten().collect()
}

fn load(name: &str, dir: &Path, limit: Option<usize>) -> anyhow::Result<Vec<Dataset>> {
    let mut out = Vec::new();
    match name {
        "cyberseceval" => {
            for variant in ["instruct", "autocomplete"] {
                let p = dir.join(format!("cyberseceval/{variant}.json"));
                let (s, r) = cyberseceval::load(&p)?;
                note(&format!("cyberseceval-{variant}"), &r);
                out.push(Dataset { name: format!("cse-{variant}"), samples: thin(s, limit) });
            }
        }
        "sven" => {
            let (s, r) = pairs::load_dir(&dir.join("sven"), "sven")?;
            note("sven", &r);
            out.push(Dataset { name: "sven".into(), samples: thin(s, limit) });
        }
        "safecoder" => {
            let (s, r) = pairs::load_dir(&dir.join("safecoder"), "safecoder")?;
            note("safecoder", &r);
            out.push(Dataset { name: "safecoder".into(), samples: thin(s, limit) });
        }
        path => {
            let p = PathBuf::from(path);
            if !p.is_file() {
                bail!(
                    "unknown dataset `{path}`: use cyberseceval, sven, safecoder or the path of a labelled JSONL file"
                );
            }
            let (s, r) = labelled::load(&p)?;
            note(path, &r);
            let name = p.file_stem().map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned());
            out.push(Dataset { name, samples: thin(s, limit) });
        }
    }
    Ok(out)
}

pub fn run(args: AccuracyArgs) -> anyhow::Result<ExitCode> {
    let needs_dir = args.datasets.iter().any(|d| matches!(d.as_str(), "cyberseceval" | "sven" | "safecoder"));
    let dir = if needs_dir { data_dir(&args)? } else { PathBuf::from(".") };
    let mut datasets = Vec::new();
    for d in &args.datasets {
        datasets.extend(load(d, &dir, args.limit).with_context(|| format!("loading {d}"))?);
    }
    let total: usize = datasets.iter().map(|d| d.samples.len()).sum();
    eprintln!("{} datasets, {total} samples", datasets.len());

    let scanner = sbd_scan::Scanner::new().context("building the verifier")?;
    let mut detectors: Vec<Box<dyn Detector>> = vec![Box::new(SbdDetector::new(scanner))];
    let want = |n: &str| args.only_peers.is_empty() || args.only_peers.iter().any(|p| p.eq_ignore_ascii_case(n));
    if args.peers || !args.only_peers.is_empty() {
        let repo_root = std::env::current_dir()?;
        let found: [(&str, Option<Box<dyn Detector>>); 4] = [
            ("bandit", Bandit::find().map(|d| Box::new(d) as Box<dyn Detector>)),
            ("cppcheck", Cppcheck::find().map(|d| Box::new(d) as Box<dyn Detector>)),
            ("flawfinder", Flawfinder::find().map(|d| Box::new(d) as Box<dyn Detector>)),
            ("icd", Icd::find(&repo_root).map(|d| Box::new(d) as Box<dyn Detector>)),
        ];
        for (name, d) in found {
            if !want(name) {
                continue;
            }
            match d {
                Some(d) => detectors.push(d),
                None => eprintln!("{name}: not installed, skipped (../shared/tools/install-peers.sh installs it)"),
            }
        }
    }

    let mut results: Vec<DetectorResult> = Vec::new();
    for d in &detectors {
        eprint!("running {} … ", d.name());
        let r = evaluate(d.as_ref(), &datasets);
        eprintln!("{:.1} s{}", r.seconds, r.error.as_ref().map(|e| format!(" (error: {e})")).unwrap_or_default());
        results.push(r);
    }

    if let Some(path) = &args.judgements {
        let mut text = String::new();
        for r in &results {
            for j in &r.judgements {
                let mut v = serde_json::to_value(j)?;
                v["detector"] = serde_json::Value::from(r.detector.clone());
                text.push_str(&v.to_string());
                text.push('\n');
            }
        }
        crate::cmd::output::write_atomically(path, text.as_bytes())?;
    }

    let detail = Detail { by_language: args.by_language, by_cwe: args.by_cwe };
    let rows = table::rows(&results, detail);
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "version": 1,
                "detectors": results.iter().map(|r| serde_json::json!({"name": r.detector, "seconds": r.seconds, "error": r.error})).collect::<Vec<_>>(),
                "rows": rows,
                "cwe_families": cwe::FAMILIES.iter().map(|(n, m)| serde_json::json!({"family": n, "cwes": m})).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Markdown => print!("{}", table::markdown(&rows)),
        Format::Text => {
            print!("{}", table::text(&rows));
            for r in &results {
                if let Some(e) = &r.error {
                    println!("{}: ERROR {e}", r.detector);
                }
            }
            if args.misses > 0 {
                if let Some(ours) = results.first() {
                    print_misses(ours, args.misses);
                }
            }
        }
    }
    Ok(if results.iter().any(|r| r.error.is_some()) { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

/// The CWEs with the most false negatives for our verifier, across datasets.
fn print_misses(r: &DetectorResult, n: usize) {
    let mut by_cwe: std::collections::BTreeMap<Option<u32>, (usize, usize)> = Default::default();
    for ((_, slice), c) in &r.breakdown {
        if let Slice::Cwe(cwe) = slice {
            let e = by_cwe.entry(*cwe).or_default();
            e.0 += c.fn_;
            e.1 += c.fp;
        }
    }
    let mut v: Vec<_> = by_cwe.into_iter().filter(|(_, (f, _))| *f > 0).collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.1.0));
    println!("\nlargest misses of {} (false negatives by labelled CWE; false positives beside):", r.detector);
    for (cwe, (fns, fps)) in v.into_iter().take(n) {
        let name = cwe.map_or_else(|| "no CWE".into(), |c| format!("CWE-{c}"));
        let family = cwe.and_then(cwe::family_of).unwrap_or("");
        println!("  {name:<9} FN {fns:>4}  FP {fps:>4}  {family}");
    }
}
