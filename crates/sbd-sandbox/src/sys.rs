// sbd:allow(RS001, justification="the sandbox system-call module: each unsafe block wraps raw system calls and carries a SAFETY comment; no other module may use unsafe", approver="sbd-maintainers", approved="2026-11-25", ticket="issue-5")

//! Every system call the sandbox makes that needs `unsafe`, in one place.
//!
//! The parent (`spawn`) creates the sandbox's first process with a raw `clone(2)` that also
//! creates the new user, mount, PID, IPC, UTS, cgroup and (when networking is off) network
//! namespaces. The parent process may be multi-threaded, so the child — until it calls
//! `execve` — must not allocate, lock or touch anything another thread may have held at the
//! time of the clone. Everything it needs (paths, argv, envp, the mount plan, the landlock
//! rules, the seccomp programs) is therefore prepared by the parent in a [`ChildPlan`] of
//! `CString`s and plain integers, and the child only reads it and issues raw system calls.
//!
//! Process layout inside the sandbox:
//!
//! ```text
//! parent (sbd) ──clone(NEW*)──► init (PID 1 of the new PID namespace)
//!                                 │  mounts, pivot_root, then fork
//!                                 └──► payload: drop ids and capabilities, rlimits,
//!                                      no_new_privs, landlock, seccomp, execve(program)
//! ```
//!
//! `init` reaps every process of the namespace, reports the payload's wait status over the
//! report pipe and exits as soon as the payload has exited. When PID 1 of a PID namespace
//! dies, the kernel kills every other process in it, so nothing the program started can
//! outlive the run. `init` also has `PR_SET_PDEATHSIG(SIGKILL)`, so if `sbd` itself is killed
//! the whole tree goes with it.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use libc::{c_char, c_int, c_long, c_ulong};

/// The uid and gid the payload runs as inside its user namespace.
pub(crate) const INNER_ID: u32 = 1000;

/// One step of building the private root, executed by `init` before `pivot_root`.
/// All paths are absolute host paths under the new root's mount point.
pub(crate) enum MountOp {
    /// `mkdir(path, mode)`; an existing directory is fine.
    Mkdir { path: CString, mode: u32 },
    /// Create an empty regular file (a mount point for a file bind).
    Touch { path: CString },
    /// `symlink(target, path)`.
    Symlink { target: CString, path: CString },
    /// A fresh tmpfs with the given mount data (`size=…,mode=…`).
    Tmpfs { path: CString, data: CString },
    /// A fresh procfs (for the new PID namespace).
    Proc { path: CString },
    /// A recursive bind mount, optionally remounted read-only.
    Bind { source: CString, path: CString, read_only: bool },
    /// Remount the new root tmpfs itself read-only (after every mount point exists).
    RemountRootReadOnly,
}

/// Landlock rules, applied by the payload after `pivot_root` (paths are sandbox paths).
pub(crate) struct LandlockPlan {
    pub abi: i32,
    pub handled_fs: u64,
    pub handled_net: u64,
    pub scoped: u64,
    pub rules: Vec<(CString, u64)>,
}

/// Everything the child needs, prepared by the parent. Nothing in here is allocated by the
/// child.
pub(crate) struct ChildPlan {
    pub clone_flags: c_int,
    pub stdin_fd: RawFd,
    pub stdout_fd: RawFd,
    pub stderr_fd: RawFd,
    pub report_fd: RawFd,
    pub sync_read_fd: RawFd,
    pub sync_write_fd: RawFd,
    pub new_root: CString,
    pub mounts: Vec<MountOp>,
    pub hostname: CString,
    pub cwd: CString,
    pub program: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub drop_supplementary_groups: bool,
    pub landlock: Option<LandlockPlan>,
    pub seccomp: Vec<Vec<seccompiler::sock_filter>>,
    /// The first seccomp program returns `SECCOMP_RET_USER_NOTIF`: init supervises it.
    pub notify: bool,
    /// When non-zero, the filter sends execve/execveat to init, which lets this many execs
    /// of the payload's own process through and denies every other.
    pub exec_budget: u32,
}

