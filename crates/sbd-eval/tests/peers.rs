//! The peer adapters against the real tools (skipped with a reason where a tool is absent;
//! CI installs them).
use sbd_data::sources::{Origin, Sample};
use sbd_eval::accuracy::Detector;
use sbd_eval::accuracy::peers::{Bandit, Cppcheck, Flawfinder, Icd};

fn sample(language: &str, code: &str) -> Sample {
    Sample {
        id: format!("t-{language}"),
        language: language.into(),
        code: code.into(),
        vulnerable: true,
        cwe: None,
        line: None,
        pair: None,
        description: None,
        origin: Origin::default(),
    }
}

const PY: &str = "    import subprocess\n    def run(cmd):\n        subprocess.call(cmd, shell=True)\n";
const C: &str = "#include <string.h>\nvoid f(const char *s) {\n  char buf[8];\n  strcpy(buf, s);\n  buf[10] = 0;\n}\n";

#[test]
fn bandit_finds_shell_injection_in_indented_python() {
    let Some(b) = Bandit::find() else {
        eprintln!("skipping: bandit is not installed (run ../shared/tools/install-peers.sh)");
        return;
    };
    let out = b.detect(&[sample("python", PY), sample("c", C)]).unwrap();
    assert!(out[0].iter().any(|f| f.rule == "B602" && f.line == 3 && f.cwes == vec![78]), "{out:?}");
    assert!(out[1].is_empty(), "bandit does not read C");
    assert!(b.supports("python") && !b.supports("c"));
}

#[test]
fn cppcheck_finds_the_out_of_bounds_write() {
    let Some(c) = Cppcheck::find() else {
        eprintln!("skipping: cppcheck is not installed");
        return;
    };
    let out = c.detect(&[sample("c", C), sample("python", PY)]).unwrap();
    assert!(out[0].iter().any(|f| f.line == 5 && f.cwes.contains(&788)), "{out:?}");
    assert!(out[1].is_empty());
}

#[test]
fn flawfinder_finds_strcpy() {
    let Some(f) = Flawfinder::find() else {
        eprintln!("skipping: flawfinder is not installed");
        return;
    };
    let out = f.detect(&[sample("c", C)]).unwrap();
    assert!(out[0].iter().any(|x| x.rule == "strcpy" && x.line == 4 && x.cwes.contains(&120)), "{out:?}");
}

#[test]
fn icd_finds_os_system() {
    let root = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../..");
    let Some(icd) = Icd::find(&root) else {
        eprintln!("skipping: codeshield is not installed (run ../shared/tools/install-peers.sh)");
        return;
    };
    let code = "import os\ndef f(x):\n    os.system(\"ls \" + x)\n";
    let out = icd.detect(&[sample("python", code), sample("go", "package main")]).unwrap();
    assert!(out[0].iter().any(|f| f.line == 3 && f.cwes == vec![78]), "{out:?}");
    assert!(out[1].is_empty());
}
