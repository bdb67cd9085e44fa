//! The HTTP contract in one place: every endpoint in one table
//! ([`ENDPOINTS`]), the router that matches a request against it
//! ([`route`]), and the dispatcher that serves it ([`Agora::handle`]).
//!
//! Adapters only translate: they hand core a request's method, path,
//! headers and body and write back the [`Response`]. A new endpoint is
//! therefore served by every adapter, and described by the OpenAPI document
//! ([`crate::openapi`], generated from the same table), as soon as it is in
//! [`ENDPOINTS`] and the exhaustive `match` of the dispatcher.
//!
//! ```
//! use agora_core::http::{route, Operation};
//! let found = route("GET", "/posts/7/").unwrap();
//! assert_eq!(found.endpoint.operation, Operation::GetPost);
//! assert_eq!(found.params, ["7"]);
//! assert_eq!(route("PATCH", "/posts/7").unwrap_err().status_code(), 405);
//! assert_eq!(route("GET", "//posts").unwrap_err().status_code(), 404);
//! ```

use std::borrow::Cow;
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

use serde::Serialize;
use serde_json::json;

use crate::domain::{Caller, ClientInfo, CommentId, PostId, TrustedProxy, UserId};
use crate::error::{Error, Result};
use crate::schema::{ListQuery, Message, parse_json, parse_login, parse_path_id};
use crate::service::Agora;

/// An HTTP method of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET` (and `HEAD`, served as `GET`).
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// Every method, in the order an `Allow` header lists them.
    pub const ALL: [Method; 4] = [Method::Get, Method::Post, Method::Put, Method::Delete];

    /// The method's name, upper-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    /// A request's method (`HEAD` is `GET`); `None` for any other.
    pub fn parse(method: &str) -> Option<Method> {
        match method {
            "GET" | "HEAD" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }
}

/// What an endpoint reads from the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// Nothing (a body sent anyway is not read).
    None,
    /// A JSON object.
    Json,
    /// `POST /login`: the OAuth2 password form or JSON.
    Login,
}

/// Whether an endpoint reads an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Public: any `Authorization` header is ignored.
    None,
    /// Public, but a token, when sent, must be valid (401 otherwise) and
    /// makes the answer the caller's (e.g. `following` on a profile).
    Optional,
    /// `Authorization: Bearer <access token>` is required (401 without).
    Required,
}

/// Every operation of the API; the dispatcher's `match` on it is exhaustive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `GET /`: a greeting.
    Root,
    /// `GET /health`: the database (and Redis) answer, each check with its
    /// latency; 503 when one does not.
    Health,
    /// `GET /health/live`: the process answers (no dependency is touched).
    Live,
    /// `POST /users`: registration.
    CreateUser,
    /// `GET /users/me`: the caller.
    Me,
    /// `DELETE /users/me`: account deletion.
    DeleteAccount,
    /// `GET /users/{id}`: a user.
    GetUser,
    /// `PUT /users/me/password`: password change.
    ChangePassword,
    /// `PUT /users/me`: the caller's username, bio and image.
    UpdateMe,
    /// `GET /profiles/{username}`: a profile.
    GetProfile,
    /// `POST /profiles/{username}/follow`: follow a user.
    Follow,
    /// `DELETE /profiles/{username}/follow`: stop following.
    Unfollow,
    /// `GET /feed`: posts of the users the caller follows.
    Feed,
    /// `GET /tags`: tags in use, most used first.
    Tags,
    /// `GET /posts/{id}/comments`: a post's comments.
    ListComments,
    /// `POST /posts/{id}/comments`: a new comment.
    AddComment,
    /// `DELETE /posts/{id}/comments/{comment_id}`: deletes a comment.
    DeleteComment,
    /// `POST /login`: a token pair for an email and password.
    Login,
    /// `POST /forgot-password`: mails a password reset link.
    ForgotPassword,
    /// `POST /reset-password`: a new password with a reset link's token.
    ResetPassword,
    /// `POST /request-verify-token`: mails an address verification link.
    RequestVerifyToken,
    /// `POST /verify`: verifies an address with a link's token.
    Verify,
    /// `POST /token/refresh`: a new token pair for a refresh token.
    Refresh,
    /// `POST /logout`: ends the caller's session.
    Logout,
    /// `POST /logout/all`: ends every session of the caller.
    LogoutAll,
    /// `GET /sessions`: the caller's sessions.
    ListSessions,
    /// `DELETE /sessions/{id}`: ends one of them.
    EndSession,
    /// `GET /.well-known/jwks.json`: the token verification keys.
    Jwks,
    /// `GET /posts`: a page of posts.
    ListPosts,
    /// `POST /posts`: a new post.
    CreatePost,
    /// `GET /posts/{id}`: a post.
    GetPost,
    /// `PUT /posts/{id}`: replaces a post.
    UpdatePost,
    /// `DELETE /posts/{id}`: deletes a post.
    DeletePost,
    /// `POST /vote`: adds or removes a vote.
    Vote,
    /// `GET /openapi.json`: the OpenAPI document.
    OpenApi,
    /// `GET /docs/...`: Swagger UI.
    Docs,
}