/// Where in the child a setup step failed; sent to the parent with the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Stage {
    Sync = 1,
    Fds,
    MakePrivate,
    Mount,
    PivotRoot,
    Hostname,
    Fork,
    Ids,
    Capabilities,
    NoNewPrivs,
    Rlimit,
    Landlock,
    Seccomp,
    Chdir,
    Exec,
}

impl Stage {
    /// Every stage; `Stage as i32` counts from 1 in this order.
    const ALL: [Stage; 15] = {
        use Stage::*;
        [
            Sync,
            Fds,
            MakePrivate,
            Mount,
            PivotRoot,
            Hostname,
            Fork,
            Ids,
            Capabilities,
            NoNewPrivs,
            Rlimit,
            Landlock,
            Seccomp,
            Chdir,
            Exec,
        ]
    };

    pub(crate) fn from_i32(v: i32) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| *s as i32 == v)
    }
}

/// Report-pipe record tags.
pub(crate) const REPORT_ERROR: i32 = 1;
pub(crate) const REPORT_STATUS: i32 = 2;
/// `[REPORT_SYSCALL, nr, count]`: a denied system call and how often it was tried.
pub(crate) const REPORT_SYSCALL: i32 = 3;

/// Syscall numbers below this are counted individually by init.
const MAX_COUNTED_NR: usize = 1024;

// ---------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------

/// A pipe whose both ends are close-on-exec.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a valid, writable array of two c_ints, as pipe2 requires.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(crate) fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid/getegid have no preconditions and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Clone the sandbox's init process. Returns its host pid and a pidfd for it.
pub(crate) fn spawn(plan: &ChildPlan) -> io::Result<(i32, OwnedFd)> {
    let mut pidfd: c_int = -1;
    let flags = (plan.clone_flags | libc::CLONE_PIDFD | libc::SIGCHLD) as c_ulong;
    // SAFETY: a raw clone without CLONE_VM and with a null stack behaves like fork: the
    // child gets a copy-on-write copy of this address space and continues here. CLONE_PIDFD
    // makes the kernel store the pidfd through the third argument (parent_tid on every
    // architecture we build for), which points at a live c_int. The child branch never
    // returns: it runs `init_main`, which only issues raw system calls on data prepared in
    // `plan` and ends in `_exit`.
    let pid = unsafe {
        libc::syscall(libc::SYS_clone, flags, 0 as c_ulong, &mut pidfd as *mut c_int, 0 as c_ulong, 0 as c_ulong)
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        init_main(plan);
    }
    // SAFETY: the kernel returned a fresh pidfd for the child; we are its only owner.
    let fd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    Ok((pid as i32, fd))
}

/// Wait until the process behind `pidfd` exits or `timeout` passes. Returns true if it
/// exited.
pub(crate) fn wait_readable(fd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as c_int;
    loop {
        // SAFETY: `pfd` is a valid pollfd array of length one.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        return Ok(rc > 0);
    }
}

/// SIGKILL the process behind a pidfd (no pid-reuse race).
pub(crate) fn pidfd_kill(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a valid pidfd, a signal number, no siginfo, no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0 as c_ulong,
        )
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            return Err(err);
        }
    }
    Ok(())
}

/// Send a signal to a host pid (used by tests and the selftest to clean up helpers).
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Resource usage of a reaped child (including everything it reaped itself).
pub(crate) struct Reaped {
    pub status: c_int,
    pub cpu: Duration,
    pub max_rss_kb: u64,
}

pub(crate) fn wait4(pid: i32) -> io::Result<Reaped> {
    let mut status: c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `ru` are valid writable locations for wait4's outputs.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::__WALL, &mut ru) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        break;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    Ok(Reaped { status, cpu: tv(ru.ru_utime) + tv(ru.ru_stime), max_rss_kb: ru.ru_maxrss.max(0) as u64 })
}

/// Probe whether the kernel lets us create the namespaces (clone a child that exits).
pub(crate) fn probe_namespaces(flags: c_int) -> io::Result<()> {
    // SAFETY: fork-like clone; the child only calls `_exit`, which is async-signal-safe.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        )
    };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: terminate the probe child immediately.
        unsafe { libc::_exit(0) };
    }
    let r = wait4(pid as i32)?;
    if libc::WIFEXITED(r.status) && libc::WEXITSTATUS(r.status) == 0 {
        Ok(())
    } else {
        Err(io::Error::other("namespace probe child failed"))
    }
}

