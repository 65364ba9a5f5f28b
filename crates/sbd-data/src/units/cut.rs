//! Function-level cutting with the verifier's tree-sitter grammars.
//!
//! The outermost function-like nodes of a file become units (methods inside classes and
//! `impl` blocks included; nested functions stay inside their parent). A file without any
//! function is one unit. Spans refer to the file's text.
use sbd_scan::Language;

/// Node kinds that are functions, per language.
fn function_kinds(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::C | Language::Cpp => &["function_definition"],
        Language::Rust => &["function_item"],
        Language::Python => &["function_definition", "decorated_definition"],
        Language::Go => &["function_declaration", "method_declaration"],
        Language::Java => &["method_declaration", "constructor_declaration"],
        Language::JavaScript | Language::TypeScript => {
            &["function_declaration", "generator_function_declaration", "method_definition"]
        }
        Language::CSharp => &["method_declaration", "constructor_declaration", "local_function_statement"],
        Language::Php => &["function_definition", "method_declaration"],
    }
}

/// A function's text and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub start_byte: usize,
    pub end_byte: usize,
    /// 1-based.
    pub start_line: u32,
    /// The function's name where the grammar gives one.
    pub name: Option<String>,
}

/// The functions of `text`, outermost first in source order. Empty when the text does not
/// parse or holds no function.
pub fn functions(text: &str, lang: Language) -> Vec<Piece> {
    thread_local! {
        static PARSER: std::cell::RefCell<tree_sitter::Parser> = std::cell::RefCell::new(tree_sitter::Parser::new());
    }
    let kinds = function_kinds(lang);
    PARSER.with(|p| {
        let mut p = p.borrow_mut();
        if p.set_language(&lang.grammar()).is_err() {
            return Vec::new();
        }
        p.reset();
        let Some(tree) = p.parse(text, None) else { return Vec::new() };
        let mut out = Vec::new();
        let mut cursor = tree.walk();
        let mut descend = true;
        loop {
            let node = cursor.node();
            if descend && kinds.contains(&node.kind()) {
                let named = if node.kind() == "decorated_definition" {
                    node.child_by_field_name("definition")
                } else {
                    Some(node)
                };
                let name = named
                    .and_then(|n| n.child_by_field_name("name").or_else(|| n.child_by_field_name("declarator")))
                    .and_then(|n| text.get(n.byte_range()))
                    .map(|s| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
                    .filter(|s| !s.is_empty());
                out.push(Piece {
                    start_byte: node.start_byte(),
                    end_byte: node.end_byte(),
                    start_line: node.start_position().row as u32 + 1,
                    name,
                });
                descend = false;
            }
            if descend && cursor.goto_first_child() {
                continue;
            }
            descend = true;
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return out;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_python_functions_and_methods() {
        let src = "import os\n\ndef a(x):\n    return x\n\nclass K:\n    def b(self):\n        def inner():\n            pass\n        return 1\n";
        let f = functions(src, Language::Python);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].name.as_deref(), Some("a"));
        assert_eq!(f[0].start_line, 3);
        assert_eq!(f[1].name.as_deref(), Some("b"));
        assert!(src[f[1].start_byte..f[1].end_byte].contains("inner"));
    }

    #[test]
    fn cuts_rust_impl_methods_and_c_functions() {
        let rs = "struct S;\nimpl S {\n    fn one(&self) -> u8 { 1 }\n}\nfn two() {}\n";
        let names: Vec<_> = functions(rs, Language::Rust).into_iter().filter_map(|p| p.name).collect();
        assert_eq!(names, ["one", "two"]);
        let c = "#include <stdio.h>\nint main(void) {\n  return 0;\n}\n";
        let f = functions(c, Language::C);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].name.as_deref(), Some("main"));
    }
}
