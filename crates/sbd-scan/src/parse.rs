//! Parsing with a time budget, and fragment wrapping.
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tree_sitter::{Parser, Tree};

use crate::lang::Language;
use crate::report::Shift;

/// A parsed unit: the text that was parsed (the unit, maybe inside a wrapper) and its tree.
pub(crate) struct Parsed {
    pub text: String,
    pub tree: Tree,
    pub shift: Shift,
    pub wrapped_in: Option<String>,
    pub error_nodes: usize,
}

/// Why a unit could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseFailure {
    /// The time budget ran out.
    Budget(Duration),
    /// The grammar could not be loaded (a build problem).
    Grammar(String),
}

pub(crate) fn parse_once(parser: &mut Parser, text: &str, deadline: Instant) -> Result<Tree, ParseFailure> {
    let bytes = text.as_bytes();
    let mut cb = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    };
    let opts = tree_sitter::ParseOptions::new().progress_callback(&mut cb);
    let tree = parser.parse_with_options(&mut |i, _| bytes.get(i..).unwrap_or(&[]), None, Some(opts));
    parser.reset();
    tree.ok_or(ParseFailure::Budget(Duration::ZERO))
}

/// Count ERROR and MISSING nodes (iteratively; trees can be very deep).
pub(crate) fn count_errors(tree: &Tree) -> usize {
    if !tree.root_node().has_error() {
        return 0;
    }
    let mut n = 0;
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            n += 1;
        }
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return n;
            }
        }
    }
}

/// Does the tree have an ERROR node at the top level (what a fragment that needs a wrapper
/// produces)? Errors nested inside items (a macro the grammar does not understand) are not
/// fixed by wrapping.
fn top_level_error(tree: &Tree) -> bool {
    let root = tree.root_node();
    if root.is_error() {
        return true;
    }
    let mut c = root.walk();
    root.children(&mut c).any(|ch| ch.is_error() || ch.is_missing())
}

/// Units above this size are never retried inside a wrapper.
pub(crate) const MAX_WRAPPED_BYTES: usize = 64 * 1024;

/// Parse `text` as `lang`; when it has syntax errors, also try the language's fragment
/// wrappers and keep whichever yields the fewest error nodes.
pub(crate) fn parse(parser: &mut Parser, lang: Language, text: &str, budget: Duration) -> Result<Parsed, ParseFailure> {
    parser.set_language(&lang.grammar()).map_err(|e| ParseFailure::Grammar(e.to_string()))?;
    let deadline = Instant::now() + budget;
    let budget_err = |_| ParseFailure::Budget(budget);

    // PHP code outside `<?php` is HTML text: model output usually omits the tag.
    if lang == Language::Php && !text.contains("<?") {
        let prefix = "<?php\n";
        let wrapped = format!("{prefix}{text}");
        let tree = parse_once(parser, &wrapped, deadline).map_err(budget_err)?;
        let error_nodes = count_errors(&tree);
        return Ok(Parsed {
            text: wrapped,
            tree,
            shift: Shift { bytes: prefix.len(), lines: 1 },
            wrapped_in: Some("<?php".into()),
            error_nodes,
        });
    }

    let tree = parse_once(parser, text, deadline).map_err(budget_err)?;
    let errors = count_errors(&tree);
    let mut best =
        Parsed { text: text.to_string(), tree, shift: Shift::default(), wrapped_in: None, error_nodes: errors };
    // Wrappers are for fragments (model output); a whole file that has a syntax error is
    // not improved by wrapping it in a function, and re-parsing it would double the cost.
    // Small units (model output) always get the wrappers tried; larger ones only when the
    // error is at the top level.
    if errors == 0 || text.len() > MAX_WRAPPED_BYTES || (text.len() > 4096 && !top_level_error(&best.tree)) {
        return Ok(best);
    }
    // Each wrapper as it is and, for a fragment cut off before its closing braces (a snippet,
    // a truncated answer), with the braces it leaves open closed instead of the wrapper's
    // suffix: otherwise everything from the unclosed function on parses as one ERROR node.
    let mut candidates: Vec<(&str, String)> = Vec::new();
    for (prefix, suffix) in std::iter::once(&("", "")).chain(lang.syntax().wrappers.iter()) {
        if !prefix.is_empty() {
            candidates.push((prefix, suffix.to_string()));
        }
        let open = unclosed_braces(&format!("{prefix}{text}"), lang);
        if open > 0 {
            candidates.push((prefix, "\n}".repeat(open)));
        }
    }
    for (prefix, suffix) in &candidates {
        let wrapped = format!("{prefix}{text}{suffix}");
        let Ok(tree) = parse_once(parser, &wrapped, deadline) else {
            break;
        };
        let e = count_errors(&tree);
        if e < best.error_nodes {
            best = Parsed {
                text: wrapped,
                tree,
                shift: Shift { bytes: prefix.len(), lines: prefix.matches('\n').count() },
                wrapped_in: Some(if prefix.is_empty() { "closing braces".to_string() } else { prefix.trim().to_string() }),
                error_nodes: e,
            };
            if e == 0 {
                break;
            }
        }
    }
    Ok(best)
}

