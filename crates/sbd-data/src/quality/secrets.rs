//! Secret redaction: credentials in code are replaced by the marker `<REDACTED>` before anything is
//! written. Patterns: private key blocks, AWS access keys, GitHub, GitLab, Slack and Stripe
//! tokens, Google API keys, JWTs, and string literals assigned to names such as `password`,
//! `secret`, `api_key` or `token`.
use std::sync::OnceLock;

use regex::Regex;

/// What replaces a secret.
pub const REDACTION_MARKER: &str = "<REDACTED>";

fn patterns() -> &'static [Regex] {
    static P: OnceLock<Vec<Regex>> = OnceLock::new();
    P.get_or_init(|| {
        [
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
            r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
            r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",
            r"\bglpat-[A-Za-z0-9_-]{20,}\b",
            r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b",
            r"\b[sr]k_live_[A-Za-z0-9]{16,}\b",
            r"\bAIza[0-9A-Za-z_-]{35}\b",
            r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

fn assignment() -> Option<&'static Regex> {
    static A: OnceLock<Option<Regex>> = OnceLock::new();
    A.get_or_init(|| {
        Regex::new(
            r#"(?i)((?:password|passwd|pwd|secret|api_?key|access_?key|auth_?token|private_?key|client_?secret)["']?\s*(?:=|:|=>)\s*)(["'])([^"'\s]{8,})(["'])"#,
        )
        .ok()
    })
    .as_ref()
}

/// `code` with secrets replaced, and how many were replaced.
pub fn redact(code: &str) -> (String, usize) {
    let mut out = std::borrow::Cow::Borrowed(code);
    let mut n = 0;
    for re in patterns() {
        if re.is_match(&out) {
            n += re.find_iter(&out).count();
            out = std::borrow::Cow::Owned(re.replace_all(&out, REDACTION_MARKER).into_owned());
        }
    }
    if let Some(re) = assignment() {
        let hits = re.captures_iter(&out).filter(|c| c.get(3).is_some_and(|v| v.as_str() != REDACTION_MARKER)).count();
        if hits > 0 {
            n += hits;
            out = std::borrow::Cow::Owned(
                re.replace_all(&out, format!("${{1}}${{2}}{REDACTION_MARKER}${{4}}")).into_owned(),
            );
        }
    }
    (out.into_owned(), n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    // sbd:allow(SEC001, justification="AWS documented example key, test data for the secret-redaction gate", approver="sbd-maintainers", approved="2026-11-25", ticket="issue-6")
    fn redacts_keys_and_assigned_passwords() {
        let code = "aws = \"AKIAIOSFODNN7EXAMPLE\"\npassword = \"hunter2-prod\"\nname = \"alice-the-user\"\n";
        let (out, n) = redact(code);
        assert_eq!(n, 2, "{out}");
        assert!(!out.contains("AKIAIOSFODNN7EXAMPLE") && !out.contains("hunter2-prod"));
        assert!(out.contains("alice-the-user"));
        assert_eq!(redact(&out).1, 0, "redaction is idempotent");
    }

    #[test]
    fn leaves_short_or_variable_values() {
        let (_, n) = redact("password = os.environ[\"DB_PASSWORD\"]\nsecret = get()\n");
        assert_eq!(n, 0);
    }
}
