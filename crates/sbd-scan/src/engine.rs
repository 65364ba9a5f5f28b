//! The compiled rule set and the scan of one unit.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use regex::Regex;
use streaming_iterator::StreamingIterator;
use tree_sitter::{Node, Parser, Query, QueryCursor};

use crate::catalog;
use crate::lang::Language;
use crate::overrides::{self, parse_annotations, scope_of, valid_date};
use crate::parse::{ParseFailure, parse};
use crate::report::*;
use crate::resolve::{Imports, NamePat, node_text, qualify};
use crate::rule::{Constraint, FactSpec, LanguageSpec, MatchSpec, NodeSel, Rule, RuleError};
use crate::taint::{Analysis, Taint, TaintConfig};

/// Limits for one unit.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Units larger than this are not parsed (a note says so). Default 10 MiB.
    pub max_bytes: usize,
    /// Parse time budget per unit (including fragment wrappers). Default 5 s.
    pub parse_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 10 * 1024 * 1024, parse_budget: Duration::from_secs(5) }
    }
}

/// A problem building a scanner.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error("rule {rule}: query does not compile for {lang}: {message}")]
    Query { rule: String, lang: Language, message: String },
    #[error("rule {rule}: bad regex `{regex}`: {message}")]
    Regex { rule: String, regex: String, message: String },
    #[error("rule {rule}: {message}")]
    Invalid { rule: String, message: String },
    #[error("no rule matches the selection `{0}`")]
    EmptySelection(String),
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Rule(usize),
    Fact(usize),
}

struct CConstraint {
    arg: Option<usize>,
    keyword: Option<String>,
    capture: Option<u32>,
    present: bool,
    literal: Option<bool>,
    constant: Option<bool>,
    tainted: Option<bool>,
    regex: Option<Regex>,
    not_regex: Option<Regex>,
    kind: Vec<String>,
    not_kind: Vec<String>,
    resolves_to: Vec<NamePat>,
    guarded: Option<bool>,
    checked: Option<bool>,
    param: Option<bool>,
    tested: Option<bool>,
    from_input: Option<bool>,
    value_regex: Option<Regex>,
    formatted: Option<bool>,
    /// The constraint is on the matched node itself (`capture = "match"`).
    on_match: bool,
    /// The constraint is on this field of the matched node.
    field: Option<String>,
}

impl CConstraint {
    /// The node a field/`match` constraint looks at, given the matched node and, for query
    /// rules, the node of the named capture.
    fn target<'t>(&self, matched: Node<'t>, capture: Option<Node<'t>>) -> Option<Node<'t>> {
        if let Some(f) = &self.field {
            matched.child_by_field_name(f)
        } else if self.on_match {
            Some(matched)
        } else {
            capture
        }
    }
}

/// A selector regex: fixed, or a template naming captures (`{name}`) that is instantiated
/// per match.
enum Pat {
    Fixed(Regex),
    /// A regex with `{name}` capture references, and the names every match of it contains
    /// verbatim ([`required_captures`]).
    Template(String, Vec<String>),
}

struct CSel {
    kind: Vec<String>,
    regex: Option<Pat>,
    not_regex: Option<Pat>,
}

/// A compiled [`crate::rule::FlowSel`].
struct CFlow {
    sel: CSel,
    constraints: Vec<CConstraint>,
    until: Vec<CSel>,
    skip: Vec<CSel>,
}

/// A selector with its templates instantiated for one match.
struct RSel<'s> {
    kind: &'s [String],
    regex: Option<LazyRegex>,
    not_regex: Option<LazyRegex>,
    /// A template named a capture the match does not have: the selector matches nothing.
    never: bool,
}

impl RSel<'_> {
    fn matches(&self, n: Node<'_>, src: &str) -> bool {
        if self.never {
            return false;
        }
        let kind = crate::kind::of(n);
        if !self.kind.is_empty() && !self.kind.iter().any(|k| k == kind) {
            return false;
        }
        let text = node_text(n, src);
        // An instantiated template that does not compile matches nothing (as `regex`) and
        // excludes nothing (as `not_regex`).
        self.regex.as_ref().is_none_or(|r| r.is_match(text) == Some(true))
            && self.not_regex.as_ref().is_none_or(|r| r.is_match(text) != Some(true))
    }
}

/// A selector regex: fixed, or a template instantiated for one match and compiled the first
/// time a node of the selector's kinds is tested (most instantiations never are: compiling
/// one is the dearest step of a scan).
enum LazyRegex {
    Ready(Regex),
    /// The instantiated pattern, the texts every match contains ([`required_captures`]), and
    /// the compiled regex once needed.
    Pending(String, Vec<String>, std::cell::OnceCell<Option<Regex>>),
}

impl LazyRegex {
    /// `None`: the instantiated template does not compile.
    fn is_match(&self, text: &str) -> Option<bool> {
        match self {
            LazyRegex::Ready(r) => Some(r.is_match(text)),
            LazyRegex::Pending(p, required, cell) => {
                if required.iter().any(|r| !text.contains(r.as_str())) {
                    // Cannot match. (Were the pattern not to compile, the selector would read
                    // that as "no match" too.)
                    return Some(false);
                }
                cell.get_or_init(|| template_regex(p)).as_ref().map(|r| r.is_match(text))
            }
        }
    }
}

/// Instantiated templates compiled so far, shared by every scan in the process: code reuses
/// the same names (`buf`, `len`, `p`), so most instantiations have been compiled before.
/// Bounded: emptied when it reaches [`TEMPLATE_CACHE_MAX`] entries (256 of the largest
/// template, C031's, hold about 15 MB).
static TEMPLATE_CACHE: std::sync::LazyLock<std::sync::Mutex<HashMap<String, Option<Regex>>>> =
    std::sync::LazyLock::new(Default::default);
const TEMPLATE_CACHE_MAX: usize = 256;

fn template_regex(pattern: &str) -> Option<Regex> {
    if let Some(r) = TEMPLATE_CACHE.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return r;
    }
    let r = Regex::new(pattern).ok();
    if let Ok(mut c) = TEMPLATE_CACHE.lock() {
        if c.len() >= TEMPLATE_CACHE_MAX {
            c.clear();
        }
        c.insert(pattern.to_string(), r.clone());
    }
    r
}

