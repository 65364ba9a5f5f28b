//! Units of code: what one dataset row is made from.
//!
//! - [`tree`] walks directory trees (respecting `.gitignore`) and [`git`] reads git
//!   repositories at a commit; both record the origin of every file (repository, commit,
//!   path, licence from [`licence`]);
//! - [`cut`] splits a file into function-level units with the verifier's tree-sitter
//!   grammars (whole files when they hold no function).
pub mod cut;
pub mod git;
pub mod licence;
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

/// What the two units of a before/after function pair share.
pub struct PairOrigin<'a> {
    /// `history`, `rustsec` or `osv`.
    pub source: &'a str,
    /// Unique per pair: `history/<path>#<function>@<commit>`, `rustsec/<id>/<function>`.
    pub group: String,
    pub repo: (Option<String>, Option<String>),
    pub commit: (Option<String>, Option<String>),
    pub licence: (Option<String>, Option<String>),
    pub task: Option<String>,
    pub cwe: Option<u32>,
    pub explanation: Option<String>,
}

/// The insecure (before) and secure (after) units of a fixed function.
pub fn fix_units(pair: &crate::sources::history::FnPair, o: PairOrigin) -> [Unit; 2] {
    let side = |vulnerable: bool| {
        let (variant, suffix, s) = if vulnerable {
            (VariantKind::Insecure, "insecure", &pair.before)
        } else {
            (VariantKind::Secure, "secure", &pair.after)
        };
        let pick = |t: &(Option<String>, Option<String>)| if vulnerable { t.0.clone() } else { t.1.clone() };
        let mut u = Unit::snippet(format!("{}~{suffix}", o.group), o.source, pair.language, s.code.clone());
        u.group = o.group.clone();
        u.unit = "function";
        u.variant = variant;
        u.repo = pick(&o.repo);
        u.commit = pick(&o.commit);
        u.licence = pick(&o.licence);
        u.path = Some(pair.path.clone());
        u.start_line = s.start_line;
        u.task = o.task.clone();
        u.cwe_label = o.cwe;
        u.label_claimed = Some(vulnerable);
        u.explanation = o.explanation.clone();
        u
    };
    [side(true), side(false)]
}
