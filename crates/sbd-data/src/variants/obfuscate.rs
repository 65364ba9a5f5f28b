//! Obfuscating mutants: rewrites of flagged code that keep the weakness but hide it from a
//! matcher, and the blind-spot report of the ones the verifier misses.
//!
//! Operators, applied at the flagged call of a finding:
//! - `indirection`: bind the callee to a local alias and call the alias
//!   (`_f = os.system; _f(cmd)`, `const _f = cp.exec; _f(cmd)`, `#define _F strcpy`);
//! - `dynamic-attribute`: look the method up by a computed name
//!   (`getattr(os, "sys" + "tem")(cmd)`, `cp["ex" + "ec"](cmd)`);
//! - `split-string`: split the first string literal of the flagged expression
//!   (`"MD5"` → `"M" + "D5"`).
use std::collections::BTreeMap;

use sbd_scan::{Finding, Language, Report, Scanner};
use serde::Serialize;

use crate::record::VariantKind;
use crate::units::Unit;

pub const OPERATORS: [&str; 3] = ["indirection", "dynamic-attribute", "split-string"];

/// The callee (`os.system`, `cp.exec`, `strcpy`) of the call a finding points at, with its
/// byte range in `code`.
fn callee(code: &str, f: &Finding) -> Option<(usize, usize)> {
    let span = code.get(f.span.start_byte..f.span.end_byte.min(code.len()))?;
    let open = span.find('(')?;
    let head = &span[..open];
    let start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | ':'))
        .last()
        .map(|(i, _)| i)?;
    let name = &head[start..];
    if name.is_empty() || !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$') {
        return None;
    }
    Some((f.span.start_byte + start, f.span.start_byte + open))
}

