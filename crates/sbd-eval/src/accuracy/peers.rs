//! Peer tools run on exactly the samples our verifier sees: Bandit (Python), cppcheck and
//! flawfinder (C/C++), and Meta's Insecure Code Detector through the `codeshield` Python API
//! (`bench/peers/icd.py`). Each writes the samples to a private temporary directory, runs the
//! tool once over all of them and maps its report back to samples by file name. A tool that is
//! not installed is reported as missing; a tool that fails is an error in the table, never an
//! empty result.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sbd_data::sources::{Sample, parse_cwe};

use super::{Detector, Finding};

/// Removes the indentation common to all non-blank lines (function bodies cut out of classes
/// are indented; most tools cannot parse that). Line numbers do not change.
pub fn dedent(code: &str) -> String {
    let indent = code
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    if indent == 0 {
        return code.to_string();
    }
    code.lines()
        .map(|l| if l.len() >= indent && l.is_char_boundary(indent) { &l[indent..] } else { l.trim_start() })
        .collect::<Vec<_>>()
        .join("\n")
        + if code.ends_with('\n') { "\n" } else { "" }
}

/// The file extension a tool expects for a canonical language.
pub fn extension(language: &str) -> &'static str {
    match language {
        "c" => "c",
        "cpp" => "cpp",
        "rust" => "rs",
        "python" => "py",
        "go" => "go",
        "java" => "java",
        "javascript" => "js",
        "typescript" => "ts",
        "csharp" => "cs",
        "php" => "php",
        "ruby" => "rb",
        _ => "txt",
    }
}

/// A private temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Result<Scratch, String> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let p = base.join(format!("sbd-peer-{tag}-{}-{attempt}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(Scratch(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create a scratch directory: {e}")),
            }
        }
        Err("cannot create a scratch directory".into())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes the supported samples as `<index>.<ext>`; returns the scratch dir.
fn write_samples(tag: &str, samples: &[Sample], supports: impl Fn(&str) -> bool) -> Result<(Scratch, usize), String> {
    let dir = Scratch::new(tag)?;
    let mut n = 0;
    for (i, s) in samples.iter().enumerate() {
        if supports(&s.language) {
            let path = dir.0.join(format!("{i}.{}", extension(&s.language)));
            std::fs::write(&path, dedent(&s.code)).map_err(|e| format!("{}: {e}", path.display()))?;
            n += 1;
        }
    }
    Ok((dir, n))
}

/// The sample index of a reported file name (`/tmp/…/17.c` → 17).
fn index_of(file: &str) -> Option<usize> {
    let name = Path::new(file).file_name()?.to_str()?;
    name.split('.').next()?.parse().ok()
}

fn version_of(exe: &Path, arg: &str) -> Option<String> {
    let out = Command::new(exe).arg(arg).stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string())
}

