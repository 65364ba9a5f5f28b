//! One sandboxed run: build the plan, start the tree, watch the clock, collect the outcome.
use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cgroup::Cgroup;
use crate::landlock as ll;
use crate::outcome::{Limit, Mechanism, Outcome, Violation};
use crate::policy::{Filesystem, Policy};
use crate::sys::{self, ChildPlan, LandlockPlan, MountOp};
use crate::{Error, filter};

/// Host uid/gid the sandbox user maps to when `sbd` runs as root (`nobody`/`nogroup`).
/// An unprivileged caller can only map its own uid.
pub const HOST_ID_WHEN_ROOT: u32 = 65534;

/// Where the program may `execve`.
#[derive(Clone, Debug)]
pub enum Exec {
    /// Anything under the system directories and extra mounts (compilers, which run `as`,
    /// `ld`, `cc1`…).
    System,
    /// Only these files (sandbox paths), plus anything in `/work`. Used to run generated
    /// programs: a shell, or any other tool, cannot be started.
    Only(Vec<PathBuf>),
}

/// How the memory limit is enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryEnforcement {
    /// `RLIMIT_DATA` = `memory_mb`: private writable mappings (heap, mmap'd anonymous
    /// memory, thread stacks) are capped by the kernel.
    Rlimit,
    /// No memory rlimit: AddressSanitizer reserves terabytes of shadow memory, which any of
    /// `RLIMIT_AS`/`RLIMIT_DATA` would refuse. Memory is still capped for the whole tree by
    /// the run's cgroup, or by the memory watchdog when no cgroup can be created (and the
    /// C/C++ runner sets ASan's own limits too).
    SanitizerAllocator,
}

/// A program to run in the sandbox.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Path of the program inside the sandbox (`/usr/bin/python3`, `/work/prog`).
    pub program: PathBuf,
    /// Arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Environment (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Host directory mounted at `/work` (the current directory of the program).
    pub work_dir: PathBuf,
    /// Mount `/work` writable (compilation) instead of read-only.
    pub work_writable: bool,
    /// Extra host directories mounted read-only at the same path (toolchains outside /usr).
    pub extra_mounts: Vec<PathBuf>,
    pub exec: Exec,
    /// With [`Exec::Only`]: how many `execve` calls of the program's own process are let
    /// through — 1 (the program itself) unless a trusted launcher execs again before any
    /// untrusted code runs (valgrind executes its tool: 2). Every other exec is denied.
    pub exec_budget: u32,
    pub memory: MemoryEnforcement,
    /// When no cgroup can be created, sample the tree's memory every 10 ms and kill it
    /// above `memory_mb` (rlimits alone cap each process, so N processes could use N times
    /// the limit). On by default; off for tools with large reservations they never touch.
    pub memory_watchdog: bool,
    /// Bytes on stdin (empty: `/dev/null`).
    pub stdin: Vec<u8>,
    pub policy: Policy,
    /// Run even if a mechanism is missing (recorded in `Outcome::degraded`).
    pub allow_degraded: bool,
}

impl Spec {
    pub fn new(program: impl Into<PathBuf>, work_dir: impl Into<PathBuf>, policy: Policy) -> Self {
        Spec {
            program: program.into(),
            args: vec![],
            env: default_env(),
            work_dir: work_dir.into(),
            work_writable: false,
            extra_mounts: vec![],
            exec: Exec::Only(vec![]),
            exec_budget: 1,
            memory: MemoryEnforcement::Rlimit,
            memory_watchdog: true,
            stdin: vec![],
            policy,
            allow_degraded: false,
        }
    }
}

