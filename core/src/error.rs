//! The one error type of Agora, with a kind per HTTP-relevant class of failure.
//!
//! Core depends on no web framework, but it owns the one mapping to HTTP that
//! every adapter uses: [`ErrorKind::status_code`] (an exhaustive `match`, so a
//! new kind fails to compile until it has a status), [`Error::body`] and
//! [`Error::headers`]. Messages from [`Error::detail`] are safe to show to
//! clients; causes of 5xx errors stay in [`std::error::Error::source`] for
//! logs only ([`Error::log_if_server_error`]).

use std::sync::Arc;

use serde::Serialize;

use crate::domain::{PostId, UserId};

/// An error cause kept for logs (never shown to clients); shared, so that
/// [`Error`] is `Clone`.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure Agora reports. Each has a stable [`ErrorCode`]
/// ([`Error::code`]), an HTTP status ([`Error::status_code`]) and a
/// client-safe `detail` ([`Error::detail`]); [`Error::body`] is the JSON
/// answer every adapter sends.
#[derive(Debug, Clone, thiserror::Error)]
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
    /// A bearer token was presented but is refused: malformed, tampered,
    /// expired, of an ended session, or of a user that is gone. The same
    /// answer as [`Error::Unauthorized`] (code `UNAUTHORIZED`), but its
    /// challenge says `error="invalid_token"` (RFC 6750 §3.1).
    #[error("Could not validate credentials")]
    InvalidToken,
    /// Authenticated, but the post is someone else's.
    #[error("Not authorized to perform requested action")]
    NotOwner,
    /// No user with this id.
    #[error("User with id: {0} does not exist")]
    UserNotFound(UserId),
    /// No post with this id visible to the caller.
    #[error("post with id: {0} was not found")]
    PostNotFound(PostId),
    /// No vote of the caller on this post to remove.
    #[error("Vote does not exist")]
    VoteNotFound,
    /// No active session of the caller with this id.
    #[error("Session not found")]
    SessionNotFound,
    /// No route has this path.
    #[error("Not Found")]
    RouteNotFound,
    /// The path exists with other methods only.
    #[error("Method Not Allowed")]
    MethodNotAllowed {
        /// The methods the path has, comma-separated (the `Allow` header).
        allow: String,
    },
    /// The email address is registered already.
    #[error("User with email: {0} already exists")]
    EmailTaken(String),
    /// Another user has this username (case-insensitively).
    #[error("Username {0} is taken")]
    UsernameTaken(String),
    /// No user has this username.
    #[error("No profile with username: {0}")]
    ProfileNotFound(String),
    /// No comment with this id on the post.
    #[error("comment with id: {0} was not found")]
    CommentNotFound(crate::domain::CommentId),
    /// Authenticated, but the comment is someone else's.
    #[error("Only the comment's author may do this")]
    NotCommentAuthor,
    /// The caller has voted on this post already.
    #[error("user {user} has already voted on post {post}")]
    VoteExists {
        /// The voter.
        user: UserId,
        /// The post.
        post: PostId,
    },
    /// A password reset token that is unknown, used, expired, of another
    /// purpose, or killed by a password change.
    #[error("The password reset link is invalid or has expired; ask for a new one")]
    ResetPasswordBadToken,
    /// An address verification token that is unknown, used, expired or of
    /// another purpose, or the address is verified already.
    #[error("The verification link is invalid or has expired; ask for a new one")]
    VerifyBadToken,
    /// A correct password, but the account's address is not verified and
    /// the server requires it (`AGORA_REQUIRE_VERIFIED_EMAIL`).
    #[error("The email address of this account is not verified yet")]
    EmailNotVerified,
    /// The request body is larger than the configured limit.
    #[error("Request body too large")]
    PayloadTooLarge,
    /// The request body did not arrive within the server's deadline.
    #[error("Request body not received in time")]
    BodyTimeout,
    /// Too many attempts; retry after the given number of seconds.
    #[error("Too many requests")]
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
        /// The throttling policy that refused, reported in the `RateLimit`
        /// and `RateLimit-Policy` fields; `None` when no policy names it.
        policy: Option<RefusedPolicy>,
    },
    /// A dependency (the database) is unreachable; retrying later may work.
    #[error("service unavailable")]
    Unavailable(#[source] Cause),
    /// A bug or an unexpected failure.
    #[error("internal error")]
    Internal(#[source] Cause),
}

macro_rules! error_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $kind:ident;)*) => {
        /// The stable, machine-readable code of an [`Error`], sent as `code`
        /// next to `detail` in every error body. The one table of codes:
        /// the README and the OpenAPI document list [`ErrorCode::ALL`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $name,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the table.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$name),*];

            /// The code as sent, e.g. `"POST_NOT_FOUND"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $code,)*
                }
            }

            /// The class of failure, which decides the HTTP status.
            pub fn kind(self) -> ErrorKind {
                match self {
                    $(ErrorCode::$name => ErrorKind::$kind,)*
                }
            }
        }
    };
}

