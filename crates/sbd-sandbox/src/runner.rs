//! Compile and run a unit inside the sandbox, with a test harness and memory-safety checkers.
//!
//! | language | compile (in the sandbox) | checkers | run |
//! |---|---|---|---|
//! | C | `gcc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all` | ASan, UBSan | `/work/prog` |
//! | C++ | `g++` with the same flags | ASan, UBSan | `/work/prog` |
//! | Rust | `rustc -C overflow-checks=on -C debug-assertions=on` | overflow panics | `/work/prog` |
//! | Python | — | — | `python3 -I -B` |
//! | JavaScript | — | — | `node --max-old-space-size=…` |
//! | Java | `javac` | — | `java -Xmx… -XX:+UseSerialGC` |
//!
//! Compilation runs with a build policy (writable `/work`, 4 GiB, 120 s, execution of system
//! tools allowed); the program runs with the unit's policy and may execute nothing but
//! itself (or its interpreter).
//!
//! With `valgrind`, C/C++ are built `-O0 -g` without sanitizers and run under memcheck
//! (`--error-exitcode=99`); its memory limit is doubled plus 512 MiB for shadow memory and
//! it gets the private, size-capped writable `/tmp` valgrind needs.
//!
//! Sanitizer builds are not given a memory rlimit (see
//! [`MemoryEnforcement::SanitizerAllocator`]): the run's cgroup (or memory watchdog) and
//! ASan's own `hard_rss_limit_mb`, `max_allocation_size_mb` and a quarantine of a quarter of
//! the limit carry the unit's memory limit instead. LeakSanitizer is off
//! because it needs `ptrace`, which the sandbox denies.
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::outcome::{Limit, Outcome};
use crate::policy::{Filesystem, Policy};
use crate::sandbox::{self, Exec, MemoryEnforcement, Spec, Workspace};

/// A language the runners support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    C,
    Cpp,
    Rust,
    Python,
    JavaScript,
    Java,
}

impl Language {
    pub const ALL: [Language; 6] =
        [Language::C, Language::Cpp, Language::Rust, Language::Python, Language::JavaScript, Language::Java];

    /// Parse a language name (`c`, `cpp`/`c++`, `rust`, `python`, `javascript`/`js`, `java`).
    pub fn from_name(name: &str) -> Option<Language> {
        Some(match name.to_ascii_lowercase().as_str() {
            "c" => Language::C,
            "cpp" | "c++" | "cxx" => Language::Cpp,
            "rust" | "rs" => Language::Rust,
            "python" | "py" | "python3" => Language::Python,
            "javascript" | "js" | "node" => Language::JavaScript,
            "java" => Language::Java,
            _ => return None,
        })
    }

    /// Guess from a file extension.
    pub fn from_path(path: &Path) -> Option<Language> {
        Some(match path.extension()?.to_str()? {
            "c" => Language::C,
            "cc" | "cpp" | "cxx" | "C" => Language::Cpp,
            "rs" => Language::Rust,
            "py" => Language::Python,
            "js" | "mjs" | "cjs" => Language::JavaScript,
            "java" => Language::Java,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::C => "c",
            Language::Cpp => "cpp",
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::Java => "java",
        }
    }
}

/// Host paths of the tools a language needs.
#[derive(Clone, Debug)]
pub struct Toolchain {
    /// Compiler (sandbox path = host path), if the language is compiled.
    pub compiler: Option<PathBuf>,
    /// Interpreter or VM that runs the program, if any.
    pub interpreter: Option<PathBuf>,
    /// Directories outside /usr to mount read-only (a rustup toolchain, a JDK in /opt).
    pub mounts: Vec<PathBuf>,
}

fn find_in_path(name: &str, prefer: &[&str]) -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = prefer.iter().map(PathBuf::from).collect();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|d| d.join(name)));
    }
    candidates.into_iter().find_map(|c| {
        let real = std::fs::canonicalize(&c).ok()?;
        let head = std::fs::read(&real).ok().map(|b| b.starts_with(b"\x7fELF"))?;
        // Shims that are shell scripts (pyenv, rustup wrappers…) cannot run in the
        // sandbox without a shell; we want the real binary.
        head.then_some(real)
    })
}

