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
