//! Trainer exports as JSON Lines.
//!
//! - `sft`: chat messages. Rows with a task and no finding teach generation (task → code,
//!   then its ANRF instance and explanation); every row teaches review (code → the verifier's
//!   verdict and explanation). Half of the generation examples, chosen deterministically,
//!   omit the ANRF block: examples with and without metadata.
//! - `dpo`: `prompt`/`chosen`/`rejected` from pairs (secure over insecure side) and from
//!   verified mutants (the original over the mutant) and justified over unjustified
//!   overrides.
//! - `rl`: prompts with verifier metadata (language, CWE to avoid, rules that fired on the
//!   insecure version, expected properties, a reference solution) for reward computation.
use std::collections::BTreeMap;
use std::io::Write;

use serde_json::json;

use crate::record::{Record, VariantKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Sft,
    Dpo,
    Rl,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sft" => Ok(Format::Sft),
            "dpo" => Ok(Format::Dpo),
            "rl" => Ok(Format::Rl),
            _ => Err(format!("unknown format {s:?} (sft, dpo or rl)")),
        }
    }
}

const SYSTEM: &str =
    "You write secure code. After the code, give its ANRF 1.1.0 security metadata and explain its security properties.";

fn fence(lang: &str, code: &str) -> String {
    format!("```{lang}\n{}\n```", code.trim_end())
}

fn answer(r: &Record, with_metadata: bool) -> String {
    let mut s = fence(&r.language, &r.code);
    if with_metadata {
        s.push_str("\n\nANRF:\n");
        s.push_str(&fence("json", &r.anrf));
    }
    s.push_str("\n\nSecurity: ");
    s.push_str(&r.explanation);
    s
}

/// Writes the export of `rows` in `format`; returns the number of lines.
pub fn write(rows: &[Record], format: Format, out: &mut impl Write) -> std::io::Result<u64> {
    let mut n = 0;
    let mut line = |v: serde_json::Value, out: &mut dyn Write| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &v)?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    };
    match format {
        Format::Sft => {
            for r in rows {
                if let Some(task) = r.task.as_deref().filter(|_| !r.vulnerable && r.override_status == "none") {
                    let meta = !crate::variants::chosen(7, &r.id, 0.5);
                    line(
                        json!({"id": format!("{}:generate", r.id), "split": r.split, "with_metadata": meta, "messages": [
                            {"role": "system", "content": SYSTEM},
                            {"role": "user", "content": format!("{task}\nLanguage: {}.", r.language)},
                            {"role": "assistant", "content": answer(r, meta)},
                        ]}),
                        out,
                    )?;
                }
                let verdict = if r.vulnerable {
                    format!("Insecure. {}\n\n{}", r.explanation_short, r.explanation)
                } else {
                    format!("No weakness found by the verifier. {}", r.explanation)
                };
                line(
                    json!({"id": format!("{}:review", r.id), "split": r.split, "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": format!("Review this {} code for security weaknesses.\n\n{}", r.language, fence(&r.language, &r.code))},
                        {"role": "assistant", "content": verdict},
                    ]}),
                    out,
                )?;
            }
        }
        Format::Dpo | Format::Rl => {
            let by_id: BTreeMap<&str, &Record> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
            let mut groups: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
            for r in rows {
                groups.entry(r.group.as_str()).or_default().push(r);
            }
            for members in groups.values() {
                let secure = members.iter().find(|r| r.variant == VariantKind::Secure && !r.vulnerable);
                let insecure = members.iter().find(|r| r.variant == VariantKind::Insecure);
                if let (Some(good), Some(bad)) = (secure, insecure) {
                    let task = good
                        .task
                        .clone()
                        .or_else(|| bad.task.clone())
                        .unwrap_or_else(|| "Rewrite this code so that it is secure.".into());
                    let prompt = format!("{task}\nLanguage: {}.", good.language);
                    if format == Format::Dpo {
                        line(
                            json!({"id": good.group, "split": good.split, "prompt": prompt, "chosen": answer(good, true), "rejected": answer(bad, true), "cwe": bad.cwe_label}),
                            out,
                        )?;
                    } else {
                        line(
                            json!({"id": good.group, "split": good.split, "prompt": prompt, "language": good.language,
                                "verifier": {"cwe": bad.cwe_label, "avoid_rules": bad.rules, "expected": {
                                    "vulnerable": false, "memory_safe": good.memory_safe, "type_safe": good.type_safe,
                                    "resource_bounded": good.resource_bounded, "override_status": "none"}},
                                "reference": good.code}),
                            out,
                        )?;
                    }
                }
                if format == Format::Dpo {
                    for m in members.iter().filter(|r| r.variant == VariantKind::Mutant) {
                        let Some(parent) = m.parent.as_deref().and_then(|p| by_id.get(p)) else { continue };
                        line(
                            json!({"id": m.id, "split": m.split, "prompt": format!("Rewrite this {} code so that it is secure.\n\n{}", m.language, fence(&m.language, &m.code)),
                                "chosen": answer(parent, true), "rejected": answer(m, true), "cwe": m.cwe_label}),
                            out,
                        )?;
                    }
                    let j = members.iter().find(|r| r.variant == VariantKind::OverrideJustified);
                    let u = members.iter().find(|r| r.variant == VariantKind::OverrideUnjustified);
                    if let (Some(j), Some(u)) = (j, u) {
                        line(
                            json!({"id": format!("{}:override", j.group), "split": j.split,
                                "prompt": format!("This {} code needs to keep a flagged construct. Add an override the verifier accepts.\n\n{}", u.language, fence(&u.language, &u.code)),
                                "chosen": answer(j, true), "rejected": answer(u, true)}),
                            out,
                        )?;
                    }
                }
            }
        }
    }
    Ok(n)
}
