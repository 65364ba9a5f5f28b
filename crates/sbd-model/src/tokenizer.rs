//! Byte-level BPE tokenizer with the project's special tokens.

use std::collections::HashSet;
use std::path::Path;

use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use crate::{Error, Result};

/// Padding / end of sequence.
pub const PAD: &str = "<|pad|>";
pub const BOS: &str = "<|bos|>";
pub const EOS: &str = "<|eos|>";
/// Chat roles (SFT/DPO/RL prompts).
pub const USER: &str = "<|user|>";
pub const ASSISTANT: &str = "<|assistant|>";
pub const SYSTEM: &str = "<|system|>";
/// Multi-layer output: code, the three ANRF layers, explanation.
pub const CODE: &str = "<|code|>";
pub const ANRF_INTENT: &str = "<|anrf_intent|>";
pub const ANRF_SEMANTIC: &str = "<|anrf_semantic|>";
pub const ANRF_EXECUTION: &str = "<|anrf_execution|>";
pub const EXPLANATION: &str = "<|explanation|>";
pub const OVERRIDE: &str = "<|override|>";
/// Fill-in-the-middle.
pub const FIM_PREFIX: &str = "<|fim_prefix|>";
pub const FIM_SUFFIX: &str = "<|fim_suffix|>";
pub const FIM_MIDDLE: &str = "<|fim_middle|>";
/// Security tag markers (one per verifier class; used in tagged text and as tag names).
pub const TAGS: [&str; 10] = [
    "<|tag_memory_safety|>",
    "<|tag_injection|>",
    "<|tag_crypto|>",
    "<|tag_secrets|>",
    "<|tag_deserialization|>",
    "<|tag_path_traversal|>",
    "<|tag_sandboxing|>",
    "<|tag_resource_bounds|>",
    "<|tag_type_safety|>",
    "<|tag_override|>",
];

/// All special tokens in id order (they get the first ids).
pub fn special_tokens() -> Vec<&'static str> {
    let mut v = vec![
        PAD,
        BOS,
        EOS,
        USER,
        ASSISTANT,
        SYSTEM,
        CODE,
        ANRF_INTENT,
        ANRF_SEMANTIC,
        ANRF_EXECUTION,
        EXPLANATION,
        OVERRIDE,
        FIM_PREFIX,
        FIM_SUFFIX,
        FIM_MIDDLE,
    ];
    v.extend(TAGS);
    v
}

/// A loaded tokenizer and the ids of its special tokens.
#[derive(Clone)]
pub struct Tok {
    pub inner: Tokenizer,
    pub pad: u32,
    pub bos: u32,
    pub eos: u32,
}

/// One encoded text: ids and the byte span of each token in the text.
pub struct Encoded {
    pub ids: Vec<u32>,
    pub offsets: Vec<(usize, usize)>,
}

impl Tok {
    fn from_tokenizer(inner: Tokenizer) -> Result<Self> {
        let id = |t: &str| inner.token_to_id(t).ok_or_else(|| Error::Tokenizer(format!("special token {t} missing")));
        Ok(Tok { pad: id(PAD)?, bos: id(BOS)?, eos: id(EOS)?, inner })
    }

    /// Trains a byte-level BPE of `vocab_size` entries (special tokens included) on `texts`.
    pub fn train<I, S>(texts: I, vocab_size: usize) -> Result<Self>
    where
        I: Iterator<Item = S> + Send,
        S: AsRef<str> + Send,
    {
        let specials: Vec<AddedToken> = special_tokens().into_iter().map(|t| AddedToken::from(t, true)).collect();
        let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
        let trainer = BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(specials)
            .initial_alphabet(alphabet)
            .build();
        let mut trainer = TrainerWrapper::BpeTrainer(trainer);
        let mut tk = Tokenizer::new(BPE::default());
        tk.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        tk.with_decoder(Some(ByteLevel::default()));
        tk.train(&mut trainer, texts).map_err(|e| Error::Tokenizer(e.to_string()))?;
        let specials: Vec<AddedToken> = special_tokens().into_iter().map(|t| AddedToken::from(t, true)).collect();
        tk.add_special_tokens(specials).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Self::from_tokenizer(tk)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let inner = Tokenizer::from_file(path).map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::from_tokenizer(inner)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = self.inner.to_string(true).map_err(|e| Error::Tokenizer(e.to_string()))?;
        crate::write_atomic(path, json.as_bytes())
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn id(&self, token: &str) -> Result<u32> {
        self.inner.token_to_id(token).ok_or_else(|| Error::Tokenizer(format!("unknown token {token}")))
    }

    /// Encodes text (special tokens written in the text are recognised) with byte offsets.
    pub fn encode(&self, text: &str) -> Result<Encoded> {
        let enc = self.inner.encode(text, false).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(Encoded { ids: enc.get_ids().to_vec(), offsets: enc.get_offsets().to_vec() })
    }

    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner.decode(ids, skip_special).map_err(|e| Error::Tokenizer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_round_trips_and_keeps_special_tokens() {
        let texts: Vec<String> = (0..200)
            .map(|i| format!("fn f{i}(x: &[u8]) -> usize {{ x.len() + {i} }}\nchar buf[{i}]; strcpy(buf, s);"))
            .collect();
        let tok = Tok::train(texts.iter(), 400).unwrap();
        assert!(tok.vocab_size() <= 400 && tok.vocab_size() > 256);
        let text = format!("{CODE}strcpy(buf, s);{EXPLANATION}CWE-787{EOS}");
        let enc = tok.encode(&text).unwrap();
        assert_eq!(enc.ids[0], tok.id(CODE).unwrap());
        assert_eq!(*enc.ids.last().unwrap(), tok.eos);
        assert_eq!(tok.decode(&enc.ids, false).unwrap(), text);
        let dir = std::env::temp_dir().join(format!("sbd-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        tok.save(&dir.join("tokenizer.json")).unwrap();
        let back = Tok::load(&dir.join("tokenizer.json")).unwrap();
        assert_eq!(back.encode(&text).unwrap().ids, enc.ids);
        // Unicode and bytes never seen in training still round-trip (byte-level).
        let odd = "naïve → 日本 \u{7f}";
        assert_eq!(back.decode(&back.encode(odd).unwrap().ids, false).unwrap(), odd);
        std::fs::remove_dir_all(&dir).ok();
    }
}
