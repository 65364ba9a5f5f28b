//! Training examples: code with verifier labels (pretraining), chats (SFT), preference pairs
//! (DPO) and prompts (RL), read from JSONL or built from `sbd-data` samples, plus a small
//! embedded set so that every command works without any dataset.

use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;

use crate::config::{CWES, N_PROPS};
use crate::{Error, Result, io_err};
use sbd_data::sources::{Sample, Variant};

/// A unit of code with its verifier labels.
#[derive(Debug, Clone)]
pub struct CodeExample {
    pub id: String,
    pub language: String,
    pub code: String,
    /// Property targets (see [`crate::config::PROPERTY_NAMES`] and [`CWES`]).
    pub props: [f32; N_PROPS],
    /// Byte spans of findings in `code` and their tag class (1..=10).
    pub tags: Vec<(usize, usize, u8)>,
    /// A security explanation (the rules' "why" texts, or a no-finding note).
    pub explanation: String,
    /// Carries an override scenario (a curriculum introduces these late).
    pub is_override: bool,
    /// Group id for splits (both sides of a pair share it).
    pub group: String,
}

/// A prompt and the response to learn (SFT).
#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    pub prompt: String,
    pub response: String,
}

/// A preference pair (DPO).
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    pub prompt: String,
    pub chosen: String,
    pub rejected: String,
}

fn class_tag(c: sbd_scan::Class) -> u8 {
    use sbd_scan::Class::*;
    match c {
        MemorySafety => 1,
        Injection => 2,
        Crypto => 3,
        Secrets => 4,
        Deserialization => 5,
        PathTraversal => 6,
        Sandboxing => 7,
        ResourceBounds => 8,
        TypeSafety => 9,
        Override => 10,
    }
}

/// Labels `code` with the verifier. Returns `None` for a language the verifier lacks.
pub fn label(id: &str, language: &str, code: &str, group: &str) -> Option<CodeExample> {
    let lang = sbd_scan::Language::from_str(language).ok()?;
    let r = sbd_scan::scan(code, lang);
    let mut props = [0f32; N_PROPS];
    let blocking = r.findings.iter().any(|f| f.severity >= sbd_scan::Severity::Medium);
    props[0] = blocking as u8 as f32;
    props[1] = r.properties.memory_safe as u8 as f32;
    props[2] = r.properties.resource_bounded as u8 as f32;
    let is_override = !r.overrides.is_empty();
    props[3] = is_override as u8 as f32;
    for f in &r.findings {
        for c in &f.cwe {
            if let Some(i) = CWES.iter().position(|x| x == c) {
                props[4 + i] = 1.0;
            }
        }
    }
    let tags = r.findings.iter().map(|f| (f.span.start_byte, f.span.end_byte, class_tag(f.class))).collect();
    let mut explanation = String::new();
    for f in r.findings.iter().filter(|f| f.severity >= sbd_scan::Severity::Medium).take(2) {
        let cwe = f.cwe.first().map(|c| format!("CWE-{c} ")).unwrap_or_default();
        explanation.push_str(&format!("{cwe}{}: {} ", f.title, f.explanation));
    }
    if explanation.is_empty() {
        explanation = "No finding of medium severity or above.".into();
    }
    Some(CodeExample {
        id: id.into(),
        language: language.into(),
        code: code.into(),
        props,
        tags,
        explanation: explanation.trim().chars().take(400).collect(),
        is_override,
        group: group.into(),
    })
}

