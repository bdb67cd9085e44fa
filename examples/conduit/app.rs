//! The RealWorld ("Conduit") API as a thin translation over [`Agora`]'s
//! services: handlers only map wire formats; every rule is core's. The
//! translation's choices (slugs, `articlesCount`, ...) are in `examples/README.md`.

use std::collections::HashMap;
use std::convert::Infallible;

use agora_axum::Client;
use agora_core::domain::{Caller, Comment, CommentId, Email, PostId, User};
use agora_core::schema::{
    CommentCreate, ListQuery, LoginRequest, PostCreate, ProfileUpdate, UserCreate, VoteRequest,
    parse_json, parse_path_id,
};
use agora_core::{Agora, Error, ErrorKind, FieldError, Post, PostWithVotes};
use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Conduit's default page size for article lists.
pub const DEFAULT_LIMIT: i64 = 20;
/// Page size used to read all comments of an article and the tags (core's largest page).
const PAGE_MAX: u32 = agora_core::schema::LIST_LIMIT_MAX;

/// The Conduit API under `/api`, with Conduit-shaped 404 and 405 answers.
pub fn router(agora: Agora) -> Router {
    let api = Router::new()
        .route("/users", post(register))
        .route("/users/login", post(login))
        .route("/user", get(current_user).put(update_user))
        .route("/profiles/{username}", get(profile))
        .route("/profiles/{username}/follow", post(follow).delete(follow))
        .route("/articles", get(list_articles).post(create_article))
        .route("/articles/feed", get(feed))
        .route(
            "/articles/{slug}",
            get(get_article).put(update_article).delete(delete_article),
        )
        .route("/articles/{slug}/favorite", post(favorite).delete(favorite))
        .route("/articles/{slug}/comments", get(comments).post(add_comment))
        .route(
            "/articles/{slug}/comments/{id}",
            axum::routing::delete(delete_comment),
        )
        .route("/tags", get(tags))
        .method_not_allowed_fallback(async || {
            refuse(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
        });
    Router::new()
        .nest("/api", api)
        .fallback(async || refuse(StatusCode::NOT_FOUND, "Not Found"))
        .with_state(agora)
}

/// An error in Conduit's shape, `{"errors": {"body": ["..."]}}`.
#[derive(Debug)]
pub enum ApiError {
    /// An error of core's, with its status, except: conflicts (taken email
    /// or username) are 422 as Conduit wants, and wrong credentials 401.
    Core(Error),
    /// A refusal of the translation itself (a slug without an id, a Conduit
    /// field core cannot honour), with its status.
    Conduit(StatusCode, String),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Core(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, messages, headers) = match self {
            ApiError::Core(e) => {
                e.log_if_server_error();
                let status = match &e {
                    Error::InvalidCredentials => 401,
                    e if e.kind() == ErrorKind::Conflict => 422,
                    e => e.status_code(),
                };
                let messages = match &e {
                    Error::Validation(fields) => fields.iter().map(field_message).collect(),
                    // Fixed text for 5xx errors (core's `detail`).
                    other => vec![other.detail()],
                };
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                (status, messages, e.headers())
            }
            ApiError::Conduit(status, message) => (status, vec![message], Vec::new()),
        };
        let mut response = (status, Json(json!({"errors": {"body": messages}}))).into_response();
        for (name, value) in headers {
            // Conduit's scheme is `Token` (`Bearer` is accepted too).
            let value = if name == "www-authenticate" {
                "Token".to_owned()
            } else {
                value
            };
            if let Ok(value) = HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
        }
        response
    }
}

/// `"field: message"` with Conduit's field names: the location's first part
/// (`body`, `query`, `path`) and envelope (`user`, `article`, `comment`)
/// dropped, core's names translated back (`content` is `body`, ...).
fn field_message(error: &FieldError) -> String {
    let mut loc = error.loc.as_slice();
    if let [first, rest @ ..] = loc
        && matches!(first.as_str(), "body" | "query" | "path")
    {
        loc = rest;
    }
    if let [first, rest @ ..] = loc
        && !rest.is_empty()
        && matches!(first.as_str(), "user" | "article" | "comment")
    {
        loc = rest;
    }
    let names: Vec<&str> = loc
        .iter()
        .map(|part| match part.as_str() {
            "content" => "body",
            "tags" => "tagList",
            "skip" => "offset",
            "voted_by" => "favorited",
            other => other,
        })
        .collect();
    if names.is_empty() {
        error.msg.clone()
    } else {
        format!("{}: {}", names.join("."), error.msg)
    }
}

