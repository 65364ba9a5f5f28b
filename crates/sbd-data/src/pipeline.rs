//! The build: plan → chunks → merge.
//!
//! 1. **Plan** ([`plan`]): the sources become an ordered list of work items (seed pairs,
//!    dataset samples, files with their origin; file contents are not read yet). Items are
//!    cut into chunks of at most [`Config::chunk_items`] items, a chunk closing early once its
//!    files hold [`Config::chunk_bytes`] bytes (so one chunk of large files does not set the
//!    build's peak memory). The plan's fingerprint (config, sources,
//!    items) is stored in `DIR/.work/plan.json`; a different plan clears old work.
//! 2. **Chunks** ([`run_chunks`]): each chunk is read, cut into units, gated (length,
//!    secrets, parse), annotated, given its variants (overrides, verified mutants,
//!    obfuscations) and written as one file `DIR/.work/chunk-NNNNNN.rows.zst` ([`crate::chunk`])
//!    by an atomic rename. A chunk that exists is done: kill the build at any point, run it
//!    again, and it continues. `--shard i/N` runs the chunks whose number is `i` modulo `N`,
//!    so any scheduler can fan out; memory is bounded by one chunk per worker.
//! 3. **Merge** ([`merge`]): two streaming passes over the chunks in order. Pass one removes
//!    exact duplicates and near-duplicates (MinHash + LSH) and joins groups into components;
//!    pass two assigns each component a split and writes the Parquet shards, `stats.json`,
//!    `blind_spots.json`, `manifest.json` and `README.md`. Same inputs and seed, same
//!    dataset: the manifest's `digest` covers every row in order.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::annotate::Annotator;
use crate::output::parquet::ShardWriter;
use crate::output::quantity::Stats;
use crate::quality::{Bounds, GateCounts, dedup};
use crate::record::{Record, VariantKind};
use crate::sources::history;
use crate::sources::rustsec::Advisory;
use crate::split::{Groups, SplitConfig};
use crate::units::tree::{self, FileItem};
use crate::units::{self, Unit};
use crate::variants::obfuscate::BlindSpots;
use crate::variants::{self, mutate, obfuscate, overrides};
use crate::{Error, seed, sources};

/// Build settings (`--config data.toml`; every field optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seed of every deterministic choice (splits, variant sampling).
    pub seed: u64,
    /// Fraction of groups that go to `eval`.
    pub eval_fraction: f64,
    /// Jaccard similarity from which two units are near-duplicates.
    pub near_dup_threshold: f64,
    pub bounds: Bounds,
    /// Work items (files, pairs, samples) per chunk: the unit of resumption and of memory.
    pub chunk_items: usize,
    /// A chunk closes once its files hold this many bytes of code, whatever its item count:
    /// the bound on what one chunk holds in memory.
    pub chunk_bytes: u64,
    /// Rows per Parquet shard.
    pub rows_per_shard: u64,
    /// Byte budget for `registry` (crates under `~/.cargo/registry/src`).
    pub registry_bytes: u64,
    /// Byte budget for `python-stdlib`.
    pub stdlib_bytes: u64,
    /// Byte budget for each directory or repository source.
    pub tree_bytes: u64,
    /// Files above this size are skipped (generated code, vendored blobs).
    pub max_file_bytes: u64,
    /// Whole files instead of function-level units.
    pub whole_files: bool,
    /// Fraction of clean units (outside the seed) given a mutation attempt.
    pub mutation_rate: f64,
    /// Fraction of flagged units (outside the seed) whose obfuscations become rows; every
    /// flagged unit feeds the blind-spot report.
    pub obfuscation_rate: f64,
    /// Add justified and unjustified override scenarios to flagged units.
    pub overrides: bool,
    /// The time written into every ANRF instance (fixed for reproducible builds).
    pub timestamp: String,
    /// Fetch the last affected and first patched releases of crates.io advisories with
    /// cargo and extract their affected functions as pairs (`rustsec:` and `osv:` sources).
    pub fetch_crates: bool,
    /// Where fetched crates are kept (default `~/.cache/sbd/crates`, or `$SBD_CACHE/crates`).
    pub crate_cache: Option<PathBuf>,
    /// At most this many advisories are fetched per build.
    pub max_advisory_fetches: usize,
    /// History mining walks at most this many commits per repository.
    pub history_max_commits: u64,
    /// A fix commit changing more files (in verifier languages) than this yields no pairs.
    pub history_max_files: usize,
    /// Stratified resampling toward target shares (none by default).
    pub balance: crate::balance::Balance,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 42,
            eval_fraction: 0.1,
            near_dup_threshold: 0.85,
            bounds: Bounds::default(),
            chunk_items: 64,
            chunk_bytes: 1 << 20,
            rows_per_shard: 100_000,
            registry_bytes: 16 << 20,
            stdlib_bytes: 8 << 20,
            tree_bytes: 256 << 20,
            max_file_bytes: 512 << 10,
            whole_files: false,
            mutation_rate: 0.25,
            obfuscation_rate: 1.0,
            overrides: true,
            timestamp: "2026-01-01T00:00:00Z".into(),
            fetch_crates: true,
            crate_cache: None,
            max_advisory_fetches: 10_000,
            history_max_commits: 1_000_000,
            history_max_files: 16,
            balance: crate::balance::Balance::default(),
        }
    }
}

impl Config {
    pub fn from_toml(text: &str) -> Result<Config, Error> {
        let c: Config = toml::from_str(text).map_err(|e| Error::Config(format!("data config: {e}")))?;
        c.check()?;
        Ok(c)
    }

    pub fn check(&self) -> Result<(), Error> {
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        if !(0.0..=1.0).contains(&self.near_dup_threshold) || self.near_dup_threshold == 0.0 {
            return bad("near_dup_threshold must be in (0, 1]");
        }
        if !(0.0..1.0).contains(&self.eval_fraction) {
            return bad("eval_fraction must be in [0, 1)");
        }
        if self.chunk_items == 0 || self.chunk_bytes == 0 || self.rows_per_shard == 0 {
            return bad("chunk_items, chunk_bytes and rows_per_shard must be positive");
        }
        self.balance.check().map_err(Error::Config)
    }
}

/// A source named on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// The embedded seed corpus (`seed`).
    Seed,
    /// Crates under `~/.cargo/registry/src` (`registry`).
    Registry,
    /// The Python standard library (`python-stdlib`).
    PythonStdlib,
    /// SVEN or SafeCoder pairs (`sven:PATH`, `safecoder:PATH`; a file or a directory).
    Pairs { dataset: String, path: PathBuf },
    /// CyberSecEval JSON (`cyberseceval:PATH`).
    CyberSecEval(PathBuf),
    /// Labelled JSONL (`jsonl:PATH`).
    Labelled(PathBuf),
    /// The RustSec advisory database (`rustsec:PATH`).
    RustSec(PathBuf),
    /// OSV JSON records (`osv:PATH`; a file or a directory).
    Osv(PathBuf),
    /// Security fixes in a repository's history (`history:PATH[@REV]`).
    History { path: PathBuf, rev: Option<String> },
    /// A git repository at a revision (`PATH@REV`).
    Git { path: PathBuf, rev: String },
    /// A directory read as plain files even inside a work tree (`dir:PATH`).
    Dir(PathBuf),
    /// A directory: read from git at `HEAD` when it is inside a repository, else as files
    /// (any other argument).
    Tree(PathBuf),
}

