//! The one error type of Agora, with a kind per HTTP-relevant class of failure.
//!
//! Core depends on no web framework, but it owns the one mapping to HTTP that
//! every adapter uses: [`ErrorKind::status_code`] (an exhaustive `match`, so a
//! new kind fails to compile until it has a status), [`Error::body`] and
//! [`Error::headers`]. Messages from [`Error::detail`] are safe to show to
//! clients; causes of 5xx errors stay in [`std::error::Error::source`] for
//! logs only ([`Error::log_if_server_error`]).

use serde::Serialize;

/// A boxed error cause kept for logs (never shown to clients).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure Agora reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is malformed or breaks a rule; one entry per offending field.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    /// Login with an unknown email or a wrong password (the same answer for both).
    #[error("Invalid Credentials")]
    InvalidCredentials,
    /// No valid bearer token: missing, malformed, tampered, expired, or its user is gone.
    #[error("Could not validate credentials")]
    Unauthorized,
    /// Authenticated, but not allowed to act on this object.
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist or is not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// The operation collides with existing state (duplicate email, repeated vote).
    #[error("{0}")]
    Conflict(String),
    /// The request body is larger than the configured limit.
    #[error("Request body too large")]
    PayloadTooLarge,
    /// Too many attempts; retry after the given number of seconds.
    #[error("Too many requests")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// A dependency (the database) is unreachable; retrying later may work.
    #[error("service unavailable")]
    Unavailable(#[source] Cause),
    /// A bug or an unexpected failure.
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// The class of an [`Error`]; adapters map each kind to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad input (HTTP 422).
    Validation,
    /// Missing or invalid credentials (HTTP 401).
    Unauthorized,
    /// Not allowed (HTTP 403); also wrong login credentials, as in the original API.
    Forbidden,
    /// Absent or invisible (HTTP 404).
    NotFound,
    /// Collides with existing state (HTTP 409).
    Conflict,
    /// Body over the limit (HTTP 413).
    PayloadTooLarge,
    /// Throttled (HTTP 429).
    RateLimited,
    /// Dependency down (HTTP 503).
    Unavailable,
    /// Unexpected failure (HTTP 500).
    Internal,
}

