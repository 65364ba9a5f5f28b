//! The trainer recipes (`recipes/`) against a live `sbd serve`: their rewards equal the
//! in-process computation. Skipped with a reason when python3 or `requests` is missing.
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use sbd_scan::reward::{Expectations, Weights};
use sbd_scan::{Language, Scanner};
use sbd_serve::{Config, Tokens, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "recipe-token-0123456789";

fn repo() -> PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../..")
}

fn python_with_requests() -> bool {
    Command::new("python3").args(["-c", "import requests"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

struct Case {
    prompt: &'static str,
    completion: &'static str,
    language: &'static str,
    cwe: Option<u32>,
}

const CASES: &[Case] = &[
    Case {
        prompt: "List a directory",
        completion: "```python\nimport subprocess\ndef ls(p):\n    subprocess.run([\"ls\", p])\n```\nAn argument list avoids CWE-78.",
        language: "python",
        cwe: Some(78),
    },
    Case {
        prompt: "List a directory",
        completion: "import os\ndef ls(p):\n    os.system('ls ' + p)\n",
        language: "python",
        cwe: Some(78),
    },
    Case {
        prompt: "Copy a string",
        completion: "#include <string.h>\nvoid cp(char *d, const char *s) { strcpy(d, s); }\n",
        language: "c",
        cwe: Some(120),
    },
    Case {
        prompt: "Hash a password",
        completion: "import hashlib\ndef h(p):\n    return hashlib.md5(p.encode()).hexdigest()\n",
        language: "python",
        cwe: None,
    },
];

fn local_rewards() -> Vec<f64> {
    let scanner = Scanner::new().unwrap();
    CASES
        .iter()
        .map(|c| {
            let expect = Expectations { cwe: c.cwe, explanation_expected: c.cwe.is_some(), ..Default::default() };
            let lang: Language = c.language.parse().unwrap();
            sbd_serve::score(&scanner, c.completion, lang, &expect, None, &Weights::default()).0.reward
        })
        .collect()
}

fn config() -> Config {
    let mut c = Config::new("127.0.0.1:0".parse().unwrap());
    c.tokens = Some(Tokens::parse(TOKEN).unwrap());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trl_reward_function_matches_in_process_rewards() {
    if !python_with_requests() {
        eprintln!("skipping: python3 with `requests` is not available (pip install requests)");
        return;
    }
    let server = start(config()).await.unwrap();
    let prompts: Vec<&str> = CASES.iter().map(|c| c.prompt).collect();
    let completions: Vec<Value> = CASES
        .iter()
        .enumerate()
        // One completion in chat form, as conversational TRL datasets give them.
        .map(
            |(i, c)| if i == 1 { json!([{"role": "assistant", "content": c.completion}]) } else { json!(c.completion) },
        )
        .collect();
    let languages: Vec<&str> = CASES.iter().map(|c| c.language).collect();
    let cwes: Vec<Value> = CASES.iter().map(|c| c.cwe.map_or(Value::Null, |n| json!(format!("CWE-{n}")))).collect();
    let expl: Vec<bool> = CASES.iter().map(|c| c.cwe.is_some()).collect();
    let script = format!(
        "import json, sys\nsys.path.insert(0, {trl:?})\nfrom sbd_reward import sbd_reward\n\
         print(json.dumps(sbd_reward({p}, {c}, language={l}, cwe={w}, explanation_expected={e})))\n",
        trl = repo().join("recipes/trl").display().to_string(),
        p = json!(prompts),
        c = json!(completions),
        l = json!(languages),
        w = json!(cwes).to_string().replace("null", "None"),
        e = json!(expl).to_string().replace("true", "True").replace("false", "False"),
    );
    let addr = server.addr;
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(["-c", &script])
            .env("SBD_URL", format!("http://{addr}"))
            .env("SBD_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let remote: Vec<f64> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(remote, local_rewards());
    assert!(remote[0] > remote[1], "the secure answer must earn more: {remote:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openrlhf_remote_rm_matches_in_process_rewards() {
    if !python_with_requests() {
        eprintln!("skipping: python3 is not available with `requests`");
        return;
    }
    let server = start(config()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("sbd-openrlhf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("tokens.txt"), format!("{TOKEN}\n")).unwrap();
    let mut child = Command::new("python3")
        .arg(repo().join("recipes/openrlhf/sbd_remote_rm.py"))
        .args(["--port", "0", "--sbd-url", &format!("http://{}", server.addr), "--token-file"])
        .arg(dir.join("tokens.txt"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.split_whitespace().last().unwrap().to_string();
    let hostport = url.trim_start_matches("http://").trim_end_matches("/get_reward").to_string();
    let query: Vec<String> = CASES.iter().map(|c| format!("{}{}", c.prompt, c.completion)).collect();
    let prompts: Vec<&str> = CASES.iter().map(|c| c.prompt).collect();
    let labels: Vec<String> = CASES
        .iter()
        .map(|c| {
            let mut l = json!({"language": c.language, "explanation_expected": c.cwe.is_some()});
            if let Some(n) = c.cwe {
                l["cwe"] = json!(n);
            }
            l.to_string()
        })
        .collect();
    let body = json!({"query": query, "prompts": prompts, "labels": labels}).to_string();
    let mut s = tokio::net::TcpStream::connect(&hostport).await.unwrap();
    let req = format!(
        "POST /get_reward HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let (head, json_body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{resp}");
    let v: Value = serde_json::from_str(json_body).unwrap();
    let remote: Vec<f64> = v["rewards"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(remote, local_rewards());
    server.stop().await.unwrap();
}
