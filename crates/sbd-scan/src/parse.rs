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
    let mut n = 0;
    walk_errors(tree, |node| {
        if node.is_error() || node.is_missing() {
            n += 1;
        }
        true
    });
    n
}

/// Bytes covered by ERROR nodes (outermost only).
fn error_bytes(tree: &Tree) -> usize {
    unit_error_bytes(tree, 0, usize::MAX)
}

/// Bytes of the unit (`[start, end)` of the parsed text) inside ERROR nodes (outermost only).
pub(crate) fn unit_error_bytes(tree: &Tree, start: usize, end: usize) -> usize {
    let mut n = 0;
    walk_errors(tree, |node| {
        if node.is_error() {
            let r = node.byte_range();
            n += r.end.min(end).saturating_sub(r.start.max(start));
            return false;
        }
        true
    });
    n
}

/// Whether the unit (`[start, end)` of the parsed text) holds any code: a token that is not
/// whitespace, a comment, a preprocessor directive (the contents of `#if` blocks count) or
/// inside a syntax error. Stops at the first such token, so real code costs a few steps.
pub(crate) fn has_code(tree: &Tree, start: usize, end: usize) -> bool {
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        let r = node.byte_range();
        let kind = node.kind();
        let skip = node.is_error()
            || node.is_missing()
            || node.is_extra()
            || kind.contains("comment")
            || (kind.starts_with("preproc_") && !PREPROC_BLOCKS.contains(&kind))
            || r.end <= start
            || r.start >= end;
        if !skip {
            if node.child_count() == 0 {
                if !r.is_empty() {
                    return true;
                }
            } else if cursor.goto_first_child() {
                continue;
            }
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return false;
            }
        }
    }
}

/// Preprocessor nodes whose contents are code (C and C++ conditional blocks).
const PREPROC_BLOCKS: [&str; 5] = ["preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"];

