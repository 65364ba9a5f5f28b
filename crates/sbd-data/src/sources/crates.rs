//! crates.io advisories as real before/after pairs: the affected functions in the last
//! affected and the first patched release, fetched with cargo.
//!
//! 1. [`CrateCache::versions`]: the crate's published versions, from the registry index entry
//!    cargo keeps (a throw-away manifest depending on `name = "*"` makes cargo fetch it).
//! 2. [`choose`]: the newest transition from an affected release to a patched one in version
//!    order (pre-releases skipped): *last affected* → *first patched*.
//! 3. [`CrateCache::fetch`]: a throw-away manifest depending on `name = "=x.y.z"` and
//!    `cargo fetch` into a private `CARGO_HOME` under the cache (`~/.cache/sbd/crates` unless
//!    `SBD_CACHE` or the config names another), which downloads and unpacks the release;
//!    yanked releases (common for vulnerable ones) are pinned with `cargo update --precise`.
//!    A release already unpacked in the cache needs no cargo and no network.
//! 4. [`extract`]: the advisory's function paths (`crate::module::Type::method`) are found in
//!    both releases' sources (cut with the verifier's Rust parser, each function qualified by
//!    its module path from the file layout, inline `mod`s and its `impl` target), best match
//!    first: the whole path, the path as a suffix (a re-export from a private module), the
//!    last two segments, the name alone when unique. Functions whose text the fix changed
//!    become pairs.
use std::path::{Path, PathBuf};
use std::process::Command;

use sbd_scan::Language;

use super::history::{FnPair, Side};
use super::rustsec::Advisory;
use crate::Error;
use crate::units::cut;

/// Where fetched crates live.
pub struct CrateCache {
    /// The `CARGO_HOME` cargo fetches into.
    pub home: PathBuf,
}

/// The default cache folder: `$SBD_CACHE/crates`, `$XDG_CACHE_HOME/sbd/crates` or
/// `~/.cache/sbd/crates`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("SBD_CACHE") {
        return PathBuf::from(d).join("crates");
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("sbd/crates");
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache/sbd/crates")
}

/// The directory cargo's sparse index cache uses for `name` (`se/rd/serde`, `3/s/syn`).
fn index_prefix(name: &str) -> String {
    let n = name.to_ascii_lowercase();
    match n.len() {
        1 => format!("1/{n}"),
        2 => format!("2/{n}"),
        3 => format!("3/{}/{n}", &n[..1]),
        _ => format!("{}/{}/{n}", &n[..2], &n[2..4]),
    }
}