/// The environment a sandboxed program starts with.
pub fn default_env() -> Vec<(String, String)> {
    [("PATH", "/usr/local/bin:/usr/bin:/bin"), ("HOME", "/tmp"), ("TMPDIR", "/tmp"), ("LANG", "C.UTF-8")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Which mechanisms this kernel offers (probed once per process).
#[derive(Clone, Debug)]
pub struct Mechanisms {
    pub namespaces: Result<(), String>,
    pub landlock_abi: Result<i32, String>,
    pub seccomp: bool,
}

impl Mechanisms {
    /// Probe the kernel (cached). `SBD_SANDBOX_ASSUME_MISSING=landlock,seccomp` makes the
    /// sandbox behave as if those were missing (for testing the refusal path); it can only
    /// make runs stricter to start, never weaker without `allow_degraded`.
    pub fn get() -> &'static Mechanisms {
        static M: OnceLock<Mechanisms> = OnceLock::new();
        M.get_or_init(|| {
            let assume = std::env::var("SBD_SANDBOX_ASSUME_MISSING").unwrap_or_default();
            let off = |n: &str| assume.split(',').any(|s| s.trim() == n);
            let namespaces = if off("namespaces") {
                Err("assumed missing (SBD_SANDBOX_ASSUME_MISSING)".into())
            } else {
                sys::probe_namespaces(all_namespaces(false)).map_err(|e| e.to_string())
            };
            let landlock_abi = if off("landlock") {
                Err("assumed missing (SBD_SANDBOX_ASSUME_MISSING)".into())
            } else {
                sys::landlock_abi().map_err(|e| e.to_string())
            };
            Mechanisms { namespaces, landlock_abi, seccomp: !off("seccomp") && sys::seccomp_available() }
        })
    }

    /// Mechanisms that are not available.
    pub fn missing(&self) -> Vec<Mechanism> {
        let mut m = vec![];
        if self.namespaces.is_err() {
            m.push(Mechanism::Namespaces);
        }
        if self.landlock_abi.is_err() {
            m.push(Mechanism::Landlock);
        }
        if !self.seccomp {
            m.push(Mechanism::Seccomp);
        }
        m
    }
}

fn all_namespaces(network: bool) -> i32 {
    let mut f = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWCGROUP;
    if !network {
        f |= libc::CLONE_NEWNET;
    }
    f
}

fn cstr(p: impl AsRef<std::ffi::OsStr>) -> Result<CString, Error> {
    CString::new(p.as_ref().as_bytes()).map_err(|_| Error::Spec(format!("{:?} contains a NUL byte", p.as_ref())))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
const RUN_PREFIX: &str = "sbd-sbx-";
const WORK_PREFIX: &str = "sbd-work-";

/// A temporary directory removed on drop. Its name carries our pid, so directories left by
/// a killed `sbd` are removed by the next one (see [`sweep_stale`]).
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn create(prefix: &str) -> Result<TempDir, Error> {
        sweep_stale();
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("{prefix}{}-{n}-{nanos:08x}", std::process::id()));
        fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        remove_tree(&self.path);
    }
}

fn remove_tree(path: &Path) {
    if fs::remove_dir_all(path).is_ok() {
        return;
    }
    // The program may have left a directory without write permission: fix and retry.
    fn open_up(p: &Path) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(md) = fs::symlink_metadata(p)
            && md.is_dir()
        {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    open_up(&e.path());
                }
            }
        }
    }
    open_up(path);
    let _ = fs::remove_dir_all(path);
}

/// Remove sandbox temp directories whose owning process no longer exists (an `sbd` that was
/// killed before it could clean up). Runs once per process.
pub fn sweep_stale() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let Ok(rd) = fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Some(rest) = name.strip_prefix(RUN_PREFIX).or_else(|| name.strip_prefix(WORK_PREFIX)) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                remove_tree(&e.path());
            }
        }
    });
}

/// A work directory for a run (mounted at `/work`), owned by the sandbox user.
#[derive(Debug)]
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Result<Workspace, Error> {
        let dir = TempDir::create(WORK_PREFIX)?;
        let ws = Workspace { dir };
        ws.give_to_sandbox(ws.path())?;
        Ok(ws)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file into the workspace (readable by the sandbox user).
    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> Result<PathBuf, Error> {
        let p = self.path().join(name);
        fs::write(&p, data).map_err(|e| Error::io(&p, e))?;
        self.give_to_sandbox(&p)?;
        Ok(p)
    }

    fn give_to_sandbox(&self, p: &Path) -> Result<(), Error> {
        let (uid, _) = sys::effective_ids();
        if uid == 0 {
            std::os::unix::fs::chown(p, Some(HOST_ID_WHEN_ROOT), Some(HOST_ID_WHEN_ROOT))
                .map_err(|e| Error::io(p, e))?;
        }
        Ok(())
    }
}

struct Capture {
    data: Vec<u8>,
    truncated: bool,
}

fn capture(fd: OwnedFd, cap: usize) -> std::thread::JoinHandle<Capture> {
    std::thread::spawn(move || {
        let mut f = fs::File::from(fd);
        let mut data = Vec::new();
        let mut truncated = false;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(data.len());
                    if n > room {
                        truncated = true;
                    }
                    data.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        Capture { data, truncated }
    })
}

