//! Embeds the seed corpus (`seed/<lang>/<cwe>-<slug>.toml`) into the library.
use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // The target `cargo fetch --target` restricts crate downloads to (sources::crates).
    println!(
        "cargo:rustc-env=SBD_HOST_TARGET={}",
        std::env::var("TARGET").unwrap_or_else(|_| "x86_64-unknown-linux-gnu".into())
    );
    // Read when the script runs (cargo sets it for each run), not when it was compiled: a
    // build script binary can be reused for a checkout at another path.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest).join("seed");
    if !root.is_dir() {
        panic!("the seed corpus folder {} is missing", root.display());
    }
    println!("cargo:rerun-if-changed={}", root.display());
    println!("cargo:rerun-if-changed=build.rs");
    let mut files = Vec::new();
    if let Ok(langs) = std::fs::read_dir(&root) {
        for lang in langs.flatten() {
            println!("cargo:rerun-if-changed={}", lang.path().display());
            if let Ok(entries) = std::fs::read_dir(lang.path()) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "toml") {
                        files.push(p);
                    }
                }
            }
        }
    }
    files.sort();
    let mut out = String::from(
        "/// (path relative to `seed/`, TOML text) for every seed pair.\npub static SEED_FILES: &[(&str, &str)] = &[\n",
    );
    for p in &files {
        let rel = p.strip_prefix(&root).map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default();
        let _ = writeln!(out, "    ({rel:?}, include_str!({:?})),", p.display().to_string());
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("seed_files.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
