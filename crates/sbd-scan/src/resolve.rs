//! Qualified-name resolution through imports and aliases.
//!
//! Names are normalised to dotted form: `::`, `->`, `\` and `?.` become `.`, call arguments
//! inside a chain are dropped (`Runtime.getRuntime().exec` → `Runtime.getRuntime.exec`), and
//! `require("m")` stands for the module `m`. The first segment is then replaced by what the
//! file's imports bind it to: `import subprocess as sp` makes `sp.run` mean `subprocess.run`,
//! `from yaml import load as l` makes `l` mean `yaml.load`, `use std::mem::transmute;` makes
//! `transmute` mean `std.mem.transmute`, `import e "os/exec"` makes `e.Command` mean
//! `os/exec.Command`.
use std::collections::HashMap;

use tree_sitter::Node;

use crate::lang::Language;

/// Local name → fully qualified dotted name.
#[derive(Debug, Default, Clone)]
pub struct Imports {
    map: HashMap<String, String>,
}

impl Imports {
    pub fn get(&self, local: &str) -> Option<&str> {
        self.map.get(local).map(String::as_str)
    }

    fn bind(&mut self, local: &str, full: &str) {
        let local = local.trim();
        let full = normalize(full.trim());
        if !local.is_empty() && !full.is_empty() && is_name(local) {
            self.map.insert(local.to_string(), full);
        }
    }

    /// Record the import-like node `node` (one of the language's import kinds).
    pub(crate) fn add(&mut self, lang: Language, node: Node<'_>, src: &str) {
        let text = node_text(node, src);
        match lang {
            Language::Python => self.python(text),
            Language::JavaScript | Language::TypeScript => {
                if crate::kind::of(node) == "import_statement" {
                    self.js_import(text)
                } else {
                    self.js_require(node, src)
                }
            }
            Language::Java => {
                let t = text
                    .trim()
                    .trim_start_matches("import")
                    .trim()
                    .trim_start_matches("static ")
                    .trim()
                    .trim_end_matches(';')
                    .trim();
                if !t.ends_with('*')
                    && let Some(last) = t.rsplit('.').next()
                {
                    self.bind(last, t);
                }
            }
            Language::Go => {
                let path = node
                    .child_by_field_name("path")
                    .map(|p| node_text(p, src).trim_matches(|c| c == '"' || c == '`'))
                    .unwrap_or("");
                let alias = node.child_by_field_name("name").map(|n| node_text(n, src));
                let local = match alias {
                    Some(a) => a,
                    None => path.rsplit('/').next().unwrap_or(path),
                };
                if local != "_" && local != "." {
                    self.bind(local, path);
                }
            }
            Language::Rust => {
                if let Some(arg) = node.child_by_field_name("argument") {
                    let t = node_text(arg, src)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .replace(" ::", "::")
                        .replace(":: ", "::")
                        .replace("{ ", "{")
                        .replace(" }", "}")
                        .replace(" ,", ",")
                        .replace(", ", ",");
                    self.rust_use("", &t, 0);
                }
            }
            Language::CSharp => {
                // `using Alias = Some.Namespace.Type;` — plain `using Ns;` binds nothing.
                let t = text.trim().trim_start_matches("global ").trim();
                let t = t.trim_start_matches("using").trim().trim_end_matches(';');
                if let Some((alias, full)) = t.split_once('=') {
                    self.bind(alias.trim(), full.trim());
                } else if !t.starts_with("static") {
                    // Namespace import: remember the namespace for documentation only.
                }
            }
            Language::Php => {
                // namespace_use_clause: `Foo\Bar` or `Foo\Bar as Baz`
                let t = text.trim().trim_start_matches('\\');
                let (full, alias) = match t.split_once(" as ") {
                    Some((f, a)) => (f.trim(), a.trim()),
                    None => (t, t.rsplit('\\').next().unwrap_or(t)),
                };
                self.bind(alias, full);
            }
            Language::C | Language::Cpp => {}
        }
    }

    fn python(&mut self, text: &str) {
        let t = text.replace(['(', ')', '\\'], " ");
        let t = t.trim();
        if let Some(rest) = t.strip_prefix("from ") {
            let Some((module, names)) = rest.split_once(" import ") else {
                return;
            };
            let module = module.trim();
            for item in names.split(',') {
                let item = item.trim();
                if item.is_empty() || item == "*" {
                    continue;
                }
                let (name, alias) = split_as(item);
                self.bind(alias, &format!("{module}.{name}"));
            }
        } else if let Some(rest) = t.strip_prefix("import ") {
            for item in rest.split(',') {
                let item = item.trim();
                let (name, alias) = split_as(item);
                if alias == name {
                    // `import a.b` binds `a`; `a.b.c` then resolves to itself.
                    let head = name.split('.').next().unwrap_or(name);
                    self.bind(head, head);
                } else {
                    self.bind(alias, name);
                }
            }
        }
    }

