//! Rules as data: the TOML schema of a rule file and its validation.
//!
//! One file per rule under `rules/<group>/<ID>.toml`:
//!
//! ```toml
//! id = "PY001"                       # stable forever
//! title = "Shell command built from untrusted input"
//! cwe = [78]
//! class = "Injection"                # MemorySafety, Injection, Crypto, Secrets, Deserialization,
//!                                    # PathTraversal, Sandboxing, ResourceBounds, TypeSafety, Override
//! severity = "high"                  # info, low, medium, high, critical
//! confidence = "high"                # low, medium, high
//! languages = ["python"]
//! message = "`{callee}` runs a shell command built from untrusted input"
//!
//! [match]
//! calls = ["subprocess.run", "os.system"]   # qualified names, `*.name` for any receiver
//! # or: query = "(unsafe_block) @match"     # a tree-sitter query; `@match` is reported
//! # or: query = { c = "...", cpp = "..." }  # one query per language
//! [[match.where]]                           # constraints, all must hold
//! arg = 0                                   # or keyword = "shell", capture = "x",
//!                                           # field = "right" (of the matched node)
//! tainted = true                            # also: literal, constant, regex, not_regex,
//!                                           # kind, not_kind, present, resolves_to,
//!                                           # guarded, value_regex, formatted
//! [[match.not_inside]]                      # also inside, has, not_has
//! kind = ["if_statement"]
//! regex = "len"
//! [[match.followed_by]]                     # also not_followed_by: a node that can run
//! kind = ["field_expression"]               # after the match in its function
//! regex = "^{arg0}->"                       # `{name}`: the text of a capture / argument
//! until = [{ kind = ["assignment_expression"], regex = "^{arg0}\\s*=" }]
//!
//! [docs]
//! what = "…"        # What it does
//! why = "…"         # Why is this bad?
//! example = "…"     # code that must match (also a fixture)
//! use_instead = "…" # code that must not match (also a fixture)
//! references = ["https://cwe.mitre.org/data/definitions/78.html"]
//!
//! superseded_by = ["PY001"] # optional, at the top level: give way to these rules' findings
//!                            # that start at the same place
//!
//! [fixtures]
//! match = ["…"]      # each must produce at least one finding of this rule
//! no_match = ["…"]   # each must produce none
//! ```
//!
//! The message may use `{callee}` (the resolved name of the matched call) and `{text}` (the
//! matched source, shortened).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lang::Language;
use crate::report::{Class, Confidence, FactCategory, Severity};

/// A rule as written in its file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub cwe: Vec<u32>,
    pub class: Class,
    pub severity: Severity,
    pub confidence: Confidence,
    pub languages: Vec<Language>,
    pub message: String,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
    pub docs: Docs,
    #[serde(default)]
    pub fixtures: Fixtures,
    /// Rules that report the same weakness with more certainty: a finding of this rule is
    /// dropped when one of theirs starts at the same place (`PY013`, a computed shell
    /// command, gives way to `PY001`, one proven to carry untrusted input).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_by: Vec<String>,
}

/// The rule's documentation, in ruff's sections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    /// What it does.
    pub what: String,
    /// Why is this bad?
    pub why: String,
    /// Example (code that the rule flags).
    pub example: String,
    /// Use instead (code that the rule accepts).
    pub use_instead: String,
    pub references: Vec<String>,
}

/// Code that must and must not match.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    #[serde(rename = "match", default)]
    pub must_match: Vec<String>,
    #[serde(default)]
    pub no_match: Vec<String>,
    /// Run the fixtures (and the documentation code) only as this language; default: every
    /// language of the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

/// A tree-sitter query for every language, or one per language.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QuerySpec {
    All(String),
    PerLanguage(BTreeMap<String, String>),
}

impl QuerySpec {
    pub fn for_language(&self, lang: Language) -> Option<&str> {
        match self {
            QuerySpec::All(q) => Some(q),
            QuerySpec::PerLanguage(m) => m.get(lang.name()).map(String::as_str),
        }
    }
}

