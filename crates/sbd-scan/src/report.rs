//! What a scan produces: findings, facts, properties, overrides and notes of one unit.
use serde::{Deserialize, Serialize};

use crate::lang::Language;

/// Version of the JSON report schema (see the crate documentation). Bumped on any
/// incompatible change; additive changes keep it.
pub const REPORT_SCHEMA_VERSION: &str = "1.0.0";

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            _ => Err(format!("unknown severity `{s}` (expected info, low, medium, high or critical)")),
        }
    }
}

/// How sure the rule is that a match is a real problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

/// The weakness class of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Class {
    MemorySafety,
    Injection,
    Crypto,
    Secrets,
    Deserialization,
    PathTraversal,
    Sandboxing,
    ResourceBounds,
    TypeSafety,
    Override,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::MemorySafety => "MemorySafety",
            Class::Injection => "Injection",
            Class::Crypto => "Crypto",
            Class::Secrets => "Secrets",
            Class::Deserialization => "Deserialization",
            Class::PathTraversal => "PathTraversal",
            Class::Sandboxing => "Sandboxing",
            Class::ResourceBounds => "ResourceBounds",
            Class::TypeSafety => "TypeSafety",
            Class::Override => "Override",
        }
    }
}

/// A region of the unit: byte offsets and 1-based line/column (columns count bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub start_byte: usize,
    pub end_byte: usize,
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl Span {
    pub(crate) fn of(node: tree_sitter::Node<'_>, shift: &Shift) -> Span {
        let s = node.start_position();
        let e = node.end_position();
        // A node can reach into closers appended after the unit for parsing: it ends where
        // the unit ends.
        let end_byte = node.end_byte().saturating_sub(shift.bytes).min(shift.unit_bytes);
        let end_line = (e.row + 1).saturating_sub(shift.lines).clamp(1, shift.unit_lines);
        Span {
            start_byte: node.start_byte().saturating_sub(shift.bytes).min(end_byte),
            end_byte,
            start_line: (s.row + 1).saturating_sub(shift.lines).clamp(1, end_line),
            start_column: shift.column(s) + 1,
            end_line,
            end_column: shift.column(e) + 1,
        }
    }
}

/// Where the unit sits inside the parsed text: after `bytes` bytes (`lines` lines) of a
/// wrapper's prefix, `unit_bytes` long over `unit_lines` lines; anything after it (a wrapper's
/// suffix, appended closers) is not the unit's. A unit cut from a file can start inside a line
/// (an indented method): its first line then starts at byte column `first_column` there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shift {
    pub bytes: usize,
    pub lines: usize,
    pub first_column: usize,
    pub unit_bytes: usize,
    pub unit_lines: usize,
}

impl Shift {
    /// `unit` parsed behind `prefix`.
    pub(crate) fn new(prefix: &str, unit: &str) -> Shift {
        Shift {
            bytes: prefix.len(),
            lines: prefix.matches('\n').count(),
            first_column: 0,
            unit_bytes: unit.len(),
            unit_lines: unit.lines().count().max(1),
        }
    }

    /// The unit-relative byte column of a position in the parsed text.
    pub(crate) fn column(&self, p: tree_sitter::Point) -> usize {
        if p.row == self.lines { p.column.saturating_sub(self.first_column) } else { p.column }
    }
}

/// One rule match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub title: String,
    pub cwe: Vec<u32>,
    pub class: Class,
    pub severity: Severity,
    pub confidence: Confidence,
    pub span: Span,
    pub message: String,
    /// The rule's "Why is this bad?" text: the security explanation.
    pub explanation: String,
    /// The rule's "Use instead" advice.
    pub fix: String,
    /// Index into [`Report::overrides`] of the valid override that suppresses this finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_by: Option<usize>,
}

impl Finding {
    /// The finding as one item of a repair request to a model (what `sbd eval --repair` and
    /// verification-guided generation send back): rule, CWEs, severity, line, message, why,
    /// and what to use instead.
    pub fn repair_note(&self) -> String {
        let cwe = self.cwe.iter().map(|c| format!("CWE-{c}")).collect::<Vec<_>>().join(", ");
        format!(
            "- {} ({}, {}) at line {}: {}\n  Why: {}\n  Use instead: {}\n",
            self.rule,
            cwe,
            self.severity.name(),
            self.span.start_line,
            self.message,
            self.explanation.trim(),
            self.fix.trim()
        )
    }
}

