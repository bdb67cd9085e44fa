//! Root, health, unknown routes and trailing slashes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{
    Body, PASSWORD, check_post, check_post_out, check_token_response, check_user, form, ids,
};
use crate::util::{unique_email, unique_marker};
use crate::{CaseResult, Ctx};

pub(crate) async fn root_returns_message(ctx: Ctx) -> CaseResult {
    let body = ctx.get("/", None).await?.expect(200)?;
    ensure!(
        body.get("message").is_some_and(Value::is_string),
        "GET /: expected {{\"message\": <string>}}, got {body}"
    );
    Ok(())
}

pub(crate) async fn health_returns_200_json(ctx: Ctx) -> CaseResult {
    let body = ctx.get("/health", None).await?.expect(200)?;
    ensure_eq!(body["status"], json!("ok"), "GET /health status");
    ensure!(
        body["database"].is_string(),
        "GET /health: expected the backend's name as \"database\", got {body}"
    );
    let database = &body["checks"]["database"];
    ensure_eq!(
        database["status"],
        json!("ok"),
        "GET /health database check"
    );
    ensure!(
        database["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "GET /health: expected the database check's latency_ms, got {body}"
    );
    let live = ctx.get("/health/live", None).await?.expect(200)?;
    ensure_eq!(live, json!({"status": "ok"}), "GET /health/live");
    Ok(())
}

pub(crate) async fn unknown_route_is_404_not_found(ctx: Ctx) -> CaseResult {
    ctx.get("/no-such-route", None)
        .await?
        .expect_exact_detail(404, "Not Found")?;
    let path = format!("/no-such-route-{}/deeper", unique_marker());
    ctx.get(&path, None)
        .await?
        .expect_exact_detail(404, "Not Found")
}

pub(crate) async fn trailing_slash_user_and_login_routes_work(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let created = ctx
        .post_json(
            "/users/",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await?
        .expect(201)?;
    let id = check_user(&created)?;

    let fetched = ctx.get(&format!("/users/{id}/"), None).await?.expect(200)?;
    ensure_eq!(fetched, created, "GET /users/{{id}}/ body");

    let login = ctx
        .send(
            Method::POST,
            "/login/",
            None,
            form(&[("username", &email), ("password", PASSWORD)]),
        )
        .await?
        .expect(200)?;
    let token = check_token_response(&login)?;

    let me = ctx.get("/users/me/", Some(&token)).await?.expect(200)?;
    ensure_eq!(me, created, "GET /users/me/ body");
    Ok(())
}

pub(crate) async fn trailing_slash_post_routes_work(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let marker = unique_marker();
    let tok = Some(user.token.as_str());

    let post = ctx
        .post_json(
            "/posts/",
            tok,
            json!({"title": format!("slash {marker}"), "content": "c", "published": true}),
        )
        .await?
        .expect(201)?;
    let id = check_post(&post)?;

    let list = ctx
        .get(&format!("/posts/?search={marker}"), tok)
        .await?
        .expect(200)?;
    let list = list
        .as_array()
        .ok_or_else(|| format!("GET /posts/: expected an array, got {list}"))?;
    ensure_eq!(ids(list), vec![id], "GET /posts/?search=<marker> ids");

    let out = ctx.get(&format!("/posts/{id}/"), tok).await?.expect(200)?;
    ensure_eq!(check_post_out(&out)?, id, "GET /posts/{{id}}/ id");

    let updated = ctx
        .put_json(
            &format!("/posts/{id}/"),
            tok,
            json!({"title": format!("slash2 {marker}"), "content": "c2", "published": true}),
        )
        .await?
        .expect(200)?;
    check_post(&updated)?;
    ensure_eq!(
        updated["content"],
        json!("c2"),
        "PUT /posts/{{id}}/ content"
    );

    ctx.delete(&format!("/posts/{id}/"), tok)
        .await?
        .expect(204)?;
    ctx.get(&format!("/posts/{id}"), tok)
        .await?
        .expect_detail(404)?;
    Ok(())
}

pub(crate) async fn trailing_slash_vote_and_health_routes_work(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let post = ctx
        .create_post(&user, &format!("vote slash {}", unique_marker()), true)
        .await?;
    let id = check_post(&post)?;
    let voted = ctx
        .post_json(
            "/vote/",
            Some(&user.token),
            json!({"post_id": id, "dir": 1}),
        )
        .await?
        .expect(201)?;
    ensure!(
        voted.get("message").is_some_and(Value::is_string),
        "POST /vote/: expected {{\"message\": <string>}}, got {voted}"
    );
    ensure_eq!(
        ctx.votes_of(&user.token, id).await?,
        1,
        "votes after POST /vote/"
    );

    ctx.send(Method::GET, "/health/", None, Body::Empty)
        .await?
        .expect(200)?;
    Ok(())
}
