//! `sbd-sandbox` — run untrusted, model-written code without trusting it.
//!
//! A run gets a fresh set of Linux namespaces (user, mount, PID, IPC, UTS, cgroup, and network
//! unless the policy allows network), a private root made of read-only system directories, a
//! `/work` directory, `/proc` of its own PID namespace and a handful of devices; landlock rules
//! that deny every file access, execution and TCP connection not granted; a seccomp filter
//! that denies ptrace, mounts, kernel modules, BPF, keyrings, io_uring, new namespaces and
//! (without network) every non-UNIX socket; rlimits for CPU, memory, file size, processes and
//! open files; `no_new_privs` and no capabilities; a wall-clock timeout that kills the whole
//! tree; and capped stdout/stderr. No container engine and no system library is needed.
//!
//! * [`policy`] — what a run may do, and the mapping from ANRF `isolation_requirements`.
//! * [`sandbox`] — one run: [`Spec`] in, [`Outcome`] out.
//! * [`runner`] — compile and run C, C++ (with ASan/UBSan), Rust (overflow checks), Python,
//!   JavaScript and Java units inside the sandbox, with a test harness.
//! * [`formal`] — Frama-C EVA on C units, when installed.
//! * [`escape`] — the escape suite behind `sbd sandbox selftest`.
//!
//! All `unsafe` code is in the private `sys` module, each block with a `// SAFETY:` comment.
//! The crate root says `deny(unsafe_code)` rather than the house `forbid` only because
//! `forbid` cannot be lifted for that one module; every other module is unsafe-free.
//!
//! Memory is capped three ways: `RLIMIT_DATA` per process; a memory/pids cgroup for the
//! whole tree when the caller may create one (root, or a delegated subtree; v1 and v2),
//! which also yields the tree's peak and OOM kills; otherwise a watchdog that samples the
//! tree's anonymous + shared RSS every 10 ms and kills it above the limit (it can overshoot
//! by what the tree allocates within one tick).
//!
//! Known limits: paths denied by landlock are not reported as violations (that needs the
//! audit subsystem); without landlock ABI ≥ 6, a run *with* network could reach the host's
//! abstract UNIX sockets.
#![deny(unsafe_code)]

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
compile_error!("sbd-sandbox supports 64-bit Linux only");

mod cgroup;
pub mod escape;
mod filter;
pub mod formal;
mod landlock;
pub mod outcome;
pub mod policy;
pub mod runner;
pub mod sandbox;
mod sys;

pub use outcome::{Limit, Mechanism, Outcome, Violation};
pub use policy::{Filesystem, Policy};
pub use sandbox::{Exec, Mechanisms, MemoryEnforcement, Spec, Workspace, run};
pub use sys::kill;

use std::path::Path;

/// Errors of the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sandbox mechanism missing: {}. {detail}", list(.missing))]
    Missing { missing: Vec<Mechanism>, detail: String },
    #[error("invalid policy: {0}")]
    Policy(String),
    #[error("invalid run specification: {0}")]
    Spec(String),
    #[error("building the seccomp filter: {0}")]
    Seccomp(String),
    #[error("sandbox setup failed at stage {stage}: {source}{}", if .stderr.is_empty() { String::new() } else { format!("\n{}", .stderr) })]
    Setup { stage: String, source: std::io::Error, stderr: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Tool(String),
}

impl Error {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
}

fn list(m: &[Mechanism]) -> String {
    m.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
}
