//! The OpenAPI 3.1 document of Agora's HTTP API, built from the same types the
//! handlers parse and answer with, so the two cannot drift apart.
//!
//! Both adapters serve [`document`] at `GET /openapi.json` (and Swagger UI at
//! `GET /docs`); their tests check that it lists exactly the routes they have.
//!
//! ```
//! let doc = agora_core::openapi::document();
//! assert!(doc.paths.paths.contains_key("/posts/{id}"));
//! ```

use std::collections::BTreeSet;

use serde_json::json;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityScheme,
};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, Response, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::domain::{Email, Post, PostId, PostWithVotes, Session, User, UserId};
use crate::schema::{
    AccountDeletion, LoginRequest, Message, PasswordChange, PostCreate, RefreshRequest,
    SessionInfo, Token, UserCreate, VoteRequest,
};

/// The OpenAPI document, as served at `GET /openapi.json`.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The `(METHOD, path)` pairs the document describes, methods upper-case and
/// paths in OpenAPI form (`/posts/{id}`): what adapters' tests compare with
/// their real routes.
pub fn operations() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut ops = BTreeSet::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ] {
            if op.is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

/// An error answer: `{"detail": "<message>"}`.
#[derive(ToSchema)]
#[schema(example = json!({"detail": "Could not validate credentials"}))]
pub struct HttpError {
    /// Human-readable message.
    pub detail: String,
}

/// One problem of a 422 answer, as FastAPI reports it.
#[derive(ToSchema)]
#[schema(example = json!({"loc": ["body", "email"], "msg": "Field required", "type": "missing"}))]
pub struct ValidationErrorItem {
    /// Where: `"body"`, `"query"` or `"path"`, then the field path.
    pub loc: Vec<String>,
    /// Human-readable explanation.
    pub msg: String,
    /// Machine-readable category (`missing`, `json_invalid`, ...).
    #[schema(rename = "type")]
    pub kind: String,
}

/// A 422 answer: `{"detail": [problems]}`, one entry per offending field.
#[derive(ToSchema)]
#[schema(example = json!({"detail": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]}))]
pub struct ValidationError {
    /// Every problem found.
    pub detail: Vec<ValidationErrorItem>,
}

/// The OAuth2 password form of `POST /login`.
#[derive(ToSchema)]
#[schema(example = json!({"username": "ada@example.com", "password": "correct horse battery", "grant_type": "password"}))]
pub struct LoginForm {
    /// The account's email.
    pub username: String,
    /// The password.
    pub password: String,
    /// Ignored (OAuth2 clients send `password`).
    pub grant_type: Option<String>,
    /// Ignored.
    pub scope: Option<String>,
}

/// `GET /health` answer.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ok", "database": "sqlite"}))]
pub struct Health {
    /// Always `"ok"`.
    pub status: String,
    /// The storage backend (`sqlite`, `postgres`, `mysql`).
    pub database: String,
}

/// `GET /.well-known/jwks.json` answer: the public keys that verify tokens.
#[derive(ToSchema)]
pub struct JwkSet {
    /// JSON Web Keys (RFC 7517).
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// `GET /posts` query string.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0, default = 0)]
    pub skip: Option<i64>,
    /// Keyset pagination: only posts with a smaller id.
    pub after: Option<i64>,
    /// Case-insensitive substring of the title, at most 300 characters (the
    /// longest title); empty matches all.
    #[param(max_length = 300)]
    pub search: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agora",
        description = "Users, JWT login, posts and votes. Log in with `POST /login` (the OAuth2 password form or JSON), then send `Authorization: Bearer <access_token>`.",
    ),
    paths(
        paths::root, paths::health, paths::create_user, paths::me, paths::delete_account,
        paths::get_user, paths::change_password, paths::login, paths::refresh, paths::logout,
        paths::logout_all, paths::list_sessions, paths::end_session, paths::jwks,
        paths::list_posts, paths::create_post, paths::get_post, paths::update_post,
        paths::delete_post, paths::vote,
    ),
    components(schemas(
        UserId, PostId, Email, User, Post, PostWithVotes, Session, SessionInfo, Token, Message,
        UserCreate, LoginRequest, LoginForm, PostCreate, VoteRequest, RefreshRequest,
        PasswordChange, AccountDeletion, HttpError, ValidationError, ValidationErrorItem, Health,
        JwkSet,
    )),
    modifiers(&CommonResponses),
    tags(
        (name = "auth", description = "Login, tokens and sessions"),
        (name = "users", description = "Accounts"),
        (name = "posts", description = "Posts and votes"),
        (name = "meta", description = "Service information"),
    )
)]
struct ApiDoc;

