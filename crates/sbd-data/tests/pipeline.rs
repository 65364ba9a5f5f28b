//! The build end to end on the seed corpus and a small tree: gates, variants, splits,
//! Parquet, validation, exports, resumption after an interruption, and sharding.
use std::path::{Path, PathBuf};

use sbd_data::output::export;
use sbd_data::pipeline::{self, Config, Options, Quiet, Source};
use sbd_data::record::VariantKind;

const LOADER: &str = "import json\n\ndef load_settings(path):\n    with open(path) as f:\n        data = json.loads(f.read())\n    enabled = [item for item in data['plugins'] if item.get('enabled')]\n    return sorted(enabled, key=lambda p: (p['order'], p['name']))\n";

/// A small tree: a flagged Python file, a secret, an exact and a near duplicate, C code a
/// mutation operator can reach, and a file too short for the length gate.
// sbd:allow(SEC001, justification="AWS documented example key, test data for the secret-redaction gate", approver="sbd-maintainers", approved="2026-11-25", ticket="issue-6")
fn tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/run.py"),
        "import os\nimport subprocess\n\ndef run(cmd):\n    os.system(\"echo \" + cmd)\n    return True\n\ndef fetch(url):\n    api_key = \"AKIAIOSFODNN7EXAMPLE\"\n    return subprocess.check_output([\"curl\", \"-H\", api_key, url])\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/a.py"), LOADER).unwrap();
    std::fs::write(dir.join("app/b.py"), LOADER).unwrap();
    std::fs::write(dir.join("app/c.py"), format!("{LOADER}    # sorted by order, then name\n")).unwrap();
    std::fs::write(
        dir.join("app/copy.c"),
        "#include <string.h>\n\nvoid set_label(char *dst, const char *src) {\n    strncpy(dst, src, 31);\n    dst[31] = '\\0';\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("app/tiny.py"), "x = 1\n").unwrap();
}

fn config() -> Config {
    Config { chunk_items: 16, mutation_rate: 1.0, ..Config::default() }
}

fn sources(tree: &Path) -> Vec<Source> {
    vec![Source::Seed, Source::Tree(tree.to_path_buf())]
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-data-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts() -> Options<'static> {
    Options { shard: None, stop_after: None, progress: &Quiet }
}

#[test]
// sbd:allow(SEC001, justification="AWS documented example key, test data for the secret-redaction gate", approver="sbd-maintainers", approved="2026-11-25", ticket="issue-6")
fn build_validate_read_and_export() {
    let src = tmp("src-a");
    tree(&src);
    let out = tmp("out-a");
    let m = pipeline::build(&out, &config(), &sources(&src), &opts()).unwrap().unwrap();
    assert!(m.rows > 400, "{} rows", m.rows);
    for f in ["manifest.json", "stats.json", "README.md", "blind_spots.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("---\n") && card.contains("configs:") && card.contains("path: data/finetune-*.parquet"));
    let v = pipeline::validate(&out).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.rows, m.rows);

    // Gates counted what they removed or changed.
    let (stats, gates) = pipeline::read_stats(&out).unwrap();
    // b.py, and the mutant of b.py (identical to the mutant of a.py).
    assert_eq!(gates.get("exact_dup"), 2, "{gates:?}");
    assert_eq!(gates.get("near_dup"), 1, "{gates:?}");
    assert!(gates.get("length") >= 1, "{gates:?}");
    assert!(gates.get("secrets_redacted") >= 1, "{gates:?}");
    assert!(gates.get("mutants_confirmed") >= 1, "{gates:?}");
    assert_eq!(stats.rows, m.rows);

    let rows = pipeline::rows(&out, &[]).unwrap();
    assert_eq!(rows.len() as u64, m.rows);
    // (The seed corpus keeps its deliberately fake credentials: they are the CWE-798 lessons.)
    assert!(
        !rows.iter().any(|r| r.source != "seed" && r.code.contains("AKIAIOSFODNN7EXAMPLE")),
        "secret left in the data"
    );
    // Function-level units from the tree, origin kept.
    let run = rows.iter().find(|r| r.id.starts_with("tree/app/run.py#run@")).expect("the run() unit");
    assert_eq!(run.unit, "function");
    assert_eq!(run.path.as_deref(), Some("app/run.py"));
    assert!(run.vulnerable && run.rules.contains(&"PY001".to_string()));
    assert!(run.tags.iter().any(|t| t.tag == "finding:injection" || t.tag.starts_with("finding:")));
    assert!(run.explanation.contains("Use instead"), "{}", run.explanation);
    // Its variants share its split.
    let family: Vec<_> = rows.iter().filter(|r| r.group == run.group).collect();
    let kinds: Vec<VariantKind> = family.iter().map(|r| r.variant).collect();
    assert!(
        kinds.contains(&VariantKind::OverrideJustified) && kinds.contains(&VariantKind::OverrideUnjustified),
        "{kinds:?}"
    );
    assert!(kinds.contains(&VariantKind::Obfuscated), "{kinds:?}");
    assert!(family.iter().all(|r| r.split == run.split));
    // The C copy was mutated into an unbounded copy the verifier confirms.
    let mutant = rows.iter().find(|r| r.variant == VariantKind::Mutant && r.language == "c").expect("a C mutant");
    assert!(
        mutant.code.contains("strcpy(") && mutant.vulnerable && mutant.split == "adversarial" || mutant.split == "eval"
    );
    assert!(mutant.parent.is_some() && mutant.operator.as_deref() == Some("unbounded-copy"));
    // Seed rows: both sides, labels verified or counted.
    assert!(
        rows.iter()
            .any(|r| r.source == "seed" && r.variant == VariantKind::Insecure && r.vulnerable && r.label_verified)
    );
    assert!(rows.iter().filter(|r| r.source == "seed").all(|r| r.split == "finetune" || r.split == "eval"));

    // Exports.
    for (format, key) in
        [(export::Format::Sft, "messages"), (export::Format::Dpo, "chosen"), (export::Format::Rl, "verifier")]
    {
        let mut buf = Vec::new();
        let n = export::write(&rows, format, &mut buf).unwrap();
        assert!(n > 50, "{format:?}: {n}");
        for line in String::from_utf8(buf).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v.get(key).is_some(), "{format:?}: {line}");
        }
    }
}

