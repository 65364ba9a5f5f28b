//! Reading untrusted JSON with limits on size and nesting depth.

use std::io::Read;

use serde_json::Value;

use crate::Error;

/// The most nesting `serde_json` accepts; `max_depth` may not exceed it.
pub const HARD_MAX_DEPTH: usize = 127;

/// Limits applied before and while parsing an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input in bytes (default 64 MiB).
    pub max_bytes: u64,
    /// Deepest accepted nesting of arrays and objects (default 64, at most 127). A valid
    /// instance nests about 8 deep; the margin is for user data in `properties`.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 64 * 1024 * 1024, max_depth: 64 }
    }
}

impl Limits {
    /// Checks that the limits themselves are usable.
    pub fn check(&self) -> Result<(), Error> {
        if self.max_depth == 0 || self.max_depth > HARD_MAX_DEPTH {
            return Err(Error::BadLimit(format!(
                "max depth must be between 1 and {HARD_MAX_DEPTH}, got {}",
                self.max_depth
            )));
        }
        if self.max_bytes == 0 {
            return Err(Error::BadLimit("max bytes must be at least 1".into()));
        }
        Ok(())
    }
}

/// Reads at most `limits.max_bytes` from `reader`; more is an error, never a truncation.
pub fn read_limited(reader: impl Read, limits: &Limits) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    reader.take(limits.max_bytes.saturating_add(1)).read_to_end(&mut buf).map_err(Error::Io)?;
    if buf.len() as u64 > limits.max_bytes {
        return Err(Error::TooLarge { limit: limits.max_bytes });
    }
    Ok(buf)
}

/// Parses one JSON value under the limits. Depth is measured on the raw bytes first, so an
/// input nested 100 000 deep is refused in linear time without recursion.
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Value, Error> {
    limits.check()?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(Error::TooLarge { limit: limits.max_bytes });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 { offset: e.valid_up_to() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(Error::Empty);
    }
    if let Some(depth) = depth_exceeds(text.as_bytes(), limits.max_depth) {
        return Err(Error::TooDeep { limit: limits.max_depth, offset: depth });
    }
    serde_json::from_str(text).map_err(|e| Error::Json {
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// serde_json appends " at line L column C"; the error carries those separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The byte offset where nesting first exceeds `max`, if it does.
fn depth_exceeds(bytes: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_deep_nesting_without_recursing() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        let err = parse_json(deep.as_bytes(), &Limits::default()).unwrap_err();
        assert!(matches!(err, Error::TooDeep { limit: 64, offset: 64 }), "{err}");
    }

    #[test]
    fn accepts_nesting_up_to_the_hard_limit() {
        let limits = Limits { max_depth: HARD_MAX_DEPTH, ..Limits::default() };
        let ok = "[".repeat(HARD_MAX_DEPTH) + &"]".repeat(HARD_MAX_DEPTH);
        parse_json(ok.as_bytes(), &limits).unwrap();
        let deep = "[".repeat(HARD_MAX_DEPTH + 1) + &"]".repeat(HARD_MAX_DEPTH + 1);
        assert!(matches!(parse_json(deep.as_bytes(), &limits), Err(Error::TooDeep { .. })));
    }

    #[test]
    fn brackets_inside_strings_do_not_count() {
        let limits = Limits { max_depth: 2, ..Limits::default() };
        parse_json(br#"{"a": "[[[[[\"{{{{"}"#, &limits).unwrap();
    }

    #[test]
    fn clear_errors_for_bad_input() {
        let l = Limits::default();
        assert!(matches!(parse_json(b"", &l), Err(Error::Empty)));
        assert!(matches!(parse_json(b"  \n", &l), Err(Error::Empty)));
        assert!(matches!(parse_json(b"\xff\xfe{}", &l), Err(Error::NotUtf8 { offset: 0 })));
        let Err(Error::Json { line, column, .. }) = parse_json(b"{\n  \"a\": tru }", &l) else {
            panic!("expected a JSON error")
        };
        assert_eq!((line, column), (2, 11));
        let small = Limits { max_bytes: 4, ..Limits::default() };
        assert!(matches!(parse_json(b"[1,2,3]", &small), Err(Error::TooLarge { limit: 4 })));
        assert!(matches!(read_limited(&b"[1,2,3]"[..], &small), Err(Error::TooLarge { limit: 4 })));
        assert_eq!(read_limited(&b"[1]"[..], &small).unwrap(), b"[1]");
        assert!(matches!(Limits { max_depth: 500, ..l }.check(), Err(Error::BadLimit(_))));
    }
}
