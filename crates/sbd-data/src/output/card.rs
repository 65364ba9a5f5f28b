//! The dataset card: `README.md` with Hugging Face YAML front matter.
use std::fmt::Write as _;

use super::quantity::{self, Stats};
use crate::quality::GateCounts;
use crate::variants::obfuscate::BlindSpots;

/// Renders the card. `files` maps split → shard paths relative to the dataset directory.
pub fn render(
    stats: &Stats,
    gates: &GateCounts,
    blind: &BlindSpots,
    files: &std::collections::BTreeMap<String, Vec<String>>,
    sources: &[String],
) -> String {
    let mut s = String::new();
    s.push_str("---\nlicense: other\nlicense_name: mixed\nlicense_details: per-row `licence` column; the seed corpus is Apache-2.0\n");
    s.push_str("pretty_name: sbd security-annotated code\nlanguage:\n- code\ntask_categories:\n- text-generation\n");
    s.push_str("tags:\n- code\n- security\n- anrf\n- vulnerability-detection\nconfigs:\n- config_name: default\n  data_files:\n");
    for (split, paths) in files {
        if !paths.is_empty() {
            let _ = write!(s, "  - split: {split}\n    path: data/{split}-*.parquet\n");
        }
    }
    s.push_str("---\n\n# sbd security-annotated code\n\n");
    s.push_str("Code units with the `sbd-scan` verifier's findings, facts and properties, token-level security tags (character spans), security explanations from the rules' documentation, and a validated ANRF 1.1.0 instance per row. Built by `sbd data build`.\n\n");
    let _ = writeln!(s, "Sources: {}.\n", sources.join(", "));
    s.push_str("## Splits\n\n| split | rows | lines | vulnerable | ANRF | ANRF valid | explained |\n|---|---:|---:|---:|---:|---:|---:|\n");
    for (k, v) in &stats.splits {
        let _ = writeln!(
            s,
            "| {k} | {} | {} | {} | {} | {} | {} |",
            v.rows, v.lines, v.vulnerable, v.anrf, v.anrf_valid, v.explained
        );
    }
    s.push_str("\nSplits are group-aware: the sides of a pair, the variants of a unit and near-duplicate clusters never straddle splits.\n\n");
    let table = |title: &str, m: &std::collections::BTreeMap<String, u64>| {
        let mut t = format!("## {title}\n\n| value | rows |\n|---|---:|\n");
        for (k, v) in m {
            let _ = writeln!(t, "| {k} | {v} |");
        }
        t.push('\n');
        t
    };
    s.push_str(&table("Languages", &stats.languages));
    s.push_str(&table("Variants", &stats.variants));
    s.push_str(&table("Override status", &stats.override_status));
    s.push_str(&table("Complexity", &stats.complexity));
    s.push_str(&table("Properties (rows where it holds)", &stats.properties));
    s.push_str(&table("Quality gates (rows removed or changed)", &gates.counts));
    let mut cwes: Vec<_> = stats.cwes.iter().collect();
    cwes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    s.push_str("## Top CWEs\n\n| CWE | rows |\n|---|---:|\n");
    for (k, v) in cwes.into_iter().take(25) {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    s.push_str("\n## Quantity against requirements 2.4\n\n");
    s.push_str(&quantity::markdown(&quantity::report(stats)));
    let _ = write!(
        s,
        "\n## Verifier blind spots\n\nObfuscating mutants the verifier still caught: {}; missed: {} (details in `blind_spots.json`).\n\n",
        blind.detected(),
        blind.missed()
    );
    s.push_str("## Columns\n\n`id`, `group`, `split`, `source`, `language`, `unit` (file/function/snippet), `variant` (original, insecure, secure, override_justified, override_unjustified, mutant, obfuscated), `repo`, `path`, `commit`, `licence`, `start_line`, `task`, `code`, `lines`, `bytes`, `cwe_label`, `label_claimed`, `vulnerable` (the verifier has an active finding), `label_verified`, `cwes`, `rules`, `findings` (JSON), `facts` (JSON), `memory_safe`, `type_safe`, `resource_bounded`, `sandboxed`, `override_status`, `tags` (JSON list of `{start, end, tag, source}` character spans), `explanation_short`, `explanation`, `anrf` (JSON), `anrf_valid`, `complexity`, `parent`, `operator`.\n\n");
    s.push_str("## Rebuild\n\n```\nsbd data build -o DIR            # seed corpus + ~/.cargo/registry/src + Python stdlib\nsbd data validate DIR\nsbd data export DIR --format sft|dpo|rl -o out.jsonl\n```\n");
    s
}
