//! `sbd-scan` — the verifier.
//!
//! It parses code in ten languages with tree-sitter (C, C++, Rust, Python, Go, Java,
//! JavaScript, TypeScript, C#, PHP), runs a catalogue of security rules over the tree, and
//! returns a [`Report`] per unit: findings, facts, properties and overrides. The same code
//! labels training data, computes RL rewards and scores benchmarks, so it is built to be
//! called thousands of times per second: build one [`Scanner`] (it holds the compiled rules)
//! and call [`Scanner::scan`] per unit. [`scan`] does that with a process-wide default scanner.
//!
//! ```
//! use sbd_scan::{scan, Language};
//! let r = scan("import os\ndef run(cmd):\n    os.system(cmd)\n", Language::Python);
//! assert_eq!(r.findings[0].rule, "PY001");
//! ```
//!
//! # Pipeline
//! 1. **Parse** ([`parse`](crate::parse)) under a time budget; a fragment (a function body, a
//!    few statements) that does not parse as it is is retried inside a minimal wrapper for its
//!    language and the variant with fewer syntax errors wins. Spans always refer to the text
//!    given.
//! 2. **Resolve** imports ([`resolve`]): `import subprocess as sp; sp.run` is
//!    `subprocess.run`, `from yaml import load as l` makes `l` mean `yaml.load`.
//! 3. **Match** the rules ([`rule`]): *call* rules by qualified callee name with constraints
//!    on arguments (literal, constant, tainted, regex, kind, resolved name), *query* rules by a
//!    tree-sitter query whose captures are metavariables with the same constraints; both with
//!    `inside` / `not_inside` / `has` / `not_has` context. One walk of the tree dispatches by
//!    node kind: queries that are just `(kind) @match` (with constraints on the node, its
//!    fields and its text) need no query engine; the remaining queries of a language run as
//!    one combined tree-sitter query; call rules are indexed by the callee's last identifier
//!    and only candidates are resolved. Taint and ancestor lookups are memoised and bounded,
//!    so adversarial nesting stays linear.
//! 4. **Taint** ([`taint`]) answers "is this argument built from untrusted input?" for
//!    injection rules, intra-procedurally.
//! 5. **Facts** come from the language files (`languages/<lang>.toml`) with the same matcher.
//! 6. **Overrides** ([`overrides`]) suppress findings and are validated.
//! 7. **Properties** are derived (below). Outputs: [`output`] (text, JSON, SARIF 2.1.0).
//!
//! # Properties
//! Every [`Report`] carries [`Properties`], derived only from the report's own findings
//! (active *and* suppressed) and facts:
//! - `memory_safe`: no finding of class `MemorySafety` and, in a memory-safe language (all
//!   but C and C++), no fact of category `unsafe_construct`. A justified override suppresses
//!   the finding but does **not** make the unit memory-safe. For C and C++, which guarantee
//!   nothing, `true` means only that no memory-safety rule matched.
//! - `type_safe`: no finding of class `TypeSafety` and no fact marked `type_unsafe`
//!   (transmute, `reinterpret_cast`, `unsafe.Pointer`, `ctypes.cast`, …).
//! - `resource_bounded`: no finding of class `ResourceBounds` and no `resource_hazard` fact.
//! - `sandboxed`: at least one `sandboxing` fact (seccomp, landlock, pledge, chroot, setrlimit,
//!   namespaces, capability dropping, bubblewrap/nsjail/firejail, wasm runtimes).
//! - `override_status`: `none` (no `sbd:allow`), `justified` (all overrides valid) or `invalid`.
//!
//! A unit that was not scanned (binary, over the size limit, over the parse budget) reports
//! every boolean property as `false` and says why in `notes`.
//!
//! # JSON report schema (version [`REPORT_SCHEMA_VERSION`])
//! `sbd scan --format json` prints one object:
//! `{"schema": "sbd-scan-report", "version": "1.0.0", "tool": {"name", "version"},
//! "reports": [Report…], "errors": [{"path", "error"}…]}`. A `Report` is the serde form of
//! [`Report`]: `language`, `path`, `findings` and `suppressed` ([`Finding`]: `rule`, `title`,
//! `cwe`, `class`, `severity`, `confidence`, `span`, `message`, `explanation`, `fix`,
//! `suppressed_by`), `facts`, `properties`, `overrides`, `notes`, `parse`. Spans carry byte
//! offsets and 1-based lines and (byte) columns. Fields are only ever added within a major
//! version.
#![forbid(unsafe_code)]

pub mod anrf;
pub mod catalog;
mod engine;
mod flow;
mod kind;
pub mod lang;
pub mod output;
pub mod overrides;
mod parse;
pub mod report;
pub mod resolve;
pub mod reward;
pub mod rule;
pub mod taint;
mod types;

use std::sync::OnceLock;

pub use engine::{Limits, ScanError, Scanner, ScannerBuilder};
pub use lang::Language;
pub use report::*;
pub use rule::Rule;

/// Scan `text` as `lang` with the embedded rules and default limits.
///
/// The compiled rule set is built once per process. If the embedded catalogue were broken
/// (a build defect, caught by this crate's tests), the report says so in `notes`.
pub fn scan(text: &str, lang: Language) -> Report {
    static DEFAULT: OnceLock<Result<Scanner, String>> = OnceLock::new();
    match DEFAULT.get_or_init(|| Scanner::new().map_err(|e| e.to_string())) {
        Ok(s) => s.scan(text, lang),
        Err(e) => {
            let note = format!("embedded rules failed to load: {e}");
            match Scanner::builder().without_embedded_rules().build() {
                Ok(s) => {
                    let mut r = s.scan(text, lang);
                    r.notes.push(note);
                    r
                }
                Err(_) => Report::unscanned(lang, None, text.len(), note),
            }
        }
    }
}

/// Parse `text` with the raw tree-sitter grammar only (no wrappers, rules or facts); for
/// benchmarks that compare the verifier with the parser's own speed. Returns whether a tree
/// was produced.
pub fn raw_parse(text: &str, lang: Language) -> bool {
    thread_local! {
        static RAW: std::cell::RefCell<tree_sitter::Parser> = std::cell::RefCell::new(tree_sitter::Parser::new());
    }
    RAW.with(|p| {
        let mut p = p.borrow_mut();
        p.set_language(&lang.grammar()).is_ok() && p.parse(text, None).is_some()
    })
}