/// The landlock ABI version the kernel reports, or the errno why there is none.
pub(crate) fn landlock_abi() -> io::Result<i32> {
    // SAFETY: LANDLOCK_CREATE_RULESET_VERSION with a null attribute and size 0 only queries.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc as i32) }
}

/// Whether seccomp filters are supported (PR_GET_SECCOMP answers).
pub(crate) fn seccomp_available() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) >= 0 }
}

// ---------------------------------------------------------------------------------------
// Child side. Async-signal-safe only: no allocation, no locks, no panics.
// ---------------------------------------------------------------------------------------

const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: c_int = 1;

#[repr(C)]
struct LandlockRulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct LandlockPathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

// glibc's setresuid/setresgid/setgroups wrappers broadcast the change to every thread they
// believe exists, taking internal locks a thread of the parent may have held at clone time.
// The child has one thread: the raw system calls are what it needs.
fn raw_setresuid(id: u32) -> c_long {
    // SAFETY: plain integer arguments.
    unsafe { libc::syscall(libc::SYS_setresuid, id, id, id) }
}

fn raw_setresgid(id: u32) -> c_long {
    // SAFETY: plain integer arguments.
    unsafe { libc::syscall(libc::SYS_setresgid, id, id, id) }
}

fn raw_setgroups_empty() -> c_long {
    // SAFETY: a zero-length list with a null pointer is valid for setgroups.
    unsafe { libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>()) }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Write one fixed-size record to the report pipe. Errors are ignored: there is nobody
/// left to tell.
fn report(fd: RawFd, tag: i32, a: i32, b: i32) {
    let rec: [i32; 3] = [tag, a, b];
    // SAFETY: writes 12 bytes from a live stack array; a pipe write of < PIPE_BUF bytes is
    // atomic, so records never interleave.
    unsafe { libc::write(fd, rec.as_ptr().cast(), std::mem::size_of_val(&rec)) };
}

fn fail(report_fd: RawFd, stage: Stage) -> ! {
    report(report_fd, REPORT_ERROR, stage as i32, errno());
    // SAFETY: `_exit` never returns and skips atexit handlers, as required after fork.
    unsafe { libc::_exit(125) }
}

fn check(rc: c_long, report_fd: RawFd, stage: Stage) {
    if rc < 0 {
        fail(report_fd, stage);
    }
}