/// Category of a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactCategory {
    /// A memory-unsafe construct in a memory-safe language (Rust `unsafe`, Go `unsafe`, …).
    UnsafeConstruct,
    /// A memory-safety mechanism in use (bounds-checked access, smart pointers, RAII).
    SafetyMechanism,
    /// A resource-management pattern (`with`, `defer`, try-with-resources, `Drop`, close).
    ResourceManagement,
    /// A sandboxing technique (seccomp, landlock, pledge, chroot, setrlimit, …).
    Sandboxing,
    /// A resource-bound hazard (unbounded loop, recursion or allocation driven by input).
    ResourceHazard,
}

/// Something true of the unit that is not by itself a finding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fact {
    pub category: FactCategory,
    /// Stable name, e.g. `rust.unsafe_block`.
    pub name: String,
    /// Whether the construct defeats the type system (transmute, reinterpret_cast, …).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub type_unsafe: bool,
    pub span: Span,
}

/// Where an override applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverrideScope {
    Statement,
    Block,
    Function,
    File,
}

/// One `sbd:allow(…)` annotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Override {
    pub rules: Vec<String>,
    pub scope: OverrideScope,
    /// The comment itself.
    pub span: Span,
    /// The code the override covers (1-based lines, inclusive).
    pub covers_lines: (usize, usize),
    pub justification: Option<String>,
    pub approver: Option<String>,
    /// `YYYY-MM-DD` as written.
    pub approved: Option<String>,
    pub ticket: Option<String>,
    /// True when it names only known rules and has a justification, an approver and a valid
    /// date (when given). Only valid overrides suppress findings.
    pub valid: bool,
    /// What is wrong with it, when not valid.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
    /// How many findings it suppressed.
    pub suppressed: usize,
}

/// Override status of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverrideStatus {
    /// No override annotation.
    None,
    /// Every override is valid (justified, approved, naming known rules).
    Justified,
    /// At least one override is invalid.
    Invalid,
}

/// Properties of a unit, derived from its findings and facts (see the crate docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Properties {
    pub memory_safe: bool,
    pub type_safe: bool,
    pub resource_bounded: bool,
    pub sandboxed: bool,
    pub override_status: OverrideStatus,
}

/// Parse details of a unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParseInfo {
    /// Number of ERROR/MISSING nodes in the tree that was used.
    pub error_nodes: usize,
    /// The wrapper that made a fragment parse, when one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapped_in: Option<String>,
    pub bytes: usize,
    /// Bytes of the unit inside ERROR nodes (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_bytes: usize,
    /// The unit holds no code: nothing but whitespace, comments, preprocessor directives and
    /// syntax errors (absent when it has code).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_code: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The verifier's result for one unit.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub language: Language,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Active findings (not suppressed), sorted by position.
    pub findings: Vec<Finding>,
    /// Findings suppressed by a valid override.
    pub suppressed: Vec<Finding>,
    pub facts: Vec<Fact>,
    pub properties: Properties,
    pub overrides: Vec<Override>,
    /// Things the user should know: limits hit, lossy decoding, parse errors.
    pub notes: Vec<String>,
    pub parse: ParseInfo,
}

impl Report {
    /// The report of a unit that was not analysed (binary, over a limit, rules unavailable):
    /// no findings, every boolean property `false`, and `note` saying why.
    pub fn unscanned(language: Language, path: Option<&str>, bytes: usize, note: String) -> Report {
        Report {
            language,
            path: path.map(str::to_string),
            findings: Vec::new(),
            suppressed: Vec::new(),
            facts: Vec::new(),
            properties: Properties {
                memory_safe: false,
                type_safe: false,
                resource_bounded: false,
                sandboxed: false,
                override_status: OverrideStatus::None,
            },
            overrides: Vec::new(),
            notes: vec![note],
            parse: ParseInfo { error_nodes: 0, wrapped_in: None, bytes, error_bytes: 0, no_code: false },
        }
    }

    /// Highest severity among active findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
