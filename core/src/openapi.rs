//! The OpenAPI 3.1 document of Agora's HTTP API, generated from the endpoint
//! table ([`crate::http::ENDPOINTS`]) and the same types the dispatcher
//! parses and answers with, so the document and the API cannot drift apart.
//!
//! Both adapters serve [`document_at`] the base path the API is mounted at
//! at `GET /openapi.json` (and Swagger UI at `GET /docs`): mounted under
//! `/api`, the document's `servers` is `[{"url": "/api"}]` and the OAuth2
//! `tokenUrl` is `/api/login`, so Swagger UI's "Authorize" and "Try it out"
//! call the prefixed paths.
//!
//! ```
//! let doc = agora_core::openapi::document();
//! assert!(doc.paths.paths.contains_key("/posts/{id}"));
//! ```

use std::collections::BTreeSet;

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, Schema, Type};
use utoipa::openapi::security::{
    Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes, SecurityRequirement,
    SecurityScheme,
};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi as Document, Ref, RefOr, Required, Response,
    ResponseBuilder,
};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::domain::{
    Comment, CommentId, Email, Post, PostId, PostWithVotes, Profile, Session, Tag, TagCount, User,
    UserId, Username,
};
use crate::error::{Error, ErrorCode};
use crate::http::{Auth, BodyKind, ENDPOINTS, Endpoint, Method};
use crate::schema::{
    AccountDeletion, CommentCreate, EmailRequest, LoginRequest, Message, PasswordChange,
    PostCreate, ProfileUpdate, RefreshRequest, ResetPasswordRequest, SessionInfo, Token,
    UserCreate, VerifyRequest, VoteRequest,
};

/// The OpenAPI document of the API mounted at `/`: the info, components and
/// tags below, and one operation per documented row of [`ENDPOINTS`]
/// (paths relative to where the API is mounted, no `servers`).
pub fn document() -> Document {
    document_at("")
}

/// The document as served at `GET <base>/openapi.json` when the API is
/// mounted at `base` (`""` or `"/"` for the root, `"/api"` under a nest; a
/// trailing slash is ignored): [`document`] with `servers: [{"url": base}]`
/// and the OAuth2 password flow's `tokenUrl` at `<base>/login`, so clients
/// such as Swagger UI call `<base>/users/me` and log in at `<base>/login`.
///
/// ```
/// let doc = serde_json::to_value(agora_core::openapi::document_at("/api")).unwrap();
/// assert_eq!(doc["servers"], serde_json::json!([{"url": "/api"}]));
/// let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
/// assert_eq!(flow["tokenUrl"], "/api/login");
/// ```
pub fn document_at(base: &str) -> Document {
    let base = base.trim_end_matches('/');
    let mut doc = ApiDoc::openapi();
    if !base.is_empty() {
        doc.servers = Some(vec![utoipa::openapi::server::Server::new(base)]);
    }
    doc.info.description = Some(format!(
        "Users, JWT login, posts and votes, profiles and follows, a feed, tags and comments. \
         Log in with `POST /login` (the OAuth2 password form \
         or JSON), then send `Authorization: Bearer <access_token>`. Every error answer is \
         `{{\"detail\": ..., \"code\": ...}}`; the codes (with their status): {}.",
        codes_table()
    ));
    add_security_schemes(&mut doc, &format!("{base}/login"));
    for endpoint in ENDPOINTS {
        if let Some(described) = &endpoint.doc {
            doc.paths.add_path_operation(
                endpoint.path,
                vec![http_method(endpoint.method)],
                operation(endpoint, described),
            );
        }
    }
    doc
}

/// The `(METHOD, path)` pairs the document describes, methods upper-case and
/// paths in OpenAPI form (`/posts/{id}`).
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

/// A schema of the document, by function so that the endpoint table can
/// hold it in a `static`.
pub type SchemaFn = fn() -> RefOr<Schema>;

/// The schema component of `T`.
pub fn schema<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

/// An array of `T`.
pub fn array<T: ToSchema>() -> RefOr<Schema> {
    ArrayBuilder::new().items(schema::<T>()).into()
}