error_codes! {
    /// A body, query or path value is malformed or breaks a rule (422).
    ValidationError = "VALIDATION_ERROR", Validation;
    /// Unknown email or wrong password (403, as in the original API).
    InvalidCredentials = "INVALID_CREDENTIALS", Forbidden;
    /// Missing, invalid or expired access token, or an ended session (401).
    Unauthorized = "UNAUTHORIZED", Unauthorized;
    /// The post belongs to someone else (403).
    NotOwner = "NOT_OWNER", Forbidden;
    /// No such user (404).
    UserNotFound = "USER_NOT_FOUND", NotFound;
    /// No such post visible to the caller (404).
    PostNotFound = "POST_NOT_FOUND", NotFound;
    /// No vote to remove (404).
    VoteNotFound = "VOTE_NOT_FOUND", NotFound;
    /// No such active session of the caller (404).
    SessionNotFound = "SESSION_NOT_FOUND", NotFound;
    /// No route has this path (404).
    NotFound = "NOT_FOUND", NotFound;
    /// The path has other methods only; see `Allow` (405).
    MethodNotAllowed = "METHOD_NOT_ALLOWED", MethodNotAllowed;
    /// The email address is registered already (409).
    EmailTaken = "EMAIL_TAKEN", Conflict;
    /// The username belongs to another user (409).
    UsernameTaken = "USERNAME_TAKEN", Conflict;
    /// No user has this username (404).
    ProfileNotFound = "PROFILE_NOT_FOUND", NotFound;
    /// No such comment on the post (404).
    CommentNotFound = "COMMENT_NOT_FOUND", NotFound;
    /// The comment belongs to someone else (403).
    NotCommentAuthor = "NOT_COMMENT_AUTHOR", Forbidden;
    /// The caller has voted on the post already (409).
    VoteExists = "VOTE_EXISTS", Conflict;
    /// A bad password reset token (400).
    ResetPasswordBadToken = "RESET_PASSWORD_BAD_TOKEN", BadRequest;
    /// A bad address verification token (400).
    VerifyUserBadToken = "VERIFY_USER_BAD_TOKEN", BadRequest;
    /// Login refused until the address is verified (403).
    LoginUserNotVerified = "LOGIN_USER_NOT_VERIFIED", Forbidden;
    /// The body is over the size limit (413).
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", PayloadTooLarge;
    /// The body did not arrive in time (408).
    BodyTimeout = "BODY_TIMEOUT", Timeout;
    /// Too many attempts; see `Retry-After` (429).
    RateLimited = "RATE_LIMITED", RateLimited;
    /// A dependency (database, Redis) does not answer; retry later (503).
    ServiceUnavailable = "SERVICE_UNAVAILABLE", Unavailable;
    /// An unexpected failure, logged on the server (500).
    InternalError = "INTERNAL_ERROR", Internal;
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The throttling policy behind an [`Error::RateLimited`], as the
/// `RateLimit-Policy` and `RateLimit` response fields name it
/// (draft-ietf-httpapi-ratelimit-headers-12): `crate::throttle::Policy`
/// with the limit configured for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedPolicy {
    /// The policy's name: `login`, `login-ip`, `register`, `mail`.
    pub name: &'static str,
    /// Attempts allowed per window.
    pub quota: u64,
    /// The window, in seconds.
    pub window_secs: u64,
}

impl RefusedPolicy {
    /// The fields of a refusal that must wait `retry_after_secs`:
    /// `ratelimit-policy: "<name>";q=<quota>;w=<window seconds>` and
    /// `ratelimit: "<name>";r=0;t=<retry_after_secs>` (structured-field
    /// lists of the draft, §§ 3 and 4: no quota is left, and it comes back
    /// when a retry may succeed, as `Retry-After` says).
    pub fn headers(&self, retry_after_secs: u64) -> [(&'static str, String); 2] {
        let name = self.name;
        [
            (
                "ratelimit-policy",
                format!("\"{name}\";q={};w={}", self.quota, self.window_secs),
            ),
            ("ratelimit", format!("\"{name}\";r=0;t={retry_after_secs}")),
        ]
    }
}

/// The class of an [`Error`]; each kind has one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad input (HTTP 422).
    Validation,
    /// A well-formed request that cannot be honoured, e.g. a spent link (HTTP 400).
    BadRequest,
    /// Missing or invalid credentials (HTTP 401).
    Unauthorized,
    /// Not allowed (HTTP 403); also wrong login credentials, as in the original API.
    Forbidden,
    /// Absent or invisible (HTTP 404).
    NotFound,
    /// Wrong method for the path (HTTP 405).
    MethodNotAllowed,
    /// The body did not arrive in time (HTTP 408).
    Timeout,
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
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Timeout => 408,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Unavailable => 503,
            ErrorKind::Internal => 500,
        }
    }
}