/// The directory to mount for a tool outside the system directories.
fn mount_for(tool: &Path, levels_up: usize) -> Vec<PathBuf> {
    if tool.starts_with("/usr") {
        return vec![];
    }
    let mut p = tool.to_path_buf();
    for _ in 0..levels_up {
        if let Some(parent) = p.parent() {
            p = parent.to_path_buf();
        }
    }
    vec![p]
}

impl Toolchain {
    /// Find the tools for `lang` on this machine.
    pub fn discover(lang: Language) -> Result<Toolchain, Error> {
        let missing = |what: &str| Error::Tool(format!("{what} not available on this machine"));
        Ok(match lang {
            Language::C | Language::Cpp => {
                let name = if lang == Language::C { "gcc" } else { "g++" };
                let cc = find_in_path(name, &[]).ok_or_else(|| missing(name))?;
                Toolchain { mounts: mount_for(&cc, 2), compiler: Some(cc), interpreter: None }
            }
            Language::Rust => {
                let out = Command::new("rustc").args(["--print", "sysroot"]).output().map_err(|_| missing("rustc"))?;
                if !out.status.success() {
                    return Err(missing("rustc"));
                }
                let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                let rustc = sysroot.join("bin/rustc");
                if !rustc.is_file() {
                    return Err(missing("rustc"));
                }
                find_in_path("cc", &[]).ok_or_else(|| missing("cc (the linker rustc uses)"))?;
                Toolchain { mounts: mount_for(&rustc, 2), compiler: Some(rustc), interpreter: None }
            }
            Language::Python => {
                let py = find_in_path("python3", &["/usr/bin/python3"]).ok_or_else(|| missing("python3"))?;
                Toolchain { mounts: mount_for(&py, 2), compiler: None, interpreter: Some(py) }
            }
            Language::JavaScript => {
                let node = find_in_path("node", &[]).ok_or_else(|| missing("node"))?;
                Toolchain { mounts: mount_for(&node, 2), compiler: None, interpreter: Some(node) }
            }
            Language::Java => {
                let javac = find_in_path("javac", &[]).ok_or_else(|| missing("javac"))?;
                let home = javac.parent().and_then(Path::parent).ok_or_else(|| missing("a JDK"))?.to_path_buf();
                let java = home.join("bin/java");
                if !java.is_file() {
                    return Err(missing("java"));
                }
                Toolchain { mounts: mount_for(&javac, 2), compiler: Some(javac), interpreter: Some(java) }
            }
        })
    }
}

/// What to feed the program and what to expect from it.
#[derive(Clone, Debug, Default)]
pub struct Harness {
    pub stdin: Vec<u8>,
    pub args: Vec<String>,
    /// Compared with the program's stdout, ignoring trailing whitespace.
    pub expected_stdout: Option<String>,
    /// A test program in the unit's language, run instead of the unit; exit status 0 means
    /// the tests passed. Python: `test_main.py` next to the unit (`import main`).
    /// JavaScript: `test.js` (`require('./main.js')`). C/C++: a file with its own `main`,
    /// linked with the unit, whose `main` is renamed `sbd_unit_main`. Rust: `#[test]`
    /// functions, compiled into the unit as `mod sbd_tests { use super::*; … }` with
    /// `rustc --test`. Java: a class with a `main`, compiled with the unit.
    pub test_script: Option<String>,
}

/// One functional test as services and trainers write it (the JSON fields `stdin`, `args`,
/// `expected_stdout`, `test_script`; see [`Harness`]).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct TestCase {
    #[serde(default)]
    pub stdin: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Compared with the program's stdout, ignoring trailing whitespace.
    #[serde(default)]
    pub expected_stdout: Option<String>,
    /// A test program in the unit's language (see [`Harness::test_script`]); exit 0 = pass.
    #[serde(default)]
    pub test_script: Option<String>,
}

