//! What a run may do: the [`Policy`], and how it is read from an ANRF instance.
//!
//! # Mapping from ANRF 1.1.0 `security.isolation_requirements`
//!
//! | ANRF field | unit | `Policy` field | enforcement |
//! |---|---|---|---|
//! | `resource_limits.time` | milliseconds of wall-clock time | `wall_time_ms` | parent kills PID 1 of the sandbox; the kernel kills the rest |
//! | `resource_limits.cpu` | CPU seconds (fractions round up) | `cpu_time_s` | `RLIMIT_CPU` (SIGXCPU, then SIGKILL one second later) |
//! | `resource_limits.memory` | MiB | `memory_mb` | whole tree: memory cgroup when available, else a 10 ms `/proc` watchdog; per process: `RLIMIT_DATA` (not for sanitizer builds, see [`MemoryEnforcement`](crate::MemoryEnforcement)) |
//! | `resource_limits.network` | bool | `network` | `false`: empty network namespace, seccomp denies non-UNIX sockets, landlock denies TCP bind/connect |
//! | `resource_limits.filesystem` | `None`/`ReadOnly`/`ReadWrite` | `filesystem` | see [`Filesystem`] |
//! | `process_isolation` | bool | `process_isolation` | recorded; PID/IPC/UTS namespaces are always used |
//! | `memory_isolation` | bool | `memory_isolation` | recorded; ptrace and `process_vm_*` are always denied |
//!
//! The isolation booleans never weaken the sandbox: a unit that says it does not need
//! isolation still gets it (secure by default). Values are clamped to [`Ceilings`] so an
//! instance cannot ask for an hour of CPU. Fields missing from the instance keep the strict
//! default of [`Policy::default`].
use serde::{Deserialize, Serialize};

use crate::Error;

/// What the sandboxed program may do with the filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Filesystem {
    /// Nothing is writable; the program can read the system runtime and its work directory.
    None,
    /// Same enforcement as `None` (the program needs to read its runtime and its own files
    /// to start at all); kept distinct because ANRF distinguishes it.
    ReadOnly,
    /// A private, size-capped `/tmp` (`tmp_size_mb`) is writable and discarded at exit. The
    /// work directory itself stays read-only.
    ReadWrite,
}

/// Limits and permissions of one sandboxed run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub wall_time_ms: u64,
    pub cpu_time_s: u64,
    pub memory_mb: u64,
    pub network: bool,
    pub filesystem: Filesystem,
    pub process_isolation: bool,
    pub memory_isolation: bool,
    /// `RLIMIT_NPROC`: processes and threads of the sandbox user.
    pub max_processes: u64,
    /// `RLIMIT_NOFILE`.
    pub max_open_files: u64,
    /// `RLIMIT_FSIZE` in MiB.
    pub max_file_size_mb: u64,
    /// Size of the writable `/tmp` when `filesystem` is `ReadWrite`.
    pub tmp_size_mb: u64,
    /// Bytes kept of stdout and of stderr each; the rest is counted and dropped.
    pub output_limit_bytes: usize,
}

impl Default for Policy {
    /// The strict policy used when no ANRF instance is given.
    fn default() -> Self {
        Policy {
            wall_time_ms: 5_000,
            cpu_time_s: 5,
            memory_mb: 256,
            network: false,
            filesystem: Filesystem::None,
            process_isolation: true,
            memory_isolation: true,
            max_processes: 32,
            max_open_files: 64,
            max_file_size_mb: 16,
            tmp_size_mb: 16,
            output_limit_bytes: 1 << 20,
        }
    }
}

/// Upper bounds an ANRF instance cannot exceed.
pub struct Ceilings;

impl Ceilings {
    pub const WALL_TIME_MS: u64 = 600_000;
    pub const CPU_TIME_S: u64 = 600;
    pub const MEMORY_MB: u64 = 16_384;
}

#[derive(Deserialize)]
struct AnrfDoc {
    security: Option<AnrfSecurity>,
}

