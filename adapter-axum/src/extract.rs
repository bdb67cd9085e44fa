//! Extractors whose rejections are Agora errors (JSON bodies, never axum's
//! plain-text ones).

use std::net::SocketAddr;

use agora_core::domain::ClientInfo;
use agora_core::schema::{bearer_token, parse_json, parse_path_id};
use agora_core::{Agora, Error, User};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// The authenticated caller, from `Authorization: Bearer <jwt>`. Use it on
/// your own routes; any state `S` with `Agora: FromRef<S>` works. Rejects
/// with 401 `{"detail": "Could not validate credentials"}` and
/// `WWW-Authenticate: Bearer`.
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

/// The authenticated caller (user and session), for Agora's own routes.
pub(crate) struct Authenticated(pub(crate) agora_core::Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated
where
    Agora: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(Authenticated(
            Agora::from_ref(state).authenticate_header(header).await?,
        ))
    }
}

/// The raw access token of `Authorization: Bearer <token>`, for routes that
/// act on the session itself (logout, password change). Missing: 401.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        Ok(BearerToken(bearer_token(header)?.to_owned()))
    }
}

/// Who sent the request (IP and `User-Agent`), for sessions and throttling.
/// The peer address needs the server to run with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as
/// [`crate::serve`] does); without it, per-IP throttling is skipped.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client
where
    Agora: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let headers = &parts.headers;
        // Every line of a header, in order; bytes that are not UTF-8 become
        // U+FFFD rather than dropping the line, so that no entry a proxy
        // appended moves (see `agora_core::domain::forwarded_client_ip`).
        let client = Agora::from_ref(state).client_info(peer, |name| {
            headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
        });
        Ok(Client(client))
    }
}

/// A request body as bytes plus its content type; over the body limit: 413.
pub(crate) struct RawBody {
    pub(crate) content_type: Option<String>,
    pub(crate) bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(Error::PayloadTooLarge)
            } else {
                ApiError(Error::invalid(
                    &["body"],
                    rejection.body_text(),
                    "body_unreadable",
                ))
            }
        })?;
        Ok(RawBody {
            content_type,
            bytes,
        })
    }
}

/// A JSON body parsed by agora-core's rules (422 with FastAPI's shape on any
/// problem; 413 over the limit).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = RawBody::from_request(req, state).await?;
        Ok(JsonBody(parse_json(
            body.content_type.as_deref(),
            &body.bytes,
        )?))
    }
}

/// The `{id}` path segment, percent-decoded; empty when undecodable (the
/// parsers that follow reject it).
async fn id_segment<S: Send + Sync>(parts: &mut Parts, state: &S) -> String {
    Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map(|Path(params)| params)
        .unwrap_or_default()
        .into_iter()
        .find_map(|(name, value)| (name == "id").then_some(value))
        .unwrap_or_default()
}

/// The `{id}` path segment as an integer (422 at `["path", "id"]` otherwise).
pub(crate) struct IdParam(pub(crate) i64);

impl<S: Send + Sync> FromRequestParts<S> for IdParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(IdParam(parse_path_id(
            "id",
            &id_segment(parts, state).await,
        )?))
    }
}

/// The `{id}` path segment as text (session ids).
pub(crate) struct TextId(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for TextId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(TextId(id_segment(parts, state).await))
    }
}