/// How an endpoint is described in the OpenAPI document.
#[derive(Debug, Clone, Copy)]
pub struct OperationDoc {
    /// Its tag (section).
    pub tag: &'static str,
    /// What a success means.
    pub summary: &'static str,
    /// The request body's schema.
    pub request: Option<SchemaFn>,
    /// The success answer's schema (none for 204).
    pub response: Option<SchemaFn>,
    /// The path's `{...}` parameters, in order.
    pub path: &'static [PathParam],
    /// The query parameters.
    pub query: Option<fn() -> Vec<Parameter>>,
    /// The errors particular to it, each with an example (401, 413, 422,
    /// 429 and 503 are added from the endpoint's flags).
    pub errors: &'static [ErrorDoc],
}

/// A `{name}` part of an endpoint's path.
#[derive(Debug, Clone, Copy)]
pub struct PathParam {
    /// Its name.
    pub name: &'static str,
    /// What it is.
    pub description: &'static str,
    /// Whether it is an integer (else a string).
    pub integer: bool,
}

/// A documented error answer of one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct ErrorDoc {
    /// When it happens.
    pub description: &'static str,
    /// An example of it (its status, code and body go in the document).
    pub example: fn() -> Error,
}

const fn doc(tag: &'static str, summary: &'static str) -> OperationDoc {
    OperationDoc {
        tag,
        summary,
        request: None,
        response: None,
        path: &[],
        query: None,
        errors: &[],
    }
}

impl OperationDoc {
    const fn request(mut self, schema: SchemaFn) -> Self {
        self.request = Some(schema);
        self
    }

    const fn response(mut self, schema: SchemaFn) -> Self {
        self.response = Some(schema);
        self
    }

    const fn path(mut self, params: &'static [PathParam]) -> Self {
        self.path = params;
        self
    }

    const fn query(mut self, params: fn() -> Vec<Parameter>) -> Self {
        self.query = Some(params);
        self
    }

    const fn errors(mut self, errors: &'static [ErrorDoc]) -> Self {
        self.errors = errors;
        self
    }
}

const fn err(description: &'static str, example: fn() -> Error) -> ErrorDoc {
    ErrorDoc {
        description,
        example,
    }
}

/// The description of every documented endpoint, used by the table in
/// [`crate::http::ENDPOINTS`].
pub(crate) mod docs {
    use super::*;

    const WRONG_PASSWORD: ErrorDoc = err("Wrong password", || Error::InvalidCredentials);
    const NO_POST: ErrorDoc = err("No such post visible to the caller", || {
        Error::PostNotFound(PostId(7))
    });
    const NOT_OWNER: ErrorDoc = err("Not the caller's post", || Error::NotOwner);
    const NO_PROFILE: ErrorDoc = err("No user has this username", || {
        Error::ProfileNotFound("ada".to_owned())
    });
    const USERNAME_TAKEN: ErrorDoc = err("Another user has this username", || {
        Error::UsernameTaken("ada".to_owned())
    });
    const USER_ID: PathParam = PathParam {
        name: "id",
        description: "User id",
        integer: true,
    };
    const POST_ID: PathParam = PathParam {
        name: "id",
        description: "Post id",
        integer: true,
    };
    const SESSION_ID: PathParam = PathParam {
        name: "id",
        description: "Session id",
        integer: false,
    };
    const COMMENT_ID: PathParam = PathParam {
        name: "comment_id",
        description: "Comment id",
        integer: true,
    };
    const USERNAME: PathParam = PathParam {
        name: "username",
        description: "Username (case-insensitive)",
        integer: false,
    };
    fn list_params() -> Vec<Parameter> {
        ListParams::into_params(|| Some(ParameterIn::Query))
    }
    fn page_params() -> Vec<Parameter> {
        PageParams::into_params(|| Some(ParameterIn::Query))
    }