#[derive(Deserialize)]
struct AnrfSecurity {
    isolation_requirements: Option<AnrfIsolation>,
}

#[derive(Deserialize)]
struct AnrfIsolation {
    process_isolation: Option<bool>,
    memory_isolation: Option<bool>,
    resource_limits: Option<AnrfLimits>,
}

#[derive(Deserialize)]
struct AnrfLimits {
    cpu: Option<f64>,
    memory: Option<f64>,
    time: Option<f64>,
    network: Option<bool>,
    filesystem: Option<Filesystem>,
}

fn positive(field: &str, v: f64) -> Result<f64, Error> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::Policy(format!(
            "security.isolation_requirements.resource_limits.{field} must be a positive number, got {v}"
        )))
    }
}

impl Policy {
    /// Read the policy from an ANRF instance (JSON text). Only
    /// `security.isolation_requirements` is read; the rest of the instance is not validated
    /// here (that is `sbd anrf validate`'s job).
    pub fn from_anrf_json(text: &str) -> Result<Policy, Error> {
        let doc: AnrfDoc =
            serde_json::from_str(text).map_err(|e| Error::Policy(format!("not an ANRF instance: {e}")))?;
        let iso = doc
            .security
            .and_then(|s| s.isolation_requirements)
            .ok_or_else(|| Error::Policy("ANRF instance has no security.isolation_requirements".into()))?;
        let mut p = Policy::default();
        if let Some(v) = iso.process_isolation {
            p.process_isolation = v;
        }
        if let Some(v) = iso.memory_isolation {
            p.memory_isolation = v;
        }
        if let Some(l) = iso.resource_limits {
            if let Some(cpu) = l.cpu {
                let s = positive("cpu", cpu)?.ceil() as u64;
                p.cpu_time_s = s.clamp(1, Ceilings::CPU_TIME_S);
            }
            if let Some(mem) = l.memory {
                let mb = positive("memory", mem)?.ceil() as u64;
                p.memory_mb = mb.clamp(1, Ceilings::MEMORY_MB);
            }
            if let Some(t) = l.time {
                let ms = positive("time", t)?.ceil() as u64;
                p.wall_time_ms = ms.clamp(1, Ceilings::WALL_TIME_MS);
            }
            if let Some(n) = l.network {
                p.network = n;
            }
            if let Some(fs) = l.filesystem {
                p.filesystem = fs;
            }
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"anrf_version":"1.1.0","security":{"safety_level":"MemorySafe",
      "isolation_requirements":{"process_isolation":true,"memory_isolation":true,
      "resource_limits":{"cpu":1.5,"memory":128,"time":1000,"network":false,"filesystem":"ReadWrite"}}}}"#;

    #[test]
    fn maps_anrf_units() {
        let p = Policy::from_anrf_json(MINIMAL).unwrap();
        assert_eq!(p.cpu_time_s, 2, "1.5 CPU seconds round up");
        assert_eq!(p.memory_mb, 128);
        assert_eq!(p.wall_time_ms, 1000);
        assert!(!p.network);
        assert_eq!(p.filesystem, Filesystem::ReadWrite);
    }

    #[test]
    fn clamps_and_rejects() {
        let big = MINIMAL.replace("\"time\":1000", "\"time\":1e12");
        assert_eq!(Policy::from_anrf_json(&big).unwrap().wall_time_ms, Ceilings::WALL_TIME_MS);
        let neg = MINIMAL.replace("\"memory\":128", "\"memory\":-3");
        assert!(Policy::from_anrf_json(&neg).is_err());
        assert!(Policy::from_anrf_json(r#"{"security":{}}"#).is_err());
        assert!(Policy::from_anrf_json("[").is_err());
    }

    #[test]
    fn missing_limits_keep_strict_defaults() {
        let p =
            Policy::from_anrf_json(r#"{"security":{"isolation_requirements":{"process_isolation":false}}}"#).unwrap();
        assert!(!p.process_isolation);
        assert_eq!(p.memory_mb, Policy::default().memory_mb);
        assert!(!p.network);
    }
}
