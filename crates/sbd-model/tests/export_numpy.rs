//! The Hugging Face export read back by Python (`safetensors` + `numpy`): a numpy Llama
//! forward pass reproduces our logits to 1e-4. Skipped, with the reason printed, when python3,
//! numpy or safetensors are missing (CI installs them: `.ci/deps/model.sh`).

use std::process::Command;

use sbd_model::config::ModelConfig;
use sbd_model::export::export_hf;
use sbd_model::model::{Model, host};
use sbd_model::tokenizer::Tok;

const SCRIPT: &str = r#"
import json, sys
import numpy as np
from safetensors.numpy import load_file

d = sys.argv[1]
cfg = json.load(open(d + "/config.json"))
w = {k: v.astype(np.float64) for k, v in load_file(d + "/model.safetensors").items()}
case = json.load(open(sys.argv[2]))
ids = case["ids"]
H, L = cfg["num_attention_heads"], cfg["num_hidden_layers"]
D = cfg["hidden_size"]; hd = D // H; eps = cfg["rms_norm_eps"]; theta = cfg["rope_theta"]

def rms(x, g):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

T = len(ids)
inv = theta ** (-np.arange(0, hd, 2) / hd)
ang = np.outer(np.arange(T), inv)
emb = np.concatenate([ang, ang], -1)
cos, sin = np.cos(emb), np.sin(emb)
def rope(x):  # x: [H, T, hd], Hugging Face rotate_half
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return x * cos + np.concatenate([-x2, x1], -1) * sin

x = w["model.embed_tokens.weight"][ids]
mask = np.triu(np.full((T, T), -np.inf), 1)
for i in range(L):
    p = f"model.layers.{i}."
    h = rms(x, w[p + "input_layernorm.weight"])
    q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, hd).transpose(1, 0, 2)
    k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, H, hd).transpose(1, 0, 2)
    v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, H, hd).transpose(1, 0, 2)
    q, k = rope(q), rope(k)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
    s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
    o = (s @ v).transpose(1, 0, 2).reshape(T, D)
    x = x + o @ w[p + "self_attn.o_proj.weight"].T
    h = rms(x, w[p + "post_attention_layernorm.weight"])
    g = h @ w[p + "mlp.gate_proj.weight"].T
    u = h @ w[p + "mlp.up_proj.weight"].T
    x = x + ((g / (1 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
logits = rms(x, w["model.norm.weight"]) @ w["lm_head.weight"].T
ours = np.array(case["logits"]).reshape(logits.shape)
err = np.abs(logits - ours).max()
print(f"max abs difference {err:.3e} over {logits.size} logits (spread {logits.std():.3f})")
sys.exit(0 if err < 1e-4 else 1)
"#;

fn python_ready() -> Result<(), String> {
    match Command::new("python3").args(["-c", "import numpy, safetensors.numpy"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("import failed").to_string()),
        Err(e) => Err(format!("python3: {e}")),
    }
}

#[test]
fn numpy_forward_reproduces_our_logits() {
    if let Err(why) = python_ready() {
        println!("SKIPPED numpy export check: {why} (pip install numpy safetensors)");
        return;
    }
    let texts: Vec<String> = (0..50).map(|i| format!("int f{i}(char *s) {{ return strlen(s) + {i}; }}")).collect();
    let tok = Tok::train(texts.iter(), 300).unwrap();
    let cfg = ModelConfig { max_seq: 64, ..ModelConfig::preset("tiny", tok.vocab_size()).unwrap() };
    let device = burn::tensor::Device::flex();
    let model = Model::init(&cfg, &device, 7).unwrap();
    let ids = tok.encode("int f3(char *s) { return strlen(s); }").unwrap().ids;
    let logits = host(model.forward(&ids, 1, None).unwrap().logits).unwrap();
    let dir = std::env::temp_dir().join(format!("sbd-export-{}", std::process::id()));
    let n = export_hf(&model, &tok, &dir).unwrap();
    assert_eq!(n, 3 + 9 * cfg.n_layers);
    let case = dir.join("case.json");
    std::fs::write(&case, serde_json::json!({"ids": ids, "logits": logits}).to_string()).unwrap();
    let script = dir.join("check.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = Command::new("python3").arg(&script).arg(&dir).arg(&case).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "numpy forward disagrees: {text}");
    std::fs::remove_dir_all(&dir).ok();
}
