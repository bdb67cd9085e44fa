//! Request and data guards whose failures are Agora errors (JSON bodies,
//! never rocket's HTML pages).
//!
//! A failing guard both returns its [`ApiError`] (for handlers that take
//! `Result<Guard, ApiError>`) and records the error for [`crate::catchers()`],
//! which answer with it when the guard is used directly.

use agora_core::domain::ClientInfo;
use agora_core::schema::{bearer_token, parse_json};
use agora_core::{Agora, Error, User};
use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::http::Status;
use rocket::request::{self, FromRequest, Request};
use rocket::{Ignite, Rocket, Sentinel};
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::error::{copy_error, remember};

/// The authenticated caller, from `Authorization: Bearer <jwt>`. Use it on
/// your own routes (the rocket must manage an [`Agora`]). Fails with 401
/// `{"detail": "Could not validate credentials"}` and
/// `WWW-Authenticate: Bearer` (503 when the database is down); the JSON body
/// comes from [`crate::catchers()`], or take `Result<AuthUser, ApiError>` and
/// return the error yourself.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for AuthUser {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        let result = match managed_agora(request) {
            Ok(agora) => {
                agora
                    .authenticate_header(request.headers().get_one("Authorization"))
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(caller) => request::Outcome::Success(AuthUser(caller.into_user())),
            Err(e) => request::Outcome::Error(failure(request, e)),
        }
    }
}

/// Refuses to launch a rocket whose routes use [`AuthUser`] but that
/// manages no [`Agora`].
impl Sentinel for AuthUser {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        rocket.state::<Agora>().is_none()
    }
}

/// The raw access token of `Authorization: Bearer <token>`, for routes that
/// act on the session itself (logout, password change). Missing: 401.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for BearerToken {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        match bearer_token(request.headers().get_one("Authorization")) {
            Ok(token) => request::Outcome::Success(BearerToken(token.to_owned())),
            Err(e) => request::Outcome::Error(failure(request, e)),
        }
    }
}

/// Who sent the request (IP and `User-Agent`), for sessions and throttling:
/// the connection's peer address, or the header named by
/// `Config::trusted_proxy_header` when a proxy is trusted.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Client {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        match managed_agora(request) {
            Ok(agora) => {
                let peer = request.remote().map(|addr| addr.ip());
                // Every line of a header, in order (rocket drops a line that
                // is not UTF-8 before this point).
                let client = agora.client_info(peer, |name| request.headers().get(name));
                request::Outcome::Success(Client(client))
            }
            Err(e) => request::Outcome::Error(failure(request, e)),
        }
    }
}

/// A JSON body parsed by agora-core's rules: 422 with FastAPI's shape on any
/// problem (wrong content type, bad JSON, a missing or mistyped field), 413
/// over [`Agora::body_limit`].
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Send> FromData<'r> for JsonBody<T> {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let parsed = read_body(request, data)
            .await
            .and_then(|body| parse_json(body.content_type.as_deref(), &body.bytes));
        match parsed {
            Ok(value) => data::Outcome::Success(JsonBody(value)),
            Err(e) => data::Outcome::Error(failure(request, e)),
        }
    }
}

impl<T> Sentinel for JsonBody<T> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        rocket.state::<Agora>().is_none()
    }
}

/// Forwards (to a 404) a request whose raw path has an empty segment other
/// than one trailing slash, such as `//health`, `/health//` or `/posts//1`:
/// rocket ignores empty segments and would match those, axum answers 404,
/// and so does this adapter. Every Agora route takes it first.
pub(crate) struct StrictPath;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for StrictPath {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, Self::Error> {
        if is_strict_path(request.uri().path().as_str()) {
            request::Outcome::Success(StrictPath)
        } else {
            request::Outcome::Forward(Status::NotFound)
        }
    }
}

/// Whether a raw path has no empty segment, except after one trailing slash.
pub(crate) fn is_strict_path(raw: &str) -> bool {
    let mut segments: Vec<&str> = raw.split('/').skip(1).collect();
    segments.pop();
    segments.iter().all(|segment| !segment.is_empty())
}

/// A request body as bytes plus its content type; over the body limit: 413.
pub(crate) struct RawBody {
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Vec<u8>,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for RawBody {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_body(request, data).await {
            Ok(body) => data::Outcome::Success(body),
            Err(e) => data::Outcome::Error(failure(request, e)),
        }
    }
}

/// Reads at most [`Agora::body_limit`] bytes: a larger body (announced by
/// `Content-Length` or found while reading) is [`Error::PayloadTooLarge`].
async fn read_body(request: &Request<'_>, data: Data<'_>) -> Result<RawBody, Error> {
    let limit = managed_agora(request)?.body_limit();
    let announced = request
        .headers()
        .get_one("Content-Length")
        .and_then(|n| n.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge);
    }
    let capped = data
        .open(limit.bytes())
        .into_bytes()
        .await
        .map_err(|e| Error::invalid(&["body"], e.to_string(), "body_unreadable"))?;
    if !capped.is_complete() {
        return Err(Error::PayloadTooLarge);
    }
    Ok(RawBody {
        content_type: request.headers().get_one("Content-Type").map(str::to_owned),
        bytes: capped.into_inner(),
    })
}

/// The managed [`Agora`]; a 500 (logged) when the app forgot to manage one.
pub(crate) fn managed_agora<'r>(request: &'r Request<'_>) -> Result<&'r Agora, Error> {
    request.rocket().state::<Agora>().ok_or_else(|| {
        Error::internal(
            "no agora_core::Agora is managed: call .manage(agora) or agora_rocket::mount",
        )
    })
}

/// A guard failure: remembered for the catchers, returned for handlers.
fn failure(request: &Request<'_>, err: Error) -> (Status, ApiError) {
    let status = Status::new(err.status_code());
    remember(request, copy_error(&err));
    (status, ApiError(err))
}

#[cfg(test)]
mod tests {
    use super::is_strict_path;

    #[test]
    fn only_one_trailing_slash_may_leave_an_empty_segment() {
        for ok in [
            "/",
            "/health",
            "/health/",
            "/posts/1",
            "/posts/1/",
            "/api/users/me/",
        ] {
            assert!(is_strict_path(ok), "{ok}");
        }
        for bad in ["//", "//health", "/health//", "/posts//1", "/api//users"] {
            assert!(!is_strict_path(bad), "{bad}");
        }
    }
}