/// One row of the endpoint table.
#[derive(Debug)]
pub struct Endpoint {
    /// What it does.
    pub operation: Operation,
    /// Its method.
    pub method: Method,
    /// Its path, relative to where the API is mounted; `{name}` is one
    /// segment, `{*name}` the rest of the path.
    pub path: &'static str,
    /// The status of a successful answer.
    pub status: u16,
    /// Whether it reads an access token.
    pub auth: Auth,
    /// What it reads from the body.
    pub body: BodyKind,
    /// Whether attempts are throttled (429).
    pub throttled: bool,
    /// Whether it uses the database (503 when it is down).
    pub storage: bool,
    /// Its OpenAPI description; `None` for the documentation routes.
    pub doc: Option<crate::openapi::OperationDoc>,
}

impl Endpoint {
    const fn new(operation: Operation, method: Method, path: &'static str, status: u16) -> Self {
        Endpoint {
            operation,
            method,
            path,
            status,
            auth: Auth::None,
            body: BodyKind::None,
            throttled: false,
            storage: true,
            doc: None,
        }
    }

    const fn authenticated(mut self) -> Self {
        self.auth = Auth::Required;
        self
    }

    const fn optional_auth(mut self) -> Self {
        self.auth = Auth::Optional;
        self
    }

    const fn json(mut self) -> Self {
        self.body = BodyKind::Json;
        self
    }

    const fn throttled(mut self) -> Self {
        self.throttled = true;
        self
    }

    const fn no_storage(mut self) -> Self {
        self.storage = false;
        self
    }

    const fn doc(mut self, doc: crate::openapi::OperationDoc) -> Self {
        self.doc = Some(doc);
        self
    }
}

use crate::openapi::docs as d;
use Method::{Delete, Get, Post, Put};
use Operation as Op;