const BEARER: &str = "bearer";
const OAUTH2: &str = "oauth2";

/// Adds the security schemes and the error answers many operations share:
/// 401 on authenticated ones, 413 and 422 where a body or parameter is
/// parsed, 429 where attempts are throttled, 503 where the database is used.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("The `access_token` of `POST /login`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            OAUTH2,
            SecurityScheme::OAuth2(OAuth2::with_description(
                [Flow::Password(Password::new("/login", Scopes::new()))],
                "OAuth2 password flow: `POST /login` with `username` and `password`.",
            )),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_common(path, op);
            }
        }
    }
}

fn add_common(path: &str, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_input =
        op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let throttled = matches!(path, "/login" | "/users" | "/token/refresh")
        || (path == "/users/me" && op.request_body.is_some())
        || path == "/users/me/password";
    let uses_database = !matches!(path, "/" | "/.well-known/jwks.json");
    let responses = &mut op.responses.responses;
    let mut add = |status: &str, response: Response| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| response.into());
    };
    if secured {
        add(
            "401",
            error(
                "Missing, invalid or expired bearer token (with `WWW-Authenticate: Bearer`)",
                "Could not validate credentials",
            ),
        );
    }
    if op.request_body.is_some() {
        add(
            "413",
            error(
                "The body is larger than the limit",
                "Request body too large",
            ),
        );
    }
    if has_input {
        add("422", validation_error());
    }
    if throttled {
        add(
            "429",
            error(
                "Too many attempts; retry after `Retry-After` seconds",
                "Too many requests",
            ),
        );
    }
    if uses_database {
        add(
            "503",
            error(
                "The database is unreachable; retry later",
                "Service temporarily unavailable, try again later",
            ),
        );
    }
}

fn error(description: &str, detail: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("HttpError")))
                .example(Some(json!({ "detail": detail })))
                .build(),
        )
        .build()
}

fn validation_error() -> Response {
    ResponseBuilder::new()
        .description("Invalid input: one entry per offending field")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ValidationError")))
                .example(Some(json!({"detail": [
                    {"loc": ["body", "email"], "msg": "Field required", "type": "missing"}
                ]})))
                .build(),
        )
        .build()
}

/// Operation descriptions; the functions are never called (the adapters hold
/// the real handlers), `#[utoipa::path]` only reads their attributes.
#[allow(dead_code)]
mod paths {
    use super::*;

