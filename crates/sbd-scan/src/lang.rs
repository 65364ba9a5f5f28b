//! The ten languages: names, detection, grammars, and the grammar facts the engine needs
//! (which node kinds are calls, strings, assignments, functions, comments).
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language the verifier understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    C,
    Cpp,
    Rust,
    Python,
    Go,
    Java,
    JavaScript,
    TypeScript,
    CSharp,
    Php,
}

impl Language {
    /// All languages, in a stable order.
    pub const ALL: [Language; 10] = [
        Language::C,
        Language::Cpp,
        Language::Rust,
        Language::Python,
        Language::Go,
        Language::Java,
        Language::JavaScript,
        Language::TypeScript,
        Language::CSharp,
        Language::Php,
    ];

    /// The canonical lower-case name (`cpp`, `csharp`, …), as used in rule files and `--lang`.
    pub fn name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Go => "go",
            Language::Java => "java",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::CSharp => "csharp",
            Language::Php => "php",
        }
    }

    /// Dense index `0..10`, for per-language tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the language itself guarantees memory safety outside explicitly unsafe code.
    pub fn is_memory_safe(self) -> bool {
        !matches!(self, Language::C | Language::Cpp)
    }

    /// The tree-sitter grammar.
    pub fn grammar(self) -> tree_sitter::Language {
        match self {
            Language::C => tree_sitter_c::LANGUAGE.into(),
            Language::Cpp => tree_sitter_cpp::LANGUAGE.into(),
            Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            Language::Go => tree_sitter_go::LANGUAGE.into(),
            Language::Java => tree_sitter_java::LANGUAGE.into(),
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Language::CSharp => tree_sitter_c_sharp::LANGUAGE.into(),
            Language::Php => tree_sitter_php::LANGUAGE_PHP.into(),
        }
    }

    /// Language from a file extension (without the dot, any case).
    pub fn from_extension(ext: &str) -> Option<Language> {
        let ext = ext.to_ascii_lowercase();
        Some(match ext.as_str() {
            "c" | "h" => Language::C,
            "cc" | "cpp" | "cxx" | "c++" | "hpp" | "hh" | "hxx" | "h++" | "ipp" => Language::Cpp,
            "rs" => Language::Rust,
            "py" | "pyi" | "pyw" => Language::Python,
            "go" => Language::Go,
            "java" => Language::Java,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" | "tsx" => Language::TypeScript,
            "cs" => Language::CSharp,
            "php" | "phtml" => Language::Php,
            _ => return None,
        })
    }

    /// Language from a `#!` line (`#!/usr/bin/env python3`, `#!/usr/bin/node`, …).
    pub fn from_shebang(text: &str) -> Option<Language> {
        let first = text.lines().next()?;
        let rest = first.strip_prefix("#!")?;
        let mut words = rest.split_whitespace();
        let mut prog = words.next()?.rsplit('/').next()?;
        if prog == "env" {
            prog = words.find(|w| !w.starts_with('-'))?;
        }
        if prog.starts_with("python") {
            Some(Language::Python)
        } else if prog == "node" || prog == "nodejs" || prog == "deno" || prog == "bun" {
            Some(Language::JavaScript)
        } else if prog == "ts-node" {
            Some(Language::TypeScript)
        } else if prog.starts_with("php") {
            Some(Language::Php)
        } else {
            None
        }
    }

    /// Language of a path, from its extension, else from the shebang of `text`.
    pub fn detect(path: &std::path::Path, text: Option<&str>) -> Option<Language> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Language::from_extension)
            .or_else(|| text.and_then(Language::from_shebang))
    }

    /// The grammar facts for this language.
    pub(crate) fn syntax(self) -> &'static Syntax {
        &SYNTAX[self.index()]
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an unknown language name.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown language `{0}` (expected one of: c, cpp, rust, python, go, java, javascript, typescript, csharp, php)"
)]
pub struct UnknownLanguage(pub String);