impl TestCase {
    pub fn harness(&self) -> Harness {
        Harness {
            stdin: self.stdin.clone().unwrap_or_default().into_bytes(),
            args: self.args.clone(),
            expected_stdout: self.expected_stdout.clone(),
            test_script: self.test_script.clone(),
        }
    }
}

/// Runs each test on `code` in the sandbox and counts those whose verdict is
/// [`Verdict::Passed`] (built, no checker finding, within limits, expected output).
pub fn passed_tests(lang: Language, code: &str, tests: &[TestCase]) -> Result<usize, Error> {
    let mut passed = 0;
    for t in tests {
        let mut req = RunRequest::new(lang, code);
        req.harness = t.harness();
        passed += usize::from(run_unit(&req)?.verdict == Verdict::Passed);
    }
    Ok(passed)
}

/// A unit to compile and run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub language: Language,
    pub source: String,
    pub policy: Policy,
    pub harness: Harness,
    /// Build C/C++ with ASan and UBSan (default true).
    pub sanitizers: bool,
    /// Run C/C++ under valgrind's memcheck instead (built without sanitizers, `-O0 -g`).
    pub valgrind: bool,
    pub allow_degraded: bool,
}

impl RunRequest {
    pub fn new(language: Language, source: impl Into<String>) -> RunRequest {
        RunRequest {
            language,
            source: source.into(),
            policy: Policy::default(),
            harness: Harness::default(),
            sanitizers: true,
            valgrind: false,
            allow_degraded: false,
        }
    }
}

/// A memory-safety or arithmetic error reported by a checker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `AddressSanitizer`, `UndefinedBehaviorSanitizer`, `rust-overflow-checks`.
    pub tool: String,
    /// `heap-buffer-overflow`, `heap-use-after-free`, `signed-integer-overflow`, …
    pub kind: String,
    /// `file:line` in the unit, when the report names one.
    pub location: Option<String>,
    pub message: String,
}

/// The overall result of a unit run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    CompileFailed,
    /// The test script exited non-zero.
    TestsFailed,
    CheckerError,
    LimitExceeded,
    RuntimeError,
    WrongOutput,
}

/// Everything about a unit run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub language: Language,
    pub verdict: Verdict,
    pub compile: Option<Outcome>,
    pub run: Option<Outcome>,
    pub findings: Vec<Finding>,
    /// `Some(true/false)` when an expected stdout was given and the program ran.
    pub output_matched: Option<bool>,
}

/// The policy compilers run under.
pub fn build_policy() -> Policy {
    Policy {
        wall_time_ms: 120_000,
        cpu_time_s: 120,
        memory_mb: 4096,
        network: false,
        filesystem: Filesystem::ReadWrite,
        max_processes: 128,
        max_open_files: 512,
        max_file_size_mb: 256,
        tmp_size_mb: 512,
        ..Policy::default()
    }
}

fn java_class_name(source: &str) -> String {
    // `public class Name` decides the file name; fall back to Main.
    for line in source.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("public final class ").or_else(|| t.strip_prefix("public class ")) {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                return name;
            }
        }
    }
    "Main".to_string()
}

fn source_name(req: &RunRequest) -> String {
    match req.language {
        Language::C => "main.c".into(),
        Language::Cpp => "main.cpp".into(),
        Language::Rust => "main.rs".into(),
        Language::Python => "main.py".into(),
        Language::JavaScript => "main.js".into(),
        Language::Java => format!("{}.java", java_class_name(&req.source)),
    }
}

