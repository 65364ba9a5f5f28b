//! Node kinds by table lookup. `tree_sitter::Node::kind` measures the grammar's C string and
//! checks its UTF-8 on every call; the rule engine's walks and the taint analysis ask for
//! kinds millions of times a second, so each grammar's names are read once into a table
//! indexed by kind id.
use std::sync::LazyLock;

use tree_sitter::Node;

use crate::Language;

/// Per grammar: the grammar and its node kind names by id.
static TABLES: LazyLock<Vec<(tree_sitter::Language, Vec<&'static str>)>> = LazyLock::new(|| {
    Language::ALL
        .iter()
        .map(|l| {
            let g = l.grammar();
            let names = (0..g.node_kind_count())
                .map(|id| {
                    // The grammar's strings live as long as the process (the grammars are
                    // linked in); one copy of each name, made once.
                    let name: &'static str = Box::leak(g.node_kind_for_id(id as u16).unwrap_or("").into());
                    name
                })
                .collect();
            (g, names)
        })
        .collect()
});

/// The kind of `n`, as [`Node::kind`] returns it.
pub(crate) fn of<'t>(n: impl std::borrow::Borrow<Node<'t>>) -> &'t str {
    let n = *n.borrow();
    let lang = n.language();
    let id = n.kind_id() as usize;
    TABLES.iter().find(|(g, _)| *g == *lang).and_then(|(_, names)| names.get(id).copied()).unwrap_or_else(|| n.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_kinds_equal_tree_sitter_kinds() {
        for lang in Language::ALL {
            let mut p = tree_sitter::Parser::new();
            p.set_language(&lang.grammar()).unwrap();
            let src = "int main() { return f(x) + 1; } def g(): pass fn h() {} <?php echo $a; ?>";
            let tree = p.parse(src, None).unwrap();
            let mut c = tree.walk();
            let mut seen = 0;
            loop {
                let n = c.node();
                assert_eq!(of(n), n.kind(), "{lang:?} kind id {}", n.kind_id());
                seen += 1;
                if c.goto_first_child() || c.goto_next_sibling() {
                    continue;
                }
                while c.goto_parent() && !c.goto_next_sibling() {}
                if c.node().id() == tree.root_node().id() {
                    break;
                }
            }
            assert!(seen > 3, "{lang:?}: walked {seen} nodes");
        }
    }
}
