//! The escape suite: hostile programs (C, Python, Rust, in `escapes/`) that try to break out,
//! each with a check of the *host* afterwards. `sbd sandbox selftest` runs them all.
//!
//! The host side plants what an escape would need: a world-readable secret in a
//! world-writable directory outside the work directory, a TCP listener on 127.0.0.1 that
//! counts connections, and a marked host process to find and kill. An attempt is contained
//! when the host shows no trace of it (secret not printed, no file written, no connection
//! accepted, marker process alive, no daemon left) and resource attacks were stopped by
//! the limit the policy sets.
use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::Error;
use crate::outcome::{Limit, Outcome};
use crate::policy::{Filesystem, Policy};
use crate::runner::{Language, RunRequest, Toolchain, Verdict, run_unit};
use crate::sandbox::TempDir;

/// One escape program.
pub struct Escape {
    pub name: &'static str,
    pub attempt: &'static str,
    pub language: Language,
    pub source: &'static str,
    pub expected: &'static str,
}

/// The suite, in the order the table prints it.
pub const SUITE: &[Escape] = &[
    Escape {
        name: "read_secret_c",
        attempt: "read a secret file outside the work dir (C)",
        language: Language::C,
        source: include_str!("../escapes/read_secret.c"),
        expected: "secret not readable",
    },
    Escape {
        name: "read_secret_rs",
        attempt: "read a secret file outside the work dir (Rust)",
        language: Language::Rust,
        source: include_str!("../escapes/read_secret.rs"),
        expected: "secret not readable",
    },
    Escape {
        name: "write_outside",
        attempt: "write outside the work dir",
        language: Language::Python,
        source: include_str!("../escapes/write_outside.py"),
        expected: "every write denied",
    },
    Escape {
        name: "connect_loopback_rs",
        attempt: "connect to a 127.0.0.1 listener (Rust)",
        language: Language::Rust,
        source: include_str!("../escapes/connect_loopback.rs"),
        expected: "no connection accepted",
    },
    Escape {
        name: "connect_loopback_py",
        attempt: "connect to a 127.0.0.1 listener (Python)",
        language: Language::Python,
        source: include_str!("../escapes/connect_loopback.py"),
        expected: "no connection accepted",
    },
    Escape {
        name: "resolve_host",
        attempt: "resolve a host name / send UDP",
        language: Language::Python,
        source: include_str!("../escapes/resolve_host.py"),
        expected: "no resolution, no datagram",
    },
    Escape {
        name: "fork_bomb",
        attempt: "fork bomb",
        language: Language::C,
        source: include_str!("../escapes/fork_bomb.c"),
        expected: "stopped at the process limit",
    },
    Escape {
        name: "alloc_unbounded",
        attempt: "allocate memory without bound",
        language: Language::C,
        source: include_str!("../escapes/alloc_unbounded.c"),
        expected: "stopped at the memory limit",
    },
    Escape {
        name: "alloc_shared",
        attempt: "allocate shared / System V memory",
        language: Language::C,
        source: include_str!("../escapes/alloc_shared.c"),
        expected: "stopped at the memory limit",
    },
    Escape {
        name: "alloc_forked",
        attempt: "multiply the memory limit by forking",
        language: Language::C,
        source: include_str!("../escapes/alloc_forked.c"),
        expected: "tree stopped at the memory limit",
    },
    Escape {
        name: "spin",
        attempt: "spin on the CPU forever",
        language: Language::C,
        source: include_str!("../escapes/spin.c"),
        expected: "killed at the CPU limit",
    },
    Escape {
        name: "fill_disk",
        attempt: "fill the disk",
        language: Language::Python,
        source: include_str!("../escapes/fill_disk.py"),
        expected: "stopped at the /tmp size",
    },
    Escape {
        name: "exec_shell",
        attempt: "exec a shell / another interpreter",
        language: Language::C,
        source: include_str!("../escapes/exec_shell.c"),
        expected: "exec denied",
    },
    Escape {
        name: "exec_memfd",
        attempt: "exec a shell copied into a memfd",
        language: Language::C,
        source: include_str!("../escapes/exec_memfd.c"),
        expected: "exec denied",
    },
    Escape {
        name: "exec_ldso",
        attempt: "exec a shell through the dynamic loader",
        language: Language::C,
        source: include_str!("../escapes/exec_ldso.c"),
        expected: "exec denied",
    },
    Escape {
        name: "ptrace",
        attempt: "ptrace / process_vm_readv",
        language: Language::C,
        source: include_str!("../escapes/ptrace.c"),
        expected: "denied",
    },
    Escape {
        name: "proc_signals",
        attempt: "see /proc of, and signal, host processes",
        language: Language::Python,
        source: include_str!("../escapes/proc_signals.py"),
        expected: "host invisible, marker alive",
    },
    Escape {
        name: "proc_init",
        attempt: "read the supervisor's memory via /proc/1",
        language: Language::Python,
        source: include_str!("../escapes/proc_init.py"),
        expected: "denied",
    },
    Escape {
        name: "symlink_out",
        attempt: "follow symlinks out of the work dir",
        language: Language::Python,
        source: include_str!("../escapes/symlink_out.py"),
        expected: "secret not readable",
    },
    Escape {
        name: "sleep_past",
        attempt: "sleep past the time limit",
        language: Language::Python,
        source: include_str!("../escapes/sleep_past.py"),
        expected: "killed at the wall limit",
    },
    Escape {
        name: "daemon",
        attempt: "leave a daemon behind",
        language: Language::C,
        source: include_str!("../escapes/daemon.c"),
        expected: "no process survives",
    },
    Escape {
        name: "namespaces",
        attempt: "unshare / mount / bpf / load a module",
        language: Language::C,
        source: include_str!("../escapes/namespaces.c"),
        expected: "all denied",
    },
];

