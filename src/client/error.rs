//! What can go wrong between a client and the analyzer, each error naming the URL asked.

use std::path::PathBuf;

use super::wire::ErrorBody;

/// Whose secret a request carries, so that a refusal (401) says where to give the right one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    /// An API token (`query`, `plan --server`): `--token` or `NMINUS_API_TOKEN`.
    ApiToken,
    /// The enrollment secret, or an admin API token in its place (`agent enroll`).
    EnrollSecret,
    /// The node token the server issued at enrollment (`agent` runs).
    NodeToken,
}

impl Credential {
    /// What to do when the server refuses this credential.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            Self::ApiToken => {
                "give the server's API token with --token or NMINUS_API_TOKEN (a token of the `read` role or above)"
            }
            Self::EnrollSecret => {
                "give the server's enrollment secret with --token, --token-file or NMINUS_ENROLL_TOKEN; an admin API token (the kind `query` and `plan` take from NMINUS_API_TOKEN) works in its place"
            }
            Self::NodeToken => {
                "the server no longer accepts this node's token (revoked, or the server's store was replaced): enroll again with `nminus agent enroll --token SECRET` (or NMINUS_ENROLL_TOKEN; an admin API token, as in NMINUS_API_TOKEN, works in its place)"
            }
        }
    }
}

/// Why a request to the analyzer failed. Every variant names the URL.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The client could not be built (a CA or certificate file unreadable or not PEM).
    #[error("cannot set up the HTTP client{}: {message}", file_note(.file.as_ref()))]
    Setup {
        /// The file at fault, when one is.
        file: Option<PathBuf>,
        /// Why.
        message: String,
    },
    /// The base URL is not an http(s) URL.
    #[error("`{url}`: expected an http:// or https:// URL (for example `https://{url}`)")]
    BadUrl {
        /// As given.
        url: String,
    },
    /// No answer: connection refused, TLS failure, timeout.
    #[error("cannot reach `{url}`: {message}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// The transport's error, with its causes.
        message: String,
    },
    /// 401: the credential is missing or refused.
    #[error("{url}: 401 Unauthorized: {message}\nhint: {}", .credential.hint())]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// The server's message.
        message: String,
        /// What the request carried.
        credential: Credential,
    },
    /// Any other answer that is not a success.
    #[error("{url}: {status}: {message}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// The server's message (its error body's `error`, with the field when it names one).
        message: String,
        /// The error body, when the server sent one.
        body: Option<Box<ErrorBody>>,
    },
    /// The answer is over the bound this client reads.
    #[error("{url}: the answer is larger than {} KiB: not read", .limit >> 10)]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The bound.
        limit: u64,
    },
    /// The answer could not be read, or is not what the endpoint answers.
    #[error("{url}: unexpected answer: {message}")]
    Unexpected {
        /// The URL asked.
        url: String,
        /// Why.
        message: String,
    },
}

fn file_note(f: Option<&PathBuf>) -> String {
    f.map(|p| format!(" ({})", p.display())).unwrap_or_default()
}

impl ClientError {
    /// Whether trying again later may succeed: no answer, a server error (5xx) or too many
    /// requests (429). A refusal of the request itself (other 4xx) is not.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Status { status, .. } => {
                status.is_server_error() || *status == reqwest::StatusCode::TOO_MANY_REQUESTS
            }
            _ => false,
        }
    }

    /// The HTTP status of a refusal, when the server answered one.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { .. } => Some(401),
            Self::Status { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }

    /// The body limit a 413 announced.
    pub(crate) fn body_limit(&self) -> Option<usize> {
        match self {
            Self::Status {
                status,
                body: Some(b),
                ..
            } if *status == reqwest::StatusCode::PAYLOAD_TOO_LARGE => {
                b.limit.and_then(|l| usize::try_from(l).ok())
            }
            _ => None,
        }
    }

    /// The server's own words (or the transport's), without the URL.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Unreachable { message, .. }
            | Self::Unauthorized { message, .. }
            | Self::Status { message, .. }
            | Self::Unexpected { message, .. }
            | Self::Setup { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
}
