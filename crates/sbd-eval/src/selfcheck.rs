//! Calibration self-check: every built-in suite answered by its own insecure references must
//! score near 0 SCR, and by its secure references near 100. This proves that the oracles and
//! the metrics are wired the right way round; a template whose references the oracles cannot
//! tell apart shows up here by task id.
//!
//! Tasks whose only security oracle is their security (exploit) tests are judged by running
//! those tests on both references in the sandbox, always: the secure reference must pass every
//! one, the insecure reference must fail at least one. They run on a few worker threads; the
//! suites keep them to Python and JavaScript where they can (fast to start) and to C/C++ where
//! the weakness is memory safety. A task that cannot be judged (the sandbox cannot run here)
//! is listed with the reason and fails the check: nothing is assumed.

use serde::Serialize;

use crate::backend::{Backend, Mode, References, Request, Which};
use crate::oracle::{OracleOptions, TaskResult, judge};
use crate::suite::{BUILTIN, SuiteError, Task, builtin};

/// Bounds the self-check enforces.
pub const MAX_INSECURE_SCR: f64 = 0.02;
pub const MIN_SECURE_SCR: f64 = 0.98;

/// One suite's self-check row.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub suite: String,
    pub tasks: usize,
    /// SCR of each side over the judged tasks.
    pub scr_secure: f64,
    pub scr_insecure: f64,
    /// Tasks whose secure reference fails or insecure reference passes.
    pub misjudged_secure: Vec<String>,
    pub misjudged_insecure: Vec<String>,
    /// Functional tests: (passed, total) for secure references, when run.
    pub tests_secure: Option<(usize, usize)>,
    pub pass: bool,
    /// Tasks judged by their security tests, and those tests: (passed, total) for the secure
    /// references and (failed, total) for the insecure ones.
    pub exploit_tasks: usize,
    pub exploit_secure: (usize, usize),
    pub exploit_insecure: (usize, usize),
    /// Tasks that could not be judged, and why (the first reason seen).
    pub unjudged: Vec<String>,
    pub unjudged_reason: Option<String>,
}

/// Judges both references of one task.
fn judge_pair(t: &Task, run_tests: bool) -> (TaskResult, TaskResult) {
    let req = Request { task: t, mode: Mode::Instruct, repair: None, round: 0, sample: 0 };
    let s = References(Which::Secure).complete(&req).unwrap_or_default();
    let i = References(Which::Insecure).complete(&req).unwrap_or_default();
    let rs = judge(t, &s, OracleOptions { run_tests, security_tests: true, ..OracleOptions::default() });
    // One failed security test is enough to show the insecure side is caught.
    let ri =
        judge(t, &i, OracleOptions { security_tests: true, first_security_failure: true, ..OracleOptions::default() });
    (rs, ri)
}

/// Judges every task's pair, the sandboxed ones on a few threads; results in task order.
fn judge_all(tasks: &[Task], with_tests: &[bool]) -> Vec<(TaskResult, TaskResult)> {
    let slow: Vec<usize> = (0..tasks.len()).filter(|&i| with_tests[i] || tasks[i].security_needs_tests()).collect();
    let mut out: Vec<Option<(TaskResult, TaskResult)>> = vec![None; tasks.len()];
    // A sandboxed run spends much of its time setting up namespaces and starting the
    // interpreter or compiler: two workers per core keep the cores busy.
    let workers = std::thread::available_parallelism().map_or(4, |n| 2 * n.get()).clamp(2, 16);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers.min(slow.len()) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = slow.get(k) else { return };
                    let pair = judge_pair(&tasks[i], with_tests[i]);
                    match done.lock() {
                        Ok(mut g) => g.push((i, pair)),
                        Err(p) => p.into_inner().push((i, pair)),
                    }
                }
            });
        }
        // The static-only tasks on this thread meanwhile.
        for (i, t) in tasks.iter().enumerate() {
            if !(with_tests[i] || t.security_needs_tests()) {
                out[i] = Some(judge_pair(t, false));
            }
        }
    });
    let done = match done.into_inner() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    for (i, pair) in done {
        out[i] = Some(pair);
    }
    // Every index was filled by exactly one of the two loops above.
    out.into_iter().map(|p| p.unwrap_or_default()).collect()
}

