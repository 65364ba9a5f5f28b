//! Mutation operators that turn secure code insecure.
//!
//! Each operator rewrites the first match of a pattern. A mutant counts only when the
//! verifier reports a finding related to the operator's CWE that the original did not have.
use std::sync::OnceLock;

use regex::Regex;
use sbd_scan::{Language, Report, Scanner};

use crate::record::VariantKind;
use crate::units::Unit;

/// One operator.
pub struct Operator {
    pub name: &'static str,
    pub languages: &'static [Language],
    pub cwe: u32,
    pattern: &'static str,
    replacement: &'static str,
}

use Language::*;

const C_LIKE: &[Language] = &[C, Cpp];
const JS_LIKE: &[Language] = &[JavaScript, TypeScript];

static OPERATORS: &[Operator] = &[
    Operator {
        name: "weak-hash",
        languages: &[Python],
        cwe: 328,
        pattern: r"hashlib\.sha(256|512|3_256)\(",
        replacement: "hashlib.md5(",
    },
    Operator {
        name: "unsafe-yaml",
        languages: &[Python],
        cwe: 502,
        pattern: r"yaml\.safe_load\(",
        replacement: "yaml.load(",
    },
    Operator {
        name: "json-to-pickle",
        languages: &[Python],
        cwe: 502,
        pattern: r"\bjson\.loads\(",
        replacement: "pickle.loads(",
    },
    Operator {
        name: "literal-eval-to-eval",
        languages: &[Python],
        cwe: 95,
        pattern: r"\bast\.literal_eval\(",
        replacement: "eval(",
    },
    Operator {
        name: "secrets-to-random",
        languages: &[Python],
        cwe: 338,
        pattern: r"\bsecrets\.choice\(",
        replacement: "random.choice(",
    },
    Operator {
        name: "shell-true",
        languages: &[Python],
        cwe: 78,
        pattern: r"subprocess\.(run|call|check_output|Popen)\(\s*\[([^\]]*)\]",
        replacement: "subprocess.$1(\" \".join([$2]), shell=True",
    },
    Operator {
        name: "unbounded-format",
        languages: C_LIKE,
        cwe: 120,
        pattern: r"\bsnprintf\(\s*([^,]+),\s*[^,]+,",
        replacement: "sprintf($1,",
    },
    Operator {
        name: "unbounded-copy",
        languages: C_LIKE,
        cwe: 120,
        pattern: r"\bstrn?l?cpy\(([^,]+),([^,]+),[^)]+\)",
        replacement: "strcpy($1,$2)",
    },
    Operator {
        name: "unbounded-concat",
        languages: C_LIKE,
        cwe: 120,
        pattern: r"\bstrn?l?cat\(([^,]+),([^,]+),[^)]+\)",
        replacement: "strcat($1,$2)",
    },
    Operator {
        name: "fgets-to-gets",
        languages: C_LIKE,
        cwe: 242,
        pattern: r"\bfgets\(([^,]+),[^)]*\)",
        replacement: "gets($1)",
    },
    Operator {
        name: "unchecked-alloc-size",
        languages: C_LIKE,
        cwe: 190,
        pattern: r"\bcalloc\(([^,()]+),([^()]+)\)",
        replacement: "malloc($1 *$2)",
    },
    Operator {
        name: "format-string",
        languages: C_LIKE,
        cwe: 134,
        pattern: r#"\bprintf\(\s*"%s",\s*"#,
        replacement: "printf(",
    },
    Operator {
        name: "wrap-unsafe",
        languages: &[Rust],
        cwe: 119,
        pattern: r"(?s)^([^{]*\{)(.*)(\}\s*)$",
        replacement: "$1 unsafe {$2}\n$3",
    },
    Operator { name: "weak-hash", languages: &[Go], cwe: 328, pattern: r"sha256\.Sum256\(", replacement: "md5.Sum(" },
    Operator {
        name: "math-rand",
        languages: &[Go],
        cwe: 338,
        pattern: r#""crypto/rand""#,
        replacement: r#""math/rand""#,
    },
    Operator {
        name: "weak-hash",
        languages: &[Java, CSharp],
        cwe: 328,
        pattern: r#""SHA-?256""#,
        replacement: r#""MD5""#,
    },
    Operator {
        name: "insecure-random",
        languages: &[Java],
        cwe: 330,
        pattern: r"new SecureRandom\(\)",
        replacement: "new java.util.Random()",
    },
    Operator {
        name: "ecb-mode",
        languages: &[Java],
        cwe: 327,
        pattern: r#""AES/GCM/NoPadding""#,
        replacement: r#""AES/ECB/PKCS5Padding""#,
    },
    Operator {
        name: "weak-hash",
        languages: JS_LIKE,
        cwe: 328,
        pattern: r#"createHash\((["'])sha(256|512)(["'])\)"#,
        replacement: "createHash(${1}md5${3})",
    },
    Operator {
        name: "weak-hash",
        languages: &[Php],
        cwe: 328,
        pattern: r"\bpassword_hash\(([^,()]+),[^()]*\)",
        replacement: "md5($1)",
    },
    Operator {
        name: "json-to-unserialize",
        languages: &[Php],
        cwe: 502,
        pattern: r"\bjson_decode\(([^,()]+)[^()]*\)",
        replacement: "unserialize($1)",
    },
    Operator {
        name: "drop-shell-escape",
        languages: &[Php],
        cwe: 78,
        pattern: r"\bescapeshellarg\(([^()]*)\)",
        replacement: "$1",
    },
    Operator { name: "weak-hash", languages: &[CSharp], cwe: 328, pattern: r"\bSHA256\.", replacement: "MD5." },
];