/// PID 1 of the sandbox.
fn init_main(plan: &ChildPlan) -> ! {
    let mut report_fd = plan.report_fd;
    // SAFETY (whole block): raw system calls on descriptors and NUL-terminated strings that
    // the parent prepared and that stay alive (the child has its own copy of the memory).
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        libc::close(plan.sync_write_fd);
        // Wait for the parent to write our uid/gid maps. EOF means the parent is gone.
        let mut byte = 0u8;
        if libc::read(plan.sync_read_fd, (&mut byte as *mut u8).cast(), 1) != 1 {
            libc::_exit(124);
        }
        // Move stdio and the report pipe to 0..=3, close everything else we inherited
        // (including other threads' descriptors).
        let srcs = [plan.stdin_fd, plan.stdout_fd, plan.stderr_fd, plan.report_fd, plan.sync_read_fd];
        let mut high = [0 as c_int; 5];
        for (i, fd) in srcs.iter().enumerate() {
            high[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 1000);
            if high[i] < 0 {
                fail(report_fd, Stage::Fds);
            }
        }
        for (i, fd) in high.iter().enumerate() {
            if libc::dup2(*fd, i as c_int) < 0 {
                fail(report_fd, Stage::Fds);
            }
        }
        report_fd = 3;
        check(libc::syscall(libc::SYS_close_range, 5u32, u32::MAX, 0u32), report_fd, Stage::Fds);
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(4, libc::F_SETFD, libc::FD_CLOEXEC);

        // Open every bind source now, while we still have the caller's host credentials
        // (a toolchain may live under a directory only the caller can traverse).
        let mut bind_fds = [-1 as c_int; MAX_BINDS];
        let mut n = 0;
        for op in &plan.mounts {
            if let MountOp::Bind { source, .. } = op {
                if n == MAX_BINDS {
                    fail(report_fd, Stage::Mount);
                }
                bind_fds[n] = libc::open(source.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
                if bind_fds[n] < 0 {
                    fail(report_fd, Stage::Mount);
                }
                n += 1;
            }
        }
        // Become the sandbox user: files can only be created in filesystems of this user
        // namespace by an id that is mapped in it. Capabilities in the namespace are kept
        // (uid 0 of the namespace is unmapped, so the setuid rules drop nothing).
        if plan.drop_supplementary_groups {
            check(raw_setgroups_empty(), report_fd, Stage::Ids);
        }
        check(raw_setresgid(INNER_ID), report_fd, Stage::Ids);
        check(raw_setresuid(INNER_ID), report_fd, Stage::Ids);
        // Changing credentials cleared the parent-death signal: set it again, then make
        // sure the parent did not die in between (it keeps the sync pipe's write end open
        // until it has reaped us, so EOF on fd 4 means it is gone).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        // Init is a copy of sbd's memory: nothing in the sandbox may read it through /proc
        // or ptrace, whatever else is missing (an unprivileged id switch keeps it dumpable).
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let mut pfd = libc::pollfd { fd: 4, events: libc::POLLIN, revents: 0 };
        if libc::poll(&mut pfd, 1, 0) != 0 {
            libc::_exit(124);
        }

        // Private mount tree, then build the new root.
        check(
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) as c_long,
            report_fd,
            Stage::MakePrivate,
        );
        check(
            libc::mount(
                c"tmpfs".as_ptr(),
                plan.new_root.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"size=4m,mode=0755".as_ptr().cast(),
            ) as c_long,
            report_fd,
            Stage::Mount,
        );
        let mut next_bind = 0;
        for op in &plan.mounts {
            run_mount_op(op, plan, &bind_fds, &mut next_bind, report_fd);
        }
        check(libc::chdir(plan.new_root.as_ptr()) as c_long, report_fd, Stage::PivotRoot);
        check(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()), report_fd, Stage::PivotRoot);
        check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH) as c_long, report_fd, Stage::PivotRoot);
        check(libc::chdir(c"/".as_ptr()) as c_long, report_fd, Stage::PivotRoot);
        let hn = plan.hostname.as_bytes();
        check(libc::sethostname(hn.as_ptr().cast(), hn.len()) as c_long, report_fd, Stage::Hostname);

        // The payload sends its seccomp listener back over this socket pair.
        let mut pair = [-1 as c_int; 2];
        if plan.notify
            && libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) != 0
        {
            fail(report_fd, Stage::Fork);
        }
        let payload = libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
            0 as c_ulong,
        );
        if payload < 0 {
            fail(report_fd, Stage::Fork);
        }
        if payload == 0 {
            if plan.notify {
                libc::close(pair[0]);
            }
            payload_main(plan, report_fd, pair[1]);
        }
        // Reap everything; report and leave when the payload is done.
        libc::close(0);
        libc::close(1);
        libc::close(2);
        if plan.notify {
            libc::close(pair[1]);
            let listener = recv_fd(pair[0]);
            libc::close(pair[0]);
            if listener >= 0 {
                supervise(listener, payload as c_int, plan.exec_budget, report_fd);
            }
        }
        loop {
            let mut status: c_int = 0;
            let pid = libc::wait4(-1, &mut status, libc::__WALL, std::ptr::null_mut());
            if pid < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                libc::_exit(123);
            }
            if pid as c_long == payload {
                report(report_fd, REPORT_STATUS, status, 0);
                libc::_exit(0);
            }
        }
    }
}

const MAX_BINDS: usize = 64;

