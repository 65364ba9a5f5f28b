//! Advisories with affected functions become before/after pairs from the last affected and
//! first patched releases. Offline: a crate the test writes in two versions, laid out as
//! cargo unpacks it in the cache. Online: a real advisory fetched with cargo (skipped with a
//! reason when crates.io is out of reach).
use std::path::{Path, PathBuf};

use sbd_data::pipeline::{self, Config, Options, Quiet, Source};
use sbd_data::record::VariantKind;
use sbd_data::sources::{crates, rustsec};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-data-adv-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const ADVISORY: &str = "```toml\n[advisory]\nid = \"RUSTSEC-2099-0042\"\npackage = \"demo-buf\"\ndate = \"2099-01-02\"\n\
    url = \"https://example.org/demo-buf/commit/0123abcd4567ef\"\ncategories = [\"memory-corruption\"]\n\n\
    [versions]\npatched = [\">= 1.2.0\"]\n\n[affected.functions]\n\"demo_buf::Buf::push\" = [\"< 1.2.0\"]\n```\n\n\
    # Out-of-bounds write in `Buf::push`\n\n`push` wrote past the end of the buffer when it was full.\n\nMore text.\n";

fn crate_version(dir: &Path, version: &str, push_body: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"demo-buf\"\nversion = \"{version}\"\nlicense = \"MIT OR Apache-2.0\"\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("src/lib.rs"),
        "mod buf;\npub use buf::Buf;\n\npub fn version() -> &'static str {\n    \"x\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/buf.rs"),
        format!(
            "pub struct Buf {{\n    data: Vec<u8>,\n    len: usize,\n}}\n\nimpl Buf {{\n    pub fn push(&mut self, v: u8) {{\n{push_body}\n    }}\n\n    pub fn len(&self) -> usize {{\n        self.len\n    }}\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join(".cargo-ok"), "{\"v\":1}").unwrap();
}

/// A cargo cache holding demo-buf 1.1.1 (yanked, last affected) and 1.2.0 (first patched),
/// and the registry index entry listing its releases.
fn cache(root: &Path) {
    let src = root.join("registry/src/index.crates.io-test");
    crate_version(
        &src.join("demo-buf-1.1.1"),
        "1.1.1",
        "        unsafe { *self.data.as_mut_ptr().add(self.len) = v; }\n        self.len += 1;",
    );
    crate_version(
        &src.join("demo-buf-1.2.0"),
        "1.2.0",
        "        assert!(self.len < self.data.len(), \"buffer full\");\n        self.data[self.len] = v;\n        self.len += 1;",
    );
    let index = root.join("registry/index/index.crates.io-test/.cache/de/mo");
    std::fs::create_dir_all(&index).unwrap();
    let mut bytes = vec![3u8, 2, 0, 0, 0];
    bytes.extend_from_slice(b"etag\0");
    for (v, yanked) in [("1.0.0", false), ("1.1.0", false), ("1.1.1", true), ("1.2.0", false), ("1.3.0-rc.1", false)] {
        bytes.extend_from_slice(
            format!("{v}\0{{\"name\":\"demo-buf\",\"vers\":\"{v}\",\"deps\":[],\"yanked\":{yanked}}}\0").as_bytes(),
        );
    }
    std::fs::write(index.join("demo-buf"), bytes).unwrap();
}