/// Compile (if needed) and run a unit in the sandbox.
pub fn run_unit(req: &RunRequest) -> Result<RunReport, Error> {
    let tc = Toolchain::discover(req.language)?;
    let ws = Workspace::new()?;
    let file = source_name(req);
    let script = req.harness.test_script.as_deref();
    if let (Language::Rust, Some(tests)) = (req.language, script) {
        ws.write(
            &file,
            format!(
                "{}\n#[cfg(test)]\n#[allow(unused_imports)]\nmod sbd_tests {{\n    use super::*;\n{tests}\n}}\n",
                req.source
            ),
        )?;
    } else {
        ws.write(&file, &req.source)?;
    }
    let src = format!("/work/{file}");
    // The test script's file (sandbox path), for the languages that keep it separate.
    let test_file = match (req.language, script) {
        (Language::Rust, _) | (_, None) => None,
        (lang, Some(text)) => {
            let name = match lang {
                Language::C => "sbd_test.c".to_string(),
                Language::Cpp => "sbd_test.cpp".to_string(),
                Language::Python => "test_main.py".to_string(),
                Language::JavaScript => "test.js".to_string(),
                Language::Java => format!("{}.java", java_class_name(text)),
                Language::Rust => unreachable!(),
            };
            if name == file {
                return Err(Error::Spec(format!("the test script and the unit would both be {name}")));
            }
            ws.write(&name, text)?;
            Some(format!("/work/{name}"))
        }
    };
    let native_c = matches!(req.language, Language::C | Language::Cpp);
    let valgrind = if req.valgrind && native_c { Some(find_valgrind()?) } else { None };
    let sanitize = req.sanitizers && native_c && valgrind.is_none();

    let compile_steps: Vec<Vec<String>> = match req.language {
        Language::C | Language::Cpp => {
            let mut a: Vec<String> =
                if req.language == Language::C { vec!["-std=gnu17".into()] } else { vec!["-std=gnu++17".into()] };
            if sanitize {
                a.extend(
                    [
                        "-O1",
                        "-g",
                        "-fno-omit-frame-pointer",
                        "-fsanitize=address,undefined",
                        "-fno-sanitize-recover=all",
                    ]
                    .map(String::from),
                );
            } else if valgrind.is_some() {
                a.extend(["-O0", "-g"].map(String::from));
            } else {
                a.extend(["-O2", "-g"].map(String::from));
            }
            match &test_file {
                None => {
                    a.extend(["-o".into(), "/work/prog".into(), src.clone(), "-lm".into()]);
                    vec![a]
                }
                Some(t) => {
                    let mut unit = a.clone();
                    unit.extend(["-Dmain=sbd_unit_main", "-c", "-o", "/work/unit.o", &src].map(String::from));
                    a.extend(["-o", "/work/prog", t, "/work/unit.o", "-lm"].map(String::from));
                    vec![unit, a]
                }
            }
        }
        Language::Rust => vec![
            [
                "--edition",
                "2021",
                "-C",
                "overflow-checks=on",
                "-C",
                "debug-assertions=on",
                "-g",
                "-o",
                "/work/prog",
                &src,
            ]
            .map(String::from)
            .into_iter()
            .chain(script.map(|_| "--test".to_string()))
            .collect(),
        ],
        Language::Java => vec![
            [
                "-J-Xmx512m",
                "-J-XX:+UseSerialGC",
                "-J-XX:TieredStopAtLevel=1",
                "-J-XX:-UsePerfData",
                "-d",
                "/work",
                &src,
            ]
            .map(String::from)
            .into_iter()
            .chain(test_file.clone())
            .collect(),
        ],
        Language::Python | Language::JavaScript => vec![],
    };

    let mut compile = None;
    for args in compile_steps {
        let Some(compiler) = &tc.compiler else { break };
        let mut spec = Spec::new(compiler, ws.path(), build_policy());
        spec.args = args;
        spec.work_writable = true;
        spec.extra_mounts = tc.mounts.clone();
        spec.exec = Exec::System;
        spec.allow_degraded = req.allow_degraded;
        let o = sandbox::run(&spec)?;
        let ok = o.success();
        compile = Some(o);
        if !ok {
            return Ok(RunReport {
                language: req.language,
                verdict: Verdict::CompileFailed,
                compile,
                run: None,
                findings: vec![],
                output_matched: None,
            });
        }
    }

    let mem = req.policy.memory_mb;
    let (program, mut args, exec): (PathBuf, Vec<String>, Vec<PathBuf>) = match req.language {
        Language::C | Language::Cpp | Language::Rust => (PathBuf::from("/work/prog"), vec![], vec![]),
        Language::Python => {
            let py = tc.interpreter.clone().unwrap_or_default();
            let a = match &test_file {
                // -I would drop the script's directory from sys.path: keep only -E -s.
                Some(t) => vec!["-E".into(), "-s".into(), "-B".into(), t.clone()],
                None => vec!["-I".into(), "-B".into(), src.clone()],
            };
            (py.clone(), a, vec![py])
        }
        Language::JavaScript => {
            let node = tc.interpreter.clone().unwrap_or_default();
            (
                node.clone(),
                vec![
                    format!("--max-old-space-size={}", (mem / 2).max(16)),
                    test_file.clone().unwrap_or_else(|| src.clone()),
                ],
                vec![node],
            )
        }
        Language::Java => {
            let java = tc.interpreter.clone().unwrap_or_default();
            (
                java.clone(),
                vec![
                    format!("-Xmx{}m", (mem / 2).max(16)),
                    "-Xss4m".into(),
                    "-XX:+UseSerialGC".into(),
                    "-XX:TieredStopAtLevel=1".into(),
                    "-XX:-UsePerfData".into(),
                    "-Xshare:auto".into(),
                    "-cp".into(),
                    "/work".into(),
                    java_class_name(script.unwrap_or(&req.source)),
                ],
                vec![java],
            )
        }
    };
    args.extend(req.harness.args.iter().cloned());
    let mut policy = req.policy.clone();
    let (program, args, exec) = match &valgrind {
        Some(vg) => {
            // memcheck keeps shadow memory next to the program's: give it headroom.
            policy.memory_mb = policy.memory_mb.saturating_mul(2).saturating_add(512);
            // valgrind writes its bookkeeping files to /tmp: give it the private, capped one.
            policy.filesystem = Filesystem::ReadWrite;
            let mut a: Vec<String> = ["--tool=memcheck", "--error-exitcode=99", "--leak-check=no", "--vgdb=no", "-q"]
                .map(String::from)
                .to_vec();
            a.push(program.to_string_lossy().into_owned());
            a.extend(args);
            (vg.launcher.clone(), a, vec![vg.launcher.clone(), vg.tool.clone()])
        }
        None => (program, args, exec),
    };
    let mut spec = Spec::new(&program, ws.path(), policy);
    spec.args = args;
    spec.stdin = req.harness.stdin.clone();
    spec.extra_mounts = tc.mounts.clone();
    spec.exec = Exec::Only(exec);
    if valgrind.is_some() {
        spec.exec_budget = 2; // valgrind execs its memcheck tool, which loads the program
    }
    spec.allow_degraded = req.allow_degraded;
    if sanitize {
        spec.memory = MemoryEnforcement::SanitizerAllocator;
        spec.env.push((
            "ASAN_OPTIONS".into(),
            format!(
                "detect_leaks=0:halt_on_error=1:abort_on_error=0:hard_rss_limit_mb={mem}:\
                 max_allocation_size_mb={mem}:allocator_may_return_null=1:symbolize=1:\
                 quarantine_size_mb={}",
                (mem / 4).max(1)
            ),
        ));
        spec.env.push(("UBSAN_OPTIONS".into(), "halt_on_error=1:print_stacktrace=1".into()));
    }
    let mut run = sandbox::run(&spec)?;
    let findings = parse_findings(&run.stderr);
    if !run.success() && (run.limit.is_none() || run.limit == Some(Limit::Output)) && out_of_memory(&run.stderr) {
        run.limit = Some(Limit::Memory);
    }
    let output_matched = req.harness.expected_stdout.as_ref().map(|e| normalize(e) == normalize(&run.stdout));
    let verdict = if !findings.is_empty() {
        Verdict::CheckerError
    } else if matches!(run.limit, Some(Limit::WallTime | Limit::CpuTime | Limit::FileSize | Limit::Memory)) {
        Verdict::LimitExceeded
    } else if !run.success() && script.is_some() && run.exit_code.is_some() {
        Verdict::TestsFailed
    } else if !run.success() {
        Verdict::RuntimeError
    } else if output_matched == Some(false) {
        Verdict::WrongOutput
    } else {
        Verdict::Passed
    };
    Ok(RunReport { language: req.language, verdict, compile, run: Some(run), findings, output_matched })
}