fn refuse(status: StatusCode, message: &str) -> ApiError {
    ApiError::Conduit(status, message.to_owned())
}

type Answer = Result<Response, ApiError>;

fn ok(body: Value) -> Answer {
    Ok(Json(body).into_response())
}

fn created(body: Value) -> Answer {
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What every handler needs: the services and the request's headers.
struct Ctx {
    agora: Agora,
    headers: HeaderMap,
}

impl FromRequestParts<Agora> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, agora: &Agora) -> Result<Self, Infallible> {
        let (agora, headers) = (agora.clone(), parts.headers.clone());
        Ok(Ctx { agora, headers })
    }
}

impl Ctx {
    /// The token of `Authorization: Token <jwt>` (or `Bearer <jwt>`);
    /// `None` without the header, 401 for anything else.
    fn token(&self) -> Result<Option<&str>, Error> {
        let Some(value) = self.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value.to_str().map_err(|_| Error::Unauthorized)?;
        let (scheme, token) = value.split_once(' ').ok_or(Error::Unauthorized)?;
        let token = token.trim();
        let known = ["token", "bearer"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s));
        if !known || token.is_empty() {
            return Err(Error::Unauthorized);
        }
        Ok(Some(token))
    }

    /// The authenticated caller and their token (endpoints that need one).
    async fn caller(&self) -> Result<(Caller, String), Error> {
        let token = self.token()?.ok_or(Error::Unauthorized)?;
        Ok((self.agora.authenticate(token).await?, token.to_owned()))
    }

    /// The viewer where authentication is optional: `None` without a
    /// token; a token given must be valid.
    async fn viewer(&self) -> Result<Option<Caller>, Error> {
        match self.token()? {
            Some(token) => Ok(Some(self.agora.authenticate(token).await?)),
            None => Ok(None),
        }
    }

    /// A JSON body, read up to core's body limit and parsed by core's rules.
    async fn json<T: DeserializeOwned>(&self, body: Body) -> Result<T, Error> {
        let bytes = to_bytes(body, self.agora.body_limit())
            .await
            .map_err(|_| Error::PayloadTooLarge)?;
        let content_type = self.headers.get(header::CONTENT_TYPE);
        parse_json(content_type.and_then(|v| v.to_str().ok()), &bytes)
    }
}

/// Query parameters; an empty value is the same as an absent one.
type Params = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn params(raw: Params) -> Result<HashMap<String, String>, Error> {
    let Query(mut map) =
        raw.map_err(|_| Error::invalid(&["query"], "Malformed query string", "query_invalid"))?;
    map.retain(|_, v| !v.is_empty());
    Ok(map)
}

/// Conduit's `limit` (default 20) and `offset` (default 0) as core's query.
fn list_query(params: &HashMap<String, String>) -> Result<ListQuery, Error> {
    let int = |name: &'static str, default: i64| match params.get(name) {
        None => Ok(default),
        Some(v) => v.parse::<i64>().map_err(|_| {
            let msg = "Input should be a valid integer, unable to parse string as an integer";
            Error::invalid(&["query", name], msg, "int_parsing")
        }),
    };
    let (limit, offset) = (int("limit", DEFAULT_LIMIT), int("offset", 0));
    ListQuery::new(limit?, offset?, None, String::new())
}

/// Posts as core lists them: the caller's feed, or all the viewer can see.
async fn posts(
    agora: &Agora,
    viewer: Option<&Caller>,
    feed: bool,
    query: ListQuery,
) -> Result<Vec<PostWithVotes>, Error> {
    match viewer {
        Some(caller) if feed => agora.feed(caller, query).await,
        _ => agora.list_posts(viewer, query).await,
    }
}

/// `{"articles": [...], "articlesCount": n}`, list items without `body` as
/// in the spec. Core has no total count: `articlesCount` is `offset + page
/// length`, plus one when a further post exists (asked for with a one-post
/// query after a full page), so a pager built on it shows a next page
/// exactly when there is one.
async fn articles(agora: &Agora, viewer: Option<&Caller>, feed: bool, query: ListQuery) -> Answer {
    let (limit, skip) = (query.limit, query.skip);
    let page = posts(agora, viewer, feed, query.clone()).await?;
    let mut count = skip + page.len() as u64;
    if page.len() as u64 == u64::from(limit) {
        let next = ListQuery {
            limit: 1,
            skip: skip + u64::from(limit),
            ..query
        };
        count += posts(agora, viewer, feed, next).await?.len() as u64;
    }
    let authors = authors(agora, viewer, page.iter().map(|p| &p.post.owner)).await?;
    let author = |p: &PostWithVotes| authors.get(&p.post.owner.id.0).cloned().unwrap_or_default();
    let list: Vec<Value> = page.iter().map(|p| article(p, author(p), false)).collect();
    ok(json!({"articles": list, "articlesCount": count}))
}

