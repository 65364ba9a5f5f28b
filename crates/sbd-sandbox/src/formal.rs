//! Formal checks of C units: Frama-C's EVA abstract interpreter, run inside the sandbox.
//!
//! EVA analyses the program from `main` over all inputs it can reach and emits an *alarm*
//! for every operation that may be a runtime error (out-of-bounds access, invalid or
//! dangling pointer, signed overflow, division by zero, uninitialised read…). We report:
//!
//! * **proven** — no alarm and every statement of the analysed functions reached: the
//!   absence of those runtime errors is proven for every execution from `main`;
//! * **failed** — an alarm with status *Invalid* (a certain error), or alarms while `main`
//!   cannot terminate normally (every execution stops at an error); the location is the
//!   alarm's `file:line`;
//! * **unknown** — alarms EVA could neither prove nor refute (possible errors), or
//!   incomplete coverage.
//!
//! Tools that are not installed are reported as [`ToolStatus::NotAvailable`], never as
//! verified. CBMC is looked for but not run by this version (it is not packaged for Debian
//! bookworm); Miri is not supported yet.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::policy::Policy;
use crate::runner::build_policy;
use crate::sandbox::{self, Exec, MemoryEnforcement, Spec, Workspace};

/// The outcome for one property (an EVA alarm).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Property {
    /// `index_bound`, `mem_access`, `signed_overflow`, …
    pub kind: String,
    /// `Valid`, `Unknown`, `Invalid`, `Invalid or unreachable`.
    pub status: String,
    /// `file:line`.
    pub location: String,
    pub function: String,
    /// The ACSL assertion, e.g. `i < 4`.
    pub property: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FormalVerdict {
    Proven,
    Failed,
    Unknown,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ToolStatus {
    /// The tool is not installed (or cannot run here): nothing was verified.
    NotAvailable { reason: String },
    /// The tool ran.
    Ran {
        verdict: FormalVerdict,
        properties: Vec<Property>,
        /// `statements reached / statements` of the analysed functions.
        coverage: Option<(u64, u64)>,
        main_terminates: bool,
        summary: String,
    },
    /// The tool ran but could not analyse the file (parse error, crash, timeout).
    Error { message: String },
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToolResult {
    pub tool: String,
    #[serde(flatten)]
    pub status: ToolStatus,
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).and_then(|p| std::fs::canonicalize(p).ok())
}

/// Run every formal checker we support on a C file.
pub fn verify_c(file: &Path, allow_degraded: bool) -> Result<Vec<ToolResult>, Error> {
    let source = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let mut status = frama_c_eva(&source, allow_degraded)?;
    // Report locations against the user's file name, not our copy's.
    if let (ToolStatus::Ran { properties, .. }, Some(name)) = (&mut status, file.file_name().and_then(|n| n.to_str())) {
        for p in properties.iter_mut() {
            if let Some(line) = p.location.strip_prefix("unit.c:") {
                p.location = format!("{name}:{line}");
            }
        }
    }
    let mut results = vec![ToolResult { tool: "frama-c-eva".into(), status }];
    results.push(ToolResult {
        tool: "cbmc".into(),
        status: ToolStatus::NotAvailable {
            reason: match find_tool("cbmc") {
                Some(p) => format!("{} is installed but not supported by this version of sbd", p.display()),
                None => "cbmc is not installed".into(),
            },
        },
    });
    Ok(results)
}

/// Frama-C EVA on one C source, in the sandbox.
pub fn frama_c_eva(source: &str, allow_degraded: bool) -> Result<ToolStatus, Error> {
    let Some(frama) = find_tool("frama-c") else {
        return Ok(ToolStatus::NotAvailable {
            reason: "frama-c is not installed (Debian: apt-get install frama-c-base)".into(),
        });
    };
    let ws = Workspace::new()?;
    ws.write("unit.c", source)?;
    let mut spec = Spec::new(&frama, ws.path(), Policy { wall_time_ms: 120_000, ..build_policy() });
    spec.args = [
        "-machdep",
        "gcc_x86_64",
        "-eva",
        "-eva-precision",
        "2",
        "/work/unit.c",
        "-then",
        "-report-csv",
        "/work/report.csv",
    ]
    .map(String::from)
    .to_vec();
    spec.work_writable = true;
    spec.exec = Exec::System;
    // OCaml reserves a large heap address range; the build policy's time limits still hold.
    spec.memory = MemoryEnforcement::SanitizerAllocator;
    spec.allow_degraded = allow_degraded;
    let o = sandbox::run(&spec)?;
    let csv = std::fs::read_to_string(ws.path().join("report.csv")).unwrap_or_default();
    if !o.success() || csv.is_empty() {
        return Ok(ToolStatus::Error {
            message: format!(
                "frama-c {}: {}",
                o.describe(),
                o.stdout
                    .lines()
                    .chain(o.stderr.lines())
                    .filter(|l| l.contains("error") || l.contains("Error") || l.contains("User Error"))
                    .take(5)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    Ok(interpret(&o.stdout, &csv))
}

/// Turn EVA's log and CSV report into a verdict.
pub fn interpret(log: &str, csv: &str) -> ToolStatus {
    let properties: Vec<Property> = csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            if c.len() < 7 || c[0].starts_with("FRAMAC_SHARE") || c[5] == "Considered valid" {
                return None;
            }
            let file = c[1].rsplit('/').next().unwrap_or(c[1]);
            Some(Property {
                kind: c[4].to_string(),
                status: c[5].to_string(),
                location: format!("{file}:{}", c[2]),
                function: c[3].to_string(),
                property: c[6].to_string(),
            })
        })
        .collect();
    let main_terminates = !eva_final_state_of_main_is_non_terminating(log);
    let coverage = log.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("In these functions, ")?;
        let reached: u64 = rest.split_whitespace().next()?.parse().ok()?;
        let total: u64 = rest.split("(out of ").nth(1)?.split(')').next()?.trim().parse().ok()?;
        Some((reached, total))
    });
    let invalid = properties.iter().any(|p| p.status.starts_with("Invalid"));
    let unknown = properties.iter().any(|p| p.status == "Unknown");
    let full = coverage.is_some_and(|(r, t)| r == t);
    let verdict = if invalid || ((unknown || !properties.is_empty()) && !main_terminates) {
        FormalVerdict::Failed
    } else if unknown || !full {
        FormalVerdict::Unknown
    } else {
        FormalVerdict::Proven
    };
    let summary = log
        .lines()
        .skip_while(|l| !l.contains("ANALYSIS SUMMARY"))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("---"))
        .take(8)
        .collect::<Vec<_>>()
        .join("; ");
    ToolStatus::Ran { verdict, properties, coverage, main_terminates, summary }
}