#[test]
fn an_interrupted_build_resumes_to_the_same_dataset_and_shards_merge_to_it_too() {
    let src = tmp("src-b");
    tree(&src);
    let whole = tmp("whole");
    let reference = pipeline::build(&whole, &config(), &sources(&src), &opts()).unwrap().unwrap();

    let resumed = tmp("resumed");
    let stop = Options { shard: None, stop_after: Some(3), progress: &Quiet };
    let err = pipeline::build(&resumed, &config(), &sources(&src), &stop).unwrap_err();
    assert!(matches!(err, sbd_data::Error::Interrupted(3)), "{err}");
    // A kill during a write leaves a temporary file; it must not count as a chunk.
    std::fs::write(resumed.join(".work/.chunk-000005.rows.zst.tmp"), b"half").unwrap();
    let chunks = std::fs::read_dir(resumed.join(".work"))
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".rows.zst")));
    assert_eq!(chunks.count(), 3);
    let again = pipeline::build(&resumed, &config(), &sources(&src), &opts()).unwrap().unwrap();
    assert_eq!(again.digest, reference.digest);
    assert_eq!(again.rows, reference.rows);

    let sharded = tmp("sharded");
    for i in 0..3 {
        let o = Options { shard: Some((i, 3)), stop_after: None, progress: &Quiet };
        assert!(pipeline::build(&sharded, &config(), &sources(&src), &o).unwrap().is_none());
    }
    let merged = pipeline::merge(&sharded, &Quiet).unwrap();
    assert_eq!(merged.digest, reference.digest);

    // A byte bound cuts more, smaller chunks (one file each here) and the same dataset.
    let small = tmp("small-chunks");
    let c = Config { chunk_bytes: 64, ..config() };
    let m = pipeline::build(&small, &c, &sources(&src), &opts()).unwrap().unwrap();
    assert_eq!(m.digest, reference.digest);
    let count = |d: &Path| {
        std::fs::read_dir(d.join(".work"))
            .unwrap()
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".rows.zst")))
            .count()
    };
    assert!(count(&small) > count(&whole), "{} chunks, {} without the byte bound", count(&small), count(&whole));

    // Another seed gives other splits, the same rows.
    let other = tmp("other-seed");
    let c = Config { seed: 7, ..config() };
    let m = pipeline::build(&other, &c, &sources(&src), &opts()).unwrap().unwrap();
    assert_eq!(m.rows, reference.rows);
    assert_ne!(m.digest, reference.digest);
}

