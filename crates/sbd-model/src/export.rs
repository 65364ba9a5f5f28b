//! Hugging Face Llama-layout export: `model.safetensors` with Llama tensor names and PyTorch
//! layout (`[out, in]`), a `config.json` for `LlamaForCausalLM`, and `tokenizer.json`. The
//! security heads go to `sbd_heads.safetensors` beside it. Our rotary embedding already uses
//! Hugging Face's rotate-half layout, so no query/key permutation is needed.

use std::path::Path;

use serde_json::json;

use crate::model::Model;
use crate::tensor_io::TensorFile;
use crate::tokenizer::Tok;
use crate::{Result, io_err};

/// Writes the export into `dir`. Returns the number of tensors in `model.safetensors`.
pub fn export_hf(model: &Model, tok: &Tok, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let all = model.to_file()?;
    let mut llama = TensorFile::default();
    let mut heads = TensorFile::default();
    for (name, t) in all.tensors {
        if name.starts_with("sbd.") { &mut heads } else { &mut llama }.tensors.insert(name, t);
    }
    llama.metadata.insert("format".into(), "pt".into());
    llama.save(&dir.join("model.safetensors"))?;
    heads.metadata.insert("format".into(), "pt".into());
    heads.save(&dir.join("sbd_heads.safetensors"))?;
    let c = &model.cfg;
    let config = json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": c.d_model,
        "intermediate_size": c.d_ff,
        "num_hidden_layers": c.n_layers,
        "num_attention_heads": c.n_heads,
        "num_key_value_heads": c.n_heads,
        "head_dim": c.head_dim(),
        "hidden_act": "silu",
        "max_position_embeddings": c.max_seq,
        "rms_norm_eps": c.norm_eps,
        "rope_theta": c.rope_theta,
        "vocab_size": c.vocab_size,
        "tie_word_embeddings": false,
        "attention_bias": false,
        "mlp_bias": false,
        "bos_token_id": tok.bos,
        "eos_token_id": tok.eos,
        "pad_token_id": tok.pad,
        "torch_dtype": "float32",
    });
    let text = serde_json::to_string_pretty(&config).map_err(|e| crate::Error::Invalid(e.to_string()))?;
    crate::write_atomic(&dir.join("config.json"), text.as_bytes())?;
    tok.save(&dir.join("tokenizer.json"))?;
    Ok(llama.tensors.len())
}
