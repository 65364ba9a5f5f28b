//! One row of a dataset: a unit of code with its labels, annotations and provenance.
use serde::{Deserialize, Serialize};

/// How a row relates to the code it came from (requirements 2.2.3 and 2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariantKind {
    /// Code as found (directory trees, repositories, datasets without pairs).
    Original,
    /// The insecure side of a pair.
    Insecure,
    /// The secure side of a pair.
    Secure,
    /// An insecure unit with a justified, approved `sbd:allow` override on its findings.
    OverrideJustified,
    /// The same override without justification or approver: a bypass attempt.
    OverrideUnjustified,
    /// Secure code turned insecure by a mutation operator, confirmed by the verifier.
    Mutant,
    /// Flagged code rewritten to hide the weakness (aliasing, indirection, split strings).
    Obfuscated,
}

impl VariantKind {
    pub const ALL: [VariantKind; 7] = [
        VariantKind::Original,
        VariantKind::Insecure,
        VariantKind::Secure,
        VariantKind::OverrideJustified,
        VariantKind::OverrideUnjustified,
        VariantKind::Mutant,
        VariantKind::Obfuscated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VariantKind::Original => "original",
            VariantKind::Insecure => "insecure",
            VariantKind::Secure => "secure",
            VariantKind::OverrideJustified => "override_justified",
            VariantKind::OverrideUnjustified => "override_unjustified",
            VariantKind::Mutant => "mutant",
            VariantKind::Obfuscated => "obfuscated",
        }
    }

    /// Rows made to test the model and the verifier (the adversarial split).
    pub fn is_adversarial(self) -> bool {
        matches!(self, VariantKind::Mutant | VariantKind::Obfuscated)
    }
}

/// A security tag over a character range of `code` (Unicode scalar offsets, end exclusive),
/// so a tokenizer with offset mapping can label its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub start: usize,
    pub end: usize,
    /// `finding:<class>` (`finding:injection`, `finding:memory_safety`, …) or
    /// `fact:<category>` (`fact:unsafe_construct`, `fact:sandboxing`, …).
    pub tag: String,
    /// The rule id for findings, the fact name for facts.
    pub source: String,
}

/// One dataset row. Field order is the Parquet column order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Stable, unique: `<source>/<path>#<unit>[~<variant>]`.
    pub id: String,
    /// Rows of one group (pair sides, variants of one unit, near-duplicate clusters) always
    /// share a split.
    pub group: String,
    /// `pretrain`, `finetune`, `eval` or `adversarial`; empty until the merge step.
    pub split: String,
    /// `seed`, `tree`, `sven`, `cyberseceval-instruct`, …
    pub source: String,
    pub language: String,
    /// `file`, `function` or `snippet`.
    pub unit: String,
    pub variant: VariantKind,
    pub repo: Option<String>,
    pub path: Option<String>,
    pub commit: Option<String>,
    pub licence: Option<String>,
    /// 1-based line of the unit in its file.
    pub start_line: u32,
    /// The task the code solves, when known (seed tasks, dataset prompts, commit messages).
    pub task: Option<String>,
    pub code: String,
    pub lines: u32,
    pub bytes: u32,
    /// The CWE the source claims (seed, pair datasets) or the mutation introduced.
    pub cwe_label: Option<u32>,
    /// What the source claims: vulnerable or not (None when it claims nothing).
    pub label_claimed: Option<bool>,
    /// The verifier reports at least one active finding.
    pub vulnerable: bool,
    /// The verifier agrees with the claim (always true when nothing is claimed).
    pub label_verified: bool,
    /// CWEs of active findings, sorted, unique.
    pub cwes: Vec<u32>,
    /// Rule ids of active findings, sorted, unique.
    pub rules: Vec<String>,
    /// `sbd-scan` findings (active) as JSON.
    pub findings: String,
    /// `sbd-scan` facts as JSON.
    pub facts: String,
    pub memory_safe: bool,
    pub type_safe: bool,
    pub resource_bounded: bool,
    pub sandboxed: bool,
    /// `none`, `justified` or `invalid`.
    pub override_status: String,
    pub tags: Vec<Tag>,
    /// One sentence.
    pub explanation_short: String,
    /// The rules' *Why* and *Use instead* text, or the seed's own explanation.
    pub explanation: String,
    /// The unit's ANRF 1.1.0 instance as JSON.
    pub anrf: String,
    pub anrf_valid: bool,
    /// `simple`, `moderate` or `complex`.
    pub complexity: String,
    /// The row this one was derived from (variants).
    pub parent: Option<String>,
    /// The mutation or obfuscation operator.
    pub operator: Option<String>,
}