#[test]
fn merge_refuses_missing_chunks() {
    let src = tmp("src-c");
    tree(&src);
    let out = tmp("partial");
    let o = Options { shard: Some((0, 2)), stop_after: None, progress: &Quiet };
    pipeline::build(&out, &config(), &sources(&src), &o).unwrap();
    let err = pipeline::merge(&out, &Quiet).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn config_rejects_bad_values_and_unknown_fields() {
    assert!(Config::from_toml("near_dup_threshold = 1.5").is_err());
    assert!(Config::from_toml("chunk_items = 0").is_err());
    assert!(Config::from_toml("typo = 1").is_err());
    let c = Config::from_toml("seed = 9\n[bounds]\nmin_lines = 1\nmax_lines = 10\nmin_bytes = 1\nmax_bytes = 100\n")
        .unwrap();
    assert_eq!(c.seed, 9);
    assert_eq!(c.bounds.max_lines, 10);
}

#[test]
fn pyarrow_reads_the_shards() {
    let python = std::process::Command::new("python3")
        .args(["-c", "import pyarrow"])
        .stderr(std::process::Stdio::null())
        .status();
    if !python.is_ok_and(|s| s.success()) {
        eprintln!("skipping: python3 with pyarrow is not installed (CI installs it: .ci/deps/data.sh)");
        return;
    }
    let src = tmp("src-d");
    tree(&src);
    let out = tmp("out-d");
    let m = pipeline::build(&out, &config(), &sources(&src), &opts()).unwrap().unwrap();
    let script = r#"
import json, sys, glob, pyarrow.parquet as pq
d = sys.argv[1]
files = sorted(glob.glob(d + "/data/*.parquet"))
t = pq.read_table(files)
assert t.num_rows == int(sys.argv[2]), (t.num_rows, sys.argv[2])
for col in ["id", "code", "language", "cwes", "rules", "tags", "anrf", "split", "vulnerable"]:
    assert col in t.column_names, col
row = t.slice(0, 1).to_pylist()[0]
json.loads(row["anrf"]); json.loads(row["tags"])
assert isinstance(row["cwes"], list)
print("ok", t.num_rows)
"#;
    let o = std::process::Command::new("python3")
        .args(["-c", script, out.to_str().unwrap(), &m.rows.to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn resampling_moves_the_training_splits_toward_the_targets_and_stats_report_it() {
    let src = tmp("src-e");
    tree(&src);
    let out = tmp("balanced");
    let c = Config::from_toml(
        "chunk_items = 16\nmutation_rate = 1.0\n[balance]\nlanguage = { c = 0.2 }\nsplits = [\"finetune\"]\nmax_repeat = 4.0\n",
    )
    .unwrap();
    let m = pipeline::build(&out, &c, &sources(&src), &opts()).unwrap().unwrap();
    let v = pipeline::validate(&out).unwrap();
    assert!(v.ok(), "{:?} {:?}", v.problems, v.examples);
    let stats: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    let ft = &stats["balance"]["finetune"];
    let share = &ft["shares"]["language"]["c"];
    let (before, after) = (share["before"].as_f64().unwrap(), share["after"].as_f64().unwrap());
    assert_eq!(share["target"].as_f64(), Some(0.2));
    assert!(before < 0.15 && (after - 0.2).abs() < 0.05, "before {before}, after {after}");
    assert!(ft["copies"].as_u64().unwrap() > 0 && ft["dropped"].as_u64().unwrap() > 0, "{ft}");
    assert!(stats["balance"].get("eval").is_none(), "eval keeps its natural mix");
    // Copies are new rows of the same group, in the same split.
    let rows = pipeline::rows(&out, &[]).unwrap();
    let copy = rows.iter().find(|r| r.id.contains("~rep")).expect("a copy");
    let base = copy.id.split("~rep").next().unwrap();
    let original = rows.iter().find(|r| r.id == base).expect("its original");
    assert_eq!((&copy.group, &copy.split, &copy.code), (&original.group, &original.split, &original.code));
    assert_eq!(ft["rows_after"].as_u64().unwrap(), rows.iter().filter(|r| r.split == "finetune").count() as u64);
    // Deterministic.
    let again = pipeline::build(&tmp("balanced-2"), &c, &sources(&src), &opts()).unwrap().unwrap();
    assert_eq!(again.digest, m.digest);
}
