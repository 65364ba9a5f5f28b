//! Training examples: code with verifier labels (pretraining), chats (SFT), preference pairs
//! (DPO) and prompts (RL), read from JSONL or built from `sbd-data` samples, plus a small
//! embedded set so that every command works without any dataset.

use std::path::Path;
use std::str::FromStr;

use serde::Deserialize;
use serde_json::Value;

use crate::config::{CWES, N_PROPS};
use crate::tokenizer as tk;
use crate::{Error, Result, io_err};
use sbd_data::record::{Record, VariantKind};
use sbd_data::sources::{Sample, Variant};
use sbd_data::units::Unit;

/// A finding's place in the code, for token tags and window labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Byte range in `code`.
    pub start: usize,
    pub end: usize,
    /// Tag class (1..=10, see [`crate::config::N_TAGS`]).
    pub class: u8,
    /// Medium severity or above (what makes code insecure).
    pub blocking: bool,
    pub cwes: Vec<u32>,
}

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
    /// The same findings with severity and CWEs.
    pub spans: Vec<Span>,
    /// A security explanation (the rules' "why" texts, or a no-finding note).
    pub explanation: String,
    /// Carries an override scenario (a curriculum introduces these late).
    pub is_override: bool,
    /// Group id for splits (both sides of a pair share it).
    pub group: String,
    /// 0 simple, 1 moderate, 2 complex ([`sbd_data::annotate::complexity`]).
    pub complexity: u8,
    /// The security concept: the tag class of the first blocking finding, else of the CWE the
    /// source names, else 0 (clean code with no claimed weakness).
    pub concept: u8,
    pub variant: VariantKind,
    /// The unit's ANRF 1.1.0 instance as the three layer segments the model reads and writes
    /// (see [`anrf_layers`]).
    pub anrf: String,
    /// The example this one was derived from (a mutant's secure original).
    pub parent: Option<String>,
    /// The task the code solves, when known.
    pub task: Option<String>,
    /// The CWE the source names (pairs, seed, mutation operator).
    pub cwe_label: Option<u32>,
    /// Held out from training (the dataset's `eval` split, or the stable hash of the group).
    pub held_out: bool,
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

/// The tag class of a CWE, by the weakness family it belongs to (for examples whose
/// weakness the verifier did not flag; 0 when unknown).
fn cwe_class(cwe: u32) -> u8 {
    match cwe {
        119 | 120 | 121 | 122 | 125 | 131 | 134 | 190 | 191 | 242 | 415 | 416 | 476 | 676 | 787 | 805 => 1,
        77 | 78 | 79 | 88 | 89 | 90 | 91 | 94 | 95 | 643 | 917 | 1336 => 2,
        261 | 295 | 310 | 311 | 319 | 326 | 327 | 328 | 329 | 330 | 338 | 759 | 760 | 916 => 3,
        256 | 259 | 321 | 522 | 798 => 4,
        502 => 5,
        22 | 23 | 36 | 73 | 434 | 59 => 6,
        250 | 269 | 732 => 7,
        400 | 401 | 770 | 789 | 834 | 835 | 1333 => 8,
        704 | 843 => 9,
        _ => 0,
    }
}

fn complexity_level(code: &str) -> u8 {
    match sbd_data::annotate::complexity(code) {
        "simple" => 0,
        "moderate" => 1,
        _ => 2,
    }
}

/// Builds an example from the verifier's report of its code.
fn from_report(id: &str, language: &str, code: &str, group: &str, r: &sbd_scan::Report) -> CodeExample {
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
    let spans: Vec<Span> = r
        .findings
        .iter()
        .map(|f| Span {
            start: f.span.start_byte,
            end: f.span.end_byte,
            class: class_tag(f.class),
            blocking: f.severity >= sbd_scan::Severity::Medium,
            cwes: f.cwe.clone(),
        })
        .collect();
    let tags = spans.iter().map(|s| (s.start, s.end, s.class)).collect();
    let mut explanation = String::new();
    for f in r.findings.iter().filter(|f| f.severity >= sbd_scan::Severity::Medium).take(2) {
        let cwe = f.cwe.first().map(|c| format!("CWE-{c} ")).unwrap_or_default();
        explanation.push_str(&format!("{cwe}{}: {} ", f.title, f.explanation));
    }
    if explanation.is_empty() {
        explanation = "No finding of medium severity or above.".into();
    }
    let concept = spans.iter().find(|s| s.blocking).map_or(0, |s| s.class);
    let anrf = serde_json::to_value(sbd_scan::anrf::unit_anrf(r, "2026-01-01T00:00:00Z"))
        .map(|v| anrf_layers(&v))
        .unwrap_or_default();
    CodeExample {
        id: id.into(),
        language: language.into(),
        code: code.into(),
        props,
        tags,
        spans,
        explanation: explanation.trim().chars().take(400).collect(),
        is_override,
        group: group.into(),
        complexity: complexity_level(code),
        concept,
        variant: VariantKind::Original,
        anrf,
        parent: None,
        task: None,
        cwe_label: None,
        held_out: is_held_out(group, 10),
    }
}