/// One row of the selftest table.
#[derive(Clone, Debug, Serialize)]
pub struct EscapeResult {
    pub name: String,
    pub attempt: String,
    pub language: Language,
    pub expected: String,
    pub observed: String,
    /// `None` when the attempt could not run here (a toolchain is missing).
    pub contained: Option<bool>,
    /// System calls the seccomp filter denied during the attempt (`name×count`).
    pub denied_syscalls: Vec<String>,
}

/// The policy escapes run under: the strict default with short limits.
pub fn escape_policy() -> Policy {
    Policy {
        wall_time_ms: 3_000,
        cpu_time_s: 1,
        memory_mb: 128,
        max_processes: 16,
        tmp_size_mb: 8,
        ..Policy::default()
    }
}

struct Host {
    _dir: TempDir,
    secret_path: PathBuf,
    token: String,
    outside_path: PathBuf,
    port: u16,
    accepted: Arc<AtomicU32>,
    stop: Arc<AtomicBool>,
    marker: String,
    marker_child: std::process::Child,
}

impl Host {
    fn plant() -> Result<Host, Error> {
        let dir = TempDir::create("sbd-secret-")?;
        let token = format!("SBD-SECRET-{}-{}", std::process::id(), nonce());
        let secret_path = dir.path().join("secret.txt");
        std::fs::write(&secret_path, &token).map_err(|e| Error::io(&secret_path, e))?;
        // World-readable and world-writable: only the sandbox stands in the way.
        for (p, mode) in [(dir.path(), 0o777), (secret_path.as_path(), 0o644)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(|e| Error::io(p, e))?;
        }
        let outside_path = dir.path().join("written-by-sandbox");
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("listener", e))?;
        listener.set_nonblocking(true).map_err(|e| Error::io("listener", e))?;
        let port = listener.local_addr().map_err(|e| Error::io("listener", e))?.port();
        let accepted = Arc::new(AtomicU32::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (accepted, stop) = (accepted.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut s, _)) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                            let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
                            let _ = s.read(&mut [0u8; 64]);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            });
        }
        let marker = format!("sbd-marker-{}", nonce());
        let marker_child = std::process::Command::new("sleep")
            .arg0(&marker)
            .arg("600")
            .spawn()
            .map_err(|e| Error::io("sleep (marker process)", e))?;
        Ok(Host { _dir: dir, secret_path, token, outside_path, port, accepted, stop, marker, marker_child })
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.marker_child.kill();
        let _ = self.marker_child.wait();
    }
}

fn nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:x}", (t as u64) ^ ((std::process::id() as u64) << 32))
}

/// Host processes whose name (comm) is `name`.
fn host_processes_named(name: &str) -> Vec<i32> {
    let mut found = vec![];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Ok(comm) = std::fs::read_to_string(e.path().join("comm"))
                && comm.trim() == name
            {
                found.push(pid);
            }
        }
    }
    found
}

/// The most a tree may have held when the memory limit stopped it: the cgroup is exact
/// (5% for accounting granularity); the watchdog samples every 10 ms, so what the tree
/// allocates within one sample (tens of MiB per core) can come on top.
fn memory_allowance(o: &Outcome, policy: &Policy) -> u64 {
    if o.memory_cgroup { policy.memory_mb + policy.memory_mb / 20 } else { policy.memory_mb + policy.memory_mb / 2 }
}

fn number_after(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(key))
        .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .next_back()
}

/// Run the whole suite.
pub fn run_selftest(allow_degraded: bool) -> Result<Vec<EscapeResult>, Error> {
    let mut host = Host::plant()?;
    let mut rows = Vec::new();
    for esc in SUITE {
        rows.push(run_one(esc, &mut host, allow_degraded)?);
    }
    Ok(rows)
}

