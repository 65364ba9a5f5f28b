//! Licence detection, from three kinds of evidence, strongest first:
//! 1. an `SPDX-License-Identifier:` line in the first lines of a source file (per file);
//! 2. the `license` field of a package manifest (`Cargo.toml`, `package.json`,
//!    `pyproject.toml`) in the file's directory or the closest ancestor that has one;
//! 3. a licence file (`LICENSE*`, `LICENCE*`, `COPYING*`, `UNLICENSE`) there, recognised from
//!    its opening words. Rust's dual-licence convention (`LICENSE-MIT` beside
//!    `LICENSE-APACHE`) reads as `Apache-2.0 OR MIT`.
//!
//! [`LicenceMap`] collects the evidence of a tree (a directory or a git commit) by folder so
//! each file gets the licence of its nearest folder that names one.
use std::collections::BTreeMap;

/// The SPDX expression of a `SPDX-License-Identifier:` line among the first 30 lines.
pub fn spdx_header(text: &str) -> Option<String> {
    for line in text.lines().take(30) {
        let Some(at) = line.find("SPDX-License-Identifier:") else { continue };
        let rest = line[at + "SPDX-License-Identifier:".len()..].trim();
        // Comment closers and stray punctuation after the expression.
        let expr: String = rest
            .split("*/")
            .next()
            .unwrap_or("")
            .split("-->")
            .next()
            .unwrap_or("")
            .trim()
            .trim_end_matches(['*', '#', ';', ','])
            .trim()
            .to_string();
        let plausible = !expr.is_empty()
            && expr.chars().all(|c| c.is_ascii_alphanumeric() || " .-+()".contains(c))
            && expr.chars().any(|c| c.is_ascii_alphabetic());
        if plausible {
            return Some(expr);
        }
    }
    None
}

/// Is `name` a package manifest whose licence field we read?
pub fn is_manifest(name: &str) -> bool {
    matches!(name, "Cargo.toml" | "package.json" | "pyproject.toml")
}

/// Is `name` a licence file?
pub fn is_licence_file(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "UNLICENSE"].iter().any(|p| upper.starts_with(p))
}

/// The `license` field of a manifest's text (`license = "MIT"`, `"license": "MIT"`).
pub fn from_manifest(name: &str, text: &str) -> Option<String> {
    let key = match name {
        "package.json" => "\"license\"",
        "Cargo.toml" | "pyproject.toml" => "license",
        _ => return None,
    };
    text.lines().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix(key)?.trim_start();
        let rest = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':'))?.trim();
        let v = rest.trim_matches(|c| c == '"' || c == ',' || c == '\'').trim();
        // `license = { file = "LICENSE" }` (pyproject) and `license.workspace = true` name no id.
        (!v.is_empty() && !v.starts_with('{') && v != "true").then(|| v.to_string())
    })
}

/// The licence a licence file's text states, from its opening words; `see <name>` when it
/// is a licence file we do not recognise.
pub fn from_licence_text(name: &str, text: &str) -> String {
    if let Some(id) = spdx_header(text) {
        return id;
    }
    let head: String = text.chars().take(1200).collect::<String>().to_ascii_lowercase();
    let head = head.split_whitespace().collect::<Vec<_>>().join(" ");
    let version = |base: &str| {
        if head.contains("version 3") {
            format!("{base}-3.0")
        } else if head.contains("version 2.1") {
            format!("{base}-2.1")
        } else if head.contains("version 2") {
            format!("{base}-2.0")
        } else {
            base.to_string()
        }
    };
    // Order matters: the LGPL and AGPL texts mention the GPL in their first lines.
    if head.contains("apache license") {
        "Apache-2.0".to_string()
    } else if head.contains("gnu lesser general public license") || head.contains("gnu library general public") {
        version("LGPL")
    } else if head.contains("gnu affero general public license") {
        "AGPL-3.0".to_string()
    } else if head.contains("gnu general public license") {
        version("GPL")
    } else if head.contains("mozilla public license") {
        "MPL-2.0".to_string()
    } else if head.contains("mit license") || head.contains("permission is hereby granted, free of charge") {
        "MIT".to_string()
    } else if head.contains("redistribution and use in source and binary forms") {
        if head.contains("neither the name") || head.contains("names of its contributors") {
            "BSD-3-Clause".to_string()
        } else {
            "BSD-2-Clause".to_string()
        }
    } else if head.contains("permission to use, copy, modify, and/or distribute this software for any purpose") {
        "ISC".to_string()
    } else if head.contains("boost software license") {
        "BSL-1.0".to_string()
    } else if head.contains("free and unencumbered software released into the public domain") {
        "Unlicense".to_string()
    } else if head.contains("provided 'as-is', without any express or implied warranty") {
        "Zlib".to_string()
    } else if head.contains("python software foundation") {
        "PSF-2.0".to_string()
    } else {
        format!("see {name}")
    }
}

/// Licence evidence of a tree by folder (`""` is the root, folders `/`-separated).
#[derive(Debug, Default, Clone)]
pub struct LicenceMap {
    manifests: BTreeMap<String, String>,
    files: BTreeMap<String, Vec<(String, String)>>,
}

