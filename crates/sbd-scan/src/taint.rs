//! Intra-procedural taint: is an expression built from untrusted input, from constants only,
//! or from something the analysis cannot see?
//!
//! The analysis is demand-driven. For an expression it looks at literals (constant), string
//! interpolation, concatenation and format calls (the join of their parts), configured sources
//! (`request.args`, `sys.argv`, `req.query`, `$_GET`, … and, where the language file says so,
//! the function's parameters), sanitizers (`shlex.quote`, `escapeshellarg`, …: clean), other
//! calls (tainted when any argument or the receiver is; constant when a string builder or a
//! constructor gets only constants), and variables: every assignment to
//! the variable in the enclosing function that comes before the use (flow-insensitive within
//! that prefix, so a branch that assigns untrusted input counts). A variable assigned nowhere
//! in the function is looked up in the enclosing scopes, up to the file.
//!
//! Guards: a variable that the language's *validators* check in the condition of an `if` or
//! `while` of its function before the use (`if not re.fullmatch(r"[a-z]+", name): raise`,
//! `if (!target.startsWith(ROOT)) return`, `if (!preg_match('#^/#', $to)) $to = "/";`, and
//! for Python `if name not in ALLOWED`) is clean from there on, like a sanitized value; so is
//! a variable passed to a validating function called as a statement of its own
//! (`validateKeyName(data['name'])`, `check_path(p);`: it raises or aborts on bad input). The
//! check does not look at the condition's polarity or at what the branch does: validating a
//! value and then using it anyway on failure is rare, while treating every validated value as
//! untrusted flags the secure version of almost every injection fix.
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
    /// Calls that validate their arguments and receiver when used in a condition.
    pub validators: Vec<NamePat>,
    /// Membership tests (`x in ALLOWED`) in a condition validate their left operand.
    pub membership: bool,
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

/// A variable validated in the condition of an `if`/`while`.
struct Check {
    /// The condition.
    cond: std::ops::Range<usize>,
    /// The whole statement.
    stmt: std::ops::Range<usize>,
    /// The branch taken when the condition holds.
    then: Option<std::ops::Range<usize>>,
    name: String,
    /// The check is negated (`if (!ok(x))`): the `then` branch is the failing one.
    negated: bool,
    /// The `then` branch leaves or reassigns the variable.
    bails: bool,
}

