//! The seccomp filters (built with `seccompiler`, installed raw by the payload).
//!
//! Denied calls fail with `EPERM` (`SECCOMP_RET_ERRNO`), so a program sees an ordinary error
//! instead of dying, and the run's outcome shows what it tried. `clone3` fails with `ENOSYS`
//! so the C library falls back to `clone`, whose flags the filter can inspect.
use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};

use crate::Error;

/// System calls that are always denied: debugging other processes, changing the mount or
/// namespace setup, loading kernel code, kernel keyrings, io_uring (its operations bypass
/// seccomp), executable anonymous files, clocks, and other host administration.
pub(crate) const ALWAYS_DENIED: &[(&str, i64)] = &[
    ("ptrace", libc::SYS_ptrace),
    ("process_vm_readv", libc::SYS_process_vm_readv),
    ("process_vm_writev", libc::SYS_process_vm_writev),
    ("kcmp", libc::SYS_kcmp),
    ("pidfd_getfd", libc::SYS_pidfd_getfd),
    ("mount", libc::SYS_mount),
    ("umount2", libc::SYS_umount2),
    ("pivot_root", libc::SYS_pivot_root),
    ("chroot", libc::SYS_chroot),
    ("fsopen", libc::SYS_fsopen),
    ("fsconfig", libc::SYS_fsconfig),
    ("fsmount", libc::SYS_fsmount),
    ("fspick", libc::SYS_fspick),
    ("move_mount", libc::SYS_move_mount),
    ("open_tree", libc::SYS_open_tree),
    ("mount_setattr", libc::SYS_mount_setattr),
    ("unshare", libc::SYS_unshare),
    ("setns", libc::SYS_setns),
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    ("userfaultfd", libc::SYS_userfaultfd),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
    ("keyctl", libc::SYS_keyctl),
    ("io_uring_setup", libc::SYS_io_uring_setup),
    ("io_uring_enter", libc::SYS_io_uring_enter),
    ("io_uring_register", libc::SYS_io_uring_register),
    // Anonymous files are outside every landlock rule: copying a shell into one and
    // executing it would side-step the execution allow-list.
    ("memfd_create", libc::SYS_memfd_create),
    // System V IPC: shared memory and message queues are memory no rlimit counts.
    ("shmget", libc::SYS_shmget),
    ("shmat", libc::SYS_shmat),
    ("shmctl", libc::SYS_shmctl),
    ("msgget", libc::SYS_msgget),
    ("msgsnd", libc::SYS_msgsnd),
    ("semget", libc::SYS_semget),
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("name_to_handle_at", libc::SYS_name_to_handle_at),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("reboot", libc::SYS_reboot),
    ("syslog", libc::SYS_syslog),
    ("acct", libc::SYS_acct),
    ("quotactl", libc::SYS_quotactl),
    ("settimeofday", libc::SYS_settimeofday),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("adjtimex", libc::SYS_adjtimex),
    ("sethostname", libc::SYS_sethostname),
    ("setdomainname", libc::SYS_setdomainname),
    #[cfg(target_arch = "x86_64")]
    ("iopl", libc::SYS_iopl),
    #[cfg(target_arch = "x86_64")]
    ("ioperm", libc::SYS_ioperm),
];

const NAMESPACE_FLAGS: [i32; 7] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
];

fn arch() -> Result<TargetArch, Error> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|e| Error::Seccomp(format!("unsupported architecture: {e}")))
}

fn compile(rules: BTreeMap<i64, Vec<SeccompRule>>, on_match: SeccompAction) -> Result<BpfProgram, Error> {
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, on_match, arch()?)
        .map_err(|e| Error::Seccomp(e.to_string()))?;
    filter.try_into().map_err(|e: seccompiler::BackendError| Error::Seccomp(e.to_string()))
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, Error> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value).map_err(|e| Error::Seccomp(e.to_string()))
}

fn rule(conds: Vec<SeccompCondition>) -> Result<SeccompRule, Error> {
    SeccompRule::new(conds).map_err(|e| Error::Seccomp(e.to_string()))
}

/// `seccompiler` has no `SECCOMP_RET_USER_NOTIF` action; the main filter is compiled with
/// this otherwise unused `SECCOMP_RET_TRACE` value and its return instructions rewritten.
const NOTIFY_SENTINEL: u32 = 0x5bd;
const BPF_RET_K: u16 = 0x06;

/// The name of a system call the filters deny.
pub(crate) fn syscall_name(nr: i64) -> String {
    ALWAYS_DENIED
        .iter()
        .find(|(_, n)| *n == nr)
        .map(|(name, _)| name.to_string())
        .or_else(|| {
            [
                (libc::SYS_socket, "socket"),
                (libc::SYS_clone, "clone"),
                (libc::SYS_ioctl, "ioctl"),
                (libc::SYS_execve, "execve"),
                (libc::SYS_execveat, "execveat"),
                (libc::SYS_mmap, "mmap"),
            ]
            .iter()
            .find(|(n, _)| *n == nr)
            .map(|(_, name)| name.to_string())
        })
        .unwrap_or_else(|| format!("syscall {nr}"))
}

