//! The service on an ephemeral loopback port: every endpoint, auth, limits, bad input,
//! overload and graceful shutdown.
use std::net::SocketAddr;
use std::time::Duration;

use sbd_serve::{Config, Tokens, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "test-token-0123456789";

async fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8], token: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    head.push_str("Content-Type: application/json\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    let _ = s.write_all(body).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (headers, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, headers.to_string(), rest.as_bytes().to_vec())
}

async fn json_call(addr: SocketAddr, method: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = call(addr, method, path, body.to_string().as_bytes(), Some(TOKEN)).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

fn config(db: Option<std::path::PathBuf>) -> Config {
    let mut c = Config::new("127.0.0.1:0".parse().unwrap());
    c.tokens = Some(Tokens::parse(TOKEN).unwrap());
    c.db = db;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_findings_anrf_and_sarif() {
    let server = start(config(None)).await.unwrap();
    let (s, v) = json_call(
        server.addr,
        "POST",
        "/v1/verify",
        json!({"code": "import os\ndef f(x):\n    os.system(x)\n", "language": "python", "sarif": true}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(!v["report"]["findings"].as_array().unwrap().is_empty());
    assert!(v["report"]["findings"][0]["explanation"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(v["anrf"]["valid"], true, "{}", v["anrf"]);
    assert_eq!(v["anrf"]["instance"]["anrf_version"], "1.1.0");
    assert_eq!(v["sarif"]["version"], "2.1.0");
    // The language can come from the path.
    let (s, v) =
        json_call(server.addr, "POST", "/v1/verify", json!({"code": "fn main() {}", "path": "src/main.rs"})).await;
    assert_eq!(s, 200);
    assert_eq!(v["report"]["language"], "rust");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reward_matches_in_process_and_orders_answers() {
    let server = start(config(None)).await.unwrap();
    let items = json!({"items": [
        {"prompt": "run ls on a user path", "completion": "```python\nimport subprocess\ndef f(x):\n    subprocess.run([\"ls\", x])\n```\nUses an argument list, so no CWE-78 shell injection.", "language": "python",
         "expectations": {"cwe": 78, "explanation_expected": true}},
        {"completion": "import os\ndef f(x):\n    os.system('ls ' + x)\n", "language": "python", "expectations": {"cwe": 78, "explanation_expected": true}},
    ]});
    let (s, v) = json_call(server.addr, "POST", "/v1/reward", items).await;
    assert_eq!(s, 200, "{v}");
    let r = v["rewards"].as_array().unwrap();
    assert_eq!(v["version"], 2);
    assert!(r[0]["reward"].as_f64().unwrap() > r[1]["reward"].as_f64().unwrap(), "{v}");
    assert_eq!(r[0]["explanation"], 1.0);
    // Same numbers as the library computes.
    let scanner = sbd_scan::Scanner::new().unwrap();
    let report = scanner.scan("import os\ndef f(x):\n    os.system('ls ' + x)\n", sbd_scan::Language::Python);
    let expect = sbd_scan::reward::Expectations { cwe: Some(78), explanation_expected: true, ..Default::default() };
    let local = sbd_scan::reward::reward(&report, &expect, None, None, &Default::default());
    assert_eq!(r[1]["reward"].as_f64().unwrap(), local.reward);
    server.stop().await.unwrap();
}

/// This crate's folder, read at run time (a test binary reused from a build of the same
/// sources in another checkout would carry that checkout's compile-time path).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anrf_endpoints() {
    let server = start(config(None)).await.unwrap();
    let minimal: Value = serde_json::from_str(
        &std::fs::read_to_string(manifest_dir().join("../sbd-anrf/fixtures/valid/minimal.json")).unwrap(),
    )
    .unwrap();
    let (s, v) = json_call(server.addr, "POST", "/v1/anrf/validate", minimal).await;
    assert_eq!((s, v["valid"].clone()), (200, json!(true)));
    let (s, v) = json_call(server.addr, "POST", "/v1/anrf/validate", json!({"anrf_version": "1.1.0"})).await;
    assert_eq!(s, 200);
    assert_eq!(v["valid"], false);
    assert!(v["violations"].as_array().unwrap().iter().any(|x| x["rule"] == "C2"));
    let old: Value = serde_json::from_str(
        &std::fs::read_to_string(manifest_dir().join("../sbd-anrf/fixtures/migrate/v1.0-download.json")).unwrap(),
    )
    .unwrap();
    let (s, v) = json_call(server.addr, "POST", "/v1/anrf/migrate", old).await;
    assert_eq!(s, 200);
    assert_eq!((v["changed"].clone(), v["valid"].clone()), (json!(true), json!(true)));
    let (s, v) = json_call(server.addr, "POST", "/v1/anrf/migrate", json!({"anrf_version": "9.0"})).await;
    assert_eq!((s, v["error"]["code"].clone()), (422, json!("cannot_migrate")));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitoring_stores_and_summarises() {
    let dir = std::env::temp_dir().join(format!("sbd-serve-mon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let server = start(config(Some(dir.join("h.sqlite")))).await.unwrap();
    let events = json!({"events": [
        {"model": "m1", "language": "python", "completion": "import os\nos.system(input())\n", "explanation": "runs a command"},
        {"model": "m1", "language": "python", "completion": "print('hello')\n"},
        {"model": "m2", "language": "c", "completion": "#include <string.h>\nvoid f(char*d,const char*s){strcpy(d,s);}\n"},
    ]});
    let (s, v) = json_call(server.addr, "POST", "/v1/monitor/events", events).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["stored"].clone(), v["compliant"].clone()), (json!(3), json!(1)));
    let (s, v) = json_call(server.addr, "GET", "/v1/monitor/summary", Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(v["events"], 3);
    assert!((v["compliance_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(v["by_model"][0][0], "m1");
    server.stop().await.unwrap();
    // Without a database the endpoints say what to do.
    let server = start(config(None)).await.unwrap();
    let (s, v) = json_call(server.addr, "GET", "/v1/monitor/summary", Value::Null).await;
    assert_eq!((s, v["error"]["code"].clone()), (503, json!("no_database")));
    server.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_bad_input_and_limits() {
    let mut c = config(None);
    c.max_body_bytes = 4096;
    c.max_batch = 2;
    c.max_item_bytes = 1000;
    let server = start(c).await.unwrap();
    let a = server.addr;
    let body = br#"{"code": "x = 1", "language": "python"}"#;
    // Auth.
    let (s, h, _) = call(a, "POST", "/v1/verify", body, None).await;
    assert_eq!(s, 401);
    assert!(h.to_lowercase().contains("www-authenticate: bearer"));
    assert_eq!(call(a, "POST", "/v1/verify", body, Some("wrong-token-0123456789")).await.0, 401);
    assert_eq!(call(a, "GET", "/metrics", b"", None).await.0, 401);
    // Health needs no token.
    let (s, _, b) = call(a, "GET", "/healthz", b"", None).await;
    assert_eq!(s, 200);
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap()["status"], "ok");
    // Malformed JSON, unknown language, missing language.
    let (s, _, b) = call(a, "POST", "/v1/verify", b"{not json", Some(TOKEN)).await;
    assert_eq!(s, 400);
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap()["error"]["code"], "malformed_json");
    let (s, v) = json_call(a, "POST", "/v1/verify", json!({"code": "x", "language": "cobol"})).await;
    assert_eq!((s, v["error"]["code"].clone()), (422, json!("unknown_language")));
    let (s, v) = json_call(a, "POST", "/v1/verify", json!({"code": "x"})).await;
    assert_eq!((s, v["error"]["code"].clone()), (422, json!("missing_language")));
    // Oversize body, item and batch.
    let big = json!({"code": "x".repeat(5000), "language": "python"}).to_string();
    assert_eq!(call(a, "POST", "/v1/verify", big.as_bytes(), Some(TOKEN)).await.0, 413);
    let (s, v) = json_call(a, "POST", "/v1/verify", json!({"code": "y".repeat(2000), "language": "python"})).await;
    assert_eq!((s, v["error"]["code"].clone()), (413, json!("item_too_large")));
    let three = json!({"items": [{"completion": "x", "language": "python"}, {"completion": "x", "language": "python"}, {"completion": "x", "language": "python"}]});
    let (s, v) = json_call(a, "POST", "/v1/reward", three).await;
    assert_eq!((s, v["error"]["code"].clone()), (413, json!("batch_too_large")));
    let (s, _) = json_call(a, "POST", "/v1/nope", json!({})).await;
    assert_eq!(s, 404);
    // Metrics count what happened.
    let (s, _, b) = call(a, "GET", "/metrics", b"", Some(TOKEN)).await;
    assert_eq!(s, 200);
    let m = String::from_utf8_lossy(&b);
    assert!(m.contains("sbd_rejected_total{reason=\"auth\"} 3"), "{m}");
    assert!(m.contains("sbd_requests_total{endpoint=\"/v1/verify\",status=\"422\"} 2"), "{m}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_gets_429s_while_health_answers() {
    let mut c = config(None);
    c.max_in_flight = 2;
    let server = start(c).await.unwrap();
    let a = server.addr;
    // Large batches keep the two permits busy on the blocking pool.
    let item = json!({"completion": "import os\n".repeat(2000), "language": "python"});
    let batch = json!({"items": vec![item; 50]}).to_string();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let b = batch.clone();
        tasks.push(tokio::spawn(async move { call(a, "POST", "/v1/reward", b.as_bytes(), Some(TOKEN)).await }));
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (health, _, _) = call(a, "GET", "/healthz", b"", None).await;
    let mut statuses = Vec::new();
    for t in tasks {
        let (s, h, _) = t.await.unwrap();
        if s == 429 {
            assert!(h.to_lowercase().contains("retry-after: 1"), "{h}");
        }
        statuses.push(s);
    }
    assert_eq!(health, 200);
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_is_refused_off_loopback() {
    let c = Config::new("0.0.0.0:0".parse().unwrap());
    let err = sbd_serve::router(c).expect_err("must refuse").to_string();
    assert!(err.contains("refusing to serve without authentication"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let server = start(config(None)).await.unwrap();
    let a = server.addr;
    let item = json!({"completion": "import os\n".repeat(3000), "language": "python"});
    let batch = json!({"items": vec![item; 40]}).to_string();
    let inflight = tokio::spawn(async move { call(a, "POST", "/v1/reward", batch.as_bytes(), Some(TOKEN)).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.stop().await.unwrap();
    let (s, _, b) = inflight.await.unwrap();
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&b));
    assert_eq!(serde_json::from_slice::<Value>(&b).unwrap()["rewards"].as_array().unwrap().len(), 40);
    // After stopping, nothing listens.
    assert!(tokio::net::TcpStream::connect(a).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reward_runs_attached_tests_in_the_sandbox() {
    let server = start(config(None)).await.unwrap();
    let good = "import sys\nprint(int(sys.stdin.read()) * 2)\n";
    let wrong = "import sys\nprint(int(sys.stdin.read()) + 2)\n";
    let tests = json!([{"stdin": "21", "expected_stdout": "42"}, {"stdin": "5", "expected_stdout": "10"}]);
    let body = json!({"items": [
        {"completion": good, "language": "python", "tests": tests},
        {"completion": wrong, "language": "python", "tests": tests},
    ]});
    let (s, v) = json_call(server.addr, "POST", "/v1/reward", body).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["rewards"][0]["tests"], 1.0);
    assert_eq!(v["rewards"][1]["tests"], 0.0);
    assert_eq!(v["rewards"][0]["reward"], 2.0);
    // Languages the runners do not cover are refused with a reason.
    let body = json!({"items": [{"completion": "package main", "language": "go", "tests": [{"stdin": "1"}]}]});
    let (s, v) = json_call(server.addr, "POST", "/v1/reward", body).await;
    assert_eq!((s, v["error"]["code"].clone()), (422, json!("tests_unsupported")));
    server.stop().await.unwrap();
}