impl ErrorKind {
    /// The HTTP status code of this kind: the one status table every adapter
    /// answers with. Exhaustive on purpose: a new kind does not compile until
    /// it has a status here.
    pub fn status_code(self) -> u16 {
        match self {
            ErrorKind::Validation => 422,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

impl Error {
    /// The HTTP status code of this error ([`ErrorKind::status_code`]).
    pub fn status_code(&self) -> u16 {
        self.kind().status_code()
    }

    /// The JSON body every adapter sends: `{"detail": [field errors]}` for a
    /// validation error, `{"detail": "<message>"}` for anything else (fixed
    /// text for 5xx errors, see [`Error::detail`]).
    pub fn body(&self) -> serde_json::Value {
        match self {
            Error::Validation(fields) => serde_json::json!({ "detail": fields }),
            other => serde_json::json!({ "detail": other.detail() }),
        }
    }

    /// The response headers the contract requires besides the body, as
    /// lower-case `(name, value)` pairs: `www-authenticate: Bearer` on 401,
    /// `retry-after: <seconds>` on 429.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::Unauthorized => vec![("www-authenticate", "Bearer".to_owned())],
            Error::RateLimited { retry_after_secs } => {
                vec![("retry-after", retry_after_secs.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// Logs the cause of a 5xx error (clients only get the fixed text of
    /// [`Error::detail`]); does nothing for other kinds. Adapters call it
    /// once for every error they answer with.
    pub fn log_if_server_error(&self) {
        if self.status_code() >= 500 {
            let cause = std::error::Error::source(self).map(|c| c.to_string());
            tracing::error!(code = self.code(), cause = ?cause, "request failed");
        }
    }

    /// The kind that decides the HTTP status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Validation(_) => ErrorKind::Validation,
            Error::Unauthorized => ErrorKind::Unauthorized,
            Error::InvalidCredentials | Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::PayloadTooLarge => ErrorKind::PayloadTooLarge,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Unavailable(_) => ErrorKind::Unavailable,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// A stable, machine-readable code for this error (for logs, clients and docs).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "validation_error",
            Error::InvalidCredentials => "invalid_credentials",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::PayloadTooLarge => "payload_too_large",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The client-facing `detail` message. Fixed text for 5xx errors, so no
    /// internal cause (SQL, paths, driver messages) ever reaches a client.
    /// Validation errors carry their detail in [`Error::field_errors`] instead.
    pub fn detail(&self) -> String {
        match self {
            Error::Unavailable(cause) => match cause.downcast_ref::<DependencyDown>() {
                Some(down) => format!("Service temporarily unavailable: {down}, try again later"),
                None => "Service temporarily unavailable, try again later".to_owned(),
            },
            Error::Internal(_) => "Internal Server Error".to_owned(),
            other => other.to_string(),
        }
    }

    /// The per-field errors of a validation failure (empty for other kinds).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Validation(errors) => errors,
            _ => &[],
        }
    }

    /// A validation error about a single field.
    pub fn invalid(loc: &[&str], msg: impl Into<String>, kind: &'static str) -> Self {
        Error::Validation(vec![FieldError::new(loc, msg, kind)])
    }

    /// Wraps an unexpected failure.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Error::Internal(cause.into())
    }
}

/// The cause of an [`Error::Unavailable`] that names the dependency that
/// does not answer (e.g. `"Redis"`), so that the client's `detail` says which
/// one (`/health` uses it); the underlying cause stays in the log only.
#[derive(Debug, thiserror::Error)]
#[error("{name} does not answer")]
pub struct DependencyDown {
    /// The dependency as named to clients, e.g. `"Redis"`.
    pub name: &'static str,
    /// What failed (logged, never shown).
    #[source]
    pub cause: Cause,
}

/// One validation problem, serialised as FastAPI does:
/// `{"loc": ["body", "email"], "msg": "...", "type": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where the problem is: `"body"`, `"query"` or `"path"`, then the field path.
    pub loc: Vec<String>,
    /// A human-readable explanation.
    pub msg: String,
    /// A short machine-readable category (`missing`, `json_invalid`, `string_too_short`, ...).
    #[serde(rename = "type")]
    pub kind: String,
}

impl FieldError {
    /// Builds a field error from its location, message and category.
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        FieldError {
            loc: loc.iter().map(|s| (*s).to_owned()).collect(),
            msg: msg.into(),
            kind: kind.to_owned(),
        }
    }
}

/// Shorthand for results in Agora.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_expose_their_cause_in_detail() {
        let err = Error::internal("SELECT * FROM secrets failed at /srv/db");
        assert_eq!(err.detail(), "Internal Server Error");
        assert_eq!(err.kind(), ErrorKind::Internal);
        let err = Error::Unavailable("connection refused 10.0.0.5:5432".into());
        assert!(!err.detail().contains("10.0.0.5"));
    }

    #[test]
    fn status_codes_bodies_and_headers_follow_the_contract() {
        let cases = [
            (Error::invalid(&["body"], "m", "t"), 422),
            (Error::Unauthorized, 401),
            (Error::InvalidCredentials, 403),
            (Error::Forbidden("f".into()), 403),
            (Error::NotFound("n".into()), 404),
            (Error::Conflict("c".into()), 409),
            (Error::PayloadTooLarge, 413),
            (
                Error::RateLimited {
                    retry_after_secs: 7,
                },
                429,
            ),
            (Error::Unavailable("db down".into()), 503),
            (Error::internal("bug"), 500),
        ];
        for (err, status) in &cases {
            assert_eq!(err.status_code(), *status, "{err:?}");
        }
        assert_eq!(
            Error::invalid(&["body", "email"], "Field required", "missing").body(),
            serde_json::json!({"detail": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]})
        );
        assert_eq!(
            Error::InvalidCredentials.body(),
            serde_json::json!({"detail": "Invalid Credentials"})
        );
        assert_eq!(
            Error::internal("SELECT failed").body(),
            serde_json::json!({"detail": "Internal Server Error"})
        );
        assert_eq!(
            Error::Unauthorized.headers(),
            vec![("www-authenticate", "Bearer".to_owned())]
        );
        assert_eq!(
            Error::RateLimited {
                retry_after_secs: 7
            }
            .headers(),
            vec![("retry-after", "7".to_owned())]
        );
        assert!(Error::NotFound("n".into()).headers().is_empty());
    }

    #[test]
    fn field_errors_serialise_with_a_type_key() {
        let e = FieldError::new(&["body", "email"], "Field required", "missing");
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"loc": ["body", "email"], "msg": "Field required", "type": "missing"})
        );
    }
}
