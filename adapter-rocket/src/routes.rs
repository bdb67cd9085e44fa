//! The routes of the original API. Each handler: take the guards' results,
//! call core, map. Guards are taken as `Result`s and checked in the same
//! order as the axum adapter's extractors (credentials, then the path id,
//! then the body), so a request with several problems gets the same answer.
//!
//! Rocket matches `/posts` and `/posts/` alike, because it ignores empty
//! path segments: every route answers with and without a trailing slash,
//! without a redirect. Other empty segments (`//posts`) are a 404, as in
//! axum, by the [`StrictPath`] guard every route takes first.

use agora_core::schema::{
    AccountDeletion, ListQuery, Message, PasswordChange, PostCreate, RefreshRequest, Token,
    UserCreate, VoteRequest, parse_login, parse_path_id,
};
use agora_core::{Agora, User};
use rocket::http::Status;
use rocket::http::uri::Origin;
use rocket::{Route, State, delete, get, post, put};
use serde_json::json;

use crate::error::JsonReply;
use crate::guards::{BearerToken, Client, RawBody, StrictPath};
use crate::{ApiError, AuthUser, JsonBody};

type ApiResult<T = JsonReply> = Result<T, ApiError>;
type Auth = Result<AuthUser, ApiError>;
type Body<T> = Result<JsonBody<T>, ApiError>;
type Bearer = Result<BearerToken, ApiError>;
type Caller = Result<Client, ApiError>;

/// Agora's routes, to mount at any base path; register [`crate::catchers()`]
/// at the same base and manage an [`Agora`] (or call [`crate::mount`]).
/// Every route also answers with a trailing slash; bodies over
/// [`Agora::body_limit`] get a 413. Includes `GET /openapi.json` and the
/// Swagger UI at `GET /docs`.
pub fn routes() -> Vec<Route> {
    let mut routes = api_routes();
    routes.extend(crate::docs::routes());
    routes
}

/// The API routes of [`routes()`], without the documentation routes: what
/// the OpenAPI document must describe. For tests.
#[doc(hidden)]
pub fn api_routes() -> Vec<Route> {
    rocket::routes![
        root,
        health,
        create_user,
        me,
        get_user,
        login,
        refresh,
        logout,
        logout_all,
        list_sessions,
        end_session,
        change_password,
        delete_account,
        jwks,
        list_posts,
        create_post,
        get_post,
        update_post,
        delete_post,
        vote,
    ]
}

/// The `{id}` path segment as an integer (422 at `["path", "id"]` otherwise).
fn path_id(raw: &str) -> Result<i64, ApiError> {
    Ok(parse_path_id("id", raw)?)
}

#[get("/")]
fn root(_path: StrictPath) -> ApiResult {
    JsonReply::ok(&Message::new("Hello World"))
}

#[get("/health")]
async fn health(_path: StrictPath, agora: &State<Agora>) -> ApiResult {
    agora.health().await?;
    JsonReply::ok(&json!({ "status": "ok", "database": agora.backend() }))
}

#[post("/users", data = "<body>")]
async fn create_user(
    _path: StrictPath,
    agora: &State<Agora>,
    client: Caller,
    body: Body<UserCreate>,
) -> ApiResult {
    let client = client?.0;
    let user: User = agora.register(body?.0, &client).await?;
    JsonReply::new(Status::Created, &user)
}

#[get("/users/me")]
fn me(_path: StrictPath, auth: Auth) -> ApiResult {
    JsonReply::ok(&auth?.0)
}

#[get("/users/<id>")]
async fn get_user(_path: StrictPath, agora: &State<Agora>, id: &str) -> ApiResult {
    JsonReply::ok(&agora.get_user(agora_core::UserId(path_id(id)?)).await?)
}

#[post("/login", data = "<body>")]
async fn login(
    _path: StrictPath,
    agora: &State<Agora>,
    client: Caller,
    body: Result<RawBody, ApiError>,
) -> ApiResult {
    let client = client?.0;
    let body = body?;
    let request = parse_login(body.content_type.as_deref(), &body.bytes)?;
    let token: Token = agora.login(request, &client).await?;
    JsonReply::ok(&token)
}

#[post("/token/refresh", data = "<body>")]
async fn refresh(
    _path: StrictPath,
    agora: &State<Agora>,
    client: Caller,
    body: Body<RefreshRequest>,
) -> ApiResult {
    let client = client?.0;
    JsonReply::ok(&agora.refresh(body?.0, &client).await?)
}