/// Labels `code` with the verifier. Returns `None` for a language the verifier lacks.
pub fn label(id: &str, language: &str, code: &str, group: &str) -> Option<CodeExample> {
    let lang = sbd_scan::Language::from_str(language).ok()?;
    let r = sbd_scan::scan(code, lang);
    Some(from_report(id, language, code, group, &r))
}

fn text_of(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    match cur {
        Value::Bool(b) => Some(b.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

fn list_of(v: &Value, path: &[&str], field: &str) -> String {
    let mut cur = v;
    for k in path {
        match cur.get(k) {
            Some(c) => cur = c,
            None => return String::new(),
        }
    }
    let items: Vec<String> = cur
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| if field.is_empty() { x.as_str().map(str::to_string) } else { text_of(x, &[field]) })
                .collect()
        })
        .unwrap_or_default();
    items.join(",")
}

/// The security content of an ANRF 1.1.0 instance as the three layer segments, each opened
/// by its special token: what the intent requires, what the semantics guarantee about the
/// unit, and how execution enforces it plus the verifier's result. Compact enough to follow
/// a function in one window; the full instance is in the dataset rows.
pub fn anrf_layers(inst: &Value) -> String {
    let kv = |pairs: &[(&str, Option<String>)]| -> String {
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect::<Vec<_>>().join(" ")
    };
    let si = ["intent", "security_intentions"];
    let intent = kv(&[
        ("memory_safety_required", text_of(inst, &[si[0], si[1], "memory_safety_required"])),
        ("isolation_required", text_of(inst, &[si[0], si[1], "isolation_required"])),
        ("resource_constraints_required", text_of(inst, &[si[0], si[1], "resource_constraints_required"])),
        ("override_allowed", text_of(inst, &[si[0], si[1], "override_intention", "allowed"])),
    ]);
    let ent = inst.get("semantics").and_then(|s| s.get("entities")).and_then(|e| e.get(0)).cloned();
    let ent = ent.unwrap_or(Value::Null);
    let semantic = kv(&[
        ("memory_safe", text_of(&ent, &["security_properties", "memory_safe"])),
        ("type_safe", text_of(&ent, &["security_properties", "type_safe"])),
        ("resource_bounded", text_of(&ent, &["security_properties", "resource_bounded"])),
        ("guarantees", Some(list_of(&ent, &["security_properties", "formal_guarantees"], "property_type"))),
    ]);
    let se = ["execution", "security_enforcement"];
    let execution = kv(&[
        ("safety_level", text_of(inst, &["security", "safety_level"])),
        ("override", text_of(inst, &["security", "override_status"])),
        ("memory_mechanisms", Some(list_of(inst, &[se[0], se[1], "memory_safety_mechanisms"], "mechanism"))),
        ("sandboxing", Some(list_of(inst, &[se[0], se[1], "sandboxing_mechanisms"], "mechanism"))),
        ("findings", text_of(inst, &["verification_status", "verification_results", "findings"])),
        ("suppressed", text_of(inst, &["verification_status", "verification_results", "suppressed"])),
        ("rules", Some(list_of(inst, &["verification_status", "verification_results", "rules"], ""))),
    ]);
    format!("{}{intent}\n{}{semantic}\n{}{execution}\n", tk::ANRF_INTENT, tk::ANRF_SEMANTIC, tk::ANRF_EXECUTION)
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

/// The seed corpus of `sbd-data` as samples (one insecure, one secure per pair).
pub fn seed_samples() -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for p in sbd_data::seed::pairs()? {
        let pair = format!("seed/{}", p.id);
        for (variant, code) in [(Variant::Vulnerable, &p.insecure), (Variant::Fixed, &p.secure)] {
            let vulnerable = variant == Variant::Vulnerable;
            out.push(Sample {
                id: format!("{pair}/{}", if vulnerable { "insecure" } else { "secure" }),
                language: p.language.name().into(),
                code: code.clone(),
                vulnerable,
                cwe: Some(p.cwe),
                line: None,
                pair: Some((pair.clone(), variant)),
                description: Some(p.task.clone()),
                origin: sbd_data::sources::Origin { dataset: "seed".into(), repo: None, path: None, commit: None },
            });
        }
    }
    Ok(out)
}