fn eva_final_state_of_main_is_non_terminating(log: &str) -> bool {
    let mut in_main = false;
    for l in log.lines() {
        if l.contains("Values at end of function") {
            in_main = l.trim_end().ends_with("function main:");
        } else if in_main && l.contains("NON TERMINATING FUNCTION") {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interprets_eva_output() {
        let log = "[eva:final-states] Values at end of function main:\n  NON TERMINATING FUNCTION\n\
                   [eva:summary] ====== ANALYSIS SUMMARY ======\n  In these functions, 11 statements reached (out of 13): 84% coverage.\n";
        let csv = "directory\tfile\tline\tfunction\tproperty kind\tstatus\tproperty\n\
                   .\t/work/unit.c\t3\tget\tindex_bound\tUnknown\ti < 4\n\
                   FRAMAC_SHARE/libc\tstdlib.h\t73\tatof\tfrom clause\tConsidered valid\tx\n";
        match interpret(log, csv) {
            ToolStatus::Ran { verdict, properties, coverage, main_terminates, .. } => {
                assert_eq!(verdict, FormalVerdict::Failed);
                assert_eq!(properties.len(), 1);
                assert_eq!(properties[0].location, "unit.c:3");
                assert_eq!(coverage, Some((11, 13)));
                assert!(!main_terminates);
            }
            other => panic!("{other:?}"),
        }
        let ok = "  In these functions, 9 statements reached (out of 9): 100% coverage.\n";
        assert!(matches!(interpret(ok, "directory\tfile\n"), ToolStatus::Ran { verdict: FormalVerdict::Proven, .. }));
    }
}
