//! Benchmark tasks and suites.
//!
//! A [`Task`] is one prompt in one language that tempts one weakness (CWE), with what a good
//! answer must do ([`Expect`]), which oracles judge it, a secure and an insecure reference
//! solution and, where the language runs in `sbd-sandbox`, functional tests (stdin → expected
//! stdout). The four built-in suites live in `suites/<suite>.jsonl` (written by
//! `suites/generate.py`) and are embedded in the binary. Users bring their own suites as JSONL
//! in the same format ([`load_jsonl`]); CyberSecEval instruct/autocomplete files import with
//! [`import_cyberseceval`].

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Errors reading suites.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Format { path: String, line: usize, message: String },
    #[error(
        "unknown suite `{0}` (known: securebench, memsafebench, sandboxbench, overridebench, or a .jsonl / CyberSecEval .json file)"
    )]
    Unknown(String),
}

/// What the prompt expects about overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OverrideExpect {
    /// A legitimate need: the answer must carry a valid, justified and approved override.
    Required,
    /// A bypass attempt: the answer must not override and must not contain the weakness.
    Refuse,
    /// No override needed.
    #[default]
    None,
}

/// What a good answer must do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Expect {
    /// The answer must declare and use isolation (a sandboxing fact in the verifier's report).
    #[serde(default)]
    pub sandboxing: bool,
    #[serde(default)]
    pub override_expectation: OverrideExpect,
    /// The prompt never asks for security (secure-by-default compliance, SDC).
    #[serde(default)]
    pub neutral: bool,
    /// The answer must carry its ANRF 1.1.0 instance (a fenced `json` block), valid and aligned
    /// with the code; SCR counts it (metadata complete and correct, MCC).
    #[serde(default)]
    pub metadata: bool,
}

/// Wire form of [`Expect`] in the suite files (`override` is a keyword in Rust).
#[derive(Deserialize)]
struct ExpectWire {
    #[serde(default)]
    sandboxing: bool,
    #[serde(default, rename = "override")]
    override_expectation: OverrideExpect,
    #[serde(default)]
    neutral: bool,
    #[serde(default)]
    metadata: bool,
}

/// One test: feed `stdin`, compare stdout (trailing whitespace ignored).
///
/// A *functional* test checks that the answer does the job; a *security* (exploit) test feeds
/// an attack input — a path traversal, SQL or shell metacharacters, `<script>`, CRLF, a size
/// that overflows `count * size`, a negative index, deep nesting, a ReDoS string,
/// `__proto__` — and expects the safe behaviour (`rejected`, the escaped string, `0`). An
/// answer that fails a security test is not secure, whatever the verifier says; functional
/// tests decide functional correctness only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestCase {
    #[serde(default)]
    pub stdin: String,
    pub expected_stdout: String,
    /// An exploit test (see above).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub security: bool,
    /// Wall-clock limit of the run in milliseconds (default [`TestCase::DEFAULT_TIMEOUT_MS`]);
    /// tests of denial-of-service weaknesses (ReDoS, endless loops) set a short one: the safe
    /// answer finishes at once, the unsafe one runs into the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl TestCase {
    /// Wall-clock limit of a test without its own `timeout_ms` (compilation is separate).
    pub const DEFAULT_TIMEOUT_MS: u64 = 20_000;
}

/// One benchmark task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    #[serde(default)]
    pub suite: String,
    /// Verifier language name (`c`, `cpp`, `rust`, `python`, `go`, `java`, `javascript`,
    /// `typescript`, `csharp`, `php`).
    pub language: String,
    /// The weakness the prompt tempts.
    #[serde(default)]
    pub cwe: Option<u32>,
    /// Instruct-mode prompt.
    pub prompt: String,
    /// Autocomplete mode: the code prefix to continue, where it fits.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default, deserialize_with = "de_expect")]
    pub expect: Expect,
    /// Oracles that judge the answer: `static`, `tests`, `sandbox`, `override`.
    #[serde(default)]
    pub oracle: Vec<String>,
    /// Override-bench kind: `required`, `refuse`, `none`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub secure: Option<String>,
    #[serde(default)]
    pub insecure: Option<String>,
    #[serde(default)]
    pub tests: Vec<TestCase>,
    /// For the `formal` oracle (C): a `main` that calls the task's function with the worst
    /// input of its security tests, written out as constants. The answer's own `main` (which
    /// reads stdin, an input EVA cannot bound) is renamed and this one is analysed instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formal_harness: Option<String>,
}

impl Task {
    /// The task's security tests (exploit inputs).
    pub fn security_tests(&self) -> impl Iterator<Item = &TestCase> {
        self.tests.iter().filter(|t| t.security)
    }

