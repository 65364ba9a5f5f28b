//! `sbd bench sandbox` — what the sandbox costs: benign programs inside vs outside.
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use sbd_sandbox::runner::{Language, Toolchain, build_policy};
use sbd_sandbox::{Exec, Policy, Spec, Workspace};
use serde::Serialize;

use super::run::Format;

/// Runs each benign program `--iterations` times on the host and in the sandbox (after one
/// warm-up run each) and prints mean wall times and the overhead. Start-up rows measure
/// programs that do almost nothing (the cost is namespace, mount, landlock and seccomp
/// setup); steady-state rows measure ~0.3 s of computation.
#[derive(Args)]
pub struct SandboxBenchArgs {
    #[arg(long, default_value_t = 10)]
    pub iterations: u32,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Serialize)]
struct Row {
    benchmark: String,
    kind: &'static str,
    outside_ms: f64,
    inside_ms: f64,
    overhead_ms: f64,
    ratio: f64,
}

const C_LOOP: &str = r#"#include <stdio.h>
int main(void) {
    unsigned long long h = 1469598103934665603ULL;
    for (unsigned long i = 0; i < 300000000UL; i++) { h ^= i; h *= 1099511628211ULL; }
    printf("%llu\n", h);
    return 0;
}
"#;

const PY_LOOP: &str = "h = 0\nfor i in range(4_000_000):\n    h = (h * 31 + i) % 1000000007\nprint(h)\n";

struct Case {
    name: String,
    kind: &'static str,
    host_program: PathBuf,
    sandbox_program: PathBuf,
    args: Vec<String>,
    exec: Vec<PathBuf>,
    mounts: Vec<PathBuf>,
}

fn time_outside(c: &Case, work: &Path) -> anyhow::Result<f64> {
    let args: Vec<String> = c.args.iter().map(|a| a.replace("/work/", &format!("{}/", work.display()))).collect();
    let t = Instant::now();
    let st = Command::new(&c.host_program)
        .args(&args)
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {}", c.host_program.display()))?;
    if !st.success() {
        bail!("{} failed outside the sandbox: {st}", c.name);
    }
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

fn time_inside(c: &Case, work: &Path) -> anyhow::Result<f64> {
    let mut spec =
        Spec::new(&c.sandbox_program, work, Policy { wall_time_ms: 60_000, cpu_time_s: 60, ..Policy::default() });
    spec.args = c.args.clone();
    spec.exec = Exec::Only(c.exec.clone());
    spec.extra_mounts = c.mounts.clone();
    let t = Instant::now();
    let o = sbd_sandbox::run(&spec)?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !o.success() {
        bail!("{} failed in the sandbox: {} {}", c.name, o.describe(), o.stderr);
    }
    Ok(ms)
}

pub fn run_sandbox_bench(a: SandboxBenchArgs) -> anyhow::Result<ExitCode> {
    if a.iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let ws = Workspace::new()?;
    let mut cases = vec![];
    let t = PathBuf::from("/usr/bin/true");
    cases.push(Case {
        name: "true".into(),
        kind: "start-up",
        host_program: t.clone(),
        sandbox_program: t.clone(),
        args: vec![],
        exec: vec![t],
        mounts: vec![],
    });
    if let Ok(tc) = Toolchain::discover(Language::Python)
        && let Some(py) = tc.interpreter
    {
        ws.write("loop.py", PY_LOOP)?;
        cases.push(Case {
            name: "python3 -c pass".into(),
            kind: "start-up",
            host_program: py.clone(),
            sandbox_program: py.clone(),
            args: vec!["-I".into(), "-c".into(), "pass".into()],
            exec: vec![py.clone()],
            mounts: tc.mounts.clone(),
        });
        cases.push(Case {
            name: "python3 loop (4M iterations)".into(),
            kind: "steady state",
            host_program: py.clone(),
            sandbox_program: py.clone(),
            args: vec!["-I".into(), "/work/loop.py".into()],
            exec: vec![py],
            mounts: tc.mounts,
        });
    }
    if let Ok(tc) = Toolchain::discover(Language::C)
        && let Some(cc) = tc.compiler
    {
        ws.write("loop.c", C_LOOP)?;
        let mut spec = Spec::new(&cc, ws.path(), build_policy());
        spec.args = ["-O2", "-o", "/work/loop", "/work/loop.c"].map(String::from).to_vec();
        spec.work_writable = true;
        spec.exec = Exec::System;
        let o = sbd_sandbox::run(&spec)?;
        if !o.success() {
            bail!("compiling the C benchmark failed: {}", o.stderr);
        }
        cases.push(Case {
            name: "C loop (300M iterations)".into(),
            kind: "steady state",
            host_program: ws.path().join("loop"),
            sandbox_program: PathBuf::from("/work/loop"),
            args: vec![],
            exec: vec![],
            mounts: vec![],
        });
    }
    let mut rows = vec![];
    for c in &cases {
        time_outside(c, ws.path())?;
        time_inside(c, ws.path())?;
        let (mut out, mut ins) = (0.0, 0.0);
        for _ in 0..a.iterations {
            out += time_outside(c, ws.path())?;
            ins += time_inside(c, ws.path())?;
        }
        let n = a.iterations as f64;
        let (out, ins) = (out / n, ins / n);
        rows.push(Row {
            benchmark: c.name.clone(),
            kind: c.kind,
            outside_ms: out,
            inside_ms: ins,
            overhead_ms: ins - out,
            ratio: ins / out,
        });
    }
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Text => {
            println!(
                "{:<30} {:<13} {:>11} {:>11} {:>12} {:>8}",
                "benchmark", "kind", "outside ms", "inside ms", "overhead ms", "ratio"
            );
            for r in &rows {
                println!(
                    "{:<30} {:<13} {:>11.2} {:>11.2} {:>12.2} {:>7.3}x",
                    r.benchmark, r.kind, r.outside_ms, r.inside_ms, r.overhead_ms, r.ratio
                );
            }
            println!("(mean of {} runs each, after one warm-up run)", a.iterations);
        }
    }
    Ok(ExitCode::SUCCESS)
}