fn normalize(s: &str) -> String {
    s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n").trim_end().to_string()
}

fn out_of_memory(stderr: &str) -> bool {
    [
        "MemoryError",
        "java.lang.OutOfMemoryError",
        "JavaScript heap out of memory",
        "std::bad_alloc",
        "memory allocation of",
        "hard rss limit exhausted",
        "allocation-size-too-big",
        "out of memory",
    ]
    .iter()
    .any(|m| stderr.contains(m))
}

struct Valgrind {
    /// The ELF launcher (`valgrind` itself, or Debian's `valgrind.bin` behind its wrapper).
    launcher: PathBuf,
    /// The memcheck tool it execs.
    tool: PathBuf,
}

fn find_valgrind() -> Result<Valgrind, Error> {
    let launcher = find_in_path("valgrind.bin", &["/usr/bin/valgrind.bin"])
        .or_else(|| find_in_path("valgrind", &[]))
        .ok_or_else(|| Error::Tool("valgrind not available on this machine".into()))?;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let tool = ["/usr/libexec/valgrind", "/usr/lib/valgrind", "/usr/local/libexec/valgrind"]
        .iter()
        .map(|d| Path::new(d).join(format!("memcheck-{arch}-linux")))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::Tool("valgrind's memcheck tool not found".into()))?;
    Ok(Valgrind { launcher, tool })
}

