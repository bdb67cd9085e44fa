//! The routes of the original API. Each handler: extract, call core, map.

use agora_core::schema::{ListQuery, Message, PostCreate, UserCreate, VoteRequest, parse_login};
use agora_core::{Agora, Error, Post, PostWithVotes, User};
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use serde_json::json;
use tower_http::trace::TraceLayer;

use crate::ApiError;
use crate::extract::{AuthUser, IdParam, JsonBody, RawBody};

type ApiResult<T> = Result<T, ApiError>;

/// Agora's routes, ready to `merge` or `nest` into your app. Every route also
/// answers with a trailing slash; unknown routes get a JSON 404 and bodies
/// over [`Agora::body_limit`] a 413.
pub fn router(agora: Agora) -> Router {
    let body_limit = agora.body_limit();
    let routes = [
        ("/health", get(health)),
        ("/users", post(create_user)),
        ("/users/me", get(me)),
        ("/users/{id}", get(get_user)),
        ("/login", post(login)),
        ("/posts", get(list_posts).post(create_post)),
        (
            "/posts/{id}",
            get(get_post).put(update_post).delete(delete_post),
        ),
        ("/vote", post(vote)),
    ];
    routes
        .into_iter()
        .fold(
            Router::new().route("/", get(root)),
            |router, (path, route)| with_trailing_slash(router, path, route),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .with_state(agora)
}

fn with_trailing_slash(
    router: Router<Agora>,
    path: &str,
    route: MethodRouter<Agora>,
) -> Router<Agora> {
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
    JsonBody(body): JsonBody<UserCreate>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(agora.register(body).await?)))
}

async fn me(AuthUser(user): AuthUser) -> Json<User> {
    Json(user)
}

async fn get_user(State(agora): State<Agora>, IdParam(id): IdParam) -> ApiResult<Json<User>> {
    Ok(Json(agora.get_user(id).await?))
}

async fn login(
    State(agora): State<Agora>,
    body: RawBody,
) -> ApiResult<Json<agora_core::schema::Token>> {
    let request = parse_login(body.content_type.as_deref(), &body.bytes)?;
    Ok(Json(agora.login(request).await?))
}

async fn list_posts(
    State(agora): State<Agora>,
    AuthUser(user): AuthUser,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Vec<PostWithVotes>>> {
    let query = ListQuery::parse(query.as_deref())?;
    Ok(Json(agora.list_posts(&user, query).await?))
}

async fn create_post(
    State(agora): State<Agora>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<PostCreate>,
) -> ApiResult<(StatusCode, Json<Post>)> {
    Ok((
        StatusCode::CREATED,
        Json(agora.create_post(&user, body).await?),
    ))
}

async fn get_post(
    State(agora): State<Agora>,
    AuthUser(user): AuthUser,
    IdParam(id): IdParam,
) -> ApiResult<Json<PostWithVotes>> {
    Ok(Json(agora.get_post(&user, id).await?))
}

async fn update_post(
    State(agora): State<Agora>,
    AuthUser(user): AuthUser,
    IdParam(id): IdParam,
    JsonBody(body): JsonBody<PostCreate>,
) -> ApiResult<Json<Post>> {
    Ok(Json(agora.update_post(&user, id, body).await?))
}

async fn delete_post(
    State(agora): State<Agora>,
    AuthUser(user): AuthUser,
    IdParam(id): IdParam,
) -> ApiResult<StatusCode> {
    agora.delete_post(&user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn vote(
    State(agora): State<Agora>,
    AuthUser(user): AuthUser,
    JsonBody(body): JsonBody<VoteRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let outcome = agora.vote(&user, body).await?;
    Ok((StatusCode::CREATED, Json(outcome.message())))
}
