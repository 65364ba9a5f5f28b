//! The sandbox commands end to end: `sbd run`, `sbd sandbox selftest` (as root and as an
//! unprivileged user), `sbd verify-formal`, `sbd bench sandbox`, and cleanup after `sbd` is
//! killed.
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn have(tool: &str) -> bool {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipping: {tool} not installed");
    }
    ok
}

#[test]
fn run_c_with_stdin_expected_output_and_json() {
    let d = tmp("run");
    std::fs::write(
        d.join("echo.c"),
        "#include <stdio.h>\nint main(int c,char**v){char b[32];fgets(b,32,stdin);printf(\"%s:%s\",v[1],b);return 0;}\n",
    )
    .unwrap();
    std::fs::write(d.join("in.txt"), "hi\n").unwrap();
    std::fs::write(d.join("want.txt"), "x:hi\n").unwrap();
    let o = sbd()
        .arg("run")
        .arg(d.join("echo.c"))
        .args(["--arg", "x", "--format", "json"])
        .arg("--stdin")
        .arg(d.join("in.txt"))
        .arg("--expect-stdout")
        .arg(d.join("want.txt"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "passed");
    assert_eq!(v["run"]["stdout"], "x:hi\n");
    assert_eq!(v["output_matched"], true);

    std::fs::write(d.join("uaf.c"), "#include <stdlib.h>\nint main(void){int *p=malloc(4);*p=1;free(p);return *p;}\n")
        .unwrap();
    let o = sbd().arg("run").arg(d.join("uaf.c")).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("verdict: checker_error"), "{t}");
    assert!(t.contains("heap-use-after-free at main.c:2"), "{t}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn policy_from_anrf_and_timeout_flag() {
    let d = tmp("policy");
    std::fs::write(d.join("sleep.py"), "import time\ntime.sleep(30)\n").unwrap();
    std::fs::write(
        d.join("anrf.json"),
        r#"{"anrf_version":"1.1.0","security":{"isolation_requirements":{"process_isolation":true,
        "memory_isolation":true,"resource_limits":{"cpu":1,"memory":64,"time":400,"network":false,"filesystem":"None"}}}}"#,
    )
    .unwrap();
    let t = Instant::now();
    let o = sbd()
        .arg("run")
        .arg(d.join("sleep.py"))
        .arg("--policy")
        .arg(d.join("anrf.json"))
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "limit_exceeded");
    assert_eq!(v["run"]["limit"], "wall_time");
    assert!(v["run"]["wall_ms"].as_u64().unwrap() < 1500, "{v}");
    assert!(t.elapsed() < Duration::from_secs(20));
    let o = sbd().arg("run").arg(d.join("sleep.py")).args(["--timeout", "0.3", "--format", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["run"]["limit"], "wall_time", "{v}");
    assert!(v["run"]["wall_ms"].as_u64().unwrap() < 1500, "{v}");
    let _ = std::fs::remove_dir_all(&d);
}

fn selftest_ok(o: &Output) {
    let t = text(o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains(" 0 escaped"), "{t}");
    assert!(!t.contains(" NO\n"), "{t}");
}

#[test]
fn selftest_holds_as_an_unprivileged_user() {
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        .unwrap();
    if uid != "0" {
        // Already unprivileged: the plain selftest is the unprivileged one.
        selftest_ok(&sbd().args(["sandbox", "selftest"]).output().unwrap());
        return;
    }
    if !have("setpriv") {
        return;
    }
    // The build directory may not be reachable by uid 65534 (e.g. under /root): run a copy.
    let d = tmp("unprivileged");
    std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let exe = d.join("sbd");
    std::fs::copy(env!("CARGO_BIN_EXE_sbd"), &exe).unwrap();
    let exe = exe.as_path();
    let readable = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !readable {
        eprintln!("skipping: {} is not executable by uid 65534", exe.display());
        return;
    }
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(exe)
        .args(["sandbox", "selftest"])
        .current_dir("/")
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap();
    println!("{}", text(&o));
    let _ = std::fs::remove_dir_all(&d);
    if text(&o).contains("user namespaces are unavailable") {
        // A kernel policy (e.g. unprivileged_userns_clone=0), not a sandbox failure.
        eprintln!("skipping: this kernel does not let unprivileged users create namespaces");
        return;
    }
    selftest_ok(&o);
    assert!(text(&o).contains("as uid 65534"));
}