// The resource constants are `u32` with glibc and `i32` with musl.
#[allow(clippy::unnecessary_cast)]
fn rlimits(policy: &Policy, memory: MemoryEnforcement) -> Vec<(u32, u64, u64)> {
    let mb = 1024 * 1024;
    let mut v = vec![
        (libc::RLIMIT_CPU, policy.cpu_time_s, policy.cpu_time_s.saturating_add(1)),
        (libc::RLIMIT_FSIZE, policy.max_file_size_mb * mb, policy.max_file_size_mb * mb),
        (libc::RLIMIT_NPROC, policy.max_processes, policy.max_processes),
        (libc::RLIMIT_NOFILE, policy.max_open_files, policy.max_open_files),
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_MEMLOCK, 0, 0),
        (libc::RLIMIT_MSGQUEUE, 0, 0),
    ];
    if memory == MemoryEnforcement::Rlimit {
        v.push((libc::RLIMIT_DATA, policy.memory_mb * mb, policy.memory_mb * mb));
    }
    v.into_iter().map(|(r, s, h)| (r as u32, s, h)).collect()
}

/// Directories and symlinks of the host root that make up the read-only system view.
const SYSTEM_DIRS: &[&str] = &["usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32"];
/// `/dev/zero` is left out on purpose: a shared mapping of it is shmem, memory that no
/// rlimit counts.
const DEVICES: &[&str] = &["null", "full", "random", "urandom"];

fn mount_plan(spec: &Spec, root: &Path) -> Result<Vec<MountOp>, Error> {
    let mut ops = Vec::new();
    let at = |p: &str| root.join(p.trim_start_matches('/'));
    for d in SYSTEM_DIRS {
        let host = Path::new("/").join(d);
        match fs::symlink_metadata(&host) {
            Ok(md) if md.file_type().is_symlink() => {
                let target = fs::read_link(&host).map_err(|e| Error::io(&host, e))?;
                ops.push(MountOp::Symlink { target: cstr(&target)?, path: cstr(at(d))? });
            }
            Ok(md) if md.is_dir() => {
                ops.push(MountOp::Mkdir { path: cstr(at(d))?, mode: 0o755 });
                ops.push(MountOp::Bind { source: cstr(&host)?, path: cstr(at(d))?, read_only: true });
            }
            _ => {}
        }
    }
    let mut made = std::collections::BTreeSet::new();
    for extra in &spec.extra_mounts {
        if !extra.is_absolute() {
            return Err(Error::Spec(format!("extra mount {extra:?} is not absolute")));
        }
        if SYSTEM_DIRS.iter().any(|d| extra.starts_with(Path::new("/").join(d))) {
            continue;
        }
        let mut cur = PathBuf::from("/");
        for comp in extra.components().skip(1) {
            cur.push(comp);
            if made.insert(cur.clone()) {
                ops.push(MountOp::Mkdir { path: cstr(at(&cur.to_string_lossy()))?, mode: 0o755 });
            }
        }
        ops.push(MountOp::Bind { source: cstr(extra)?, path: cstr(at(&extra.to_string_lossy()))?, read_only: true });
    }
    ops.push(MountOp::Mkdir { path: cstr(at("proc"))?, mode: 0o555 });
    ops.push(MountOp::Proc { path: cstr(at("proc"))? });
    ops.push(MountOp::Mkdir { path: cstr(at("dev"))?, mode: 0o755 });
    ops.push(MountOp::Tmpfs { path: cstr(at("dev"))?, data: cstr("size=64k,mode=0755")? });
    for d in DEVICES {
        ops.push(MountOp::Touch { path: cstr(at(&format!("dev/{d}")))? });
        ops.push(MountOp::Bind {
            source: cstr(format!("/dev/{d}"))?,
            path: cstr(at(&format!("dev/{d}")))?,
            read_only: false,
        });
    }
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        ops.push(MountOp::Symlink { target: cstr(target)?, path: cstr(at(&format!("dev/{name}")))? });
    }
    ops.push(MountOp::Mkdir { path: cstr(at("tmp"))?, mode: 0o1777 });
    if spec.policy.filesystem == Filesystem::ReadWrite || spec.work_writable {
        ops.push(MountOp::Tmpfs {
            path: cstr(at("tmp"))?,
            data: cstr(format!("size={}m,mode=1777,nr_inodes=4096", spec.policy.tmp_size_mb.max(1)))?,
        });
    }
    ops.push(MountOp::Mkdir { path: cstr(at("work"))?, mode: 0o755 });
    ops.push(MountOp::Bind { source: cstr(&spec.work_dir)?, path: cstr(at("work"))?, read_only: !spec.work_writable });
    ops.push(MountOp::RemountRootReadOnly);
    Ok(ops)
}