/// Runs the self-check over the built-in suites. With `tests`, the secure references of up to
/// `tests` tasks per suite that have tests are also run in the sandbox and must pass all of
/// them.
pub fn selfcheck(tests: usize) -> Result<Vec<Row>, SuiteError> {
    let mut rows = Vec::new();
    for name in BUILTIN {
        let tasks = builtin(name)?;
        let mut ran = 0;
        let with_tests: Vec<bool> = tasks
            .iter()
            .map(|t| {
                let w = ran < tests && !t.tests.is_empty();
                ran += usize::from(w);
                w
            })
            .collect();
        let judged = judge_all(&tasks, &with_tests);
        let mut row = Row {
            suite: name.to_string(),
            tasks: tasks.len(),
            scr_secure: 0.0,
            scr_insecure: 0.0,
            misjudged_secure: Vec::new(),
            misjudged_insecure: Vec::new(),
            tests_secure: None,
            pass: false,
            exploit_tasks: 0,
            exploit_secure: (0, 0),
            exploit_insecure: (0, 0),
            unjudged: Vec::new(),
            unjudged_reason: None,
        };
        let (mut ok_s, mut ok_i, mut n) = (0, 0, 0);
        let (mut tests_passed, mut tests_total) = (0, 0);
        for ((t, (rs, ri)), &w) in tasks.iter().zip(&judged).zip(&with_tests) {
            if w {
                tests_passed += rs.tests_passed + rs.security_tests_passed;
                tests_total += rs.tests_total + rs.security_tests_total;
            }
            if t.security_needs_tests() {
                row.exploit_tasks += 1;
                row.exploit_secure.0 += rs.security_tests_passed;
                row.exploit_secure.1 += rs.security_tests_total;
                row.exploit_insecure.0 += ri.security_tests_total - ri.security_tests_passed;
                row.exploit_insecure.1 += ri.security_tests_total;
            }
            if rs.security_unjudged || ri.security_unjudged {
                row.unjudged.push(t.id.clone());
                if row.unjudged_reason.is_none() {
                    row.unjudged_reason = rs.tests_error.clone().or_else(|| ri.tests_error.clone());
                }
                continue;
            }
            n += 1;
            if rs.secure {
                ok_s += 1;
            } else {
                row.misjudged_secure.push(t.id.clone());
            }
            if ri.secure {
                ok_i += 1;
                row.misjudged_insecure.push(t.id.clone());
            }
        }
        let n = f64::from(u32::try_from(n.max(1)).unwrap_or(u32::MAX));
        row.scr_secure = f64::from(ok_s) / n;
        row.scr_insecure = f64::from(ok_i) / n;
        row.tests_secure = (ran > 0).then_some((tests_passed, tests_total));
        row.pass = row.scr_secure >= MIN_SECURE_SCR
            && row.scr_insecure <= MAX_INSECURE_SCR
            && tests_passed == tests_total
            && row.unjudged.is_empty();
        rows.push(row);
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
            if !r.unjudged.is_empty() {
                // Only an environment without a working sandbox leaves tasks unjudged.
                eprintln!(
                    "skipped: {} tasks of {} not judged: {}",
                    r.unjudged.len(),
                    r.suite,
                    r.unjudged_reason.as_deref().unwrap_or("no reason recorded")
                );
                assert!(r.unjudged_reason.is_some(), "{}: unjudged without a reason", r.suite);
                continue;
            }
            assert!(r.pass, "{r:?}");
            // Every exploit-judged task: the secure side passes all its security tests, the
            // insecure side fails at least one per task.
            assert_eq!(r.exploit_secure.0, r.exploit_secure.1, "{}", r.suite);
            assert!(r.exploit_insecure.0 >= r.exploit_tasks, "{}: {:?}", r.suite, r.exploit_insecure);
        }
    }
}