/// Visits, iteratively and in document order, the nodes of a tree with errors, entering only
/// nodes that contain an error and for which `visit` says yes.
fn walk_errors(tree: &Tree, mut visit: impl FnMut(tree_sitter::Node<'_>) -> bool) {
    if !tree.root_node().has_error() {
        return;
    }
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        if visit(node) && node.has_error() && cursor.goto_first_child() {
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
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

/// PHP code outside `<?php` is HTML text: model output usually omits the tag, so such text is
/// parsed behind an added `<?php` (whose root node is the wrapper's, not the unit's). Text that
/// begins with markup (`<div>`, `<!-- … -->`, `<script>`; not a `<<<` heredoc) and has no PHP
/// tag is a template without PHP in it, HTML text as it stands: read as code it would be one
/// long syntax error, and the rules that read HTML text (secrets in a `<script src>`) would
/// never see it.
pub(crate) fn needs_php_opener(lang: Language, text: &str) -> bool {
    lang == Language::Php && !text.contains("<?") && !begins_with_markup(text)
}

fn begins_with_markup(text: &str) -> bool {
    let start = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    start.starts_with('<') && !start.starts_with("<<<")
}

/// Parse `text` as `lang`; when it has syntax errors, also try the language's fragment
/// wrappers and keep whichever yields the fewest error nodes.
pub(crate) fn parse(parser: &mut Parser, lang: Language, text: &str, budget: Duration) -> Result<Parsed, ParseFailure> {
    parser.set_language(&lang.grammar()).map_err(|e| ParseFailure::Grammar(e.to_string()))?;
    let deadline = Instant::now() + budget;
    let budget_err = |_| ParseFailure::Budget(budget);

    if needs_php_opener(lang, text) {
        let prefix = "<?php\n";
        let wrapped = format!("{prefix}{text}");
        let tree = parse_once(parser, &wrapped, deadline).map_err(budget_err)?;
        let error_nodes = count_errors(&tree);
        let mut best = Parsed {
            text: wrapped,
            tree,
            shift: Shift::new(prefix, text),
            wrapped_in: Some("<?php".into()),
            error_nodes,
        };
        if error_nodes > 0 && text.len() <= MAX_WRAPPED_BYTES {
            rebalance(parser, lang, text, prefix, deadline, &mut best);
        }
        return Ok(best);
    }

    let tree = parse_once(parser, text, deadline).map_err(budget_err)?;
    let errors = count_errors(&tree);
    let mut best =
        Parsed { text: text.to_string(), tree, shift: Shift::new("", text), wrapped_in: None, error_nodes: errors };
    // Wrappers are for fragments (model output); a whole file that has a syntax error is
    // not improved by wrapping it in a function, and re-parsing it would double the cost.
    // Small units (model output) always get the wrappers tried; larger ones only when the
    // error is at the top level.
    if errors == 0 || text.len() > MAX_WRAPPED_BYTES || (text.len() > 4096 && !top_level_error(&best.tree)) {
        return Ok(best);
    }
    rebalance(parser, lang, text, "", deadline, &mut best);
    if best.error_nodes == 0 {
        return Ok(best);
    }
    // The fragment with closers for what it leaves open (a snippet, an answer cut off before
    // its closing braces: otherwise everything from the unclosed function on is one ERROR
    // node), then inside each of the language's wrappers.
    let closes = !schemes(lang).is_empty();
    let mut candidates: Vec<(&str, String)> = Vec::new();
    if closes && !unbalanced(text, lang).1.is_empty() {
        candidates.push(("", close_open(text.to_string(), lang)));
    }
    for (prefix, suffix) in lang.syntax().wrappers {
        let wrapped =
            if closes { close_open(format!("{prefix}{text}"), lang) } else { format!("{prefix}{text}{suffix}") };
        candidates.push((*prefix, wrapped));
    }
    for (prefix, wrapped) in candidates {
        let Ok(tree) = parse_once(parser, &wrapped, deadline) else {
            break;
        };
        let e = count_errors(&tree);
        if e < best.error_nodes {
            best = Parsed {
                text: wrapped,
                tree,
                shift: Shift::new(prefix, text),
                wrapped_in: Some(if prefix.is_empty() {
                    "closing braces".to_string()
                } else {
                    prefix.trim().to_string()
                }),
                error_nodes: e,
            };
            if e == 0 {
                break;
            }
        }
    }
    Ok(best)
}

/// How to open the blocks that a fragment closes without opening them: `(outers, function,
/// nested)`. `outers` are the declarations around a function, innermost first (a class, a
/// namespace); `function` opens the function the fragment starts in; `nested` opens a `}`
/// that sits inside an unmatched `(` (a callback).
type Scheme = (&'static [&'static str], &'static str, &'static str);

fn schemes(lang: Language) -> &'static [Scheme] {
    match lang {
        Language::C => &[(&[], "void sbd_fragment(void) {\n", "{\n")],
        Language::Cpp => &[
            (&[], "void sbd_fragment() {\n", "[&]() {\n"),
            (&["class SbdFragment {\n", "namespace sbd_fragment {\n"], "void sbd_fragment() {\n", "[&]() {\n"),
        ],
        Language::Rust => &[
            (&[], "fn sbd_fragment() {\n", "|| {\n"),
            (&["impl SbdFragment {\n", "mod sbd_fragment {\n"], "fn sbd_fragment() {\n", "|| {\n"),
        ],
        Language::Go => &[(&[], "func sbdFragment() {\n", "func() {\n")],
        Language::Java => &[(&["class SbdFragment {\n"], "void sbdFragment() throws Exception {\n", "() -> {\n")],
        Language::JavaScript | Language::TypeScript => &[
            (&[], "function sbdFragment() {\n", "function () {\n"),
            (&["class SbdFragment {\n"], "sbdFragment() {\n", "function () {\n"),
        ],
        Language::CSharp => {
            &[(&["class SbdFragment {\n", "namespace SbdFragmentNs {\n"], "void SbdFragmentBody() {\n", "() => {\n")]
        }
        Language::Php => &[
            (&[], "function sbd_fragment() {\n", "function () {\n"),
            (&["class SbdFragment {\n"], "function sbdFragment() {\n", "function () {\n"),
        ],
        Language::Python => &[],
    }
}

/// The prefix that opens `unmatched` (innermost first) when the first `inner` unmatched `}`
/// lie inside the function (blocks, then the function itself) and the others close `outers`;
/// whatever the fragment does not close (the function, outers) stays open around it.
fn openers(unmatched: &[u8], inner: usize, scheme: &Scheme) -> String {
    let (outers, function, nested) = *scheme;
    // innermost first
    let mut chain: Vec<&str> = Vec::new();
    let mut braces = 0usize;
    let mut used_function = false;
    let mut used_outers = 0usize;
    for (i, &c) in unmatched.iter().enumerate() {
        match c {
            b')' => chain.push("sbd(\n"),
            b']' => chain.push("[\n"),
            _ => {
                braces += 1;
                if unmatched.get(i + 1) == Some(&b')') {
                    chain.push(nested);
                } else if braces < inner {
                    chain.push("{\n");
                } else if !used_function {
                    chain.push(function);
                    used_function = true;
                } else {
                    chain.push(outers.get(used_outers).copied().unwrap_or("{\n"));
                    used_outers += 1;
                }
            }
        }
    }
    // What the fragment does not close stays open around it.
    if !used_function {
        chain.push(function);
    }
    chain.extend(outers.iter().skip(used_outers).copied());
    let go_package = if outers.is_empty() && function.starts_with("func ") { "package sbd\n" } else { "" };
    let mut prefix = String::from(go_package);
    for o in chain.iter().rev() {
        prefix.push_str(o);
    }
    prefix
}

/// The brackets of C-like source that do not pair up: the closers without an opener, innermost
/// first, and the openers still open at the end, outermost first. Strings, character literals
/// and comments are skipped (approximately: this only chooses a wrapper to try).
fn unbalanced(text: &str, lang: Language) -> (Vec<u8>, Vec<u8>) {
    let b = text.as_bytes();
    let mut open: Vec<u8> = Vec::new();
    let mut unmatched: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'#' if lang == Language::Php => {
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
            b'"' | b'`' | b'\'' => {
                // Rust lifetimes (`'a`) are not character literals.
                if c == b'\'' && lang == Language::Rust && b.get(i + 2) != Some(&b'\'') && b.get(i + 1) != Some(&b'\\')
                {
                    i += 1;
                    continue;
                }
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' {
                        i += 1;
                    } else if b[i] == b'\n' && c != b'`' && lang != Language::Php {
                        break; // an unterminated literal ends with its line
                    }
                    i += 1;
                }
            }
            b'{' | b'(' | b'[' => open.push(c),
            b'}' | b')' | b']' => {
                let want = match c {
                    b'}' => b'{',
                    b')' => b'(',
                    _ => b'[',
                };
                match open.last() {
                    Some(&o) if o == want => {
                        open.pop();
                    }
                    Some(_) => {
                        // a mismatch inside the text: give up on this closer
                    }
                    None => unmatched.push(c),
                }
            }
            _ => {}
        }
        i += 1;
    }
    (unmatched, open)
}