/// Valgrind memcheck's error headline → a kind, refined by the block description after it.
fn valgrind_kind(headline: &str, following: &[&str]) -> Option<String> {
    let base = if headline.starts_with("Invalid read") || headline.starts_with("Invalid write") {
        "invalid-access"
    } else if headline.starts_with("Invalid free") {
        "invalid-free"
    } else if headline.starts_with("Mismatched free") {
        "mismatched-free"
    } else if headline.contains("uninitialised") {
        "uninitialised-value"
    } else if headline.starts_with("Source and destination overlap") {
        "overlapping-copy"
    } else if headline.starts_with("Stack overflow") {
        "stack-overflow"
    } else {
        return None;
    };
    if base == "invalid-access" {
        for l in following.iter().take(12) {
            let t = strip_valgrind_prefix(l);
            if t.contains("free'd") {
                return Some("heap-use-after-free".into());
            }
            if t.contains("bytes after a block") || t.contains("bytes before a block") {
                return Some("heap-buffer-overflow".into());
            }
            if t.contains("on thread 1's stack") || t.contains("stack") {
                return Some("stack-buffer-overflow".into());
            }
            if t.is_empty() {
                break;
            }
        }
    }
    Some(base.into())
}

fn strip_valgrind_prefix(line: &str) -> &str {
    // "==123== text"
    let t = line.trim_start();
    if let Some(rest) = t.strip_prefix("==")
        && let Some(end) = rest.find("==")
    {
        return rest[end + 2..].trim();
    }
    t
}