/// The default samples: the seed corpus, SVEN and SafeCoder pairs under `shared` (when present) plus the
/// embedded pairs. Returns the samples and a note of what was read.
pub fn default_samples(shared: &Path) -> Result<(Vec<Sample>, String)> {
    let mut all = seed_samples()?;
    let mut note = vec![format!("{} seed pairs", all.len() / 2)];
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

/// The default training corpus: the seed corpus shipped with `sbd-data` (secure/insecure
/// pairs with tasks, 10 languages), SVEN and SafeCoder pairs under `shared` when present, and
/// the embedded pairs — each unit labelled by the verifier — plus the data pipeline's
/// variants made here: a verifier-confirmed mutant of every secure side an operator applies
/// to (adversarial examples), and a justified and an unjustified override of every insecure
/// side (override scenarios). Code above `max_bytes` is left out.
pub struct Corpus {
    pub examples: Vec<CodeExample>,
    /// What was read, for the log.
    pub note: String,
}

/// One unit of the corpus before labelling, with what the source says about it.
struct Pending {
    unit: Unit,
    explanation: Option<String>,
}

fn units_of_samples(samples: &[Sample]) -> Vec<Pending> {
    samples.iter().filter_map(sbd_data::units::sample_unit).map(|unit| Pending { unit, explanation: None }).collect()
}

/// Labels one unit and returns its example and, with `variants`, those of its variants.
fn label_unit(scanner: &sbd_scan::Scanner, p: &Pending, variants: bool) -> Vec<CodeExample> {
    let u = &p.unit;
    let r = scanner.scan(&u.code, u.language);
    let lang = u.language.name();
    let mut base = from_report(&u.id, lang, &u.code, &u.group, &r);
    base.variant = u.variant;
    base.task = u.task.clone();
    base.cwe_label = u.cwe_label;
    if base.concept == 0 && u.variant == VariantKind::Insecure {
        base.concept = u.cwe_label.map_or(0, cwe_class);
    }
    if let (VariantKind::Secure, Some(e)) = (u.variant, p.explanation.as_deref()) {
        let cwe = u.cwe_label.map(|c| format!("This version avoids CWE-{c}. ")).unwrap_or_default();
        base.explanation = format!("{cwe}{e}").chars().take(400).collect();
    }
    let mut out = Vec::new();
    if variants {
        let clean = base.props[0] == 0.0;
        if clean
            && matches!(u.variant, VariantKind::Secure | VariantKind::Original)
            && let sbd_data::variants::mutate::Outcome::Confirmed(m, mr) =
                sbd_data::variants::mutate::mutate(scanner, u, &r)
        {
            let mut e = from_report(&m.id, lang, &m.code, &m.group, &mr);
            e.variant = VariantKind::Mutant;
            e.parent = Some(u.id.clone());
            e.task = u.task.clone();
            e.cwe_label = m.cwe_label;
            out.push(e);
        }
        if !clean && u.variant == VariantKind::Insecure {
            for justified in [true, false] {
                if let Some(o) = sbd_data::variants::overrides::with_override(u, &r, justified) {
                    let or = scanner.scan(&o.code, o.language);
                    let mut e = from_report(&o.id, lang, &o.code, &o.group, &or);
                    e.variant = o.variant;
                    e.parent = Some(u.id.clone());
                    e.task = u.task.clone();
                    e.cwe_label = u.cwe_label;
                    e.is_override = true;
                    out.push(e);
                }
            }
        }
    }
    out.insert(0, base);
    out
}

/// Builds the default corpus (see [`Corpus`]).
pub fn default_corpus(shared: &Path, max_bytes: usize, variants: bool) -> Result<Corpus> {
    use rayon::prelude::*;
    let mut pending = Vec::new();
    let mut note = Vec::new();
    let seed = sbd_data::seed::pairs()?;
    for p in &seed {
        let explanation = p.explanation.clone();
        for unit in sbd_data::units::seed_units(p) {
            pending.push(Pending { unit, explanation: explanation.clone() });
        }
    }
    note.push(format!("{} seed pairs", seed.len()));
    for (dir, name) in [("sven/train", "sven"), ("sven/val", "sven"), ("safecoder/train", "safecoder")] {
        let d = shared.join(dir);
        if d.is_dir() {
            let (s, r) = sbd_data::sources::pairs::load_dir(&d, name)?;
            note.push(format!("{} pairs from {}", r.loaded, d.display()));
            pending.extend(units_of_samples(&s));
        }
    }
    let e = embedded_samples();
    note.push(format!("{} embedded pairs", e.len() / 2));
    pending.extend(units_of_samples(&e));
    pending.retain(|p| p.unit.code.len() <= max_bytes && !p.unit.code.trim().is_empty());
    let scanner = sbd_scan::Scanner::new().map_err(|e| Error::Invalid(format!("the verifier failed to load: {e}")))?;
    let examples: Vec<CodeExample> = pending.par_iter().flat_map_iter(|p| label_unit(&scanner, p, variants)).collect();
    let count = |v: VariantKind| examples.iter().filter(|e| e.variant == v).count();
    if variants {
        note.push(format!(
            "{} verifier-confirmed mutants, {} override scenarios",
            count(VariantKind::Mutant),
            count(VariantKind::OverrideJustified) + count(VariantKind::OverrideUnjustified)
        ));
    }
    Ok(Corpus { examples, note: note.join(", ") })
}

/// An example from a row of a dataset built by `sbd data build`: relabelled by the verifier
/// (the same labels the build computed, plus severities and spans), with the row's variant,
/// complexity, task, parent, ANRF instance and split (`eval` is held out). `None` for a
/// language the verifier lacks.
pub fn from_record(r: &Record) -> Option<CodeExample> {
    let mut e = label(&r.id, &r.language, &r.code, &r.group)?;
    e.variant = r.variant;
    e.complexity = match r.complexity.as_str() {
        "simple" => 0,
        "moderate" => 1,
        _ => 2,
    };
    e.parent = r.parent.clone();
    e.task = r.task.clone();
    e.cwe_label = r.cwe_label;
    if e.concept == 0 && r.label_claimed == Some(true) {
        e.concept = r.cwe_label.map_or(0, cwe_class);
    }
    if let Ok(v) = serde_json::from_str::<Value>(&r.anrf) {
        e.anrf = anrf_layers(&v);
    }
    e.is_override |= matches!(r.variant, VariantKind::OverrideJustified | VariantKind::OverrideUnjustified);
    e.held_out = r.split == "eval";
    Some(e)
}

/// Whether `dir` is a dataset built by `sbd data build` (it has a `manifest.json`).
pub fn is_dataset_dir(dir: &Path) -> bool {
    dir.join("manifest.json").is_file()
}

/// Every row of a built dataset as examples, except obfuscated rows: they hide a weakness
/// the verifier misses, so the verifier's label on them is wrong by construction and would
/// teach its blind spots.
pub fn dataset_examples(dir: &Path, max_bytes: usize) -> Result<Corpus> {
    use rayon::prelude::*;
    let rows = sbd_data::pipeline::rows(dir, &[])?;
    let n = rows.len();
    let examples: Vec<CodeExample> = rows
        .par_iter()
        .filter(|r| r.variant != VariantKind::Obfuscated && r.code.len() <= max_bytes)
        .filter_map(from_record)
        .collect();
    let held = examples.iter().filter(|e| e.held_out).count();
    Ok(Corpus {
        note: format!("{n} rows of {} ({} used, {held} in its eval split)", dir.display(), examples.len()),
        examples,
    })
}

/// The answer the fine-tuning modes teach for `code`: the code in a fence after
/// `<|code|>`, then `<|explanation|>` and the explanation (the multi-layer answer format
/// without the optional ANRF layers).
pub fn answer_text(language: &str, code: &str, explanation: &str) -> String {
    format!("{}```{language}\n{}\n```\n{}{}", tk::CODE, code.trim_end(), tk::EXPLANATION, explanation.trim())
}

/// The code part of an answer: the fenced code after `<|code|>`.
pub fn code_answer(language: &str, code: &str) -> String {
    format!("{}```{language}\n{}\n```\n", tk::CODE, code.trim_end())
}

/// The instruction for an example with a task.
pub fn example_prompt(e: &CodeExample) -> Option<String> {
    let task = e.task.as_deref()?;
    let what: String = task.lines().next().unwrap_or("").chars().take(200).collect();
    (!what.trim().is_empty()).then(|| format!("Write secure {} code. Task: {what}", e.language))
}

/// SFT chats from the corpus: task → the answer for code that is clean by the verifier and
/// carries no override (secure sides, clean originals). Returns `(chat, held_out)`.
pub fn chats_from_examples(ex: &[CodeExample]) -> Vec<(Chat, bool)> {
    ex.iter()
        .filter(|e| e.props[0] == 0.0 && !e.is_override && e.variant != VariantKind::Mutant)
        .filter(|e| matches!(e.variant, VariantKind::Secure | VariantKind::Original))
        .filter_map(|e| {
            let prompt = example_prompt(e)?;
            Some((Chat { prompt, response: answer_text(&e.language, &e.code, &e.explanation) }, e.held_out))
        })
        .collect()
}

/// Where a preference pair comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairKind {
    /// The secure and insecure sides of a dataset or seed pair.
    Pair,
    /// A secure original over its verifier-confirmed mutant.
    Mutant,
    /// A justified override over the same code with an unjustified one.
    Override,
    /// From human feedback or a JSONL file.
    External,
}

