//! The routes of the original API. Each handler: extract, call core, map.

use agora_core::schema::{
    AccountDeletion, ListQuery, Message, PasswordChange, PostCreate, RefreshRequest, SessionInfo,
    Token, UserCreate, VoteRequest, parse_login,
};
use agora_core::{Agora, Error, Post, PostWithVotes, User};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, delete, get, post, put};
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::ApiError;
use crate::extract::{
    AuthUser, Authenticated, BearerToken, Client, IdParam, JsonBody, RawBody, TextId,
};

type ApiResult<T> = Result<T, ApiError>;

/// Agora's routes, ready to `merge` or `nest` into your app. Every route also
/// answers with a trailing slash; unknown routes get a JSON 404 and bodies
/// over [`Agora::body_limit`] a 413.
pub fn router(agora: Agora) -> Router {
    let body_limit = agora.body_limit();
    api_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, route)| {
            with_trailing_slash(router, path, route)
        })
        .merge(crate::docs::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(agora)
}

/// The paths of the API routes [`router`] serves (each also with a trailing
/// slash), besides `/openapi.json` and `/docs`: what the OpenAPI document must
/// describe. For tests.
#[doc(hidden)]
pub fn api_paths() -> Vec<&'static str> {
    api_routes().into_iter().map(|(path, _)| path).collect()
}

fn api_routes() -> Vec<(&'static str, MethodRouter<Agora>)> {
    vec![
        ("/", get(root)),
        ("/health", get(health)),
        ("/users", post(create_user)),
        ("/users/me", get(me).delete(delete_account)),
        ("/users/{id}", get(get_user)),
        ("/users/me/password", put(change_password)),
        ("/login", post(login)),
        ("/token/refresh", post(refresh)),
        ("/logout", post(logout)),
        ("/logout/all", post(logout_all)),
        ("/sessions", get(list_sessions)),
        ("/sessions/{id}", delete(end_session)),
        ("/.well-known/jwks.json", get(jwks)),
        ("/posts", get(list_posts).post(create_post)),
        (
            "/posts/{id}",
            get(get_post).put(update_post).delete(delete_post),
        ),
        ("/vote", post(vote)),
    ]
}

fn with_trailing_slash(
    router: Router<Agora>,
    path: &str,
    route: MethodRouter<Agora>,
) -> Router<Agora> {
    if path == "/" {
        return router.route(path, route);
    }
    router
        .route(path, route.clone())
        .route(&format!("{path}/"), route)
}

async fn not_found() -> ApiError {
    ApiError(Error::NotFound("Not Found".to_owned()))
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "detail": "Method Not Allowed" })),
    )
}

async fn root() -> Json<Message> {
    Json(Message::new("Hello World"))
}

async fn health(State(agora): State<Agora>) -> ApiResult<Json<serde_json::Value>> {
    agora.health().await?;
    Ok(Json(json!({ "status": "ok", "database": agora.backend() })))
}

async fn create_user(
    State(agora): State<Agora>,
    Client(client): Client,
    JsonBody(body): JsonBody<UserCreate>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(agora.register(body, &client).await?),
    ))
}

async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

async fn get_user(State(agora): State<Agora>, IdParam(id): IdParam) -> ApiResult<Json<User>> {
    Ok(Json(agora.get_user(agora_core::UserId(id)).await?))
}

async fn login(
    State(agora): State<Agora>,
    Client(client): Client,
    body: RawBody,
) -> ApiResult<Json<Token>> {
    let request = parse_login(body.content_type.as_deref(), &body.bytes)?;
    Ok(Json(agora.login(request, &client).await?))
}

async fn refresh(
    State(agora): State<Agora>,
    Client(client): Client,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> ApiResult<Json<Token>> {
    Ok(Json(agora.refresh(body, &client).await?))
}

async fn logout(
    State(agora): State<Agora>,
    BearerToken(token): BearerToken,
) -> ApiResult<StatusCode> {
    agora.logout(&agora.authenticate(&token).await?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_all(
    State(agora): State<Agora>,
    BearerToken(token): BearerToken,
) -> ApiResult<StatusCode> {
    agora.logout_all(&agora.authenticate(&token).await?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_sessions(
    State(agora): State<Agora>,
    BearerToken(token): BearerToken,
) -> ApiResult<Json<Vec<SessionInfo>>> {
    Ok(Json(
        agora.sessions(&agora.authenticate(&token).await?).await?,
    ))
}

async fn end_session(
    State(agora): State<Agora>,
    BearerToken(token): BearerToken,
    TextId(id): TextId,
) -> ApiResult<StatusCode> {
    agora
        .end_session(&agora.authenticate(&token).await?, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn change_password(
    State(agora): State<Agora>,
    BearerToken(token): BearerToken,
    JsonBody(body): JsonBody<PasswordChange>,
) -> ApiResult<StatusCode> {
    agora
        .change_password(&agora.authenticate(&token).await?, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_account(
    State(agora): State<Agora>,
    BearerToken(token): BearerToken,
    JsonBody(body): JsonBody<AccountDeletion>,
) -> ApiResult<StatusCode> {
    agora
        .delete_account(&agora.authenticate(&token).await?, body)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn jwks(State(agora): State<Agora>) -> ApiResult<Json<serde_json::Value>> {
    agora
        .jwks()
        .map(Json)
        .ok_or_else(|| ApiError(Error::NotFound("Not Found".to_owned())))
}

async fn list_posts(
    State(agora): State<Agora>,
    Authenticated(user): Authenticated,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Vec<PostWithVotes>>> {
    let query = ListQuery::parse(query.as_deref())?;
    Ok(Json(agora.list_posts(&user, query).await?))
}

async fn create_post(
    State(agora): State<Agora>,
    Authenticated(user): Authenticated,
    JsonBody(body): JsonBody<PostCreate>,
) -> ApiResult<(StatusCode, Json<Post>)> {
    Ok((
        StatusCode::CREATED,
        Json(agora.create_post(&user, body).await?),
    ))
}

async fn get_post(
    State(agora): State<Agora>,
    Authenticated(user): Authenticated,
    IdParam(id): IdParam,
) -> ApiResult<Json<PostWithVotes>> {
    Ok(Json(agora.get_post(&user, agora_core::PostId(id)).await?))
}

async fn update_post(
    State(agora): State<Agora>,
    Authenticated(user): Authenticated,
    IdParam(id): IdParam,
    JsonBody(body): JsonBody<PostCreate>,
) -> ApiResult<Json<Post>> {
    Ok(Json(
        agora
            .update_post(&user, agora_core::PostId(id), body)
            .await?,
    ))
}

async fn delete_post(
    State(agora): State<Agora>,
    Authenticated(user): Authenticated,
    IdParam(id): IdParam,
) -> ApiResult<StatusCode> {
    agora.delete_post(&user, agora_core::PostId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn vote(
    State(agora): State<Agora>,
    Authenticated(user): Authenticated,
    JsonBody(body): JsonBody<VoteRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let outcome = agora.vote(&user, body).await?;
    Ok((StatusCode::CREATED, Json(outcome.message())))
}