/// The API: every endpoint, once. Each path also answers with one trailing
/// slash.
pub static ENDPOINTS: &[Endpoint] = &[
    Endpoint::new(Op::Root, Get, "/", 200)
        .no_storage()
        .doc(d::ROOT),
    Endpoint::new(Op::Health, Get, "/health", 200).doc(d::HEALTH),
    Endpoint::new(Op::Live, Get, "/health/live", 200)
        .no_storage()
        .doc(d::LIVE),
    Endpoint::new(Op::CreateUser, Post, "/users", 201)
        .json()
        .throttled()
        .doc(d::CREATE_USER),
    Endpoint::new(Op::Me, Get, "/users/me", 200)
        .authenticated()
        .doc(d::ME),
    Endpoint::new(Op::DeleteAccount, Delete, "/users/me", 204)
        .authenticated()
        .json()
        .throttled()
        .doc(d::DELETE_ACCOUNT),
    Endpoint::new(Op::UpdateMe, Put, "/users/me", 200)
        .authenticated()
        .json()
        .doc(d::UPDATE_ME),
    Endpoint::new(Op::GetUser, Get, "/users/{id}", 200).doc(d::GET_USER),
    Endpoint::new(Op::ChangePassword, Put, "/users/me/password", 204)
        .authenticated()
        .json()
        .throttled()
        .doc(d::CHANGE_PASSWORD),
    Endpoint {
        body: BodyKind::Login,
        ..Endpoint::new(Op::Login, Post, "/login", 200)
            .throttled()
            .doc(d::LOGIN)
    },
    Endpoint::new(Op::ForgotPassword, Post, "/forgot-password", 202)
        .json()
        .throttled()
        .doc(d::FORGOT_PASSWORD),
    Endpoint::new(Op::ResetPassword, Post, "/reset-password", 204)
        .json()
        .doc(d::RESET_PASSWORD),
    Endpoint::new(Op::RequestVerifyToken, Post, "/request-verify-token", 202)
        .json()
        .throttled()
        .doc(d::REQUEST_VERIFY_TOKEN),
    Endpoint::new(Op::Verify, Post, "/verify", 200)
        .json()
        .doc(d::VERIFY),
    Endpoint::new(Op::Refresh, Post, "/token/refresh", 200)
        .json()
        .throttled()
        .doc(d::REFRESH),
    Endpoint::new(Op::Logout, Post, "/logout", 204)
        .authenticated()
        .doc(d::LOGOUT),
    Endpoint::new(Op::LogoutAll, Post, "/logout/all", 204)
        .authenticated()
        .doc(d::LOGOUT_ALL),
    Endpoint::new(Op::ListSessions, Get, "/sessions", 200)
        .authenticated()
        .doc(d::LIST_SESSIONS),
    Endpoint::new(Op::EndSession, Delete, "/sessions/{id}", 204)
        .authenticated()
        .doc(d::END_SESSION),
    Endpoint::new(Op::Jwks, Get, "/.well-known/jwks.json", 200)
        .no_storage()
        .doc(d::JWKS),
    Endpoint::new(Op::ListPosts, Get, "/posts", 200)
        .authenticated()
        .doc(d::LIST_POSTS),
    Endpoint::new(Op::CreatePost, Post, "/posts", 201)
        .authenticated()
        .json()
        .doc(d::CREATE_POST),
    Endpoint::new(Op::GetPost, Get, "/posts/{id}", 200)
        .authenticated()
        .doc(d::GET_POST),
    Endpoint::new(Op::UpdatePost, Put, "/posts/{id}", 200)
        .authenticated()
        .json()
        .doc(d::UPDATE_POST),
    Endpoint::new(Op::DeletePost, Delete, "/posts/{id}", 204)
        .authenticated()
        .doc(d::DELETE_POST),
    Endpoint::new(Op::ListComments, Get, "/posts/{id}/comments", 200)
        .authenticated()
        .doc(d::LIST_COMMENTS),
    Endpoint::new(Op::AddComment, Post, "/posts/{id}/comments", 201)
        .authenticated()
        .json()
        .doc(d::ADD_COMMENT),
    Endpoint::new(
        Op::DeleteComment,
        Delete,
        "/posts/{id}/comments/{comment_id}",
        204,
    )
    .authenticated()
    .doc(d::DELETE_COMMENT),
    Endpoint::new(Op::Feed, Get, "/feed", 200)
        .authenticated()
        .doc(d::FEED),
    Endpoint::new(Op::Tags, Get, "/tags", 200).doc(d::TAGS),
    Endpoint::new(Op::GetProfile, Get, "/profiles/{username}", 200)
        .optional_auth()
        .doc(d::GET_PROFILE),
    Endpoint::new(Op::Follow, Post, "/profiles/{username}/follow", 200)
        .authenticated()
        .doc(d::FOLLOW),
    Endpoint::new(Op::Unfollow, Delete, "/profiles/{username}/follow", 200)
        .authenticated()
        .doc(d::UNFOLLOW),
    Endpoint::new(Op::Vote, Post, "/vote", 201)
        .authenticated()
        .json()
        .doc(d::VOTE),
    Endpoint::new(Op::OpenApi, Get, "/openapi.json", 200).no_storage(),
    Endpoint::new(Op::Docs, Get, "/docs", 200).no_storage(),
    Endpoint::new(Op::Docs, Get, "/docs/{*file}", 200).no_storage(),
];

/// The answer to a mail request, the same whether or not the address has
/// an account.
pub const MAIL_ON_ITS_WAY: &str =
    "If an account has this address, a mail with a link is on its way";

/// The request headers CORS lets a browser send (lower-case).
pub const CORS_ALLOWED_HEADERS: [&str; 2] = ["authorization", "content-type"];

/// The header that carries a request's id (lower-case): kept from the
/// request only as [`request_id`] allows, else generated, and returned on
/// every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest request id kept from a request, in bytes.
pub const REQUEST_ID_MAX_LEN: usize = 128;

/// The id of a request, from its `X-Request-Id` value (`incoming`, as
/// received): that value when a trusted proxy is configured
/// ([`TrustedProxy::header`] set: whoever may name the client's IP may name
/// the request) and it is [`valid_request_id`]; else a new one
/// ([`new_request_id`]). Without a trusted proxy an incoming id is ignored,
/// so a client cannot make its requests' log lines pass for another's.
///
/// ```
/// use agora_core::config::TrustedProxy;
/// use agora_core::http::request_id;
/// let proxy = TrustedProxy { header: Some("X-Forwarded-For".into()), hops: 1 };
/// assert_eq!(request_id(&proxy, Some(b"abc-123")), "abc-123");
/// assert_ne!(request_id(&TrustedProxy::default(), Some(b"abc-123")), "abc-123");
/// assert_ne!(request_id(&proxy, Some(b"two words")), "two words");
/// ```
pub fn request_id(proxy: &TrustedProxy, incoming: Option<&[u8]>) -> String {
    kept_request_id(proxy, incoming).map_or_else(new_request_id, str::to_owned)
}

