//! Behaviour of one sandboxed run, on real programs from the host system.
use std::path::PathBuf;

use sbd_sandbox::{Exec, Limit, Policy, Spec, Workspace, run};

fn spec(ws: &Workspace, program: &str, args: &[&str]) -> Spec {
    let mut s = Spec::new(program, ws.path(), Policy::default());
    s.args = args.iter().map(|a| a.to_string()).collect();
    s.exec = Exec::Only(vec![std::fs::canonicalize(program).unwrap_or(PathBuf::from(program))]);
    s
}

#[test]
fn runs_a_program_and_captures_output() {
    let ws = Workspace::new().unwrap();
    ws.write("in.txt", "hello from the work dir\n").unwrap();
    let mut s = spec(&ws, "/usr/bin/cat", &["/work/in.txt", "-"]);
    s.stdin = b"and from stdin\n".to_vec();
    let o = run(&s).unwrap();
    assert_eq!(o.exit_code, Some(0), "{o:?}");
    assert_eq!(o.stdout, "hello from the work dir\nand from stdin\n");
    assert!(o.success());
}

/// A listener on the host's loopback: the sandboxed program cannot reach it — and, as a
/// control, the same program reaches it when the policy allows network.
#[test]
fn loopback_listener_unreachable_without_network() {
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    let Some(py) = ["/usr/bin/python3", "/usr/local/bin/python3"].iter().find_map(|p| std::fs::canonicalize(p).ok())
    else {
        eprintln!("skipping: no python3");
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let accepted = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t = {
        let (accepted, stop) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if listener.accept().is_ok() {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let ws = Workspace::new().unwrap();
    ws.write(
        "c.py",
        format!(
            "import socket\ntry:\n  socket.create_connection(('127.0.0.1', {port}), 2)\n  print('CONNECTED')\nexcept OSError as e:\n  print('denied', e)\n"
        ),
    )
    .unwrap();
    let mut s = Spec::new(&py, ws.path(), Policy::default());
    s.args = vec!["/work/c.py".into()];
    s.exec = Exec::Only(vec![py.clone()]);
    let o = run(&s).unwrap();
    assert!(o.stdout.contains("denied"), "{o:?}");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(accepted.load(Ordering::Relaxed), 0);

    s.policy.network = true;
    let o = run(&s).unwrap();
    assert!(o.stdout.contains("CONNECTED"), "control run must connect: {o:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(accepted.load(Ordering::Relaxed), 1);
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
}

#[test]
fn wall_timeout_kills_the_whole_tree() {
    let ws = Workspace::new().unwrap();
    let mut s = spec(&ws, "/usr/bin/sleep", &["30"]);
    s.policy.wall_time_ms = 300;
    let o = run(&s).unwrap();
    assert_eq!(o.limit, Some(Limit::WallTime));
    assert!(o.wall_ms < 2_000, "{o:?}");
}

#[test]
fn exec_outside_the_allow_list_is_denied() {
    let ws = Workspace::new().unwrap();
    // env may run, but it cannot exec anything else.
    let s = spec(&ws, "/usr/bin/env", &["/usr/bin/true"]);
    let o = run(&s).unwrap();
    assert_eq!(o.exit_code, Some(126), "{o:?}");
    // seccomp (only the first exec is let through) answers before landlock does.
    assert!(o.stderr.contains("Operation not permitted"), "{o:?}");
    assert!(o.violations.contains(&sbd_sandbox::Violation::Syscall { name: "execve".into(), count: 1 }));
}

#[test]
fn output_is_capped() {
    let ws = Workspace::new().unwrap();
    let mut s = spec(&ws, "/usr/bin/yes", &[]);
    s.policy.output_limit_bytes = 1000;
    s.policy.wall_time_ms = 500;
    let o = run(&s).unwrap();
    assert_eq!(o.stdout.len(), 1000);
    assert!(o.stdout_truncated);
}

#[test]
fn refuses_when_a_mechanism_is_missing_unless_degraded() {
    // Run in a child process so the assumed-missing setting does not leak into other tests.
    if std::env::var_os("SBD_SANDBOX_ASSUME_MISSING").is_some() {
        let ws = Workspace::new().unwrap();
        let mut s = spec(&ws, "/usr/bin/true", &[]);
        let err = run(&s).unwrap_err().to_string();
        assert!(err.contains("landlock"), "{err}");
        assert!(err.contains("--allow-degraded"), "{err}");
        s.allow_degraded = true;
        let o = run(&s).unwrap();
        assert_eq!(o.exit_code, Some(0));
        assert_eq!(o.degraded, vec![sbd_sandbox::Mechanism::Landlock]);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let st = std::process::Command::new(exe)
        .args(["--exact", "refuses_when_a_mechanism_is_missing_unless_degraded"])
        .env("SBD_SANDBOX_ASSUME_MISSING", "landlock")
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn denied_system_calls_are_observed() {
    let ws = Workspace::new().unwrap();
    let s = spec(&ws, "/usr/bin/unshare", &["--user", "/usr/bin/true"]);
    let o = run(&s).unwrap();
    assert_ne!(o.exit_code, Some(0), "{o:?}");
    assert!(o.stderr.contains("Operation not permitted"), "{o:?}");
    assert!(
        o.violations.contains(&sbd_sandbox::Violation::Syscall { name: "unshare".into(), count: 1 }),
        "{:?}",
        o.violations
    );
    // A well-behaved program has none.
    let o = run(&spec(&ws, "/usr/bin/true", &[])).unwrap();
    assert!(o.violations.is_empty(), "{:?}", o.violations);
}
