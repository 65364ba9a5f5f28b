//! Bearer-token authentication.

use std::path::Path;

/// The accepted tokens.
#[derive(Clone)]
pub struct Tokens(Vec<Vec<u8>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} configured)", self.0.len())
    }
}

impl Tokens {
    /// Tokens from text: one per line (or comma-separated); blank lines and `#` comments skipped.
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let tokens: Vec<Vec<u8>> = text
            .split(['\n', ','])
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.starts_with('#'))
            .map(|t| t.as_bytes().to_vec())
            .collect();
        if tokens.is_empty() {
            return Err("no tokens found (one per line; blank lines and # comments are ignored)".into());
        }
        if let Some(short) = tokens.iter().find(|t| t.len() < 16) {
            return Err(format!("a token of {} characters is too short to be a secret; use at least 16", short.len()));
        }
        Ok(Tokens(tokens))
    }

    pub fn from_file(path: &Path) -> Result<Tokens, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read tokens from {}: {e}", path.display()))?;
        Tokens::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Whether `candidate` is one of the tokens, in time independent of where they differ.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        let mut any = 0u8;
        for t in &self.0 {
            any |= u8::from(constant_time_eq(t, candidate));
        }
        any == 1
    }
}

/// Compares two byte strings without an early exit on the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= u64::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_tokens() {
        let t = Tokens::parse("# trainer\nabcdefghijklmnop1\n\n qrstuvwxyz0123456 \n").unwrap();
        assert!(t.accepts(b"abcdefghijklmnop1"));
        assert!(t.accepts(b"qrstuvwxyz0123456"));
        assert!(!t.accepts(b"abcdefghijklmnop"));
        assert!(!t.accepts(b""));
        assert!(Tokens::parse("\n# none\n").is_err());
        assert!(Tokens::parse("short").unwrap_err().contains("too short"));
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"ab", b"abc")
        );
    }
}