/// Embedded vulnerable/fixed pairs: (language, CWE, task, vulnerable, fixed).
pub const EMBEDDED: &[(&str, u32, &str, &str, &str)] = &[
    (
        "python",
        89,
        "Look up a user by name in SQLite.",
        "def find(db, name):\n    return db.execute(\"SELECT * FROM users WHERE name = '\" + name + \"'\").fetchall()\n",
        "def find(db, name):\n    return db.execute(\"SELECT * FROM users WHERE name = ?\", (name,)).fetchall()\n",
    ),
    (
        "python",
        78,
        "Ping a host given by the user.",
        "import os\n\ndef ping(host):\n    os.system(\"ping -c 1 \" + host)\n",
        "import subprocess\n\ndef ping(host):\n    subprocess.run([\"ping\", \"-c\", \"1\", host], check=False)\n",
    ),
    (
        "python",
        502,
        "Load a saved session object from bytes.",
        "import pickle\n\ndef load(data):\n    return pickle.loads(data)\n",
        "import json\n\ndef load(data):\n    return json.loads(data)\n",
    ),
    (
        "python",
        327,
        "Hash a password for storage.",
        "import hashlib\n\ndef hash_pw(pw):\n    return hashlib.md5(pw.encode()).hexdigest()\n",
        "import hashlib, os\n\ndef hash_pw(pw):\n    salt = os.urandom(16)\n    return salt + hashlib.pbkdf2_hmac(\"sha256\", pw.encode(), salt, 600000)\n",
    ),
    (
        "python",
        22,
        "Read a file from the uploads folder.",
        "def read(name):\n    return open(\"/srv/uploads/\" + name).read()\n",
        "import os\n\ndef read(name):\n    base = os.path.realpath(\"/srv/uploads\")\n    p = os.path.realpath(os.path.join(base, name))\n    if not p.startswith(base + os.sep):\n        raise ValueError(\"outside uploads\")\n    return open(p).read()\n",
    ),
    (
        "c",
        787,
        "Copy a name into a fixed buffer.",
        "#include <string.h>\nvoid set_name(char *dst, const char *src) {\n    char buf[16];\n    strcpy(buf, src);\n    memcpy(dst, buf, 16);\n}\n",
        "#include <string.h>\nvoid set_name(char *dst, const char *src) {\n    char buf[16];\n    strncpy(buf, src, sizeof buf - 1);\n    buf[sizeof buf - 1] = 0;\n    memcpy(dst, buf, 16);\n}\n",
    ),
    (
        "c",
        134,
        "Print a message given by the user.",
        "#include <stdio.h>\nvoid say(const char *msg) {\n    printf(msg);\n}\n",
        "#include <stdio.h>\nvoid say(const char *msg) {\n    printf(\"%s\", msg);\n}\n",
    ),
    (
        "c",
        242,
        "Read a line from standard input.",
        "#include <stdio.h>\nvoid line(char *buf) {\n    gets(buf);\n}\n",
        "#include <stdio.h>\nvoid line(char *buf, int n) {\n    fgets(buf, n, stdin);\n}\n",
    ),
    (
        "javascript",
        79,
        "Show the user's name on the page.",
        "function show(name) {\n  document.getElementById('out').innerHTML = name;\n}\n",
        "function show(name) {\n  document.getElementById('out').textContent = name;\n}\n",
    ),
    (
        "javascript",
        95,
        "Evaluate a arithmetic expression from a query string.",
        "function calc(expr) {\n  return eval(expr);\n}\n",
        "function calc(expr) {\n  if (!/^[0-9+*\\/() .-]+$/.test(expr)) throw new Error('bad');\n  return Function('\"use strict\"; return (' + expr + ')')();\n}\n",
    ),
    (
        "go",
        89,
        "Query orders of a customer.",
        "func orders(db *sql.DB, id string) (*sql.Rows, error) {\n\treturn db.Query(\"SELECT * FROM orders WHERE customer = '\" + id + \"'\")\n}\n",
        "func orders(db *sql.DB, id string) (*sql.Rows, error) {\n\treturn db.Query(\"SELECT * FROM orders WHERE customer = $1\", id)\n}\n",
    ),
    (
        "rust",
        119,
        "Read the first byte of a slice.",
        "fn first(v: &[u8]) -> u8 {\n    unsafe { *v.as_ptr() }\n}\n",
        "fn first(v: &[u8]) -> Option<u8> {\n    v.first().copied()\n}\n",
    ),
    (
        "java",
        89,
        "Find an account by email.",
        "ResultSet find(Connection c, String email) throws SQLException {\n    Statement s = c.createStatement();\n    return s.executeQuery(\"SELECT * FROM acct WHERE email = '\" + email + \"'\");\n}\n",
        "ResultSet find(Connection c, String email) throws SQLException {\n    PreparedStatement s = c.prepareStatement(\"SELECT * FROM acct WHERE email = ?\");\n    s.setString(1, email);\n    return s.executeQuery();\n}\n",
    ),
    (
        "python",
        798,
        "Connect to the database.",
        "import psycopg2\n\ndef connect():\n    return psycopg2.connect(host=\"db\", user=\"admin\", password=\"hunter2secret\")\n",
        "import os, psycopg2\n\ndef connect():\n    return psycopg2.connect(host=\"db\", user=\"admin\", password=os.environ[\"DB_PASSWORD\"])\n",
    ),
];