/// Finds an executable on PATH or in the peers' virtual environment.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("SBD_PEERS_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/sbd-peers")));
    if let Some(v) = venv {
        let p = v.join("bin").join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// Bandit, the Python security linter.
pub struct Bandit {
    exe: PathBuf,
    version: String,
}

impl Bandit {
    pub fn find() -> Option<Bandit> {
        let exe = find_tool("bandit")?;
        let version = version_of(&exe, "--version").unwrap_or_else(|| "bandit".into());
        Some(Bandit { exe, version })
    }
}

impl Detector for Bandit {
    fn name(&self) -> String {
        self.version.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
    }
    fn supports(&self, language: &str) -> bool {
        language == "python"
    }
    fn detect(&self, samples: &[Sample]) -> Result<Vec<Vec<Finding>>, String> {
        let mut out = vec![Vec::new(); samples.len()];
        let (dir, n) = write_samples("bandit", samples, |l| self.supports(l))?;
        if n == 0 {
            return Ok(out);
        }
        let result = Command::new(&self.exe)
            .args(["-f", "json", "-q", "-r"])
            .arg(&dir.0)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        let report: serde_json::Value = serde_json::from_slice(&result.stdout).map_err(|e| {
            format!("bandit printed no JSON report ({e}); stderr: {}", String::from_utf8_lossy(&result.stderr).trim())
        })?;
        for r in report["results"].as_array().into_iter().flatten() {
            let Some(i) = r["filename"].as_str().and_then(index_of) else { continue };
            let line = r["line_number"].as_u64().unwrap_or(0) as usize;
            let end =
                r["line_range"].as_array().and_then(|a| a.last()).and_then(|v| v.as_u64()).map_or(line, |e| e as usize);
            let cwe = r["issue_cwe"]["id"].as_u64().map(|c| c as u32);
            if let Some(slot) = out.get_mut(i) {
                slot.push(Finding {
                    rule: r["test_id"].as_str().unwrap_or("bandit").to_string(),
                    cwes: cwe.into_iter().collect(),
                    line,
                    end_line: end.max(line),
                });
            }
        }
        Ok(out)
    }
}

/// cppcheck, the C/C++ static analyser.
pub struct Cppcheck {
    exe: PathBuf,
    version: String,
}

impl Cppcheck {
    pub fn find() -> Option<Cppcheck> {
        let exe = find_tool("cppcheck")?;
        let version = version_of(&exe, "--version").unwrap_or_else(|| "cppcheck".into());
        Some(Cppcheck { exe, version })
    }
}

/// Attribute `name="value"` of an XML start tag (cppcheck escapes values; we unescape the five).
fn xml_attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(
        tag[start..end]
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

impl Detector for Cppcheck {
    fn name(&self) -> String {
        self.version.to_lowercase()
    }
    fn supports(&self, language: &str) -> bool {
        matches!(language, "c" | "cpp")
    }
    fn detect(&self, samples: &[Sample]) -> Result<Vec<Vec<Finding>>, String> {
        let mut out = vec![Vec::new(); samples.len()];
        let (dir, n) = write_samples("cppcheck", samples, |l| self.supports(l))?;
        if n == 0 {
            return Ok(out);
        }
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        let result = Command::new(&self.exe)
            .args([
                "--enable=warning,style,portability,performance",
                "--inconclusive",
                "--xml",
                "--xml-version=2",
                "-q",
            ])
            .arg(format!("-j{jobs}"))
            .arg(&dir.0)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        let xml = String::from_utf8_lossy(&result.stderr);
        if !xml.contains("<results") {
            return Err(format!("cppcheck printed no XML report: {}", xml.trim()));
        }
        for chunk in xml.split("<error ").skip(1) {
            let head = chunk.split('>').next().unwrap_or("");
            let tag = format!(" {head}");
            let rule = xml_attr(&tag, "id").unwrap_or_else(|| "cppcheck".into());
            if matches!(
                rule.as_str(),
                "syntaxError" | "unknownMacro" | "missingInclude" | "missingIncludeSystem" | "checkersReport"
            ) {
                continue;
            }
            let cwes: Vec<u32> = xml_attr(&tag, "cwe").and_then(|c| c.parse().ok()).into_iter().collect();
            let body = chunk.split("</error>").next().unwrap_or("");
            for loc in body.split("<location ").skip(1) {
                let ltag = format!(" {}", loc.split('>').next().unwrap_or(""));
                let (Some(file), Some(line)) = (xml_attr(&ltag, "file"), xml_attr(&ltag, "line")) else { continue };
                let (Some(i), Ok(line)) = (index_of(&file), line.parse::<usize>()) else { continue };
                if let Some(slot) = out.get_mut(i) {
                    slot.push(Finding { rule: rule.clone(), cwes: cwes.clone(), line, end_line: line });
                }
            }
        }
        Ok(out)
    }
}

/// flawfinder, the C/C++ dangerous-function scanner.
pub struct Flawfinder {
    exe: PathBuf,
    version: String,
}

impl Flawfinder {
    pub fn find() -> Option<Flawfinder> {
        let exe = find_tool("flawfinder")?;
        let version = version_of(&exe, "--version").unwrap_or_default();
        Some(Flawfinder { exe, version })
    }
}

/// Splits one CSV record (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// Splits CSV text into records, honouring newlines inside quotes.
fn csv_records(text: &str) -> Vec<String> {
    let mut records = Vec::new();
    let mut cur = String::new();
    let mut quotes = 0usize;
    for line in text.lines() {
        if !cur.is_empty() {
            cur.push('\n');
        }
        cur.push_str(line);
        quotes += line.matches('"').count();
        if quotes.is_multiple_of(2) {
            records.push(std::mem::take(&mut cur));
            quotes = 0;
        }
    }
    if !cur.is_empty() {
        records.push(cur);
    }
    records
}

impl Detector for Flawfinder {
    fn name(&self) -> String {
        format!("flawfinder {}", self.version)
    }
    fn supports(&self, language: &str) -> bool {
        matches!(language, "c" | "cpp")
    }
    fn detect(&self, samples: &[Sample]) -> Result<Vec<Vec<Finding>>, String> {
        let mut out = vec![Vec::new(); samples.len()];
        let (dir, n) = write_samples("flawfinder", samples, |l| self.supports(l))?;
        if n == 0 {
            return Ok(out);
        }
        let result = Command::new(&self.exe)
            .args(["--csv", "--quiet", "--dataonly"])
            .arg(&dir.0)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.exe.display()))?;
        let text = String::from_utf8_lossy(&result.stdout);
        let records = csv_records(&text);
        let Some(header) = records.first().map(|h| csv_fields(h)) else {
            return Err(format!("flawfinder printed no CSV: {}", String::from_utf8_lossy(&result.stderr).trim()));
        };
        let col = |name: &str| header.iter().position(|h| h == name);
        let (Some(fc), Some(lc), Some(nc), Some(cc)) = (col("File"), col("Line"), col("Name"), col("CWEs")) else {
            return Err(format!("unexpected flawfinder CSV header: {header:?}"));
        };
        for rec in records.iter().skip(1) {
            let f = csv_fields(rec);
            let (Some(file), Some(line)) = (f.get(fc), f.get(lc).and_then(|l| l.parse::<usize>().ok())) else {
                continue;
            };
            let Some(i) = index_of(file) else { continue };
            let cwes: Vec<u32> =
                f.get(cc).map(|c| c.split([',', '!', ' ', '/']).filter_map(parse_cwe).collect()).unwrap_or_default();
            if let Some(slot) = out.get_mut(i) {
                slot.push(Finding { rule: f.get(nc).cloned().unwrap_or_default(), cwes, line, end_line: line });
            }
        }
        Ok(out)
    }
}