impl LicenceMap {
    /// Records a manifest or licence file found at `rel` with text `text` (other files are
    /// ignored).
    pub fn add(&mut self, rel: &str, text: &str) {
        let (dir, name) = match rel.rsplit_once('/') {
            Some((d, n)) => (d.to_string(), n),
            None => (String::new(), rel),
        };
        if is_manifest(name) {
            if let Some(l) = from_manifest(name, text) {
                self.manifests.entry(dir).or_insert(l);
            }
        } else if is_licence_file(name) {
            self.files.entry(dir).or_default().push((name.to_string(), from_licence_text(name, text)));
        }
    }

    /// True when `name` (a file name) is evidence this map reads.
    pub fn wants(name: &str) -> bool {
        is_manifest(name) || is_licence_file(name)
    }

    /// The licence stated in folder `dir` itself.
    fn at(&self, dir: &str) -> Option<String> {
        if let Some(l) = self.manifests.get(dir) {
            return Some(l.clone());
        }
        let files = self.files.get(dir)?;
        let mut sorted = files.clone();
        sorted.sort();
        let dual: Vec<&str> = sorted
            .iter()
            .filter(|(n, id)| n.to_ascii_uppercase().starts_with("LICENSE-") && !id.starts_with("see "))
            .map(|(_, id)| id.as_str())
            .collect();
        if dual.len() > 1 {
            let mut ids: Vec<&str> = dual;
            ids.sort_unstable();
            ids.dedup();
            return Some(ids.join(" OR "));
        }
        // A recognised file beats an unrecognised one (NOTICE-like COPYING.README, …).
        sorted.iter().find(|(_, id)| !id.starts_with("see ")).or(sorted.first()).map(|(_, id)| id.clone())
    }

    /// The licence of the file at `rel`: that of its folder or the nearest ancestor that
    /// states one, else `fallback`.
    pub fn licence_of(&self, rel: &str, fallback: Option<&String>) -> Option<String> {
        let mut dir = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        loop {
            if let Some(l) = self.at(dir) {
                return Some(l);
            }
            if dir.is_empty() {
                return fallback.cloned();
            }
            dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.manifests.is_empty() && self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spdx_headers_in_comments() {
        assert_eq!(spdx_header("// SPDX-License-Identifier: MIT\nfn a() {}").as_deref(), Some("MIT"));
        assert_eq!(
            spdx_header("/* SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */\nint x;").as_deref(),
            Some("GPL-2.0-only OR BSD-2-Clause")
        );
        assert_eq!(spdx_header("# SPDX-License-Identifier: Apache-2.0\nimport os\n").as_deref(), Some("Apache-2.0"));
        assert_eq!(spdx_header("let s = \"SPDX-License-Identifier: \";").as_deref(), None);
        assert_eq!(spdx_header("fn a() {}\n"), None);
    }

    #[test]
    fn licence_texts_and_the_lgpl_trap() {
        let lgpl = "GNU LESSER GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n\nThis version of the GNU Lesser General Public License incorporates the terms and conditions of version 3 of the GNU General Public License";
        assert_eq!(from_licence_text("COPYING.LESSER", lgpl), "LGPL-3.0");
        assert_eq!(from_licence_text("COPYING", "GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991"), "GPL-2.0");
        assert_eq!(from_licence_text("LICENSE", "Apache License\nVersion 2.0, January 2004"), "Apache-2.0");
        let bsd3 = "Copyright (c) X\n\nRedistribution and use in source and binary forms, with or without modification, are permitted ... Neither the name of the copyright holder";
        assert_eq!(from_licence_text("LICENSE", bsd3), "BSD-3-Clause");
        assert_eq!(from_licence_text("LICENSE", "All rights reserved."), "see LICENSE");
    }

    #[test]
    fn nearest_folder_wins_and_dual_licence_files_combine() {
        let mut m = LicenceMap::default();
        m.add("LICENSE-MIT", "Permission is hereby granted, free of charge, to any person");
        m.add("LICENSE-APACHE", "Apache License\nVersion 2.0");
        m.add("vendor/zlib/LICENSE", "This software is provided 'as-is', without any express or implied warranty.");
        m.add("crates/a/Cargo.toml", "[package]\nname = \"a\"\nlicense = \"MPL-2.0\"\n");
        m.add("crates/b/Cargo.toml", "[package]\nname = \"b\"\nlicense.workspace = true\n");
        m.add("src/main.rs", "fn main() {}");
        assert_eq!(m.licence_of("src/main.rs", None).as_deref(), Some("Apache-2.0 OR MIT"));
        assert_eq!(m.licence_of("vendor/zlib/inflate.c", None).as_deref(), Some("Zlib"));
        assert_eq!(m.licence_of("crates/a/src/lib.rs", None).as_deref(), Some("MPL-2.0"));
        assert_eq!(m.licence_of("crates/b/src/lib.rs", None).as_deref(), Some("Apache-2.0 OR MIT"));
        let empty = LicenceMap::default();
        assert_eq!(empty.licence_of("a.rs", Some(&"BSD".to_string())).as_deref(), Some("BSD"));
    }
}