/// The embedded pairs as samples (one vulnerable, one fixed per pair).
pub fn embedded_samples() -> Vec<Sample> {
    let mut out = Vec::new();
    for (i, (lang, cwe, task, bad, good)) in EMBEDDED.iter().enumerate() {
        let pair = format!("embedded/{i}");
        for (variant, code) in [(Variant::Vulnerable, bad), (Variant::Fixed, good)] {
            out.push(Sample {
                id: format!("{pair}/{}", if variant == Variant::Vulnerable { "vulnerable" } else { "fixed" }),
                language: (*lang).into(),
                code: (*code).into(),
                vulnerable: variant == Variant::Vulnerable,
                cwe: Some(*cwe),
                line: None,
                pair: Some((pair.clone(), variant)),
                description: Some((*task).into()),
                origin: sbd_data::sources::Origin { dataset: "embedded".into(), repo: None, path: None, commit: None },
            });
        }
    }
    out
}

/// The default samples: SVEN and SafeCoder pairs under `shared` (when present) plus the
/// embedded pairs. Returns the samples and a note of what was read.
pub fn default_samples(shared: &Path) -> Result<(Vec<Sample>, String)> {
    let mut all = Vec::new();
    let mut note = Vec::new();
    for (dir, name) in [("sven/train", "sven"), ("sven/val", "sven"), ("safecoder/train", "safecoder")] {
        let d = shared.join(dir);
        if d.is_dir() {
            let (s, r) = sbd_data::sources::pairs::load_dir(&d, name)?;
            note.push(format!("{} pairs from {}", r.loaded, d.display()));
            all.extend(s);
        }
    }
    let e = embedded_samples();
    note.push(format!("{} embedded pairs", e.len() / 2));
    all.extend(e);
    Ok((all, note.join(", ")))
}

/// Whether a group belongs to the held-out split (a stable hash of its id, `percent` %).
pub fn is_held_out(group: &str, percent: u64) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in group.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h % 100 < percent
}

/// The split group of a sample (its pair id, or its own id).
pub fn group_of(s: &Sample) -> String {
    s.pair.as_ref().map(|p| p.0.clone()).unwrap_or_else(|| s.id.clone())
}

/// Labels samples with the verifier (in parallel), dropping those whose language it lacks.
pub fn label_samples(samples: &[Sample], max_bytes: usize) -> Vec<CodeExample> {
    use rayon::prelude::*;
    samples
        .par_iter()
        .filter(|s| s.code.len() <= max_bytes)
        .filter_map(|s| label(&s.id, &s.language, &s.code, &group_of(s)))
        .collect()
}

/// The instruction for a sample: write secure code in its language for its task.
pub fn task_prompt(s: &Sample) -> String {
    let what = s.description.clone().unwrap_or_else(|| "the function".into());
    let what: String = what.lines().next().unwrap_or("").chars().take(200).collect();
    format!("Write secure {} code. Task: {what}", s.language)
}

/// DPO pairs from vulnerable/fixed samples: the fixed side is chosen.
pub fn pairs_from_samples(samples: &[Sample], max_bytes: usize) -> Vec<(String, Pair)> {
    let mut by_pair: std::collections::BTreeMap<String, (Option<&Sample>, Option<&Sample>)> = Default::default();
    for s in samples {
        if let Some((id, v)) = &s.pair {
            let e = by_pair.entry(id.clone()).or_default();
            if *v == Variant::Vulnerable { e.0 = Some(s) } else { e.1 = Some(s) }
        }
    }
    by_pair
        .into_iter()
        .filter_map(|(id, (bad, good))| {
            let (bad, good) = (bad?, good?);
            (bad.code.len() <= max_bytes && good.code.len() <= max_bytes).then(|| {
                (id, Pair { prompt: task_prompt(good), chosen: good.code.clone(), rejected: bad.code.clone() })
            })
        })
        .collect()
}

/// SFT chats from fixed samples: prompt → secure code as a multi-layer answer ([`crate::format`]).
pub fn chats_from_samples(samples: &[Sample], max_bytes: usize) -> Vec<(String, Chat)> {
    samples
        .iter()
        .filter(|s| !s.vulnerable && s.code.len() <= max_bytes)
        .map(|s| {
            let answer = crate::format::training_answer(&s.language, &s.code, s.description.as_deref(), true);
            (group_of(s), Chat { prompt: task_prompt(s), response: answer.unwrap_or_else(|| s.code.clone()) })
        })
        .collect()
}