/// Run one escape by name (tests use this).
pub fn run_named(name: &str, allow_degraded: bool) -> Result<EscapeResult, Error> {
    let esc = SUITE.iter().find(|e| e.name == name).ok_or_else(|| Error::Spec(format!("no escape named {name}")))?;
    let mut host = Host::plant()?;
    run_one(esc, &mut host, allow_degraded)
}

fn run_one(esc: &Escape, host: &mut Host, allow_degraded: bool) -> Result<EscapeResult, Error> {
    let mut row = EscapeResult {
        name: esc.name.into(),
        attempt: esc.attempt.into(),
        language: esc.language,
        expected: esc.expected.into(),
        observed: String::new(),
        contained: None,
        denied_syscalls: vec![],
    };
    if let Err(e) = Toolchain::discover(esc.language) {
        row.observed = format!("not run: {e}");
        return Ok(row);
    }
    let mut policy = escape_policy();
    let secret = host.secret_path.display().to_string();
    let daemon_name: String = format!("sbdd{}", nonce()).chars().take(15).collect();
    let args: Vec<String> = match esc.name {
        "read_secret_c" | "read_secret_rs" | "symlink_out" => vec![secret.clone()],
        "write_outside" => vec![host.outside_path.display().to_string()],
        "connect_loopback_rs" | "connect_loopback_py" => vec![host.port.to_string()],
        "proc_signals" => vec![host.marker.clone(), host.marker_child.id().to_string()],
        "daemon" => vec![daemon_name.clone()],
        _ => vec![],
    };
    if matches!(esc.name, "fill_disk" | "symlink_out") {
        policy.filesystem = Filesystem::ReadWrite;
    }
    if esc.name == "spin" {
        policy.wall_time_ms = 5_000;
    }
    let accepted_before = host.accepted.load(Ordering::Relaxed);
    let mut req = RunRequest::new(esc.language, esc.source);
    req.policy = policy.clone();
    req.sanitizers = false;
    req.allow_degraded = allow_degraded;
    req.harness.args = args;
    let report = run_unit(&req)?;
    if report.verdict == Verdict::CompileFailed {
        let stderr = report.compile.map(|c| c.stderr).unwrap_or_default();
        row.observed = format!("escape program failed to compile: {}", first_line(&stderr));
        row.contained = Some(false);
        return Ok(row);
    }
    let Some(o) = report.run else {
        row.observed = "did not run".into();
        row.contained = Some(false);
        return Ok(row);
    };
    // Give a would-be daemon or connection a moment to show up on the host.
    std::thread::sleep(Duration::from_millis(50));
    let (contained, observed) = judge(esc.name, &o, host, &policy, accepted_before, &daemon_name);
    row.denied_syscalls = o
        .violations
        .iter()
        .map(|v| match v {
            crate::Violation::Syscall { name, count } => format!("{name}×{count}"),
        })
        .collect();
    row.observed = format!("{observed} [{}]", o.describe());
    row.contained = Some(contained);
    Ok(row)
}

fn first_line(s: &str) -> String {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").to_string()
}