/// `text` followed by closers for the brackets it leaves open.
fn close_open(mut text: String, lang: Language) -> String {
    let (_, still_open) = unbalanced(&text, lang);
    text.push('\n');
    for &o in still_open.iter().rev() {
        text.push_str(match o {
            b'{' => "}\n",
            b'(' => ")\n",
            _ => "]\n",
        });
    }
    text
}

/// Units that start inside blocks (a window of a file, the continuation of a prompt) close
/// brackets they never opened. Try them behind openers for those brackets, for each of the
/// language's schemes and a few guesses of how many of them close blocks of the function the
/// fragment starts in, with closers appended for what is left open; keep the variant with the
/// fewest error nodes in `best`.
fn rebalance(parser: &mut Parser, lang: Language, text: &str, head: &str, deadline: Instant, best: &mut Parsed) {
    let (unmatched, _) = unbalanced(text, lang);
    let braces = unmatched.iter().filter(|&&c| c == b'}').count();
    if braces == 0 {
        return;
    }
    let has_package = lang == Language::Go && text.trim_start().starts_with("package ");
    let mut tried: Vec<String> = Vec::new();
    for scheme in schemes(lang) {
        // `inner` of the unmatched `}` close blocks of the function the fragment starts in
        // (the last of them the function itself); `braces + 1`: all of them close blocks and
        // the function stays open.
        for inner in [1, 2, braces, braces + 1] {
            if inner > braces + 1 {
                continue;
            }
            let mut prefix = openers(&unmatched, inner, scheme);
            if has_package {
                prefix = prefix.replacen("package sbd\n", "", 1);
            }
            let prefix = format!("{head}{prefix}");
            if tried.contains(&prefix) {
                continue;
            }
            tried.push(prefix.clone());
            let wrapped = close_open(format!("{prefix}{text}"), lang);
            let Ok(tree) = parse_once(parser, &wrapped, deadline) else {
                return;
            };
            let e = count_errors(&tree);
            // Equal counts: the variant whose errors cover less text (a truncated last
            // statement, rather than a whole method lost to a stray `}`).
            if e < best.error_nodes || (e == best.error_nodes && error_bytes(&tree) < error_bytes(&best.tree)) {
                *best = Parsed {
                    text: wrapped,
                    tree,
                    shift: Shift::new(&prefix, text),
                    wrapped_in: Some(format!("{} (rebalanced)", prefix.lines().next().unwrap_or("").trim())),
                    error_nodes: e,
                };
                if e == 0 {
                    return;
                }
            }
        }
    }
}