/// Rows of a JSONL file as JSON values.
pub fn read_jsonl(path: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line)
                .map_err(|e| Error::Format { path: format!("{}:{}", path.display(), i + 1), message: e.to_string() })?,
        );
    }
    Ok(out)
}

#[derive(Deserialize)]
struct Message {
    role: String,
    content: String,
}

/// An SFT row `{"messages": [{"role", "content"}, …]}`: everything before the last assistant
/// message is the prompt.
pub fn chat_from_row(v: &Value) -> Result<Chat> {
    let msgs: Vec<Message> = serde_json::from_value(v.get("messages").cloned().unwrap_or(Value::Null))
        .map_err(|e| Error::Invalid(format!("SFT row needs messages: {e}")))?;
    let last = msgs
        .iter()
        .rposition(|m| m.role == "assistant")
        .ok_or_else(|| Error::Invalid("SFT row has no assistant message".into()))?;
    let prompt = msgs[..last]
        .iter()
        .map(|m| if m.role == "system" { format!("{}\n", m.content) } else { m.content.clone() })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Chat { prompt, response: crate::format::normalize_response(&msgs[last].content) })
}

/// A DPO row `{"prompt", "chosen", "rejected"}` (strings, or chat message lists whose last
/// content is taken).
pub fn pair_from_row(v: &Value) -> Result<Pair> {
    let text = |k: &str| -> Result<String> {
        match v.get(k) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Array(a)) => a
                .last()
                .and_then(|m| m.get("content"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Error::Invalid(format!("DPO field {k}: empty message list"))),
            _ => Err(Error::Invalid(format!("DPO row needs a string {k}"))),
        }
    };
    Ok(Pair { prompt: text("prompt")?, chosen: text("chosen")?, rejected: text("rejected")? })
}

/// A pretraining row: `{"code", "language"}` (labelled by the verifier) or `{"text"}`.
pub fn code_from_row(v: &Value, i: usize) -> Result<CodeExample> {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    let id = s("id").map(str::to_string).unwrap_or_else(|| format!("row{i}"));
    if let (Some(code), Some(lang)) = (s("code"), s("language")) {
        return label(&id, lang, code, &id)
            .ok_or_else(|| Error::Invalid(format!("{id}: language {lang} unknown to the verifier")));
    }
    Err(Error::Invalid(format!("{id}: pretraining rows need code and language")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_pairs_are_labelled_by_the_verifier() {
        let ex = label_samples(&embedded_samples(), 10_000);
        assert_eq!(ex.len(), EMBEDDED.len() * 2, "every embedded language is known to the verifier");
        let bad = ex.iter().filter(|e| e.id.ends_with("vulnerable") && e.props[0] == 1.0).count();
        let good = ex.iter().filter(|e| e.id.ends_with("fixed") && e.props[0] == 0.0).count();
        // The verifier flags most vulnerable sides and passes most fixed ones.
        assert!(bad * 3 >= EMBEDDED.len() * 2, "{bad} of {} vulnerable flagged", EMBEDDED.len());
        assert!(good * 3 >= EMBEDDED.len() * 2, "{good} of {} fixed passed", EMBEDDED.len());
        let sql = ex.iter().find(|e| e.id == "embedded/0/vulnerable").unwrap();
        assert!(!sql.tags.is_empty() && sql.explanation.contains("CWE"), "{sql:?}");
    }

    #[test]
    fn reads_sft_and_dpo_rows() {
        let v: Value = serde_json::from_str(
            r#"{"messages":[{"role":"system","content":"be safe"},{"role":"user","content":"copy"},{"role":"assistant","content":"strncpy"}]}"#,
        )
        .unwrap();
        let c = chat_from_row(&v).unwrap();
        assert_eq!(c.response, "strncpy");
        assert!(c.prompt.contains("be safe") && c.prompt.contains("copy"));
        assert!(chat_from_row(&serde_json::json!({"messages": []})).is_err());
        let p = pair_from_row(&serde_json::json!({"prompt": "p", "chosen": "a", "rejected": "b"})).unwrap();
        assert_eq!(p.rejected, "b");
        assert!(pair_from_row(&serde_json::json!({"prompt": "p"})).is_err());
        let pairs = pairs_from_samples(&embedded_samples(), 10_000);
        assert_eq!(pairs.len(), EMBEDDED.len());
        assert!(pairs[0].1.chosen.contains('?'));
    }
}