impl Error {
    /// The stable code of this error (exhaustive: a new variant does not
    /// compile until it has one).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Validation(_) => ErrorCode::ValidationError,
            Error::InvalidCredentials => ErrorCode::InvalidCredentials,
            Error::Unauthorized | Error::InvalidToken => ErrorCode::Unauthorized,
            Error::NotOwner => ErrorCode::NotOwner,
            Error::UserNotFound(_) => ErrorCode::UserNotFound,
            Error::PostNotFound(_) => ErrorCode::PostNotFound,
            Error::VoteNotFound => ErrorCode::VoteNotFound,
            Error::SessionNotFound => ErrorCode::SessionNotFound,
            Error::RouteNotFound => ErrorCode::NotFound,
            Error::MethodNotAllowed { .. } => ErrorCode::MethodNotAllowed,
            Error::EmailTaken(_) => ErrorCode::EmailTaken,
            Error::UsernameTaken(_) => ErrorCode::UsernameTaken,
            Error::ProfileNotFound(_) => ErrorCode::ProfileNotFound,
            Error::CommentNotFound(_) => ErrorCode::CommentNotFound,
            Error::NotCommentAuthor => ErrorCode::NotCommentAuthor,
            Error::VoteExists { .. } => ErrorCode::VoteExists,
            Error::ResetPasswordBadToken => ErrorCode::ResetPasswordBadToken,
            Error::VerifyBadToken => ErrorCode::VerifyUserBadToken,
            Error::EmailNotVerified => ErrorCode::LoginUserNotVerified,
            Error::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            Error::BodyTimeout => ErrorCode::BodyTimeout,
            Error::RateLimited { .. } => ErrorCode::RateLimited,
            Error::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Error::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// The kind that decides the HTTP status.
    pub fn kind(&self) -> ErrorKind {
        self.code().kind()
    }

    /// The HTTP status code of this error ([`ErrorKind::status_code`]).
    pub fn status_code(&self) -> u16 {
        self.kind().status_code()
    }

    /// The JSON body every adapter sends: `{"detail": [field errors], "code":
    /// "VALIDATION_ERROR"}` for a validation error, `{"detail": "<message>",
    /// "code": "<CODE>"}` for anything else (fixed text for 5xx errors, see
    /// [`Error::detail`]).
    pub fn body(&self) -> serde_json::Value {
        let code = self.code().as_str();
        match self {
            Error::Validation(fields) => serde_json::json!({ "detail": fields, "code": code }),
            other => serde_json::json!({ "detail": other.detail(), "code": code }),
        }
    }

