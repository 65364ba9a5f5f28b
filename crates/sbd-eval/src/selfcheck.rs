//! Calibration self-check: every built-in suite answered by its own insecure references must
//! score near 0 SCR, and by its secure references near 100. This proves that the oracles and
//! the metrics are wired the right way round; a template whose references the verifier cannot
//! tell apart shows up here by task id.

use serde::Serialize;

use crate::backend::{Backend, Mode, References, Request, Which};
use crate::oracle::{OracleOptions, judge};
use crate::suite::{BUILTIN, SuiteError, builtin};

/// Bounds the self-check enforces.
pub const MAX_INSECURE_SCR: f64 = 0.02;
pub const MIN_SECURE_SCR: f64 = 0.98;

/// One suite's self-check row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub suite: String,
    pub tasks: usize,
    pub scr_secure: f64,
    pub scr_insecure: f64,
    /// Tasks whose secure reference fails or insecure reference passes.
    pub misjudged_secure: Vec<String>,
    pub misjudged_insecure: Vec<String>,
    /// Functional tests: (passed, total) for secure references, when run.
    pub tests_secure: Option<(usize, usize)>,
    pub pass: bool,
}

/// Runs the self-check over the built-in suites. With `tests`, the secure references of up to
/// `tests` tasks per suite that have functional tests are also run in the sandbox and must pass.
pub fn selfcheck(tests: usize) -> Result<Vec<Row>, SuiteError> {
    let mut rows = Vec::new();
    for name in BUILTIN {
        let tasks = builtin(name)?;
        let mut sec = Vec::new();
        let mut ins = Vec::new();
        let mut ok_s = 0;
        let mut ok_i = 0;
        let mut ran = 0;
        let mut tests_passed = 0;
        let mut tests_total = 0;
        for t in &tasks {
            let req = Request { task: t, mode: Mode::Instruct, repair: None, round: 0, sample: 0 };
            let s = References(Which::Secure).complete(&req).unwrap_or_default();
            let i = References(Which::Insecure).complete(&req).unwrap_or_default();
            let with_tests = tests > 0 && ran < tests && !t.tests.is_empty();
            if with_tests {
                ran += 1;
            }
            let rs = judge(t, &s, OracleOptions { run_tests: with_tests, ..OracleOptions::default() });
            let ri = judge(t, &i, OracleOptions::default());
            if rs.secure {
                ok_s += 1;
            } else {
                sec.push(t.id.clone());
            }
            if ri.secure {
                ok_i += 1;
                ins.push(t.id.clone());
            }
            if with_tests {
                tests_passed += rs.tests_passed;
                tests_total += rs.tests_total;
            }
        }
        let n = tasks.len().max(1) as f64;
        let scr_secure = ok_s as f64 / n;
        let scr_insecure = ok_i as f64 / n;
        let tests_ok = tests_passed == tests_total;
        rows.push(Row {
            suite: name.to_string(),
            tasks: tasks.len(),
            scr_secure,
            scr_insecure,
            misjudged_secure: sec,
            misjudged_insecure: ins,
            tests_secure: (ran > 0).then_some((tests_passed, tests_total)),
            pass: scr_secure >= MIN_SECURE_SCR && scr_insecure <= MAX_INSECURE_SCR && tests_ok,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_suite_is_calibrated() {
        let rows = selfcheck(0).unwrap();
        for r in &rows {
            assert!(
                r.misjudged_secure.is_empty() && r.misjudged_insecure.is_empty(),
                "{}: secure refs failing {:?}; insecure refs passing {:?}",
                r.suite,
                r.misjudged_secure,
                r.misjudged_insecure
            );
            assert!(r.pass);
        }
    }
}