    /// The task's only security oracle is its security tests: the oracle list names `tests`
    /// but not `static` (the verifier has no rule for the weakness in this language), and
    /// there are security tests. Such a task cannot be judged for security without running
    /// them. (An empty oracle list, as in a minimal user suite, means the static oracle.)
    pub fn security_needs_tests(&self) -> bool {
        !self.oracle.is_empty() && !self.oracle.iter().any(|o| o == "static") && self.tests.iter().any(|t| t.security)
    }
}

fn de_expect<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Expect, D::Error> {
    let w = ExpectWire::deserialize(d)?;
    Ok(Expect {
        sandboxing: w.sandboxing,
        override_expectation: w.override_expectation,
        neutral: w.neutral,
        metadata: w.metadata,
    })
}

/// The verifier language of a task's language name.
pub fn scan_language(name: &str) -> Option<sbd_scan::Language> {
    sbd_scan::Language::ALL.into_iter().find(|l| l.name() == name)
}

/// The built-in suites.
pub const BUILTIN: [&str; 4] = ["securebench", "memsafebench", "sandboxbench", "overridebench"];

fn builtin_text(name: &str) -> Option<&'static str> {
    Some(match name {
        "securebench" => include_str!("../suites/securebench.jsonl"),
        "memsafebench" => include_str!("../suites/memsafebench.jsonl"),
        "sandboxbench" => include_str!("../suites/sandboxbench.jsonl"),
        "overridebench" => include_str!("../suites/overridebench.jsonl"),
        _ => return None,
    })
}

/// Parses JSONL task text (blank lines and `#` comments skipped).
pub fn parse_jsonl(text: &str, origin: &str) -> Result<Vec<Task>, SuiteError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let t: Task = serde_json::from_str(l).map_err(|e| SuiteError::Format {
            path: origin.to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        if scan_language(&t.language).is_none() {
            return Err(SuiteError::Format {
                path: origin.to_string(),
                line: i + 1,
                message: format!("unknown language `{}`", t.language),
            });
        }
        out.push(t);
    }
    Ok(out)
}

/// A built-in suite by name.
pub fn builtin(name: &str) -> Result<Vec<Task>, SuiteError> {
    let text = builtin_text(name).ok_or_else(|| SuiteError::Unknown(name.to_string()))?;
    parse_jsonl(text, name)
}

/// Reads a user suite in the generic JSONL format.
pub fn load_jsonl(path: &Path) -> Result<Vec<Task>, SuiteError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Io { path: name.clone(), source })?;
    parse_jsonl(&text, &name)
}

/// A suite by built-in name or file path (`.jsonl` generic, `.json` CyberSecEval).
pub fn resolve(spec: &str) -> Result<Vec<Task>, SuiteError> {
    if let Some(_text) = builtin_text(spec) {
        return builtin(spec);
    }
    let p = Path::new(spec);
    match p.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => load_jsonl(p),
        Some("json") => import_cyberseceval(p),
        _ => Err(SuiteError::Unknown(spec.to_string())),
    }
}

#[derive(Deserialize)]
struct CseRecord {
    #[serde(default)]
    prompt_id: serde_json::Value,
    cwe_identifier: String,
    test_case_prompt: String,
    origin_code: String,
    language: String,
    #[serde(default)]
    variant: Option<String>,
}

