//! The one error type of the API: each variant has a status code and a stable `code`; internal
//! errors are logged with their cause and answered with a generic message, never echoed.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::client::ErrorBody;
use crate::store::StoreError;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or unknown bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (not JSON, bad gzip, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// The body is over the limit (after decompression).
    #[error("the request body is larger than the {0} bytes allowed")]
    TooLarge(usize),
    /// A content encoding other than gzip or identity.
    #[error("unsupported content encoding `{0}`: send gzip or no encoding")]
    UnsupportedEncoding(String),
    /// A well-formed JSON document that is not a valid inventory.
    #[error("invalid inventory at `{field}`: {message}")]
    InvalidInventory {
        /// The JSON path of the offending field.
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// The request conflicts with the stored state.
    #[error("{message}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// The request body did not arrive in time.
    #[error("{0}")]
    Timeout(String),
    /// A node pushes too often.
    #[error("{message}")]
    TooManyRequests {
        /// Message.
        message: String,
        /// When to come back.
        retry_after: std::time::Duration,
    },
    /// The server is at a limit (the push memory budget): retry later.
    #[error("{0}")]
    Busy(String),
    /// Not ready (the store does not answer, or writes fail).
    #[error("{0}")]
    Unavailable(String),
    /// The database failed (full, unreachable, timed out): nothing was stored; retry later.
    #[error("database error: {0}")]
    Storage(String),
    /// Anything else: logged, answered 500 without details.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The status code.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidInventory { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy(_) | Self::Unavailable(_) | Self::Storage(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::BadRequest(_) => "bad-request",
            Self::TooLarge(_) => "too-large",
            Self::UnsupportedEncoding(_) => "unsupported-encoding",
            Self::InvalidInventory { .. } => "invalid-inventory",
            Self::Conflict { code, .. } => code,
            Self::Timeout(_) => "timeout",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::Busy(_) => "busy",
            Self::Unavailable(_) => "unavailable",
            Self::Storage(_) => "storage-unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// An internal error from anything displayable.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotEnrolled(n) => {
                Self::Forbidden(format!("node `{n}` is not enrolled or was revoked"))
            }
            StoreError::Revoked(n) => Self::Forbidden(format!(
                "node `{n}` was revoked: an operator must remove it before it can enroll again"
            )),
            // Nothing was stored: the client keeps its data and retries (agents retry 5xx).
            e @ (StoreError::Db(_) | StoreError::Open { .. } | StoreError::Migrate(_)) => {
                Self::Storage(e.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!("internal error: {cause}");
                "internal error (logged on the server)".to_owned()
            }
            Self::Unavailable(cause) => {
                tracing::warn!("not ready: {cause}");
                "not ready".to_owned()
            }
            Self::Storage(_) => {
                tracing::error!("{self}");
                "the database failed (logged on the server): retry later".to_owned()
            }
            other => other.to_string(),
        };
        let field = match &self {
            Self::InvalidInventory { field, .. } => Some(field.clone()),
            _ => None,
        };
        let mut r = (
            status,
            axum::Json(ErrorBody {
                error: message,
                code: self.code().to_owned(),
                field,
                limit: match &self {
                    Self::TooLarge(l) => u64::try_from(*l).ok(),
                    _ => None,
                },
            }),
        )
            .into_response();
        let retry_after = match &self {
            Self::TooManyRequests { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            Self::Busy(_) | Self::Unavailable(_) | Self::Storage(_) => Some(5),
            _ => None,
        };
        if let Some(secs) = retry_after {
            r.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}
