//! Intra-procedural taint: is an expression built from untrusted input, from constants only,
//! or from something the analysis cannot see?
//!
//! The analysis is demand-driven. For an expression it looks at literals (constant), string
//! interpolation, concatenation and format calls (the join of their parts), configured sources
//! (`request.args`, `sys.argv`, `req.query`, `$_GET`, … and, where the language file says so,
//! the function's parameters), sanitizers (`shlex.quote`, `escapeshellarg`, …: clean), other
//! calls (tainted when any argument or the receiver is), and variables: every assignment to
//! the variable in the enclosing function that comes before the use (flow-insensitive within
//! that prefix, so a branch that assigns untrusted input counts). A variable assigned nowhere
//! in the function is looked up in the enclosing scopes, up to the file.
use std::cell::RefCell;
use std::collections::HashMap;

use tree_sitter::Node;

use crate::lang::Syntax;
use crate::resolve::{Imports, NamePat, node_text, qualify};

/// The taint lattice: `Constant < Unknown < Tainted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Taint {
    Constant,
    Unknown,
    Tainted,
}

/// Compiled taint configuration of a language.
#[derive(Debug, Default)]
pub(crate) struct TaintConfig {
    pub sources: Vec<NamePat>,
    pub sanitizers: Vec<NamePat>,
    pub parameters: bool,
    /// Calls that write the taint of their other arguments into their first argument.
    pub writers: Vec<NamePat>,
}

/// Calls that build strings: constant arguments give a constant result.
const BUILDERS: &[&str] = &[
    "format",
    "join",
    "Sprintf",
    "sprintf",
    "snprintf",
    "concat",
    "str",
    "String",
    "toString",
    "replace",
    "lower",
    "upper",
    "strip",
    "trim",
    "toLowerCase",
    "toUpperCase",
    "Join",
    "to_string",
    "to_owned",
    "into",
    "String.format",
    "format!",
    "append",
    "Concat",
    "implode",
];

const MAX_DEPTH: usize = 40;
const MAX_ANCESTORS: usize = 400;

struct Def<'t> {
    name: String,
    start: usize,
    value: Node<'t>,
}

/// Taint analysis over one parsed unit.
pub(crate) struct Analysis<'a, 't> {
    pub src: &'a str,
    pub syntax: &'static Syntax,
    pub imports: &'a Imports,
    pub config: &'a TaintConfig,
    pub root: Node<'t>,
    defs: RefCell<HashMap<usize, std::rc::Rc<Vec<Def<'t>>>>>,
    params: RefCell<HashMap<usize, std::rc::Rc<Vec<String>>>>,
    values: RefCell<HashMap<usize, Taint>>,
    in_progress: RefCell<std::collections::HashSet<usize>>,
    memo: RefCell<HashMap<usize, Taint>>,
    /// Function-like nodes of the unit in document order (for scope lookups without
    /// walking parents, which costs O(depth) per step in tree-sitter).
    functions: Vec<Node<'t>>,
    /// Evaluation steps left; when spent, everything is `Unknown` (never a hang).
    budget: std::cell::Cell<usize>,
}

/// Evaluation steps per unit before the analysis gives up (answers `Unknown`).
pub(crate) const TAINT_BUDGET: usize = 200_000;

impl<'a, 't> Analysis<'a, 't> {
    pub fn new(
        src: &'a str,
        syntax: &'static Syntax,
        imports: &'a Imports,
        config: &'a TaintConfig,
        root: Node<'t>,
        functions: Vec<Node<'t>>,
    ) -> Self {
        Analysis {
            src,
            syntax,
            imports,
            config,
            root,
            defs: RefCell::default(),
            params: RefCell::default(),
            values: RefCell::default(),
            in_progress: RefCell::default(),
            memo: RefCell::default(),
            functions,
            budget: std::cell::Cell::new(TAINT_BUDGET),
        }
    }