impl FromStr for Language {
    type Err = UnknownLanguage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let l = s.to_ascii_lowercase();
        Ok(match l.as_str() {
            "c" => Language::C,
            "cpp" | "c++" | "cxx" => Language::Cpp,
            "rust" | "rs" => Language::Rust,
            "python" | "py" => Language::Python,
            "go" | "golang" => Language::Go,
            "java" => Language::Java,
            "javascript" | "js" => Language::JavaScript,
            "typescript" | "ts" | "tsx" => Language::TypeScript,
            "csharp" | "c#" | "cs" => Language::CSharp,
            "php" => Language::Php,
            _ => return Err(UnknownLanguage(s.to_string())),
        })
    }
}

/// How one kind of assignment-like node names its target and its value.
pub(crate) struct DefKind {
    pub kind: &'static str,
    pub target: &'static str,
    /// Field of the value; when empty or absent, the last named child that is not the target.
    pub value: &'static str,
}

const fn def(kind: &'static str, target: &'static str, value: &'static str) -> DefKind {
    DefKind { kind, target, value }
}

/// Grammar facts for one language.
pub(crate) struct Syntax {
    /// Call-like nodes: (kind, callee field or "" for a constructed callee, arguments field).
    pub calls: &'static [(&'static str, &'static str, &'static str)],
    /// Kinds for keyword arguments (`shell=True`): (kind, name field, value field).
    pub keyword_args: &'static [(&'static str, &'static str, &'static str)],
    /// Function-like nodes: the scope of intra-procedural taint and of function overrides.
    pub functions: &'static [&'static str],
    /// Field holding a function's parameters.
    pub params_field: &'static str,
    /// Assignment-like nodes.
    pub defs: &'static [DefKind],
    /// Identifier kinds (variable references).
    pub idents: &'static [&'static str],
    /// String kinds that can hold interpolations.
    pub strings: &'static [&'static str],
    /// Interpolation / substitution kinds inside strings.
    pub interpolations: &'static [&'static str],
    /// Import-like nodes, resolved by `resolve`.
    pub imports: &'static [&'static str],
    /// Block-like statements an override before them covers as a block.
    pub blocks: &'static [&'static str],
    /// Nodes that are "statements" for overrides and parent-walks.
    /// Wrappers tried when a fragment does not parse as it is: (prefix, suffix).
    pub wrappers: &'static [(&'static str, &'static str)],
}

impl Syntax {
    /// The callee and arguments fields of a call-like node kind, if it is one.
    pub fn call_fields(&self, kind: &str) -> Option<(&'static str, &'static str)> {
        self.calls.iter().find(|(k, _, _)| *k == kind).map(|&(_, callee, args)| (callee, args))
    }
}

const C_FUNCS: &[&str] = &["function_definition", "lambda_expression"];
const JS_FUNCS: &[&str] = &[
    "function_declaration",
    "function_expression",
    "function",
    "arrow_function",
    "method_definition",
    "generator_function_declaration",
];
const JS_DEFS: &[DefKind] = &[
    def("variable_declarator", "name", "value"),
    def("assignment_expression", "left", "right"),
    def("augmented_assignment_expression", "left", "right"),
    def("for_in_statement", "left", "right"),
];

