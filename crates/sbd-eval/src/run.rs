//! Running a suite against a backend, with optional verify-and-repair, into a run directory.
//!
//! A run directory holds `results.jsonl` (one [`TaskResult`] per line, appended and flushed as
//! each task finishes, so an interrupted run keeps what it finished and `resume` continues it)
//! and, once the run completes, `run.json` ([`RunSummary`]: what ran, metrics with intervals).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, BackendError, Mode, Request};
use crate::metrics::{Metric, compute};
use crate::oracle::{OracleOptions, TaskResult, judge, repair_feedback};
use crate::suite::Task;

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Format { path: String, line: usize, message: String },
    #[error("task {task}: {source}")]
    Backend { task: String, source: BackendError },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |source| RunError::Io { path: path.display().to_string(), source }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub mode: Mode,
    /// Verify-and-repair rounds after the first answer (0: plain generation).
    pub repair: u32,
    pub oracle: OracleOptions,
    /// Parallel generations.
    pub concurrency: usize,
    /// Skip tasks already in `results.jsonl`.
    pub resume: bool,
    /// Independent samples per task (≥ 1); with more than one, pass@k is reported for
    /// k = 1, 5, 10 up to the number of samples.
    pub samples: u32,
    /// Also run the sandbox's escape suite once (`SER.escape`: the share of hostile programs
    /// the sandbox that runs the tests contains).
    pub escape_suite: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::Instruct,
            repair: 0,
            oracle: OracleOptions::default(),
            concurrency: 1,
            resume: false,
            samples: 1,
            escape_suite: false,
        }
    }
}

/// Runs `sbd-sandbox`'s escape suite and scores it: `SER.escape` = contained attempts over
/// attempts that could run here (an attempt whose toolchain is missing does not count).
pub fn escape_metric() -> Result<Metric, RunError> {
    let rows = sbd_sandbox::escape::run_selftest(false).map_err(|e| RunError::Format {
        path: "escape suite".into(),
        line: 0,
        message: e.to_string(),
    })?;
    let ran: Vec<bool> = rows.iter().filter_map(|r| r.contained).collect();
    Ok(Metric::proportion("SER.escape", ran.iter().filter(|c| **c).count(), ran.len()))
}

/// The record of a finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub suite: String,
    pub backend: String,
    pub started_at: String,
    pub finished_at: String,
    pub repair: u32,
    pub tests_run: bool,
    pub tasks: usize,
    pub metrics: Vec<Metric>,
    /// Metrics per suite, for runs over several suites.
    #[serde(default)]
    pub per_suite: Vec<(String, Vec<Metric>)>,
}

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Reads a run directory's `results.jsonl`.
pub fn read_results(dir: &Path) -> Result<Vec<TaskResult>, RunError> {
    let path = dir.join("results.jsonl");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(r) => out.push(r),
            // A line cut off by a kill is the last one; anything else is corruption.
            Err(_) if i + 1 == text.lines().count() => break,
            Err(e) => {
                return Err(RunError::Format { path: path.display().to_string(), line: i + 1, message: e.to_string() });
            }
        }
    }
    Ok(out)
}

/// Reads a run's summary (`DIR/run.json`, or a `run.json` path).
pub fn read_summary(path: &Path) -> Result<(RunSummary, PathBuf), RunError> {
    let (file, dir) = if path.is_dir() {
        (path.join("run.json"), path.to_path_buf())
    } else {
        (path.to_path_buf(), path.parent().map(Path::to_path_buf).unwrap_or_default())
    };
    let text = std::fs::read_to_string(&file).map_err(io(&file))?;
    let s = serde_json::from_str(&text).map_err(|e| RunError::Format {
        path: file.display().to_string(),
        line: e.line(),
        message: e.to_string(),
    })?;
    Ok((s, dir))
}

/// Answers one task: generate, judge, and repair up to `opts.repair` rounds.
pub fn evaluate_task(backend: &dyn Backend, task: &Task, opts: &RunOptions) -> Result<TaskResult, BackendError> {
    evaluate_sample(backend, task, 0, opts)
}