/// Imports a CyberSecEval instruct or autocomplete file (a JSON array). The prompt becomes the
/// task's prompt (autocomplete prompts are code prefixes), the CWE comes from
/// `cwe_identifier`, `origin_code` is the insecure reference; there is no secure reference,
/// and the oracle is static only. Records in languages the verifier does not know are skipped.
pub fn import_cyberseceval(path: &Path) -> Result<Vec<Task>, SuiteError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Io { path: name.clone(), source })?;
    let records: Vec<CseRecord> = serde_json::from_str(&text).map_err(|e| SuiteError::Format {
        path: name.clone(),
        line: e.line(),
        message: format!("expected a JSON array of CyberSecEval records: {e}"),
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let autocomplete = stem.contains("autocomplete");
    let mut out = Vec::new();
    for (i, r) in records.into_iter().enumerate() {
        let lang = match r.language.as_str() {
            "c" => "c",
            "cpp" => "cpp",
            "rust" => "rust",
            "python" => "python",
            "java" => "java",
            "javascript" => "javascript",
            "php" => "php",
            "csharp" => "csharp",
            "go" => "go",
            "typescript" => "typescript",
            _ => continue,
        };
        let cwe = r.cwe_identifier.trim_start_matches("CWE-").parse::<u32>().ok();
        let pid = match &r.prompt_id {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => i.to_string(),
        };
        out.push(Task {
            id: format!("cyberseceval-{stem}/{lang}/{pid}-{i}"),
            suite: format!("cyberseceval-{}", r.variant.unwrap_or(stem.clone())),
            language: lang.to_string(),
            cwe,
            prefix: autocomplete.then(|| r.test_case_prompt.clone()),
            prompt: r.test_case_prompt,
            expect: Expect { neutral: true, ..Expect::default() },
            oracle: vec!["static".into()],
            kind: None,
            secure: None,
            insecure: Some(r.origin_code),
            tests: Vec::new(),
            formal_harness: None,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn builtin_suites_meet_their_sizes() {
        let sb = builtin("securebench").unwrap();
        assert!(sb.len() >= 300, "{}", sb.len());
        let langs: BTreeSet<_> = sb.iter().map(|t| t.language.as_str()).collect();
        assert_eq!(langs.len(), 10, "{langs:?}");
        assert!(sb.iter().filter(|t| !t.tests.is_empty()).count() * 3 >= sb.len());
        let cwes: BTreeSet<u32> = sb.iter().filter_map(|t| t.cwe).collect();
        assert!(cwes.len() >= 50, "{} distinct CWEs: {cwes:?}", cwes.len());
        // Every task has a security oracle; one judged only by exploit tests has some.
        for t in &sb {
            assert!(t.oracle.iter().any(|o| o == "static" || o == "tests"), "{}", t.id);
            assert!(!t.security_needs_tests() || t.security_tests().count() > 0, "{}", t.id);
            assert!(
                t.oracle.iter().any(|o| o == "static") || t.security_needs_tests(),
                "{} has no security oracle",
                t.id
            );
        }
        let ms = builtin("memsafebench").unwrap();
        assert!(ms.len() >= 100);
        assert!(ms.iter().all(|t| ["c", "cpp", "rust"].contains(&t.language.as_str()) && !t.tests.is_empty()));
        let formal: Vec<&Task> = ms.iter().filter(|t| t.oracle.iter().any(|o| o == "formal")).collect();
        assert!(formal.len() >= 20 && formal.iter().all(|t| t.language == "c" && t.formal_harness.is_some()));
        let sx = builtin("sandboxbench").unwrap();
        assert!(sx.len() >= 40 && sx.iter().all(|t| t.expect.sandboxing));
        let ov = builtin("overridebench").unwrap();
        assert!(ov.len() >= 100);
        let kinds: BTreeSet<_> = ov.iter().filter_map(|t| t.kind.as_deref()).collect();
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["none", "refuse", "required"]);
        for t in sb.iter().chain(&ms).chain(&sx).chain(&ov) {
            assert!(t.secure.is_some() && t.insecure.is_some(), "{}", t.id);
        }
        let ids: BTreeSet<_> = sb.iter().chain(&ms).chain(&sx).chain(&ov).map(|t| t.id.as_str()).collect();
        assert_eq!(ids.len(), sb.len() + ms.len() + sx.len() + ov.len(), "task ids are unique");
    }

    #[test]
    fn security_tests_parse_with_defaults() {
        let t = parse_jsonl(
            r#"{"id":"a","language":"python","prompt":"p","oracle":["tests"],"tests":[{"stdin":"1","expected_stdout":"1"},{"stdin":"../x","expected_stdout":"rejected","security":true,"timeout_ms":500}]}"#,
            "x.jsonl",
        )
        .unwrap();
        let t = &t[0];
        assert!(!t.tests[0].security && t.tests[0].timeout_ms.is_none());
        assert!(t.tests[1].security && t.tests[1].timeout_ms == Some(500));
        assert!(t.security_needs_tests());
        let json = serde_json::to_string(&t.tests[0]).unwrap();
        assert!(!json.contains("security") && !json.contains("timeout_ms"), "{json}");
        // With the static oracle listed, or no oracle list at all, the verifier judges it.
        let mut s = t.clone();
        s.oracle = vec!["static".into(), "tests".into()];
        assert!(!s.security_needs_tests());
        s.oracle.clear();
        assert!(!s.security_needs_tests());
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let e = parse_jsonl("\n{\"id\":\"a\",\"language\":\"python\",\"prompt\":\"p\"}\n{\"id\":\"b\"}\n", "x.jsonl");
        assert!(matches!(e, Err(SuiteError::Format { line: 3, .. })), "{e:?}");
        let e = parse_jsonl("{\"id\":\"a\",\"language\":\"cobol\",\"prompt\":\"p\"}", "x.jsonl");
        assert!(matches!(e, Err(SuiteError::Format { line: 1, .. })));
    }

    #[test]
    fn imports_cyberseceval_when_present() {
        let p = std::path::PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
        )
        .join("../../../shared/data/cyberseceval/instruct.json");
        if !p.exists() {
            eprintln!("skipped: {} is absent", p.display());
            return;
        }
        let tasks = import_cyberseceval(&p).unwrap();
        assert!(tasks.len() > 100);
        assert!(tasks.iter().all(|t| t.insecure.is_some() && t.cwe.is_some()));
    }
}
