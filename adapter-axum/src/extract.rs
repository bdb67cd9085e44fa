//! Extractors for your own routes, whose rejections are Agora's JSON errors.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use agora_core::domain::ClientInfo;
use agora_core::schema::parse_json;
use agora_core::{Agora, User};
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The authenticated caller, from `Authorization: Bearer <jwt>`. Use it on
/// your own routes; any state `S` with `Agora: FromRef<S>` works. Rejects
/// with 401 `{"detail": "Could not validate credentials", "code":
/// "UNAUTHORIZED"}` and `WWW-Authenticate: Bearer` without a token, or
/// `Bearer error="invalid_token"` for a refused one (core's
/// [`Agora::authenticate_header`]).
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for AuthUser
where
    Agora: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = Agora::from_ref(state).authenticate_header(header).await?;
        Ok(AuthUser(caller.into_user()))
    }
}

/// Who sent the request (IP and `User-Agent`), for sessions and throttling.
/// The peer address needs the server to run with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as
/// [`crate::serve`] and [`crate::serve_router`] do); without it, per-IP
/// throttling is skipped and a warning is logged once per process.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client
where
    Agora: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(client_of(&Agora::from_ref(state), parts)))
    }
}

/// Who sent the request whose head is `parts`: the one place the adapter
/// reads the peer address (Agora's routes and [`Client`]). Without one
/// (no `ConnectInfo<SocketAddr>`, and no trusted proxy header giving the
/// IP), per-IP throttling cannot work: [`warn_no_peer_address`] says so.
pub(crate) fn client_of(agora: &Agora, parts: &Parts) -> ClientInfo {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let client = client_info(agora, peer, &parts.headers);
    if client.ip.is_none() {
        warn_no_peer_address();
    }
    client
}

/// Logs, once per process, that a request came without a peer address.
pub(crate) fn warn_no_peer_address() {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "agora-axum: a request came without the client's address, so per-IP throttling \
             (failed logins, registrations, mail requests) is OFF and sessions record no IP. \
             Serve the app with `agora_axum::serve_router(listener, app, &config, shutdown)`, or \
             `axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())`. \
             (Logged once per process.)"
        );
    }
}

/// [`Agora::client_info`] from axum's headers: every line of a header, in
/// order; bytes that are not UTF-8 become U+FFFD rather than dropping the
/// line, so that no entry a proxy appended moves (see
/// `agora_core::domain::forwarded_client_ip`).
fn client_info(agora: &Agora, peer: Option<IpAddr>, headers: &HeaderMap) -> ClientInfo {
    agora.client_info(peer, |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()))
    })
}

/// A JSON body parsed by agora-core's rules (422 with FastAPI's shape on any
/// problem; 413 over [`Agora::body_limit`]).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T>
where
    Agora: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let limit = Agora::from_ref(state).body_limit();
        let bytes = crate::routes::read_body(req.into_body(), limit).await?;
        Ok(JsonBody(parse_json(content_type.as_deref(), &bytes)?))
    }
}
