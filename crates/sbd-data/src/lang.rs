//! Language names and detection from file names.
//!
//! Canonical names are lowercase: `c`, `cpp`, `rust`, `python`, `go`, `java`, `javascript`,
//! `typescript`, `csharp`, `php` (the verifier's ten) and `ruby` (present in SafeCoder).

/// The canonical languages this project knows by name.
pub const KNOWN: &[&str] =
    &["c", "cpp", "rust", "python", "go", "java", "javascript", "typescript", "csharp", "php", "ruby"];

/// The canonical name for a language name or alias (`"C++"`, `"py"`, `"js"`, `"c#"` …).
pub fn canonical(name: &str) -> Option<&'static str> {
    let n = name.trim().to_ascii_lowercase();
    Some(match n.as_str() {
        "c" | "h" => "c",
        "cpp" | "c++" | "cc" | "cxx" | "hpp" | "hh" | "hxx" => "cpp",
        "rust" | "rs" => "rust",
        "python" | "py" | "python3" => "python",
        "go" | "golang" => "go",
        "java" => "java",
        "javascript" | "js" | "jsx" | "mjs" | "cjs" | "node" => "javascript",
        "typescript" | "ts" | "tsx" => "typescript",
        "csharp" | "c#" | "cs" => "csharp",
        "php" => "php",
        "ruby" | "rb" => "ruby",
        _ => return None,
    })
}

/// The language of a file from its extension.
pub fn from_path(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    if ext.contains('/') {
        return None;
    }
    canonical(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_languages() {
        assert_eq!(from_path("src/lib/dump_dir.c"), Some("c"));
        assert_eq!(from_path("a/b.cc"), Some("cpp"));
        assert_eq!(from_path("x.jsx"), Some("javascript"));
        assert_eq!(from_path("app/models/user.rb"), Some("ruby"));
        assert_eq!(from_path("Makefile"), None);
        assert_eq!(from_path("dir.v2/README"), None);
        assert_eq!(canonical("C++"), Some("cpp"));
        assert_eq!(canonical("brainfuck"), None);
    }
}