/// DPO pairs from the corpus (code-only answers, see [`code_answer`]), with their kind and
/// split: for each group, the secure side over the insecure side (when the verifier agrees: secure side clean, insecure side flagged), the
/// original over each of its mutants, and the justified override over the unjustified one.
pub fn pairs_from_examples(ex: &[CodeExample]) -> Vec<(Pair, PairKind, bool)> {
    let mut by_group: std::collections::BTreeMap<&str, Vec<&CodeExample>> = Default::default();
    for e in ex {
        by_group.entry(&e.group).or_default().push(e);
    }
    let mut out = Vec::new();
    for members in by_group.values() {
        let find = |v: VariantKind| members.iter().find(|e| e.variant == v).copied();
        // Code only: with the explanations, "no finding" against a description of the
        // weakness would let the preference be learnt from the prose instead of the code.
        let answer = |e: &CodeExample| code_answer(&e.language, &e.code);
        let prompt_of = |a: &CodeExample, b: &CodeExample| {
            example_prompt(a)
                .or_else(|| example_prompt(b))
                .unwrap_or_else(|| format!("Write secure {} code.", a.language))
        };
        if let (Some(good), Some(bad)) = (find(VariantKind::Secure), find(VariantKind::Insecure))
            && good.props[0] == 0.0
            && bad.props[0] == 1.0
        {
            out.push((
                Pair { prompt: prompt_of(good, bad), chosen: answer(good), rejected: answer(bad) },
                PairKind::Pair,
                good.held_out,
            ));
        }
        for m in members.iter().filter(|e| e.variant == VariantKind::Mutant) {
            if let Some(orig) = members.iter().find(|e| Some(&e.id) == m.parent.as_ref()) {
                out.push((
                    Pair { prompt: prompt_of(orig, m), chosen: answer(orig), rejected: answer(m) },
                    PairKind::Mutant,
                    orig.held_out,
                ));
            }
        }
        if let (Some(j), Some(u)) = (find(VariantKind::OverrideJustified), find(VariantKind::OverrideUnjustified)) {
            let prompt = format!(
                "{} An override of the security rule is needed here; make it a reviewable one.",
                prompt_of(j, u)
            );
            out.push((Pair { prompt, chosen: answer(j), rejected: answer(u) }, PairKind::Override, j.held_out));
        }
    }
    out
}

