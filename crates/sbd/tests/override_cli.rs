//! The override workflow end to end: request → scan fails → approve → scan passes, the
//! registry and the unit's ANRF record the approval, and `list` classifies every override.
use std::path::Path;
use std::process::{Command, Output};

fn sbd(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sbd")).current_dir(dir).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

#[test]
fn request_approve_list() {
    let dir = std::env::temp_dir().join(format!("sbd-override-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join(".sbd")).unwrap();
    std::fs::write(
        dir.join("src/copy.c"),
        "#include <string.h>\nvoid copy(char *dst, const char *src) {\n    strcpy(dst, src);\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/run.py"), "import os\n\ndef run(cmd):\n    os.system(cmd)  # sbd:allow(PY001)\n")
        .unwrap();

    assert_eq!(sbd(&dir, &["scan", "src/copy.c"]).status.code(), Some(1));
    // Bad requests are refused with a reason and change nothing.
    let o = sbd(&dir, &["override", "request", "src/copy.c:99", "--rule", "C001", "--justification", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("line 99 does not exist"), "{}", text(&o));
    let o = sbd(&dir, &["override", "request", "src/copy.c:3", "--rule", "NOPE1", "--justification", "x"]);
    assert!(text(&o).contains("unknown rule `NOPE1`"), "{}", text(&o));
    let o = sbd(&dir, &["override", "request", "src/copy.c:3", "--rule", "C001", "--justification", "say \"hi\""]);
    assert!(text(&o).contains("may not contain double quotes"), "{}", text(&o));

    let o = sbd(
        &dir,
        &[
            "override",
            "request",
            "src/copy.c:3",
            "--rule",
            "C001",
            "--justification",
            "dst holds strlen(src)+1 bytes",
            "--requester",
            "bob",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("OVR-1 pending"));
    let code = std::fs::read_to_string(dir.join("src/copy.c")).unwrap();
    assert!(
        code.contains("    // sbd:allow(C001, justification=\"dst holds strlen(src)+1 bytes\")\n    strcpy"),
        "{code}"
    );
    // Pending: the scan still fails, and reports the unapproved override.
    let o = sbd(&dir, &["scan", "src/copy.c"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("OVR002"), "{}", text(&o));

    // The unit's ANRF (from sbd scan --anrf) records the approval.
    let o = sbd(&dir, &["scan", "--anrf", "--format", "json", "src/copy.c"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    let instance = doc["units"][0]["anrf"].clone();
    assert!(instance.is_object(), "{}", text(&o));
    std::fs::write(dir.join("copy.anrf.json"), serde_json::to_string_pretty(&instance).unwrap()).unwrap();
    let o = sbd(
        &dir,
        &[
            "override",
            "approve",
            "OVR-1",
            "--approver",
            "sec-team/alice",
            "--ticket",
            "SEC-12",
            "--anrf",
            "missing.json",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !std::fs::read_to_string(dir.join("src/copy.c")).unwrap().contains("approver="),
        "a failed approval must change nothing"
    );
    let o = sbd(
        &dir,
        &[
            "override",
            "approve",
            "OVR-1",
            "--approver",
            "sec-team/alice",
            "--ticket",
            "SEC-12",
            "--anrf",
            "copy.anrf.json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(
        sbd(&dir, &["scan", "src/copy.c"]).status.code(),
        Some(0),
        "the approved override suppresses the finding"
    );
    let anrf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("copy.anrf.json")).unwrap()).unwrap();
    assert_eq!(anrf["security"]["override_status"], true);
    assert_eq!(anrf["security"]["override_approval"]["approver_id"], "sec-team/alice");
    assert_eq!(anrf["security"]["audit_trail"].as_array().unwrap().last().unwrap()["event_type"], "Override");
    assert_eq!(sbd(&dir, &["anrf", "validate", "copy.anrf.json"]).status.code(), Some(0));
    let reg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".sbd/overrides.json")).unwrap()).unwrap();
    assert_eq!(reg["requests"][0]["status"], "approved");
    assert_eq!(reg["audit_trail"].as_array().unwrap().len(), 2);
    let o = sbd(&dir, &["override", "approve", "OVR-1", "--approver", "x"]);
    assert!(text(&o).contains("already approved"), "{}", text(&o));

    // An old approval is expired; the Python annotation without justification is invalid.
    std::fs::write(dir.join("src/old.c"), "#include <string.h>\nvoid f(char *d, const char *s) {\n    // sbd:allow(C001, justification=\"legacy\", approver=\"carol\", approved=\"2020-01-01\")\n    strcpy(d, s);\n}\n").unwrap();
    let o = sbd(&dir, &["override", "list", "--format", "json", "src"]);
    assert_eq!(o.status.code(), Some(1));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let status = |file: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["file"].as_str().unwrap().ends_with(file))
            .map(|l| l["status"].clone())
    };
    assert_eq!(status("copy.c"), Some(serde_json::json!("approved")));
    assert_eq!(status("old.c"), Some(serde_json::json!("expired")));
    assert_eq!(status("run.py"), Some(serde_json::json!("invalid")));
    std::fs::remove_dir_all(&dir).unwrap();
}
