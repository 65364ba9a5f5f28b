//! `sbd scan --html`: the page has the code, the highlighted findings with explanations and
//! the ANRF layers; a real headless Chromium loads it without script errors and takes a
//! screenshot (skipped with a reason when Chromium is not installed; CI installs it).
use std::path::Path;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
}

fn chrome_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1400,1800",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

#[test]
fn html_report_renders_in_a_real_browser() {
    let dir = std::env::temp_dir().join(format!("sbd-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("src/copy.c"),
        "#include <string.h>\nvoid copy(char *dst, const char *src) {\n    strcpy(dst, src); /* <b>not html</b> */\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/run.py"), "import os\n\ndef run(cmd):\n    # sbd:allow(PY001, justification=\"fixed admin command list\", approver=\"sec/alice\", approved=\"2026-01-02\")\n    os.system(cmd)\n").unwrap();
    let page = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_sbd"))
        .arg("scan")
        .arg("--html")
        .arg(&page)
        .arg(dir.join("src"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<mark>strcpy(dst, src)</mark>"), "the finding's span is marked");
    assert!(html.contains("/* &lt;b&gt;not html&lt;/b&gt; */"), "source text is escaped");
    assert!(html.contains("Why is this bad?") && html.contains("Use instead:"));
    assert!(html.contains("valid override") && html.contains("fixed admin command list"));
    assert!(
        html.contains("<h4>Intent</h4>") && html.contains("<h4>Semantics</h4>") && html.contains("<h4>Execution</h4>")
    );
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "self-contained");

    let Some(browser) = chromium() else {
        eprintln!("skipping the browser check: chromium is not installed (apt-get install chromium)");
        std::fs::remove_dir_all(&dir).unwrap();
        return;
    };
    let url = format!("file://{}", page.display());
    let shot = dir.join("report.png");
    let o = Command::new(browser)
        .args(chrome_args(&dir.join("profile1")))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{log}");
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "screenshot of {} bytes", png.len());
    assert!(!log.contains("Uncaught") && !log.contains(":CONSOLE("), "console output: {log}");
    // The page's script ran to the end and recorded no error.
    let o =
        Command::new(browser).args(chrome_args(&dir.join("profile2"))).arg("--dump-dom").arg(&url).output().unwrap();
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(dom.contains("data-ready=\"1\""), "script did not finish: {}", String::from_utf8_lossy(&o.stderr));
    assert!(!dom.contains("data-error="), "script error recorded in the page");
    std::fs::remove_dir_all(&dir).unwrap();
}
