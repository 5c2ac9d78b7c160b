//! Access control: bearer tokens (a file of `ROLE TOKEN` lines, roles `staff`, who append and
//! read, and `reader`) and the decision, for each request, of whether it may go on.
//!
//! Tokens are kept only as SHA-256 digests, so a memory dump does not reveal them and a lookup
//! does not compare secrets byte by byte.

use std::collections::HashMap;
use std::path::Path;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use sha2::{Digest, Sha256};

use super::Config;
use super::error::ApiError;

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

/// `EventSource` cannot send headers, so `GET /v1/feed` (and only it) also takes the token as
/// `?access_token=`. It is removed from the request before the feed handler sees the query.
pub(crate) fn take_feed_token(request: &mut Request) -> Option<String> {
    if request.method() != Method::GET || request.uri().path() != "/v1/feed" {
        return None;
    }
    let query = request.uri().query()?;
    let mut token = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.strip_prefix("access_token=") {
            Some(value) => {
                // The value as a form decoder reads it (`%XX` escapes, `+` a space).
                token = form_urlencoded::parse(format!("t={value}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned());
                false
            }
            None => true,
        })
        .collect();
    token.as_ref()?;
    let mut path_and_query = request.uri().path().to_owned();
    if !kept.is_empty() {
        path_and_query.push('?');
        path_and_query.push_str(&kept.join("&"));
    }
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    token
}

/// Whether a request may go on: open paths; reads with a reader or staff token, or without one
/// when reads are public; appends with a staff token only. Without tokens, reads are refused
/// unless they were made public on purpose, and appends always are.
pub(crate) fn authorise(
    config: &Config,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<(), ApiError> {
    let open = matches!(path, "/" | "/healthz" | "/v1/openapi.json");
    let append = method == Method::POST;
    if open {
        return Ok(());
    }
    if !append && config.public_reads {
        return Ok(());
    }
    let Some(tokens) = &config.tokens else {
        return Err(if append {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "appends_disabled",
                "appends are disabled: the server was started without --tokens",
            )
        } else {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "reads_disabled",
                "reads are closed: the server was started without --tokens (give --tokens FILE, or --public-reads to open reads to anyone)",
            )
        });
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .or(query_token);
    let Some(role) = presented.and_then(|t| tokens.role(t)) else {
        // RFC 6750 §3: the challenge names the scheme, and `invalid_token` when one was given.
        let (message, challenge) = if presented.is_some() {
            (
                "unknown token",
                r#"Bearer realm="coopledger", error="invalid_token""#,
            )
        } else {
            (
                "a bearer token is required (Authorization: Bearer TOKEN)",
                r#"Bearer realm="coopledger""#,
            )
        };
        return Err(
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).with_header(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(challenge),
            ),
        );
    };
    let needed = if append { Role::Staff } else { Role::Reader };
    if role < needed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may read but not append",
        ));
    }
    // A read-only node writes nothing; verifying again (POST /v1/verify) only reads.
    if append && config.read_only && path != "/v1/verify" {
        let whereto = config.writer.as_deref().map_or_else(
            || "the writer node".to_owned(),
            |url| format!("the writer, {url}"),
        );
        return Err(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "read_only",
            format!("this node serves reads only (serve --read-only): send appends to {whereto}"),
        ));
    }
    Ok(())
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