/// The incoming request id that [`request_id`] keeps, if any: `incoming`
/// when a trusted proxy is configured and it is [`valid_request_id`].
pub fn kept_request_id<'a>(proxy: &TrustedProxy, incoming: Option<&'a [u8]>) -> Option<&'a str> {
    incoming
        .filter(|id| proxy.header.is_some() && valid_request_id(id))
        .and_then(|id| std::str::from_utf8(id).ok())
}

/// Whether a request id may be kept as received: 1 to
/// [`REQUEST_ID_MAX_LEN`] bytes, each visible ASCII (`!` to `~`): no
/// spaces, control characters (a newline would forge log lines) or
/// non-ASCII.
pub fn valid_request_id(id: &[u8]) -> bool {
    (1..=REQUEST_ID_MAX_LEN).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

/// A new request id: a random (version 4) UUID, lower-case hyphenated, from
/// a thread-local CSPRNG (no system call per request).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        .to_owned()
}

/// The span of one request, that every log line of the request carries
/// (target `agora::http`, level INFO): `request_id`, `http.request.method`,
/// `url.path` (`path`, relative to where the API is mounted) and, when
/// `path` is one of [`ENDPOINTS`], `http.route` (its template, e.g.
/// `/posts/{id}`; else [`Agora::handle`] records it) and `otel.name`
/// (`GET /posts/{id}`, else the method: the span's name when exported over
/// OpenTelemetry); [`request_finished`] records `http.response.status_code`.
/// Adapters run each request inside it. When nothing records the span (no
/// subscriber wants INFO from `agora::http`) it is [`tracing::Span::none`],
/// at no cost: the path is not matched a second time.
pub fn request_span(method: &str, path: &str, request_id: &str) -> tracing::Span {
    if !tracing::span_enabled!(target: "agora::http", tracing::Level::INFO) {
        return tracing::Span::none();
    }
    let template = route(method, path).ok().map(|found| found.endpoint.path);
    let name = match template {
        Some(template) => format!("{method} {template}"),
        None => method.to_owned(),
    };
    tracing::info_span!(
        target: "agora::http",
        "request",
        request_id,
        http.request.method = method,
        url.path = path,
        http.route = template,
        http.response.status_code = tracing::field::Empty,
        otel.name = name,
        otel.kind = "server",
    )
}

/// Records a request's status on its [`request_span`] (`span`) and logs
/// one line for it (INFO, target `agora::http`): status and latency.
pub fn request_finished(span: &tracing::Span, status: u16, latency: std::time::Duration) {
    span.record("http.response.status_code", status);
    span.in_scope(|| {
        tracing::info!(
            target: "agora::http",
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
}

/// A request matched to its endpoint.
#[derive(Debug, Clone)]
pub struct Route {
    /// The endpoint.
    pub endpoint: &'static Endpoint,
    /// The values of the path's `{name}` parts (percent-decoded; empty when
    /// that is not UTF-8) and `{*name}` part, in order.
    pub params: Vec<String>,
}

/// Matches a request's method and path (relative to where the API is
/// mounted, percent-encoded as received) against [`ENDPOINTS`]. One
/// trailing slash is ignored; any other empty segment (`//posts`), or no
/// matching path, is [`Error::RouteNotFound`]; a path with other methods
/// only is [`Error::MethodNotAllowed`] (its `allow` lists them).
pub fn route(method: &str, path: &str) -> Result<Route> {
    let mut segments: Vec<&str> = path.split('/').skip(1).collect();
    if path.len() > 1 && path.ends_with('/') {
        segments.pop();
    }
    if path.len() > 1 && segments.iter().any(|s| s.is_empty()) {
        return Err(Error::RouteNotFound);
    }
    // Only the root's one empty segment is left.
    segments.retain(|s| !s.is_empty());
    let method = Method::parse(method);
    let mut allowed = Vec::new();
    for (endpoint, template) in ENDPOINTS.iter().zip(TEMPLATES.iter()) {
        let Some(params) = match_path(template, &segments) else {
            continue;
        };
        if method == Some(endpoint.method) {
            return Ok(Route {
                endpoint,
                params: params.into_iter().map(Cow::into_owned).collect(),
            });
        }
        allowed.push(endpoint.method);
    }
    if allowed.is_empty() {
        return Err(Error::RouteNotFound);
    }
    let allow: Vec<&str> = Method::ALL
        .into_iter()
        .filter(|m| allowed.contains(m))
        .flat_map(|m| match m {
            Method::Get => vec!["GET", "HEAD"],
            other => vec![other.as_str()],
        })
        .collect();
    Err(Error::MethodNotAllowed {
        allow: allow.join(","),
    })
}

/// Each endpoint's path template, split into its non-empty segments once
/// (in [`ENDPOINTS`]' order): the router compares segments, it does not
/// split the table's templates again for every request.
static TEMPLATES: LazyLock<Vec<Vec<&'static str>>> = LazyLock::new(|| {
    ENDPOINTS
        .iter()
        .map(|e| e.path.split('/').filter(|s| !s.is_empty()).collect())
        .collect()
});

/// `Some(params)` when `template` (split, as in [`TEMPLATES`]) matches the
/// path's non-empty `segments`; `params` are the values of its `{...}`
/// parts.
fn match_path<'p>(template: &[&str], segments: &[&'p str]) -> Option<Vec<Cow<'p, str>>> {
    // Runs on every request for every row: no allocation until the
    // segment counts agree.
    let count = segments.len();
    let tail = template.last().is_some_and(|part| part.starts_with("{*"));
    if count < template.len() || (!tail && count > template.len()) {
        return None;
    }
    let mut parts = template.iter().copied();
    let mut rest = segments.iter().copied();
    let mut params = Vec::new();
    loop {
        match (parts.next(), rest.next()) {
            (None, None) => return Some(params),
            (Some(part), Some(segment)) if part.starts_with("{*") => {
                let tail: Vec<&str> = std::iter::once(segment).chain(rest).collect();
                params.push(Cow::Owned(tail.join("/")));
                return Some(params);
            }
            (Some(part), Some(segment)) if part.starts_with('{') => {
                // Undecodable (not UTF-8): empty, which the value's parser rejects.
                let decoded = percent_encoding::percent_decode_str(segment).decode_utf8();
                params.push(decoded.unwrap_or_default());
            }
            (Some(part), Some(segment)) if part == segment => {}
            _ => return None,
        }
    }
}

