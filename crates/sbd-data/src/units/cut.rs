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
    /// Names of the enclosing containers, outermost first: classes, `impl` targets, traits,
    /// inline modules, namespaces, a Go method's receiver type, a C++ `Type::` qualifier.
    pub scope: Vec<String>,
}

impl Piece {
    /// `scope::name` (`name` alone at the top level; `fn` when the grammar gives no name).
    pub fn qualified(&self) -> String {
        let mut parts = self.scope.clone();
        parts.push(self.name.clone().unwrap_or_else(|| "fn".into()));
        parts.join("::")
    }
}

/// Container node kinds whose name becomes part of a function's scope.
fn is_container(lang: Language, kind: &str) -> bool {
    match lang {
        Language::Rust => matches!(kind, "mod_item" | "impl_item" | "trait_item"),
        Language::Python => kind == "class_definition",
        Language::C => false,
        Language::Cpp => matches!(kind, "class_specifier" | "struct_specifier" | "namespace_definition"),
        Language::Go => false,
        Language::Java => {
            matches!(kind, "class_declaration" | "interface_declaration" | "enum_declaration" | "record_declaration")
        }
        Language::JavaScript | Language::TypeScript => matches!(kind, "class_declaration" | "class"),
        Language::CSharp => matches!(
            kind,
            "class_declaration"
                | "struct_declaration"
                | "interface_declaration"
                | "record_declaration"
                | "namespace_declaration"
        ),
        Language::Php => {
            matches!(kind, "class_declaration" | "trait_declaration" | "interface_declaration" | "namespace_definition")
        }
    }
}

/// The identifier at the end of a type or path: `a::b::Foo<T>` → `Foo`, `*Server` → `Server`.
fn base_name(text: &str) -> Option<String> {
    let t = text.split(['<', '[', '(']).next().unwrap_or("");
    let t = t.rsplit("::").next().unwrap_or(t);
    let t = t.rsplit(['.', '\\']).next().unwrap_or(t);
    let t = t.split_whitespace().last().unwrap_or("").trim_start_matches(['*', '&']);
    let name: String = t.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '~').collect();
    (!name.is_empty()).then_some(name)
}

/// The name of a container node.
fn container_name(node: tree_sitter::Node, text: &str) -> Option<String> {
    let field = if node.kind() == "impl_item" { "type" } else { "name" };
    node.child_by_field_name(field).and_then(|n| text.get(n.byte_range())).and_then(base_name)
}

/// Name and qualifier of a C or C++ function: follows the declarator chain
/// (`*f(...)`, `Foo::bar(...)`) to the function declarator's name.
fn c_name(node: tree_sitter::Node, text: &str) -> (Option<String>, Option<String>) {
    let mut d = node.child_by_field_name("declarator");
    while let Some(n) = d {
        if n.kind() == "function_declarator" {
            let Some(id) = n.child_by_field_name("declarator") else { break };
            let t = text.get(id.byte_range()).unwrap_or("");
            let t = t.split('<').next().unwrap_or(t);
            return match t.rsplit_once("::") {
                Some((q, name)) => (base_name(name).or_else(|| Some(name.trim().to_string())), base_name(q)),
                None => (Some(t.trim().to_string()).filter(|s| !s.is_empty()), None),
            };
        }
        d = n.child_by_field_name("declarator");
    }
    (None, None)
}

/// The functions of `text`, outermost first in source order. Empty when the text does not
/// parse or holds no function.
pub fn functions(text: &str, lang: Language) -> Vec<Piece> {
    functions_and_tree(text, lang).map(|(_, f)| f).unwrap_or_default()
}

/// [`functions`], and the parse they were cut from (the verifier can scan each piece on it,
/// [`sbd_scan::Scanner::scan_subtree`], instead of parsing the piece again). `None` when the
/// text could not be parsed.
pub fn functions_and_tree(text: &str, lang: Language) -> Option<(tree_sitter::Tree, Vec<Piece>)> {
    thread_local! {
        static PARSER: std::cell::RefCell<tree_sitter::Parser> = std::cell::RefCell::new(tree_sitter::Parser::new());
    }
    let tree = PARSER.with(|p| {
        let mut p = p.borrow_mut();
        p.set_language(&lang.grammar()).ok()?;
        p.reset();
        p.parse(text, None)
    })?;
    let out = cut_tree(&tree, text, lang);
    Some((tree, out))
}

fn cut_tree(tree: &tree_sitter::Tree, text: &str, lang: Language) -> Vec<Piece> {
    let kinds = function_kinds(lang);
    let mut out = Vec::new();
    let mut cursor = tree.walk();
    let mut descend = true;
    // The names of the containers (classes, impls, modules) the cursor is inside, one entry
    // per ancestor (`Node::parent` searches down from the root: quadratic in a long file).
    let mut open: Vec<Option<String>> = Vec::new();
    loop {
        let node = cursor.node();
        if descend && kinds.contains(&node.kind()) {
            let named =
                if node.kind() == "decorated_definition" { node.child_by_field_name("definition") } else { Some(node) };
            let mut scope: Vec<String> = open.iter().flatten().cloned().collect();
            let name = if matches!(lang, Language::C | Language::Cpp) {
                let (name, qualifier) = named.map(|n| c_name(n, text)).unwrap_or((None, None));
                scope.extend(qualifier);
                name
            } else {
                if lang == Language::Go
                    && let Some(r) = node.child_by_field_name("receiver")
                {
                    scope.extend(text.get(r.byte_range()).and_then(|t| base_name(t.trim_matches(['(', ')']))));
                }
                named
                    .and_then(|n| n.child_by_field_name("name"))
                    .and_then(|n| text.get(n.byte_range()))
                    .map(|s| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
                    .filter(|s| !s.is_empty())
            };
            out.push(Piece {
                start_byte: node.start_byte(),
                end_byte: node.end_byte(),
                start_line: node.start_position().row as u32 + 1,
                name,
                scope,
            });
            descend = false;
        }
        if descend && cursor.goto_first_child() {
            open.push(if is_container(lang, node.kind()) { container_name(node, text) } else { None });
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
            open.pop();
        }
    }
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

    #[test]
    fn scopes_name_classes_impls_modules_receivers_and_qualifiers() {
        let q = |src: &str, lang| functions(src, lang).iter().map(Piece::qualified).collect::<Vec<_>>();
        let rs = "mod inner {\n    impl<T: Copy> Buf<T> {\n        pub fn push(&mut self) {}\n    }\n}\nimpl Drop for a::Guard { fn drop(&mut self) {} }\ntrait T { fn d(&self) {} }\n";
        assert_eq!(q(rs, Language::Rust), ["inner::Buf::push", "Guard::drop", "T::d"]);
        assert_eq!(q("class K:\n    def m(self):\n        pass\n", Language::Python), ["K::m"]);
        let go = "package p\nfunc (s *Server) Handle() {}\nfunc top() {}\n";
        assert_eq!(q(go, Language::Go), ["Server::Handle", "top"]);
        let c = "char *dup(const char *s) { return 0; }\nstatic int (*pick(void))(int) { return 0; }\n";
        assert_eq!(q(c, Language::C)[0], "dup");
        let cpp = "namespace n { class A { void f() {} }; }\nvoid A::g(int x) {}\n";
        assert_eq!(q(cpp, Language::Cpp), ["n::A::f", "A::g"]);
        let java = "class Outer { class In { void m() {} } Outer() {} }";
        assert_eq!(q(java, Language::Java), ["Outer::In::m", "Outer::Outer"]);
    }
}
