//! Units of code: what one dataset row is made from.
//!
//! - [`tree`] walks directory trees and git repositories (respecting `.gitignore`), records
//!   the origin of every file (repository URL, commit, path, licence) and
//! - [`cut`] splits a file into function-level units with the verifier's tree-sitter
//!   grammars (whole files when they hold no function).
pub mod cut;
pub mod tree;

use sbd_scan::Language;

use crate::record::VariantKind;

/// A piece of code ready for annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub group: String,
    pub source: String,
    pub language: Language,
    /// `file`, `function` or `snippet`.
    pub unit: &'static str,
    pub variant: VariantKind,
    pub code: String,
    pub repo: Option<String>,
    pub path: Option<String>,
    pub commit: Option<String>,
    pub licence: Option<String>,
    pub start_line: u32,
    pub task: Option<String>,
    pub cwe_label: Option<u32>,
    pub label_claimed: Option<bool>,
    /// An explanation the source provides (seed pairs).
    pub explanation: Option<String>,
    /// Written by this project (the seed corpus): exempt from secret redaction, whose fake
    /// credentials are the point of the CWE-798 pairs.
    pub trusted: bool,
}

impl Unit {
    /// A unit with no origin beyond its source and id.
    pub fn snippet(id: String, source: &str, language: Language, code: String) -> Unit {
        Unit {
            group: id.clone(),
            id,
            source: source.to_string(),
            language,
            unit: "snippet",
            variant: VariantKind::Original,
            code,
            repo: None,
            path: None,
            commit: None,
            licence: None,
            start_line: 1,
            task: None,
            cwe_label: None,
            label_claimed: None,
            explanation: None,
            trusted: false,
        }
    }
}

/// The two units of a seed pair.
pub fn seed_units(p: &crate::seed::SeedPair) -> [Unit; 2] {
    let side = |variant: VariantKind, code: &str, vulnerable: bool| {
        let suffix = if vulnerable { "insecure" } else { "secure" };
        let mut u = Unit::snippet(format!("seed/{}~{suffix}", p.id), "seed", p.language, code.to_string());
        u.group = format!("seed/{}", p.id);
        u.variant = variant;
        u.path = Some(format!("crates/sbd-data/seed/{}.toml", p.id));
        u.repo = Some("sbd".into());
        u.licence = Some("Apache-2.0".into());
        u.task = Some(p.task.clone());
        u.cwe_label = Some(p.cwe);
        u.label_claimed = Some(vulnerable);
        u.explanation = p.explanation.clone();
        u.trusted = true;
        u
    };
    [side(VariantKind::Insecure, &p.insecure, true), side(VariantKind::Secure, &p.secure, false)]
}

/// A dataset [`Sample`](crate::sources::Sample) as a unit; `None` for languages the
/// verifier does not parse.
pub fn sample_unit(s: &crate::sources::Sample) -> Option<Unit> {
    let language: Language = s.language.parse().ok()?;
    let mut u = Unit::snippet(s.id.clone(), &s.origin.dataset, language, s.code.clone());
    if let Some((pair, side)) = &s.pair {
        u.group = format!("{}/{pair}", s.origin.dataset);
        u.variant = match side {
            crate::sources::Variant::Vulnerable => VariantKind::Insecure,
            crate::sources::Variant::Fixed => VariantKind::Secure,
        };
    }
    u.repo = s.origin.repo.clone();
    u.path = s.origin.path.clone();
    u.commit = s.origin.commit.clone();
    u.task = s.description.clone();
    u.cwe_label = s.cwe;
    u.label_claimed = Some(s.vulnerable);
    u.unit = "function";
    Some(u)
}