/// `PATH@REV` → (PATH, REV) when `s` is not itself an existing path.
fn split_rev(s: &str) -> (PathBuf, Option<String>) {
    if !Path::new(s).exists()
        && let Some((p, r)) = s.rsplit_once('@')
        && !p.is_empty()
        && !r.is_empty()
    {
        return (p.into(), Some(r.to_string()));
    }
    (s.into(), None)
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Source, String> {
        Ok(match s {
            "seed" => Source::Seed,
            "registry" => Source::Registry,
            "python-stdlib" => Source::PythonStdlib,
            _ => match s.split_once(':') {
                Some((d @ ("sven" | "safecoder"), p)) => Source::Pairs { dataset: d.into(), path: p.into() },
                Some(("cyberseceval", p)) => Source::CyberSecEval(p.into()),
                Some(("jsonl", p)) => Source::Labelled(p.into()),
                Some(("rustsec", p)) => Source::RustSec(p.into()),
                Some(("osv", p)) => Source::Osv(p.into()),
                Some(("dir", p)) => Source::Dir(p.into()),
                Some(("history", p)) => {
                    let (path, rev) = split_rev(p);
                    Source::History { path, rev }
                }
                _ => match split_rev(s) {
                    (path, Some(rev)) => Source::Git { path, rev },
                    (path, None) => Source::Tree(path),
                },
            },
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Seed => write!(f, "seed"),
            Source::Registry => write!(f, "registry"),
            Source::PythonStdlib => write!(f, "python-stdlib"),
            Source::Pairs { dataset, path } => write!(f, "{dataset}:{}", path.display()),
            Source::CyberSecEval(p) => write!(f, "cyberseceval:{}", p.display()),
            Source::Labelled(p) => write!(f, "jsonl:{}", p.display()),
            Source::RustSec(p) => write!(f, "rustsec:{}", p.display()),
            Source::Osv(p) => write!(f, "osv:{}", p.display()),
            Source::History { path, rev: Some(r) } => write!(f, "history:{}@{r}", path.display()),
            Source::History { path, rev: None } => write!(f, "history:{}", path.display()),
            Source::Git { path, rev } => write!(f, "{}@{rev}", path.display()),
            Source::Dir(p) => write!(f, "dir:{}", p.display()),
            Source::Tree(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The default sources: the seed corpus and real code on this machine.
pub fn default_sources() -> Vec<Source> {
    vec![Source::Seed, Source::Registry, Source::PythonStdlib]
}

/// One work item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Item {
    Seed(String),
    Sample(Box<sources::Sample>),
    File {
        source: String,
        file: FileItem,
    },
    /// A security-fix commit of a repository (`repo` is the path to open).
    Fix {
        repo: PathBuf,
        origin: tree::RootOrigin,
        fix: Box<history::Fix>,
    },
    /// An advisory's affected functions in two fetched releases.
    Advisory(Box<AdvisoryPair>),
}

/// The two releases of an advisory's crate, fetched and unpacked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryPair {
    /// `rustsec` or `osv`.
    pub source: String,
    pub id: String,
    pub package: String,
    pub title: String,
    pub explanation: String,
    pub cwe: Option<u32>,
    pub functions: Vec<String>,
    pub before_version: String,
    pub before_dir: PathBuf,
    pub after_version: String,
    pub after_dir: PathBuf,
}

/// The ordered work of a build.
pub struct Plan {
    pub items: Vec<Item>,
    pub seeds: BTreeMap<String, seed::SeedPair>,
    /// Per source: items and a note on what was loaded or skipped.
    pub notes: Vec<String>,
    /// One JSON object per advisory read (`vulnerabilities.jsonl` of the dataset).
    pub vulnerabilities: Vec<serde_json::Value>,
    pub fingerprint: u64,
}

impl Plan {
    /// The item ranges of the chunks, in order: at most `max_items` items each, and a chunk
    /// closes after the file that brings its bytes to `max_bytes` (other items count as
    /// small). Deterministic in the plan and the two bounds.
    pub fn chunk_ranges(&self, max_items: usize, max_bytes: u64) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let (mut start, mut bytes) = (0, 0u64);
        for (i, it) in self.items.iter().enumerate() {
            bytes += match it {
                Item::File { file, .. } => file.bytes,
                Item::Sample(s) => s.code.len() as u64,
                _ => 0,
            };
            if i + 1 - start >= max_items.max(1) || bytes >= max_bytes {
                out.push(start..i + 1);
                (start, bytes) = (i + 1, 0);
            }
        }
        if start < self.items.len() {
            out.push(start..self.items.len());
        }
        out
    }
}

/// Advisories of a `rustsec:` or `osv:` source, and a note on what was read.
fn load_advisories(src: &Source) -> Result<Option<(Vec<Advisory>, String)>, Error> {
    let (advisories, errors) = match src {
        Source::RustSec(p) => sources::rustsec::load_db(p)?,
        Source::Osv(p) => sources::osv::load(p)?,
        _ => return Ok(None),
    };
    let mut note = format!("{src}: {} advisories", advisories.len());
    if !errors.is_empty() {
        note.push_str(&format!(", {} unreadable (first: {})", errors.len(), errors[0]));
    }
    Ok(Some((advisories, note)))
}

/// A JSON vulnerability record of `a`, with what became of its pair.
fn vulnerability_record(a: &Advisory, pair: &str) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "format": a.format,
        "aliases": a.aliases,
        "ecosystem": a.ecosystem,
        "package": a.package,
        "date": a.date,
        "title": a.title,
        "cwes": a.all_cwes(),
        "categories": a.categories,
        "informational": a.informational,
        "withdrawn": a.withdrawn,
        "patched": a.patched,
        "unaffected": a.unaffected,
        "affected_functions": a.affected_functions.keys().collect::<Vec<_>>(),
        "fix_commits": a.fix_commits,
        "references": a.references,
        "pair": pair,
    })
}