/// The `{name}` capture references of a selector regex (`\p{L}` and repetition counts are not).
fn capture_refs(re: &str) -> Vec<&str> {
    let b = re.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'{'
            && let Some(len) = re[i + 1..].find('}')
        {
            let name = &re[i + 1..i + 1 + len];
            if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                out.push(name);
                i += len + 2;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// `re` with each `{name}` replaced by the escaped text `text(name)`; `None` when a name is
/// unbound.
fn instantiate(re: &str, text: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(re.len() + 16);
    let mut rest = re;
    for name in capture_refs(re) {
        let token = format!("{{{name}}}");
        let Some(at) = rest.find(&token) else { continue };
        out.push_str(&rest[..at]);
        out.push_str(&regex::escape(&text(name)?));
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    Some(out)
}

struct Detector {
    target: Target,
    calls: Vec<NamePat>,
    constraints: Vec<CConstraint>,
    inside: Vec<CSel>,
    not_inside: Vec<CSel>,
    has: Vec<CSel>,
    not_has: Vec<CSel>,
    followed_by: Vec<CFlow>,
    not_followed_by: Vec<CFlow>,
}

struct LangEngine {
    detectors: Vec<Detector>,
    call_index: HashMap<String, Vec<usize>>,
    query: Option<Query>,
    /// Indexed by node kind id: can a pattern of `query` be rooted at a node of this kind?
    /// `None` when some pattern's root is not a plain named kind (a wildcard, a supertype, a
    /// sibling group): then the query runs over the whole tree.
    query_roots: Option<Vec<bool>>,
    pattern_detector: Vec<usize>,
    match_capture: Option<u32>,
    taint: TaintConfig,
    /// The same without parameters as sources: "reached by real input".
    taint_input: TaintConfig,
    facts: Vec<FactSpec>,
    /// Indexed by node kind id: detectors whose query is just `(kind) @match`.
    kind_index: Vec<Vec<usize>>,
    /// Indexed by node kind id: (callee field, arguments field) of call-like kinds.
    call_kinds: Vec<Option<(&'static str, &'static str)>>,
    /// Indexed by node kind id: is it import-like?
    import_kinds: Vec<bool>,
    /// Indexed by node kind id: does it declare variables with types (see `types`)?
    declaration_kinds: Vec<bool>,
    /// Indexed by node kind id: is it a comment?
    comment_kinds: Vec<bool>,
    /// Indexed by node kind id: is it named by some `inside`/`not_inside` selector?
    context_kinds: Vec<bool>,
    /// Indexed by node kind id: is it function-like (a taint scope)?
    function_kinds: Vec<bool>,
    /// Builtin override checks active for this language: builtin name → rule index.
    builtins: HashMap<String, usize>,
}

/// A compiled rule set, reusable across many scans (cheap per call; `Sync`).
pub struct Scanner {
    rules: Vec<Rule>,
    known_ids: HashSet<String>,
    /// Compiled per language on first use (most processes scan one or two languages).
    langs: Vec<std::sync::OnceLock<Result<LangEngine, String>>>,
    specs: Vec<LanguageSpec>,
    limits: Limits,
}

/// Builds a [`Scanner`]: embedded rules, extra rule directories, selection, limits.
#[derive(Default)]
pub struct ScannerBuilder {
    extra: Vec<Rule>,
    select: Vec<String>,
    ignore: Vec<String>,
    limits: Limits,
    no_builtin_rules: bool,
}

fn id_matches(sel: &str, id: &str) -> bool {
    id == sel || (id.starts_with(sel) && sel.chars().last().is_some_and(|c| c.is_ascii_alphabetic()))
}

impl ScannerBuilder {
    /// Add rules (e.g. from [`catalog::load_dir`]). A rule with an embedded rule's id
    /// replaces it.
    pub fn rules(mut self, rules: Vec<Rule>) -> Self {
        self.extra.extend(rules);
        self
    }

    /// Only these rule ids (or id prefixes such as `PY`).
    pub fn select(mut self, ids: Vec<String>) -> Self {
        self.select = ids;
        self
    }

    /// Not these rule ids (or id prefixes).
    pub fn ignore(mut self, ids: Vec<String>) -> Self {
        self.ignore = ids;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Start from no rules at all (only those given with [`ScannerBuilder::rules`]).
    pub fn without_embedded_rules(mut self) -> Self {
        self.no_builtin_rules = true;
        self
    }

    pub fn build(self) -> Result<Scanner, ScanError> {
        let mut rules = if self.no_builtin_rules { Vec::new() } else { catalog::embedded_rules()? };
        let extra_langs: Vec<Language> = self.extra.iter().flat_map(|r| r.languages.iter().copied()).collect();
        for r in self.extra {
            rules.retain(|x| x.id != r.id);
            rules.push(r);
        }
        let known_ids: HashSet<String> = rules.iter().map(|r| r.id.clone()).collect();
        if !self.select.is_empty() {
            let before = rules.len();
            rules.retain(|r| self.select.iter().any(|s| id_matches(s, &r.id)));
            if rules.is_empty() && before > 0 {
                return Err(ScanError::EmptySelection(self.select.join(",")));
            }
        }
        rules.retain(|r| !self.ignore.iter().any(|s| id_matches(s, &r.id)));
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        let specs = catalog::language_specs()?;
        let langs = Language::ALL.iter().map(|_| std::sync::OnceLock::new()).collect();
        let scanner = Scanner { rules, known_ids, langs, specs, limits: self.limits };
        // Rules from outside the binary are checked now, for the languages they name.
        let mut touched: Vec<Language> = extra_langs;
        touched.sort();
        touched.dedup();
        for l in touched {
            scanner.engine(l).map_err(|message| ScanError::Invalid { rule: format!("({l} rules)"), message })?;
        }
        Ok(scanner)
    }
}

fn compile_regex(rule: &str, r: &Option<String>) -> Result<Option<Regex>, ScanError> {
    r.as_ref()
        .map(|s| {
            Regex::new(s).map_err(|e| ScanError::Regex {
                rule: rule.to_string(),
                regex: s.clone(),
                message: e.to_string(),
            })
        })
        .transpose()
}

fn compile_pat(rule: &str, r: &Option<String>, templates: bool) -> Result<Option<Pat>, ScanError> {
    let Some(s) = r else { return Ok(None) };
    if templates && !capture_refs(s).is_empty() {
        // Check that it compiles once the capture references are filled in.
        let probe = instantiate(s, &|_| Some("x".to_string())).unwrap_or_default();
        Regex::new(&probe).map_err(|e| ScanError::Regex {
            rule: rule.to_string(),
            regex: s.clone(),
            message: e.to_string(),
        })?;
        return Ok(Some(Pat::Template(s.clone(), required_captures(s))));
    }
    Ok(compile_regex(rule, r)?.map(Pat::Fixed))
}

/// The capture references of template `re` whose text every match must contain verbatim: the
/// reference sits, outside any case-insensitive group, on each alternative of the pattern.
/// A node whose text lacks one of them cannot match, so its regex need not be compiled.
fn required_captures(re: &str) -> Vec<String> {
    const SENTINEL: &str = "sbdcapturesentinel";
    let mut out: Vec<String> = Vec::new();
    for name in capture_refs(re) {
        if out.iter().any(|n| n == name) {
            continue;
        }
        let probe = instantiate(re, &|n| Some(if n == name { SENTINEL.to_string() } else { "x".to_string() }));
        let Some(hir) = probe.and_then(|p| regex_syntax::parse(&p).ok()) else { continue };
        if hir_requires(&hir, SENTINEL.as_bytes()) {
            out.push(name.to_string());
        }
    }
    out
}

/// Does every match of `hir` contain `lit`? (Conservative: `false` when unsure.)
fn hir_requires(hir: &regex_syntax::hir::Hir, lit: &[u8]) -> bool {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Literal(l) => l.0.windows(lit.len()).any(|w| w == lit),
        HirKind::Capture(c) => hir_requires(&c.sub, lit),
        HirKind::Repetition(r) => r.min >= 1 && hir_requires(&r.sub, lit),
        HirKind::Concat(xs) => xs.iter().any(|x| hir_requires(x, lit)),
        HirKind::Alternation(xs) => xs.iter().all(|x| hir_requires(x, lit)),
        HirKind::Empty | HirKind::Class(_) | HirKind::Look(_) => false,
    }
}

fn compile_sel(rule: &str, s: &NodeSel, templates: bool) -> Result<CSel, ScanError> {
    Ok(CSel {
        kind: s.kind.clone(),
        regex: compile_pat(rule, &s.regex, templates)?,
        not_regex: compile_pat(rule, &s.not_regex, templates)?,
    })
}

fn compile_sels(rule: &str, sels: &[NodeSel], templates: bool) -> Result<Vec<CSel>, ScanError> {
    sels.iter().map(|s| compile_sel(rule, s, templates)).collect()
}

fn compile_flows(rule: &str, flows: &[crate::rule::FlowSel]) -> Result<Vec<CFlow>, ScanError> {
    flows
        .iter()
        .map(|f| {
            if f.kind.is_empty() {
                return Err(ScanError::Invalid {
                    rule: rule.into(),
                    message: "`followed_by`/`not_followed_by` selectors need at least one `kind`".into(),
                });
            }
            let sel = NodeSel { kind: f.kind.clone(), regex: f.regex.clone(), not_regex: f.not_regex.clone() };
            let constraints = f
                .constraints
                .iter()
                .map(|c| {
                    if c.capture.as_deref().is_some_and(|c| c != "match") {
                        return Err(ScanError::Invalid {
                            rule: rule.into(),
                            message: "in a flow selector `where`, only `capture = \"match\"` (the node found) exists"
                                .into(),
                        });
                    }
                    compile_constraint(rule, c)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(CFlow {
                sel: compile_sel(rule, &sel, true)?,
                constraints,
                until: compile_sels(rule, &f.until, true)?,
                skip: compile_sels(rule, &f.skip, true)?,
            })
        })
        .collect()
}

struct Pending {
    detector: Detector,
    query: Option<String>,
    constraint_captures: Vec<Option<String>>,
}

fn compile_matcher(id: &str, lang: Language, m: &MatchSpec, target: Target) -> Result<Option<Pending>, ScanError> {
    let query = match &m.query {
        Some(q) => match q.for_language(lang) {
            Some(q) => Some(q.to_string()),
            None => return Ok(None),
        },
        None => None,
    };
    let mut constraints = Vec::new();
    let mut caps = Vec::new();
    for c in &m.constraints {
        constraints.push(compile_constraint(id, c)?);
        caps.push(c.capture.clone());
        if query.is_none() && c.capture.as_deref().is_some_and(|c| c != "match") {
            return Err(ScanError::Invalid {
                rule: id.into(),
                message: "only `capture = \"match\"` works without a `query`".into(),
            });
        }
        if query.is_some() && c.capture.is_none() && c.field.is_none() {
            return Err(ScanError::Invalid {
                rule: id.into(),
                message: "constraints of a `query` rule need `capture` or `field`".into(),
            });
        }
    }
    let has = compile_sels(id, &m.has, true)?;
    let not_has = compile_sels(id, &m.not_has, true)?;
    let followed_by = compile_flows(id, &m.followed_by)?;
    let not_followed_by = compile_flows(id, &m.not_followed_by)?;
    // Every capture reference must name something a match binds.
    let sels = m.has.iter().chain(m.not_has.iter()).map(|s| (&s.regex, &s.not_regex)).chain(
        m.followed_by.iter().chain(m.not_followed_by.iter()).flat_map(|f| {
            std::iter::once((&f.regex, &f.not_regex))
                .chain(f.until.iter().chain(f.skip.iter()).map(|u| (&u.regex, &u.not_regex)))
        }),
    );
    for (a, b) in sels {
        for name in a.iter().chain(b.iter()).flat_map(|r| capture_refs(r)) {
            let bound = name == "match"
                || match &query {
                    Some(q) => q.contains(&format!("@{name}")),
                    None => name == "callee" || name.strip_prefix("arg").is_some_and(|i| i.parse::<usize>().is_ok()),
                };
            if !bound {
                return Err(ScanError::Invalid {
                    rule: id.into(),
                    message: format!("`{{{name}}}` names no capture of the match"),
                });
            }
        }
    }
    Ok(Some(Pending {
        detector: Detector {
            target,
            calls: m.calls.iter().map(|c| NamePat::new(c)).collect(),
            constraints,
            inside: compile_sels(id, &m.inside, false)?,
            not_inside: compile_sels(id, &m.not_inside, false)?,
            has,
            not_has,
            followed_by,
            not_followed_by,
        },
        query,
        constraint_captures: caps,
    }))
}

/// The node kinds of a query that is only `(kind) @match` or `[(a) (b) …] @match`.
fn simple_kinds(q: &str) -> Option<Vec<&str>> {
    let body = q.trim().strip_suffix("@match")?.trim();
    let body = match body.strip_prefix('[') {
        Some(b) => b.strip_suffix(']')?.trim(),
        None => body,
    };
    let mut kinds = Vec::new();
    for part in body.split(')') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let k = part.strip_prefix('(')?.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        kinds.push(k);
    }
    (!kinds.is_empty()).then_some(kinds)
}

/// The node kinds the patterns of a compiled query are rooted at, as a mask by kind id; `None`
/// when some pattern's root is not a plain named, non-supertype kind or an alternation of
/// such (`(_ ...)`, a string, a group of siblings, a hidden kind): matches of those cannot be
/// found from their roots.
fn pattern_roots(q: &Query, src: &str, grammar: &tree_sitter::Language) -> Option<Vec<bool>> {
    let mut mask = vec![false; grammar.node_kind_count()];
    for i in 0..q.pattern_count() {
        for kind in root_kinds(src.get(q.start_byte_for_pattern(i)..)?)? {
            let mut found = false;
            for id in 0..grammar.node_kind_count() as u16 {
                if grammar.node_kind_is_named(id) && grammar.node_kind_for_id(id) == Some(kind) {
                    if grammar.node_kind_is_supertype(id) {
                        return None;
                    }
                    mask[id as usize] = true;
                    found = true;
                }
            }
            if !found {
                return None;
            }
        }
    }
    Some(mask)
}

/// The root kinds of the query pattern at the start of `text`: `(kind ...)` or an alternation
/// `[(a ...) (b ...)]` of such; `None` for anything else.
fn root_kinds(text: &str) -> Option<Vec<&str>> {
    let b = text.as_bytes();
    let skip_blank = |mut i: usize| {
        while i < b.len() {
            match b[i] {
                b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                b';' => {
                    while i < b.len() && b[i] != b'\n' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        i
    };
    // `(kind`: the kind.
    let kind_at = |i: usize| -> Option<&str> {
        if b.get(i) != Some(&b'(') {
            return None;
        }
        let start = i + 1;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_') {
            end += 1;
        }
        let kind = text.get(start..end)?;
        (!kind.is_empty() && !kind.starts_with('_') && kind != "ERROR" && kind != "MISSING").then_some(kind)
    };
    // The index just after the bracketed item that opens at `i` (strings may hold brackets).
    let close = |mut i: usize| -> Option<usize> {
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                }
                b'(' | b'[' => depth += 1,
                b')' | b']' => {
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    };
    // A quantifier or an anchor after the root makes the pattern a run of siblings.
    let single = |end: usize| !matches!(b.get(skip_blank(end)), Some(b'+' | b'*' | b'?' | b'.'));
    let i = skip_blank(0);
    match b.get(i)? {
        b'(' => {
            let kind = kind_at(i)?;
            single(close(i)?).then(|| vec![kind])
        }
        b'[' => {
            let mut kinds = Vec::new();
            if !single(close(i)?) {
                return None;
            }
            let mut j = skip_blank(i + 1);
            while b.get(j)? != &b']' {
                kinds.push(kind_at(j)?);
                j = skip_blank(close(j)?);
                // A capture or quantifier on the alternative.
                while j < b.len() && b[j] == b'@' {
                    j += 1;
                    while j < b.len() && (b[j].is_ascii_alphanumeric() || b"_.-".contains(&b[j])) {
                        j += 1;
                    }
                    j = skip_blank(j);
                }
            }
            (!kinds.is_empty()).then_some(kinds)
        }
        _ => None,
    }
}

#[cfg(not(test))]
fn whole_tree_queries() -> bool {
    false
}

#[cfg(test)]
fn whole_tree_queries() -> bool {
    tests::WHOLE_TREE.with(std::cell::Cell::get)
}

fn compile_constraint(id: &str, c: &Constraint) -> Result<CConstraint, ScanError> {
    let targets = usize::from(c.arg.is_some())
        + usize::from(c.keyword.is_some())
        + usize::from(c.capture.is_some())
        + usize::from(c.field.is_some());
    if targets != 1 {
        return Err(ScanError::Invalid {
            rule: id.into(),
            message: "each `where` needs exactly one of `arg`, `keyword`, `capture`, `field`".into(),
        });
    }
    Ok(CConstraint {
        arg: c.arg,
        keyword: c.keyword.clone(),
        capture: None,
        present: c.present.unwrap_or(true),
        literal: c.literal,
        constant: c.constant,
        tainted: c.tainted,
        regex: compile_regex(id, &c.regex)?,
        not_regex: compile_regex(id, &c.not_regex)?,
        kind: c.kind.clone(),
        not_kind: c.not_kind.clone(),
        resolves_to: c.resolves_to.iter().map(|s| NamePat::new(s)).collect(),
        guarded: c.guarded,
        checked: c.checked,
        param: c.param,
        tested: c.tested,
        from_input: c.from_input,
        value_regex: compile_regex(id, &c.value_regex)?,
        formatted: c.formatted,
        on_match: c.capture.as_deref() == Some("match"),
        field: c.field.clone(),
    })
}

fn compile_language(lang: Language, rules: &[Rule], spec: Option<&LanguageSpec>) -> Result<LangEngine, ScanError> {
    let grammar = lang.grammar();
    let mut pendings: Vec<(String, Pending)> = Vec::new();
    let mut builtins = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        if !r.languages.contains(&lang) {
            continue;
        }
        if let Some(b) = &r.matcher.builtin {
            builtins.insert(b.clone(), i);
            continue;
        }
        if let Some(p) = compile_matcher(&r.id, lang, &r.matcher, Target::Rule(i))? {
            pendings.push((r.id.clone(), p));
        }
    }
    let facts: Vec<FactSpec> = spec.map(|s| s.facts.clone()).unwrap_or_default();
    for (i, f) in facts.iter().enumerate() {
        if let Some(p) = compile_matcher(&f.name, lang, &f.matcher, Target::Fact(i))? {
            pendings.push((f.name.clone(), p));
        }
    }
    let mut detectors = Vec::new();
    let mut call_index: HashMap<String, Vec<usize>> = HashMap::new();
    let mut query_src = String::new();
    let mut pattern_detector = Vec::new();
    let mut cap_names: Vec<(usize, Vec<Option<String>>)> = Vec::new();
    let mut kind_index: Vec<Vec<usize>> = vec![Vec::new(); grammar.node_kind_count()];
    // (start offset in the combined source, detector, rule id, its query)
    let mut starts: Vec<(usize, usize, String, String)> = Vec::new();
    for (id, p) in pendings {
        let di = detectors.len();
        let simple = p
            .query
            .as_deref()
            .and_then(simple_kinds)
            .filter(|_| p.constraint_captures.iter().all(|c| c.as_deref().is_none_or(|c| c == "match")));
        if let Some(kinds) = simple {
            // `(kind) @match` / `[(a) (b)] @match`: dispatched by node kind in the walk.
            for k in kinds {
                let id_ = grammar.id_for_node_kind(k, true);
                if id_ == 0 {
                    return Err(ScanError::Query {
                        rule: id.clone(),
                        lang,
                        message: format!("unknown node kind `{k}`"),
                    });
                }
                if let Some(slot) = kind_index.get_mut(id_ as usize) {
                    slot.push(di);
                }
            }
            detectors.push(p.detector);
            continue;
        } else if let Some(q) = &p.query {
            starts.push((query_src.len(), di, id.clone(), q.clone()));
            query_src.push_str(q);
            query_src.push('\n');
            cap_names.push((di, p.constraint_captures.clone()));
        } else {
            for c in &p.detector.calls {
                call_index.entry(c.last().to_string()).or_default().push(di);
            }
        }
        detectors.push(p.detector);
    }
    // One compile of the combined query; only on failure compile each rule's query to name
    // the culprit.
    let query = if query_src.is_empty() {
        None
    } else {
        match Query::new(&grammar, &query_src) {
            Ok(q) => Some(q),
            Err(e) => {
                for (_, _, id, q) in &starts {
                    if let Err(e) = Query::new(&grammar, q) {
                        return Err(ScanError::Query { rule: id.clone(), lang, message: e.to_string() });
                    }
                }
                return Err(ScanError::Query { rule: "(combined)".into(), lang, message: e.to_string() });
            }
        }
    };
    if let Some(q) = &query {
        let match_idx = q.capture_index_for_name("match");
        for i in 0..q.pattern_count() {
            let at = q.start_byte_for_pattern(i);
            let Some(&(_, di, ref id, _)) = starts.iter().rev().find(|(s, ..)| *s <= at) else {
                continue;
            };
            let has_match = match_idx.is_some_and(|m| {
                q.capture_quantifiers(i).get(m as usize).is_some_and(|x| *x != tree_sitter::CaptureQuantifier::Zero)
            });
            if !has_match {
                return Err(ScanError::Invalid {
                    rule: id.clone(),
                    message: format!("a pattern of the {lang} query has no `@match` capture"),
                });
            }
            pattern_detector.push(di);
        }
    }
    if let Some(q) = &query {
        for (di, caps) in cap_names {
            for (ci, name) in caps.into_iter().enumerate() {
                if let Some(name) = name {
                    let idx = q.capture_index_for_name(&name);
                    if idx.is_none() {
                        return Err(ScanError::Invalid {
                            rule: format!("detector {di}"),
                            message: format!("no capture `@{name}` in the query"),
                        });
                    }
                    detectors[di].constraints[ci].capture = idx;
                }
            }
        }
    }
    let match_capture = query.as_ref().and_then(|q| q.capture_index_for_name("match"));
    let query_roots = query.as_ref().and_then(|q| pattern_roots(q, &query_src, &grammar));
    let syntax = lang.syntax();
    let kid = |k: &str| grammar.id_for_node_kind(k, true);
    let kinds = grammar.node_kind_count();
    let mut call_kinds = vec![None; kinds];
    for &(k, callee, args) in syntax.calls {
        let id = kid(k);
        if id != 0
            && let Some(slot) = call_kinds.get_mut(id as usize)
        {
            *slot = Some((callee, args));
        }
    }
    let mut import_kinds = vec![false; kinds];
    for k in syntax.imports {
        let id = kid(k);
        if id != 0
            && let Some(slot) = import_kinds.get_mut(id as usize)
        {
            *slot = true;
        }
    }
    let mut declaration_kinds = vec![false; kinds];
    for k in crate::types::declaration_kinds(lang) {
        let id = kid(k);
        if id != 0
            && let Some(slot) = declaration_kinds.get_mut(id as usize)
        {
            *slot = true;
        }
    }
    let config = |parameters: Option<bool>| {
        spec.map(|s| TaintConfig {
            sources: s.taint.sources.iter().map(|x| NamePat::new(x)).collect(),
            sanitizers: s.taint.sanitizers.iter().map(|x| NamePat::new(x)).collect(),
            parameters: parameters.unwrap_or(s.taint.parameters),
            writers: s.taint.writers.iter().map(|x| NamePat::new(x)).collect(),
            validators: s.taint.validators.iter().map(|x| NamePat::new(x)).collect(),
            membership: s.taint.membership,
        })
        .unwrap_or_default()
    };
    let taint = config(None);
    let taint_input = config(Some(false));
    let comment_kinds = (0..grammar.node_kind_count())
        .map(|i| grammar.node_kind_for_id(i as u16).is_some_and(|k| k.contains("comment")))
        .collect();
    let mut function_kinds = vec![false; kinds];
    for k in syntax.functions {
        let id = kid(k);
        if id != 0
            && let Some(slot) = function_kinds.get_mut(id as usize)
        {
            *slot = true;
        }
    }
    let mut context_kinds = vec![false; kinds];
    for d in &detectors {
        for sel in d.inside.iter().chain(d.not_inside.iter()) {
            if sel.kind.is_empty() {
                return Err(ScanError::Invalid {
                    rule: format!("detector {}", detectors.len()),
                    message: "`inside`/`not_inside` selectors need at least one `kind`".into(),
                });
            }
            for k in &sel.kind {
                let id = kid(k);
                if let Some(slot) = context_kinds.get_mut(id as usize) {
                    *slot = true;
                }
            }
        }
    }
    Ok(LangEngine {
        context_kinds,
        function_kinds,
        kind_index,
        comment_kinds,
        detectors,
        call_index,
        query,
        query_roots,
        pattern_detector,
        match_capture,
        taint,
        taint_input,
        facts,
        call_kinds,
        import_kinds,
        declaration_kinds,
        builtins,
    })
}

/// The callee text of a call node (for calls without a single callee field, built from
/// `object`/`scope` and `name`).
pub(crate) fn callee_text<'s>(call: Node<'_>, callee_field: &str, src: &'s str) -> std::borrow::Cow<'s, str> {
    if !callee_field.is_empty()
        && let Some(f) = call.child_by_field_name(callee_field)
    {
        return std::borrow::Cow::Borrowed(node_text(f, src));
    }
    let name = call.child_by_field_name("name");
    let recv = call.child_by_field_name("object").or_else(|| call.child_by_field_name("scope"));
    std::borrow::Cow::Owned(match (recv, name) {
        (Some(r), Some(n)) => format!("{}.{}", node_text(r, src), node_text(n, src)),
        (None, Some(n)) => node_text(n, src).to_string(),
        _ => {
            // PHP `new Foo(...)`: the first named child that is not the arguments.
            let mut c = call.walk();
            call.named_children(&mut c)
                .find(|ch| crate::kind::of(ch) != "arguments")
                .map(|ch| node_text(ch, src).to_string())
                .unwrap_or_default()
        }
    })
}

struct Ctx<'a, 't> {
    conditions: std::cell::RefCell<HashMap<usize, std::rc::Rc<Vec<Node<'t>>>>>,
    lang: Language,
    src: &'a str,
    shift: Shift,

    imports: &'a Imports,
    analysis: Analysis<'a, 't>,
    /// Taint from real input only (parameters are not sources), built on first use.
    input: std::cell::OnceCell<Analysis<'a, 't>>,
    input_config: &'a TaintConfig,
    functions: Vec<Node<'t>>,
    /// A unit scanned on the parse of the file it was cut from: the kind of root node a parse
    /// of the unit alone has. That root encloses the whole unit, so `inside`/`not_inside`
    /// selectors see it (with the unit's text) as the outermost ancestor.
    virtual_root: Option<&'a str>,
}

/// No ancestor of interest.
const NO_ANCESTOR: usize = usize::MAX;

/// Positional and keyword arguments of a call.
type CallArgs<'t> = (Vec<Node<'t>>, Vec<(String, Node<'t>)>);

fn unwrap_arg(n: Node<'_>) -> Node<'_> {
    if crate::kind::of(n) == "argument" {
        let mut c = n.walk();
        if let Some(last) = n.named_children(&mut c).last() {
            return last;
        }
    }
    n
}

impl<'a, 't> Ctx<'a, 't> {
    fn args(&self, call: Node<'t>, args_field: &str) -> CallArgs<'t> {
        let args = if args_field.is_empty() { None } else { call.child_by_field_name(args_field) }.or_else(|| {
            let mut c = call.walk();
            call.named_children(&mut c).find(|c| crate::kind::of(c) == "arguments")
        });
        let mut pos = Vec::new();
        let mut kw = Vec::new();
        if let Some(args) = args {
            let mut c = args.walk();
            for a in args.named_children(&mut c) {
                let kind = crate::kind::of(a);
                if kind.contains("comment") {
                    continue;
                }
                if let Some(&(_, nf, vf)) = self.lang.syntax().keyword_args.iter().find(|(k, _, _)| *k == kind) {
                    if let (Some(n), Some(v)) = (a.child_by_field_name(nf), a.child_by_field_name(vf)) {
                        kw.push((node_text(n, self.src).to_string(), v));
                    }
                    continue;
                }
                pos.push(unwrap_arg(a));
            }
        }
        (pos, kw)
    }

    fn check_node(&self, c: &CConstraint, node: Option<Node<'t>>) -> bool {
        let Some(n) = node else {
            return !c.present;
        };
        if !c.present {
            return false;
        }
        let text = node_text(n, self.src);
        if let Some(want) = c.literal
            && self.analysis.is_literal(n) != want
        {
            return false;
        }
        if let Some(r) = &c.regex
            && !r.is_match(text)
        {
            return false;
        }
        if let Some(r) = &c.not_regex
            && r.is_match(text)
        {
            return false;
        }
        let kind = crate::kind::of(n);
        if !c.kind.is_empty() && !c.kind.iter().any(|k| k == kind) {
            return false;
        }
        if c.not_kind.iter().any(|k| k == kind) {
            return false;
        }
        if !c.resolves_to.is_empty() {
            let q = qualify(text, self.imports);
            if !c.resolves_to.iter().any(|p| p.matches(&q)) {
                return false;
            }
        }
        if let Some(want) = c.guarded
            && self.guarded(n) != want
        {
            return false;
        }
        if let Some(want) = c.checked
            && self.checked(n) != want
        {
            return false;
        }
        if let Some(want) = c.param
            && self.analysis.is_param(n) != want
        {
            return false;
        }
        if let Some(want) = c.tested
            && self.tested(n) != want
        {
            return false;
        }
        if let Some(want) = c.from_input {
            let a = if self.analysis.config.parameters {
                self.input.get_or_init(|| {
                    Analysis::new(
                        self.src,
                        self.lang.syntax(),
                        self.imports,
                        self.input_config,
                        self.analysis.root,
                        self.functions.clone(),
                    )
                })
            } else {
                &self.analysis
            };
            if (a.eval(n) == Taint::Tainted) != want {
                return false;
            }
        }
        if let Some(r) = &c.value_regex
            && !self.analysis.values_with_templates(n).iter().any(|v| r.is_match(node_text(*v, self.src)))
        {
            return false;
        }
        if let Some(want) = c.formatted
            && self.analysis.formatted(n) != want
        {
            return false;
        }
        if c.constant.is_some() || c.tainted.is_some() {
            let t = self.analysis.eval(n);
            if let Some(want) = c.constant
                && (t == Taint::Constant) != want
            {
                return false;
            }
            if let Some(want) = c.tainted
                && (t == Taint::Tainted) != want
            {
                return false;
            }
        }
        true
    }

    /// Is a value of `n` bounded from above by an `if`/`while` before it in its function?
    ///
    /// A comparison counts by direction: an enclosing condition must keep the value small
    /// (`x < e`, `e >= x`); an earlier `if` whose branch leaves (`return`, `break`, `goto`, …)
    /// must reject large values (`if (x > e) return;`); an earlier `if` that does not leave
    /// (a clamp, `if (x > max) x = max;`) counts either way. `min(…)`/`MIN(…)` of the value
    /// counts everywhere. Comparisons inside `n` itself do not count.
    fn guarded(&self, n: Node<'t>) -> bool {
        let names = self.idents_of(n);
        if names.is_empty() {
            return false;
        }
        let mentions = |x: Node<'t>| {
            let t = node_text(x, self.src);
            names.iter().any(|nm| contains_word(t, nm))
        };
        let scope = self.analysis.enclosing_scope(n).unwrap_or(self.analysis.root);
        for c in self.conditions_of(scope).iter() {
            if c.start_byte() >= n.start_byte() {
                break;
            }
            let stmt = c.parent();
            let branch =
                stmt.and_then(|s| s.child_by_field_name("consequence").or_else(|| s.child_by_field_name("body")));
            let encloses = branch.is_some_and(|b| b.start_byte() <= n.start_byte() && n.end_byte() <= b.end_byte());
            let inside_other = !encloses && stmt.is_some_and(|s| s.end_byte() >= n.end_byte());
            let leaves = !encloses && branch.is_some_and(|b| self.leaves(b));
            let mut found = false;
            crate::parse::preorder(*c, 4_096, |x| {
                if found {
                    return false;
                }
                // the node itself (`if ((p = malloc(n * 4)) == NULL)`) is not a check of itself
                if x.start_byte() >= n.start_byte() && x.end_byte() <= n.end_byte() {
                    return true;
                }
                let k = crate::kind::of(x);
                if matches!(k, "call_expression" | "call" | "macro_invocation" | "invocation_expression")
                    && let Some(f) = x.child_by_field_name("function").or_else(|| x.child_by_field_name("macro"))
                    && node_text(f, self.src).to_ascii_lowercase().ends_with("min")
                    && mentions(x)
                {
                    found = true;
                    return false;
                }
                let op = x.child_by_field_name("operator").map(|o| node_text(o, self.src).trim());
                let (Some(op), Some(l), Some(r)) = (op, x.child_by_field_name("left"), x.child_by_field_name("right"))
                else {
                    return true;
                };
                let less = match op {
                    "<" | "<=" => true,
                    ">" | ">=" => false,
                    _ => return true,
                };
                // which side is the small one
                let (small, large) = if less { (l, r) } else { (r, l) };
                let ok = if encloses {
                    mentions(small)
                } else if leaves && !inside_other {
                    mentions(large)
                } else {
                    mentions(small) || mentions(large)
                };
                if ok {
                    found = true;
                    return false;
                }
                true
            });
            if found {
                return true;
            }
        }
        false
    }

    /// Does this branch always or sometimes leave the enclosing block (`return`, `break`,
    /// `continue`, `throw`, `goto`, `exit()`, `panic!`)?
    fn leaves(&self, branch: Node<'t>) -> bool {
        let mut leaves = false;
        crate::parse::preorder(branch, 2_000, |x| {
            let k = crate::kind::of(x);
            if k.starts_with("return")
                || k.starts_with("break")
                || k.starts_with("continue")
                || k.starts_with("throw")
                || k.starts_with("raise")
                || k == "goto_statement"
                || (matches!(k, "macro_invocation" | "call_expression" | "call")
                    && regex_lite_exit(node_text(x, self.src)))
            {
                leaves = true;
                return false;
            }
            true
        });
        leaves
    }

    /// The identifiers of `n` (at most 256 nodes looked at).
    fn idents_of(&self, n: Node<'t>) -> Vec<String> {
        let syntax = self.lang.syntax();
        let mut names = Vec::new();
        crate::parse::preorder(n, 256, |node| {
            if syntax.idents.contains(&crate::kind::of(node)) {
                names.push(node_text(node, self.src).to_string());
            }
            true
        });
        names
    }

    /// Is an identifier of `n` tested by an `if` before `n` whose branch leaves the block
    /// (see [`crate::rule::Constraint::checked`])?
    fn checked(&self, n: Node<'t>) -> bool {
        let names = self.idents_of(n);
        if names.is_empty() {
            return false;
        }
        let scope = self.analysis.enclosing_scope(n).unwrap_or(self.analysis.root);
        for c in self.conditions_of(scope).iter() {
            if c.start_byte() >= n.start_byte() {
                break;
            }
            let t = node_text(*c, self.src);
            if !names.iter().any(|nm| contains_word(t, nm)) {
                continue;
            }
            let Some(stmt) = c.parent() else { continue };
            if !crate::kind::of(stmt).starts_with("if") {
                continue;
            }
            let Some(branch) = stmt.child_by_field_name("consequence") else { continue };
            if branch.end_byte() > n.start_byte() {
                continue; // `n` is inside the branch: the test guards it, it does not reject
            }
            let leaves = self.leaves(branch);
            if leaves {
                return true;
            }
        }
        false
    }

    /// Does an identifier of `n` appear in a condition before or around it?
    fn tested(&self, n: Node<'t>) -> bool {
        let names = self.idents_of(n);
        let scope = self.analysis.enclosing_scope(n).unwrap_or(self.analysis.root);
        self.conditions_of(scope)
            .iter()
            .take_while(|c| c.start_byte() < n.start_byte())
            .filter(|c| c.end_byte() < n.end_byte())
            .any(|c| {
                let t = node_text(*c, self.src);
                names.iter().any(|nm| contains_word(t, nm))
            })
    }

    /// The conditions of every `if`/`while`/`?:` in `scope`, in document order (cached per scope).
    fn conditions_of(&self, scope: Node<'t>) -> std::rc::Rc<Vec<Node<'t>>> {
        if let Some(c) = self.conditions.borrow().get(&scope.id()) {
            return c.clone();
        }
        let mut out = Vec::new();
        crate::parse::preorder(scope, 1_000_000, |node| {
            let kind = crate::kind::of(node);
            if (kind.starts_with("if")
                || kind.starts_with("while")
                || kind == "conditional_expression"
                || kind == "ternary_expression")
                && let Some(c) = node.child_by_field_name("condition")
            {
                out.push(c);
            }
            true
        });
        let rc = std::rc::Rc::new(out);
        self.conditions.borrow_mut().insert(scope.id(), rc.clone());
        rc
    }

    /// For `inside`/`not_inside` selectors, which never hold templates.
    fn sel_matches(&self, s: &CSel, n: Node<'_>) -> bool {
        self.sel_matches_as(s, crate::kind::of(n), || node_text(n, self.src))
    }

    /// [`Ctx::sel_matches`] for a node of `kind` whose text is `text()`.
    fn sel_matches_as<'s>(&self, s: &CSel, kind: &str, text: impl Fn() -> &'s str) -> bool {
        (s.kind.is_empty() || s.kind.iter().any(|k| k == kind))
            && s.regex.as_ref().is_none_or(|r| match r {
                Pat::Fixed(r) => r.is_match(text()),
                Pat::Template(..) => false,
            })
            && s.not_regex.as_ref().is_none_or(|r| match r {
                Pat::Fixed(r) => !r.is_match(text()),
                Pat::Template(..) => true,
            })
    }

    /// `s` with its templates filled in from `bind` (the match's captures).
    fn resolve_sel<'s>(&self, s: &'s CSel, bind: &dyn Fn(&str) -> Option<Node<'t>>) -> RSel<'s> {
        let mut never = false;
        let text = |name: &str| bind(name).map(|n| node_text(n, self.src).to_string());
        let mut one = |p: &Option<Pat>, never_if_unbound: bool| match p {
            None => None,
            Some(Pat::Fixed(r)) => Some(LazyRegex::Ready(r.clone())),
            Some(Pat::Template(t, required)) => match instantiate(t, &text) {
                Some(p) => {
                    Some(LazyRegex::Pending(p, required.iter().filter_map(|n| text(n)).collect(), Default::default()))
                }
                None => {
                    if never_if_unbound {
                        never = true;
                    }
                    None
                }
            },
        };
        let regex = one(&s.regex, true);
        let not_regex = one(&s.not_regex, false);
        RSel { kind: &s.kind, regex, not_regex, never }
    }

    /// Does a node selected by `f` run after `n` (see [`crate::rule::FlowSel`])?
    fn flows_to(
        &self,
        f: &CFlow,
        n: Node<'t>,
        ancestors: &[Node<'t>],
        bind: &dyn Fn(&str) -> Option<Node<'t>>,
    ) -> bool {
        let target = self.resolve_sel(&f.sel, bind);
        if target.never {
            return false;
        }
        let until: Vec<RSel<'_>> = f.until.iter().map(|u| self.resolve_sel(u, bind)).collect();
        let skip: Vec<RSel<'_>> = f.skip.iter().map(|u| self.resolve_sel(u, bind)).collect();
        let src = self.src;
        let found = |x: Node<'t>| {
            target.matches(x, src)
                && (f.constraints.is_empty() || {
                    let kind = crate::kind::of(x);
                    let args = self
                        .lang
                        .syntax()
                        .calls
                        .iter()
                        .find(|(k, _, _)| *k == kind)
                        .map(|&(_, _, args_field)| self.args(x, args_field));
                    f.constraints.iter().all(|c| {
                        let node = if let Some(i) = c.arg {
                            args.as_ref().and_then(|(pos, _)| pos.get(i).copied())
                        } else if let Some(k) = &c.keyword {
                            args.as_ref().and_then(|(_, kw)| kw.iter().find(|(n, _)| n == k).map(|(_, v)| *v))
                        } else {
                            c.target(x, None)
                        };
                        self.check_node(c, node)
                    })
                })
        };
        let until = |x: Node<'t>| until.iter().any(|u| u.matches(x, src));
        let skip = |x: Node<'t>| skip.iter().any(|u| u.matches(x, src));
        crate::flow::reaches(
            src,
            ancestors,
            n,
            self.lang.syntax().functions,
            &crate::flow::Search { target: &found, until: &until, skip: &skip },
        )
    }

    /// The ancestors of `n`, outermost first, found by one descent from the root (tree-sitter's
    /// `parent()` itself descends from the root, so walking up with it is quadratic in depth).
    fn ancestors(&self, n: Node<'t>) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        let mut cur = self.analysis.root;
        while cur.id() != n.id() {
            out.push(cur);
            match cur.child_with_descendant(n) {
                Some(c) if c.id() != cur.id() => cur = c,
                _ => break,
            }
        }
        out
    }

    /// `inside`/`not_inside`/`has`/`not_has`. `chain` is the walk's chain of ancestors of
    /// interest (kinds named by any `inside`/`not_inside`) and the index of `n`'s nearest one;
    /// without it the ancestors are found by a descent from the root.
    fn context_ok(
        &self,
        d: &Detector,
        n: Node<'t>,
        chain: Option<(&[(Node<'t>, usize)], usize)>,
        bind: &dyn Fn(&str) -> Option<Node<'t>>,
    ) -> bool {
        if !d.inside.is_empty() || !d.not_inside.is_empty() {
            let mut found_inside = vec![false; d.inside.len()];
            let ancestors: Vec<Node<'t>> = match chain {
                Some((chain, mut i)) => {
                    let mut v = Vec::new();
                    while let Some(&(node, up)) = chain.get(i) {
                        v.push(node);
                        if v.len() >= 400 {
                            break;
                        }
                        i = up;
                    }
                    v
                }
                None => self.ancestors(n).into_iter().rev().take(400).collect(),
            };
            // innermost first, at most 400 levels up
            for p in ancestors {
                if self.shift.bytes > 0 && p.start_byte() < self.shift.bytes {
                    continue; // part of the fragment wrapper, not of the unit
                }
                for (i, s) in d.inside.iter().enumerate() {
                    if !found_inside[i] && self.sel_matches(s, p) {
                        found_inside[i] = true;
                    }
                }
                if d.not_inside.iter().any(|s| self.sel_matches(s, p)) {
                    return false;
                }
            }
            if let Some(kind) = self.virtual_root {
                let unit = || self.src.get(self.shift.bytes..self.shift.bytes + self.shift.unit_bytes).unwrap_or("");
                for (i, s) in d.inside.iter().enumerate() {
                    if !found_inside[i] && self.sel_matches_as(s, kind, unit) {
                        found_inside[i] = true;
                    }
                }
                if d.not_inside.iter().any(|s| self.sel_matches_as(s, kind, unit)) {
                    return false;
                }
            }
            if found_inside.iter().any(|f| !f) {
                return false;
            }
        }
        if !d.has.is_empty() || !d.not_has.is_empty() {
            let mut found = vec![false; d.has.len()];
            let mut excluded = false;
            let has: Vec<RSel<'_>> = d.has.iter().map(|s| self.resolve_sel(s, bind)).collect();
            let not_has: Vec<RSel<'_>> = d.not_has.iter().map(|s| self.resolve_sel(s, bind)).collect();
            crate::parse::preorder(n, 20_000, |node| {
                if node.id() != n.id() {
                    for (i, s) in has.iter().enumerate() {
                        if s.matches(node, self.src) {
                            found[i] = true;
                        }
                    }
                    if not_has.iter().any(|s| s.matches(node, self.src)) {
                        excluded = true;
                        return false;
                    }
                }
                true
            });
            if excluded || found.iter().any(|f| !f) {
                return false;
            }
        }
        if !d.followed_by.is_empty() || !d.not_followed_by.is_empty() {
            let ancestors = self.ancestors(n);
            if !d.followed_by.iter().all(|f| self.flows_to(f, n, &ancestors, bind)) {
                return false;
            }
            if d.not_followed_by.iter().any(|f| self.flows_to(f, n, &ancestors, bind)) {
                return false;
            }
        }
        true
    }
}

/// Does `t` contain `w` as a whole word?
fn contains_word(t: &str, w: &str) -> bool {
    t.match_indices(w).any(|(i, _)| {
        let before = t[..i].chars().next_back();
        let after = t[i + w.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Is the call text a call that does not return (`exit(…)`, `panic!(…)`, `abort()`)?
fn regex_lite_exit(t: &str) -> bool {
    let name = t.split('(').next().unwrap_or("").trim();
    let last = name.rsplit([':', '.']).next().unwrap_or(name);
    matches!(last, "exit" | "_exit" | "abort" | "panic!" | "unreachable!" | "Exit" | "die")
}

/// What detectors found, before overrides.
struct Hit {
    target: Target,
    span: Span,
    callee: Option<String>,
    text: String,
}

fn shorten(s: &str, max: usize) -> String {
    let mut cut = s.len().min(max * 4);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let s = &s[..cut];
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max).collect();
        t.push('…');
        t
    }
}

thread_local! {
    static PARSER: std::cell::RefCell<Parser> = std::cell::RefCell::new(Parser::new());
}

impl Scanner {
    /// A builder starting from the embedded rules.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// The embedded rules, default limits.
    pub fn new() -> Result<Scanner, ScanError> {
        Scanner::builder().build()
    }

    /// The compiled rules and facts of one language (compiled on first use).
    fn engine(&self, lang: Language) -> Result<&LangEngine, String> {
        let slot = &self.langs[lang.index()];
        slot.get_or_init(|| {
            let spec = self.specs.iter().find(|s| s.language == lang);
            compile_language(lang, &self.rules, spec).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// Compile every language now; reports the first rule or fact that does not compile.
    pub fn check(&self) -> Result<(), ScanError> {
        for l in Language::ALL {
            self.engine(l).map_err(|message| ScanError::Invalid { rule: format!("({l} rules)"), message })?;
        }
        Ok(())
    }

    /// The active rules, sorted by id.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Scan bytes: binary content is skipped with a note; invalid UTF-8 is decoded lossily
    /// with a note.
    pub fn scan_bytes(&self, bytes: &[u8], lang: Language, path: Option<&str>) -> Report {
        if bytes.len() > self.limits.max_bytes {
            return self.empty(
                lang,
                path,
                bytes.len(),
                format!(
                    "not scanned: {} bytes exceeds the size limit of {} bytes (raise it with --max-bytes)",
                    bytes.len(),
                    self.limits.max_bytes
                ),
            );
        }
        let head = &bytes[..bytes.len().min(8192)];
        if head.contains(&0) {
            return self.empty(lang, path, bytes.len(), "not scanned: binary content (NUL bytes)".into());
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => self.scan_path(s, lang, path),
            Err(e) => {
                let text = String::from_utf8_lossy(bytes);
                let mut r = self.scan_path(&text, lang, path);
                r.notes.insert(
                    0,
                    format!("invalid UTF-8 at byte {}: decoded lossily (U+FFFD for bad bytes)", e.valid_up_to()),
                );
                r
            }
        }
    }

    fn empty(&self, lang: Language, path: Option<&str>, bytes: usize, note: String) -> Report {
        Report::unscanned(lang, path, bytes, note)
    }

    /// Scan one unit of source text.
    pub fn scan(&self, text: &str, lang: Language) -> Report {
        self.scan_path(text, lang, None)
    }

    /// Scan one unit of source text that came from `path`.
    pub fn scan_path(&self, text: &str, lang: Language, path: Option<&str>) -> Report {
        if text.len() > self.limits.max_bytes {
            return self.empty(
                lang,
                path,
                text.len(),
                format!("not scanned: {} bytes exceeds the size limit of {} bytes", text.len(), self.limits.max_bytes),
            );
        }
        let parsed = PARSER.with(|p| {
            let mut p = p.borrow_mut();
            parse(&mut p, lang, text, self.limits.parse_budget)
        });
        let parsed = match parsed {
            Ok(p) => p,
            Err(ParseFailure::Budget(b)) => {
                return self.empty(
                    lang,
                    path,
                    text.len(),
                    format!(
                        "not scanned: parsing exceeded the time budget of {} ms (raise it with --parse-budget-ms)",
                        b.as_millis()
                    ),
                );
            }
            Err(ParseFailure::Grammar(e)) => {
                return self.empty(lang, path, text.len(), format!("not scanned: grammar error: {e}"));
            }
        };
        let mut sites = (lang == Language::Rust).then(crate::parse::MacroSites::default);
        let report = self.scan_parsed(lang, path, text.len(), &parsed, sites.as_mut());
        let parse = report.parse.clone();
        let at = (parsed.text.as_str(), parsed.tree.root_node(), 0..parsed.text.len(), Some(&parsed.tree));
        self.macro_views(report, (lang, path), at, sites, parsed.shift, &parse)
    }

    /// The report of the unit at `range` of `text`, a file that `tree` is the parse of (the
    /// data pipeline's function cutter parsed it): what [`Scanner::scan_path`] gives for
    /// `&text[range]`, without parsing that text again. `None` when the tree cannot stand in
    /// for a parse of the unit alone — no node spans exactly `range`, or that node contains a
    /// syntax error (a parse of the unit alone would try fragment wrappers) — or the unit is
    /// over the size limit; scan the unit's text then.
    pub fn scan_subtree(
        &self,
        text: &str,
        tree: &tree_sitter::Tree,
        lang: Language,
        range: std::ops::Range<usize>,
        path: Option<&str>,
    ) -> Option<Report> {
        let unit = text.get(range.clone())?;
        if unit.len() > self.limits.max_bytes || unit.trim().is_empty() {
            return None;
        }
        let node = tree.root_node().descendant_for_byte_range(range.start, range.end)?;
        if node.start_byte() != range.start || node.end_byte() != range.end || node.has_error() || node.is_missing() {
            return None;
        }
        let start = node.start_position();
        let shift = crate::report::Shift {
            bytes: range.start,
            lines: start.row,
            first_column: start.column,
            unit_bytes: unit.len(),
            unit_lines: unit.lines().count().max(1),
        };
        let no_code = !crate::parse::has_code(tree, range.start, range.end);
        let parse = ParseInfo { error_nodes: 0, wrapped_in: None, bytes: unit.len(), error_bytes: 0, no_code };
        // Parsed alone behind an added `<?php`, the unit would not see that root.
        let root_kind = Some(tree.root_node().kind())
            .filter(|_| node.id() != tree.root_node().id() && !crate::parse::needs_php_opener(lang, unit));
        let mut sites = (lang == Language::Rust).then(crate::parse::MacroSites::default);
        let report = self.scan_tree((lang, path), (text, node), shift, parse.clone(), root_kind, sites.as_mut());
        let at = (text, node, range, None);
        Some(self.macro_views(report, (lang, path), at, sites, crate::report::Shift::new("", unit), &parse))
    }

    /// Rust only: the findings inside macro arguments, merged into `report`. `at` is the
    /// parsed text, the node of the unit, the unit's byte range and the tree of the whole
    /// text (when the unit is all of it); the views are parsed as text of their own, laid
    /// out as `view_shift` says.
    fn macro_views(
        &self,
        report: Report,
        (lang, path): (Language, Option<&str>),
        at: (&str, Node<'_>, std::ops::Range<usize>, Option<&tree_sitter::Tree>),
        sites: Option<crate::parse::MacroSites>,
        view_shift: crate::report::Shift,
        parse: &ParseInfo,
    ) -> Report {
        if lang != Language::Rust {
            return report;
        }
        // The unit's own sites were gathered by the walk that scanned it.
        let mut sites = sites;
        let Ok(engine) = self.engine(lang) else { return report };
        // Macros inside macro arguments (`lazy_static! { … t!(env::current_exe()) … }`) become
        // syntax one level at a time: blank, re-parse, repeat (at most four levels).
        let deadline = std::time::Instant::now() + self.limits.parse_budget;
        let known = |name: &str| engine.call_index.contains_key(name);
        let whole_tree = at.3.filter(|_| at.2 == (0..at.0.len()));
        let mut view: Option<(String, tree_sitter::Tree)> = None;
        for _ in 0..4 {
            let next = match &view {
                None => match sites.take() {
                    Some(s) => s.view(at.0, at.2.clone()),
                    None => crate::parse::rust_macro_view(at.0, at.1, at.2.clone(), &known),
                },
                Some((t, tree)) => crate::parse::rust_macro_view(t, tree.root_node(), 0..t.len(), &known),
            };
            let Some(next) = next else { break };
            // Each view differs from the text before it only where macro names were blanked:
            // re-parse incrementally from that text's tree when there is one.
            let old = view.as_ref().map(|(_, t)| t).or(whole_tree);
            let tree = PARSER.with(|p| {
                let mut p = p.borrow_mut();
                p.set_language(&lang.grammar()).ok()?;
                match old {
                    Some(old) => crate::parse::reparse(&mut p, old, &next.text, &next.blanked, deadline).ok(),
                    None => crate::parse::parse_once(&mut p, &next.text, deadline).ok(),
                }
            });
            let Some(tree) = tree else { break };
            view = Some((next.text, tree));
        }
        match view {
            Some((t, tree)) => {
                let inside =
                    self.scan_tree((lang, path), (&t, tree.root_node()), view_shift, parse.clone(), None, None);
                merge_macro_view(report, inside)
            }
            None => report,
        }
    }

    fn scan_parsed(
        &self,
        lang: Language,
        path: Option<&str>,
        bytes: usize,
        parsed: &crate::parse::Parsed,
        macro_sites: Option<&mut crate::parse::MacroSites>,
    ) -> Report {
        let (start, end) = (parsed.shift.bytes, parsed.shift.bytes + parsed.shift.unit_bytes);
        let parse = ParseInfo {
            error_nodes: parsed.error_nodes,
            wrapped_in: parsed.wrapped_in.clone(),
            bytes,
            error_bytes: crate::parse::unit_error_bytes(&parsed.tree, start, end),
            no_code: !crate::parse::has_code(&parsed.tree, start, end),
        };
        self.scan_tree((lang, path), (&parsed.text, parsed.tree.root_node()), parsed.shift, parse, None, macro_sites)
    }

    /// The analysis of the unit at `root` of `(src, root)`, a parse of `src` (the unit is
    /// where `shift` says).
    fn scan_tree(
        &self,
        (lang, path): (Language, Option<&str>),
        (src, root): (&str, Node<'_>),
        shift: crate::report::Shift,
        parse: ParseInfo,
        virtual_root: Option<&str>,
        mut macro_sites: Option<&mut crate::parse::MacroSites>,
    ) -> Report {
        let engine = match self.engine(lang) {
            Ok(e) => e,
            Err(e) => return self.empty(lang, path, parse.bytes, format!("not scanned: rules failed to compile: {e}")),
        };

        // Pass 1: imports, comments, calls, first code byte.
        let mut imports = Imports::default();
        let mut types = crate::types::Types::default();
        let mut comments: Vec<Node<'_>> = Vec::new();
        let mut calls: Vec<(Node<'_>, usize)> = Vec::new();
        let mut kind_hits: Vec<(Node<'_>, usize)> = Vec::new();
        // Nodes a pattern of the combined query can be rooted at.
        let mut query_starts: Vec<Node<'_>> = Vec::new();
        let mut functions: Vec<Node<'_>> = Vec::new();
        let mut first_code = src.len();
        let mut cursor = root.walk();
        let mut depth_notes = false;
        let mut depth = 0usize;
        // Ancestors of interest (kinds named by `inside`/`not_inside`) as a persistent stack:
        // `chain[i] = (node, index of its nearest interesting ancestor)`; `top` is the chain of
        // the current node's proper ancestors; `tops` restores it when the walk goes up.
        let mut chain: Vec<(Node<'_>, usize)> = Vec::new();
        let mut top = NO_ANCESTOR;
        let mut tops: Vec<usize> = Vec::new();
        let known_call = |name: &str| engine.call_index.contains_key(name);
        'walk: loop {
            let node = cursor.node();
            let kid = node.kind_id();
            if let Some(sites) = macro_sites.as_deref_mut() {
                sites.visit(node, src, &known_call);
            }
            if let Some(dets) = engine.kind_index.get(kid as usize)
                && !dets.is_empty()
                && node.start_byte() >= shift.bytes
            {
                kind_hits.push((node, top));
            }
            if let Some(roots) = &engine.query_roots
                && roots.get(kid as usize).copied().unwrap_or(false)
            {
                query_starts.push(node);
            }
            let self_top = if engine.context_kinds.get(kid as usize).copied().unwrap_or(false) {
                chain.push((node, top));
                chain.len() - 1
            } else {
                top
            };
            if engine.function_kinds.get(kid as usize).copied().unwrap_or(false) {
                functions.push(node);
            }
            if engine.call_kinds.get(kid as usize).is_some_and(Option::is_some) {
                calls.push((node, top));
            } else if engine.import_kinds.get(kid as usize).copied().unwrap_or(false) {
                imports.add(lang, node, src);
            }
            if engine.declaration_kinds.get(kid as usize).copied().unwrap_or(false) {
                types.add(lang, node, src);
            }
            let is_comment = engine.comment_kinds.get(kid as usize).copied().unwrap_or(false);
            if is_comment {
                if node_text(node, src).contains(overrides::MARKER) {
                    comments.push(node);
                }
            } else if node.child_count() == 0
                && !node.is_missing()
                && node.start_byte() >= shift.bytes
                && node.start_byte() < first_code
            {
                first_code = node.start_byte();
            }
            if !is_comment && cursor.goto_first_child() {
                depth += 1;
                if depth > 100_000 && !depth_notes {
                    depth_notes = true;
                }
                tops.push(top);
                top = self_top;
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    break 'walk;
                }
                top = tops.pop().unwrap_or(NO_ANCESTOR);
                depth = depth.saturating_sub(1);
            }
        }

        let analysis = Analysis::new(src, lang.syntax(), &imports, &engine.taint, root, functions.clone());
        let ctx = Ctx {
            conditions: Default::default(),
            lang,
            src,
            shift,
            imports: &imports,
            analysis,
            input: Default::default(),
            input_config: &engine.taint_input,
            functions,
            virtual_root,
        };
        let mut hits: Vec<Hit> = Vec::new();

        // Pass 2: calls.
        for &(call, call_top) in &calls {
            let call = &call;
            let Some(&Some((callee_field, args_field))) = engine.call_kinds.get(call.kind_id() as usize) else {
                continue;
            };
            let ct = callee_text(*call, callee_field, src);
            // Fast path: most calls name nothing any rule cares about. Look up the callee's
            // last identifier (and, for a bare alias, what the import binds it to) before
            // normalising and qualifying anything.
            let mut cands: Vec<usize> = Vec::new();
            let mut add = |key: &str| {
                if let Some(v) = engine.call_index.get(key) {
                    for &d in v {
                        if !cands.contains(&d) {
                            cands.push(d);
                        }
                    }
                }
            };
            match crate::resolve::last_identifier(&ct) {
                Some((last, bare)) => {
                    add(last);
                    if bare && let Some(full) = imports.get(last) {
                        add(full.rsplit('.').next().unwrap_or(full));
                    }
                }
                None => {
                    let norm = crate::resolve::normalize(&ct);
                    add(norm.rsplit('.').next().unwrap_or(&norm));
                    let q = qualify(&ct, &imports);
                    add(q.rsplit('.').next().unwrap_or(&q));
                }
            }
            if cands.is_empty() {
                continue;
            }
            let norm = crate::resolve::normalize(&ct);
            let qualified = crate::resolve::qualify_normalized(&norm, &imports);
            // C++: the C library is also `std::` (`std::strcpy`, `std::tmpnam`), and
            // `using namespace std;` is the norm, so both spellings name the same function.
            let unqualified = (lang == Language::Cpp).then(|| qualified.strip_prefix("std.")).flatten();
            // A method called on a variable of a declared type is also `Type.method`.
            let typed = types.typed_callee(&norm).map(|t| qualify(&t, &imports));
            let mut args: Option<CallArgs<'_>> = None;
            for di in cands {
                let d = &engine.detectors[di];
                if !d.calls.iter().any(|p| {
                    p.matches(&qualified)
                        || unqualified.is_some_and(|u| p.matches(u))
                        || typed.as_deref().is_some_and(|t| p.matches(t))
                }) {
                    continue;
                }
                let (pos, kw) = args.get_or_insert_with(|| ctx.args(*call, args_field));
                let ok = d.constraints.iter().all(|c| {
                    let node = if let Some(i) = c.arg {
                        pos.get(i).copied()
                    } else if let Some(k) = &c.keyword {
                        kw.iter().find(|(n, _)| n == k).map(|(_, v)| *v)
                    } else {
                        c.target(*call, None)
                    };
                    ctx.check_node(c, node)
                });
                let callee_node = call.child_by_field_name(callee_field);
                let bind = |name: &str| -> Option<Node<'_>> {
                    match name {
                        "match" => Some(*call),
                        "callee" => callee_node,
                        _ => name
                            .strip_prefix("arg")
                            .and_then(|i| i.parse::<usize>().ok())
                            .and_then(|i| pos.get(i).copied()),
                    }
                };
                if ok && ctx.context_ok(d, *call, Some((&chain, call_top)), &bind) {
                    hits.push(Hit {
                        target: d.target,
                        span: Span::of(*call, &shift),
                        callee: matches!(d.target, Target::Rule(_)).then(|| qualified.clone()),
                        text: if matches!(d.target, Target::Rule(_)) {
                            shorten(node_text(*call, src), 80)
                        } else {
                            String::new()
                        },
                    });
                }
            }
        }

        // Pass 3a: kind-dispatched structural rules.
        for &(node, node_top) in &kind_hits {
            let node = &node;
            let Some(dets) = engine.kind_index.get(node.kind_id() as usize) else { continue };
            for &di in dets {
                let d = &engine.detectors[di];
                if d.constraints.iter().all(|c| ctx.check_node(c, c.target(*node, None)))
                    && ctx.context_ok(d, *node, Some((&chain, node_top)), &|name| (name == "match").then_some(*node))
                {
                    hits.push(Hit {
                        target: d.target,
                        span: Span::of(*node, &shift),
                        callee: None,
                        text: if matches!(d.target, Target::Rule(_)) {
                            shorten(node_text(*node, src), 80)
                        } else {
                            String::new()
                        },
                    });
                }
            }
        }

        // Pass 3b: the combined structural query.
        if let Some(q) = &engine.query {
            let mut qc = QueryCursor::new();
            qc.set_match_limit(4096);
            // From the nodes its patterns are rooted at (collected in pass 1), each with the
            // start depth limited to that node: the cursor then descends only as deep as a
            // pattern in progress needs, a few levels, instead of visiting every node of the
            // tree. The matches are those of a run over the whole tree (a test checks it).
            let whole = engine.query_roots.is_none() || whole_tree_queries();
            if whole {
                query_starts = vec![root];
            } else {
                qc.set_max_start_depth(Some(0));
            }
            let mut seen: HashSet<(usize, usize)> = HashSet::new();
            for start in query_starts {
                let mut matches = qc.matches(q, start, src.as_bytes());
                while let Some(m) = matches.next() {
                    let Some(&di) = engine.pattern_detector.get(m.pattern_index) else {
                        continue;
                    };
                    let Some(node) =
                        m.captures().iter().find(|c| Some(c.index) == engine.match_capture).map(|c| c.node)
                    else {
                        continue;
                    };
                    if node.start_byte() < shift.bytes {
                        continue;
                    }
                    let d = &engine.detectors[di];
                    let ok = d.constraints.iter().all(|c| {
                        let cap = m.captures().iter().find(|x| Some(x.index) == c.capture).map(|x| x.node);
                        ctx.check_node(c, c.target(node, cap))
                    });
                    if !ok || seen.contains(&(di, node.id())) {
                        continue;
                    }
                    let names = q.capture_names();
                    let captures = m.captures();
                    let bind = |name: &str| -> Option<Node<'_>> {
                        if name == "match" {
                            return Some(node);
                        }
                        captures
                            .iter()
                            .find(|c| names.get(c.index as usize).is_some_and(|n| *n == name))
                            .map(|c| c.node)
                    };
                    if !ctx.context_ok(d, node, None, &bind) {
                        continue;
                    }
                    seen.insert((di, node.id()));
                    hits.push(Hit {
                        target: d.target,
                        span: Span::of(node, &shift),
                        callee: None,
                        text: if matches!(d.target, Target::Rule(_)) {
                            shorten(node_text(node, src), 80)
                        } else {
                            String::new()
                        },
                    });
                }
            }
        }

        // Findings and facts.
        let mut findings = Vec::new();
        let mut facts = Vec::new();
        for h in hits {
            match h.target {
                Target::Rule(ri) => {
                    let r = &self.rules[ri];
                    findings.push(self.finding(r, h.span, h.callee.as_deref(), &h.text));
                }
                Target::Fact(fi) => {
                    let f = &engine.facts[fi];
                    facts.push(Fact {
                        category: f.category,
                        name: f.name.clone(),
                        type_unsafe: f.type_unsafe,
                        span: h.span,
                    });
                }
            }
        }

        // A finding gives way to one of a rule that supersedes it at the same place, before
        // overrides, so that suppressing the stronger finding does not surface the weaker one.
        if findings.len() > 1 {
            let at: std::collections::HashSet<(usize, &str)> =
                findings.iter().map(|f| (f.span.start_byte, f.rule.as_str())).collect();
            let keep: Vec<bool> = findings
                .iter()
                .map(|f| {
                    // `rules` is sorted by id.
                    self.rules.binary_search_by(|r| r.id.as_str().cmp(f.rule.as_str())).map_or(true, |ri| {
                        !self.rules[ri].superseded_by.iter().any(|s| at.contains(&(f.span.start_byte, s.as_str())))
                    })
                })
                .collect();
            let mut k = keep.into_iter();
            findings.retain(|_| k.next().unwrap_or(true));
        }

        // Overrides.
        let syntax = lang.syntax();
        let mut ovs: Vec<(Override, std::ops::Range<usize>)> = Vec::new();
        for c in &comments {
            let text = node_text(*c, src);
            for ann in parse_annotations(text) {
                let (scope, range) = scope_of(*c, src, first_code, syntax.functions, syntax.blocks);
                let mut problems = Vec::new();
                let mut bad_kinds: Vec<&str> = Vec::new();
                if !ann.malformed.is_empty() {
                    problems.extend(ann.malformed.iter().cloned());
                    bad_kinds.push("override-malformed");
                }
                if let Some(d) = &ann.approved
                    && !valid_date(d)
                {
                    problems.push(format!("`approved` is not a YYYY-MM-DD date: `{d}`"));
                    bad_kinds.push("override-malformed");
                }
                if ann.justification.is_none() {
                    problems.push("no justification".into());
                    bad_kinds.push("override-missing-justification");
                }
                if ann.approver.is_none() {
                    problems.push("no approver".into());
                    bad_kinds.push("override-missing-approver");
                }
                let unknown: Vec<&String> = ann.rules.iter().filter(|r| !self.known_ids.contains(r.as_str())).collect();
                if !unknown.is_empty() {
                    problems.push(format!(
                        "unknown rule{}: {}",
                        if unknown.len() > 1 { "s" } else { "" },
                        unknown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                    bad_kinds.push("override-unknown-rule");
                }
                let span = Span::of(*c, &shift);
                bad_kinds.dedup();
                for k in &bad_kinds {
                    if let Some(&ri) = engine.builtins.get(*k) {
                        let r = &self.rules[ri];
                        let mut f = self.finding(r, span, None, &shorten(text, 80));
                        f.message = format!("{}: {}", f.message, problems.join("; "));
                        findings.push(f);
                    }
                }
                let line_of = |b: usize| src[..b.min(src.len())].matches('\n').count() + 1;
                let covers = (
                    line_of(range.start.max(shift.bytes)).saturating_sub(shift.lines).max(1),
                    line_of(range.end).saturating_sub(shift.lines).max(1),
                );
                ovs.push((
                    Override {
                        rules: ann.rules.clone(),
                        scope,
                        span,
                        covers_lines: covers,
                        justification: ann.justification.clone(),
                        approver: ann.approver.clone(),
                        approved: ann.approved.clone(),
                        ticket: ann.ticket.clone(),
                        valid: problems.is_empty(),
                        problems,
                        suppressed: 0,
                    },
                    range,
                ));
            }
        }
        let mut active = Vec::new();
        let mut suppressed = Vec::new();
        for mut f in findings {
            let abs = f.span.start_byte + shift.bytes;
            let by = if f.class == Class::Override {
                None
            } else {
                ovs.iter().position(|(o, r)| o.valid && o.rules.contains(&f.rule) && r.contains(&abs))
            };
            match by {
                Some(i) => {
                    ovs[i].0.suppressed += 1;
                    f.suppressed_by = Some(i);
                    suppressed.push(f);
                }
                None => active.push(f),
            }
        }
        let overrides: Vec<Override> = ovs.into_iter().map(|(o, _)| o).collect();
        active.sort_by_key(|f| (f.span.start_byte, f.rule.clone()));
        suppressed.sort_by_key(|f| (f.span.start_byte, f.rule.clone()));
        facts.sort_by_key(|f| (f.span.start_byte, f.name.clone()));

        let properties = derive_properties(lang, &active, &suppressed, &facts, &overrides);
        let mut notes = Vec::new();
        if parse.error_nodes > 0 {
            notes.push(format!(
                "{} syntax error node{} (results cover the parts that parsed)",
                parse.error_nodes,
                if parse.error_nodes == 1 { "" } else { "s" }
            ));
        }
        if ctx.analysis.exhausted() {
            notes.push(format!(
                "taint analysis stopped after {} steps (results may miss injection findings)",
                crate::taint::TAINT_BUDGET
            ));
        }
        if depth_notes {
            notes.push("very deep nesting (over 100000 levels)".into());
        }
        Report {
            language: lang,
            path: path.map(str::to_string),
            findings: active,
            suppressed,
            facts,
            properties,
            overrides,
            notes,
            parse,
        }
    }

    fn finding(&self, r: &Rule, span: Span, callee: Option<&str>, text: &str) -> Finding {
        let message = r.message.replace("{callee}", callee.unwrap_or(text)).replace("{text}", text);
        Finding {
            rule: r.id.clone(),
            title: r.title.clone(),
            cwe: r.cwe.clone(),
            class: r.class,
            severity: r.severity,
            confidence: r.confidence,
            span,
            message,
            explanation: r.docs.why.trim().to_string(),
            fix: r.docs.use_instead.trim().to_string(),
            suppressed_by: None,
        }
    }
}

/// Adds to `report` what the second scan of a unit with its Rust macro arguments exposed
/// (see [`crate::parse::rust_macro_view`]): findings and facts it did not have, at the same
/// offsets; then derives the properties again.
fn merge_macro_view(mut report: Report, inside: Report) -> Report {
    let key = |f: &Finding| (f.rule.clone(), f.span.start_byte);
    let have: HashSet<(String, usize)> = report.findings.iter().chain(report.suppressed.iter()).map(key).collect();
    for f in inside.findings {
        if !have.contains(&key(&f)) {
            report.findings.push(f);
        }
    }
    for f in inside.suppressed {
        if !have.contains(&key(&f)) {
            if let Some(o) = f.suppressed_by.and_then(|i| report.overrides.get_mut(i)) {
                o.suppressed += 1;
            }
            report.suppressed.push(f);
        }
    }
    let facts: HashSet<(String, usize)> = report.facts.iter().map(|f| (f.name.clone(), f.span.start_byte)).collect();
    for f in inside.facts {
        if !facts.contains(&(f.name.clone(), f.span.start_byte)) {
            report.facts.push(f);
        }
    }
    report.findings.sort_by_key(|f| (f.span.start_byte, f.rule.clone()));
    report.suppressed.sort_by_key(|f| (f.span.start_byte, f.rule.clone()));
    report.facts.sort_by_key(|f| (f.span.start_byte, f.name.clone()));
    report.properties =
        derive_properties(report.language, &report.findings, &report.suppressed, &report.facts, &report.overrides);
    report
}

/// Derive the unit's properties (documented in the crate docs).
pub(crate) fn derive_properties(
    lang: Language,
    active: &[Finding],
    suppressed: &[Finding],
    facts: &[Fact],
    overrides: &[Override],
) -> Properties {
    let all = || active.iter().chain(suppressed.iter());
    // Unsafe-construct facts speak about memory-safe languages; in C and C++ they only bear
    // on type safety, and memory safety is judged by the memory-safety rules.
    let unsafe_construct = lang.is_memory_safe() && facts.iter().any(|f| f.category == FactCategory::UnsafeConstruct);
    let memory_safe = !unsafe_construct && !all().any(|f| f.class == Class::MemorySafety);
    let type_safe = !all().any(|f| f.class == Class::TypeSafety) && !facts.iter().any(|f| f.type_unsafe);
    let resource_bounded = !all().any(|f| f.class == Class::ResourceBounds)
        && !facts.iter().any(|f| f.category == FactCategory::ResourceHazard);
    let sandboxed = facts.iter().any(|f| f.category == FactCategory::Sandboxing);
    let override_status = if overrides.is_empty() {
        OverrideStatus::None
    } else if overrides.iter().all(|o| o.valid) {
        OverrideStatus::Justified
    } else {
        OverrideStatus::Invalid
    };
    Properties { memory_safe, type_safe, resource_bounded, sandboxed, override_status }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    thread_local! {
        /// Run the combined query over the whole tree, as before root dispatch.
        pub(super) static WHOLE_TREE: Cell<bool> = const { Cell::new(false) };
    }

    #[test]
    fn captures_every_match_contains() {
        use super::required_captures as req;
        assert_eq!(req(r"^{c}\s*(\.|->)\s*(push_back|insert)\s*\("), vec!["c"]);
        assert_eq!(req(r"(\+|-)\s*{ret}\s*$|^{ret}\s*\+\s*[\w(]|\[\s*{ret}\s*\]$"), vec!["ret"]);
        assert_eq!(req(r"^(free|kfree)\s*\(\s*{buf}\s*[,)]"), vec!["buf"]);
        assert_eq!(req(r"({a}|{b})\s*=\s*{b}"), vec!["b"]);
        assert_eq!(req(r"({x})+y"), vec!["x"]);
        // Not on every alternative, optional, or case-folded: no requirement.
        assert!(req(r"^free\(|{p}\s*=").is_empty());
        assert!(req(r"^f\(({p})?\)").is_empty());
        assert!(req(r"^f\(({p})*\)").is_empty());
        assert!(req(r"(?i)^\w*min\w*\s*\(.*\b{ret}\b").is_empty());
        assert!(req(r"^\d{2}$").is_empty());
    }

    #[test]
    fn root_kinds_of_patterns() {
        use super::root_kinds;
        assert_eq!(root_kinds("(call function: (_)) @match"), Some(vec!["call"]));
        assert_eq!(root_kinds("  ; a comment\n(assignment) @match"), Some(vec!["assignment"]));
        assert_eq!(root_kinds("[(a x: (b) @c) (d_e (f \")\" g))] @match\n(next)"), Some(vec!["a", "d_e"]));
        assert_eq!(root_kinds("[(a) @x (b)] @match"), Some(vec!["a", "b"]));
        assert_eq!(root_kinds("(_ (call)) @match"), None);
        assert_eq!(root_kinds("((call) @match (#eq? @match \"x\"))"), None);
        assert_eq!(root_kinds("[\"if\" (a)] @match"), None);
        assert_eq!(root_kinds("(_hidden) @match"), None);
        assert_eq!(root_kinds("(ERROR) @match"), None);
        assert_eq!(root_kinds("(comment)+ @match"), None);
        assert_eq!(root_kinds("[(a) (b)]* @match"), None);
    }

    /// Matching the combined query from the nodes its patterns are rooted at finds exactly
    /// what matching it over the whole tree finds, on every rule's fixtures in every language.
    #[test]
    fn queries_from_roots_find_what_whole_tree_queries_find() {
        let scanner = crate::Scanner::new().expect("embedded rules compile");
        let rules = crate::catalog::embedded_rules().expect("embedded rules parse");
        let mut compared = 0;
        for rule in &rules {
            let codes = [&rule.docs.example, &rule.docs.use_instead]
                .into_iter()
                .chain(rule.fixtures.must_match.iter())
                .chain(rule.fixtures.no_match.iter());
            for code in codes {
                for lang in &rule.languages {
                    let key = |r: &crate::Report| {
                        r.findings
                            .iter()
                            .map(|f| (f.rule.clone(), f.span.start_byte, f.span.end_byte))
                            .collect::<Vec<_>>()
                    };
                    WHOLE_TREE.with(|w| w.set(false));
                    let from_roots = key(&scanner.scan(code, *lang));
                    WHOLE_TREE.with(|w| w.set(true));
                    let whole = key(&scanner.scan(code, *lang));
                    WHOLE_TREE.with(|w| w.set(false));
                    assert_eq!(from_roots, whole, "{} [{lang}]:\n{code}", rule.id);
                    compared += 1;
                }
            }
        }
        assert!(compared > 500, "only {compared} scans compared");
    }
}