/// Preference pairs from human feedback: rows of `sbd eval export-review` (`task_id`,
/// `prompt`, `answer`) rated by a reviewer (`explanation_clear`, `explanation_accurate`,
/// `override_intuitive`, each true, false or null; the same fields `sbd eval import-feedback`
/// reads). An answer scores +1 per question answered yes and −1 per no; for every task with
/// answers of different scores (several runs or reviewers on the same task), the best-scored
/// answer is chosen over each lower-scored one. Rows that already are pairs
/// (`prompt`/`chosen`/`rejected`) are taken as they are. Rows without a rating are skipped
/// and counted.
pub fn pairs_from_feedback(rows: &[Value]) -> Result<(Vec<Pair>, usize)> {
    let mut by_task: std::collections::BTreeMap<String, Vec<(i32, String, String)>> = Default::default();
    let mut out = Vec::new();
    let mut unrated = 0usize;
    for (i, v) in rows.iter().enumerate() {
        if v.get("chosen").is_some() {
            out.push(pair_from_row(v).map_err(|e| Error::Invalid(format!("feedback row {}: {e}", i + 1)))?);
            continue;
        }
        let get = |k: &str| v.get(k).and_then(Value::as_str);
        let (Some(task), Some(answer)) = (get("task_id"), get("answer")) else {
            return Err(Error::Invalid(format!(
                "feedback row {}: needs task_id and answer (a rated `sbd eval export-review` row) or prompt/chosen/rejected",
                i + 1
            )));
        };
        let prompt = get("prompt").unwrap_or(task).to_string();
        let votes: Vec<bool> = ["explanation_clear", "explanation_accurate", "override_intuitive"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_bool))
            .collect();
        if votes.is_empty() {
            unrated += 1;
            continue;
        }
        let score = votes.iter().map(|&b| if b { 1 } else { -1 }).sum();
        by_task.entry(task.to_string()).or_default().push((score, prompt, answer.to_string()));
    }
    for mut answers in by_task.into_values() {
        answers.sort_by_key(|a| std::cmp::Reverse(a.0));
        let (best, prompt, chosen) = answers[0].clone();
        for (score, _, rejected) in &answers[1..] {
            if *score < best && *rejected != chosen {
                out.push(Pair { prompt: prompt.clone(), chosen: chosen.clone(), rejected: rejected.clone() });
            }
        }
    }
    Ok((out, unrated))
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

    #[test]
    fn default_corpus_has_seed_pairs_variants_and_every_pair_kind() {
        let c = default_corpus(Path::new("/nonexistent"), 4000, true).unwrap();
        assert!(c.note.contains("seed pairs") && c.note.contains("mutants"), "{}", c.note);
        let ex = &c.examples;
        let seed = ex.iter().filter(|e| e.id.starts_with("seed/")).count();
        assert!(seed >= 300, "{seed} seed units");
        for e in ex {
            assert!(e.anrf.contains(tk::ANRF_INTENT) && e.anrf.contains("rules="), "{}", e.anrf);
        }
        // A mutant is flagged, its original is clean, and they share a group.
        let m = ex.iter().find(|e| e.variant == VariantKind::Mutant).unwrap();
        let orig = ex.iter().find(|e| Some(&e.id) == m.parent.as_ref()).unwrap();
        assert_eq!((m.props[0], orig.props[0], &m.group), (1.0, 0.0, &orig.group));
        assert_ne!(m.anrf, orig.anrf);
        // Every split keeps groups together.
        for e in ex {
            assert_eq!(e.held_out, is_held_out(&e.group, 10));
        }
        let pairs = pairs_from_examples(ex);
        for kind in [PairKind::Pair, PairKind::Mutant, PairKind::Override] {
            assert!(pairs.iter().any(|p| p.1 == kind), "{kind:?}");
        }
        assert!(pairs.iter().any(|p| p.2) && pairs.iter().any(|p| !p.2));
        let chats = chats_from_examples(ex);
        assert!(chats.len() >= 150);
        let (c0, _) = &chats[0];
        assert!(c0.prompt.starts_with("Write secure") && c0.response.starts_with(tk::CODE), "{c0:?}");
        assert!(c0.response.contains(tk::EXPLANATION));
    }

    #[test]
    fn preference_pairs_from_rated_reviews() {
        let rows: Vec<Value> = [
            r#"{"task_id":"t1","prompt":"Copy a string.","answer":"A","explanation_clear":true,"explanation_accurate":true}"#,
            r#"{"task_id":"t1","prompt":"Copy a string.","answer":"B","explanation_clear":false,"explanation_accurate":null}"#,
            r#"{"task_id":"t1","prompt":"Copy a string.","answer":"C","explanation_clear":true,"explanation_accurate":false}"#,
            r#"{"task_id":"t2","prompt":"Hash.","answer":"D","explanation_clear":true}"#,
            r#"{"task_id":"t3","prompt":"Unrated.","answer":"E","explanation_clear":null}"#,
            r#"{"prompt":"p","chosen":"x","rejected":"y"}"#,
        ]
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect();
        let (pairs, unrated) = pairs_from_feedback(&rows).unwrap();
        assert_eq!(unrated, 1);
        let got: Vec<(&str, &str)> = pairs.iter().map(|p| (p.chosen.as_str(), p.rejected.as_str())).collect();
        assert_eq!(got, vec![("x", "y"), ("A", "C"), ("A", "B")]);
        assert!(pairs[1].prompt == "Copy a string.");
        let bad: Value = serde_json::from_str(r#"{"reviewer":"me"}"#).unwrap();
        assert!(pairs_from_feedback(&[bad]).is_err());
    }
}