    pub(crate) const ROOT: OperationDoc = doc("meta", "Greeting").response(schema::<Message>);
    pub(crate) const HEALTH: OperationDoc = doc(
        "meta",
        "The service and its dependencies are up: each check (`database`, and `redis` when \
         throttling counters live there) with its latency. 503 with the same shape when one \
         does not answer: `status` and the failing check's `status` are `error`, with a \
         short `reason`",
    )
    .response(schema::<Health>);
    pub(crate) const LIVE: OperationDoc = doc(
        "meta",
        "The process answers (liveness); no dependency is checked",
    )
    .response(schema::<Live>);
    pub(crate) const CREATE_USER: OperationDoc = doc("users", "Registered")
        .request(schema::<UserCreate>)
        .response(schema::<User>)
        .errors(&[
            err("The email is taken", || {
                Error::EmailTaken("ada@example.com".to_owned())
            }),
            USERNAME_TAKEN,
        ]);
    pub(crate) const UPDATE_ME: OperationDoc = doc("users", "The caller, updated")
        .request(schema::<ProfileUpdate>)
        .response(schema::<User>)
        .errors(&[USERNAME_TAKEN]);
    pub(crate) const GET_PROFILE: OperationDoc = doc(
        "profiles",
        "The profile (`following` is the caller's, false without a token)",
    )
    .response(schema::<Profile>)
    .path(&[USERNAME])
    .errors(&[NO_PROFILE]);
    pub(crate) const FOLLOW: OperationDoc =
        doc("profiles", "The caller follows the user (idempotent)")
            .response(schema::<Profile>)
            .path(&[USERNAME])
            .errors(&[NO_PROFILE]);
    pub(crate) const UNFOLLOW: OperationDoc = doc(
        "profiles",
        "The caller does not follow the user (idempotent)",
    )
    .response(schema::<Profile>)
    .path(&[USERNAME])
    .errors(&[NO_PROFILE]);
    pub(crate) const FEED: OperationDoc = doc(
        "posts",
        "Published posts of the users the caller follows, newest first",
    )
    .response(array::<PostWithVotes>)
    .query(list_params);
    pub(crate) const TAGS: OperationDoc = doc("posts", "Tags of published posts, most used first")
        .response(array::<TagCount>)
        .query(page_params);
    pub(crate) const LIST_COMMENTS: OperationDoc = doc(
        "comments",
        "The post's comments, oldest first (`after`: a comment id)",
    )
    .response(array::<Comment>)
    .path(&[POST_ID])
    .query(page_params)
    .errors(&[NO_POST]);
    pub(crate) const ADD_COMMENT: OperationDoc = doc("comments", "Created")
        .request(schema::<CommentCreate>)
        .response(schema::<Comment>)
        .path(&[POST_ID])
        .errors(&[NO_POST]);
    pub(crate) const DELETE_COMMENT: OperationDoc = doc("comments", "Deleted")
        .path(&[POST_ID, COMMENT_ID])
        .errors(&[
            NO_POST,
            err("No such comment on the post", || {
                Error::CommentNotFound(CommentId(9))
            }),
            err("Not the caller's comment", || Error::NotCommentAuthor),
        ]);
    pub(crate) const ME: OperationDoc = doc("users", "The caller").response(schema::<User>);
    pub(crate) const DELETE_ACCOUNT: OperationDoc =
        doc("users", "Account, posts, votes and sessions deleted")
            .request(schema::<AccountDeletion>)
            .errors(&[WRONG_PASSWORD]);
    pub(crate) const GET_USER: OperationDoc = doc("users", "The user")
        .response(schema::<User>)
        .path(&[USER_ID])
        .errors(&[err("No such user", || Error::UserNotFound(UserId(7)))]);
    pub(crate) const CHANGE_PASSWORD: OperationDoc =
        doc("users", "Changed; the caller's other sessions are ended")
            .request(schema::<PasswordChange>)
            .errors(&[WRONG_PASSWORD]);
    pub(crate) const LOGIN: OperationDoc = doc("auth", "Logged in")
        .response(schema::<Token>)
        .errors(&[
            err("Unknown email or wrong password", || Error::InvalidCredentials),
            err(
                "A correct password, but the address is not verified (AGORA_REQUIRE_VERIFIED_EMAIL=on)",
                || Error::EmailNotVerified,
            ),
        ]);
    pub(crate) const FORGOT_PASSWORD: OperationDoc = doc(
        "auth",
        "Accepted: the same answer for every address; a registered one gets a link to \
         {public_url}/reset-password?token=... (at most 3 mails per 15 minutes)",
    )
    .request(schema::<EmailRequest>)
    .response(schema::<Message>);
    pub(crate) const RESET_PASSWORD: OperationDoc = doc(
        "auth",
        "The password is changed, the token spent and every session of the user ended",
    )
    .request(schema::<ResetPasswordRequest>)
    .errors(&[err(
        "Unknown, spent or expired token, or the password changed since it was sent",
        || Error::ResetPasswordBadToken,
    )]);
    pub(crate) const REQUEST_VERIFY_TOKEN: OperationDoc = doc(
        "auth",
        "Accepted: the same answer for every address; a registered, unverified one gets a \
         link to {public_url}/verify?token=...",
    )
    .request(schema::<EmailRequest>)
    .response(schema::<Message>);
    pub(crate) const VERIFY: OperationDoc = doc("auth", "The address is verified")
        .request(schema::<VerifyRequest>)
        .response(schema::<User>)
        .errors(&[err(
            "Unknown, spent or expired token, or the address is verified already",
            || Error::VerifyBadToken,
        )]);
    pub(crate) const REFRESH: OperationDoc =
        doc("auth", "A new token pair; the old refresh token is spent")
            .request(schema::<RefreshRequest>)
            .response(schema::<Token>)
            .errors(&[err("Unknown, spent or expired refresh token", || {
                Error::Unauthorized
            })]);
    pub(crate) const LOGOUT: OperationDoc = doc("auth", "The caller's session is ended");
    pub(crate) const LOGOUT_ALL: OperationDoc = doc("auth", "Every session of the caller is ended");
    pub(crate) const LIST_SESSIONS: OperationDoc =
        doc("auth", "The caller's active sessions").response(array::<SessionInfo>);
    pub(crate) const END_SESSION: OperationDoc = doc("auth", "The session is ended")
        .path(&[SESSION_ID])
        .errors(&[err("No such session of the caller", || {
            Error::SessionNotFound
        })]);
    pub(crate) const JWKS: OperationDoc = doc("auth", "The public keys that verify access tokens")
        .response(schema::<JwkSet>)
        .errors(&[err(
            "Tokens are signed with a shared secret (HS256): no public keys",
            || Error::RouteNotFound,
        )]);
    pub(crate) const LIST_POSTS: OperationDoc =
        doc("posts", "Posts visible to the caller, newest first")
            .response(array::<PostWithVotes>)
            .query(list_params);
    pub(crate) const CREATE_POST: OperationDoc = doc("posts", "Created")
        .request(schema::<PostCreate>)
        .response(schema::<Post>);
    pub(crate) const GET_POST: OperationDoc = doc("posts", "The post")
        .response(schema::<PostWithVotes>)
        .path(&[POST_ID])
        .errors(&[NO_POST]);
    pub(crate) const UPDATE_POST: OperationDoc = doc("posts", "Replaced")
        .request(schema::<PostCreate>)
        .response(schema::<Post>)
        .path(&[POST_ID])
        .errors(&[NOT_OWNER, NO_POST]);
    pub(crate) const DELETE_POST: OperationDoc = doc("posts", "Deleted")
        .path(&[POST_ID])
        .errors(&[NOT_OWNER, NO_POST]);
    pub(crate) const VOTE: OperationDoc = doc("posts", "Vote added or removed")
        .request(schema::<VoteRequest>)
        .response(schema::<Message>)
        .errors(&[
            NO_POST,
            err("No vote to remove", || Error::VoteNotFound),
            err("Already voted", || Error::VoteExists {
                user: UserId(1),
                post: PostId(7),
            }),
        ]);
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Delete => HttpMethod::Delete,
    }
}