/// A request as an adapter hands it to [`Agora::handle`].
#[derive(Debug)]
pub struct Request<'a> {
    /// The path as received (for the documentation's relative redirect).
    pub path: &'a str,
    /// Where the API is mounted, as this request reached it: `""` at the
    /// root, `"/api"` when nested under `/api` (no trailing slash). The
    /// OpenAPI document served at `<base>/openapi.json` names it as its
    /// server and its token URL ([`crate::openapi::document_at`]).
    pub base: &'a str,
    /// The query string, without `?`.
    pub query: Option<&'a str>,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body, read up to [`Agora::body_limit`] when the endpoint takes
    /// one ([`Endpoint::body`]; else empty), or why it could not be read
    /// ([`Error::PayloadTooLarge`], [`Error::BodyTimeout`]). The error is
    /// answered only after authentication, as if the body were read last.
    pub body: Result<&'a [u8]>,
    /// Who sent it ([`Agora::client_info`]).
    pub client: ClientInfo,
}

/// An answer to write back: status, headers (lower-case names; the
/// content type among them when there is a body) and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header name and value pairs.
    pub headers: Vec<(&'static str, String)>,
    /// The body (JSON unless the content type says otherwise).
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Response::bytes(status, "application/json", body),
            Err(e) => Response::error(&Error::internal(e)),
        }
    }

    fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Response {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body,
        }
    }

    /// The answer to an error: its status, JSON body and headers
    /// ([`Error::body`], [`Error::headers`]). Logs the cause of a 5xx.
    pub fn error(err: &Error) -> Self {
        err.log_if_server_error();
        let mut response = Response::json(err.status_code(), &err.body());
        response.headers.extend(err.headers());
        response
    }

    /// The value of a header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What an operation answers before the table's status is applied.
enum Reply {
    Json(Vec<u8>),
    Empty,
    Raw(Response),
}

fn json(value: &impl Serialize) -> Result<Reply> {
    Ok(Reply::Json(
        serde_json::to_vec(value).map_err(Error::internal)?,
    ))
}

impl Agora {
    /// Serves a routed request: authenticates when the endpoint needs it,
    /// parses the path value, query and body with core's parsers, calls
    /// the service and answers with the table's success status, or with
    /// the error's status, body and headers (a 429's with the `RateLimit`
    /// fields of the policy that refused it, [`Error::headers`]).
    pub async fn handle(&self, route: &Route, request: Request<'_>) -> Response {
        let endpoint = route.endpoint;
        // On the adapter's `request_span` (a no-op without it), when its
        // path was not relative to the API's mount point.
        tracing::Span::current().record("http.route", endpoint.path);
        match self.dispatch(route, request).await {
            Err(error) => Response::error(&error),
            Ok(Reply::Json(body)) => Response::bytes(endpoint.status, "application/json", body),
            Ok(Reply::Empty) => Response {
                status: endpoint.status,
                headers: Vec::new(),
                body: Vec::new(),
            },
            Ok(Reply::Raw(response)) => response,
        }
    }