    fn js_import(&mut self, text: &str) {
        let Some(module) = quoted(text) else { return };
        let t = text.trim().trim_start_matches("import").trim();
        let t = t.strip_prefix("type ").unwrap_or(t);
        let clause = match t.rfind(" from") {
            Some(i) => &t[..i],
            None => return,
        };
        let mut rest = clause.trim();
        if let Some(open) = rest.find('{') {
            let close = rest.rfind('}').unwrap_or(rest.len());
            let inner = rest.get(open + 1..close).unwrap_or("");
            for item in inner.split(',') {
                let item = item.trim().trim_start_matches("type ").trim();
                if item.is_empty() {
                    continue;
                }
                let (name, alias) = split_as(item);
                self.bind(alias, &format!("{module}.{name}"));
            }
            rest = rest[..open].trim().trim_end_matches(',').trim();
        }
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(ns) = part.strip_prefix("* as ") {
                self.bind(ns.trim(), module);
            } else if !part.is_empty() {
                self.bind(part, module);
            }
        }
    }

    /// `const cp = require("child_process")`, `const { exec: run } = require("child_process")`.
    fn js_require(&mut self, node: Node<'_>, src: &str) {
        let (Some(name), Some(value)) = (node.child_by_field_name("name"), node.child_by_field_name("value")) else {
            return;
        };
        let v = node_text(value, src);
        let v = v.trim();
        if !v.starts_with("require") {
            return;
        }
        let Some(module) = quoted(v) else { return };
        let after = v.rsplit(')').next().unwrap_or("");
        let module = normalize(&format!("{module}{after}"));
        let n = node_text(name, src);
        if crate::kind::of(name) == "object_pattern" {
            let inner = n.trim().trim_start_matches('{').trim_end_matches('}');
            for item in inner.split(',') {
                let item = item.trim();
                if item.is_empty() {
                    continue;
                }
                let (key, alias) = match item.split_once(':') {
                    Some((k, a)) => (k.trim(), a.trim()),
                    None => (item, item),
                };
                self.bind(alias, &format!("{module}.{key}"));
            }
        } else {
            self.bind(n, &module);
        }
    }

    fn rust_use(&mut self, prefix: &str, tree: &str, depth: usize) {
        if depth > 16 {
            return;
        }
        let join = |p: &str, s: &str| {
            if p.is_empty() { s.to_string() } else { format!("{p}::{s}") }
        };
        if let Some(open) = tree.find('{') {
            let head = tree[..open].trim_end_matches("::");
            let inner = tree.get(open + 1..tree.len().saturating_sub(1)).unwrap_or("");
            let base = join(prefix, head);
            for item in split_top(inner) {
                self.rust_use(&base, item, depth + 1);
            }
            return;
        }
        let tree = tree.trim();
        let (path, alias) = match tree.split_once(" as ") {
            Some((p, a)) => (p.trim(), Some(a.trim())),
            None => (tree, None),
        };
        if path.ends_with('*') {
            return;
        }
        let full = if path == "self" { prefix.to_string() } else { join(prefix, path) };
        let last = full.rsplit("::").next().unwrap_or(&full).to_string();
        self.bind(alias.unwrap_or(&last), &full);
    }
}

fn split_as(item: &str) -> (&str, &str) {
    match item.split_once(" as ") {
        Some((n, a)) => (n.trim(), a.trim()),
        None => (item.trim(), item.trim()),
    }
}

/// Split on commas not nested in braces.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter().filter(|x| !x.is_empty()).collect()
}