/// Node kind ids the Rust macro view looks for, read once from the grammar.
struct MacroKinds {
    definition: u16,
    invocation: u16,
    token_tree: u16,
    identifier: u16,
}

static MACRO_KINDS: std::sync::LazyLock<MacroKinds> = std::sync::LazyLock::new(|| {
    let g = Language::Rust.grammar();
    let id = |k: &str| g.id_for_node_kind(k, true);
    MacroKinds {
        definition: id("macro_definition"),
        invocation: id("macro_invocation"),
        token_tree: id("token_tree"),
        identifier: id("identifier"),
    }
});

/// What the Rust macro view needs to know about a tree, gathered node by node in document
/// order (by [`rust_macro_view`]'s own walk, or by the rule engine's walk of the unit, which
/// visits the same nodes, so that the tree is walked once).
///
/// Rust macro arguments are token trees, not syntax: `println!("{}", unsafe { *p })` hides the
/// `unsafe` block from every rule. When a macro's tokens could hold something a rule looks for
/// (`unsafe`, or a name in `call_names` followed by an argument list), [`MacroSites::view`]
/// gives the text of the unit with the names of the macros (and their `!`) blanked out, so
/// that a second parse sees `("{}", unsafe { *p })`, a tuple of ordinary expressions, at the
/// same offsets. `macro_rules!` definitions are left alone.
#[derive(Default)]
pub(crate) struct MacroSites {
    names: Vec<std::ops::Range<usize>>,
    interesting: bool,
    // inside `macro_rules!` the tokens are patterns and templates, not code
    definition_end: usize,
}