    async fn dispatch(&self, route: &Route, req: Request<'_>) -> Result<Reply> {
        let caller = match (route.endpoint.auth, req.authorization) {
            // Its session is checked by the post's own look-up: one round trip.
            _ if route.endpoint.operation == Op::GetPost => None,
            (Auth::Required, header) | (Auth::Optional, header @ Some(_)) => {
                Some(self.authenticate_header(header).await?)
            }
            (Auth::Optional | Auth::None, _) => None,
        };
        let viewer: Option<&Caller> = caller.as_ref();
        let caller = || {
            viewer.ok_or_else(|| Error::internal("the endpoint table marks this operation public"))
        };
        let param = route.params.first().map_or("", String::as_str);
        let id = || parse_path_id("id", param);
        let body = || req.body.clone();
        let client = &req.client;
        match route.endpoint.operation {
            Op::Root => json(&Message::new("Hello World")),
            Op::Health => Ok(Reply::Raw(self.health_response().await)),
            Op::Live => json(&json!({ "status": "ok" })),
            Op::CreateUser => {
                let request = parse_json(req.content_type, body()?)?;
                json(&self.register(request, client).await?)
            }
            Op::Me => json(caller()?.user()),
            Op::DeleteAccount => {
                let request = parse_json(req.content_type, body()?)?;
                self.delete_account(caller()?, request).await?;
                Ok(Reply::Empty)
            }
            Op::GetUser => json(&self.get_user(UserId(id()?)).await?),
            Op::UpdateMe => {
                let request = parse_json(req.content_type, body()?)?;
                json(&self.update_profile(caller()?, request).await?)
            }
            Op::GetProfile => json(&self.profile(viewer, param).await?),
            Op::Follow => json(&self.follow(caller()?, param).await?),
            Op::Unfollow => json(&self.unfollow(caller()?, param).await?),
            Op::Feed => {
                let query = ListQuery::parse(req.query)?;
                json(&self.feed(caller()?, query).await?)
            }
            Op::Tags => json(&self.tags(&ListQuery::parse(req.query)?).await?),
            Op::ListComments => {
                let query = ListQuery::parse(req.query)?;
                json(&self.comments(viewer, PostId(id()?), &query).await?)
            }
            Op::AddComment => {
                let id = PostId(id()?);
                let request = parse_json(req.content_type, body()?)?;
                json(&self.add_comment(caller()?, id, request).await?)
            }
            Op::DeleteComment => {
                let post = PostId(id()?);
                let raw = route.params.get(1).map_or("", String::as_str);
                let comment = CommentId(parse_path_id("comment_id", raw)?);
                self.delete_comment(caller()?, post, comment).await?;
                Ok(Reply::Empty)
            }
            Op::ChangePassword => {
                let request = parse_json(req.content_type, body()?)?;
                self.change_password(caller()?, request).await?;
                Ok(Reply::Empty)
            }
            Op::Login => {
                let request = parse_login(req.content_type, body()?)?;
                json(&self.login(request, client).await?)
            }
            Op::ForgotPassword => {
                let request = parse_json(req.content_type, body()?)?;
                self.forgot_password(request, client).await?;
                json(&Message::new(MAIL_ON_ITS_WAY))
            }
            Op::RequestVerifyToken => {
                let request = parse_json(req.content_type, body()?)?;
                self.request_verify_token(request, client).await?;
                json(&Message::new(MAIL_ON_ITS_WAY))
            }
            Op::ResetPassword => {
                let request = parse_json(req.content_type, body()?)?;
                self.reset_password(request, client).await?;
                Ok(Reply::Empty)
            }
            Op::Verify => {
                let request = parse_json(req.content_type, body()?)?;
                json(&self.verify_email(request, client).await?)
            }
            Op::Refresh => {
                let request = parse_json(req.content_type, body()?)?;
                json(&self.refresh(request, client).await?)
            }
            Op::Logout => {
                self.logout(caller()?).await?;
                Ok(Reply::Empty)
            }
            Op::LogoutAll => {
                self.logout_all(caller()?).await?;
                Ok(Reply::Empty)
            }
            Op::ListSessions => json(&self.sessions(caller()?).await?),
            Op::EndSession => {
                self.end_session(caller()?, param).await?;
                Ok(Reply::Empty)
            }
            Op::Jwks => json(&self.jwks().ok_or(Error::RouteNotFound)?),
            Op::ListPosts => {
                let query = ListQuery::parse(req.query)?;
                json(&self.list_posts(Some(caller()?), query).await?)
            }
            Op::CreatePost => {
                let request = parse_json(req.content_type, body()?)?;
                json(&self.create_post(caller()?, request).await?)
            }
            Op::GetPost => {
                let id = match id() {
                    Ok(id) => PostId(id),
                    // An unauthenticated caller hears 401, never 422.
                    Err(invalid) => {
                        self.authenticate_header(req.authorization).await?;
                        return Err(invalid);
                    }
                };
                json(&self.get_post_as_bearer(req.authorization, id).await?)
            }
            Op::UpdatePost => {
                let id = PostId(id()?);
                let request = parse_json(req.content_type, body()?)?;
                json(&self.update_post(caller()?, id, request).await?)
            }
            Op::DeletePost => {
                self.delete_post(caller()?, PostId(id()?)).await?;
                Ok(Reply::Empty)
            }
            Op::Vote => {
                let request = parse_json(req.content_type, body()?)?;
                json(&self.vote(caller()?, request).await?.message())
            }
            Op::OpenApi => Ok(Reply::Raw(Response::bytes(
                200,
                "application/json",
                openapi_json(req.base),
            ))),
            Op::Docs => Ok(Reply::Raw(swagger_ui(req.path, param)?)),
        }
    }
}