/// `n` without enclosing parentheses.
fn unparenthesize(n: Node<'_>) -> Node<'_> {
    let mut n = n;
    while crate::kind::of(n).starts_with("parenthesized") && n.named_child_count() == 1 {
        match n.named_child(0) {
            Some(c) => n = c,
            None => break,
        }
    }
    n
}

/// Is `n` under an odd number of negations (`!`, `not`) within `cond`?
fn negated(n: Node<'_>, cond: Node<'_>, src: &str) -> bool {
    let mut neg = false;
    let mut cur = n;
    while cur.id() != cond.id() {
        let Some(p) = cur.parent() else { break };
        let k = crate::kind::of(p);
        if k == "not_operator"
            || ((k.starts_with("unary") || k.contains("prefix")) && node_text(p, src).starts_with('!'))
        {
            neg = !neg;
        }
        cur = p;
    }
    neg
}

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
    /// Per scope: the validating checks of its conditions, in document order.
    checks: RefCell<HashMap<usize, std::rc::Rc<Vec<Check>>>>,
    /// Scopes whose checks are being collected.
    checking: RefCell<std::collections::HashSet<usize>>,
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
            checks: RefCell::default(),
            checking: RefCell::default(),
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
        let k = crate::kind::of(n);
        if self.syntax.strings.contains(&k) {
            return !self.has_interpolation(n);
        }
        literal_kind(k)
    }

    fn has_interpolation(&self, n: Node<'_>) -> bool {
        let mut c = n.walk();
        n.named_children(&mut c).any(|ch| self.syntax.interpolations.contains(&crate::kind::of(ch)))
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
        let k = crate::kind::of(n);
        if k.contains("comment") {
            return Taint::Constant;
        }
        if self.syntax.strings.contains(&k) {
            let mut t = Taint::Constant;
            let mut c = n.walk();
            for ch in n.named_children(&mut c) {
                if self.syntax.interpolations.contains(&crate::kind::of(ch))
                    || self.syntax.strings.contains(&crate::kind::of(ch))
                {
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
        if let Some((callee_field, args_field)) = self.syntax.call_fields(k) {
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
                if crate::kind::of(ch).contains("identifier") && ch.end_byte() == f.end_byte() {
                    continue; // the method name itself
                }
                t = t.max(self.eval_depth(ch, depth + 1));
            }
            if crate::kind::of(f) != "identifier" && f.named_child_count() == 0 {
                t = t.max(Taint::Unknown);
            }
        }
        // A writer (`snprintf(buf, n, fmt, x)`) fills its first argument from the others: the
        // destination's old contents do not flow into what it writes.
        let writer = self.config.writers.iter().any(|w| w.matches(&name));
        if let Some(args) = n.child_by_field_name(args_field).or_else(|| {
            let mut c = n.walk();
            n.named_children(&mut c).find(|c| crate::kind::of(c) == "arguments")
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
        if crate::kind::of(n) == "macro_invocation" {
            let mut c = n.walk();
            for tt in n.named_children(&mut c).filter(|ch| crate::kind::of(ch) == "token_tree") {
                t = t.max(self.eval_depth(tt, depth + 1));
                crate::parse::preorder(tt, 4096, |x| {
                    if self.syntax.strings.contains(&crate::kind::of(x)) {
                        for name in inline_format_args(self.text(x)) {
                            t = t.max(self.variable(name, x, depth + 1));
                        }
                        return false;
                    }
                    true
                });
            }
        }
        // C# object and collection initializers: `new ProcessStartInfo { FileName = x }`.
        if let Some(init) = n.child_by_field_name("initializer") {
            let mut c = init.walk();
            for e in init.named_children(&mut c) {
                let v = if crate::kind::of(e) == "assignment_expression" {
                    e.child_by_field_name("right")
                } else {
                    Some(e)
                };
                if let Some(v) = v {
                    t = t.max(self.eval_depth(v, depth + 1));
                }
            }
        }
        if t == Taint::Tainted {
            return Taint::Tainted;
        }
        let last = name.rsplit('.').next().unwrap_or(&name);
        if t == Taint::Constant && (BUILDERS.contains(&last) || BUILDERS.contains(&name.as_str())) {
            return Taint::Constant;
        }
        // An object constructed from constants (`new ProcessStartInfo("git")`) holds nothing
        // untrusted until something is stored in it (an assignment to one of its fields counts
        // as a definition of the variable).
        if t == Taint::Constant && matches!(crate::kind::of(n), k if k.contains("creation") || k == "new_expression") {
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
        if self.validated(name, use_node) {
            return Taint::Constant;
        }
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
        if !self.syntax.idents.contains(&crate::kind::of(n)) {
            return false;
        }
        let name = self.text(n);
        self.enclosing_scope(n).is_some_and(|s| self.params_of(s).iter().any(|p| p == name))
    }

    /// The expressions `n` stands for: `n` itself, or for a variable the values of its
    /// definitions before the use (found as for taint), through copies; at most 16.
    pub fn values(&self, n: Node<'t>) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        self.collect_values(n, 0, &mut out);
        out
    }

    fn collect_values(&self, n: Node<'t>, depth: usize, out: &mut Vec<Node<'t>>) {
        if out.len() >= 16 {
            return;
        }
        let n = unparenthesize(n);
        if depth < 4 && self.syntax.idents.contains(&crate::kind::of(n)) {
            let defs = self.reaching_defs(self.text(n), n);
            if defs.is_empty() {
                out.push(n);
            }
            for v in defs {
                self.collect_values(v, depth + 1, out);
            }
        } else {
            out.push(n);
        }
    }

    /// The values of the definitions of `name` that `variable` would look at for `use_node`.
    fn reaching_defs(&self, name: &str, use_node: Node<'t>) -> Vec<Node<'t>> {
        let before = |d: &Def<'t>, at: usize| {
            d.name == name
                && d.start < at
                && !(d.value.start_byte() <= use_node.start_byte() && use_node.end_byte() <= d.value.end_byte())
        };
        let mut scope = self.enclosing_scope(use_node);
        loop {
            let defs = self.defs_of(scope.unwrap_or(self.root));
            let found: Vec<Node<'t>> =
                defs.iter().filter(|d| before(d, use_node.start_byte())).map(|d| d.value).collect();
            if !found.is_empty() {
                return found;
            }
            let Some(s) = scope else { return found };
            if self.params_of(s).iter().any(|p| p == name) {
                return Vec::new();
            }
            scope = self.enclosing_scope(s);
            if scope.is_none() {
                let defs = self.defs_of(self.root);
                return defs.iter().filter(|d| before(d, s.start_byte())).map(|d| d.value).collect();
            }
        }
    }

    /// The values of `n`, and for each that is a `recv.format(...)` call the values of `recv`
    /// too: the template of `sql.format(name=name)` is wherever `sql` was assigned.
    pub fn values_with_templates(&self, n: Node<'t>) -> Vec<Node<'t>> {
        let mut out = self.values(n);
        let mut templates = Vec::new();
        for &v in &out {
            let v = unparenthesize(v);
            let Some((callee_field, _)) = self.syntax.call_fields(crate::kind::of(v)) else {
                continue;
            };
            let callee = crate::engine::callee_text(v, callee_field, self.src);
            if !matches!(callee.rsplit(['.', ':', '>']).next(), Some("format" | "Format")) {
                continue;
            }
            let recv = v
                .child_by_field_name(callee_field)
                .filter(|c| c.named_child_count() > 0)
                .and_then(|c| c.named_child(0));
            if let Some(recv) = recv {
                templates.extend(self.values(recv));
            }
        }
        out.extend(templates);
        out
    }

    /// Is `n` (or, for a variable, one of its values) a string assembled at run time —
    /// interpolation, `%`/`+`/`.` with a string operand, a `format`/`sprintf`/`join` call —
    /// from at least one part that is not constant?
    pub fn formatted(&self, n: Node<'t>) -> bool {
        self.values(n).into_iter().any(|v| self.is_formatting(v, 0) && self.eval(v) != Taint::Constant)
    }

    fn is_formatting(&self, v: Node<'t>, depth: usize) -> bool {
        if depth > 8 {
            return false;
        }
        let v = unparenthesize(v);
        let k = crate::kind::of(v);
        if self.syntax.strings.contains(&k) {
            if self.has_interpolation(v) {
                return true;
            }
            let mut c = v.walk();
            return v
                .named_children(&mut c)
                .any(|ch| self.syntax.strings.contains(&crate::kind::of(ch)) && self.has_interpolation(ch));
        }
        if k.contains("binary") {
            let op = v
                .child_by_field_name("operator")
                .map(|o| self.text(o))
                .or_else(|| {
                    let mut c = v.walk();
                    v.children(&mut c).find(|ch| !ch.is_named()).map(|o| self.text(o))
                })
                .unwrap_or("");
            if !matches!(op, "%" | "+" | ".") {
                return false;
            }
            let (Some(l), Some(r)) = (v.child_by_field_name("left"), v.child_by_field_name("right")) else {
                return false;
            };
            let stringy = |x: Node<'t>| {
                self.syntax.strings.contains(&unparenthesize(x).kind()) || self.is_formatting(x, depth + 1)
            };
            return stringy(l) || (op != "%" && stringy(r));
        }
        if let Some((callee_field, _)) = self.syntax.call_fields(k) {
            let callee = crate::engine::callee_text(v, callee_field, self.src);
            let last = callee.rsplit(['.', ':', '>']).next().unwrap_or("");
            return matches!(
                last,
                "format" | "Format" | "sprintf" | "Sprintf" | "vsprintf" | "join" | "Join" | "concat" | "Concat"
            );
        }
        false
    }

    /// Is `name` validated by a check of its function before `use_node` (see the module docs)?
    fn validated(&self, name: &str, use_node: Node<'t>) -> bool {
        if self.config.validators.is_empty() && !self.config.membership {
            return false;
        }
        let scope = self.enclosing_scope(use_node).unwrap_or(self.root);
        let checks = self.checks_of(scope);
        let at = use_node.start_byte();
        checks.iter().take_while(|c| c.cond.start < at).any(|c| {
            if c.name != name || c.cond.contains(&at) {
                return false;
            }
            if c.stmt.contains(&at) {
                // inside the guarded statement: the branch where the check passed
                let in_then = c.then.as_ref().is_some_and(|r| r.contains(&at));
                in_then != c.negated
            } else {
                // after it: the failing branch must leave or replace the value
                c.stmt.end <= at && c.bails
            }
        })
    }

    /// The validating checks of `scope`'s `if`/`while` statements, in document order (cached
    /// per scope).
    fn checks_of(&self, scope: Node<'t>) -> std::rc::Rc<Vec<Check>> {
        if let Some(c) = self.checks.borrow().get(&scope.id()) {
            return c.clone();
        }
        // A membership test evaluates its collection, which may look at this scope's checks.
        if !self.checking.borrow_mut().insert(scope.id()) {
            return std::rc::Rc::new(Vec::new());
        }
        let mut out: Vec<Check> = Vec::new();
        crate::parse::preorder(scope, 1_000_000, |node| {
            let k = crate::kind::of(node);
            if k == "expression_statement" {
                // `validate_name(x)` as a statement of its own: a check that raises or aborts
                // when `x` is bad, so `x` is clean after it.
                for name in self.validating_call(node) {
                    out.push(Check {
                        cond: node.byte_range(),
                        stmt: node.byte_range(),
                        then: None,
                        name,
                        negated: false,
                        bails: true,
                    });
                }
                return true;
            }
            if !(k.starts_with("if") || k.starts_with("while") || k == "elif_clause" || k == "else_if_clause") {
                return true;
            }
            let Some(cond) = node.child_by_field_name("condition") else { return true };
            let then = node.child_by_field_name("consequence").or_else(|| node.child_by_field_name("body"));
            let mut found: Vec<(String, bool)> = Vec::new();
            crate::parse::preorder(cond, 4096, |n| {
                for name in self.validated_by(n) {
                    found.push((name, negated(n, cond, self.src)));
                }
                true
            });
            for (name, neg) in found {
                let bails = then.is_some_and(|t| self.leaves_or_assigns(t, &name));
                out.push(Check {
                    cond: cond.byte_range(),
                    stmt: node.byte_range(),
                    then: then.map(|t| t.byte_range()),
                    name,
                    negated: neg,
                    bails,
                });
            }
            true
        });
        out.sort_by_key(|c| c.cond.start);
        self.checking.borrow_mut().remove(&scope.id());
        let rc = std::rc::Rc::new(out);
        self.checks.borrow_mut().insert(scope.id(), rc.clone());
        rc
    }

    /// The variables that a statement consisting of one call to a validating function checks:
    /// a function named for it (`validate…`, `verify…`, `ensure…`, `check…`, `assert…`,
    /// `sanitize…` in any case style: `validateKeyName`, `check_path`) whose result is not
    /// used — it raises or aborts on bad input. Its identifier arguments, and the variable
    /// under an argument's subscript or field (`data` of `data['key']`), are checked.
    fn validating_call(&self, stmt: Node<'t>) -> Vec<String> {
        let mut names = Vec::new();
        let Some(call) = stmt.named_child(0).map(unparenthesize) else { return names };
        let Some((callee_field, args_field)) = self.syntax.call_fields(crate::kind::of(call)) else {
            return names;
        };
        let callee = crate::engine::callee_text(call, callee_field, self.src);
        let last = callee.rsplit(['.', ':', '>']).next().unwrap_or(&callee).trim_start_matches('$');
        // the prefix, then nothing, `_` or a capital: `check_path`, `validateKey`, not `checkout`
        let named = ["validate", "verify", "ensure", "check", "assert", "sanitize", "sanitise"].iter().any(|p| {
            last.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p))
                && last[p.len()..].chars().next().is_none_or(|c| c == '_' || c.is_ascii_uppercase())
        });
        if !named {
            return names;
        }
        let Some(args) = call.child_by_field_name(args_field) else { return names };
        let mut c = args.walk();
        for a in args.named_children(&mut c) {
            let mut a = argument_value(a);
            // `data['key']`, `req.name`: the variable underneath
            while !self.syntax.idents.contains(&crate::kind::of(a)) {
                match a.named_child(0) {
                    Some(inner) if a.named_child_count() <= 2 && inner.start_byte() == a.start_byte() => a = inner,
                    _ => break,
                }
            }
            if self.syntax.idents.contains(&crate::kind::of(a)) {
                names.push(self.text(a).to_string());
            }
        }
        names
    }

    /// The variables that node `n` (part of a condition) validates: the arguments and receiver
    /// of a validator call, the left operand of a membership test in a constant collection.
    fn validated_by(&self, n: Node<'t>) -> Vec<String> {
        let nk = crate::kind::of(n);
        let mut names = Vec::new();
        if self.config.membership && nk == "comparison_operator" {
            let mut c = n.walk();
            let is_in = n.children(&mut c).any(|ch| !ch.is_named() && matches!(crate::kind::of(ch), "in" | "not in"));
            if is_in
                && let (Some(left), Some(right)) = (n.named_child(0), n.named_child(1))
                && self.syntax.idents.contains(&crate::kind::of(left))
                && self.eval(right) == Taint::Constant
            {
                names.push(self.text(left).to_string());
            }
            return names;
        }
        let Some((callee_field, args_field)) = self.syntax.call_fields(nk) else {
            return names;
        };
        let callee = crate::engine::callee_text(n, callee_field, self.src);
        let name = qualify(&callee, self.imports);
        if !self.config.validators.iter().any(|v| v.matches(&name)) || !self.strong_check(n, &name, args_field) {
            return names;
        }
        // the receiver (`target.startsWith(…)`) and the arguments
        if let Some(f) = n.child_by_field_name(callee_field).or_else(|| n.child_by_field_name("object")) {
            if self.syntax.idents.contains(&crate::kind::of(f)) && n.child_by_field_name("object").is_some() {
                names.push(self.text(f).to_string());
            }
            let mut c = f.walk();
            for ch in f.named_children(&mut c) {
                if self.syntax.idents.contains(&crate::kind::of(ch)) && ch.end_byte() != f.end_byte() {
                    names.push(self.text(ch).to_string());
                }
            }
        }
        if let Some(args) = n.child_by_field_name(args_field).or_else(|| {
            let mut c = n.walk();
            n.named_children(&mut c).find(|c| crate::kind::of(c) == "arguments")
        }) {
            let mut c = args.walk();
            for a in args.named_children(&mut c) {
                let a = argument_value(a);
                if self.syntax.idents.contains(&crate::kind::of(a)) {
                    names.push(self.text(a).to_string());
                }
            }
        }
        names
    }

    /// Whether a validator call checks enough to count: a prefix check with a literal prefix
    /// must name a directory (`startswith("/srv/files/")`, not `startswith("[")`), and a regular
    /// expression given literally must be anchored at the start (`/^[a-f0-9]+$/`, not
    /// `/\.js$/`) unless the call anchors it itself (`re.match`, `re.fullmatch`, Java's
    /// `matches`).
    fn strong_check(&self, call: Node<'t>, name: &str, args_field: &str) -> bool {
        let last = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
        let prefix = matches!(last.as_str(), "startswith" | "hasprefix" | "str_starts_with");
        let regex = matches!(last.as_str(), "test" | "match" | "matchstring" | "preg_match" | "ismatch" | "search");
        if !prefix && !regex {
            return true;
        }
        let anchored_by_call = name == "re.match";
        let mut literals: Vec<&str> = Vec::new();
        let mut visit = |x: Node<'t>| {
            if crate::kind::of(x) == "regex" || self.is_literal(x) {
                literals.push(self.text(x));
            }
        };
        if let Some(obj) = call.child_by_field_name("function").and_then(|f| f.child_by_field_name("object")) {
            visit(obj);
        }
        if let Some(obj) = call.child_by_field_name("object") {
            visit(obj);
        }
        if let Some(args) = call.child_by_field_name(args_field) {
            let mut c = args.walk();
            for a in args.named_children(&mut c) {
                let a = argument_value(a);
                visit(a);
            }
        }
        let body = |t: &str| {
            t.trim_start_matches(['r', 'R', 'b', 'B', 'u', 'U', '@', '$'])
                .trim_start_matches(['"', '\'', '`', '/', '#', '~', '!', '%', '{', '('])
                .to_string()
        };
        if prefix {
            literals.iter().all(|t| t.contains('/') || t.contains("\\\\"))
        } else {
            anchored_by_call
                || literals.iter().all(|t| {
                    let b = body(t);
                    b.starts_with('^') || b.starts_with("\\A")
                })
        }
    }

    /// Does the branch `body` leave (return, raise, throw, break, continue, exit) or assign
    /// `name` a new value?
    fn leaves_or_assigns(&self, body: Node<'t>, name: &str) -> bool {
        let mut yes = false;
        crate::parse::preorder(body, 4096, |n| {
            if yes {
                return false;
            }
            let k = crate::kind::of(n);
            if matches!(
                k,
                "return_statement"
                    | "raise_statement"
                    | "throw_statement"
                    | "throw_expression"
                    | "break_statement"
                    | "continue_statement"
                    | "exit_statement"
                    | "goto_statement"
            ) {
                yes = true;
            } else if let Some((callee_field, _)) = self.syntax.call_fields(k) {
                let callee = crate::engine::callee_text(n, callee_field, self.src);
                let last = callee.rsplit(['.', ':', '>']).next().unwrap_or("");
                if matches!(last, "exit" | "die" | "abort" | "Exit" | "panic" | "abort_with" | "Fatal" | "Fatalf") {
                    yes = true;
                }
            } else if let Some(dk) = self.syntax.defs.iter().find(|d| d.kind == k)
                && let Some(t) = n.child_by_field_name(dk.target)
                && self.text(t) == name
            {
                yes = true;
            }
            true
        });
        yes
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
        // A method's own object (`self`, `cls`) is not data from its caller.
        out.retain(|n| n != "self" && n != "cls");
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
            let kind = crate::kind::of(node);
            if let Some(dk) = self.syntax.defs.iter().find(|d| d.kind == kind)
                && let Some(target) = node.child_by_field_name(dk.target)
            {
                let value = if dk.value.is_empty() { None } else { node.child_by_field_name(dk.value) }.or_else(|| {
                    let mut c = node.walk();
                    node.named_children(&mut c).filter(|ch| ch.id() != target.id()).last()
                });
                if let Some(value) = value {
                    let mut names = Vec::new();
                    if self.syntax.idents.contains(&crate::kind::of(target)) {
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
                && let Some((callee_field, args_field)) = self.syntax.call_fields(kind)
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
        if syntax.idents.contains(&crate::kind::of(node)) {
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

/// The expression of a call argument: C#'s and PHP's `argument` nodes wrap it (with a name or
/// a modifier before it); other grammars put the expression there directly.
fn argument_value(a: Node<'_>) -> Node<'_> {
    if crate::kind::of(a) != "argument" {
        return a;
    }
    let mut c = a.walk();
    a.named_children(&mut c).last().unwrap_or(a)
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