/// A user's Conduit name: their username, or `~<id>` for a user registered
/// through Agora's native API without one (not a valid username, so it
/// names nobody else; its profile is 404).
fn name_of(user: &User) -> String {
    match &user.username {
        Some(name) => name.to_string(),
        None => format!("~{}", user.id),
    }
}

fn user_answer(user: &User, token: &str) -> Value {
    json!({"user": {
        "email": user.email.as_ref().map(Email::as_str),
        "token": token,
        "username": name_of(user),
        "bio": user.bio,
        "image": user.image,
    }})
}

/// A user's profile with `following: false` (anonymous viewers, oneself,
/// users without a username).
fn plain_profile(user: &User) -> Value {
    json!({"username": name_of(user), "bio": user.bio, "image": user.image, "following": false})
}

/// The authors of a page as profiles, by user id: `following` comes from
/// core's `profile` (one call per distinct author, for a signed-in viewer).
async fn authors<'u>(
    agora: &Agora,
    viewer: Option<&Caller>,
    users: impl Iterator<Item = &'u User>,
) -> Result<HashMap<i64, Value>, Error> {
    let mut profiles = HashMap::new();
    for user in users {
        if profiles.contains_key(&user.id.0) {
            continue;
        }
        let fallback = plain_profile(user);
        let profile = match (viewer, &user.username) {
            (Some(viewer), Some(name)) => match agora.profile(viewer, name.as_str()).await {
                Ok(profile) => json!(profile),
                // Renamed or deleted since the page was read.
                Err(Error::ProfileNotFound(_)) => fallback,
                Err(e) => return Err(e),
            },
            _ => fallback,
        };
        profiles.insert(user.id.0, profile);
    }
    Ok(profiles)
}

/// `2026-01-01T12:00:00.000Z`.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `<slugified title>-<id>`: the title's ASCII letters and digits,
/// lower-cased, other runs of characters as one `-`. Only the id counts
/// when a slug is resolved.
pub fn slug(post: &Post) -> String {
    let mut slug = String::new();
    for c in post.title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let words = slug.trim_end_matches('-');
    let words = if words.is_empty() { "article" } else { words };
    format!("{words}-{}", post.id)
}

/// The post a slug names: the number after its last `-` (or the whole
/// slug); 404 when there is none.
fn post_id(slug: &str) -> Result<PostId, ApiError> {
    let digits = slug.rsplit('-').next().unwrap_or(slug);
    match digits.parse::<i64>() {
        Ok(id) if id > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(PostId(id)),
        _ => Err(refuse(
            StatusCode::NOT_FOUND,
            &format!("No article with slug: {slug}"),
        )),
    }
}

fn article(post: &PostWithVotes, author: Value, with_body: bool) -> Value {
    let p = &post.post;
    let mut article = json!({
        "slug": slug(p),
        "title": p.title,
        "description": p.description.as_deref().unwrap_or(""),
        "tagList": p.tags,
        "createdAt": timestamp(p.created_at),
        "updatedAt": timestamp(p.updated_at.unwrap_or(p.created_at)),
        "favorited": post.voted,
        "favoritesCount": post.votes,
        "author": author,
    });
    if with_body {
        article["body"] = json!(p.content);
    }
    article
}

/// `{"article": ...}` for one post, as `viewer` sees it.
async fn one_article(agora: &Agora, viewer: Option<&Caller>, id: PostId) -> Answer {
    let post = agora.get_post(viewer, id).await?;
    let mut authors = authors(agora, viewer, std::iter::once(&post.post.owner)).await?;
    let author = authors.remove(&post.post.owner.id.0).unwrap_or_default();
    ok(json!({"article": article(&post, author, true)}))
}