impl MacroSites {
    /// Takes note of `n`, a node of a Rust tree of `text`; nodes come in document order.
    pub(crate) fn visit(&mut self, n: tree_sitter::Node<'_>, text: &str, call_names: &dyn Fn(&str) -> bool) {
        if n.start_byte() < self.definition_end {
            return;
        }
        let k = &*MACRO_KINDS;
        let kind = n.kind_id();
        if kind == k.definition {
            self.definition_end = n.end_byte();
            return;
        }
        if kind == k.invocation
            && let Some(m) = n.child_by_field_name("macro")
        {
            // the name and the `!` after it
            let mut end = m.end_byte();
            let rest = text.as_bytes();
            while end < rest.len() && rest[end].is_ascii_whitespace() {
                end += 1;
            }
            if rest.get(end) == Some(&b'!') {
                self.names.push(m.start_byte()..end + 1);
            }
        }
        if !self.interesting && kind == k.token_tree {
            // `unsafe`, or a known callee's name followed by `( … )`.
            let mut c = n.walk();
            let mut prev_identifier: Option<&str> = None;
            for kid in n.children(&mut c) {
                let t = text.get(kid.byte_range()).unwrap_or("");
                let id = kid.kind_id();
                if t == "unsafe"
                    || (id == k.token_tree && t.starts_with('(') && prev_identifier.is_some_and(call_names))
                {
                    self.interesting = true;
                    break;
                }
                prev_identifier = (id == k.identifier).then_some(t);
            }
        }
    }

    /// The text of `span` of `text` with the macro names blanked, when some macro's tokens
    /// are worth a second parse, and the blanked byte ranges (offsets within the span);
    /// `None` otherwise. Only non-whitespace bytes become spaces: lines and columns stay.
    pub(crate) fn view(self, text: &str, span: std::ops::Range<usize>) -> Option<MacroView> {
        if !self.interesting || self.names.is_empty() {
            return None;
        }
        let mut out = text.as_bytes().get(span.clone())?.to_vec();
        let mut blanked = Vec::with_capacity(self.names.len());
        for r in self.names {
            let r = r.start.checked_sub(span.start)?..r.end.checked_sub(span.start)?;
            let Some(bytes) = out.get_mut(r.clone()) else {
                continue;
            };
            for b in bytes {
                if !b.is_ascii_whitespace() {
                    *b = b' ';
                }
            }
            blanked.push(r);
        }
        // Only ASCII bytes were replaced (a macro path is ASCII or replaced byte-for-byte
        // inside ASCII-only ranges), so the text stays UTF-8; fall back to nothing if it does
        // not.
        Some(MacroView { text: String::from_utf8(out).ok()?, blanked })
    }
}

/// A macro view: the text, and the byte ranges in which it differs from the text it was
/// made from (same length, spaces instead of the macro names).
pub(crate) struct MacroView {
    pub text: String,
    pub blanked: Vec<std::ops::Range<usize>>,
}

/// Parses `text`, which differs from the text `old` is the parse of only in the byte ranges
/// `changed` (replaced by as many bytes, line breaks kept), reusing what `old` parsed outside
/// them: tree-sitter's incremental parsing gives the tree a fresh parse of `text` gives, and
/// re-parses only around the changes.
pub(crate) fn reparse(
    parser: &mut Parser,
    old: &Tree,
    text: &str,
    changed: &[std::ops::Range<usize>],
    deadline: Instant,
) -> Result<Tree, ParseFailure> {
    let line_starts: Vec<usize> =
        std::iter::once(0).chain(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1)).collect();
    let point = |b: usize| {
        let row = line_starts.partition_point(|&s| s <= b).saturating_sub(1);
        tree_sitter::Point::new(row, b - line_starts[row])
    };
    let mut edited = old.clone();
    for r in changed {
        let (start, end) = (point(r.start), point(r.end));
        edited.edit(&tree_sitter::InputEdit {
            start_byte: r.start,
            old_end_byte: r.end,
            new_end_byte: r.end,
            start_position: start,
            old_end_position: end,
            new_end_position: end,
        });
    }
    let bytes = text.as_bytes();
    let mut cb = |_: &tree_sitter::ParseState| {
        if Instant::now() >= deadline { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    };
    let opts = tree_sitter::ParseOptions::new().progress_callback(&mut cb);
    let tree = parser.parse_with_options(&mut |i, _| bytes.get(i..).unwrap_or(&[]), Some(&edited), Some(opts));
    parser.reset();
    tree.ok_or(ParseFailure::Budget(Duration::ZERO))
}