impl Agora {
    /// `GET /health`: `{"status": "ok", "database": "<backend>", "checks":
    /// {"database": {"status": "ok", "latency_ms": 1.2}, "redis": ...}}`
    /// ([`Agora::health_report`]); when a check fails, 503 with the same
    /// shape, `status: "error"`, the failing check's `reason`, and the
    /// error body's `detail` and `code` (as every 503 has). For apps that
    /// serve `/health` themselves (the Python package's `agora.fastapi`).
    pub async fn health_response(&self) -> Response {
        let report = self.health_report().await;
        let mut body = json!({
            "status": report.status,
            "database": self.backend(),
            "checks": report.checks,
        });
        let Some(error) = &report.error else {
            return Response::json(200, &body);
        };
        error.log_if_server_error();
        if let (Some(body), serde_json::Value::Object(fields)) =
            (body.as_object_mut(), error.body())
        {
            body.extend(fields);
        }
        Response::json(error.status_code(), &body)
    }
}

/// The OpenAPI document as served under `base`, made once per base (a
/// process serves the API under one or a few bases; past a few, the
/// document is made for each request rather than cached).
fn openapi_json(base: &str) -> Vec<u8> {
    const CACHED_BASES: usize = 8;
    static DOCUMENTS: Mutex<Vec<(String, Arc<[u8]>)>> = Mutex::new(Vec::new());
    let base = base.trim_end_matches('/');
    let mut documents = DOCUMENTS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, json)) = documents.iter().find(|(b, _)| b == base) {
        return json.to_vec();
    }
    let json: Arc<[u8]> = crate::openapi::document_at(base)
        .to_json()
        .unwrap_or_else(|_| "{}".to_owned())
        .into_bytes()
        .into();
    if documents.len() < CACHED_BASES {
        documents.push((base.to_owned(), json.clone()));
    }
    json.to_vec()
}

