//! `sbd data …` end to end through the binary, including a build killed midway.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-data-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn digest(dir: &Path) -> String {
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    m["digest"].as_str().unwrap().to_string()
}

fn chunks(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".work"))
        .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".rows.zst")).count())
        .unwrap_or(0)
}

fn build(out: &Path, cfg: &Path) -> Command {
    let mut c = sbd();
    c.args(["data", "build", "seed", "-o"]).arg(out).arg("--config").arg(cfg).arg("--no-progress");
    c
}

#[test]
fn killed_build_reruns_to_the_same_dataset_then_validates_and_exports() {
    let root = tmp("kill");
    let cfg = root.join("data.toml");
    std::fs::write(&cfg, "chunk_items = 2\n").unwrap();
    let whole = root.join("whole");
    let st = build(&whole, &cfg).stdout(Stdio::null()).status().unwrap();
    assert!(st.success());
    let reference = digest(&whole);

    let killed = root.join("killed");
    let mut child = build(&killed, &cfg).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t = Instant::now();
    while chunks(&killed) < 5 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let done_before_kill = child.try_wait().unwrap().is_some();
    child.kill().ok();
    child.wait().unwrap();
    let partial = chunks(&killed);
    if done_before_kill {
        eprintln!("note: the build finished before it could be killed; the rerun still must agree");
    } else {
        assert!(!killed.join("manifest.json").exists(), "killed build left a manifest");
        eprintln!("killed after {partial} chunks");
    }
    let st = build(&killed, &cfg).stdout(Stdio::null()).status().unwrap();
    assert!(st.success());
    assert_eq!(digest(&killed), reference);

    let v = sbd().args(["data", "validate"]).arg(&killed).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let s = sbd().args(["data", "stats", "--format", "json"]).arg(&killed).output().unwrap();
    let j: serde_json::Value = serde_json::from_slice(&s.stdout).unwrap();
    assert!(j["stats"]["rows"].as_u64().unwrap() > 400);
    assert_eq!(j["quantity"].as_array().unwrap().len(), 16);
    let out = root.join("dpo.jsonl");
    let e = sbd().args(["data", "export", "--format", "dpo", "-o"]).arg(&out).arg(&killed).status().unwrap();
    assert!(e.success());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.lines().count() > 50);
    let bad = sbd().args(["data", "export", "--format", "xml"]).arg(&killed).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // A corrupted shard is caught.
    let shard = std::fs::read_dir(killed.join("data")).unwrap().flatten().next().unwrap().path();
    std::fs::write(&shard, b"not parquet").unwrap();
    let v = sbd().args(["data", "validate"]).arg(&killed).output().unwrap();
    assert!(!v.status.success());
}

#[test]
fn bad_shard_argument_is_a_usage_error() {
    let root = tmp("shard");
    let o = sbd().args(["data", "build", "seed", "--shard", "3/2", "-o"]).arg(&root).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 <= I < N"));
}