/// `/proc/self/fd/<fd>` as a NUL-terminated string in a stack buffer.
fn fd_path(fd: c_int, buf: &mut [u8; 32]) -> *const c_char {
    let prefix = b"/proc/self/fd/";
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let mut v = fd.max(0) as u32;
    let mut nd = 0;
    loop {
        digits[nd] = b'0' + (v % 10) as u8;
        nd += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for i in 0..nd {
        buf[prefix.len() + i] = digits[nd - 1 - i];
    }
    buf[prefix.len() + nd] = 0;
    buf.as_ptr().cast()
}

fn run_mount_op(
    op: &MountOp,
    plan: &ChildPlan,
    bind_fds: &[c_int; MAX_BINDS],
    next_bind: &mut usize,
    report_fd: RawFd,
) {
    // SAFETY: raw syscalls on NUL-terminated strings prepared by the parent.
    unsafe {
        match op {
            MountOp::Mkdir { path, mode } => {
                if libc::mkdir(path.as_ptr(), *mode) != 0 && errno() != libc::EEXIST {
                    fail(report_fd, Stage::Mount);
                }
            }
            MountOp::Touch { path } => {
                let fd = libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644);
                if fd < 0 {
                    fail(report_fd, Stage::Mount);
                }
                libc::close(fd);
            }
            MountOp::Symlink { target, path } => {
                if libc::symlink(target.as_ptr(), path.as_ptr()) != 0 && errno() != libc::EEXIST {
                    fail(report_fd, Stage::Mount);
                }
            }
            MountOp::Tmpfs { path, data } => check(
                libc::mount(
                    c"tmpfs".as_ptr(),
                    path.as_ptr(),
                    c"tmpfs".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    data.as_ptr().cast(),
                ) as c_long,
                report_fd,
                Stage::Mount,
            ),
            MountOp::Proc { path } => check(
                libc::mount(
                    c"proc".as_ptr(),
                    path.as_ptr(),
                    c"proc".as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                    std::ptr::null(),
                ) as c_long,
                report_fd,
                Stage::Mount,
            ),
            MountOp::Bind { source: _, path, read_only } => {
                let mut buf = [0u8; 32];
                let source = fd_path(bind_fds[*next_bind], &mut buf);
                *next_bind += 1;
                check(
                    libc::mount(source, path.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null())
                        as c_long,
                    report_fd,
                    Stage::Mount,
                );
                // Remount with nosuid, read-only if asked, keeping the flags the kernel
                // locked on the source mount (a user namespace may not clear them).
                // The kernel's `struct statfs` on 64-bit Linux: 15 words, `f_flags` is the
                // 11th (glibc's statvfs may parse /proc/mounts, which allocates).
                let mut st = [0i64; 16];
                check(libc::syscall(libc::SYS_statfs, path.as_ptr(), st.as_mut_ptr()), report_fd, Stage::Mount);
                let keep = st[10] as c_ulong
                    & (libc::ST_NODEV | libc::ST_NOEXEC | libc::ST_NOATIME | libc::ST_NODIRATIME | libc::ST_RELATIME);
                let mut flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_NOSUID | keep;
                if *read_only {
                    flags |= libc::MS_RDONLY;
                }
                check(
                    libc::mount(std::ptr::null(), path.as_ptr(), std::ptr::null(), flags, std::ptr::null()) as c_long,
                    report_fd,
                    Stage::Mount,
                );
            }
            MountOp::RemountRootReadOnly => check(
                libc::mount(
                    std::ptr::null(),
                    plan.new_root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
                    std::ptr::null(),
                ) as c_long,
                report_fd,
                Stage::Mount,
            ),
        }
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Receive one descriptor (SCM_RIGHTS) from a socket; -1 if the peer sent none.
fn recv_fd(sock: c_int) -> c_int {
    // SAFETY: recvmsg into stack buffers whose sizes are passed along; the control buffer is
    // 8-byte aligned and large enough for one descriptor.
    unsafe {
        let mut byte = 0u8;
        let mut iov = libc::iovec { iov_base: (&mut byte as *mut u8).cast(), iov_len: 1 };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) <= 0 {
            return -1;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_level != libc::SOL_SOCKET || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return -1;
        }
        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const c_int)
    }
}