/// Answers one independent sample of a task (see [`RunOptions::samples`]).
pub fn evaluate_sample(
    backend: &dyn Backend,
    task: &Task,
    sample: u32,
    opts: &RunOptions,
) -> Result<TaskResult, BackendError> {
    let start = Instant::now();
    let first = backend.complete(&Request { task, mode: opts.mode, repair: None, round: 0, sample })?;
    let first_latency = start.elapsed().as_micros() as u64;
    let mut result = judge(task, &first, opts.oracle);
    let secure_first = result.secure;
    let mut rounds = 0;
    if backend.can_repair() {
        while rounds < opts.repair {
            let Some(feedback) = repair_feedback(task, &result) else { break };
            rounds += 1;
            let req = Request {
                task,
                mode: opts.mode,
                repair: Some((result.completion.clone(), feedback)),
                round: rounds,
                sample,
            };
            let next = match backend.complete(&req) {
                Ok(c) => c,
                Err(BackendError::Missing(_)) => break,
                Err(e) => return Err(e),
            };
            result = judge(task, &next, opts.oracle);
        }
    }
    result.sample = sample;
    result.secure_first = secure_first;
    result.repair_rounds = rounds;
    result.repair_budget = opts.repair;
    if backend.timed() {
        result.first_latency_us = first_latency.max(1);
        result.latency_us = (start.elapsed().as_micros() as u64).max(result.first_latency_us);
    }
    Ok(result)
}

