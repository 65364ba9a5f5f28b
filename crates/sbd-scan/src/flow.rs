//! "What can run after this node?" — the search behind `followed_by` / `not_followed_by`.
//!
//! A lightweight, syntax-directed reachability walk (no control-flow graph): from the matched
//! node it climbs to its function, and at every level visits the statements that follow the
//! current one in its block, in source order. Three facts about structured code keep it honest:
//!
//! - code after a `return`/`throw`/`goto`/`break`/`continue` (or `exit()`/`abort()`) in the same
//!   block is not reached from the match, so the search ends there;
//! - the other arm of an `if` around the match is not reached from it (only what follows the
//!   whole `if` is);
//! - a *kill* (a node matching `until`: a reassignment, a check) ends the search only when it
//!   runs whenever the match does. Inside a branch that may not run — an `if` without `else`, a
//!   loop body, a `case`, a closure — it hides only the rest of that branch; an `if`/`else`
//!   whose two arms both kill (or both leave) kills.
//!
//! Loops are not unrolled: code before the match in the same loop body is not revisited.
//! Every walk is bounded by a node budget; when it runs out the answer is "not found".
use tree_sitter::Node;

/// Nodes whose named children run one after another (blocks, case bodies, files).
const SEQUENCES: &[&str] = &[
    "compound_statement",
    "translation_unit",
    "block",
    "statement_block",
    "statement_list",
    "source_file",
    "program",
    "module",
    "compilation_unit",
    "case_statement",
    "switch_block_statement_group",
    "switch_section",
    "switch_case",
    "switch_default",
    "expression_case",
    "default_case",
    "declaration_list",
];

/// Statements after which the rest of the block is not reached.
const JUMPS: &[&str] = &[
    "return_statement",
    "throw_statement",
    "goto_statement",
    "break_statement",
    "continue_statement",
    "return_expression",
    "break_expression",
    "continue_expression",
    "raise_statement",
    "throw_expression",
];

/// Calls that do not return.
const NO_RETURN: &[&str] = &[
    "exit",
    "_exit",
    "_Exit",
    "abort",
    "quick_exit",
    "panic!",
    "unreachable!",
    "std::process::exit",
    "process::exit",
    "std::abort",
    "std::exit",
    "os.Exit",
    "System.exit",
    "sys.exit",
];

/// Constructs whose parts other than their condition may not run (or run later).
const MAYBE: &[&str] = &[
    "if_statement",
    "if_expression",
    "if_let_expression",
    "conditional_expression",
    "ternary_expression",
    "switch_statement",
    "switch_expression",
    "match_expression",
    "for_statement",
    "for_range_loop",
    "for_expression",
    "for_in_statement",
    "enhanced_for_statement",
    "foreach_statement",
    "while_statement",
    "while_expression",
    "catch_clause",
    "except_clause",
    "lambda_expression",
    "closure_expression",
    "lambda",
    "arrow_function",
    "function_expression",
    "func_literal",
];

/// Definitions that do not run where they stand (another function, a class, a module).
const OPAQUE: &[&str] = &[
    "function_definition",
    "function_item",
    "function_declaration",
    "method_declaration",
    "method_definition",
    "constructor_declaration",
    "class_definition",
    "class_declaration",
    "class_specifier",
    "struct_specifier",
    "impl_item",
    "mod_item",
    "trait_item",
    "namespace_definition",
    "template_declaration",
];

/// Fields of a [`MAYBE`] construct that always run when the construct does.
const ALWAYS_RUN_FIELDS: &[&str] = &["condition", "value", "initializer", "right"];

/// Nodes a walk visits before it gives up.
const BUDGET: usize = 50_000;

enum Step {
    Found,
    Killed,
    Continue,
}

/// What a search looks for.
pub(crate) struct Search<'a, 't> {
    /// The node sought.
    pub target: &'a dyn Fn(Node<'t>) -> bool,
    /// A node that ends the search where it always runs.
    pub until: &'a dyn Fn(Node<'t>) -> bool,
    /// A node whose insides are not searched.
    pub skip: &'a dyn Fn(Node<'t>) -> bool,
}