/// Versions in a cargo index cache file: NUL-separated, each entry a JSON line of the
/// registry index format (`{"name", "vers", "yanked", …}`).
pub fn parse_index_cache(bytes: &[u8]) -> Vec<(semver::Version, bool)> {
    let mut out: Vec<(semver::Version, bool)> = bytes
        .split(|b| *b == 0)
        .filter(|s| s.first() == Some(&b'{'))
        .filter_map(|s| serde_json::from_slice::<serde_json::Value>(s).ok())
        .filter_map(|v| {
            let vers = semver::Version::parse(v.get("vers")?.as_str()?).ok()?;
            Some((vers, v.get("yanked").and_then(|y| y.as_bool()).unwrap_or(false)))
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Last affected → first patched: the newest such step between consecutive releases.
pub fn choose(adv: &Advisory, versions: &[(semver::Version, bool)]) -> Option<(semver::Version, semver::Version)> {
    let releases: Vec<&semver::Version> = versions.iter().map(|(v, _)| v).filter(|v| v.pre.is_empty()).collect();
    releases
        .windows(2)
        .filter(|w| adv.affects(w[0]) && adv.patched_in(w[1]))
        .map(|w| (w[0].clone(), w[1].clone()))
        .next_back()
}

/// The target this library was built for (set by build.rs), so fetches skip other
/// platforms' dependencies.
fn host_target() -> &'static str {
    option_env!("SBD_HOST_TARGET").unwrap_or("x86_64-unknown-linux-gnu")
}

impl CrateCache {
    pub fn new(dir: &Path) -> CrateCache {
        CrateCache { home: dir.to_path_buf() }
    }

    fn cargo(&self, dir: &Path, args: &[&str]) -> Result<(), String> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // sbd:allow(RS013, justification="CARGO names the cargo binary of the user's own toolchain (set by cargo itself); the arguments are fixed subcommands and crate names from the advisory database, never a shell", approver="sbd-maintainers", approved="2026-12-01", ticket="issue-6")
        let out = Command::new(&cargo)
            .args(args)
            .arg("--manifest-path")
            .arg(dir.join("Cargo.toml"))
            .arg("--quiet")
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("RUSTFLAGS")
            .output()
            .map_err(|e| format!("cannot run cargo ({e}); install Rust's cargo or disable fetch_crates"))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        Err(format!(
            "cargo {}: {}",
            args.join(" "),
            last.iter().rev().take(3).rev().cloned().collect::<Vec<_>>().join(" | ")
        ))
    }

    /// Writes a throw-away manifest depending on `dep` and returns its folder.
    fn manifest(&self, slot: &str, dep: &str) -> Result<PathBuf, String> {
        let dir = self.home.join("manifests").join(slot);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let toml = format!(
            "[package]\nname = \"sbd-crate-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [lib]\npath = \"lib.rs\"\n\n[dependencies]\n{dep}\n"
        );
        std::fs::write(dir.join("Cargo.toml"), toml).map_err(|e| format!("{}: {e}", dir.display()))?;
        std::fs::write(dir.join("lib.rs"), "").map_err(|e| format!("{}: {e}", dir.display()))?;
        let _ = std::fs::remove_file(dir.join("Cargo.lock"));
        Ok(dir)
    }

    fn index_file(&self, name: &str) -> Option<PathBuf> {
        let indexes = std::fs::read_dir(self.home.join("registry/index")).ok()?;
        let mut found: Vec<PathBuf> = indexes
            .flatten()
            .map(|i| i.path().join(".cache").join(index_prefix(name)))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    }

    /// Published versions of `name` with their yanked flags, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<(semver::Version, bool)>, String> {
        if self.index_file(name).is_none() {
            let dir = self.manifest(
                &format!("probe-{name}"),
                &format!("{name} = {{ version = \"*\", default-features = false }}"),
            )?;
            self.cargo(&dir, &["generate-lockfile"])?;
        }
        let f = self.index_file(name).ok_or_else(|| format!("cargo wrote no index entry for `{name}`"))?;
        let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        let v = parse_index_cache(&bytes);
        if v.is_empty() {
            return Err(format!("{}: no versions in cargo's index entry", f.display()));
        }
        Ok(v)
    }

    /// The unpacked sources of `name` `version`, if already in the cache.
    pub fn cached(&self, name: &str, version: &semver::Version) -> Option<PathBuf> {
        let srcs = std::fs::read_dir(self.home.join("registry/src")).ok()?;
        let mut found: Vec<PathBuf> = srcs
            .flatten()
            .map(|i| i.path().join(format!("{name}-{version}")))
            .filter(|p| p.join(".cargo-ok").is_file() || p.join("Cargo.toml").is_file())
            .collect();
        found.sort();
        found.pop()
    }

    /// Fetches `name` `version` with cargo (unless cached) and returns its unpacked sources.
    pub fn fetch(&self, name: &str, version: &semver::Version, yanked: bool) -> Result<PathBuf, String> {
        if let Some(d) = self.cached(name, version) {
            return Ok(d);
        }
        let slot = format!("{name}-{version}");
        let target = host_target();
        if yanked {
            // `=x.y.z` cannot select a yanked release; a lock file pinned with --precise can.
            let dir =
                self.manifest(&slot, &format!("{name} = {{ version = \"{version}\", default-features = false }}"))?;
            self.cargo(&dir, &["generate-lockfile"])?;
            let v = version.to_string();
            self.cargo(&dir, &["update", "-p", name, "--precise", &v])?;
            self.cargo(&dir, &["fetch", "--target", target])?;
        } else {
            let dir =
                self.manifest(&slot, &format!("{name} = {{ version = \"={version}\", default-features = false }}"))?;
            self.cargo(&dir, &["fetch", "--target", target])?;
        }
        self.cached(name, version)
            .ok_or_else(|| format!("cargo fetched {name} {version} but its sources are not unpacked"))
    }
}

/// A function of a crate: its module path and scope, qualified.
struct CrateFn {
    path: Vec<String>,
    file: String,
    code: String,
    start_line: u32,
}

/// The module path a file's location implies: `src/lib.rs` → `[]`, `src/a/mod.rs` and
/// `src/a.rs` → `[a]`, `src/a/b.rs` → `[a, b]`.
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.strip_prefix("src/").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_string).collect();
    let file = parts.pop().unwrap_or_default();
    let stem = file.strip_suffix(".rs").unwrap_or(&file).to_string();
    if !matches!(stem.as_str(), "lib" | "main" | "mod") {
        parts.push(stem);
    }
    parts
}