/// The programs to install, in order. With `notify`, the first program hands denied calls
/// to the sandbox's init (`SECCOMP_RET_USER_NOTIF`), which counts them and answers `EPERM`;
/// without it the kernel answers `EPERM` directly.
///
/// With `exec_once` (requires `notify`), `execve` and `execveat` also go to init, which lets
/// the payload's own first exec through (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`) and denies
/// every later one: the program cannot start a shell even through an allowed executable
/// such as the dynamic loader (`ld.so /bin/sh`).
pub(crate) fn programs(network: bool, notify: bool, exec_once: bool) -> Result<Vec<BpfProgram>, Error> {
    let mut denied: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, nr) in ALWAYS_DENIED {
        denied.insert(*nr, vec![]);
    }
    // clone with any namespace flag.
    let mut clone_rules = Vec::new();
    for flag in NAMESPACE_FLAGS {
        clone_rules.push(rule(vec![cond(0, SeccompCmpOp::MaskedEq(flag as u64), flag as u64)?])?);
    }
    denied.insert(libc::SYS_clone, clone_rules);
    // Shared anonymous memory is shmem, which RLIMIT_DATA does not count.
    let shared_anon = (libc::MAP_SHARED | libc::MAP_ANONYMOUS) as u64;
    denied.insert(libc::SYS_mmap, vec![rule(vec![cond(3, SeccompCmpOp::MaskedEq(shared_anon), shared_anon)?])?]);
    // Terminal input injection.
    denied.insert(libc::SYS_ioctl, vec![rule(vec![cond(1, SeccompCmpOp::Eq, libc::TIOCSTI)?])?]);
    if !network {
        // Only UNIX-domain sockets: no IP, netlink, packet, vsock, …
        denied.insert(libc::SYS_socket, vec![rule(vec![cond(0, SeccompCmpOp::Ne, libc::AF_UNIX as u64)?])?]);
    }
    if notify && exec_once {
        denied.insert(libc::SYS_execve, vec![]);
        denied.insert(libc::SYS_execveat, vec![]);
    }
    let main = if notify {
        let sentinel = u32::from(SeccompAction::Trace(NOTIFY_SENTINEL));
        let mut prog = compile(denied, SeccompAction::Trace(NOTIFY_SENTINEL))?;
        for insn in prog.iter_mut() {
            if insn.code == BPF_RET_K && insn.k == sentinel {
                insn.k = libc::SECCOMP_RET_USER_NOTIF;
            }
        }
        prog
    } else {
        compile(denied, SeccompAction::Errno(libc::EPERM as u32))?
    };
    let mut clone3 = BTreeMap::new();
    clone3.insert(libc::SYS_clone3, vec![]);
    let fallback = compile(clone3, SeccompAction::Errno(libc::ENOSYS as u32))?;
    let mut progs = vec![main, fallback];
    // seccompiler kills other architectures (i386 `int 0x80`) but matches x32 calls
    // (number | 0x40000000, same audit arch) against nothing: refuse them all.
    #[cfg(target_arch = "x86_64")]
    progs.push(vec![
        seccompiler::sock_filter {
            code: 0x20, // BPF_LD | BPF_W | BPF_ABS: seccomp_data.nr
            jt: 0,
            jf: 0,
            k: 0,
        },
        seccompiler::sock_filter {
            code: 0x35, // BPF_JMP | BPF_JGE | BPF_K
            jt: 0,
            jf: 1,
            k: 0x4000_0000,
        },
        seccompiler::sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32 },
        seccompiler::sock_filter { code: BPF_RET_K, jt: 0, jf: 0, k: libc::SECCOMP_RET_ALLOW },
    ]);
    Ok(progs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_for_this_machine() {
        let progs = programs(false, false, false).unwrap();
        assert!(progs.len() >= 2);
        assert!(progs[0].len() > ALWAYS_DENIED.len());
        assert!(programs(true, false, false).unwrap()[0].len() < progs[0].len());
        let notify = programs(false, true, true).unwrap();
        let rets = |p: &BpfProgram, k: u32| p.iter().filter(|i| i.code == BPF_RET_K && i.k == k).count();
        assert!(rets(&notify[0], libc::SECCOMP_RET_USER_NOTIF) > 0);
        assert_eq!(rets(&notify[0], u32::from(SeccompAction::Trace(NOTIFY_SENTINEL))), 0);
        assert_eq!(syscall_name(libc::SYS_ptrace), "ptrace");
        #[cfg(target_arch = "x86_64")]
        assert!(progs[2].iter().any(|i| i.k == 0x4000_0000), "x32 guard");
    }
}