fn line_start(code: &str, at: usize) -> usize {
    code[..at].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

fn indirection(code: &str, lang: Language, f: &Finding) -> Option<String> {
    let (s, e) = callee(code, f)?;
    let name = &code[s..e];
    let ls = line_start(code, s);
    let indent: String = code[ls..].chars().take_while(|c| *c == ' ' || *c == '\t').collect();
    let (decl, alias) = match lang {
        Language::Python => (format!("{indent}_f = {name}\n"), "_f"),
        Language::JavaScript | Language::TypeScript => (format!("{indent}const _f = {name};\n"), "_f"),
        Language::Go => (format!("{indent}_f := {name}\n"), "_f"),
        Language::C | Language::Cpp => (format!("#define SBD_F {name}\n"), "SBD_F"),
        Language::Php if !name.contains("->") && !name.contains("::") => {
            (format!("{indent}$_f = '{}';\n", name.trim_start_matches('\\')), "$_f")
        }
        _ => return None,
    };
    let at = if matches!(lang, Language::C | Language::Cpp) { 0 } else { ls };
    let mut out = String::with_capacity(code.len() + decl.len());
    out.push_str(&code[..at]);
    out.push_str(&decl);
    out.push_str(&code[at..s]);
    out.push_str(alias);
    out.push_str(&code[e..]);
    Some(out)
}

fn dynamic_attribute(code: &str, lang: Language, f: &Finding) -> Option<String> {
    let (s, e) = callee(code, f)?;
    let name = &code[s..e];
    let (obj, meth) = name.rsplit_once('.')?;
    if meth.len() < 2 {
        return None;
    }
    let (a, b) = meth.split_at(meth.len() / 2);
    let replacement = match lang {
        Language::Python => format!("getattr({obj}, \"{a}\" + \"{b}\")"),
        Language::JavaScript | Language::TypeScript => format!("{obj}[\"{a}\" + \"{b}\"]"),
        _ => return None,
    };
    Some(format!("{}{replacement}{}", &code[..s], &code[e..]))
}

fn split_string(code: &str, lang: Language, f: &Finding) -> Option<String> {
    let span = code.get(f.span.start_byte..f.span.end_byte.min(code.len()))?;
    let q = span.find('"')?;
    let rest = &span[q + 1..];
    let close = rest.find('"')?;
    let lit = &rest[..close];
    if lit.chars().count() < 2 || lit.contains('\\') || !lit.is_ascii() {
        return None;
    }
    let concat = match lang {
        Language::Php => " . ",
        Language::Python
        | Language::JavaScript
        | Language::TypeScript
        | Language::Java
        | Language::CSharp
        | Language::Go => " + ",
        _ => return None,
    };
    let (a, b) = lit.split_at(lit.len() / 2);
    let abs = f.span.start_byte + q;
    Some(format!("{}\"{a}\"{concat}\"{b}\"{}", &code[..abs], &code[abs + close + 2..]))
}

/// Applies `op` to the first finding of `report` where it fits.
pub fn apply(op: &str, unit: &Unit, report: &Report) -> Option<String> {
    report.findings.iter().filter(|f| !f.rule.starts_with("OVR")).find_map(|f| match op {
        "indirection" => indirection(&unit.code, unit.language, f),
        "dynamic-attribute" => dynamic_attribute(&unit.code, unit.language, f),
        "split-string" => split_string(&unit.code, unit.language, f),
        _ => None,
    })
}

/// One obfuscation attempt, scanned.
pub struct Obfuscated {
    pub operator: &'static str,
    pub unit: Unit,
    pub report: Report,
    /// The verifier still reports a finding related to the original's.
    pub detected: bool,
    /// The rules of the original that the rewrite hid.
    pub missed_rules: Vec<String>,
}

/// Every applicable obfuscation of a flagged unit, scanned.
pub fn obfuscations(scanner: &Scanner, unit: &Unit, report: &Report) -> Vec<Obfuscated> {
    let original: Vec<u32> =
        report.findings.iter().filter(|f| !f.rule.starts_with("OVR")).flat_map(|f| f.cwe.clone()).collect();
    if original.is_empty() {
        return Vec::new();
    }
    OPERATORS
        .iter()
        .filter_map(|op| {
            let code = apply(op, unit, report)?;
            let r = scanner.scan(&code, unit.language);
            let detected =
                r.findings.iter().any(|f| f.cwe.iter().any(|&c| original.iter().any(|&o| crate::cwe::related(c, o))));
            let missed_rules = report
                .findings
                .iter()
                .filter(|f| !f.rule.starts_with("OVR") && !r.findings.iter().any(|g| g.rule == f.rule))
                .map(|f| f.rule.clone())
                .collect();
            let mut u = unit.clone();
            u.id = format!("{}~obfuscated-{op}", unit.id);
            u.variant = VariantKind::Obfuscated;
            u.code = code;
            u.label_claimed = Some(true);
            u.cwe_label = unit.cwe_label.or_else(|| original.first().copied());
            u.explanation = None;
            Some(Obfuscated { operator: op, unit: u, report: r, detected, missed_rules })
        })
        .collect()
}

/// Per (operator, language, rule): how many obfuscations the verifier still caught and
/// which it missed, with up to three example ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BlindSpots {
    pub entries: BTreeMap<String, BlindSpotEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BlindSpotEntry {
    pub detected: u64,
    pub missed: u64,
    pub examples: Vec<String>,
}

impl BlindSpots {
    pub fn add(&mut self, o: &Obfuscated, language: Language) {
        let rules = if o.missed_rules.is_empty() { vec!["-".to_string()] } else { o.missed_rules.clone() };
        for rule in rules {
            let e = self.entries.entry(format!("{}/{}/{rule}", o.operator, language.name())).or_default();
            if o.detected {
                e.detected += 1;
            } else {
                e.missed += 1;
                if e.examples.len() < 3 {
                    e.examples.push(o.unit.id.clone());
                }
            }
        }
    }

    pub fn merge(&mut self, other: &BlindSpots) {
        for (k, v) in &other.entries {
            let e = self.entries.entry(k.clone()).or_default();
            e.detected += v.detected;
            e.missed += v.missed;
            for x in &v.examples {
                if e.examples.len() < 3 && !e.examples.contains(x) {
                    e.examples.push(x.clone());
                }
            }
        }
    }

    pub fn missed(&self) -> u64 {
        self.entries.values().map(|e| e.missed).sum()
    }

    pub fn detected(&self) -> u64 {
        self.entries.values().map(|e| e.detected).sum()
    }

    /// A Markdown table, misses first.
    pub fn markdown(&self) -> String {
        let mut rows: Vec<_> = self.entries.iter().collect();
        rows.sort_by(|a, b| b.1.missed.cmp(&a.1.missed).then(a.0.cmp(b.0)));
        let mut s =
            String::from("| operator / language / rule | detected | missed | examples |\n|---|---:|---:|---|\n");
        for (k, e) in rows {
            s.push_str(&format!("| {k} | {} | {} | {} |\n", e.detected, e.missed, e.examples.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_indirection_keeps_the_call() {
        let code = "import os\ndef f(x):\n    os.system(x)\n";
        let s = Scanner::new().unwrap();
        let r = s.scan(code, Language::Python);
        let unit = Unit::snippet("t".into(), "test", Language::Python, code.into());
        let out = apply("indirection", &unit, &r).unwrap();
        assert_eq!(out, "import os\ndef f(x):\n    _f = os.system\n    _f(x)\n");
        let d = apply("dynamic-attribute", &unit, &r).unwrap();
        assert!(d.contains("getattr(os, \"sys\" + \"tem\")(x)"), "{d}");
        let all = obfuscations(&s, &unit, &r);
        assert_eq!(all.len(), 2);
        let mut b = BlindSpots::default();
        for o in &all {
            b.add(o, Language::Python);
        }
        assert_eq!(b.detected() + b.missed(), 2);
    }
}
