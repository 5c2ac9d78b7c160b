//! Bearer tokens: a file of `ROLE TOKEN` lines, roles `staff` (append and read) and `reader`.
//!
//! Tokens are kept only as SHA-256 digests, so a memory dump does not reveal them and a lookup
//! does not compare secrets byte by byte.

use std::collections::HashMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// May read.
    Reader,
    /// May append and read.
    Staff,
}

/// The accepted tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_digest: HashMap<[u8; 32], Role>,
}

/// A tokens file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {problem}")]
pub struct TokensError {
    /// The file.
    pub file: String,
    /// The 1-based line (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    /// Parses a tokens file's text: one `ROLE TOKEN` per line; blank lines and `#` comments are
    /// ignored. Tokens must be at least 16 characters.
    ///
    /// # Errors
    /// Naming the first bad line.
    pub fn parse(file: &str, text: &str) -> Result<Tokens, TokensError> {
        let mut tokens = Tokens::default();
        let error = |line, problem: String| TokensError {
            file: file.to_owned(),
            line,
            problem,
        };
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(role), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(error(line_no, "expected `ROLE TOKEN`".into()));
            };
            let role = match role {
                "staff" => Role::Staff,
                "reader" => Role::Reader,
                other => {
                    return Err(error(
                        line_no,
                        format!("unknown role {other:?} (staff or reader)"),
                    ));
                }
            };
            if token.chars().count() < 16 {
                return Err(error(line_no, "token shorter than 16 characters".into()));
            }
            if tokens.by_digest.insert(digest(token), role).is_some() {
                return Err(error(line_no, "token listed twice".into()));
            }
        }
        if tokens.by_digest.is_empty() {
            return Err(error(0, "no tokens".into()));
        }
        Ok(tokens)
    }

    /// Reads and parses a tokens file.
    ///
    /// # Errors
    /// When unreadable or malformed.
    pub fn load(path: &Path) -> Result<Tokens, TokensError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TokensError {
            file: name.clone(),
            line: 0,
            problem: e.to_string(),
        })?;
        Self::parse(&name, &text)
    }

    /// The role of a presented token.
    #[must_use]
    pub fn role(&self, token: &str) -> Option<Role> {
        self.by_digest.get(&digest(token)).copied()
    }
}

/// The bearer token of an `Authorization` header value.
#[must_use]
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_file_is_parsed_and_bad_lines_named() {
        let tokens = Tokens::parse(
            "t",
            "# team\nstaff s3cret-staff-token-1\n\nreader r3ader-token-abcdef\n",
        )
        .expect("valid");
        assert_eq!(tokens.role("s3cret-staff-token-1"), Some(Role::Staff));
        assert_eq!(tokens.role("r3ader-token-abcdef"), Some(Role::Reader));
        assert_eq!(tokens.role("nope"), None);
        let err = Tokens::parse("t", "staff short\n").expect_err("short token");
        assert_eq!(err.line, 1);
        let err = Tokens::parse("t", "admin 0123456789abcdef0\n").expect_err("unknown role");
        assert!(err.problem.contains("admin"), "{err}");
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }
}