/// Runs `tasks` into `dir`. `progress(done, total)` is called after every task; setting
/// `cancel` stops after the tasks in flight (their results are kept). Returns every result in
/// the directory (resumed ones included) and whether the run completed.
pub fn run_tasks(
    backend: &dyn Backend,
    tasks: &[Task],
    dir: &Path,
    opts: &RunOptions,
    cancel: &AtomicBool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(Vec<TaskResult>, bool), RunError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let path = dir.join("results.jsonl");
    let mut done: Vec<TaskResult> = if opts.resume { read_results(dir)? } else { Vec::new() };
    if !opts.resume && path.exists() {
        std::fs::remove_file(&path).map_err(io(&path))?;
    }
    if opts.resume {
        // Rewrite without a possibly truncated last line.
        let mut text = String::new();
        for r in &done {
            text.push_str(&serde_json::to_string(r).unwrap_or_default());
            text.push('\n');
        }
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    let seen: HashSet<(String, u32)> = done.iter().map(|r| (r.task_id.clone(), r.sample)).collect();
    let samples = opts.samples.max(1);
    let todo: Vec<(&Task, u32)> = tasks
        .iter()
        .flat_map(|t| (0..samples).map(move |s| (t, s)))
        .filter(|(t, s)| !seen.contains(&(t.id.clone(), *s)))
        .collect();
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io(&path))?;
    let sink = Mutex::new((file, Vec::new()));
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(done.len());
    let total = tasks.len() * samples as usize;
    let failure: Mutex<Option<RunError>> = Mutex::new(None);
    let workers = opts.concurrency.clamp(1, 64).min(todo.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(task, sample)) = todo.get(i) else { return };
                    match evaluate_sample(backend, task, sample, opts) {
                        Ok(r) => {
                            let line = serde_json::to_string(&r).unwrap_or_default();
                            let mut g = match sink.lock() {
                                Ok(g) => g,
                                Err(p) => p.into_inner(),
                            };
                            let write = writeln!(g.0, "{line}").and_then(|_| g.0.flush());
                            if let Err(e) = write {
                                if let Ok(mut f) = failure.lock() {
                                    f.get_or_insert(RunError::Io { path: path.display().to_string(), source: e });
                                }
                                cancel.store(true, Ordering::Relaxed);
                                return;
                            }
                            g.1.push(r);
                            drop(g);
                            progress(finished.fetch_add(1, Ordering::Relaxed) + 1, total);
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(RunError::Backend { task: task.id.clone(), source: e });
                            }
                            cancel.store(true, Ordering::Relaxed);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let new = match sink.into_inner() {
        Ok(s) => s.1,
        Err(p) => p.into_inner().1,
    };
    done.extend(new);
    // Keep the suite's order.
    let order: std::collections::HashMap<&str, usize> =
        tasks.iter().enumerate().map(|(i, t)| (t.id.as_str(), i)).collect();
    done.sort_by_key(|r| (order.get(r.task_id.as_str()).copied().unwrap_or(usize::MAX), r.sample));
    let complete = done.len() >= total;
    Ok((done, complete))
}

/// Builds and writes `run.json` for finished results.
pub fn write_summary(
    dir: &Path,
    suite: &str,
    backend: &str,
    started_at: &str,
    opts: &RunOptions,
    results: &[TaskResult],
) -> Result<RunSummary, RunError> {
    let mut suites: Vec<String> = results.iter().map(|r| r.suite.clone()).collect();
    suites.sort();
    suites.dedup();
    let per_suite = if suites.len() > 1 {
        suites
            .iter()
            .map(|s| {
                let rs: Vec<TaskResult> = results.iter().filter(|r| &r.suite == s).cloned().collect();
                (s.clone(), compute(&rs))
            })
            .collect()
    } else {
        Vec::new()
    };
    let finished_at = now_utc();
    let summary = RunSummary {
        // Time to the second plus sub-second nanos and the process id: two runs that finish in
        // the same second (fast suites, CI) must not replace each other in the history.
        id: format!(
            "{}-{}-{:09}{}",
            finished_at.replace([':', '-'], ""),
            suite.replace([',', '/'], "+"),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()),
            std::process::id() % 1000
        ),
        suite: suite.to_string(),
        backend: backend.to_string(),
        started_at: started_at.to_string(),
        finished_at,
        repair: opts.repair,
        tests_run: opts.oracle.run_tests,
        tasks: results.len(),
        metrics: {
            let mut m = compute(results);
            if opts.escape_suite {
                m.push(escape_metric()?);
            }
            m
        },
        per_suite,
    };
    let path = dir.join("run.json");
    let text = serde_json::to_string_pretty(&summary).map_err(|e| RunError::Format {
        path: path.display().to_string(),
        line: 0,
        message: e.to_string(),
    })?;
    std::fs::write(&path, text).map_err(io(&path))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{References, Replay, Which};
    use crate::suite::builtin;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sbd-eval-run-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn cancel_keeps_finished_results_and_resume_completes() {
        let tasks: Vec<Task> = builtin("overridebench").unwrap().into_iter().take(12).collect();
        let dir = tmp("resume");
        let cancel = AtomicBool::new(false);
        let opts = RunOptions::default();
        let stop_after_5 = |done: usize, _| {
            if done >= 5 {
                cancel.store(true, Ordering::Relaxed);
            }
        };
        let (rs, complete) =
            run_tasks(&References(Which::Secure), &tasks, &dir, &opts, &cancel, &stop_after_5).unwrap();
        assert!(!complete && rs.len() == 5, "{}", rs.len());
        // Simulate a kill mid-write.
        let p = dir.join("results.jsonl");
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        write!(f, "{{\"task_id\": \"trunc").unwrap();
        drop(f);
        let cancel = AtomicBool::new(false);
        let resumed = RunOptions { resume: true, ..RunOptions::default() };
        let (rs, complete) =
            run_tasks(&References(Which::Secure), &tasks, &dir, &resumed, &cancel, &|_, _| {}).unwrap();
        assert!(complete && rs.len() == 12);
        assert_eq!(
            rs.iter().map(|r| r.task_id.as_str()).collect::<Vec<_>>(),
            tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>()
        );
        assert_eq!(read_results(&dir).unwrap().len(), 12);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn repair_rounds_use_recorded_answers() {
        let tasks: Vec<Task> = builtin("securebench").unwrap().into_iter().take(3).collect();
        let mut text = String::new();
        for t in &tasks {
            text.push_str(&serde_json::json!({"task_id": t.id, "completion": t.insecure, "round": 0}).to_string());
            text.push('\n');
            text.push_str(&serde_json::json!({"task_id": t.id, "completion": t.secure, "round": 1}).to_string());
            text.push('\n');
        }
        let replay = Replay::parse(&text, "mem").unwrap();
        let opts = RunOptions { repair: 2, ..RunOptions::default() };
        for t in &tasks {
            let r = evaluate_task(&replay, t, &opts).unwrap();
            assert!(r.secure && !r.secure_first && r.repair_rounds == 1, "{r:?}");
        }
        let plain = evaluate_task(&replay, &tasks[0], &RunOptions::default()).unwrap();
        assert!(!plain.secure && plain.repair_rounds == 0);
    }

    #[test]
    fn timestamps_are_iso() {
        let t = now_utc();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