/// Every function of the crate sources under `dir` (tests, benches and examples left out).
fn crate_functions(dir: &Path) -> Vec<CrateFn> {
    let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .build()
        .flatten()
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        let rel = p.strip_prefix(dir).unwrap_or(&p).to_string_lossy().replace('\\', "/");
        if ["tests/", "benches/", "examples/", "target/"].iter().any(|x| rel.starts_with(x)) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let module = module_of(&rel);
        for piece in cut::functions(&text, Language::Rust) {
            let Some(code) = text.get(piece.start_byte..piece.end_byte) else { continue };
            let mut path = module.clone();
            path.extend(piece.scope.iter().cloned());
            path.push(piece.name.clone().unwrap_or_else(|| "fn".into()));
            out.push(CrateFn { path, file: rel.clone(), code: code.to_string(), start_line: piece.start_line });
        }
    }
    out
}

/// Indices of the functions `target` names, at the best matching level.
fn find(fns: &[CrateFn], target: &[String]) -> Vec<usize> {
    let n = target.len();
    let levels: [&dyn Fn(&CrateFn) -> bool; 4] = [
        &|f| f.path == target,
        &|f| f.path.len() >= n && f.path[f.path.len() - n..] == *target,
        &|f| n >= 2 && f.path.len() >= 2 && f.path[f.path.len() - 2..] == target[n - 2..],
        &|f| f.path.last() == target.last(),
    ];
    for (i, level) in levels.iter().enumerate() {
        let hits: Vec<usize> = fns.iter().enumerate().filter(|(_, f)| level(f)).map(|(k, _)| k).collect();
        if !hits.is_empty() && (i < 3 || hits.len() == 1) {
            return hits;
        }
    }
    Vec::new()
}

/// The advisory's affected functions that changed between the two releases, as pairs.
pub fn extract(crate_name: &str, functions: &[String], before: &Path, after: &Path) -> Vec<FnPair> {
    let (b, a) = (crate_functions(before), crate_functions(after));
    let krate = crate_name.replace('-', "_");
    let mut out = Vec::new();
    for f in functions {
        let mut target: Vec<String> = f.split("::").map(str::to_string).collect();
        if target.len() > 1 && target[0] == krate {
            target.remove(0);
        }
        let (hb, ha) = (find(&b, &target), find(&a, &target));
        let mut pairs: Vec<(usize, usize)> =
            ha.iter().filter_map(|&ia| hb.iter().find(|&&ib| b[ib].path == a[ia].path).map(|&ib| (ib, ia))).collect();
        if pairs.is_empty() && hb.len() == 1 && ha.len() == 1 {
            pairs.push((hb[0], ha[0]));
        }
        for (ib, ia) in pairs {
            let (fb, fa) = (&b[ib], &a[ia]);
            if crate::quality::dedup::exact_key(&fb.code) == crate::quality::dedup::exact_key(&fa.code) {
                continue;
            }
            out.push(FnPair {
                path: fa.file.clone(),
                language: Language::Rust,
                function: format!("{krate}::{}", fa.path.join("::")),
                before: Side { code: fb.code.clone(), start_line: fb.start_line },
                after: Side { code: fa.code.clone(), start_line: fa.start_line },
            });
        }
    }
    out.sort_by(|x, y| x.function.cmp(&y.function).then(x.after.start_line.cmp(&y.after.start_line)));
    out.dedup_by(|x, y| x.function == y.function && x.path == y.path && x.after.start_line == y.after.start_line);
    out
}

/// An error for the caller's notes: what failed, for which advisory.
pub fn note(adv: &Advisory, what: &str) -> Error {
    Error::Format { path: adv.path.clone(), message: format!("{}: {what}", adv.id) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_cache_entries_and_prefixes() {
        let mut bytes = vec![3u8, 2, 0, 0, 0];
        bytes.extend_from_slice(b"etag\0");
        for (v, y) in [("0.1.0", false), ("0.2.0", true), ("0.2.1-beta", false), ("0.1.0", false)] {
            bytes.extend_from_slice(format!("{v}\0{{\"name\":\"x\",\"vers\":\"{v}\",\"yanked\":{y}}}\0").as_bytes());
        }
        let v = parse_index_cache(&bytes);
        let names: Vec<String> = v.iter().map(|(v, y)| format!("{v}{}", if *y { "!" } else { "" })).collect();
        assert_eq!(names, ["0.1.0", "0.2.0!", "0.2.1-beta"]);
        assert_eq!(index_prefix("serde"), "se/rd/serde");
        assert_eq!(index_prefix("syn"), "3/s/syn");
        assert_eq!(index_prefix("Ab"), "2/ab");
    }

    #[test]
    fn module_paths_from_the_file_layout() {
        assert!(module_of("src/lib.rs").is_empty());
        assert_eq!(module_of("src/a/mod.rs"), ["a"]);
        assert_eq!(module_of("src/a/b.rs"), ["a", "b"]);
    }
}