/// Fetches the releases of crates.io advisories with affected functions.
fn advisory_items(
    config: &Config,
    src: &Source,
    advisories: &[Advisory],
    progress: &dyn Progress,
    vulnerabilities: &mut Vec<serde_json::Value>,
    notes: &mut Vec<String>,
) -> Vec<Item> {
    let source = if matches!(src, Source::Osv(_)) { "osv" } else { "rustsec" };
    let wanted = |a: &Advisory| {
        a.ecosystem == "crates.io"
            && a.is_vulnerability()
            && !a.affected_functions.is_empty()
            && (!a.patched.is_empty() || !a.ranges.is_empty())
    };
    let candidates = advisories.iter().filter(|a| wanted(a)).count().min(config.max_advisory_fetches);
    let cache = sources::crates::CrateCache::new(
        &config.crate_cache.clone().unwrap_or_else(sources::crates::default_cache_dir),
    );
    let mut items = Vec::new();
    let mut versions: BTreeMap<String, Result<Vec<(semver::Version, bool)>, String>> = BTreeMap::new();
    let (mut tried, mut fetched, mut failures_in_a_row, mut offline) = (0usize, 0usize, 0usize, false);
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    if config.fetch_crates && candidates > 0 {
        progress.start("fetch", candidates as u64);
    }
    for a in advisories {
        if !wanted(a) {
            vulnerabilities.push(vulnerability_record(a, "none: no affected functions or no patched release"));
            continue;
        }
        if !config.fetch_crates || tried >= config.max_advisory_fetches || offline {
            let why = if offline { "not fetched: cargo could not reach the registry" } else { "not fetched" };
            vulnerabilities.push(vulnerability_record(a, why));
            continue;
        }
        tried += 1;
        progress.inc(1);
        let vs = versions.entry(a.package.clone()).or_insert_with(|| cache.versions(&a.package));
        let outcome = match vs {
            Err(e) => Err(e.clone()),
            Ok(vs) => match sources::crates::choose(a, vs) {
                None => Err("no affected release followed by a patched one".to_string()),
                Some((before, after)) => {
                    let yanked = |v: &semver::Version| vs.iter().any(|(x, y)| x == v && *y);
                    cache
                        .fetch(&a.package, &before, yanked(&before))
                        .and_then(|b| cache.fetch(&a.package, &after, yanked(&after)).map(|f| (before, b, after, f)))
                }
            },
        };
        match outcome {
            Ok((before, bdir, after, adir)) => {
                failures_in_a_row = 0;
                fetched += 1;
                vulnerabilities.push(vulnerability_record(a, &format!("fetched {before} -> {after}")));
                let first_paragraph = a.description.split("\n\n").next().unwrap_or("").replace('\n', " ");
                items.push(Item::Advisory(Box::new(AdvisoryPair {
                    source: source.into(),
                    id: a.id.clone(),
                    package: a.package.clone(),
                    title: a.title.clone(),
                    explanation: format!("{} ({}). {}", a.title, a.id, first_paragraph.trim()),
                    cwe: a.all_cwes().first().copied(),
                    functions: a.affected_functions.keys().cloned().collect(),
                    before_version: before.to_string(),
                    before_dir: bdir,
                    after_version: after.to_string(),
                    after_dir: adir,
                })));
            }
            Err(e) => {
                failures_in_a_row += 1;
                let kind = e.split(':').next().unwrap_or("").to_string();
                *failed.entry(kind).or_default() += 1;
                vulnerabilities.push(vulnerability_record(a, &format!("failed: {e}")));
                // Three failures in a row before any success: the registry is out of reach.
                if fetched == 0 && failures_in_a_row >= 3 {
                    offline = true;
                    notes.push(format!("{src}: cargo could not fetch three crates in a row ({e}); fetching stopped"));
                }
            }
        }
    }
    if config.fetch_crates && candidates > 0 {
        progress.finish();
    }
    notes
        .push(format!("{src}: {tried} advisories with affected functions tried, {fetched} fetched, failed {failed:?}"));
    items
}

/// Turns sources into work items. Crates named by advisories are fetched here (a `fetch`
/// phase on `progress`).
pub fn plan(config: &Config, srcs: &[Source], progress: &dyn Progress) -> Result<Plan, Error> {
    let mut items = Vec::new();
    let mut seeds = BTreeMap::new();
    let mut notes = Vec::new();
    let mut vulnerabilities = Vec::new();
    // Advisories first: their fix commits mark commits for history mining in any order.
    let mut advisories: BTreeMap<usize, Vec<Advisory>> = BTreeMap::new();
    let mut links = history::AdvisoryLinks::default();
    for (i, src) in srcs.iter().enumerate() {
        if let Some((list, note)) = load_advisories(src)? {
            notes.push(note);
            for a in &list {
                for c in &a.fix_commits {
                    links.add(c, &a.id, &a.all_cwes());
                }
            }
            advisories.insert(i, list);
        }
    }
    for (i, src) in srcs.iter().enumerate() {
        let before = items.len();
        match src {
            Source::Seed => {
                for p in seed::pairs()? {
                    items.push(Item::Seed(p.id.clone()));
                    seeds.insert(p.id.clone(), p);
                }
            }
            Source::Registry => {
                items.extend(
                    tree::cargo_registry(config.registry_bytes, config.max_file_bytes)
                        .into_iter()
                        .map(|file| Item::File { source: "registry".into(), file }),
                );
            }
            Source::PythonStdlib => match tree::python_stdlib() {
                Some((dir, origin)) => items.extend(
                    tree::list(&dir, &origin, config.stdlib_bytes, config.max_file_bytes)
                        .into_iter()
                        .map(|file| Item::File { source: "python-stdlib".into(), file }),
                ),
                None => notes.push("python-stdlib: no python3 on PATH; skipped".into()),
            },
            Source::Tree(dir) | Source::Dir(dir) | Source::Git { path: dir, .. } => {
                if !dir.is_dir() {
                    return Err(Error::Config(format!(
                        "{}: not a directory (and not a known source name: seed, registry, python-stdlib, \
                         sven:, safecoder:, cyberseceval:, jsonl:, rustsec:, osv:, history:, dir:)",
                        dir.display()
                    )));
                }
                let rev = match src {
                    Source::Git { rev, .. } => Some(rev.as_str()),
                    _ => None,
                };
                let in_git = !matches!(src, Source::Dir(_)) && crate::units::git::discover(dir).is_some();
                if in_git {
                    let l = crate::units::git::list(dir, rev, config.tree_bytes, config.max_file_bytes)?;
                    notes.push(format!("{src}: git {} at {}", l.repo, l.commit));
                    items.extend(l.files.into_iter().map(|file| Item::File { source: "git".into(), file }));
                } else if matches!(src, Source::Git { .. }) {
                    return Err(Error::Config(format!(
                        "{src}: {} is not inside a git repository, so @REV means nothing",
                        dir.display()
                    )));
                } else {
                    let origin = tree::origin(dir);
                    items.extend(
                        tree::list(dir, &origin, config.tree_bytes, config.max_file_bytes)
                            .into_iter()
                            .map(|file| Item::File { source: "tree".into(), file }),
                    );
                }
            }
            Source::History { path, rev } => {
                if !path.is_dir() {
                    return Err(Error::Config(format!("{src}: {} is not a directory", path.display())));
                }
                let (fixes, walk) = history::fixes(path, rev.as_deref(), &links, config.history_max_commits)?;
                let (repo, _) = crate::units::git::discover(path)
                    .ok_or_else(|| Error::Config(format!("{src}: not inside a git repository")))?;
                let repo_dir = repo.workdir().map(Path::to_path_buf).unwrap_or_else(|| repo.path().to_path_buf());
                let licence = tree::origin(&repo_dir).licence;
                let origin =
                    tree::RootOrigin { repo: Some(crate::units::git::repo_name(&repo)), commit: None, licence };
                notes.push(format!(
                    "{src}: {} commits walked, {} merges skipped, {} security fixes ({} by message, {} by a linked advisory)",
                    walk.commits, walk.merges, walk.fixes, walk.by_message, walk.by_advisory
                ));
                items.extend(fixes.into_iter().map(|fix| Item::Fix {
                    repo: repo_dir.clone(),
                    origin: origin.clone(),
                    fix: Box::new(fix),
                }));
            }
            Source::RustSec(_) | Source::Osv(_) => {
                let list = advisories.remove(&i).unwrap_or_default();
                items.extend(advisory_items(config, src, &list, progress, &mut vulnerabilities, &mut notes));
            }
            Source::Pairs { dataset, path } => {
                let (samples, report) = if path.is_dir() {
                    sources::pairs::load_dir(path, dataset)?
                } else {
                    sources::pairs::load(path, dataset)?
                };
                notes.push(format!("{src}: {} loaded, skipped {:?}", report.loaded, report.skipped));
                items.extend(samples.into_iter().map(|s| Item::Sample(Box::new(s))));
            }
            Source::CyberSecEval(path) => {
                let (samples, report) = sources::cyberseceval::load(path)?;
                notes.push(format!("{src}: {} loaded, skipped {:?}", report.loaded, report.skipped));
                items.extend(samples.into_iter().map(|s| Item::Sample(Box::new(s))));
            }
            Source::Labelled(path) => {
                let (samples, report) = sources::labelled::load(path)?;
                notes.push(format!("{src}: {} loaded, skipped {:?}", report.loaded, report.skipped));
                items.extend(samples.into_iter().map(|s| Item::Sample(Box::new(s))));
            }
        }
        notes.push(format!("{src}: {} work items", items.len() - before));
    }
    let mut h = dedup::hash64(serde_json::to_string(config).unwrap_or_default().as_bytes());
    for src in srcs {
        h = dedup::hash64(format!("{h}{src}").as_bytes());
    }
    for it in &items {
        let key = match it {
            Item::Seed(id) => id.clone(),
            Item::Sample(s) => format!("{}{}", s.id, dedup::hash64(s.code.as_bytes())),
            Item::File { file, .. } => match &file.blob {
                Some(b) => format!("{}{}", file.rel, b),
                None => format!("{}{}", file.path.display(), file.bytes),
            },
            Item::Fix { fix, .. } => fix.commit.clone(),
            Item::Advisory(a) => format!("{}{}{}{:?}", a.id, a.before_version, a.after_version, a.functions),
        };
        h = dedup::hash64(format!("{h}{key}").as_bytes());
    }
    // The verifier's rules are part of what a chunk means.
    h = dedup::hash64(format!("{h}{}", env!("CARGO_PKG_VERSION")).as_bytes());
    Ok(Plan { items, seeds, notes, vulnerabilities, fingerprint: h })
}