fn judge(
    name: &str,
    o: &Outcome,
    host: &mut Host,
    policy: &Policy,
    accepted_before: u32,
    daemon_name: &str,
) -> (bool, String) {
    let out = &o.stdout;
    let leaked = out.contains(&host.token);
    match name {
        "read_secret_c" | "read_secret_rs" | "symlink_out" => (
            !leaked && !out.contains("LEAK"),
            if leaked { "SECRET PRINTED".into() } else { format!("{} attempts denied", out.matches("denied").count()) },
        ),
        "write_outside" => {
            let on_host = host.outside_path.exists();
            let wrote: Vec<&str> = out.lines().filter(|l| l.starts_with("WROTE")).collect();
            (
                !on_host && wrote.is_empty(),
                if on_host {
                    "FILE APPEARED ON HOST".into()
                } else if !wrote.is_empty() {
                    wrote.join("; ")
                } else {
                    format!("{} writes denied", out.matches("denied").count())
                },
            )
        }
        "connect_loopback_rs" | "connect_loopback_py" => {
            let n = host.accepted.load(Ordering::Relaxed) - accepted_before;
            (n == 0 && !out.contains("CONNECTED"), format!("listener accepted {n} connection(s)"))
        }
        "resolve_host" => {
            (!out.contains("RESOLVED"), format!("{} lookups/sends denied", out.matches("denied").count()))
        }
        "fork_bomb" => match number_after(out, "FORKED ") {
            Some(n) => (n < policy.max_processes, format!("{n} forks before EAGAIN")),
            None => (o.limit.is_some(), "no count printed".into()),
        },
        "alloc_unbounded" => match number_after(out, "ALLOCATED ") {
            Some(mb) => (mb <= policy.memory_mb, format!("{mb} MiB before allocation failed")),
            None => {
                let peak = o.peak_memory_kb.unwrap_or(o.peak_rss_kb) / 1024;
                (
                    o.limit == Some(Limit::Memory) && peak <= memory_allowance(o, policy),
                    format!("killed at {peak} MiB tree peak"),
                )
            }
        },
        "alloc_shared" => {
            let shared = number_after(out, "SHARED ");
            let sysv = number_after(out, "SYSV ");
            let peak = o.peak_memory_kb.unwrap_or(o.peak_rss_kb) / 1024;
            let show = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
            let within = |n: Option<u64>| n.is_none_or(|n| n <= policy.memory_mb);
            // Either the calls were refused, or the tree was stopped at the limit.
            let stopped = o.limit == Some(Limit::Memory) || (shared.is_some() && sysv.is_some());
            (
                within(shared) && within(sysv) && stopped && peak <= memory_allowance(o, policy),
                format!("shared {} MiB, System V {} MiB, tree peak {peak} MiB", show(shared), show(sysv)),
            )
        }
        "alloc_forked" => {
            // Children allocate up to 120 MiB each and hold it while the others report.
            let total = number_after(out, "TOTAL ");
            let peak = o.peak_memory_kb.map(|k| k / 1024);
            let how = if o.memory_cgroup { "cgroup" } else { "watchdog" };
            (
                total.is_none_or(|t| t <= policy.memory_mb) && peak.is_some_and(|p| p <= memory_allowance(o, policy)),
                format!(
                    "children reached {} MiB together, tree peak {} MiB ({how})",
                    total.map_or("-".to_string(), |t| t.to_string()),
                    peak.map_or("?".to_string(), |p| p.to_string())
                ),
            )
        }
        "spin" => (
            matches!(o.limit, Some(Limit::CpuTime | Limit::WallTime)) && o.wall_ms <= policy.wall_time_ms + 1_000,
            format!("stopped after {} ms CPU", o.cpu_ms),
        ),
        "fill_disk" => match number_after(out, "WROTE_MB ") {
            Some(mb) => (mb <= policy.tmp_size_mb + 1, format!("{mb} MiB written")),
            None => (o.limit.is_some(), "no count printed".into()),
        },
        "exec_shell" | "exec_memfd" | "exec_ldso" => (
            !out.contains("SHELL_RAN"),
            if out.contains("SHELL_RAN") { "SHELL RAN".into() } else { "no shell ran".into() },
        ),
        "ptrace" => (
            !out.contains("ATTACHED") && !out.contains("VMREAD"),
            if out.contains("ATTACHED") || out.contains("VMREAD") {
                "ATTACHED/READ".into()
            } else {
                "ptrace and process_vm_readv denied".into()
            },
        ),
        "proc_signals" => {
            let alive = matches!(host.marker_child.try_wait(), Ok(None));
            let visible = number_after(out, "VISIBLE ").unwrap_or(u64::MAX);
            (
                alive && !out.contains("SEEN_HOST") && visible <= 4,
                format!("{visible} pids visible, marker {}", if alive { "alive" } else { "KILLED" }),
            )
        }
        "proc_init" => (
            !out.contains("READ"),
            format!("{} of 5 reads denied", out.lines().filter(|l| l.starts_with("denied")).count()),
        ),
        "sleep_past" => (
            o.limit == Some(Limit::WallTime) && !out.contains("WOKE UP") && o.wall_ms <= policy.wall_time_ms + 1_500,
            format!("killed after {} ms", o.wall_ms),
        ),
        "daemon" => {
            let survivors = host_processes_named(daemon_name);
            for pid in &survivors {
                let _ = crate::sys::kill(*pid, libc::SIGKILL);
            }
            (survivors.is_empty(), format!("{} survivor(s) on the host", survivors.len()))
        }
        "namespaces" => {
            let bad = ["UNSHARED", "MOUNTED", "BPF", "MODULE"].iter().filter(|m| out.lines().any(|l| l == **m)).count();
            (bad == 0, format!("{bad} of 4 succeeded"))
        }
        _ => (false, "unknown escape".into()),
    }
}

/// Render rows as a fixed-width table.
pub fn table(rows: &[EscapeResult]) -> String {
    let mut s = format!("{:<47} {:<30} {:<58} {}\n", "attempt", "expected", "observed", "contained");
    for r in rows {
        let c = match r.contained {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "skipped",
        };
        s.push_str(&format!("{:<47} {:<30} {:<58} {}\n", r.attempt, r.expected, r.observed, c));
    }
    s
}