#[post("/logout")]
async fn logout(_path: StrictPath, agora: &State<Agora>, token: Bearer) -> ApiResult<Status> {
    agora.logout(&agora.authenticate(&token?.0).await?).await?;
    Ok(Status::NoContent)
}

#[post("/logout/all")]
async fn logout_all(_path: StrictPath, agora: &State<Agora>, token: Bearer) -> ApiResult<Status> {
    agora
        .logout_all(&agora.authenticate(&token?.0).await?)
        .await?;
    Ok(Status::NoContent)
}

#[get("/sessions")]
async fn list_sessions(_path: StrictPath, agora: &State<Agora>, token: Bearer) -> ApiResult {
    JsonReply::ok(
        &agora
            .sessions(&agora.authenticate(&token?.0).await?)
            .await?,
    )
}

#[delete("/sessions/<id>")]
async fn end_session(
    _path: StrictPath,
    agora: &State<Agora>,
    token: Bearer,
    id: &str,
) -> ApiResult<Status> {
    agora
        .end_session(&agora.authenticate(&token?.0).await?, id)
        .await?;
    Ok(Status::NoContent)
}

#[put("/users/me/password", data = "<body>")]
async fn change_password(
    _path: StrictPath,
    agora: &State<Agora>,
    token: Bearer,
    body: Body<PasswordChange>,
) -> ApiResult<Status> {
    let token = token?.0;
    agora
        .change_password(&agora.authenticate(&token).await?, body?.0)
        .await?;
    Ok(Status::NoContent)
}

#[delete("/users/me", data = "<body>")]
async fn delete_account(
    _path: StrictPath,
    agora: &State<Agora>,
    token: Bearer,
    body: Body<AccountDeletion>,
) -> ApiResult<Status> {
    let token = token?.0;
    agora
        .delete_account(&agora.authenticate(&token).await?, body?.0)
        .await?;
    Ok(Status::NoContent)
}

#[get("/.well-known/jwks.json")]
fn jwks(_path: StrictPath, agora: &State<Agora>) -> ApiResult {
    match agora.jwks() {
        Some(keys) => JsonReply::ok(&keys),
        None => Err(ApiError(agora_core::Error::NotFound(
            "Not Found".to_owned(),
        ))),
    }
}

#[get("/posts")]
async fn list_posts(
    _path: StrictPath,
    agora: &State<Agora>,
    auth: Auth,
    uri: &Origin<'_>,
) -> ApiResult {
    let user = agora_core::Caller::acting_for(auth?.0);
    let query = ListQuery::parse(uri.query().map(|q| q.as_str()))?;
    JsonReply::ok(&agora.list_posts(&user, query).await?)
}

#[post("/posts", data = "<body>")]
async fn create_post(
    _path: StrictPath,
    agora: &State<Agora>,
    auth: Auth,
    body: Body<PostCreate>,
) -> ApiResult {
    let user = agora_core::Caller::acting_for(auth?.0);
    let post = agora.create_post(&user, body?.0).await?;
    JsonReply::new(Status::Created, &post)
}

#[get("/posts/<id>")]
async fn get_post(_path: StrictPath, agora: &State<Agora>, auth: Auth, id: &str) -> ApiResult {
    let user = agora_core::Caller::acting_for(auth?.0);
    JsonReply::ok(
        &agora
            .get_post(&user, agora_core::PostId(path_id(id)?))
            .await?,
    )
}

#[put("/posts/<id>", data = "<body>")]
async fn update_post(
    _path: StrictPath,
    agora: &State<Agora>,
    auth: Auth,
    id: &str,
    body: Body<PostCreate>,
) -> ApiResult {
    let user = agora_core::Caller::acting_for(auth?.0);
    let id = path_id(id)?;
    JsonReply::ok(
        &agora
            .update_post(&user, agora_core::PostId(id), body?.0)
            .await?,
    )
}

#[delete("/posts/<id>")]
async fn delete_post(
    _path: StrictPath,
    agora: &State<Agora>,
    auth: Auth,
    id: &str,
) -> ApiResult<Status> {
    let user = agora_core::Caller::acting_for(auth?.0);
    agora
        .delete_post(&user, agora_core::PostId(path_id(id)?))
        .await?;
    Ok(Status::NoContent)
}

#[post("/vote", data = "<body>")]
async fn vote(
    _path: StrictPath,
    agora: &State<Agora>,
    auth: Auth,
    body: Body<VoteRequest>,
) -> ApiResult {
    let user = agora_core::Caller::acting_for(auth?.0);
    let outcome = agora.vote(&user, body?.0).await?;
    JsonReply::new(Status::Created, &outcome.message())
}