/// Swagger UI, from the files vendored into the binary (no internet needed):
/// `docs` redirects to `docs/` (relative, so it works under any base path),
/// which serves the page; the page loads `../openapi.json` and keeps the
/// bearer token across reloads once "Authorize" has logged in.
fn swagger_ui(path: &str, file: &str) -> Result<Response> {
    if file.is_empty() && !path.ends_with('/') {
        return Ok(Response {
            status: 303,
            headers: vec![("location", "docs/".to_owned())],
            body: Vec::new(),
        });
    }
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        Arc::new(utoipa_swagger_ui::Config::new(["../openapi.json"]).persist_authorization(true))
    });
    let file = utoipa_swagger_ui::serve(file, config.clone())
        .map_err(|e| Error::internal(e.to_string()))?
        .ok_or(Error::RouteNotFound)?;
    let mut response = Response::bytes(200, &file.content_type, file.bytes.into_owned());
    if file.gzpipped {
        response
            .headers
            .push(("content-encoding", "gzip".to_owned()));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_from_a_trusted_proxy_and_only_when_valid() {
        let trusted = TrustedProxy {
            header: Some("X-Real-IP".into()),
            hops: 1,
        };
        let untrusted = TrustedProxy::default();
        let longest = "a".repeat(REQUEST_ID_MAX_LEN);
        for id in ["abc", "0f8c-ALL_visible.~!:/", longest.as_str()] {
            assert_eq!(kept_request_id(&trusted, Some(id.as_bytes())), Some(id));
            assert_eq!(request_id(&trusted, Some(id.as_bytes())), id);
            assert_eq!(kept_request_id(&untrusted, Some(id.as_bytes())), None);
        }
        let too_long = "a".repeat(REQUEST_ID_MAX_LEN + 1);
        let invalid: [&[u8]; 6] = [
            b"",
            b"with space",
            b"line\nbreak",
            b"\x7f",
            "caf\u{e9}".as_bytes(),
            too_long.as_bytes(),
        ];
        for id in invalid {
            assert_eq!(kept_request_id(&trusted, Some(id)), None, "{id:?}");
            assert_ne!(request_id(&trusted, Some(id)).as_bytes(), id);
        }
        assert_eq!(kept_request_id(&trusted, None), None);
    }

    #[test]
    fn new_request_ids_are_random_v4_uuids() {
        let (a, b) = (new_request_id(), new_request_id());
        assert_ne!(a, b);
        for id in [a, b] {
            assert!(valid_request_id(id.as_bytes()));
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert_eq!(&id[14..15], "4", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
    }

    fn op(method: &str, path: &str) -> Result<(Operation, Option<String>)> {
        route(method, path).map(|r| (r.endpoint.operation, r.params.first().cloned()))
    }

    #[test]
    fn every_path_matches_with_and_without_one_trailing_slash() {
        assert_eq!(op("GET", "/").unwrap().0, Op::Root);
        assert_eq!(op("GET", "").unwrap().0, Op::Root);
        assert_eq!(op("GET", "/posts").unwrap().0, Op::ListPosts);
        assert_eq!(op("GET", "/posts/").unwrap().0, Op::ListPosts);
        assert_eq!(op("HEAD", "/posts").unwrap().0, Op::ListPosts);
        assert_eq!(op("POST", "/posts/").unwrap().0, Op::CreatePost);
        assert_eq!(op("GET", "/users/me").unwrap().0, Op::Me);
        assert_eq!(
            op("GET", "/users/12").unwrap(),
            (Op::GetUser, Some("12".into()))
        );
        assert_eq!(
            op("DELETE", "/sessions/a%20b").unwrap(),
            (Op::EndSession, Some("a b".into()))
        );
        assert_eq!(
            op("GET", "/docs/swagger-ui.css").unwrap(),
            (Op::Docs, Some("swagger-ui.css".into()))
        );
        assert_eq!(op("GET", "/docs/").unwrap(), (Op::Docs, None));
        let comment = route("DELETE", "/posts/7/comments/9/").unwrap();
        assert_eq!(comment.endpoint.operation, Op::DeleteComment);
        assert_eq!(comment.params, ["7", "9"]);
        assert_eq!(
            op("POST", "/profiles/Ada.L/follow").unwrap(),
            (Op::Follow, Some("Ada.L".into()))
        );
        assert_eq!(op("PUT", "/users/me").unwrap().0, Op::UpdateMe);
        assert_eq!(op("GET", "/health").unwrap().0, Op::Health);
        assert_eq!(op("HEAD", "/health/live/").unwrap().0, Op::Live);
    }

    #[test]
    fn the_endpoints_that_throttle_are_marked_for_their_429() {
        for path in [
            "/login",
            "/users",
            "/forgot-password",
            "/request-verify-token",
        ] {
            assert!(route("POST", path).unwrap().endpoint.throttled, "{path}");
        }
        assert!(!route("GET", "/posts").unwrap().endpoint.throttled);
    }

    #[test]
    fn empty_segments_and_unknown_paths_are_not_found() {
        for path in [
            "//",
            "//posts",
            "/posts//",
            "/posts//1",
            "/nope",
            "/posts/1/x",
        ] {
            assert!(
                matches!(route("GET", path), Err(Error::RouteNotFound)),
                "{path}"
            );
        }
    }

    #[test]
    fn other_methods_of_a_known_path_are_405_with_allow() {
        for (method, path, allow) in [
            ("PATCH", "/posts/1", "GET,HEAD,PUT,DELETE"),
            ("DELETE", "/posts", "GET,HEAD,POST"),
            ("GET", "/login", "POST"),
            ("OPTIONS", "/users/me", "GET,HEAD,PUT,DELETE"),
        ] {
            match route(method, path) {
                Err(Error::MethodNotAllowed { allow: got }) => assert_eq!(got, allow, "{path}"),
                other => panic!("{method} {path}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_undecodable_path_value_is_empty_for_its_parser_to_reject() {
        assert_eq!(
            op("GET", "/posts/%FF").unwrap(),
            (Op::GetPost, Some(String::new()))
        );
    }

    #[test]
    fn each_method_and_path_is_in_the_table_once() {
        let mut seen = std::collections::HashSet::new();
        for e in ENDPOINTS {
            assert!(
                seen.insert((e.method, e.path)),
                "{} {}",
                e.method.as_str(),
                e.path
            );
            assert!(e.path.starts_with('/'), "{}", e.path);
        }
    }
}
