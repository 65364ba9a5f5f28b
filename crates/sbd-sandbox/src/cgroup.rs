//! A memory and process-count cgroup for one run, when the caller may create one.
//!
//! rlimits are per process: a program that forks N children can use N × `RLIMIT_DATA`, and
//! sanitizer builds get no memory rlimit at all. A cgroup caps the whole tree's memory
//! (`memory.max` / `memory.limit_in_bytes`, swap included where the kernel accounts it)
//! and its process count, reports the peak and counts OOM kills. Creating one needs write
//! access to the cgroup hierarchy (root, or a delegated subtree); when that is missing the
//! run goes on with rlimits only and `Outcome::memory_cgroup` says so.
//!
//! Both the unified hierarchy (cgroup v2) and the v1 `memory` + `pids` controllers are
//! supported.
use std::fs;
use std::path::{Path, PathBuf};

pub(crate) struct Cgroup {
    kind: Kind,
    /// Directories we created, removed on drop (children first).
    dirs: Vec<PathBuf>,
}

enum Kind {
    V2 { dir: PathBuf },
    V1 { memory: PathBuf, pids: Option<PathBuf> },
}

/// (mount point, fstype, super options) of every cgroup mount.
fn cgroup_mounts() -> Vec<(PathBuf, String, String)> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return vec![];
    };
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mount = pre.split_whitespace().nth(4)?;
            let mut post = post.split_whitespace();
            let fstype = post.next()?;
            let _source = post.next()?;
            let opts = post.next().unwrap_or("");
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| (PathBuf::from(mount), fstype.to_string(), opts.to_string()))
        })
        .collect()
}

/// Our own cgroup path for a v1 controller (`"memory"`) or v2 (`""`).
fn own_path(controller: &str) -> Option<String> {
    let text = fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        let hit = if controller.is_empty() { ctrls.is_empty() } else { ctrls.split(',').any(|c| c == controller) };
        hit.then(|| path.to_string())
    })
}

fn join(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

fn write(p: &Path, v: &str) -> bool {
    fs::write(p, v).is_ok()
}

/// Remove empty cgroups left by an `sbd` that was killed (`sbd-sbx-<pid>-…`, pid gone).
fn sweep(parent: &Path) {
    let Ok(rd) = fs::read_dir(parent) else { return };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("sbd-sbx-"))
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(e.path());
        }
    }
}

impl Cgroup {
    /// Create a cgroup named `name` capping memory and processes, or `None` when this
    /// process cannot.
    pub(crate) fn create(name: &str, memory_mb: u64, max_processes: u64) -> Option<Cgroup> {
        let bytes = (memory_mb.saturating_mul(1024 * 1024)).to_string();
        let mounts = cgroup_mounts();
        // cgroup v2 with the memory controller available to us.
        if let Some((mount, _, _)) = mounts.iter().find(|(_, t, _)| t == "cgroup2")
            && let Some(own) = own_path("")
        {
            let parent = join(mount, &own);
            let has_memory = fs::read_to_string(parent.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"));
            if has_memory {
                sweep(&parent);
                let dir = parent.join(name);
                if fs::create_dir(&dir).is_ok() {
                    let cg = Cgroup { kind: Kind::V2 { dir: dir.clone() }, dirs: vec![dir.clone()] };
                    if !dir.join("memory.max").exists() {
                        // Enabling controllers may fail (processes in the parent): give up.
                        let _ = write(&parent.join("cgroup.subtree_control"), "+memory +pids");
                    }
                    if write(&dir.join("memory.max"), &bytes) {
                        let _ = write(&dir.join("memory.swap.max"), "0");
                        let _ = write(&dir.join("pids.max"), &max_processes.to_string());
                        return Some(cg);
                    }
                    drop(cg);
                }
            }
        }
        // cgroup v1 memory (+ pids) controllers.
        let v1 = |ctrl: &str| -> Option<PathBuf> {
            let (mount, _, _) = mounts.iter().find(|(_, t, o)| t == "cgroup" && o.split(',').any(|x| x == ctrl))?;
            Some(join(mount, &own_path(ctrl)?))
        };
        let mem_parent = v1("memory")?;
        sweep(&mem_parent);
        let memory = mem_parent.join(name);
        fs::create_dir(&memory).ok()?;
        let mut cg = Cgroup { kind: Kind::V1 { memory: memory.clone(), pids: None }, dirs: vec![memory.clone()] };
        if !write(&memory.join("memory.limit_in_bytes"), &bytes) {
            return None;
        }
        let _ = write(&memory.join("memory.memsw.limit_in_bytes"), &bytes);
        if let Some(pp) = v1("pids") {
            sweep(&pp);
            let pids = pp.join(name);
            if fs::create_dir(&pids).is_ok() {
                cg.dirs.push(pids.clone());
                if write(&pids.join("pids.max"), &max_processes.to_string())
                    && let Kind::V1 { pids: p, .. } = &mut cg.kind
                {
                    *p = Some(pids);
                }
            }
        }
        Some(cg)
    }

    /// Move a process (before it starts children) into the cgroup.
    pub(crate) fn add(&self, pid: i32) -> bool {
        let pid = pid.to_string();
        match &self.kind {
            Kind::V2 { dir } => write(&dir.join("cgroup.procs"), &pid),
            Kind::V1 { memory, pids } => {
                write(&memory.join("cgroup.procs"), &pid)
                    && pids.as_ref().is_none_or(|p| write(&p.join("cgroup.procs"), &pid))
            }
        }
    }

    /// Peak memory of the whole tree, in KiB.
    pub(crate) fn peak_kb(&self) -> Option<u64> {
        let file = match &self.kind {
            Kind::V2 { dir } => dir.join("memory.peak"),
            Kind::V1 { memory, .. } => memory.join("memory.max_usage_in_bytes"),
        };
        let bytes: u64 = fs::read_to_string(file).ok()?.trim().parse().ok()?;
        Some(bytes / 1024)
    }

    /// Whether the kernel's OOM killer fired inside the cgroup.
    pub(crate) fn oom_killed(&self) -> bool {
        let (file, key) = match &self.kind {
            Kind::V2 { dir } => (dir.join("memory.events"), "oom_kill"),
            Kind::V1 { memory, .. } => (memory.join("memory.oom_control"), "oom_kill"),
        };
        fs::read_to_string(file).is_ok_and(|t| {
            t.lines().any(|l| {
                let mut p = l.split_whitespace();
                p.next() == Some(key) && p.next().and_then(|n| n.parse::<u64>().ok()) > Some(0)
            })
        })
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // The tree is dead by now, but the kernel may take a moment to release it.
        for d in self.dirs.iter().rev() {
            for _ in 0..50 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
}