/// How a rule or fact finds its nodes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    /// Qualified callee names (calls and constructors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<String>,
    /// A tree-sitter query with an `@match` capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QuerySpec>,
    /// An engine check that is not a pattern (override validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<String>,
    #[serde(rename = "where", default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inside: Vec<NodeSel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_inside: Vec<NodeSel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub has: Vec<NodeSel>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_has: Vec<NodeSel>,
    /// Nodes that must come after the match on some path through its function (see
    /// [`FlowSel`]); all must be found.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<FlowSel>,
    /// Nodes that must not come after the match.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_followed_by: Vec<FlowSel>,
}

/// A constraint on an argument, keyword argument or capture ("metavariable").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Positional argument index (calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<usize>,
    /// Keyword argument name (calls, Python).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Query capture name, without `@` (`match` is the matched node, for any rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<String>,
    /// A field (named child) of the matched node, e.g. `operand`, `right`, `function`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Whether the argument/capture exists at all (default: must exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// A literal (string without interpolation, number, boolean, null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<bool>,
    /// Constant-valued: literals and expressions/variables built only from literals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constant: Option<bool>,
    /// Reached by untrusted input (taint analysis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tainted: Option<bool>,
    /// The node's text matches this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The node's text does not match this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_regex: Option<String>,
    /// The node kind is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<String>,
    /// The node kind is none of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_kind: Vec<String>,
    /// Whether a value of the node is bounded from above by an `if`/`while` before it in its
    /// function — a bounds check: an enclosing condition `x < e` (or `e >= x`), an earlier
    /// `if (x > e)` whose branch leaves (`return`, `break`, `goto`, …), an earlier clamp
    /// `if (x > e) x = e;` (either direction), or `min(x, …)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarded: Option<bool>,
    /// Whether an identifier of the node is tested in the condition of an `if` before the node
    /// whose branch leaves (`return`, `break`, `continue`, `throw`, `raise`, `panic!`, `exit`):
    /// a check-and-bail validation such as `if !valid(rel) { return Err(…) }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    /// Whether an identifier of the node appears at all in the condition of an `if`, `while` or
    /// `?:` that comes before or encloses the node in its function (any test, `n != 0`
    /// included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tested: Option<bool>,
    /// Reached by a configured source of untrusted input (arguments, environment, standard
    /// input, network, request data, decoded bytes) — as `tainted`, but a function's
    /// parameters do not count as sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_input: Option<bool>,
    /// Whether the node is an identifier naming a parameter of the enclosing function (not a
    /// value computed from one: see `tainted` for that).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<bool>,
    /// The node's text, or for a variable the text of a value it was assigned before the use,
    /// matches this regex (`q = "SELECT …" + x; db.query(q)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_regex: Option<String>,
    /// Whether the node, or a value of the variable it names, is a string assembled at run
    /// time (interpolation, `%`/`+`/`.` with a string, `format`/`sprintf`/`join`) from a part
    /// that is not constant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<bool>,
    /// The node, resolved through imports, is one of these qualified names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolves_to: Vec<String>,
}

/// Selects an ancestor (`inside`) or descendant (`has`) node.
///
/// In `has`, `not_has` and the flow selectors, `regex` and `not_regex` may name the text of a
/// capture as `{name}` (inserted literally, regex-escaped): a query capture, `match` (the
/// matched node), and for call rules `callee` and `arg0`, `arg1`, … (`free({arg0})`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSel {
    #[serde(default)]
    pub kind: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The node's text does not match this regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_regex: Option<String>,
}

/// Selects a node that can run after the matched node, within its function.
///
/// The search covers the statements that follow the match's statement in its block, then
/// those that follow the enclosing statement in the outer block, and so on up to the function,
/// in source order. It ends after a `return`, `throw`, `goto`, `break` or `continue` (or a
/// call to `exit`/`abort`) that follows the match in the same block: code after it is not
/// reached from the match. A node matching `until` (a reassignment, a check) ends the search
/// when it runs whenever the match does; inside a branch or loop that may not run (an `if`
/// without `else`, a loop body, a `case`, a closure) it only hides the nodes after it in that
/// branch. `kind` is required.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSel {
    pub kind: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_regex: Option<String>,
    /// Constraints on the node found, as in `match.where`: `capture = "match"` is the node
    /// itself, `arg`/`keyword` its arguments when it is a call, `field` a field of it.
    #[serde(rename = "where", default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
    /// Nodes that end the search (any of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub until: Vec<NodeSel>,
    /// Nodes whose insides are not searched, though the search goes on after them (the branch
    /// of `if (p == NULL) return …;` when looking for a leak of `p`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<NodeSel>,
}

