//! Who may call what. Agents push with their node token (issued at enrollment, kept as a
//! sha256 by the store); everything else needs an API token with a role:
//!
//! | role      | may                                                              |
//! |-----------|------------------------------------------------------------------|
//! | `metrics` | `GET /metrics`                                                    |
//! | `read`    | the above, and every `GET /v1/…` (nodes, inventories, findings, reports) |
//! | `operate` | the above, and `POST /v1/reanalyze`                               |
//! | `admin`   | the above, and `POST /v1/enroll` in place of the enrollment secret |
//!
//! API tokens are configured as sha256 hashes ([`ApiTokens::parse`]), so the file that grants
//! access does not hold a usable secret. `/healthz` and `/readyz` are open (load balancers).
//! [`Access::Open`] (`serve --insecure-no-auth`, loopback only) lets everyone do everything
//! but enroll.

use std::fmt;
use std::str::FromStr;

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};

use super::ApiError;

/// A role of an API token; each includes those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Scrape `/metrics`.
    Metrics,
    /// Read everything stored.
    Read,
    /// Read, and start a fleet re-analysis.
    Operate,
    /// Operate, and enroll nodes.
    Admin,
}

impl Role {
    /// The role's name in token files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Read => "read",
            Self::Operate => "operate",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "metrics" => Ok(Self::Metrics),
            "read" => Ok(Self::Read),
            "operate" => Ok(Self::Operate),
            "admin" => Ok(Self::Admin),
            _ => Err(format!(
                "expected a role `metrics`, `read`, `operate` or `admin`, found `{s}`"
            )),
        }
    }
}

/// One API token as configured: its sha256, role and name.
#[derive(Clone, PartialEq, Eq)]
struct ApiToken {
    sha256: [u8; 32],
    role: Role,
    name: String,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("role", &self.role)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The configured API tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiTokens(Vec<ApiToken>);

/// A line of a tokens file that is not valid.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct TokenFileError {
    file: String,
    line: usize,
    message: String,
}

impl ApiTokens {
    /// No tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a token given in clear (kept only as its sha256).
    #[must_use]
    pub fn with_token(mut self, token: &str, role: Role, name: &str) -> Self {
        self.0.push(ApiToken {
            sha256: Sha256::digest(token.trim().as_bytes()).into(),
            role,
            name: name.to_owned(),
        });
        self
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parse a tokens file: one token a line, `ROLE SHA256 [NAME]` (the sha256 of the token in
    /// hex, e.g. `printf %s "$TOKEN" | sha256sum`, optionally prefixed `sha256:`); `#` starts
    /// a comment. `file` names the file in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, TokenFileError> {
        let mut v = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let err = |message: String| TokenFileError {
                file: file.to_owned(),
                line: i + 1,
                message,
            };
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut w = line.split_whitespace();
            let (Some(role), Some(hash)) = (w.next(), w.next()) else {
                return Err(err(
                    "expected `ROLE SHA256 [NAME]` (ROLE: metrics, read, operate or admin)".into(),
                ));
            };
            let role = role.parse::<Role>().map_err(err)?;
            let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
            let sha256 = parse_sha256(hex).ok_or_else(|| {
                // Not echoed: it may be a token written in clear.
                err(format!(
                    "expected the token's sha256 as 64 hex digits, found {} characters \
                     (write the hash, never the token: `printf %s \"$TOKEN\" | sha256sum`)",
                    hash.chars().count()
                ))
            })?;
            let name = w.collect::<Vec<_>>().join(" ");
            v.push(ApiToken {
                sha256,
                role,
                name: if name.is_empty() {
                    format!("line {}", i + 1)
                } else {
                    name
                },
            });
        }
        Ok(Self(v))
    }

    /// The role of `token`, comparing against every configured hash in constant time.
    pub fn role_of(&self, token: &str) -> Option<Role> {
        let h: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for t in &self.0 {
            let diff = t
                .sha256
                .iter()
                .zip(h.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff == 0 {
                found = found.max(Some(t.role));
            }
        }
        found
    }
}

fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Who may read and operate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Everyone (`--insecure-no-auth`, loopback only).
    Open,
    /// Bearers of these tokens (none: nobody).
    Tokens(ApiTokens),
}

