//! Request and data guards whose failures are Agora errors (JSON bodies,
//! never rocket's HTML pages).
//!
//! A failing guard both returns its [`ApiError`] (for handlers that take
//! `Result<Guard, ApiError>`) and records the error for [`crate::catchers()`],
//! which answer with it when the guard is used directly.

use std::sync::atomic::{AtomicBool, Ordering};

use agora_core::domain::ClientInfo;
use agora_core::schema::parse_json;
use agora_core::{Agora, Error, User};
use rocket::data::{self, Data, FromData};
use rocket::http::Status;
use rocket::request::{self, FromRequest, Request};
use rocket::{Ignite, Rocket, Sentinel};
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::error::remember;

/// The authenticated caller, from `Authorization: Bearer <jwt>`. Use it on
/// your own routes (the rocket must manage an [`Agora`]). Fails with 401
/// `{"detail": "Could not validate credentials"}` and
/// `WWW-Authenticate: Bearer` without a token, or
/// `Bearer error="invalid_token"` for a refused one (core's
/// [`Agora::authenticate_header`]; 503 when the database is down); the JSON body
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

/// Who sent the request (IP and `User-Agent`), for sessions and throttling:
/// the connection's peer address, or the header named by
/// `Config::proxy` when a proxy is trusted.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Client {
    type Error = ApiError;

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ApiError> {
        match managed_agora(request) {
            Ok(agora) => request::Outcome::Success(Client(client_of(agora, request))),
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
        let parsed = match managed_agora(request) {
            Ok(agora) => crate::routes::read_body(request, data, agora.body_limit())
                .await
                .and_then(|body| parse_json(request.headers().get_one("Content-Type"), &body)),
            Err(e) => Err(e),
        };
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

/// Who sent `request`: the one place the adapter reads the peer address
/// (Agora's routes and [`Client`]). Rocket always has it for a real
/// connection; a request without one (a `local` test client with no
/// `remote` set) and no trusted proxy header cannot be throttled per IP,
/// which is logged once per process.
pub(crate) fn client_of(agora: &Agora, request: &Request<'_>) -> ClientInfo {
    let peer = request.remote().map(|addr| addr.ip());
    // Every line of a header, in order (rocket drops a line that is not
    // UTF-8 before this point).
    let client = agora.client_info(peer, |name| request.headers().get(name));
    if client.ip.is_none() {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "agora-rocket: a request came without the client's address (rocket's local \
                 client without `.remote(..)`?), so per-IP throttling is OFF for such requests \
                 and sessions record no IP. (Logged once per process.)"
            );
        }
    }
    client
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
    remember(request, err.clone());
    (status, ApiError(err))
}