/// What a chunk file starts with.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ChunkMeta {
    pub chunk: usize,
    pub items: usize,
    pub units: u64,
    pub rows: u64,
    pub gates: GateCounts,
    pub blind_spots: BlindSpots,
}

/// Progress reporting, implemented by the CLI with progress bars.
pub trait Progress: Sync {
    fn start(&self, phase: &str, total: u64);
    fn inc(&self, n: u64);
    fn finish(&self);
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

/// Options of one run.
pub struct Options<'a> {
    /// Run only the chunks `i` modulo `n` and skip the merge.
    pub shard: Option<(usize, usize)>,
    /// Stop with [`Error::Interrupted`] after this many chunks were written (tests).
    pub stop_after: Option<usize>,
    pub progress: &'a dyn Progress,
}

fn work_dir(out: &Path) -> PathBuf {
    out.join(".work")
}

fn chunk_path(out: &Path, i: usize) -> PathBuf {
    work_dir(out).join(format!("chunk-{i:06}.rows.zst"))
}

#[derive(Serialize, Deserialize)]
struct PlanFile {
    fingerprint: u64,
    chunks: usize,
    config: Config,
    sources: Vec<String>,
    notes: Vec<String>,
}

/// Rows, gate counts, blind spots and unit count of one work item.
type ItemOutput = (Vec<Record>, GateCounts, BlindSpots, u64);

/// Items → records for one chunk.
fn process_chunk(
    annotator: &Annotator,
    config: &Config,
    plan: &Plan,
    chunk: usize,
    range: std::ops::Range<usize>,
) -> Result<(ChunkMeta, Vec<Record>), Error> {
    let (start, end) = (range.start, range.end);
    let results: Vec<Result<ItemOutput, Error>> = plan.items[start..end]
        .par_iter()
        .map(|item| {
            // Function units of a file come with the file's parse, which the verifier scans
            // them on (one parse per file).
            let (units, parse) = match item {
                Item::Seed(id) => match plan.seeds.get(id) {
                    Some(p) => (units::seed_units(p).to_vec(), None),
                    None => (Vec::new(), None),
                },
                Item::Sample(s) => (units::sample_unit(s).into_iter().collect(), None),
                Item::File { source, file } => tree::units_parsed(file, source, config.whole_files)?,
                Item::Fix { repo, origin, fix } => (fix_units(repo, origin, fix, config)?, None),
                Item::Advisory(a) => (advisory_units(a), None),
            };
            let mut gates = GateCounts::default();
            let mut blind = BlindSpots::default();
            let mut rows = Vec::new();
            let n = units.len() as u64;
            for (i, u) in units.into_iter().enumerate() {
                let at = parse.as_ref().and_then(|p| Some((p.text.as_str(), &p.tree, p.ranges.get(i)?.clone())));
                process_unit(annotator, config, u, at, &mut rows, &mut gates, &mut blind);
            }
            Ok((rows, gates, blind, n))
        })
        .collect();
    let mut meta = ChunkMeta { chunk, items: end - start, ..Default::default() };
    let mut rows = Vec::new();
    for r in results {
        let (mut r, g, b, n) = r?;
        meta.units += n;
        meta.gates.merge(&g);
        meta.blind_spots.merge(&b);
        rows.append(&mut r);
    }
    meta.rows = rows.len() as u64;
    Ok((meta, rows))
}

/// The function pairs of a security-fix commit.
fn fix_units(repo: &Path, origin: &tree::RootOrigin, fix: &history::Fix, config: &Config) -> Result<Vec<Unit>, Error> {
    let (pairs, _) = history::pairs(repo, fix, config.history_max_files)?;
    let short = &fix.commit[..12.min(fix.commit.len())];
    let mut out = Vec::new();
    for p in pairs {
        let o = units::PairOrigin {
            source: "history",
            group: format!("history/{}#{}@{}/{short}", p.path, p.function, p.after.start_line),
            repo: (origin.repo.clone(), origin.repo.clone()),
            commit: (Some(fix.parent.clone()), Some(fix.commit.clone())),
            licence: (origin.licence.clone(), origin.licence.clone()),
            task: Some(fix.summary.clone()),
            cwe: fix.cwe(),
            explanation: None,
        };
        out.extend(units::fix_units(&p, o));
    }
    Ok(out)
}