/// Send one descriptor (SCM_RIGHTS) over a socket.
fn send_fd(sock: c_int, fd: c_int) -> bool {
    // SAFETY: sendmsg from stack buffers sized for exactly one descriptor.
    unsafe {
        let mut byte = 0u8;
        let mut iov = libc::iovec { iov_base: (&mut byte as *mut u8).cast(), iov_len: 1 };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<c_int>() as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return false;
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut c_int, fd);
        libc::sendmsg(sock, &msg, 0) == 1
    }
}

/// Answer the payload's denied system calls with EPERM and count them, until the payload
/// exits; then report the counts and the payload's status and exit.
fn supervise(listener: c_int, payload: c_int, exec_budget: u32, report_fd: RawFd) -> ! {
    let mut counts = [0u32; MAX_COUNTED_NR];
    let mut other = 0u32;
    // Execs of the payload's own process still allowed (its exec of the program, which our
    // code issues before any untrusted code runs, plus e.g. valgrind executing its tool).
    let mut execs_left = exec_budget;
    // SAFETY: poll/ioctl/wait4 on descriptors and stack structs we own; the notification
    // structs are zeroed before RECV as the kernel requires.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, payload, 0u32) as c_int;
        let mut listening = true;
        loop {
            let mut fds = [
                libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 },
                libc::pollfd { fd: if listening { listener } else { -1 }, events: libc::POLLIN, revents: 0 },
            ];
            let n = libc::poll(fds.as_mut_ptr(), 2, if pidfd < 0 { 100 } else { -1 });
            if n < 0 && errno() != libc::EINTR {
                libc::_exit(123);
            }
            if fds[1].revents & libc::POLLIN != 0 {
                let mut req: libc::seccomp_notif = std::mem::zeroed();
                if libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) == 0 {
                    let nr = req.data.nr;
                    let is_exec = nr as c_long == libc::SYS_execve || nr as c_long == libc::SYS_execveat;
                    if is_exec && execs_left > 0 && req.pid as c_int == payload {
                        execs_left -= 1;
                        let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
                        resp.id = req.id;
                        resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
                        libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp);
                        continue;
                    }
                    match usize::try_from(nr) {
                        Ok(i) if i < MAX_COUNTED_NR => counts[i] = counts[i].saturating_add(1),
                        _ => other = other.saturating_add(1),
                    }
                    let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
                    resp.id = req.id;
                    resp.error = -libc::EPERM;
                    libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp);
                }
            } else if fds[1].revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                listening = false;
            }
            // Reap whatever has exited; leave when the payload has.
            loop {
                let mut status: c_int = 0;
                let pid = libc::wait4(-1, &mut status, libc::__WALL | libc::WNOHANG, std::ptr::null_mut());
                if pid <= 0 {
                    break;
                }
                if pid == payload {
                    for (nr, c) in counts.iter().enumerate() {
                        if *c > 0 {
                            report(report_fd, REPORT_SYSCALL, nr as i32, *c as i32);
                        }
                    }
                    if other > 0 {
                        report(report_fd, REPORT_SYSCALL, -1, other as i32);
                    }
                    report(report_fd, REPORT_STATUS, status, 0);
                    libc::_exit(0);
                }
            }
        }
    }
}