/// One operation of the document, from its row of the table.
fn operation(endpoint: &Endpoint, described: &OperationDoc) -> Operation {
    let mut op = OperationBuilder::new()
        .tag(described.tag)
        .operation_id(Some(format!("{:?}", endpoint.operation)));
    if endpoint.auth != Auth::None {
        op = op
            .security(SecurityRequirement::new(BEARER, Vec::<String>::new()))
            .security(SecurityRequirement::new(OAUTH2, Vec::<String>::new()));
    }
    if endpoint.auth == Auth::Optional {
        // The empty requirement: no token at all is fine too.
        op = op.security(SecurityRequirement::default());
    }
    for param in described.path {
        let kind = if param.integer {
            Type::Integer
        } else {
            Type::String
        };
        op = op.parameter(
            ParameterBuilder::new()
                .name(param.name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(param.description))
                .schema(Some(ObjectBuilder::new().schema_type(kind))),
        );
    }
    if let Some(query) = described.query {
        op = op.parameters(Some(query()));
    }
    let json_body = |schema: SchemaFn| ContentBuilder::new().schema(Some(schema())).build();
    match (endpoint.body, described.request) {
        (BodyKind::Login, _) => {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/x-www-form-urlencoded",
                        json_body(schema::<LoginForm>),
                    )
                    .content("application/json", json_body(schema::<LoginRequest>))
                    .build(),
            ));
        }
        (_, Some(request)) => {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", json_body(request))
                    .build(),
            ));
        }
        (_, None) => {}
    }
    let mut success = ResponseBuilder::new().description(described.summary);
    if let Some(response) = described.response {
        success = success.content("application/json", json_body(response));
    }
    op = op.response(endpoint.status.to_string(), success.build());
    for error_doc in described.errors {
        let example = (error_doc.example)();
        op = op.response(
            example.status_code().to_string(),
            error(error_doc.description, &example),
        );
    }
    let mut op = op.build();
    add_common(endpoint, &mut op);
    op
}