/// Meta's Insecure Code Detector (the CyberSecEval oracle) through `bench/peers/icd.py`.
pub struct Icd {
    python: PathBuf,
    script: PathBuf,
    jobs: usize,
}

/// The languages ICD has rules for (its `Language` enum, less those we have no samples in).
const ICD_LANGUAGES: &[&str] = &["c", "cpp", "csharp", "java", "javascript", "php", "python", "ruby", "rust"];

impl Icd {
    /// Finds a Python with `codeshield` importable and the adapter script under `repo_root`.
    pub fn find(repo_root: &Path) -> Option<Icd> {
        let script = repo_root.join("bench/peers/icd.py");
        if !script.is_file() {
            return None;
        }
        let python = find_tool("python").or_else(|| find_tool("python3"))?;
        let ok = Command::new(&python)
            .args(["-c", "import codeshield.insecure_code_detector"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
        ok.then_some(Icd { python, script, jobs })
    }
}

impl Detector for Icd {
    fn name(&self) -> String {
        "icd (codeshield)".into()
    }
    fn supports(&self, language: &str) -> bool {
        ICD_LANGUAGES.contains(&language)
    }
    fn detect(&self, samples: &[Sample]) -> Result<Vec<Vec<Finding>>, String> {
        let mut out = vec![Vec::new(); samples.len()];
        let mut input = String::new();
        for (i, s) in samples.iter().enumerate() {
            if self.supports(&s.language) {
                let line = serde_json::json!({"id": i.to_string(), "language": s.language, "code": dedent(&s.code)});
                input.push_str(&line.to_string());
                input.push('\n');
            }
        }
        if input.is_empty() {
            return Ok(out);
        }
        let mut child = Command::new(&self.python)
            .arg(&self.script)
            .arg("--jobs")
            .arg(self.jobs.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.python.display()))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let result = child.wait_with_output().map_err(|e| e.to_string())?;
        let _ = writer.join();
        if !result.status.success() {
            return Err(format!("icd.py failed: {}", String::from_utf8_lossy(&result.stderr).trim()));
        }
        let mut errors = 0;
        for line in String::from_utf8_lossy(&result.stdout).lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("icd.py printed {line:?}: {e}"))?;
            let Some(i) = v["id"].as_str().and_then(|s| s.parse::<usize>().ok()) else { continue };
            if v.get("error").is_some() {
                errors += 1;
                continue;
            }
            for f in v["findings"].as_array().into_iter().flatten() {
                let line = f["line"].as_u64().unwrap_or(0) as usize;
                if let Some(slot) = out.get_mut(i) {
                    slot.push(Finding {
                        rule: f["rule"].as_str().unwrap_or("icd").to_string(),
                        cwes: f["cwe"].as_str().and_then(parse_cwe).into_iter().collect(),
                        line,
                        end_line: line,
                    });
                }
            }
        }
        if errors * 10 > samples.len().max(1) {
            return Err(format!("icd failed on {errors} of {} samples", samples.len()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedents_without_moving_lines() {
        assert_eq!(dedent("    def f():\n        return 1\n\n    x = 2\n"), "def f():\n    return 1\n\nx = 2\n");
        assert_eq!(dedent("a\n  b"), "a\n  b");
        assert_eq!(dedent("\tif x:\n\t\ty()"), "if x:\n\ty()");
    }

    #[test]
    fn parses_csv_and_xml() {
        assert_eq!(csv_fields(r#"a,"b,c","d ""e""",7"#), vec!["a", "b,c", "d \"e\"", "7"]);
        assert_eq!(csv_records("h1,h2\n\"x\ny\",2\nz,3\n"), vec!["h1,h2", "\"x\ny\",2", "z,3"]);
        let tag = r#" id="bufferAccessOutOfBounds" severity="error" msg="a &quot;b&quot;" cwe="788""#;
        assert_eq!(xml_attr(tag, "cwe").as_deref(), Some("788"));
        assert_eq!(xml_attr(tag, "msg").as_deref(), Some("a \"b\""));
        assert_eq!(index_of("/tmp/x/17.cpp"), Some(17));
    }
}