/// The Rust macro view ([`MacroSites`]) of `span` of `text`, the unit `root` covers.
pub(crate) fn rust_macro_view(
    text: &str,
    root: tree_sitter::Node<'_>,
    span: std::ops::Range<usize>,
    call_names: &dyn Fn(&str) -> bool,
) -> Option<MacroView> {
    let mut sites = MacroSites::default();
    preorder(root, 1_000_000, |n| {
        sites.visit(n, text, call_names);
        true
    });
    sites.view(text, span)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// PHP without its tag is code unless it begins with markup; a heredoc is code.
    #[test]
    fn php_without_a_tag_is_code_unless_it_begins_with_markup() {
        for code in ["$o = unserialize($_GET['x']);", "  echo $a;", "<<<EOT\nx\nEOT;\n", "\u{feff}$x = 1;"] {
            assert!(needs_php_opener(Language::Php, code), "{code:?}");
        }
        for text in
            ["<div>x</div>", "\r\n  <!-- c -->\n<script src=\"a.js\"></script>", "\u{feff}<html>", "x <?php echo 1;"]
        {
            assert!(!needs_php_opener(Language::Php, text), "{text:?}");
        }
        assert!(!needs_php_opener(Language::Python, "x = 1"));
    }

    fn fresh(text: &str) -> Tree {
        let mut p = Parser::new();
        p.set_language(&Language::Rust.grammar()).unwrap();
        p.parse(text, None).unwrap()
    }

    /// Every level of the macro view, re-parsed incrementally from the tree before it, is the
    /// tree a fresh parse of the view gives: on snippets with nested macros and on the Rust
    /// sources of this crate (thousands of macro invocations).
    #[test]
    fn incremental_macro_views_equal_fresh_parses() {
        let known = |name: &str| ["system", "current_exe", "from_raw_parts", "new"].contains(&name);
        let mut texts: Vec<String> = vec![
            "fn f(p: *const u8) { println!(\"{}\", unsafe { *p }); }\n".into(),
            "lazy_static! { static ref X: String = format!(\"{:?}\", t!(env::current_exe())); }\n".into(),
            "fn g() {\n    assert_eq!(vec![1, 2], unsafe {\n        std::slice::from_raw_parts(p, n)\n    }.to_vec());\n}\n".into(),
            "macro_rules! m { ($x:expr) => { unsafe { $x } } }\nfn h() { m!(1); dbg ! (unsafe { 2 }); }\n".into(),
        ];
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                // each file with an `unsafe` added inside its first macro call, so that it
                // has a view
                let text = std::fs::read_to_string(&path).unwrap();
                texts.push(text.replacen("!(", "!(unsafe { 0 }, ", 1));
            }
        }
        let mut views = 0;
        for text in &texts {
            let mut current = (text.clone(), fresh(text));
            for _level in 0..4 {
                let Some(view) = rust_macro_view(&current.0, current.1.root_node(), 0..current.0.len(), &known) else {
                    break;
                };
                let mut p = Parser::new();
                p.set_language(&Language::Rust.grammar()).unwrap();
                let deadline = Instant::now() + Duration::from_secs(10);
                let incremental = reparse(&mut p, &current.1, &view.text, &view.blanked, deadline).unwrap();
                let full = fresh(&view.text);
                assert_eq!(
                    incremental.root_node().to_sexp(),
                    full.root_node().to_sexp(),
                    "view of {:?}",
                    &text[..text.len().min(80)]
                );
                views += 1;
                current = (view.text, incremental);
            }
        }
        assert!(views > texts.len(), "only {views} views of {} texts", texts.len());
    }
}