/// An error answer: `{"detail": "<message>", "code": "<CODE>"}`.
#[derive(ToSchema)]
#[schema(example = json!({"detail": "Could not validate credentials", "code": "UNAUTHORIZED"}))]
pub struct HttpError {
    /// Human-readable message.
    pub detail: String,
    /// Stable machine-readable code (see the API description for the list).
    pub code: String,
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

/// A 422 answer: `{"detail": [problems], "code": "VALIDATION_ERROR"}`, one
/// entry per offending field.
#[derive(ToSchema)]
#[schema(example = json!({"detail": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}], "code": "VALIDATION_ERROR"}))]
pub struct ValidationError {
    /// Every problem found.
    pub detail: Vec<ValidationErrorItem>,
    /// Always `VALIDATION_ERROR`.
    pub code: String,
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
#[schema(example = json!({
    "status": "ok",
    "database": "postgres",
    "checks": {
        "database": {"status": "ok", "latency_ms": 1.2},
        "redis": {"status": "ok", "latency_ms": 0.4}
    }
}))]
pub struct Health {
    /// `"ok"`, or `"error"` (with status 503) when a check failed.
    pub status: String,
    /// The storage backend (`sqlite`, `postgres`, `mysql`).
    pub database: String,
    /// Each dependency's check, by name (`database`, `redis`).
    #[schema(value_type = Object)]
    pub checks: serde_json::Value,
}

/// `GET /health/live` answer.
#[derive(ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Live {
    /// Always `"ok"`.
    pub status: String,
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
    /// Only posts with this tag (trimmed, lower-cased).
    #[param(min_length = 1, max_length = 32)]
    pub tag: Option<String>,
    /// Only posts of the user with this username.
    #[param(pattern = "^[A-Za-z0-9_.-]{3,30}$")]
    pub author: Option<String>,
    /// Only posts the user with this username voted for.
    #[param(pattern = "^[A-Za-z0-9_.-]{3,30}$")]
    pub voted_by: Option<String>,
}

/// The query string of lists without filters (`GET /tags`, comments).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 10)]
    pub limit: Option<i64>,
    /// Rows to skip.
    #[param(minimum = 0, default = 0)]
    pub skip: Option<i64>,
    /// Keyset pagination: only rows past this id, in the list's order
    /// (comments only).
    pub after: Option<i64>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agora",
    ),
    components(schemas(
        UserId, PostId, CommentId, Email, Username, Tag, User, Post, PostWithVotes, Session,
        SessionInfo, Token, Message, Profile, Comment, TagCount, UserCreate, LoginRequest,
        LoginForm, PostCreate, ProfileUpdate, CommentCreate, VoteRequest, RefreshRequest,
        PasswordChange, AccountDeletion, EmailRequest, ResetPasswordRequest, VerifyRequest,
        HttpError, ValidationError, ValidationErrorItem, Health, Live, JwkSet,
    )),
    tags(
        (name = "auth", description = "Login, tokens, sessions, password reset and address verification"),
        (name = "users", description = "Accounts"),
        (name = "posts", description = "Posts, votes, the feed and tags"),
        (name = "comments", description = "Comments on posts"),
        (name = "profiles", description = "Profiles and follows"),
        (name = "meta", description = "Service information"),
    )
)]
struct ApiDoc;

const BEARER: &str = "bearer";
const OAUTH2: &str = "oauth2";

