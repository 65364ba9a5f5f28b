//! What happened in a run, as data.
use serde::{Deserialize, Serialize};

/// Which limit ended (or shaped) the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The wall-clock timeout: the whole process tree was killed.
    WallTime,
    /// `RLIMIT_CPU`: SIGXCPU, or SIGKILL at the hard limit.
    CpuTime,
    /// `RLIMIT_FSIZE`: SIGXFSZ.
    FileSize,
    /// The memory limit: the cgroup's OOM killer or the memory watchdog fired, or the
    /// runtime reported running out of memory.
    Memory,
    /// Output beyond `output_limit_bytes` was dropped (the program kept running).
    Output,
}

/// A kernel mechanism the sandbox uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// User, mount, PID, IPC, UTS and cgroup namespaces (and network, when network is off).
    Namespaces,
    Landlock,
    Seccomp,
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mechanism::Namespaces => "namespaces",
            Mechanism::Landlock => "landlock",
            Mechanism::Seccomp => "seccomp",
        })
    }
}

/// The result of one sandboxed run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    /// Exit code when the program exited normally.
    pub exit_code: Option<i32>,
    /// Signal number when the program was killed by a signal.
    pub signal: Option<i32>,
    /// The limit that ended or shaped the run, if any.
    pub limit: Option<Limit>,
    /// User + system CPU time of the whole process tree, in milliseconds.
    pub cpu_ms: u64,
    /// Largest resident set of any process of the tree, in KiB.
    pub peak_rss_kb: u64,
    /// Peak memory of the whole tree, in KiB: cgroup accounting when a cgroup was used,
    /// otherwise the memory watchdog's highest sample (anonymous + shared RSS).
    pub peak_memory_kb: Option<u64>,
    /// Whether the run was in its own memory/pids cgroup (the memory limit then holds for
    /// the whole tree, not per process).
    pub memory_cgroup: bool,
    pub wall_ms: u64,
    /// Captured output (lossy UTF-8), at most `output_limit_bytes` each.
    pub stdout: String,
    pub stderr: String,
    pub stdout_truncated: bool,
    pub stderr_truncated: bool,
    /// Violations the sandbox observed: every system call the seccomp filter denied, with
    /// a count (socket attempts stand for denied network access). Paths denied by landlock
    /// or by the private mount view are not observable without the audit subsystem and
    /// are not listed. Not filled when the run hit the wall-clock limit (init is killed
    /// before it can report).
    pub violations: Vec<Violation>,
    /// Mechanisms that were missing and skipped (only with `allow_degraded`).
    pub degraded: Vec<Mechanism>,
}

/// Something the program tried and the sandbox denied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// A system call denied by the seccomp filter.
    Syscall { name: String, count: u32 },
}

impl Outcome {
    /// Exited with status 0 and no limit fired (output truncation aside).
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && matches!(self.limit, None | Some(Limit::Output))
    }

    /// A short human description: "exit 0", "signal 9 (wall_time)", …
    pub fn describe(&self) -> String {
        let base = match (self.exit_code, self.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown".to_string(),
        };
        match self.limit {
            Some(l) => format!(
                "{base} ({})",
                serde_json::to_value(l).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
            ),
            None => base,
        }
    }
}