#[derive(Deserialize)]
struct UserEnvelope<T> {
    user: T,
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct UserChange {
    email: Option<String>,
    password: Option<String>,
    #[serde(flatten)]
    profile: ProfileUpdate,
}

#[derive(Deserialize)]
struct ArticleEnvelope<T> {
    article: T,
}

#[derive(Deserialize)]
struct NewArticle {
    title: String,
    body: String,
    description: Option<String>,
    #[serde(rename = "tagList")]
    tag_list: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ArticleChange {
    title: Option<String>,
    body: Option<String>,
    description: Option<String>,
    #[serde(rename = "tagList")]
    tag_list: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct CommentEnvelope {
    comment: CommentCreate,
}

/// `POST /users`: core's `register`, then `login` for the token.
async fn register(ctx: Ctx, Client(client): Client, body: Body) -> Answer {
    let UserEnvelope::<NewUser> { user } = ctx.json(body).await?;
    let (email, password) = (user.email, user.password);
    let request = UserCreate {
        email: email.clone(),
        password: password.clone(),
        username: Some(user.username),
    };
    let registered = ctx.agora.register(request, &client).await?;
    let token = ctx
        .agora
        .login(LoginRequest { email, password }, &client)
        .await?;
    created(user_answer(&registered, &token.access_token))
}

/// `POST /users/login`: core's `login`, then `authenticate` for the user.
async fn login(ctx: Ctx, Client(client): Client, body: Body) -> Answer {
    let UserEnvelope::<LoginRequest> { user } = ctx.json(body).await?;
    let token = ctx.agora.login(user, &client).await?;
    let caller = ctx.agora.authenticate(&token.access_token).await?;
    ok(user_answer(caller.user(), &token.access_token))
}

async fn current_user(ctx: Ctx) -> Answer {
    let (caller, token) = ctx.caller().await?;
    ok(user_answer(caller.user(), &token))
}

/// `PUT /user`: username, bio and image through core's `update_profile`.
/// Core has no email change and changes passwords only with the current
/// one: an unchanged email is accepted, a new one or a password is 422.
async fn update_user(ctx: Ctx, body: Body) -> Answer {
    let (caller, token) = ctx.caller().await?;
    let UserEnvelope::<UserChange> { user } = ctx.json(body).await?;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    if let Some(email) = user.email.filter(|e| !e.is_empty())
        && Email::parse(&email).ok().as_ref() != caller.user().email.as_ref()
    {
        let message = "email: cannot be changed (Agora has no email change)";
        return Err(refuse(unprocessable, message));
    }
    if user.password.is_some_and(|p| !p.is_empty()) {
        return Err(refuse(
            unprocessable,
            "password: cannot be changed here: Agora changes a password only with the current \
             one (PUT /users/me/password of its native API)",
        ));
    }
    let updated = ctx.agora.update_profile(&caller, user.profile).await?;
    ok(user_answer(&updated, &token))
}

async fn profile(ctx: Ctx, Path(username): Path<String>) -> Answer {
    let viewer = ctx.viewer().await?;
    let profile = ctx.agora.profile(viewer.as_ref(), &username).await?;
    ok(json!({"profile": profile}))
}

async fn follow(ctx: Ctx, Path(username): Path<String>, method: Method) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let profile = if method == Method::DELETE {
        ctx.agora.unfollow(&caller, &username).await?
    } else {
        ctx.agora.follow(&caller, &username).await?
    };
    ok(json!({"profile": profile}))
}

/// `GET /articles?tag=&author=&favorited=&limit=&offset=`.
async fn list_articles(ctx: Ctx, raw: Params) -> Answer {
    let viewer = ctx.viewer().await?;
    let params = params(raw)?;
    let get = |name: &str| params.get(name).map(String::as_str);
    let query = ListQuery::filtered(
        list_query(&params),
        get("tag"),
        get("author"),
        get("favorited"),
    )?;
    articles(&ctx.agora, viewer.as_ref(), false, query).await
}

async fn feed(ctx: Ctx, raw: Params) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let query = list_query(&params(raw)?)?;
    articles(&ctx.agora, Some(&caller), true, query).await
}

async fn get_article(ctx: Ctx, Path(slug): Path<String>) -> Answer {
    let viewer = ctx.viewer().await?;
    one_article(&ctx.agora, viewer.as_ref(), post_id(&slug)?).await
}

async fn create_article(ctx: Ctx, body: Body) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let ArticleEnvelope::<NewArticle> { article: new } = ctx.json(body).await?;
    let request = PostCreate {
        title: new.title,
        content: new.body,
        published: true,
        description: new.description,
        tags: new.tag_list,
    };
    let post = ctx.agora.create_post(&caller, request).await?;
    let fresh = PostWithVotes {
        post,
        votes: 0,
        voted: false,
    };
    let author = plain_profile(caller.user());
    created(json!({"article": article(&fresh, author, true)}))
}