/// The sandboxed program itself: lose every privilege, then exec.
fn payload_main(plan: &ChildPlan, report_fd: RawFd, notify_sock: c_int) -> ! {
    // SAFETY (whole block): raw system calls with pointers to live stack values or to
    // strings/arrays prepared by the parent. The argv/envp pointer arrays are built here on
    // the stack from the parent's CStrings without allocating.
    unsafe {
        // Ids: leave uid/gid 0 of the namespace for the unprivileged INNER_ID.
        if plan.drop_supplementary_groups {
            check(raw_setgroups_empty(), report_fd, Stage::Ids);
        }
        check(raw_setresgid(INNER_ID), report_fd, Stage::Ids);
        check(raw_setresuid(INNER_ID), report_fd, Stage::Ids);
        // Capabilities: empty the bounding set (so file capabilities grant nothing on exec),
        // then clear every set.
        for cap in 0..64 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno() != libc::EINVAL {
                fail(report_fd, Stage::Capabilities);
            }
        }
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        let mut hdr = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
        let data = [CapData { effective: 0, permitted: 0, inheritable: 0 }; 2];
        check(
            libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()),
            report_fd,
            Stage::Capabilities,
        );
        check(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) as c_long, report_fd, Stage::NoNewPrivs);
        for (res, soft, hard) in &plan.rlimits {
            let lim = libc::rlimit { rlim_cur: *soft, rlim_max: *hard };
            check(libc::setrlimit(*res as _, &lim) as c_long, report_fd, Stage::Rlimit);
        }
        if let Some(ll) = &plan.landlock {
            apply_landlock(ll, report_fd);
        }
        check(libc::chdir(plan.cwd.as_ptr()) as c_long, report_fd, Stage::Chdir);
        // seccomp last: it may deny calls used above.
        for (i, prog) in plan.seccomp.iter().enumerate() {
            let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
            let listen = plan.notify && i == 0;
            let flags = if listen { libc::SECCOMP_FILTER_FLAG_NEW_LISTENER } else { 0 };
            let rc = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                flags as c_ulong,
                &fprog as *const libc::sock_fprog,
            );
            check(rc, report_fd, Stage::Seccomp);
            if listen {
                // Hand the listener to init and keep no copy: the program must not be able
                // to answer its own notifications.
                if !send_fd(notify_sock, rc as c_int) {
                    fail(report_fd, Stage::Seccomp);
                }
                libc::close(rc as c_int);
                libc::close(notify_sock);
            }
        }
        let mut argv: [*const c_char; 64] = [std::ptr::null(); 64];
        for (i, a) in plan.argv.iter().take(63).enumerate() {
            argv[i] = a.as_ptr();
        }
        let mut envp: [*const c_char; 64] = [std::ptr::null(); 64];
        for (i, e) in plan.envp.iter().take(63).enumerate() {
            envp[i] = e.as_ptr();
        }
        libc::execve(plan.program.as_ptr(), argv.as_ptr(), envp.as_ptr());
        fail(report_fd, Stage::Exec);
    }
}

fn apply_landlock(ll: &LandlockPlan, report_fd: RawFd) {
    // SAFETY: landlock system calls with pointers to live, correctly laid out structs; the
    // attribute size passed matches the fields the kernel's ABI version knows.
    unsafe {
        let attr = LandlockRulesetAttr {
            handled_access_fs: ll.handled_fs,
            handled_access_net: ll.handled_net,
            scoped: ll.scoped,
        };
        let size = if ll.abi >= 6 {
            24
        } else if ll.abi >= 4 {
            16
        } else {
            8
        };
        let ruleset =
            libc::syscall(libc::SYS_landlock_create_ruleset, &attr as *const LandlockRulesetAttr, size as usize, 0u32);
        if ruleset < 0 {
            fail(report_fd, Stage::Landlock);
        }
        let ruleset = ruleset as c_int;
        for (path, access) in &ll.rules {
            let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if fd < 0 {
                // A path this run does not have (e.g. no /tmp): nothing to allow.
                continue;
            }
            let mut st: libc::stat = std::mem::zeroed();
            let mut allowed = *access & ll.handled_fs;
            if libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) != libc::S_IFDIR {
                allowed &= FILE_ACCESS;
            }
            let rule = LandlockPathBeneathAttr { allowed_access: allowed, parent_fd: fd };
            check(
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    ruleset,
                    LANDLOCK_RULE_PATH_BENEATH,
                    &rule as *const LandlockPathBeneathAttr,
                    0u32,
                ),
                report_fd,
                Stage::Landlock,
            );
            libc::close(fd);
        }
        // No network port rule is ever added: when TCP is handled, all of it is denied.
        check(libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32), report_fd, Stage::Landlock);
        libc::close(ruleset);
    }
}

/// Rights that landlock accepts on a rule for a non-directory.
pub(crate) const FILE_ACCESS: u64 = crate::landlock::EXECUTE
    | crate::landlock::WRITE_FILE
    | crate::landlock::READ_FILE
    | crate::landlock::TRUNCATE
    | crate::landlock::IOCTL_DEV;