fn quoted(text: &str) -> Option<&str> {
    let i = text.find(['"', '\'', '`'])?;
    let q = text[i..].chars().next()?;
    let rest = &text[i + 1..];
    let j = rest.find(q)?;
    Some(&rest[..j])
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Text of a node (empty on a bad range).
pub(crate) fn node_text<'s>(node: Node<'_>, src: &'s str) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

/// Normalise a callee or name to dotted form (see the module docs).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    // `require("m")` → `m`
    let text_owned;
    let text = if let Some(pos) = text.find("require(") {
        if let Some(m) = quoted(&text[pos..]) {
            let close = text[pos..].find(')').map(|c| pos + c + 1).unwrap_or(text.len());
            text_owned = format!("{}{}{}", &text[..pos], m, &text[close..]);
            text_owned.as_str()
        } else {
            text
        }
    } else {
        text
    };
    let _ = bytes;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'(' | b'[' | b'<' => depth += 1,
            b')' | b']' | b'>' if depth > 0 && !(c == b'>' && i > 0 && bytes[i - 1] == b'-') => depth -= 1,
            _ if depth > 0 => {}
            b':' if bytes.get(i + 1) == Some(&b':') => {
                if !out.is_empty() {
                    out.push('.');
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'>') => {
                out.push('.');
                i += 1;
            }
            b'?' if bytes.get(i + 1) == Some(&b'.') => {}
            b'\\' => {
                if !out.is_empty() {
                    out.push('.');
                }
            }
            b'!' => {}
            c if (c as char).is_whitespace() => {}
            _ => {
                // push the whole UTF-8 char
                let ch_len = utf8_len(c);
                if let Some(s) = text.get(i..i + ch_len) {
                    out.push_str(s);
                }
                i += ch_len;
                continue;
            }
        }
        i += 1;
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// The last identifier of a callee text without allocating, and whether the text is only
/// that identifier (a bare name that an import may alias). `None` when the text does not end
/// in an identifier (generic arguments, a call, a subscript): use [`normalize`] then.
pub fn last_identifier(text: &str) -> Option<(&str, bool)> {
    let t = text.trim_end().trim_end_matches('!');
    let is_id = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let start = t.char_indices().rev().take_while(|(_, c)| is_id(*c)).last().map(|(i, _)| i)?;
    let last = &t[start..];
    let head = t[..start].trim_start();
    let bare = head.is_empty();
    if !bare && head.contains(['(', '[', '<', '"', '\'']) && !head.ends_with(['.', ':', '>', '\\']) {
        return None;
    }
    if head.contains('(') || head.contains('[') {
        // a chain such as `a().b`: the last segment is still `b`
        return Some((last, false));
    }
    Some((last, bare))
}

/// Resolve a callee text to its qualified dotted name through `imports`.
pub fn qualify(text: &str, imports: &Imports) -> String {
    qualify_normalized(&normalize(text), imports)
}

/// [`qualify`] for a name already passed through [`normalize`].
pub fn qualify_normalized(n: &str, imports: &Imports) -> String {
    let n = n.trim_start_matches("this.");
    let (head, tail) = match n.find('.') {
        Some(i) => (&n[..i], &n[i..]),
        None => (n, ""),
    };
    match imports.get(head) {
        Some(full) => format!("{full}{tail}"),
        None => n.to_string(),
    }
}

/// A compiled name pattern: `a.b.c` (exact) or `*.c` (any receiver, or none).
#[derive(Debug, Clone)]
pub(crate) enum NamePat {
    Exact(String),
    Suffix(String),
}

impl NamePat {
    pub fn new(p: &str) -> NamePat {
        match p.strip_prefix("*.") {
            Some(s) => NamePat::Suffix(normalize(s)),
            None => NamePat::Exact(normalize(p)),
        }
    }

    /// The last segment, for indexing.
    pub fn last(&self) -> &str {
        let s = match self {
            NamePat::Exact(s) | NamePat::Suffix(s) => s,
        };
        s.rsplit('.').next().unwrap_or(s)
    }

    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePat::Exact(s) => name == s,
            NamePat::Suffix(s) => {
                name == s
                    || (name.ends_with(s.as_str()) && name.as_bytes().get(name.len() - s.len() - 1) == Some(&b'.'))
            }
        }
    }

    /// Prefix match on segment boundaries (for taint sources like `request.args`).
    pub fn matches_prefix(&self, name: &str) -> bool {
        let boundary =
            |full: &str, p: &str| full.starts_with(p) && matches!(full.as_bytes().get(p.len()), None | Some(b'.'));
        match self {
            NamePat::Exact(s) => boundary(name, s),
            NamePat::Suffix(s) => {
                boundary(name, s) || name.match_indices(&format!(".{s}")).any(|(i, _)| boundary(&name[i + 1..], s))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize("std::mem::transmute"), "std.mem.transmute");
        assert_eq!(normalize("Runtime.getRuntime().exec"), "Runtime.getRuntime.exec");
        assert_eq!(normalize("$obj->query"), "$obj.query");
        assert_eq!(normalize("require('child_process').exec"), "child_process.exec");
        assert_eq!(normalize("a?.b"), "a.b");
        assert_eq!(normalize("format!"), "format");
    }

    #[test]
    fn name_patterns() {
        assert!(NamePat::new("*.execute").matches("cursor.execute"));
        assert!(NamePat::new("*.execute").matches("execute"));
        assert!(!NamePat::new("*.execute").matches("reexecute"));
        assert!(NamePat::new("os.system").matches("os.system"));
        assert!(NamePat::new("flask.request").matches_prefix("flask.request.args.get"));
        assert!(!NamePat::new("flask.request").matches_prefix("flask.requests"));
        assert!(NamePat::new("*.getParameter").matches_prefix("req.getParameter"));
    }
}