#[test]
fn verify_formal_reports_alarm_locations() {
    if !have("frama-c") {
        let d = tmp("formal-na");
        std::fs::write(d.join("a.c"), "int main(void){return 0;}\n").unwrap();
        let o = sbd().arg("verify-formal").arg(d.join("a.c")).output().unwrap();
        assert_eq!(o.status.code(), Some(1));
        assert!(text(&o).contains("not available"));
        return;
    }
    let d = tmp("formal");
    std::fs::write(
        d.join("oob.c"),
        "int buf[4];\nint get(int i) { return buf[i]; }\nint main(void) {\n  int s = 0;\n  for (int i = 0; i <= 4; i++) s += get(i);\n  return s;\n}\n",
    )
    .unwrap();
    let o = sbd().arg("verify-formal").arg(d.join("oob.c")).output().unwrap();
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("frama-c-eva: FAILED"), "{t}");
    assert!(t.contains("oob.c:2"), "{t}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bench_sandbox_prints_a_table() {
    let o = sbd().args(["bench", "sandbox", "--iterations", "1"]).output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(t.contains("overhead ms"), "{t}");
    assert!(t.contains("start-up") && t.contains("steady state"), "{t}");
}

fn pids_with_cmdline(marker: &str) -> Vec<i32> {
    let mut v = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Ok(c) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&c).contains(marker)
        {
            v.push(pid);
        }
    }
    v
}

#[test]
fn killing_sbd_kills_the_sandbox_and_temp_dirs_are_swept() {
    let d = tmp("killed");
    let tmpdir = d.join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    std::fs::write(d.join("sleep.py"), "import time\ntime.sleep(60)\n").unwrap();
    let marker = format!("sbd-kill-marker-{}", std::process::id());
    let mut child = sbd()
        .arg("run")
        .arg(d.join("sleep.py"))
        .args(["--timeout", "60", "--arg", &marker])
        .env("TMPDIR", &tmpdir)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while pids_with_cmdline(&marker).iter().all(|p| *p == child.id() as i32) {
        assert!(start.elapsed() < Duration::from_secs(20), "sandbox never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let start = Instant::now();
    while !pids_with_cmdline(&marker).is_empty() {
        assert!(start.elapsed() < Duration::from_secs(5), "sandboxed process survived its runner");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The killed runner could not clean up; the next sbd does.
    assert!(std::fs::read_dir(&tmpdir).unwrap().count() > 0);
    std::fs::write(d.join("ok.py"), "print(1)\n").unwrap();
    let o = sbd().arg("run").arg(d.join("ok.py")).env("TMPDIR", &tmpdir).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let left: Vec<_> = std::fs::read_dir(&tmpdir).unwrap().flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn run_with_a_test_script() {
    let d = tmp("script");
    std::fs::write(d.join("unit.py"), "def double(x):\n    return 2 * x\n").unwrap();
    std::fs::write(d.join("good.py"), "import main\nassert main.double(4) == 8\n").unwrap();
    std::fs::write(d.join("bad.py"), "import main\nassert main.double(4) == 9\n").unwrap();
    for (script, code, verdict) in [("good.py", 0, "passed"), ("bad.py", 1, "tests_failed")] {
        let o = sbd().arg("run").arg(d.join("unit.py")).arg("--test-script").arg(d.join(script)).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", text(&o));
        assert!(text(&o).contains(&format!("verdict: {verdict}")), "{}", text(&o));
    }
    let _ = std::fs::remove_dir_all(&d);
}