/// `PUT /articles/{slug}`: Conduit's update is partial, core's is whole:
/// the fields given are merged into the article as it is (core's `None`
/// keeps description and tags).
async fn update_article(ctx: Ctx, Path(slug): Path<String>, body: Body) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let id = post_id(&slug)?;
    let ArticleEnvelope::<ArticleChange> { article: change } = ctx.json(body).await?;
    let current = ctx.agora.get_post(&caller, id).await?.post;
    let request = PostCreate {
        title: change.title.unwrap_or(current.title),
        content: change.body.unwrap_or(current.content),
        published: current.published,
        description: change.description,
        tags: change.tag_list,
    };
    ctx.agora.update_post(&caller, id, request).await?;
    one_article(&ctx.agora, Some(&caller), id).await
}

async fn delete_article(ctx: Ctx, Path(slug): Path<String>) -> Answer {
    let (caller, _) = ctx.caller().await?;
    ctx.agora.delete_post(&caller, post_id(&slug)?).await?;
    no_content()
}

/// Favoriting is core's vote (`dir` 1, `DELETE`: 0). Conduit's favorite and
/// unfavorite are idempotent: "already voted" and "no vote" are successes.
async fn favorite(ctx: Ctx, Path(slug): Path<String>, method: Method) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let id = post_id(&slug)?;
    let dir = i64::from(method != Method::DELETE);
    let vote = VoteRequest { post_id: id.0, dir };
    match ctx.agora.vote(&caller, vote).await {
        Ok(_) | Err(Error::VoteExists { .. } | Error::VoteNotFound) => {}
        Err(e) => return Err(e.into()),
    }
    one_article(&ctx.agora, Some(&caller), id).await
}

fn comment(c: &Comment, author: Value) -> Value {
    let at = timestamp(c.created_at);
    json!({"id": c.id, "createdAt": at, "updatedAt": at, "body": c.body, "author": author})
}

/// `GET /articles/{slug}/comments`: all of them (Conduit has no paging),
/// oldest first, read from core 100 at a time.
async fn comments(ctx: Ctx, Path(slug): Path<String>) -> Answer {
    let viewer = ctx.viewer().await?;
    let id = post_id(&slug)?;
    let (mut all, mut after) = (Vec::new(), None);
    loop {
        let query = ListQuery::new(i64::from(PAGE_MAX), 0, after, String::new())?;
        let page = ctx.agora.comments(viewer.as_ref(), id, &query).await?;
        let full = page.len() as u64 == u64::from(PAGE_MAX);
        after = page.last().map(|c| c.id.0);
        all.extend(page);
        if !full {
            break;
        }
    }
    let authors = authors(&ctx.agora, viewer.as_ref(), all.iter().map(|c| &c.author)).await?;
    let author = |c: &Comment| authors.get(&c.author.id.0).cloned().unwrap_or_default();
    let list: Vec<Value> = all.iter().map(|c| comment(c, author(c))).collect();
    ok(json!({"comments": list}))
}

async fn add_comment(ctx: Ctx, Path(slug): Path<String>, body: Body) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let id = post_id(&slug)?;
    let CommentEnvelope { comment: request } = ctx.json(body).await?;
    let added = ctx.agora.add_comment(&caller, id, request).await?;
    let author = plain_profile(caller.user());
    ok(json!({"comment": comment(&added, author)}))
}

async fn delete_comment(ctx: Ctx, Path((slug, comment)): Path<(String, String)>) -> Answer {
    let (caller, _) = ctx.caller().await?;
    let id = post_id(&slug)?;
    let comment = CommentId(parse_path_id("id", &comment)?);
    ctx.agora.delete_comment(&caller, id, comment).await?;
    no_content()
}

/// `GET /tags`: the 100 most used tags (core's largest page).
async fn tags(ctx: Ctx) -> Answer {
    let query = ListQuery::new(i64::from(PAGE_MAX), 0, None, String::new())?;
    let tags = ctx.agora.tags(&query).await?.into_iter().map(|t| t.tag);
    ok(json!({"tags": tags.collect::<Vec<_>>()}))
}