    /// The response headers the contract requires besides the body, as
    /// lower-case `(name, value)` pairs: `www-authenticate: Bearer` on 401
    /// (`Bearer error="invalid_token"` when a token was presented and
    /// refused), `retry-after: <seconds>` on 429 (with the `RateLimit-Policy`
    /// and `RateLimit` fields of the policy that refused, when one did,
    /// [`RefusedPolicy::headers`]), `allow` on 405, `connection: close`
    /// on 408 (the rest of the body is not read).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Error::Unauthorized => vec![("www-authenticate", "Bearer".to_owned())],
            Error::InvalidToken => vec![(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.to_owned(),
            )],
            Error::RateLimited {
                retry_after_secs,
                policy,
            } => {
                let mut headers = vec![("retry-after", retry_after_secs.to_string())];
                if let Some(policy) = policy {
                    headers.extend(policy.headers(*retry_after_secs));
                }
                headers
            }
            Error::MethodNotAllowed { allow } => vec![("allow", allow.clone())],
            Error::BodyTimeout => vec![("connection", "close".to_owned())],
            _ => Vec::new(),
        }
    }

    /// Logs the cause of a 5xx error (clients only get the fixed text of
    /// [`Error::detail`]); does nothing for other kinds. Adapters call it
    /// once for every error they answer with.
    pub fn log_if_server_error(&self) {
        if self.status_code() >= 500 {
            let cause = std::error::Error::source(self).map(|c| c.to_string());
            tracing::error!(code = self.code().as_str(), cause = ?cause, "request failed");
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

    /// This error with every field error's location put under `prefix`
    /// (e.g. `["body"]`): domain types name the field that failed, the
    /// request type that holds it says where it sits.
    pub fn within(self, prefix: &[&str]) -> Self {
        match self {
            Error::Validation(errors) => Error::Validation(
                errors
                    .into_iter()
                    .map(|mut e| {
                        let mut loc: Vec<String> = prefix.iter().map(|s| (*s).to_owned()).collect();
                        loc.append(&mut e.loc);
                        e.loc = loc;
                        e
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// Wraps an unexpected failure.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Internal(Arc::from(cause.into()))
    }

    /// Wraps an unreachable dependency.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Unavailable(Arc::from(cause.into()))
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
    pub cause: Box<dyn std::error::Error + Send + Sync>,
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
        let err = Error::unavailable("connection refused 10.0.0.5:5432");
        assert!(!err.detail().contains("10.0.0.5"));
    }

    #[test]
    fn status_codes_bodies_and_headers_follow_the_contract() {
        let cases = [
            (Error::invalid(&["body"], "m", "t"), 422),
            (Error::Unauthorized, 401),
            (Error::InvalidToken, 401),
            (Error::InvalidCredentials, 403),
            (Error::NotOwner, 403),
            (Error::PostNotFound(PostId(4)), 404),
            (Error::RouteNotFound, 404),
            (
                Error::MethodNotAllowed {
                    allow: "GET".into(),
                },
                405,
            ),
            (Error::BodyTimeout, 408),
            (Error::EmailTaken("a@b.co".into()), 409),
            (Error::PayloadTooLarge, 413),
            (
                Error::RateLimited {
                    retry_after_secs: 7,
                    policy: None,
                },
                429,
            ),
            (Error::unavailable("db down"), 503),
            (Error::internal("bug"), 500),
        ];
        for (err, status) in &cases {
            assert_eq!(err.status_code(), *status, "{err:?}");
            assert_eq!(err.body()["code"], err.code().as_str(), "{err:?}");
        }
        assert_eq!(
            Error::invalid(&["body", "email"], "Field required", "missing").body(),
            serde_json::json!({"detail": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}], "code": "VALIDATION_ERROR"})
        );
        assert_eq!(
            Error::InvalidCredentials.body(),
            serde_json::json!({"detail": "Invalid Credentials", "code": "INVALID_CREDENTIALS"})
        );
        assert_eq!(
            Error::PostNotFound(PostId(4)).body(),
            serde_json::json!({"detail": "post with id: 4 was not found", "code": "POST_NOT_FOUND"})
        );
        assert_eq!(
            Error::internal("SELECT failed").body(),
            serde_json::json!({"detail": "Internal Server Error", "code": "INTERNAL_ERROR"})
        );
        assert_eq!(
            Error::Unauthorized.headers(),
            vec![("www-authenticate", "Bearer".to_owned())]
        );
        assert_eq!(
            Error::InvalidToken.headers(),
            vec![(
                "www-authenticate",
                r#"Bearer error="invalid_token""#.to_owned()
            )]
        );
        assert_eq!(Error::InvalidToken.body(), Error::Unauthorized.body());
        assert_eq!(
            Error::RateLimited {
                retry_after_secs: 7,
                policy: None,
            }
            .headers(),
            vec![("retry-after", "7".to_owned())]
        );
        let login = RefusedPolicy {
            name: "login",
            quota: 5,
            window_secs: 900,
        };
        assert_eq!(
            Error::RateLimited {
                retry_after_secs: 42,
                policy: Some(login),
            }
            .headers(),
            vec![
                ("retry-after", "42".to_owned()),
                ("ratelimit-policy", r#""login";q=5;w=900"#.to_owned()),
                ("ratelimit", r#""login";r=0;t=42"#.to_owned()),
            ]
        );
        assert!(Error::VoteNotFound.headers().is_empty());
    }

    #[test]
    fn codes_are_unique_upper_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(
                text.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{text}"
            );
        }
    }

    #[test]
    fn errors_are_clone_and_keep_their_cause() {
        let err = Error::internal("disk on fire");
        let copy = err.clone();
        assert_eq!(
            std::error::Error::source(&copy).map(|c| c.to_string()),
            Some("disk on fire".to_owned())
        );
    }

    #[test]
    fn within_puts_field_errors_under_a_prefix() {
        let err = Error::invalid(&["password"], "too short", "string_too_short").within(&["body"]);
        assert_eq!(err.field_errors()[0].loc, vec!["body", "password"]);
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