/// Parse sanitizer, valgrind and overflow-check reports out of a program's stderr.
pub fn parse_findings(stderr: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let lines: Vec<&str> = stderr.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let vg = line.trim_start().starts_with("==") && line.matches("==").count() >= 2;
        if vg && let Some(kind) = valgrind_kind(strip_valgrind_prefix(line), &lines[i + 1..]) {
            let location = lines[i + 1..].iter().take(12).find_map(|l| {
                let t = strip_valgrind_prefix(l);
                let (func, loc) = t.split_once(": ")?.1.split_once(" (")?;
                let loc = loc.trim_end_matches(')');
                (!loc.starts_with("in ")).then(|| format!("{loc} ({func})"))
            });
            out.push(Finding {
                tool: "valgrind-memcheck".into(),
                kind,
                location,
                message: strip_valgrind_prefix(line).to_string(),
            });
        } else if let Some(rest) = line.split("ERROR: AddressSanitizer: ").nth(1) {
            let kind = rest.split_whitespace().next().unwrap_or("unknown").to_string();
            if kind == "hard" || kind == "requested" || kind == "allocation-size-too-big" {
                continue; // resource limits, not memory-safety errors
            }
            let location = lines[i + 1..].iter().find_map(|l| frame_location(l));
            out.push(Finding { tool: "AddressSanitizer".into(), kind, location, message: rest.trim().to_string() });
        } else if let Some(pos) = line.find(": runtime error: ") {
            let message = line[pos + ": runtime error: ".len()..].trim().to_string();
            let kind = ubsan_kind(&message);
            out.push(Finding {
                tool: "UndefinedBehaviorSanitizer".into(),
                kind,
                location: Some(line[..pos].trim().to_string()),
                message,
            });
        } else if line.contains("panicked at ")
            && let Some(next) = lines.get(i + 1)
            && next.contains("with overflow")
        {
            let loc = line.split("panicked at ").nth(1).map(|s| s.trim_end_matches(':').to_string());
            out.push(Finding {
                tool: "rust-overflow-checks".into(),
                kind: "arithmetic-overflow".into(),
                location: loc,
                message: next.trim().to_string(),
            });
        }
    }
    out
}

/// A stable kind for a UBSan message (the sanitizer's own check names where they exist).
fn ubsan_kind(message: &str) -> String {
    let known = [
        ("signed integer overflow", "signed-integer-overflow"),
        ("out of bounds for type", "array-index-out-of-bounds"),
        ("shift exponent", "shift-out-of-bounds"),
        ("left shift of", "shift-out-of-bounds"),
        ("division by zero", "integer-divide-by-zero"),
        ("null pointer", "null-pointer-use"),
        ("misaligned address", "misaligned-access"),
        ("negation of", "signed-integer-overflow"),
        ("is outside the range of representable values", "float-cast-overflow"),
        ("load of value", "invalid-value-load"),
        ("insufficient space for an object", "object-size"),
    ];
    known
        .iter()
        .find(|(needle, _)| message.contains(needle))
        .map(|(_, kind)| kind.to_string())
        .unwrap_or_else(|| "undefined-behavior".to_string())
}

/// `    #1 0x55d in main /work/main.c:7` → `main.c:7 (main)`; frames outside /work are skipped.
fn frame_location(line: &str) -> Option<String> {
    let t = line.trim_start();
    if !t.starts_with('#') {
        return None;
    }
    let mut parts = t.split_whitespace();
    let _num = parts.next()?;
    let _addr = parts.next()?;
    if parts.next()? != "in" {
        return None;
    }
    let func = parts.next()?;
    let file = parts.next()?;
    let file = file.strip_prefix("/work/")?;
    Some(format!("{file} ({func})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_asan_and_ubsan_reports() {
        let asan = "=================================================================\n\
==12==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602 at pc 0x1 bp 0x2 sp 0x3\n\
WRITE of size 1 at 0x602 thread T0\n\
    #0 0x7f in __interceptor_memset ../../../../src/libsanitizer/asan/asan_interceptors.cpp:1\n\
    #1 0x55 in main /work/main.c:7\n";
        let f = parse_findings(asan);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, "heap-buffer-overflow");
        assert_eq!(f[0].location.as_deref(), Some("main.c:7 (main)"));
        let ub = "/work/main.c:5:11: runtime error: signed integer overflow: 2147483647 + 1 cannot be represented in type 'int'\n";
        let f = parse_findings(ub);
        assert_eq!(f[0].kind, "signed-integer-overflow");
        assert_eq!(f[0].location.as_deref(), Some("/work/main.c:5:11"));
        assert!(parse_findings("all good\n").is_empty());
        assert!(parse_findings("==1==ERROR: AddressSanitizer: hard rss limit exhausted (1Mb vs 2Mb)\n").is_empty());
    }

    #[test]
    fn java_class_names() {
        assert_eq!(java_class_name("public class Hello {\n}"), "Hello");
        assert_eq!(java_class_name("class X {}"), "Main");
    }
}