struct Walk<'a, 't> {
    src: &'a str,
    search: &'a Search<'a, 't>,
    left: usize,
}

fn is_no_return_call(n: Node<'_>, src: &str) -> bool {
    let call = if crate::kind::of(n) == "expression_statement" {
        match n.named_child(0) {
            Some(c) => c,
            None => return false,
        }
    } else {
        n
    };
    let kind = crate::kind::of(call);
    if !matches!(kind, "call_expression" | "macro_invocation" | "call") {
        return false;
    }
    let f = call.child_by_field_name("function").or_else(|| call.child_by_field_name("macro"));
    let Some(f) = f else { return false };
    let name = src.get(f.byte_range()).unwrap_or("").trim();
    let name = if kind == "macro_invocation" { format!("{name}!") } else { name.to_string() };
    NO_RETURN.contains(&name.as_str())
}

fn is_jump(n: Node<'_>, src: &str) -> bool {
    let kind = crate::kind::of(n);
    if JUMPS.contains(&kind) {
        return true;
    }
    if kind == "expression_statement"
        && let Some(c) = n.named_child(0)
        && JUMPS.contains(&crate::kind::of(c))
    {
        return true;
    }
    is_no_return_call(n, src)
}

impl<'t> Walk<'_, 't> {
    fn visit(&mut self, n: Node<'t>) -> Step {
        if self.left == 0 {
            return Step::Killed;
        }
        self.left -= 1;
        let kind = crate::kind::of(n);
        if kind.contains("comment") || OPAQUE.contains(&kind) {
            return Step::Continue;
        }
        if (self.search.target)(n) {
            return Step::Found;
        }
        if (self.search.until)(n) {
            return Step::Killed;
        }
        if (self.search.skip)(n) {
            return Step::Continue;
        }
        let jump = is_jump(n, self.src);
        if MAYBE.contains(&kind) {
            let is_if = kind.starts_with("if") || kind == "conditional_expression";
            let mut arms_killed = 0usize;
            let mut arms = 0usize;
            let mut c = n.walk();
            let children: Vec<Node<'t>> = n.named_children(&mut c).collect();
            for (i, ch) in children.into_iter().enumerate() {
                if crate::kind::of(ch).contains("comment") {
                    continue;
                }
                let field = n.field_name_for_named_child(i as u32);
                let always = field.is_some_and(|f| ALWAYS_RUN_FIELDS.contains(&f));
                match self.visit(ch) {
                    Step::Found => return Step::Found,
                    Step::Killed if always => return Step::Killed,
                    Step::Killed => {
                        arms += 1;
                        arms_killed += 1;
                    }
                    Step::Continue => {
                        if !always {
                            arms += 1;
                        }
                    }
                }
            }
            // `if … else …` whose two arms both kill (or both leave the block).
            if is_if && arms >= 2 && arms_killed == arms && self.left > 0 {
                return Step::Killed;
            }
            return Step::Continue;
        }
        let mut c = n.walk();
        let children: Vec<Node<'t>> = n.named_children(&mut c).collect();
        for ch in children {
            match self.visit(ch) {
                Step::Continue => {}
                other => return other,
            }
        }
        if jump { Step::Killed } else { Step::Continue }
    }
}

/// The field of `parent` that holds `child`, if any.
fn child_field<'t>(parent: Node<'t>, child: Node<'t>) -> Option<&'t str> {
    let mut c = parent.walk();
    let children: Vec<Node<'t>> = parent.named_children(&mut c).collect();
    let i = children.iter().position(|x| x.id() == child.id())?;
    parent.field_name_for_named_child(i as u32)
}