impl Default for Access {
    fn default() -> Self {
        Self::Tokens(ApiTokens::new())
    }
}

impl Access {
    /// Whether anyone may do anything without a token.
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open)
    }

    /// The role a request's bearer token has.
    pub fn role_of(&self, headers: &HeaderMap) -> Option<Role> {
        match self {
            Self::Open => Some(Role::Operate),
            Self::Tokens(t) => bearer(headers).and_then(|b| t.role_of(b)),
        }
    }

    /// Allow the request when its bearer has `needed` (or access is open).
    pub fn require(&self, headers: &HeaderMap, needed: Role) -> Result<(), ApiError> {
        if self.is_open() {
            return Ok(());
        }
        match self.role_of(headers) {
            Some(r) if r >= needed => Ok(()),
            Some(r) => Err(ApiError::Forbidden(format!(
                "this token has the role `{r}`; this needs `{needed}`"
            ))),
            None => Err(ApiError::Unauthorized),
        }
    }

    /// Whether the request's bearer is an `admin` API token (open access is not).
    pub fn is_admin(&self, headers: &HeaderMap) -> bool {
        match self {
            Self::Open => false,
            Self::Tokens(t) => bearer(headers).and_then(|b| t.role_of(b)) == Some(Role::Admin),
        }
    }
}

/// The `Authorization: Bearer` token of a request.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Node tokens seen in this process (token sha256 → node), so that a heartbeat needs no
/// read of the store to name its node. The cache never authorises a write: the heartbeat's
/// own write matches the token hash and `revoked = FALSE` in the same statement
/// ([`crate::store::Store::heartbeats`]), so a revoked or replaced token stops being accepted
/// at once, by every replica; a write that does not match drops the entry and asks the store.
/// Full inventories always authenticate against the store. At most [`NodeTokens::MAX`]
/// entries: past it the cache starts again empty.
#[derive(Debug, Default)]
pub(crate) struct NodeTokens {
    nodes: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl NodeTokens {
    /// Entries at most (a token hash and a node id: about 200 bytes each).
    pub(crate) const MAX: usize = 200_000;

    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.nodes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The node this token hash was last seen to belong to.
    pub(crate) fn get(&self, token_hash: &str) -> Option<String> {
        self.map().get(token_hash).cloned()
    }

    /// Remember that `token_hash` belongs to `node`.
    pub(crate) fn insert(&self, token_hash: &str, node: &str) {
        let mut m = self.map();
        if m.len() >= Self::MAX {
            m.clear();
        }
        m.insert(token_hash.to_owned(), node.to_owned());
    }

    /// Forget `token_hash` (the store no longer took it).
    pub(crate) fn forget(&self, token_hash: &str) {
        self.map().remove(token_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(token: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        m
    }

    #[test]
    fn roles_from_a_file_of_hashes() {
        let hash = crate::store::token_hash("t-read");
        let text = format!(
            "# tokens\n read {hash} grafana\noperate sha256:{} ops team\n",
            crate::store::token_hash("t-op")
        );
        let t = ApiTokens::parse(&text, "tokens").unwrap();
        assert_eq!(t.role_of("t-read"), Some(Role::Read));
        assert_eq!(t.role_of("t-op"), Some(Role::Operate));
        assert_eq!(t.role_of("t-none"), None);
        assert!(!text.contains("t-read"));
        let a = Access::Tokens(t);
        assert!(a.require(&h("t-read"), Role::Read).is_ok());
        assert!(a.require(&h("t-read"), Role::Metrics).is_ok());
        assert!(matches!(
            a.require(&h("t-read"), Role::Operate),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            a.require(&HeaderMap::new(), Role::Metrics),
            Err(ApiError::Unauthorized)
        ));
        assert!(Access::default()
            .require(&h("anything"), Role::Metrics)
            .is_err());
        assert!(Access::Open
            .require(&HeaderMap::new(), Role::Operate)
            .is_ok());
    }

    #[test]
    fn bad_lines_are_named() {
        let e = ApiTokens::parse("read\n", "/etc/t")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/t:1: expected `ROLE SHA256"), "{e}");
        let e = ApiTokens::parse("\nroot abc\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t:2: expected a role"), "{e}");
        let e = ApiTokens::parse("read my-secret-token\n", "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("never the token"), "{e}");
    }
}