    #[utoipa::path(get, path = "/", tag = "meta",
        responses((status = 200, description = "Greeting", body = Message)))]
    fn root() {}

    #[utoipa::path(get, path = "/health", tag = "meta",
        responses((status = 200, description = "The service and its database are up", body = Health)))]
    fn health() {}

    #[utoipa::path(post, path = "/users", tag = "users",
        request_body = UserCreate,
        responses(
            (status = 201, description = "Registered", body = User,
                example = json!({"id": 1, "email": "ada@example.com", "created_at": "2026-01-01T12:00:00Z"})),
            (status = 409, description = "The email is taken", body = HttpError,
                example = json!({"detail": "User with email: ada@example.com already exists"})),
        ))]
    fn create_user() {}

    #[utoipa::path(get, path = "/users/me", tag = "users",
        security(("bearer" = []), ("oauth2" = [])),
        responses((status = 200, description = "The caller", body = User)))]
    fn me() {}

    #[utoipa::path(delete, path = "/users/me", tag = "users",
        security(("bearer" = []), ("oauth2" = [])),
        request_body = AccountDeletion,
        responses(
            (status = 204, description = "Account, posts, votes and sessions deleted"),
            (status = 403, description = "Wrong password", body = HttpError,
                example = json!({"detail": "Invalid Credentials"})),
        ))]
    fn delete_account() {}

    #[utoipa::path(get, path = "/users/{id}", tag = "users",
        params(("id" = i64, Path, description = "User id")),
        responses(
            (status = 200, description = "The user", body = User),
            (status = 404, description = "No such user", body = HttpError,
                example = json!({"detail": "User with id: 7 does not exist"})),
        ))]
    fn get_user() {}

    #[utoipa::path(put, path = "/users/me/password", tag = "users",
        security(("bearer" = []), ("oauth2" = [])),
        request_body = PasswordChange,
        responses(
            (status = 204, description = "Changed; the caller's other sessions are ended"),
            (status = 403, description = "Wrong current password", body = HttpError,
                example = json!({"detail": "Invalid Credentials"})),
        ))]
    fn change_password() {}

    #[utoipa::path(post, path = "/login", tag = "auth",
        request_body(content(
            (LoginForm = "application/x-www-form-urlencoded"),
            (LoginRequest = "application/json"),
        )),
        responses(
            (status = 200, description = "Logged in", body = Token),
            (status = 403, description = "Unknown email or wrong password", body = HttpError,
                example = json!({"detail": "Invalid Credentials"})),
        ))]
    fn login() {}

    #[utoipa::path(post, path = "/token/refresh", tag = "auth",
        request_body = RefreshRequest,
        responses(
            (status = 200, description = "A new token pair; the old refresh token is spent", body = Token),
            (status = 401, description = "Unknown, spent or expired refresh token", body = HttpError,
                example = json!({"detail": "Could not validate credentials"})),
        ))]
    fn refresh() {}

    #[utoipa::path(post, path = "/logout", tag = "auth",
        security(("bearer" = []), ("oauth2" = [])),
        responses((status = 204, description = "The caller's session is ended")))]
    fn logout() {}

    #[utoipa::path(post, path = "/logout/all", tag = "auth",
        security(("bearer" = []), ("oauth2" = [])),
        responses((status = 204, description = "Every session of the caller is ended")))]
    fn logout_all() {}

    #[utoipa::path(get, path = "/sessions", tag = "auth",
        security(("bearer" = []), ("oauth2" = [])),
        responses((status = 200, description = "The caller's active sessions", body = Vec<SessionInfo>)))]
    fn list_sessions() {}

    #[utoipa::path(delete, path = "/sessions/{id}", tag = "auth",
        security(("bearer" = []), ("oauth2" = [])),
        params(("id" = String, Path, description = "Session id")),
        responses(
            (status = 204, description = "The session is ended"),
            (status = 404, description = "No such session of the caller", body = HttpError,
                example = json!({"detail": "Session not found"})),
        ))]
    fn end_session() {}

    #[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
        responses(
            (status = 200, description = "The public keys that verify access tokens", body = JwkSet),
            (status = 404, description = "Tokens are signed with a shared secret (HS256): no public keys", body = HttpError,
                example = json!({"detail": "Not Found"})),
        ))]
    fn jwks() {}

    #[utoipa::path(get, path = "/posts", tag = "posts",
        security(("bearer" = []), ("oauth2" = [])),
        params(ListParams),
        responses((status = 200, description = "Posts visible to the caller, newest first", body = Vec<PostWithVotes>)))]
    fn list_posts() {}

    #[utoipa::path(post, path = "/posts", tag = "posts",
        security(("bearer" = []), ("oauth2" = [])),
        request_body = PostCreate,
        responses((status = 201, description = "Created", body = Post)))]
    fn create_post() {}

    #[utoipa::path(get, path = "/posts/{id}", tag = "posts",
        security(("bearer" = []), ("oauth2" = [])),
        params(("id" = i64, Path, description = "Post id")),
        responses(
            (status = 200, description = "The post", body = PostWithVotes),
            (status = 404, description = "No such post visible to the caller", body = HttpError,
                example = json!({"detail": "post with id: 7 was not found"})),
        ))]
    fn get_post() {}

    #[utoipa::path(put, path = "/posts/{id}", tag = "posts",
        security(("bearer" = []), ("oauth2" = [])),
        params(("id" = i64, Path, description = "Post id")),
        request_body = PostCreate,
        responses(
            (status = 200, description = "Replaced", body = Post),
            (status = 403, description = "Not the caller's post", body = HttpError,
                example = json!({"detail": "Not authorized to perform requested action"})),
            (status = 404, description = "No such post", body = HttpError,
                example = json!({"detail": "post with id: 7 was not found"})),
        ))]
    fn update_post() {}

    #[utoipa::path(delete, path = "/posts/{id}", tag = "posts",
        security(("bearer" = []), ("oauth2" = [])),
        params(("id" = i64, Path, description = "Post id")),
        responses(
            (status = 204, description = "Deleted"),
            (status = 403, description = "Not the caller's post", body = HttpError,
                example = json!({"detail": "Not authorized to perform requested action"})),
            (status = 404, description = "No such post", body = HttpError,
                example = json!({"detail": "post with id: 7 was not found"})),
        ))]
    fn delete_post() {}

    #[utoipa::path(post, path = "/vote", tag = "posts",
        security(("bearer" = []), ("oauth2" = [])),
        request_body = VoteRequest,
        responses(
            (status = 201, description = "Vote added or removed", body = Message,
                example = json!({"message": "Successfully added vote"})),
            (status = 404, description = "No such post, or no vote to remove", body = HttpError,
                example = json!({"detail": "Post with id: 7 does not exist"})),
            (status = 409, description = "Already voted", body = HttpError,
                example = json!({"detail": "user 1 has already voted on post 7"})),
        ))]
    fn vote() {}
}