fn landlock_plan(spec: &Spec, abi: i32) -> Result<LandlockPlan, Error> {
    let system_exec = matches!(spec.exec, Exec::System);
    let sys_rights = ll::READ | if system_exec { ll::EXECUTE } else { 0 };
    let mut rules = vec![];
    for d in ["/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
        rules.push((cstr(d)?, sys_rights));
    }
    for extra in &spec.extra_mounts {
        rules.push((cstr(extra)?, sys_rights));
    }
    let work = ll::READ | ll::EXECUTE | if spec.work_writable { ll::WRITE } else { 0 };
    rules.push((cstr("/work")?, work));
    if spec.policy.filesystem == Filesystem::ReadWrite || spec.work_writable {
        rules.push((cstr("/tmp")?, ll::READ | ll::WRITE));
    }
    rules.push((cstr("/proc")?, ll::READ | ll::WRITE_FILE));
    rules.push((cstr("/dev")?, ll::READ_DIR));
    for d in ["null", "full"] {
        rules.push((cstr(format!("/dev/{d}"))?, ll::READ_FILE | ll::WRITE_FILE | ll::TRUNCATE));
    }
    for d in ["random", "urandom"] {
        rules.push((cstr(format!("/dev/{d}"))?, ll::READ_FILE));
    }
    if let Exec::Only(files) = &spec.exec {
        for f in files {
            rules.push((cstr(f)?, ll::READ_FILE | ll::EXECUTE));
        }
        for f in dynamic_loaders() {
            rules.push((cstr(f)?, ll::READ_FILE | ll::EXECUTE));
        }
    }
    Ok(LandlockPlan {
        abi,
        handled_fs: ll::fs_rights(abi),
        handled_net: if spec.policy.network { 0 } else { ll::net_rights(abi) },
        scoped: ll::scopes(abi),
        rules,
    })
}

/// The ELF interpreters present on this system (needed to execute any dynamic binary).
fn dynamic_loaders() -> Vec<PathBuf> {
    ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-x86-64.so.2"]
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect()
}

fn write_id_maps(pid: i32, privileged: bool, uid: u32, gid: u32) -> Result<(), Error> {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let (host_uid, host_gid) = if privileged { (HOST_ID_WHEN_ROOT, HOST_ID_WHEN_ROOT) } else { (uid, gid) };
    if !privileged {
        let p = base.join("setgroups");
        fs::write(&p, "deny").map_err(|e| Error::io(&p, e))?;
    }
    let p = base.join("uid_map");
    fs::write(&p, format!("{} {host_uid} 1\n", sys::INNER_ID)).map_err(|e| Error::io(&p, e))?;
    let p = base.join("gid_map");
    fs::write(&p, format!("{} {host_gid} 1\n", sys::INNER_ID)).map_err(|e| Error::io(&p, e))?;
    Ok(())
}

/// How often the memory watchdog samples the tree when there is no cgroup.
const WATCHDOG_TICK: Duration = Duration::from_millis(10);

/// Private memory (anonymous + shared) of a process tree, in KiB, from `/proc`.
fn tree_memory_kb(root: i32) -> u64 {
    let mut stack = vec![root];
    let mut total = 0;
    let mut visited = 0;
    while let Some(pid) = stack.pop() {
        visited += 1;
        if visited > 4096 {
            break;
        }
        let base = PathBuf::from(format!("/proc/{pid}"));
        if let Ok(status) = fs::read_to_string(base.join("status")) {
            for l in status.lines() {
                if let Some(v) = l.strip_prefix("RssAnon:").or_else(|| l.strip_prefix("RssShmem:")) {
                    total += v.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
                }
            }
        }
        if let Ok(tasks) = fs::read_dir(base.join("task")) {
            for t in tasks.flatten() {
                if let Ok(children) = fs::read_to_string(t.path().join("children")) {
                    stack.extend(children.split_whitespace().filter_map(|c| c.parse::<i32>().ok()));
                }
            }
        }
    }
    total
}