/// A fact detector, from `languages/<lang>.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactSpec {
    pub name: String,
    pub category: FactCategory,
    #[serde(default)]
    pub type_unsafe: bool,
    #[serde(rename = "match")]
    pub matcher: MatchSpec,
}

/// Taint configuration of a language.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaintSpec {
    /// Names (calls, attributes, variables) whose value is untrusted; prefix match on segments.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Calls whose result is clean whatever their input.
    #[serde(default)]
    pub sanitizers: Vec<String>,
    /// Treat function parameters as untrusted.
    #[serde(default)]
    pub parameters: bool,
    /// Calls that write the taint of their other arguments into their first argument
    /// (`snprintf(buf, n, fmt, x)` taints `buf` with `x`).
    #[serde(default)]
    pub writers: Vec<String>,
    /// Checks that validate a value (`re.fullmatch`, `.test`, `startsWith`, `in_array`, …):
    /// a variable that is an argument or the receiver of one of these calls in the condition
    /// of an `if`/`while` before its use, in the same function, is clean from there on.
    #[serde(default)]
    pub validators: Vec<String>,
    /// Also treat a membership test in a condition (`x in ALLOWED`, Python's
    /// `comparison_operator` with `in`) as validating its left operand.
    #[serde(default)]
    pub membership: bool,
}

/// A language file: taint configuration and fact detectors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageSpec {
    pub language: Language,
    #[serde(default)]
    pub taint: TaintSpec,
    #[serde(default, rename = "fact")]
    pub facts: Vec<FactSpec>,
}

/// A problem with a rule file.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: {source}")]
    Toml {
        path: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("duplicate rule id `{0}`")]
    Duplicate(String),
}

/// Builtin matchers the engine implements itself.
pub const BUILTINS: &[&str] =
    &["override-missing-justification", "override-missing-approver", "override-unknown-rule", "override-malformed"];

impl Rule {
    /// Parse and check one rule file.
    pub fn from_toml(path: &str, text: &str) -> Result<Rule, RuleError> {
        let rule: Rule = toml::from_str(text).map_err(|source| RuleError::Toml { path: path.to_string(), source })?;
        rule.check(path)?;
        Ok(rule)
    }

    fn check(&self, path: &str) -> Result<(), RuleError> {
        let bad = |message: String| RuleError::Invalid { path: path.to_string(), message };
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-') {
            return Err(bad(format!("rule id `{}` must be upper-case letters, digits and dashes", self.id)));
        }
        if self.languages.is_empty() {
            return Err(bad("a rule needs at least one language".into()));
        }
        if self.cwe.is_empty() {
            return Err(bad("a rule needs at least one CWE id".into()));
        }
        let m = &self.matcher;
        let kinds =
            usize::from(!m.calls.is_empty()) + usize::from(m.query.is_some()) + usize::from(m.builtin.is_some());
        if kinds != 1 {
            return Err(bad("`match` needs exactly one of `calls`, `query` or `builtin`".into()));
        }
        if let Some(b) = &m.builtin
            && !BUILTINS.contains(&b.as_str())
        {
            return Err(bad(format!("unknown builtin `{b}`")));
        }
        for d in [&self.docs.what, &self.docs.why, &self.docs.example, &self.docs.use_instead] {
            if d.trim().is_empty() {
                return Err(bad("every documentation section must be filled in".into()));
            }
        }
        if self.docs.references.is_empty() {
            return Err(bad("documentation needs at least one reference".into()));
        }
        Ok(())
    }
}