/// The function pairs of an advisory's two releases.
fn advisory_units(a: &AdvisoryPair) -> Vec<Unit> {
    let pairs = sources::crates::extract(&a.package, &a.functions, &a.before_dir, &a.after_dir);
    let (lb, la) = (tree::licence(&a.before_dir), tree::licence(&a.after_dir));
    pairs
        .into_iter()
        .flat_map(|p| {
            let o = units::PairOrigin {
                source: if a.source == "osv" { "osv" } else { "rustsec" },
                group: format!("{}/{}/{}@{}", a.source, a.id, p.function, p.after.start_line),
                repo: (
                    Some(format!("crates.io/{}-{}", a.package, a.before_version)),
                    Some(format!("crates.io/{}-{}", a.package, a.after_version)),
                ),
                commit: (None, None),
                licence: (lb.clone(), la.clone()),
                task: Some(a.title.clone()),
                cwe: a.cwe,
                explanation: Some(a.explanation.clone()),
            };
            units::fix_units(&p, o)
        })
        .collect()
}

/// One unit through gates, annotation and variants. A unit cut from a file may come with the
/// file's parse (`at`: the file's text, its tree, the unit's byte range); the verifier then
/// scans it on that tree.
pub fn process_unit(
    annotator: &Annotator,
    config: &Config,
    mut unit: Unit,
    at: Option<(&str, &tree_sitter::Tree, std::ops::Range<usize>)>,
    rows: &mut Vec<Record>,
    gates: &mut GateCounts,
    blind: &mut BlindSpots,
) {
    gates.add("input_units", 1);
    // The seed corpus is written to be short; bounds are for code found in the wild.
    if !unit.trusted && !config.bounds.accepts(&unit.code) {
        gates.add("length", 1);
        return;
    }
    if !unit.trusted {
        let (code, n) = crate::quality::secrets::redact(&unit.code);
        if n > 0 {
            gates.add("secrets_redacted", n as u64);
            unit.code = code;
        }
    }
    // (Redacted code is no longer what the file's parse saw: `scan_in_file` parses it anew.)
    let report = match at {
        Some((text, tree, range)) => annotator.scan_in_file(&unit, text, tree, range),
        None => annotator.scan(&unit),
    };
    if !crate::quality::parses(&report, unit.code.lines().count()) {
        gates.add("parse", 1);
        return;
    }
    let (record, consistent) = annotator.record_checked(&unit, &report);
    if !consistent {
        gates.add("consistency", 1);
        return;
    }
    if !record.label_verified {
        gates.add("label_disagrees_kept", 1);
    }
    if !record.anrf_valid {
        gates.add("anrf_invalid_kept", 1);
    }
    let scanner = annotator.scanner();
    let flagged = report.findings.iter().any(|f| !f.rule.starts_with("OVR"));
    let derived = unit.source != "seed";
    let push_variant =
        |v: Unit, rep: &sbd_scan::Report, operator: Option<&str>, rows: &mut Vec<Record>, gates: &mut GateCounts| {
            let (mut r, consistent) = annotator.record_checked(&v, rep);
            if !consistent {
                gates.add("consistency", 1);
                return;
            }
            if !r.anrf_valid {
                gates.add("anrf_invalid_kept", 1);
            }
            r.parent = Some(unit.id.clone());
            r.operator = operator.map(str::to_string);
            rows.push(r);
        };
    let mut variants_out = Vec::new();
    if flagged && config.overrides {
        for justified in [true, false] {
            if let Some(v) = overrides::with_override(&unit, &report, justified) {
                let mut rep = scanner.scan(&v.code, v.language);
                rep.path = Some(v.id.clone());
                if overrides::behaves(&rep, justified) {
                    push_variant(v, &rep, None, &mut variants_out, gates);
                } else {
                    gates.add("reverify_override", 1);
                }
            }
        }
    }
    if flagged {
        let emit = derived && variants::chosen(config.seed, &unit.id, config.obfuscation_rate);
        for o in obfuscate::obfuscations(scanner, &unit, &report) {
            blind.add(&o, unit.language);
            if emit {
                let mut rep = o.report.clone();
                rep.path = Some(o.unit.id.clone());
                push_variant(o.unit, &rep, Some(o.operator), &mut variants_out, gates);
            }
        }
    } else if derived && variants::chosen(config.seed ^ 0x5eed, &unit.id, config.mutation_rate) {
        match mutate::mutate(scanner, &unit, &report) {
            mutate::Outcome::Confirmed(m, mut rep) => {
                let op = m.id.rsplit("mutant-").next().map(str::to_string);
                rep.path = Some(m.id.clone());
                push_variant(*m, &rep, op.as_deref(), &mut variants_out, gates);
                gates.add("mutants_confirmed", 1);
            }
            mutate::Outcome::Unconfirmed(_) => gates.add("reverify_mutant", 1),
            mutate::Outcome::NotApplicable => {}
        }
    }
    rows.push(record);
    rows.append(&mut variants_out);
}

fn write_chunk(path: &Path, meta: &ChunkMeta, rows: &[Record]) -> Result<(), Error> {
    crate::chunk::write(path, meta, rows)
}

mod erased {
    pub trait Ser {
        fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn write_json(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(w, self).map_err(std::io::Error::other)
        }
    }
}

/// The row count in a chunk's meta, without reading the rows.
fn chunk_rows(path: &Path) -> Result<u64, Error> {
    let text = crate::chunk::meta(path)?;
    let meta: ChunkMeta = serde_json::from_str(&text).map_err(|e| Error::Record {
        path: path.display().to_string(),
        line: 0,
        message: e.to_string(),
    })?;
    Ok(meta.rows)
}

/// Reads a chunk file: its meta and then each record in order.
pub fn read_chunk(path: &Path, f: impl FnMut(Record) -> Result<(), Error>) -> Result<ChunkMeta, Error> {
    let text = crate::chunk::read(path, f)?;
    serde_json::from_str(&text).map_err(|e| Error::Record {
        path: path.display().to_string(),
        line: 0,
        message: format!("chunk meta: {e}"),
    })
}