static SYNTAX: [Syntax; 10] = [
    // C
    Syntax {
        calls: &[("call_expression", "function", "arguments")],
        keyword_args: &[],
        functions: C_FUNCS,
        params_field: "declarator",
        defs: &[
            def("init_declarator", "declarator", "value"),
            def("assignment_expression", "left", "right"),
            def("preproc_def", "name", "value"),
        ],
        idents: &["identifier"],
        strings: &["string_literal", "concatenated_string"],
        interpolations: &[],
        imports: &[],
        blocks: &[
            "if_statement",
            "for_statement",
            "while_statement",
            "do_statement",
            "switch_statement",
            "compound_statement",
        ],
        wrappers: &[("void sbd_fragment(void) {\n", "\n}\n")],
    },
    // C++
    Syntax {
        calls: &[("call_expression", "function", "arguments"), ("new_expression", "type", "arguments")],
        keyword_args: &[],
        functions: C_FUNCS,
        params_field: "declarator",
        defs: &[
            def("init_declarator", "declarator", "value"),
            def("assignment_expression", "left", "right"),
            def("preproc_def", "name", "value"),
        ],
        idents: &["identifier"],
        strings: &["string_literal", "concatenated_string", "raw_string_literal"],
        interpolations: &[],
        imports: &[],
        blocks: &[
            "if_statement",
            "for_statement",
            "for_range_loop",
            "while_statement",
            "do_statement",
            "switch_statement",
            "compound_statement",
            "class_specifier",
            "namespace_definition",
        ],
        wrappers: &[("void sbd_fragment() {\n", "\n}\n")],
    },
    // Rust
    Syntax {
        calls: &[("call_expression", "function", "arguments"), ("macro_invocation", "macro", "")],
        keyword_args: &[],
        functions: &["function_item", "closure_expression"],
        params_field: "parameters",
        defs: &[
            def("let_declaration", "pattern", "value"),
            def("const_item", "name", "value"),
            def("static_item", "name", "value"),
            def("assignment_expression", "left", "right"),
            def("compound_assignment_expr", "left", "right"),
            def("for_expression", "pattern", "value"),
        ],
        idents: &["identifier"],
        strings: &["string_literal", "raw_string_literal"],
        interpolations: &[],
        imports: &["use_declaration"],
        blocks: &[
            "unsafe_block",
            "block",
            "impl_item",
            "trait_item",
            "mod_item",
            "if_expression",
            "for_expression",
            "while_expression",
            "loop_expression",
            "match_expression",
        ],
        wrappers: &[("fn sbd_fragment() {\n", "\n}\n")],
    },
    // Python
    Syntax {
        calls: &[("call", "function", "arguments")],
        keyword_args: &[("keyword_argument", "name", "value")],
        functions: &["function_definition", "lambda"],
        params_field: "parameters",
        defs: &[
            def("assignment", "left", "right"),
            def("augmented_assignment", "left", "right"),
            def("for_statement", "left", "right"),
            def("named_expression", "name", "value"),
        ],
        idents: &["identifier"],
        strings: &["string", "concatenated_string"],
        interpolations: &["interpolation"],
        imports: &["import_statement", "import_from_statement"],
        blocks: &[
            "if_statement",
            "for_statement",
            "while_statement",
            "with_statement",
            "try_statement",
            "class_definition",
            "decorated_definition",
        ],
        wrappers: &[],
    },
    // Go
    Syntax {
        calls: &[("call_expression", "function", "arguments")],
        keyword_args: &[],
        functions: &["function_declaration", "method_declaration", "func_literal"],
        params_field: "parameters",
        defs: &[
            def("short_var_declaration", "left", "right"),
            def("assignment_statement", "left", "right"),
            def("var_spec", "name", "value"),
            def("range_clause", "left", "right"),
        ],
        idents: &["identifier"],
        strings: &["interpreted_string_literal", "raw_string_literal"],
        interpolations: &[],
        imports: &["import_spec"],
        blocks: &[
            "if_statement",
            "for_statement",
            "block",
            "expression_switch_statement",
            "type_switch_statement",
            "select_statement",
        ],
        wrappers: &[("package sbd\nfunc sbdFragment() {\n", "\n}\n"), ("package sbd\n", "\n")],
    },
    // Java
    Syntax {
        calls: &[("method_invocation", "", "arguments"), ("object_creation_expression", "type", "arguments")],
        keyword_args: &[],
        functions: &["method_declaration", "constructor_declaration", "lambda_expression"],
        params_field: "parameters",
        defs: &[
            def("variable_declarator", "name", "value"),
            def("assignment_expression", "left", "right"),
            def("enhanced_for_statement", "name", "value"),
        ],
        idents: &["identifier"],
        strings: &["string_literal", "text_block"],
        interpolations: &[],
        imports: &["import_declaration"],
        blocks: &[
            "if_statement",
            "for_statement",
            "enhanced_for_statement",
            "while_statement",
            "try_statement",
            "try_with_resources_statement",
            "block",
            "class_declaration",
            "synchronized_statement",
        ],
        wrappers: &[
            ("class SbdFragment {\nvoid sbdFragment() throws Exception {\n", "\n}\n}\n"),
            ("class SbdFragment {\n", "\n}\n"),
        ],
    },
    // JavaScript
    Syntax {
        calls: &[("call_expression", "function", "arguments"), ("new_expression", "constructor", "arguments")],
        keyword_args: &[],
        functions: JS_FUNCS,
        params_field: "parameters",
        defs: JS_DEFS,
        idents: &["identifier"],
        strings: &["string", "template_string"],
        interpolations: &["template_substitution"],
        imports: &["import_statement", "variable_declarator"],
        blocks: &[
            "if_statement",
            "for_statement",
            "for_in_statement",
            "while_statement",
            "try_statement",
            "statement_block",
            "class_declaration",
        ],
        wrappers: &[],
    },
    // TypeScript (parsed with the TSX grammar, a superset)
    Syntax {
        calls: &[("call_expression", "function", "arguments"), ("new_expression", "constructor", "arguments")],
        keyword_args: &[],
        functions: JS_FUNCS,
        params_field: "parameters",
        defs: JS_DEFS,
        idents: &["identifier"],
        strings: &["string", "template_string"],
        interpolations: &["template_substitution"],
        imports: &["import_statement", "variable_declarator"],
        blocks: &[
            "if_statement",
            "for_statement",
            "for_in_statement",
            "while_statement",
            "try_statement",
            "statement_block",
            "class_declaration",
        ],
        wrappers: &[],
    },
    // C#
    Syntax {
        calls: &[
            ("invocation_expression", "function", "arguments"),
            ("object_creation_expression", "type", "arguments"),
        ],
        keyword_args: &[],
        functions: &["method_declaration", "constructor_declaration", "local_function_statement", "lambda_expression"],
        params_field: "parameters",
        defs: &[
            def("variable_declarator", "name", ""),
            def("assignment_expression", "left", "right"),
            def("foreach_statement", "left", "right"),
        ],
        idents: &["identifier"],
        strings: &["string_literal", "verbatim_string_literal", "raw_string_literal", "interpolated_string_expression"],
        interpolations: &["interpolation"],
        imports: &["using_directive"],
        blocks: &[
            "if_statement",
            "for_statement",
            "foreach_statement",
            "while_statement",
            "try_statement",
            "using_statement",
            "unsafe_statement",
            "fixed_statement",
            "block",
            "class_declaration",
        ],
        wrappers: &[
            ("class SbdFragment {\nvoid SbdFragmentBody() {\n", "\n}\n}\n"),
            ("class SbdFragment {\n", "\n}\n"),
        ],
    },
    // PHP
    Syntax {
        calls: &[
            ("function_call_expression", "function", "arguments"),
            ("member_call_expression", "", "arguments"),
            ("scoped_call_expression", "", "arguments"),
            ("object_creation_expression", "", "arguments"),
        ],
        keyword_args: &[],
        functions: &["function_definition", "method_declaration", "anonymous_function", "arrow_function"],
        params_field: "parameters",
        defs: &[def("assignment_expression", "left", "right"), def("augmented_assignment_expression", "left", "right")],
        idents: &["variable_name"],
        strings: &["encapsed_string", "string", "heredoc"],
        interpolations: &["variable_name", "subscript_expression", "member_access_expression", "expression"],
        imports: &["namespace_use_clause"],
        blocks: &[
            "if_statement",
            "for_statement",
            "foreach_statement",
            "while_statement",
            "try_statement",
            "compound_statement",
            "class_declaration",
        ],
        wrappers: &[],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in Language::ALL {
            assert_eq!(l.name().parse::<Language>().ok(), Some(l));
        }
        assert!("cobol".parse::<Language>().is_err());
    }

    #[test]
    fn detection() {
        use std::path::Path;
        assert_eq!(Language::detect(Path::new("a/b.py"), None), Some(Language::Python));
        assert_eq!(Language::detect(Path::new("x.HPP"), None), Some(Language::Cpp));
        assert_eq!(
            Language::detect(Path::new("script"), Some("#!/usr/bin/env python3\nprint(1)")),
            Some(Language::Python)
        );
        assert_eq!(Language::detect(Path::new("tool"), Some("#!/usr/bin/node\n")), Some(Language::JavaScript));
        assert_eq!(Language::detect(Path::new("README"), Some("hello")), None);
    }

    #[test]
    fn every_grammar_loads() {
        for l in Language::ALL {
            let mut p = tree_sitter::Parser::new();
            assert!(p.set_language(&l.grammar()).is_ok(), "{l}");
        }
    }
}