    /// Whether the evaluation budget ran out on this unit.
    pub fn exhausted(&self) -> bool {
        self.budget.get() == 0
    }

    fn text(&self, n: Node<'_>) -> &'a str {
        node_text(n, self.src)
    }

    fn is_source(&self, name: &str) -> bool {
        self.config.sources.iter().any(|p| p.matches_prefix(name))
    }

    fn is_sanitizer(&self, name: &str) -> bool {
        self.config.sanitizers.iter().any(|p| p.matches(name))
    }

    /// Is `n` a literal: a string without interpolation, a number, a boolean or null?
    pub fn is_literal(&self, n: Node<'_>) -> bool {
        let k = n.kind();
        if self.syntax.strings.contains(&k) {
            return !self.has_interpolation(n);
        }
        literal_kind(k)
    }

    fn has_interpolation(&self, n: Node<'_>) -> bool {
        let mut c = n.walk();
        n.named_children(&mut c).any(|ch| self.syntax.interpolations.contains(&ch.kind()))
    }

    /// The taint of expression `n`.
    pub fn eval(&self, n: Node<'t>) -> Taint {
        self.eval_depth(n, 0)
    }

    fn eval_depth(&self, n: Node<'t>, depth: usize) -> Taint {
        if depth > MAX_DEPTH {
            return Taint::Unknown;
        }
        let left = self.budget.get();
        if left == 0 {
            return Taint::Unknown;
        }
        self.budget.set(left - 1);
        if let Some(t) = self.memo.borrow().get(&n.id()) {
            return *t;
        }
        let t = self.eval_uncached(n, depth);
        self.memo.borrow_mut().insert(n.id(), t);
        t
    }

    fn eval_uncached(&self, n: Node<'t>, depth: usize) -> Taint {
        let k = n.kind();
        if k.contains("comment") {
            return Taint::Constant;
        }
        if self.syntax.strings.contains(&k) {
            let mut t = Taint::Constant;
            let mut c = n.walk();
            for ch in n.named_children(&mut c) {
                if self.syntax.interpolations.contains(&ch.kind()) || self.syntax.strings.contains(&ch.kind()) {
                    t = t.max(self.eval_depth(ch, depth + 1));
                }
            }
            return t;
        }
        if literal_kind(k) {
            return Taint::Constant;
        }
        if k == "preproc_arg" {
            // The body of `#define NAME …`: constant when it is one literal (or several
            // adjacent string literals).
            return if macro_literal(self.text(n)) { Taint::Constant } else { Taint::Unknown };
        }
        if self.syntax.idents.contains(&k) {
            let name = self.text(n);
            if self.is_source(&qualify(name, self.imports)) {
                return Taint::Tainted;
            }
            return self.variable(name, n, depth);
        }
        if let Some(&(_, callee_field, args_field)) = self.syntax.calls.iter().find(|(ck, _, _)| *ck == k) {
            return self.call(n, callee_field, args_field, depth);
        }
        // Attribute / member / subscript / selector: a source by name, else its parts.
        let q = qualify(self.text(n), self.imports);
        if (k.contains("member")
            || k.contains("attribute")
            || k.contains("selector")
            || k.contains("subscript")
            || k.contains("field")
            || k.contains("scoped")
            || k.contains("element_access"))
            && self.is_source(&q)
        {
            return Taint::Tainted;
        }
        if k.contains("lambda") || k.contains("function") || k.contains("closure") {
            return Taint::Unknown;
        }
        let mut c = n.walk();
        let mut t: Option<Taint> = None;
        for ch in n.named_children(&mut c) {
            let v = self.eval_depth(ch, depth + 1);
            t = Some(t.map_or(v, |x| x.max(v)));
            if t == Some(Taint::Tainted) {
                break;
            }
        }
        t.unwrap_or(Taint::Unknown)
    }

    fn call(&self, n: Node<'t>, callee_field: &str, args_field: &str, depth: usize) -> Taint {
        let callee_text = crate::engine::callee_text(n, callee_field, self.src);
        let name = qualify(&callee_text, self.imports);
        if self.is_sanitizer(&name) {
            return Taint::Constant;
        }
        if self.is_source(&name) {
            return Taint::Tainted;
        }
        let mut t = Taint::Constant;
        // The receiver of a method call (`x.strip()`, `$x->f()`).
        if let Some(f) = n.child_by_field_name(callee_field).or_else(|| n.child_by_field_name("object")) {
            let mut c = f.walk();
            for ch in f.named_children(&mut c) {
                if ch.kind().contains("identifier") && ch.end_byte() == f.end_byte() {
                    continue; // the method name itself
                }
                t = t.max(self.eval_depth(ch, depth + 1));
            }
            if f.kind() != "identifier" && f.named_child_count() == 0 {
                t = t.max(Taint::Unknown);
            }
        }
        // A writer (`snprintf(buf, n, fmt, x)`) fills its first argument from the others: the
        // destination's old contents do not flow into what it writes.
        let writer = self.config.writers.iter().any(|w| w.matches(&name));
        if let Some(args) = n.child_by_field_name(args_field).or_else(|| {
            let mut c = n.walk();
            n.named_children(&mut c).find(|c| c.kind() == "arguments")
        }) {
            let mut c = args.walk();
            for (i, a) in args.named_children(&mut c).enumerate() {
                if writer && i == 0 {
                    continue;
                }
                t = t.max(self.eval_depth(a, depth + 1));
            }
        }
        // A Rust macro (`format!("{} {name}", x)`): its token tree holds the arguments, and
        // the format string may name variables inline.
        if n.kind() == "macro_invocation" {
            let mut c = n.walk();
            for tt in n.named_children(&mut c).filter(|ch| ch.kind() == "token_tree") {
                t = t.max(self.eval_depth(tt, depth + 1));
                crate::parse::preorder(tt, 4096, |x| {
                    if self.syntax.strings.contains(&x.kind()) {
                        for name in inline_format_args(self.text(x)) {
                            t = t.max(self.variable(name, x, depth + 1));
                        }
                        return false;
                    }
                    true
                });
            }
        }
        if t == Taint::Tainted {
            return Taint::Tainted;
        }
        let last = name.rsplit('.').next().unwrap_or(&name);
        if t == Taint::Constant && (BUILDERS.contains(&last) || BUILDERS.contains(&name.as_str())) {
            return Taint::Constant;
        }
        Taint::Unknown
    }

    /// Taint of a definition's value, memoised; a definition that is being evaluated
    /// (a cycle through the variable) contributes nothing.
    fn def_value(&self, value: Node<'t>, depth: usize) -> Option<Taint> {
        let id = value.id();
        if let Some(t) = self.values.borrow().get(&id) {
            return Some(*t);
        }
        if !self.in_progress.borrow_mut().insert(id) {
            return None;
        }
        let t = self.eval_depth(value, depth + 1);
        self.in_progress.borrow_mut().remove(&id);
        self.values.borrow_mut().insert(id, t);
        Some(t)
    }

    /// The innermost function-like node strictly containing `n`.
    pub(crate) fn enclosing_scope(&self, n: Node<'t>) -> Option<Node<'t>> {
        let end = self.functions.partition_point(|f| f.start_byte() <= n.start_byte());
        self.functions[..end]
            .iter()
            .rev()
            .take(MAX_ANCESTORS)
            .find(|f| f.id() != n.id() && f.end_byte() >= n.end_byte())
            .copied()
    }

    fn variable(&self, name: &str, use_node: Node<'t>, depth: usize) -> Taint {
        let mut scope = self.enclosing_scope(use_node);
        loop {
            let scope_node = scope.unwrap_or(self.root);
            let defs = self.defs_of(scope_node);
            let mut t: Option<Taint> = None;
            for d in defs.iter() {
                if d.name != name || d.start >= use_node.start_byte() {
                    continue;
                }
                // `x = x + 1`: the use is inside the value; skip the self-reference.
                if d.value.start_byte() <= use_node.start_byte() && use_node.end_byte() <= d.value.end_byte() {
                    continue;
                }
                let Some(v) = self.def_value(d.value, depth) else {
                    continue;
                };
                t = Some(t.map_or(v, |x| x.max(v)));
                if t == Some(Taint::Tainted) {
                    return Taint::Tainted;
                }
            }
            if let Some(t) = t {
                return t;
            }
            if let Some(s) = scope {
                if self.params_of(s).iter().any(|p| p == name) {
                    return if self.config.parameters { Taint::Tainted } else { Taint::Unknown };
                }
                scope = self.enclosing_scope(s);
                if scope.is_none() {
                    // fall through once more with the file scope
                    let defs = self.defs_of(self.root);
                    let mut t: Option<Taint> = None;
                    for d in defs.iter() {
                        if d.name == name
                            && d.start < s.start_byte()
                            && let Some(v) = self.def_value(d.value, depth)
                        {
                            t = Some(t.map_or(v, |x| x.max(v)));
                        }
                    }
                    return t.unwrap_or(Taint::Unknown);
                }
            } else {
                return Taint::Unknown;
            }
        }
    }

    /// Is `n` an identifier naming a parameter of its enclosing function?
    pub(crate) fn is_param(&self, n: Node<'t>) -> bool {
        if !self.syntax.idents.contains(&n.kind()) {
            return false;
        }
        let name = self.text(n);
        self.enclosing_scope(n).is_some_and(|s| self.params_of(s).iter().any(|p| p == name))
    }

    fn params_of(&self, scope: Node<'t>) -> std::rc::Rc<Vec<String>> {
        if let Some(p) = self.params.borrow().get(&scope.id()) {
            return p.clone();
        }
        let mut out = Vec::new();
        let field = self.syntax.params_field;
        let p = scope
            .child_by_field_name(field)
            .or_else(|| scope.child_by_field_name("parameters"))
            .or_else(|| scope.child_by_field_name("parameter"));
        if let Some(p) = p {
            collect_idents(p, self.syntax, self.src, &mut out, 4096);
        }
        let rc = std::rc::Rc::new(out);
        self.params.borrow_mut().insert(scope.id(), rc.clone());
        rc
    }

    fn defs_of(&self, scope: Node<'t>) -> std::rc::Rc<Vec<Def<'t>>> {
        if let Some(d) = self.defs.borrow().get(&scope.id()) {
            return d.clone();
        }
        let mut out = Vec::new();
        crate::parse::preorder(scope, 200_000, |node| {
            if let Some(dk) = self.syntax.defs.iter().find(|d| d.kind == node.kind())
                && let Some(target) = node.child_by_field_name(dk.target)
            {
                let value = if dk.value.is_empty() { None } else { node.child_by_field_name(dk.value) }.or_else(|| {
                    let mut c = node.walk();
                    node.named_children(&mut c).filter(|ch| ch.id() != target.id()).last()
                });
                if let Some(value) = value {
                    let mut names = Vec::new();
                    if self.syntax.idents.contains(&target.kind()) {
                        names.push(self.text(target).to_string());
                    } else {
                        collect_idents(target, self.syntax, self.src, &mut names, 64);
                    }
                    for name in names {
                        out.push(Def { name, start: node.start_byte(), value });
                    }
                }
            }
            if !self.config.writers.is_empty()
                && let Some(&(_, callee_field, args_field)) =
                    self.syntax.calls.iter().find(|(ck, _, _)| *ck == node.kind())
            {
                let callee = crate::engine::callee_text(node, callee_field, self.src);
                let name = qualify(&callee, self.imports);
                if self.config.writers.iter().any(|w| w.matches(&name))
                    && let Some(args) = node.child_by_field_name(args_field)
                    && let Some(first) = args.named_child(0)
                {
                    let mut names = Vec::new();
                    collect_idents(first, self.syntax, self.src, &mut names, 8);
                    if let Some(n) = names.into_iter().next() {
                        out.push(Def { name: n, start: node.start_byte(), value: node });
                    }
                }
            }
            true
        });
        let rc = std::rc::Rc::new(out);
        self.defs.borrow_mut().insert(scope.id(), rc.clone());
        rc
    }
}

fn collect_idents(n: Node<'_>, syntax: &Syntax, src: &str, out: &mut Vec<String>, cap: usize) {
    crate::parse::preorder(n, cap, |node| {
        if syntax.idents.contains(&node.kind()) {
            out.push(node_text(node, src).to_string());
        }
        true
    });
}

/// The variables a Rust format string names inline: `{name}`, `{name:?}`, `{name:>5}`
/// (`{{` is an escaped brace, `{0}` and `{}` are positional).
fn inline_format_args(lit: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = lit.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if b.get(i + 1) == Some(&b'{') {
                i += 2;
                continue;
            }
            let start = i + 1;
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if j > start && !b[start].is_ascii_digit() && matches!(b.get(j), Some(b'}') | Some(b':')) {
                out.push(&lit[start..j]);
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// Is a macro body a literal: a number, a character, or adjacent string literals
/// (`"ps -e" " | wc"`), optionally parenthesised?
fn macro_literal(body: &str) -> bool {
    let t = body.trim();
    let t = t.strip_prefix('(').and_then(|x| x.strip_suffix(')')).unwrap_or(t).trim();
    let b = t.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b[0] == b'\'' {
        return b.len() >= 3 && b[b.len() - 1] == b'\'' && !t[1..t.len() - 1].replace("\\'", "").contains('\'');
    }
    if b[0].is_ascii_digit() || (b.len() > 1 && matches!(b[0], b'-' | b'+') && b[1].is_ascii_digit()) {
        return b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'\''));
    }
    // one or more string literals, each with an optional encoding prefix
    let mut i = 0;
    let mut strings = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        for p in ["u8", "L", "u", "U"] {
            if t[i..].starts_with(p) && t[i + p.len()..].starts_with('"') {
                i += p.len();
                break;
            }
        }
        if b[i] != b'"' {
            return false;
        }
        i += 1;
        loop {
            match b.get(i) {
                None => return false,
                Some(b'\\') => i += 2,
                Some(b'"') => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
        strings += 1;
    }
    strings > 0
}

/// Node kinds that are literals in every grammar we use.
pub(crate) fn literal_kind(k: &str) -> bool {
    if matches!(k, "composite_literal" | "func_literal" | "compound_literal_expression" | "literal_value") {
        return false;
    }
    k.contains("literal")
        || k.contains("integer")
        || k.contains("float")
        || k == "number"
        || k == "true"
        || k == "false"
        || k == "none"
        || k == "null"
        || k == "nil"
        || k == "boolean"
        || k == "string_content"
        || k == "escape_sequence"
        || k == "sizeof_expression"
        || k == "undefined"
        || k == "iota"
}

#[cfg(test)]
mod tests {
    use super::{inline_format_args, macro_literal};

    #[test]
    fn rust_inline_format_args() {
        assert_eq!(inline_format_args("\"grep {pattern} {0} {} {{x}} {n:>5} {v:?}\""), ["pattern", "n", "v"]);
    }

    #[test]
    fn macro_bodies() {
        assert!(macro_literal("\"uptime\""));
        assert!(macro_literal(" (\"ps -e\" \" | wc\") "));
        assert!(macro_literal("L\"x\\\"y\""));
        assert!(macro_literal("4096"));
        assert!(macro_literal("0x1fU"));
        assert!(macro_literal("'a'"));
        assert!(!macro_literal("\"ls \" DIR"));
        assert!(!macro_literal("getenv(\"X\")"));
        assert!(!macro_literal("BASE + 1"));
        assert!(!macro_literal(""));
    }
}