fn add_security_schemes(doc: &mut Document, token_url: &str) {
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
            [Flow::Password(Password::new(token_url, Scopes::new()))],
            "OAuth2 password flow: `POST /login` with `username` and `password`.",
        )),
    );
}

/// Adds the error answers that follow from the endpoint's flags: 401 on
/// authenticated ones, 413 and 422 where a body or parameter is parsed,
/// 429 where attempts are throttled, 503 where the database is used.
fn add_common(endpoint: &Endpoint, op: &mut Operation) {
    let has_input =
        op.request_body.is_some() || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let responses = &mut op.responses.responses;
    let mut add = |description: &str, example: Error| {
        responses
            .entry(example.status_code().to_string())
            .or_insert_with(|| error(description, &example).into());
    };
    if endpoint.auth != Auth::None {
        add(
            "No bearer token (`WWW-Authenticate: Bearer`), or a refused one: malformed, \
             invalid, expired or of an ended session (`WWW-Authenticate: Bearer \
             error=\"invalid_token\"`)",
            Error::InvalidToken,
        );
    }
    if op.request_body.is_some() {
        add("The body is larger than the limit", Error::PayloadTooLarge);
    }
    if has_input {
        add(
            "Invalid input: one entry per offending field",
            Error::invalid(&["body", "email"], "Field required", "missing"),
        );
    }
    if endpoint.throttled {
        add(
            "Too many attempts; retry after `Retry-After` seconds. Endpoints with a named \
             throttling policy (`login`, `login-ip`, `register`, `mail`) also send, for the \
             policy that refused, `RateLimit-Policy: \"<policy>\";q=<limit>;w=<window \
             seconds>` and `RateLimit: \"<policy>\";r=0;t=<seconds>` \
             (draft-ietf-httpapi-ratelimit-headers-12)",
            Error::RateLimited {
                retry_after_secs: 30,
                policy: None,
            },
        );
    }
    if endpoint.storage {
        add(
            "The database is unreachable; retry later",
            Error::unavailable("down"),
        );
    }
}

/// An error answer with `example`'s body.
fn error(description: &str, example: &Error) -> Response {
    let schema = match example {
        Error::Validation(_) => "ValidationError",
        _ => "HttpError",
    };
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .example(Some(example.body()))
                .build(),
        )
        .build()
}

/// The error codes, as listed in the document's description.
fn codes_table() -> String {
    ErrorCode::ALL
        .iter()
        .map(|code| format!("`{code}` ({})", code.kind().status_code()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_documented_endpoint_is_in_the_document_once() {
        let documented = ENDPOINTS.iter().filter(|e| e.doc.is_some()).count();
        assert_eq!(operations().len(), documented);
        assert!(operations().contains(&("GET".to_owned(), "/posts/{id}".to_owned())));
        assert!(
            !operations()
                .iter()
                .any(|(_, path)| path.starts_with("/docs"))
        );
    }

    #[test]
    fn a_mounted_document_names_its_base_as_server_and_token_url() {
        let root = serde_json::to_value(document()).unwrap();
        assert!(root.get("servers").is_none());
        let token_url = |doc: &serde_json::Value| {
            doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"].clone()
        };
        assert_eq!(token_url(&root), json!("/login"));
        assert_eq!(root, serde_json::to_value(document_at("/")).unwrap());
        for base in ["/api", "/api/", "/v1/agora"] {
            let doc = serde_json::to_value(document_at(base)).unwrap();
            let trimmed = base.trim_end_matches('/');
            assert_eq!(doc["servers"], json!([{"url": trimmed}]), "{base}");
            assert_eq!(token_url(&doc), json!(format!("{trimmed}/login")), "{base}");
            assert_eq!(
                doc["paths"], root["paths"],
                "paths stay relative to the server"
            );
        }
    }

    #[test]
    fn the_description_lists_every_error_code() {
        let description = document().info.description.unwrap_or_default();
        for code in ErrorCode::ALL {
            assert!(description.contains(code.as_str()), "{code}");
        }
    }

    #[test]
    fn error_examples_carry_their_code() {
        let doc = serde_json::to_value(document()).unwrap();
        let example = &doc["paths"]["/posts/{id}"]["get"]["responses"]["404"]["content"]["application/json"]
            ["example"];
        assert_eq!(
            example,
            &json!({"detail": "post with id: 7 was not found", "code": "POST_NOT_FOUND"})
        );
    }
}