/// Is a node for which `search.target` holds reached after `matched` (given its ancestors,
/// outermost first, ending with its parent) before a node for which `search.until` holds?
/// `functions` are the function-like kinds that bound the search.
pub(crate) fn reaches<'t>(
    src: &str,
    ancestors: &[Node<'t>],
    matched: Node<'t>,
    functions: &[&str],
    search: &Search<'_, 't>,
) -> bool {
    let mut walk = Walk { src, search, left: BUDGET };
    let mut child = matched;
    for &parent in ancestors.iter().rev() {
        if functions.contains(&crate::kind::of(child)) {
            break;
        }
        // From the condition (or initializer, scrutinee) of an `if`, loop or `match`, the
        // branches and the body run next — each maybe.
        let parent_kind = crate::kind::of(parent);
        let from_always_run =
            MAYBE.contains(&parent_kind) && child_field(parent, child).is_some_and(|f| ALWAYS_RUN_FIELDS.contains(&f));
        if from_always_run {
            let mut next = child.next_named_sibling();
            while let Some(s) = next {
                if let Step::Found = walk.visit(s) {
                    return true;
                }
                if walk.left == 0 {
                    return false;
                }
                next = s.next_named_sibling();
            }
        }
        if SEQUENCES.contains(&parent_kind) {
            let mut next = child.next_named_sibling();
            while let Some(s) = next {
                match walk.visit(s) {
                    Step::Found => return true,
                    Step::Killed => return false,
                    Step::Continue => {}
                }
                next = s.next_named_sibling();
            }
        }
        child = parent;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::Language;

    fn parse(src: &str) -> tree_sitter::Tree {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&Language::C.grammar()).expect("C grammar");
        p.parse(src, None).expect("parse")
    }

    /// Does a use of `p` (`p->` or `p[`) follow the first `free(p)`, before `p = …`?
    fn uaf(src: &str) -> bool {
        let tree = parse(src);
        let root = tree.root_node();
        let mut free_call = None;
        crate::parse::preorder(root, 100_000, |n| {
            if free_call.is_none()
                && crate::kind::of(n) == "call_expression"
                && src[n.byte_range()].starts_with("free(")
            {
                free_call = Some(n);
            }
            true
        });
        let Some(m) = free_call else { panic!("no free call in {src}") };
        let mut ancestors = Vec::new();
        let mut cur = root;
        while cur.id() != m.id() {
            ancestors.push(cur);
            match cur.child_with_descendant(m) {
                Some(c) if c.id() != cur.id() => cur = c,
                _ => break,
            }
        }
        let target = |n: Node<'_>| {
            matches!(crate::kind::of(n), "field_expression" | "subscript_expression")
                && (src[n.byte_range()].starts_with("p->") || src[n.byte_range()].starts_with("p["))
        };
        let until =
            |n: Node<'_>| crate::kind::of(n) == "assignment_expression" && src[n.byte_range()].starts_with("p =");
        let skip = |_: Node<'_>| false;
        reaches(src, &ancestors, m, &["function_definition"], &Search { target: &target, until: &until, skip: &skip })
    }

    #[test]
    fn later_use_is_found() {
        assert!(uaf("void f(struct s *p) { free(p); g(p->x); }"));
        assert!(uaf("void f(struct s *p) { if (a) { free(p); } g(p->x); }"));
        assert!(uaf("void f(struct s *p) { free(p); if (a) { g(p[1]); } }"));
        assert!(uaf("void f(struct s *p) { free(p); if (a) p = 0; g(p->x); }"));
        assert!(uaf("void f(struct s *p) { free(p); if (a) { p = 0; } else { h(); } g(p->x); }"));
    }

    #[test]
    fn unreachable_or_killed_use_is_not() {
        assert!(!uaf("void f(struct s *p) { g(p->x); free(p); }"));
        assert!(!uaf("void f(struct s *p) { if (a) { free(p); return; } g(p->x); }"));
        assert!(!uaf("void f(struct s *p) { if (a) { free(p); } else { g(p->x); } }"));
        assert!(!uaf("void f(struct s *p) { free(p); p = 0; g(p->x); }"));
        assert!(!uaf("void f(struct s *p) { free(p); if (a) { p = 0; } else { p = q; } g(p->x); }"));
        assert!(!uaf("void f(struct s *p) { free(p); if (a) return; else exit(1); g(p->x); }"));
        assert!(!uaf("void f(struct s *p) { switch (a) { case 1: free(p); break; case 2: g(p->x); } }"));
    }
}