/// Runs the chunks of `plan` that are missing (all, or those of one shard).
pub fn run_chunks(out: &Path, config: &Config, srcs: &[Source], plan: &Plan, opts: &Options) -> Result<usize, Error> {
    let wd = work_dir(out);
    std::fs::create_dir_all(&wd).map_err(|e| Error::io(&wd, e))?;
    let pf_path = wd.join("plan.json");
    let ranges = plan.chunk_ranges(config.chunk_items, config.chunk_bytes);
    let chunks = ranges.len();
    let stale = match std::fs::read_to_string(&pf_path) {
        Ok(t) => serde_json::from_str::<PlanFile>(&t).map(|p| p.fingerprint != plan.fingerprint).unwrap_or(true),
        Err(_) => true,
    };
    if stale {
        // Another plan's chunks are not ours: start over.
        if let Ok(entries) = std::fs::read_dir(&wd) {
            for e in entries.flatten() {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let pf = PlanFile {
            fingerprint: plan.fingerprint,
            chunks,
            config: config.clone(),
            sources: srcs.iter().map(|s| s.to_string()).collect(),
            notes: plan.notes.clone(),
        };
        if !plan.vulnerabilities.is_empty() {
            let mut lines = Vec::new();
            for v in &plan.vulnerabilities {
                serde_json::to_writer(&mut lines, v).map_err(|e| Error::Config(e.to_string()))?;
                lines.push(b'\n');
            }
            crate::output::write_atomic(&wd.join("vulnerabilities.jsonl"), &lines)?;
        }
        // The plan file goes last: it says the work folder belongs to this plan.
        let text = serde_json::to_vec_pretty(&pf).map_err(|e| Error::Config(e.to_string()))?;
        crate::output::write_atomic(&pf_path, &text)?;
    }
    let mine: Vec<usize> = (0..chunks).filter(|i| opts.shard.is_none_or(|(k, n)| i % n == k)).collect();
    let todo: Vec<usize> = mine.iter().copied().filter(|&i| !chunk_path(out, i).exists()).collect();
    opts.progress.start("annotate", mine.len() as u64);
    opts.progress.inc((mine.len() - todo.len()) as u64);
    let annotator = Annotator::new(config.timestamp.clone())?;
    let mut written = 0;
    for i in todo {
        if opts.stop_after.is_some_and(|n| written >= n) {
            opts.progress.finish();
            return Err(Error::Interrupted(written));
        }
        let (meta, rows) = process_chunk(&annotator, config, plan, i, ranges[i].clone())?;
        write_chunk(&chunk_path(out, i), &meta, &rows)?;
        written += 1;
        opts.progress.inc(1);
    }
    opts.progress.finish();
    Ok(written)
}

/// The dataset digest: per split, a hash chained over its rows in file order; then the
/// splits in name order. Equal digests, equal datasets.
#[derive(Default)]
struct Digest(BTreeMap<String, u64>);

impl Digest {
    fn add(&mut self, r: &Record) {
        let key = format!("{}\u{1}{}\u{1}{:?}\u{1}{}\u{1}{}", r.id, r.code, r.rules, r.vulnerable, r.anrf);
        let d = self.0.entry(r.split.clone()).or_default();
        *d = dedup::hash64(format!("{d}{}", dedup::hash64(key.as_bytes())).as_bytes());
    }

    fn hex(&self) -> String {
        let all: String = self.0.iter().map(|(k, v)| format!("{k}={v:016x};")).collect();
        format!("{:016x}", dedup::hash64(all.as_bytes()))
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: String,
    pub created_by: String,
    pub sources: Vec<String>,
    pub source_notes: Vec<String>,
    pub config: Config,
    pub rows: u64,
    /// A hash over every row (id, split, code, labels) in file order: equal digests, equal
    /// datasets.
    pub digest: String,
    pub files: Vec<ManifestFile>,
    pub gates: GateCounts,
    /// Records in `vulnerabilities.jsonl` (advisories read by `rustsec:` and `osv:` sources).
    #[serde(default)]
    pub vulnerabilities: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub split: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Merges the chunks in `out/.work` into the dataset in `out`.
pub fn merge(out: &Path, progress: &dyn Progress) -> Result<Manifest, Error> {
    let wd = work_dir(out);
    let pf_path = wd.join("plan.json");
    let pf: PlanFile = serde_json::from_slice(&std::fs::read(&pf_path).map_err(|e| Error::io(&pf_path, e))?)
        .map_err(|e| Error::Format { path: pf_path.display().to_string(), message: e.to_string() })?;
    let missing: Vec<usize> = (0..pf.chunks).filter(|&i| !chunk_path(out, i).exists()).collect();
    if !missing.is_empty() {
        return Err(Error::Config(format!(
            "{} of {} chunks are missing (first: {}); run every shard before merging",
            missing.len(),
            pf.chunks,
            missing[0]
        )));
    }
    let config = pf.config.clone();
    // Pass 1: groups, signatures and keys spilled to disk (bounded memory).
    let expected: u64 = (0..pf.chunks).map(|i| chunk_rows(&chunk_path(out, i)).unwrap_or(0)).sum();
    progress.start("dedup", pf.chunks as u64);
    let mut gates = GateCounts::default();
    let mut blind = BlindSpots::default();
    let mut groups = Groups::default();
    let mut group_of: Vec<u32> = Vec::new();
    // Per row: bit 0 original code, bit 1 dropped as an exact duplicate, bit 2 as a near one.
    let mut state: Vec<u8> = Vec::new();
    let balance = &config.balance;
    let mut cells: Vec<u32> = Vec::new();
    let mut cell_names: Vec<Vec<String>> = Vec::new();
    let mut cell_index: BTreeMap<Vec<String>, u32> = BTreeMap::new();
    let mut spill = crate::quality::spill::Spill::new(&wd.join("merge"), expected, config.near_dup_threshold)?;
    for i in 0..pf.chunks {
        let path = chunk_path(out, i);
        let mut rows: Vec<crate::chunk::Key> = Vec::new();
        let text = crate::chunk::read_keys(&path, |r| {
            rows.push(r);
            Ok(())
        })?;
        let meta: ChunkMeta = serde_json::from_str(&text).map_err(|e| Error::Record {
            path: path.display().to_string(),
            line: 0,
            message: format!("chunk meta: {e}"),
        })?;
        let sigs: Vec<dedup::Signature> = rows.par_iter().map(|r| dedup::signature(&r.code)).collect();
        for (r, sig) in rows.iter().zip(&sigs) {
            let g = groups.id(&r.group);
            groups.mark(g, r.variant.is_adversarial(), r.label_claimed.is_some() || r.source == "seed");
            group_of.push(g);
            let original = r.variant == VariantKind::Original;
            state.push(u8::from(original));
            let key = dedup::exact_key(&r.code) ^ if original { 0x9E37_79B9_7F4A_7C15 } else { 0 };
            spill.push(sig, Some(key))?;
            if balance.active() {
                let c = balance.cell(&crate::balance::Strata::of_key(r));
                let next = cell_names.len() as u32;
                let id = *cell_index.entry(c.clone()).or_insert_with(|| {
                    cell_names.push(c);
                    next
                });
                cells.push(id);
            }
        }
        gates.merge(&meta.gates);
        blind.merge(&meta.blind_spots);
        progress.inc(1);
    }
    progress.finish();
    // Resolution, in row order: exact duplicates go; a near-duplicate of an earlier kept row
    // goes when both are code as found, else the two groups join (pairs, variants and their
    // look-alikes then share a split).
    let (dups, edges) = spill.finish()?;
    for (k, s) in state.iter_mut().enumerate() {
        if dups.contains(k as u32) {
            *s |= 2;
            gates.add("exact_dup", 1);
        }
    }
    edges.for_each(|j, i, _| {
        let (j, i) = (j as usize, i as usize);
        if state[j] & 6 != 0 || state[i] & 6 != 0 {
            return Ok(());
        }
        let (gi, gj) = (group_of[i], group_of[j]);
        if groups.find(gi) == groups.find(gj) {
            return Ok(());
        }
        if state[i] & 1 != 0 && state[j] & 1 != 0 {
            state[j] |= 4;
            gates.add("near_dup", 1);
        } else {
            groups.union(gi, gj);
            gates.add("near_dup_clustered", 1);
        }
        Ok(())
    })?;
    // Resampling weights per split and cell.
    let split_cfg = SplitConfig { seed: config.seed, eval_fraction: config.eval_fraction };
    let mut weights: BTreeMap<(&'static str, u32), f64> = BTreeMap::new();
    if balance.active() {
        let mut counts: BTreeMap<&'static str, BTreeMap<Vec<String>, u64>> = BTreeMap::new();
        for k in 0..state.len() {
            if state[k] & 6 == 0 {
                let split = groups.split(group_of[k], &split_cfg);
                if balance.splits.iter().any(|s| s == split) {
                    *counts.entry(split).or_default().entry(cell_names[cells[k] as usize].clone()).or_default() += 1;
                }
            }
        }
        for (split, c) in &counts {
            for (cell, w) in balance.weights(c) {
                weights.insert((split, cell_index[&cell]), w);
            }
        }
    }
    let mut tally = crate::balance::Tally::default();
    // Pass 2: splits and shards.
    let data = out.join("data");
    if data.is_dir() {
        for e in std::fs::read_dir(&data).map_err(|e| Error::io(&data, e))?.flatten() {
            if e.path().extension().is_some_and(|x| x == "parquet" || x == "tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    progress.start("write", pf.chunks as u64);
    let mut writers: BTreeMap<&'static str, (ShardWriter, usize)> = BTreeMap::new();
    let mut finished: Vec<(String, String, u64)> = Vec::new();
    let mut stats = Stats::default();
    let mut digest = Digest::default();
    let mut row = 0usize;
    for i in 0..pf.chunks {
        read_chunk(&chunk_path(out, i), |mut r| {
            let k = row;
            row += 1;
            if state[k] & 6 != 0 {
                return Ok(());
            }
            let split = groups.split(group_of[k], &split_cfg);
            r.split = split.to_string();
            let copies = match weights.get(&(split, cells.get(k).copied().unwrap_or(0))) {
                Some(&w) => {
                    let cell = &cell_names[cells[k] as usize];
                    let n = crate::balance::Balance::copies(
                        config.seed,
                        &format!("{}\u{1}{}", r.group, cell.join("\u{1}")),
                        w,
                    );
                    tally.add(split, cell, n);
                    n
                }
                None => 1,
            };
            if copies == 0 {
                return Ok(());
            }
            let extra: Vec<Record> = (2..=copies)
                .map(|c| {
                    let mut x = r.clone();
                    x.id = format!("{}~rep{c}", r.id);
                    x
                })
                .collect();
            for r in std::iter::once(r).chain(extra) {
                stats.add(&r);
                digest.add(&r);
                if !writers.contains_key(split) {
                    let w = ShardWriter::create(&data.join(format!("{split}-{:05}.parquet", 0)))?;
                    writers.insert(split, (w, 0));
                }
                let full = writers.get(split).is_some_and(|(w, _)| w.rows >= config.rows_per_shard);
                if full && let Some((w, n)) = writers.remove(split) {
                    let rows = w.rows;
                    let p = w.finish()?;
                    finished.push((split.to_string(), p.display().to_string(), rows));
                    let nw = ShardWriter::create(&data.join(format!("{split}-{:05}.parquet", n + 1)))?;
                    writers.insert(split, (nw, n + 1));
                }
                if let Some((w, _)) = writers.get_mut(split) {
                    w.push(r)?;
                }
            }
            Ok(())
        })?;
        progress.inc(1);
    }
    for (split, (w, _)) in writers {
        let rows = w.rows;
        let p = w.finish()?;
        finished.push((split.to_string(), p.display().to_string(), rows));
    }
    progress.finish();
    // Rename to `<split>-NNNNN-of-MMMMM.parquet`.
    let mut files = Vec::new();
    let mut by_split: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (s, _, _) in &finished {
        *counts.entry(s.clone()).or_default() += 1;
    }
    finished.sort();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (split, path, rows) in finished {
        let n = index.entry(split.clone()).or_default();
        let name = format!("{split}-{:05}-of-{:05}.parquet", *n, counts[&split]);
        *n += 1;
        let target = data.join(&name);
        std::fs::rename(&path, &target).map_err(|e| Error::io(&target, e))?;
        let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        files.push(ManifestFile { path: format!("data/{name}"), split: split.clone(), rows, bytes });
        by_split.entry(split).or_default().push(format!("data/{name}"));
    }
    let write_json = |name: &str, v: &dyn erased::Ser| -> Result<(), Error> {
        let mut buf = Vec::new();
        v.write_json(&mut buf).map_err(|e| Error::io(out.join(name), e))?;
        let pretty: serde_json::Value = serde_json::from_slice(&buf).map_err(|e| Error::Config(e.to_string()))?;
        let text = serde_json::to_vec_pretty(&pretty).map_err(|e| Error::Config(e.to_string()))?;
        crate::output::write_atomic(&out.join(name), &text)
    };
    #[derive(Serialize)]
    struct StatsFile<'a> {
        #[serde(flatten)]
        stats: &'a Stats,
        gates: &'a GateCounts,
        quantity: Vec<crate::output::quantity::Line>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        balance: BTreeMap<String, crate::balance::SplitReport>,
    }
    let balance_report = tally.report(balance);
    write_json(
        "stats.json",
        &StatsFile {
            stats: &stats,
            gates: &gates,
            quantity: crate::output::quantity::report(&stats),
            balance: balance_report,
        },
    )?;
    // Vulnerability records, when the build read advisories.
    let vulns_work = wd.join("vulnerabilities.jsonl");
    let vulnerabilities = match std::fs::read(&vulns_work) {
        Ok(bytes) => {
            crate::output::write_atomic(&out.join("vulnerabilities.jsonl"), &bytes)?;
            bytes.iter().filter(|&&b| b == b'\n').count() as u64
        }
        Err(_) => {
            let _ = std::fs::remove_file(out.join("vulnerabilities.jsonl"));
            0
        }
    };
    write_json("blind_spots.json", &blind)?;
    let card = crate::output::card::render(&stats, &gates, &blind, &by_split, &pf.sources);
    crate::output::write_atomic(&out.join("README.md"), card.as_bytes())?;
    let manifest = Manifest {
        format: "sbd-dataset".into(),
        version: "1.0.0".into(),
        created_by: format!("sbd-data {}", env!("CARGO_PKG_VERSION")),
        sources: pf.sources.clone(),
        source_notes: pf.notes.clone(),
        config,
        rows: stats.rows,
        digest: digest.hex(),
        files,
        gates,
        vulnerabilities,
    };
    write_json("manifest.json", &manifest)?;
    Ok(manifest)
}

/// Plans, runs the missing chunks and (unless sharded) merges.
pub fn build(out: &Path, config: &Config, srcs: &[Source], opts: &Options) -> Result<Option<Manifest>, Error> {
    config.check()?;
    let plan = plan(config, srcs, opts.progress)?;
    run_chunks(out, config, srcs, &plan, opts)?;
    if opts.shard.is_some() {
        return Ok(None);
    }
    merge(out, opts.progress).map(Some)
}

/// Reads `stats.json` of a dataset.
pub fn read_stats(dir: &Path) -> Result<(Stats, GateCounts), Error> {
    let p = dir.join("stats.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).map_err(|e| Error::io(&p, e))?)
        .map_err(|e| Error::Format { path: p.display().to_string(), message: e.to_string() })?;
    let stats: Stats = serde_json::from_value(v.clone())
        .map_err(|e| Error::Format { path: p.display().to_string(), message: e.to_string() })?;
    let gates: GateCounts = serde_json::from_value(v.get("gates").cloned().unwrap_or_default()).unwrap_or_default();
    Ok((stats, gates))
}

/// Reads `manifest.json` of a dataset.
pub fn read_manifest(dir: &Path) -> Result<Manifest, Error> {
    let p = dir.join("manifest.json");
    serde_json::from_slice(&std::fs::read(&p).map_err(|e| Error::io(&p, e))?)
        .map_err(|e| Error::Format { path: p.display().to_string(), message: e.to_string() })
}

/// Streams every row of a dataset in manifest order.
pub fn for_each_row(
    dir: &Path,
    mut f: impl FnMut(&ManifestFile, Record) -> Result<(), Error>,
) -> Result<Manifest, Error> {
    let m = read_manifest(dir)?;
    for file in &m.files {
        crate::output::parquet::read(&dir.join(&file.path), |r| f(file, r))?;
    }
    Ok(m)
}

/// Problems found by [`validate`].
#[derive(Debug, Default, Serialize)]
pub struct Validation {
    pub rows: u64,
    pub files: usize,
    pub problems: BTreeMap<String, u64>,
    pub examples: Vec<String>,
}

impl Validation {
    fn problem(&mut self, kind: &str, id: &str) {
        *self.problems.entry(kind.to_string()).or_default() += 1;
        if self.examples.len() < 20 {
            self.examples.push(format!("{kind}: {id}"));
        }
    }

    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks a dataset directory: shards readable with the schema, row counts and digest match
/// the manifest, ids unique, each row in the split its file says, no group in two splits,
/// `anrf_valid` equal to the validator's verdict, ANRF consistent with the row, tags inside
/// the code, and no near-duplicates (MinHash + LSH at the build's threshold) across splits.
pub fn validate(dir: &Path) -> Result<Validation, Error> {
    let mut v = Validation::default();
    let mut group_split: std::collections::HashMap<u64, u8> = std::collections::HashMap::new();
    let mut per_file: BTreeMap<String, u64> = BTreeMap::new();
    let mut digest = Digest::default();
    let manifest = read_manifest(dir)?;
    let scratch = std::env::temp_dir().join(format!(
        "sbd-validate-{}-{}",
        std::process::id(),
        dedup::hash64(dir.display().to_string().as_bytes())
    ));
    // Near-duplicates across splits and duplicate ids, searched on disk; one byte per row
    // (its split) stays in memory.
    let mut spill = crate::quality::spill::Spill::new(&scratch, manifest.rows, manifest.config.near_dup_threshold)?;
    let mut split_of: Vec<u8> = Vec::new();
    let split_code = |s: &str| crate::split::SPLITS.iter().position(|x| *x == s).unwrap_or(255) as u8;
    let m = for_each_row(dir, |file, r| {
        v.rows += 1;
        spill.push(&dedup::signature(&r.code), Some(dedup::hash64(r.id.as_bytes())))?;
        split_of.push(split_code(&r.split));
        *per_file.entry(file.path.clone()).or_default() += 1;
        digest.add(&r);
        if r.split != file.split {
            v.problem("row in the wrong split file", &r.id);
        }
        let g = dedup::hash64(r.group.as_bytes());
        match group_split.get(&g) {
            Some(s) if *s != split_code(&r.split) => v.problem("group straddles splits", &r.group),
            Some(_) => {}
            None => {
                group_split.insert(g, split_code(&r.split));
            }
        }
        match serde_json::from_str::<serde_json::Value>(&r.anrf) {
            Ok(inst) => {
                if sbd_anrf::validate(&inst).is_valid() != r.anrf_valid {
                    v.problem("anrf_valid disagrees with the validator", &r.id);
                }
            }
            Err(_) => v.problem("ANRF is not JSON", &r.id),
        }
        if !crate::quality::consistent(&r) {
            v.problem("ANRF inconsistent with the row", &r.id);
        }
        let chars = r.code.chars().count();
        if r.tags.iter().any(|t| t.start > t.end || t.end > chars) {
            v.problem("tag outside the code", &r.id);
        }
        if r.lines as usize != r.code.lines().count() || r.bytes as usize != r.code.len() {
            v.problem("lines/bytes disagree with the code", &r.id);
        }
        Ok(())
    })?;
    let (dup_ids, edges) = spill.finish()?;
    let mut flagged: Vec<(u32, &str)> = Vec::new();
    for k in 0..split_of.len() as u32 {
        if dup_ids.contains(k) {
            flagged.push((k, "duplicate id"));
        }
    }
    let mut across = crate::quality::spill::RowSet::default();
    edges.for_each(|j, i, _| {
        if split_of[i as usize] != split_of[j as usize] && !across.contains(j) {
            across.insert(j);
            flagged.push((j, "near-duplicate across splits"));
        }
        Ok(())
    })?;
    if !flagged.is_empty() {
        // Name the rows: one more pass for their ids.
        flagged.sort_unstable();
        let mut at = 0usize;
        let mut k = 0u32;
        for_each_row(dir, |_, r| {
            while at < flagged.len() && flagged[at].0 == k {
                v.problem(flagged[at].1, &r.id);
                at += 1;
            }
            k += 1;
            Ok(())
        })?;
    }
    v.files = m.files.len();
    for f in &m.files {
        if per_file.get(&f.path).copied().unwrap_or(0) != f.rows {
            v.problem("row count differs from the manifest", &f.path);
        }
    }
    if v.rows != m.rows {
        v.problem("total rows differ from the manifest", "manifest.json");
    }
    if digest.hex() != m.digest {
        v.problem("digest differs from the manifest", "manifest.json");
    }
    Ok(v)
}

/// All rows of the given splits (all when empty), for exports.
pub fn rows(dir: &Path, splits: &[String]) -> Result<Vec<Record>, Error> {
    let mut out = Vec::new();
    for_each_row(dir, |_, r| {
        if splits.is_empty() || splits.contains(&r.split) {
            out.push(r);
        }
        Ok(())
    })?;
    Ok(out)
}