/// How many `{` of `text` are still open at its end (outside strings, characters and
/// comments; a `}` with nothing open is ignored), for the brace languages; 0 past 64.
fn unclosed_braces(text: &str, lang: Language) -> usize {
    if lang == Language::Python {
        return 0;
    }
    let b = text.as_bytes();
    let mut depth: i64 = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            q @ (b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            // a character literal (not a Rust lifetime): at most a few bytes to the closing quote
            b'\'' => {
                let end = b[i + 1..].iter().take(8).position(|&c| c == b'\'');
                if let Some(e) = end
                    && (e == 1 || b.get(i + 1) == Some(&b'\\'))
                {
                    i += e + 1;
                }
            }
            b'{' => depth += 1,
            b'}' => depth = (depth - 1).max(0),
            _ => {}
        }
        i += 1;
    }
    if depth > 0 && depth <= 64 { depth as usize } else { 0 }
}

/// Rust macro arguments are token trees, not syntax: `println!("{}", unsafe { *p })` hides the
/// `unsafe` block from every rule. When a macro's tokens could hold something a rule looks for
/// (`unsafe`, or a name in `call_names` followed by an argument list), this returns the text
/// with the names of the macros (and their `!`) blanked out, so that a second parse sees
/// `("{}", unsafe { *p })`, a tuple of ordinary expressions, at the same byte offsets.
/// `macro_rules!` definitions are left alone.
pub(crate) fn rust_macro_view(text: &str, tree: &Tree, call_names: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut names: Vec<std::ops::Range<usize>> = Vec::new();
    let mut interesting = false;
    // inside `macro_rules!` the tokens are patterns and templates, not code
    let mut definition_end = 0usize;
    preorder(tree.root_node(), 1_000_000, |n| {
        if n.start_byte() < definition_end {
            return true;
        }
        if n.kind() == "macro_definition" {
            definition_end = n.end_byte();
            return true;
        }
        if n.kind() == "macro_invocation"
            && let Some(m) = n.child_by_field_name("macro")
        {
            // the name and the `!` after it
            let mut end = m.end_byte();
            let rest = text.as_bytes();
            while end < rest.len() && rest[end].is_ascii_whitespace() {
                end += 1;
            }
            if rest.get(end) == Some(&b'!') {
                names.push(m.start_byte()..end + 1);
            }
        }
        if !interesting && n.kind() == "token_tree" {
            let mut c = n.walk();
            let kids: Vec<tree_sitter::Node<'_>> = n.children(&mut c).collect();
            for (i, k) in kids.iter().enumerate() {
                let t = text.get(k.byte_range()).unwrap_or("");
                if t == "unsafe"
                    || (k.kind() == "identifier"
                        && call_names(t)
                        && kids.get(i + 1).is_some_and(|x| x.kind() == "token_tree" && text[x.byte_range()].starts_with('(')))
                {
                    interesting = true;
                    break;
                }
            }
        }
        true
    });
    if !interesting || names.is_empty() {
        return None;
    }
    let mut out = text.as_bytes().to_vec();
    for r in names {
        for b in &mut out[r] {
            if !b.is_ascii_whitespace() {
                *b = b' ';
            }
        }
    }
    // Only ASCII bytes were replaced (a macro path is ASCII or replaced byte-for-byte inside
    // ASCII-only ranges), so the text stays UTF-8; fall back to nothing if it does not.
    String::from_utf8(out).ok()
}

/// Visits `root` and its descendants in document order. Children are entered only while
/// fewer than `budget` nodes have been visited, so a pathological tree costs bounded time.
/// `visit` returns `false` to end the walk at once.
pub(crate) fn preorder<'t>(
    root: tree_sitter::Node<'t>,
    budget: usize,
    mut visit: impl FnMut(tree_sitter::Node<'t>) -> bool,
) {
    let mut cursor = root.walk();
    let mut seen = 0usize;
    loop {
        let node = cursor.node();
        seen += 1;
        if !visit(node) {
            return;
        }
        if seen < budget && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.node().id() == root.id() {
                return;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
        }
    }
}