fn compiled() -> &'static [(usize, Regex)] {
    static C: OnceLock<Vec<(usize, Regex)>> = OnceLock::new();
    C.get_or_init(|| {
        OPERATORS.iter().enumerate().filter_map(|(i, o)| Regex::new(o.pattern).ok().map(|r| (i, r))).collect()
    })
}

/// Every operator, for documentation and statistics.
pub fn operators() -> &'static [Operator] {
    OPERATORS
}

/// Outcome of one mutation attempt.
pub enum Outcome {
    /// No operator applies to this unit.
    NotApplicable,
    /// The rewrite happened but the verifier found no new related weakness.
    Unconfirmed(&'static str),
    /// A verified mutant and its report.
    Confirmed(Box<Unit>, Report),
}

/// Tries the operators that apply to `unit` in order and returns the first confirmed mutant.
pub fn mutate(scanner: &Scanner, unit: &Unit, original: &Report) -> Outcome {
    let mut last = Outcome::NotApplicable;
    for (i, re) in compiled() {
        let op = &OPERATORS[*i];
        if !op.languages.contains(&unit.language) {
            continue;
        }
        let Some(m) = re.find(&unit.code) else { continue };
        let mut code = String::with_capacity(unit.code.len() + 16);
        code.push_str(&unit.code[..m.start()]);
        code.push_str(&re.replace(m.as_str(), op.replacement));
        code.push_str(&unit.code[m.end()..]);
        if code == unit.code {
            continue;
        }
        let report = scanner.scan(&code, unit.language);
        let new = report.findings.iter().any(|f| {
            f.cwe.iter().any(|&c| crate::cwe::related(c, op.cwe)) && !original.findings.iter().any(|o| o.rule == f.rule)
        });
        if !new {
            last = Outcome::Unconfirmed(op.name);
            continue;
        }
        let mut u = unit.clone();
        u.id = format!("{}~mutant-{}", unit.id, op.name);
        u.variant = VariantKind::Mutant;
        u.code = code;
        u.cwe_label = Some(op.cwe);
        u.label_claimed = Some(true);
        u.task = unit.task.clone();
        u.explanation = None;
        return Outcome::Confirmed(Box::new(u), report);
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_compiles() {
        assert_eq!(compiled().len(), OPERATORS.len());
    }

    #[test]
    fn c_copy_becomes_strcpy_and_is_confirmed() {
        let s = Scanner::new().unwrap();
        let code = "#include <string.h>\nvoid f(char *d, const char *s) {\n  strncpy(d, s, 16);\n}\n";
        let unit = Unit::snippet("t".into(), "test", Language::C, code.into());
        let r = s.scan(code, Language::C);
        match mutate(&s, &unit, &r) {
            Outcome::Confirmed(u, rep) => {
                assert!(u.code.contains("strcpy(d, s)"), "{}", u.code);
                assert!(rep.findings.iter().any(|f| f.rule == "C001"));
            }
            _ => panic!("no confirmed mutant"),
        }
    }

    #[test]
    fn rust_function_wrapped_in_unsafe_is_flagged() {
        let s = Scanner::new().unwrap();
        let code = "fn add(a: u8, b: u8) -> u8 {\n    a.wrapping_add(b)\n}\n";
        let unit = Unit::snippet("t".into(), "test", Language::Rust, code.into());
        let r = s.scan(code, Language::Rust);
        assert!(matches!(mutate(&s, &unit, &r), Outcome::Confirmed(..)));
    }
}