#[test]
fn the_last_affected_and_first_patched_releases_give_a_pair() {
    let root = tmp("cache");
    cache(&root);
    let c = crates::CrateCache::new(&root);
    let versions = c.versions("demo-buf").unwrap();
    assert_eq!(versions.len(), 5);
    let adv = rustsec::parse(Path::new("RUSTSEC-2099-0042.md"), ADVISORY).unwrap();
    let (before, after) = crates::choose(&adv, &versions).unwrap();
    assert_eq!((before.to_string(), after.to_string()), ("1.1.1".to_string(), "1.2.0".to_string()));
    let (b, a) = (c.fetch("demo-buf", &before, true).unwrap(), c.fetch("demo-buf", &after, false).unwrap());
    let pairs = crates::extract("demo-buf", &["demo_buf::Buf::push".to_string()], &b, &a);
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0].function, "demo_buf::buf::Buf::push", "found through the re-export");
    assert_eq!(pairs[0].path, "src/buf.rs");
    assert!(pairs[0].before.code.contains("unsafe") && pairs[0].after.code.contains("assert!"));
    // A function the fix did not touch yields nothing.
    assert!(crates::extract("demo-buf", &["demo_buf::Buf::len".to_string()], &b, &a).is_empty());

    // Through the pipeline: rows for both sides, the advisory as a vulnerability record.
    let db = tmp("db");
    std::fs::create_dir_all(db.join("crates/demo-buf")).unwrap();
    std::fs::write(db.join("crates/demo-buf/RUSTSEC-2099-0042.md"), ADVISORY).unwrap();
    let out = tmp("out");
    let config = Config { crate_cache: Some(root.clone()), ..Config::default() };
    let m = pipeline::build(
        &out,
        &config,
        &[Source::RustSec(db.clone())],
        &Options { shard: None, stop_after: None, progress: &Quiet },
    )
    .unwrap()
    .unwrap();
    assert_eq!(m.vulnerabilities, 1);
    let v: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(out.join("vulnerabilities.jsonl")).unwrap().trim()).unwrap();
    assert_eq!(v["pair"], "fetched 1.1.1 -> 1.2.0");
    assert_eq!(v["fix_commits"], serde_json::json!(["0123abcd4567ef"]));
    let rows = pipeline::rows(&out, &[]).unwrap();
    let insecure = rows.iter().find(|r| r.source == "rustsec" && r.variant == VariantKind::Insecure).expect("before");
    let secure = rows.iter().find(|r| r.group == insecure.group && r.variant == VariantKind::Secure).expect("after");
    assert_eq!(insecure.repo.as_deref(), Some("crates.io/demo-buf-1.1.1"));
    assert_eq!(secure.repo.as_deref(), Some("crates.io/demo-buf-1.2.0"));
    assert_eq!(insecure.licence.as_deref(), Some("MIT OR Apache-2.0"));
    assert_eq!((insecure.cwe_label, insecure.label_claimed), (Some(119), Some(true)));
    assert_eq!(insecure.task.as_deref(), Some("Out-of-bounds write in `Buf::push`"));
    assert!(insecure.explanation.contains("wrote past the end"), "{}", insecure.explanation);
    assert!(pipeline::validate(&out).unwrap().ok());

    // Without fetching, the advisory is still a record, with no pair.
    let out2 = tmp("out2");
    let config = Config { fetch_crates: false, ..Config::default() };
    let m = pipeline::build(
        &out2,
        &config,
        &[Source::RustSec(db), Source::Seed],
        &Options { shard: None, stop_after: None, progress: &Quiet },
    )
    .unwrap()
    .unwrap();
    assert_eq!(m.vulnerabilities, 1);
    assert!(pipeline::rows(&out2, &[]).unwrap().iter().all(|r| r.source != "rustsec"));
}

#[test]
fn a_real_advisory_fetched_with_cargo() {
    // RUSTSEC-2024-0006: shlex's quote/join let `{` and non-breaking spaces through unquoted.
    let adv = rustsec::parse(
        Path::new("RUSTSEC-2024-0006.md"),
        "```toml\n[advisory]\nid = \"RUSTSEC-2024-0006\"\npackage = \"shlex\"\ndate = \"2024-01-21\"\n\
         categories = [\"code-execution\"]\n\n[versions]\npatched = [\">= 1.3.0\"]\n\n\
         [affected.functions]\n\"shlex::quote\" = [\"< 1.2.1\"]\n\"shlex::bytes::quote\" = [\"< 1.2.1\"]\n```\n\n# Multiple issues involving quote API\n",
    )
    .unwrap();
    let root = tmp("real-cache");
    let c = crates::CrateCache::new(&root);
    let versions = match c.versions("shlex") {
        Ok(v) => v,
        Err(e) => {
            eprintln!("skipping: cargo could not reach crates.io ({e})");
            return;
        }
    };
    let (before, after) = crates::choose(&adv, &versions).expect("an affected release before 1.3.0");
    assert_eq!(after.to_string(), "1.3.0");
    assert!(before < after && adv.affects(&before));
    let yanked = |v: &semver::Version| versions.iter().any(|(x, y)| x == v && *y);
    let b = match c.fetch("shlex", &before, yanked(&before)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("skipping: cargo could not fetch shlex {before} ({e})");
            return;
        }
    };
    let a = c.fetch("shlex", &after, yanked(&after)).unwrap();
    assert!(b.join("Cargo.toml").is_file() && a.join("src/lib.rs").is_file());
    let pairs = crates::extract("shlex", &adv.affected_functions.keys().cloned().collect::<Vec<_>>(), &b, &a);
    assert!(!pairs.is_empty(), "quote changed between {before} and {after}");
    assert!(pairs.iter().all(|p| p.function.starts_with("shlex::") && p.function.ends_with("quote")));
    // A second fetch is served from the cache.
    assert_eq!(c.fetch("shlex", &after, false).unwrap(), a);
    let _ = std::fs::remove_dir_all(&root);
}