/// Run `spec` in a fresh sandbox and wait for it (at most the policy's wall time).
pub fn run(spec: &Spec) -> Result<Outcome, Error> {
    let mech = Mechanisms::get();
    let missing = mech.missing();
    if let Err(why) = &mech.namespaces {
        return Err(Error::Missing {
            missing: vec![Mechanism::Namespaces],
            detail: format!(
                "user namespaces are unavailable ({why}); the sandbox cannot run without them, \
                 even with --allow-degraded"
            ),
        });
    }
    if !missing.is_empty() && !spec.allow_degraded {
        return Err(Error::Missing {
            detail: format!(
                "landlock: {}, seccomp: {}; pass --allow-degraded to run without them",
                match &mech.landlock_abi {
                    Ok(v) => format!("ABI {v}"),
                    Err(e) => format!("missing ({e})"),
                },
                if mech.seccomp { "ok" } else { "missing" }
            ),
            missing,
        });
    }
    if !spec.work_dir.is_dir() {
        return Err(Error::Spec(format!("work directory {:?} does not exist", spec.work_dir)));
    }
    let policy = &spec.policy;
    let t0 = Instant::now();
    let rundir = TempDir::create(RUN_PREFIX)?;
    let root = rundir.path().join("root");
    fs::create_dir(&root).map_err(|e| Error::io(&root, e))?;

    let stdin_path = rundir.path().join("stdin");
    fs::write(&stdin_path, &spec.stdin).map_err(|e| Error::io(&stdin_path, e))?;
    let stdin = fs::File::open(&stdin_path).map_err(|e| Error::io(&stdin_path, e))?;
    let (out_r, out_w) = sys::pipe().map_err(|e| Error::io("pipe", e))?;
    let (err_r, err_w) = sys::pipe().map_err(|e| Error::io("pipe", e))?;
    let (rep_r, rep_w) = sys::pipe().map_err(|e| Error::io("pipe", e))?;
    let (sync_r, sync_w) = sys::pipe().map_err(|e| Error::io("pipe", e))?;

    let seccomp =
        if mech.seccomp { filter::programs(policy.network, true, matches!(spec.exec, Exec::Only(_)))? } else { vec![] };
    let landlock = match mech.landlock_abi {
        Ok(abi) => Some(landlock_plan(spec, abi)?),
        Err(_) => None,
    };
    let mut argv = vec![cstr(&spec.program)?];
    for a in &spec.args {
        argv.push(cstr(a)?);
    }
    let mut envp = vec![];
    for (k, v) in &spec.env {
        envp.push(cstr(format!("{k}={v}"))?);
    }
    if argv.len() > 63 || envp.len() > 63 {
        return Err(Error::Spec("at most 62 arguments and 63 environment variables".into()));
    }
    let (uid, gid) = sys::effective_ids();
    let privileged = uid == 0;
    let plan = ChildPlan {
        clone_flags: all_namespaces(policy.network),
        stdin_fd: stdin.as_raw_fd(),
        stdout_fd: out_w.as_raw_fd(),
        stderr_fd: err_w.as_raw_fd(),
        report_fd: rep_w.as_raw_fd(),
        sync_read_fd: sync_r.as_raw_fd(),
        sync_write_fd: sync_w.as_raw_fd(),
        new_root: cstr(&root)?,
        mounts: mount_plan(spec, &root)?,
        hostname: cstr("sbd-sandbox")?,
        cwd: cstr("/work")?,
        program: cstr(&spec.program)?,
        argv,
        envp,
        rlimits: rlimits(policy, spec.memory),
        drop_supplementary_groups: privileged,
        landlock,
        notify: !seccomp.is_empty(),
        exec_budget: if !seccomp.is_empty() && matches!(spec.exec, Exec::Only(_)) {
            spec.exec_budget.max(1)
        } else {
            0
        },
        seccomp,
    };

    let t_plan = t0.elapsed();
    let cgroup = Cgroup::create(
        &rundir.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        policy.memory_mb,
        policy.max_processes,
    );
    let t_cgroup = t0.elapsed();
    let start = Instant::now();
    let (pid, pidfd) = sys::spawn(&plan).map_err(|e| Error::io("clone", e))?;
    // Init waits for the sync byte before it forks: joining the cgroup now covers the tree.
    let cgroup = cgroup.filter(|cg| cg.add(pid));
    drop((stdin, out_w, err_w, rep_w, sync_r));
    // Keep the sync pipe's write end open until the child is reaped: init checks for EOF on
    // it to learn that we died.
    let mut sync = fs::File::from(sync_w);
    // From here on the child exists: never return before it is reaped.
    let out_t = capture(out_r, policy.output_limit_bytes);
    let err_t = capture(err_r, policy.output_limit_bytes);
    let maps = write_id_maps(pid, privileged, uid, gid);
    let mut timed_out = false;
    let mut watchdog_fired = false;
    let mut watchdog_peak_kb = 0u64;
    if maps.is_ok() {
        let _ = std::io::Write::write_all(&mut sync, b"g");
        let deadline = start + Duration::from_millis(policy.wall_time_ms);
        // Without a cgroup, rlimits cap each process, not the tree: watch the tree's memory.
        let watch = cgroup.is_none() && spec.memory_watchdog;
        let limit_kb = policy.memory_mb.saturating_mul(1024);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let slice = if watch { left.min(WATCHDOG_TICK) } else { left };
            let exited = sys::wait_readable(&pidfd, slice).map_err(|e| Error::io("poll", e));
            match exited {
                Ok(true) => break,
                Ok(false) if Instant::now() < deadline => {
                    let kb = tree_memory_kb(pid);
                    watchdog_peak_kb = watchdog_peak_kb.max(kb);
                    if kb > limit_kb {
                        watchdog_fired = true;
                        let _ = sys::pidfd_kill(&pidfd);
                        break;
                    }
                }
                _ => {
                    timed_out = true;
                    let _ = sys::pidfd_kill(&pidfd);
                    break;
                }
            }
        }
    } else {
        let _ = sys::pidfd_kill(&pidfd);
    }
    let reaped = sys::wait4(pid).map_err(|e| Error::io("wait4", e))?;
    tracing::debug!(
        "sandbox timings: plan {:?}, cgroup {:?}, clone..reaped {:?}",
        t_plan,
        t_cgroup - t_plan,
        start.elapsed()
    );
    let wall = start.elapsed();
    drop(sync);
    maps?;
    let mut records = Vec::new();
    let _ = fs::File::from(rep_r).read_to_end(&mut records);
    let out = out_t.join().unwrap_or(Capture { data: vec![], truncated: false });
    let err = err_t.join().unwrap_or(Capture { data: vec![], truncated: false });

    let mut status = None;
    let mut violations = vec![];
    for rec in records.chunks_exact(12) {
        let f = |i: usize| i32::from_ne_bytes([rec[i], rec[i + 1], rec[i + 2], rec[i + 3]]);
        match f(0) {
            sys::REPORT_ERROR => {
                let stage = sys::Stage::from_i32(f(4));
                return Err(Error::Setup {
                    stage: format!("{stage:?}"),
                    source: std::io::Error::from_raw_os_error(f(8)),
                    stderr: String::from_utf8_lossy(&err.data).into_owned(),
                });
            }
            sys::REPORT_STATUS => status = Some(f(4)),
            sys::REPORT_SYSCALL => {
                violations.push(Violation::Syscall { name: filter::syscall_name(f(4) as i64), count: f(8) as u32 })
            }
            _ => {}
        }
    }
    let (exit_code, signal) = match status {
        Some(s) if libc::WIFEXITED(s) => (Some(libc::WEXITSTATUS(s)), None),
        Some(s) if libc::WIFSIGNALED(s) => (None, Some(libc::WTERMSIG(s))),
        _ => (None, Some(libc::SIGKILL)),
    };
    let cpu_ms = reaped.cpu.as_millis() as u64;
    let oom = watchdog_fired || cgroup.as_ref().is_some_and(Cgroup::oom_killed);
    let limit = if timed_out {
        Some(Limit::WallTime)
    } else if oom {
        Some(Limit::Memory)
    } else if signal == Some(libc::SIGXCPU)
        || (signal == Some(libc::SIGKILL) && cpu_ms + 50 >= policy.cpu_time_s * 1000)
    {
        Some(Limit::CpuTime)
    } else if signal == Some(libc::SIGXFSZ) {
        Some(Limit::FileSize)
    } else if out.truncated || err.truncated {
        Some(Limit::Output)
    } else {
        None
    };
    Ok(Outcome {
        exit_code,
        signal,
        limit,
        cpu_ms,
        peak_rss_kb: reaped.max_rss_kb,
        peak_memory_kb: match &cgroup {
            Some(cg) => cg.peak_kb(),
            None if spec.memory_watchdog => Some(watchdog_peak_kb),
            None => None,
        },
        memory_cgroup: cgroup.is_some(),
        wall_ms: wall.as_millis() as u64,
        stdout: String::from_utf8_lossy(&out.data).into_owned(),
        stderr: String::from_utf8_lossy(&err.data).into_owned(),
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        violations,
        degraded: missing,
    })
}
