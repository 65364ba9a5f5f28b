//! Declared types of variables, so that a method call on a variable is also known by its
//! receiver's type: `rand.Next(10)` after `var rand = new Random();` is `Random.Next`, and
//! `random.nextLong()` on a `Random random` field is `Random.nextLong` (then qualified through
//! the imports like any other name).
//!
//! One table per unit, without scopes: a name declared with two different types anywhere in
//! the unit is left untyped rather than guessed.
use std::collections::HashMap;

use tree_sitter::Node;

use crate::lang::Language;
use crate::resolve::node_text;

/// The node kinds whose declarations this module reads, per language.
pub(crate) fn declaration_kinds(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::Java => &["local_variable_declaration", "field_declaration", "formal_parameter"],
        Language::CSharp => &["variable_declaration", "parameter"],
        Language::JavaScript => &["variable_declarator"],
        Language::TypeScript => &["variable_declarator", "required_parameter", "optional_parameter"],
        _ => &[],
    }
}

/// Variable name → declared type (`None` once two declarations disagree).
#[derive(Default)]
pub(crate) struct Types(HashMap<String, Option<String>>);

impl Types {
    fn bind(&mut self, name: &str, ty: Option<String>) {
        let Some(ty) = ty.filter(|t| !t.is_empty()) else { return };
        match self.0.get_mut(name) {
            Some(slot) => {
                if slot.as_deref() != Some(ty.as_str()) {
                    *slot = None;
                }
            }
            None => {
                self.0.insert(name.to_string(), Some(ty));
            }
        }
    }

    /// Reads one declaration node (of a kind from [`declaration_kinds`]).
    pub(crate) fn add(&mut self, lang: Language, node: Node<'_>, src: &str) {
        let field_text = |n: Node<'_>, f: &str| n.child_by_field_name(f).map(|c| node_text(c, src));
        match (lang, crate::kind::of(node)) {
            (Language::Java, "local_variable_declaration" | "field_declaration") => {
                let ty = field_text(node, "type").map(type_name);
                let mut c = node.walk();
                for d in node.children_by_field_name("declarator", &mut c) {
                    if let Some(name) = field_text(d, "name") {
                        self.bind(name, ty.clone());
                    }
                }
            }
            (Language::Java, "formal_parameter") | (Language::CSharp, "parameter") => {
                if let (Some(ty), Some(name)) = (field_text(node, "type"), field_text(node, "name")) {
                    self.bind(name, Some(type_name(ty)));
                }
            }
            (Language::CSharp, "variable_declaration") => {
                let declared = node.child_by_field_name("type");
                let implicit = declared.is_none_or(|t| crate::kind::of(t) == "implicit_type");
                let mut c = node.walk();
                for d in node.named_children(&mut c).filter(|d| crate::kind::of(d) == "variable_declarator") {
                    let Some(name) = field_text(d, "name") else { continue };
                    let ty = if implicit {
                        let mut dc = d.walk();
                        let created =
                            d.named_children(&mut dc).find(|x| crate::kind::of(x) == "object_creation_expression");
                        created.and_then(|x| field_text(x, "type")).map(type_name)
                    } else {
                        declared.map(|t| type_name(node_text(t, src)))
                    };
                    self.bind(name, ty);
                }
            }
            (Language::JavaScript | Language::TypeScript, "variable_declarator") => {
                let name = node.child_by_field_name("name").filter(|n| crate::kind::of(n) == "identifier");
                let created = node.child_by_field_name("value").filter(|v| crate::kind::of(v) == "new_expression");
                if let (Some(name), Some(created)) = (name, created) {
                    self.bind(node_text(name, src), field_text(created, "constructor").map(type_name));
                }
            }
            (Language::TypeScript, "required_parameter" | "optional_parameter") => {
                let name = node.child_by_field_name("pattern").filter(|n| crate::kind::of(n) == "identifier");
                let ty = node.child_by_field_name("type").and_then(|t| t.named_child(0));
                if let (Some(name), Some(ty)) = (name, ty) {
                    self.bind(node_text(name, src), Some(type_name(node_text(ty, src))));
                }
            }
            _ => {}
        }
    }

    /// `recv.rest` with `recv` replaced by its declared type, when `recv` is a typed variable.
    pub(crate) fn typed_callee(&self, callee: &str) -> Option<String> {
        let callee = callee.strip_prefix("this.").unwrap_or(callee);
        let (recv, rest) = callee.split_once('.')?;
        let ty = self.0.get(recv)?.as_deref()?;
        Some(format!("{ty}.{rest}"))
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The name of a type as written, without generic arguments or nullability: `List<String>` →
/// `List`, `Random?` → `Random`, `java.util.Random` stays. Arrays are not their element type:
/// empty (no binding).
fn type_name(text: &str) -> String {
    if text.contains('[') {
        return String::new();
    }
    let end = text.find(['<', '?', '(']).unwrap_or(text.len());
    text[..end].chars().filter(|c| !c.is_whitespace()).collect::<String>().replace("::", ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(lang: Language, code: &str) -> Types {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&lang.grammar()).unwrap();
        let tree = p.parse(code, None).unwrap();
        let kinds = declaration_kinds(lang);
        let mut t = Types::default();
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            if kinds.contains(&crate::kind::of(n)) {
                t.add(lang, n, code);
            }
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
        t
    }

    #[test]
    fn declared_types_name_receivers() {
        let t = types(
            Language::CSharp,
            "class A { System.Random f = new System.Random(); void F(Dice d) { var r = new Random(); List<int> xs = null; } }",
        );
        assert_eq!(t.typed_callee("r.Next"), Some("Random.Next".into()));
        assert_eq!(t.typed_callee("f.NextBytes"), Some("System.Random.NextBytes".into()));
        assert_eq!(t.typed_callee("this.f.Next"), Some("System.Random.Next".into()));
        assert_eq!(t.typed_callee("d.Roll"), Some("Dice.Roll".into()));
        assert_eq!(t.typed_callee("xs.Add"), Some("List.Add".into()));
        assert_eq!(t.typed_callee("other.Next"), None);
        assert_eq!(t.typed_callee("r"), None);

        let t = types(
            Language::Java,
            "class A { private Random random = new Random(); void f(final java.util.Random g, String[] args) { SecureRandom s = new SecureRandom(), s2; } }",
        );
        assert_eq!(t.typed_callee("random.nextLong"), Some("Random.nextLong".into()));
        assert_eq!(t.typed_callee("g.nextInt"), Some("java.util.Random.nextInt".into()));
        assert_eq!(t.typed_callee("s2.nextInt"), Some("SecureRandom.nextInt".into()));
        assert_eq!(t.typed_callee("args.clone"), None);

        let t = types(Language::JavaScript, "const a = new Foo(); let b = new Bar.Baz(); const c = make();");
        assert_eq!(t.typed_callee("a.run"), Some("Foo.run".into()));
        assert_eq!(t.typed_callee("b.run"), Some("Bar.Baz.run".into()));
        assert_eq!(t.typed_callee("c.run"), None);
    }

    #[test]
    fn conflicting_declarations_leave_a_name_untyped() {
        let t = types(Language::Java, "class A { void f() { Random r = null; } void g() { SecureRandom r = null; } }");
        assert_eq!(t.typed_callee("r.nextInt"), None);
        assert!(!t.is_empty());
    }
}
