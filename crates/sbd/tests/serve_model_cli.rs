//! `sbd serve --model DIR`: a checkpoint of `sbd train` answers on the OpenAI-compatible
//! generation endpoints — over raw HTTP, and through the official `openai` Python client when
//! it is installed (skipped with a reason otherwise).
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

fn sbd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sbd"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sbd-serve-model-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running `sbd serve`, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(model: Option<&Path>) -> Server {
    let mut cmd = sbd();
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--insecure-no-auth", "--max-generations", "1"]);
    if let Some(m) = model {
        cmd.arg("--model").arg(m);
    }
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("sbd serve ended before listening").unwrap();
        if let Some(a) = line.split("listening on http://").nth(1) {
            break a.trim().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Server { child, addr }
}

/// One HTTP/1.1 request; the status and the body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        payload.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { unchunk(body) } else { body.to_string() };
    (status, body)
}

fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn train(dir: &Path) -> PathBuf {
    let model = dir.join("sft");
    let o = sbd()
        .args(["train", "sft", "--shared", "/nonexistent", "--preset", "tiny", "--vocab-size", "320"])
        .args(["--batch-size", "2", "--seq-len", "48", "--steps", "2", "--no-progress", "-o"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    model
}

#[test]
fn a_trained_model_answers_openai_requests() {
    let d = tmp("run");
    let model = train(&d);
    let server = serve(Some(&model));
    let addr = server.addr.as_str();

    let (status, body) = http(addr, "GET", "/v1/models", None);
    assert_eq!(status, 200, "{body}");
    let models: Value = serde_json::from_str(&body).unwrap();
    let id = models["data"][0]["id"].as_str().unwrap().to_string();

    // A chat request with verification: fenced code, the ANRF block, the verifier's report.
    let req = json!({
        "model": id, "max_tokens": 24, "seed": 3, "temperature": 0.8, "n": 2,
        "messages": [{"role": "user", "content": "Write a Python function that reads a file."}],
        "sbd": {"verify": true, "language": "python"}
    });
    let (status, body) = http(addr, "POST", "/v1/chat/completions", Some(&req));
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("```python\n") && content.contains("```json\n"), "{content}");
    assert!(content.contains("\"anrf_version\""), "{content}");
    assert!(v["choices"][0]["sbd"]["blocking_findings"].is_number(), "{v}");
    assert!(v["usage"]["completion_tokens"].as_u64().is_some_and(|n| n > 0), "{v}");
    // The same seed gives the same answer (the ANRF block's timestamps aside: the two
    // requests may fall on either side of a second).
    let (_, again) = http(addr, "POST", "/v1/chat/completions", Some(&req));
    let again: Value = serde_json::from_str(&again).unwrap();
    let untimed =
        |c: &str| -> String { c.lines().filter(|l| !l.contains("timestamp\"")).collect::<Vec<_>>().join("\n") };
    let again_content = again["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(untimed(again_content), untimed(content));

    // Streaming: server-sent chunks ending with [DONE].
    let stream = json!({"model": id, "max_tokens": 8, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = http(addr, "POST", "/v1/chat/completions", Some(&stream));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"chat.completion.chunk\"") && body.trim_end().ends_with("data: [DONE]"), "{body}");

    // Plain completions.
    let (status, body) =
        http(addr, "POST", "/v1/completions", Some(&json!({"prompt": "def add(a, b):", "max_tokens": 8, "seed": 1})));
    assert_eq!(status, 200, "{body}");
    assert!(serde_json::from_str::<Value>(&body).unwrap()["choices"][0]["text"].is_string());

    // Clear errors.
    let (status, body) = http(addr, "POST", "/v1/chat/completions", Some(&json!({"messages": [], "n": 1})));
    assert!(status == 400 && body.contains("messages must not be empty"), "{status} {body}");
    let (status, body) = http(
        addr,
        "POST",
        "/v1/chat/completions",
        Some(&json!({"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]})),
    );
    assert!(status == 404 && body.contains("model_not_found"), "{status} {body}");
    let (status, body) = http(
        addr,
        "POST",
        "/v1/chat/completions",
        Some(&json!({"messages": [{"role": "user", "content": "x"}], "sbd": {"verify": true}})),
    );
    assert!(status == 400 && body.contains("sbd.language"), "{status} {body}");
    let (status, body) = http(addr, "POST", "/v1/completions", Some(&json!({"prompt": 3})));
    assert!(status == 400 && body.contains("invalid_prompt"), "{status} {body}");
    // Five chat answers: n = 2, twice, and the streamed one.
    let (_, metrics) = http(addr, "GET", "/metrics", None);
    assert!(metrics.contains("sbd_generations_total 5"), "{metrics}");

    // The official Python client.
    let has_openai =
        Command::new("python3").args(["-c", "import openai"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if has_openai {
        let script = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key="unused")
model = client.models.list().data[0].id
r = client.chat.completions.create(model=model, max_tokens=16, seed=5,
    messages=[{"role": "user", "content": "Write a C function that copies a string."}],
    extra_body={"sbd": {"verify": True, "language": "c"}})
chunks = list(client.chat.completions.create(model=model, max_tokens=8, stream=True,
    messages=[{"role": "user", "content": "hi"}]))
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
print(json.dumps({"model": model, "content": r.choices[0].message.content,
                  "finish": r.choices[0].finish_reason, "streamed": text}))
"#;
        let o = Command::new("python3").args(["-c", script, &format!("http://{addr}/v1")]).output().unwrap();
        assert!(o.status.success(), "openai client: {}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["model"], id.as_str());
        assert!(v["content"].as_str().unwrap().starts_with("```c\n"), "{v}");
        assert!(v["streamed"].as_str().unwrap().starts_with("```"), "{v}");
    } else {
        eprintln!("skipping the openai client part: python3 with `openai` is not available (pip install openai)");
    }
    drop(server);

    // Without --model the generation endpoints say how to get one.
    let bare = serve(None);
    let (status, body) = http(&bare.addr, "GET", "/v1/models", None);
    assert!(status == 404 && body.contains("--model"), "{status} {body}");
    drop(bare);

    // A directory that is not a model is refused at start.
    let o = sbd().args(["serve", "--addr", "127.0.0.1:0", "--insecure-no-auth", "--model"]).arg(&d).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("loading the model"), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::remove_dir_all(&d).unwrap();
}
