//! Missing, malformed and forged credentials.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Body, check_user};
use crate::util::{jwt_parts, jwt_segment, unique_marker};
use crate::{CaseResult, Ctx};

/// Asserts that `GET /users/me` with the raw `Authorization` value is the
/// contract's 401.
async fn me_with_header_is_401(ctx: &Ctx, header: &str, label: &str) -> CaseResult {
    ctx.send(Method::GET, "/users/me", Some(header), Body::Empty)
        .await?
        .expect_401()
        .map_err(|e| format!("{label}: {e}"))
}

/// Asserts that `GET /posts` with the raw `Authorization` value is the
/// contract's 401 as well, so that posts routes share the guard.
async fn posts_with_header_is_401(ctx: &Ctx, header: &str, label: &str) -> CaseResult {
    ctx.send(Method::GET, "/posts", Some(header), Body::Empty)
        .await?
        .expect_401()
        .map_err(|e| format!("{label} on GET /posts: {e}"))
}

pub(crate) async fn missing_token_is_401_on_every_protected_route(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let post = ctx
        .create_post(&user, &format!("auth {}", unique_marker()), true)
        .await?;
    let id = post["id"].as_i64().unwrap_or_default();
    let body = json!({"title": "t", "content": "c", "published": true});

    ctx.get("/users/me", None).await?.expect_401()?;
    ctx.get("/posts", None).await?.expect_401()?;
    ctx.post_json("/posts", None, body.clone())
        .await?
        .expect_401()?;
    ctx.get(&format!("/posts/{id}"), None).await?.expect_401()?;
    ctx.put_json(&format!("/posts/{id}"), None, body)
        .await?
        .expect_401()?;
    ctx.delete(&format!("/posts/{id}"), None)
        .await?
        .expect_401()?;
    ctx.post_json("/vote", None, json!({"post_id": id, "dir": 1}))
        .await?
        .expect_401()?;

    // Nothing happened to the post.
    let out = ctx.get_post(&user.token, id).await?;
    ensure_eq!(out["Post"]["title"], post["title"], "title after 401s");
    ensure_eq!(out["votes"], json!(0), "votes after 401s");
    Ok(())
}

pub(crate) async fn malformed_authorization_headers_are_401(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let token = &user.token;
    let headers = [
        ("Bearer abc".to_owned(), "Bearer abc"),
        ("Basic xyz".to_owned(), "Basic xyz"),
        (token.clone(), "token without the Bearer scheme"),
        (
            format!("Basic {token}"),
            "valid token with the Basic scheme",
        ),
        (
            format!("Token {token}"),
            "valid token with the Token scheme",
        ),
        ("Bearer".to_owned(), "Bearer without a token"),
        ("Bearer a.b.c".to_owned(), "Bearer a.b.c"),
        ("".to_owned(), "empty header"),
    ];
    for (header, label) in &headers {
        me_with_header_is_401(&ctx, header, label).await?;
    }
    posts_with_header_is_401(&ctx, "Bearer abc", "Bearer abc").await?;
    // The real token still works.
    let me = ctx.get("/users/me", Some(token)).await?.expect(200)?;
    ensure_eq!(
        check_user(&me)?,
        user.id,
        "GET /users/me with the valid token"
    );
    Ok(())
}

pub(crate) async fn lowercase_bearer_scheme_is_accepted(ctx: Ctx) -> CaseResult {
    // The scheme is case-insensitive (RFC 7235, and FastAPI's
    // OAuth2PasswordBearer): clients send `<token_type> <token>`, and
    // token_type is "bearer".
    let user = ctx.new_user().await?;
    let header = format!("bearer {}", user.token);
    let me = ctx
        .send(Method::GET, "/users/me", Some(&header), Body::Empty)
        .await?
        .expect(200)?;
    ensure_eq!(
        check_user(&me)?,
        user.id,
        "GET /users/me with scheme \"bearer\""
    );
    Ok(())
}

pub(crate) async fn tampered_token_is_401(ctx: Ctx) -> CaseResult {
    let victim = ctx.new_user().await?;
    let attacker = ctx.new_user().await?;
    let jwt = jwt_parts(&attacker.token)?;

    // Claim to be the victim, keeping the attacker's signature.
    let mut payload = jwt.payload.clone();
    payload["user_id"] = json!(victim.id);
    payload["sub"] = Value::from(victim.id.to_string());
    let forged = format!(
        "{}.{}.{}",
        jwt.header_b64,
        jwt_segment(&payload),
        jwt.signature_b64
    );
    me_with_header_is_401(
        &ctx,
        &format!("Bearer {forged}"),
        "payload with another user id",
    )
    .await?;
    posts_with_header_is_401(
        &ctx,
        &format!("Bearer {forged}"),
        "payload with another user id",
    )
    .await?;

    // Extend the expiry, keeping the signature.
    let mut payload = jwt.payload.clone();
    let exp = payload["exp"].as_i64().unwrap_or(0);
    payload["exp"] = json!(exp + 365 * 24 * 3600);
    let forged = format!(
        "{}.{}.{}",
        jwt.header_b64,
        jwt_segment(&payload),
        jwt.signature_b64
    );
    me_with_header_is_401(
        &ctx,
        &format!("Bearer {forged}"),
        "payload with a later exp",
    )
    .await?;

    // Change the signature's first character (the last one may only carry
    // padding bits).
    let mut signature = jwt.signature_b64.clone();
    let first = if signature.starts_with('A') { "B" } else { "A" };
    signature.replace_range(0..1, first);
    let forged = format!("{}.{}.{}", jwt.header_b64, jwt.payload_b64, signature);
    me_with_header_is_401(&ctx, &format!("Bearer {forged}"), "altered signature").await?;
    Ok(())
}

pub(crate) async fn signature_stripped_token_is_401(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let jwt = jwt_parts(&user.token)?;
    let stripped = format!("{}.{}.", jwt.header_b64, jwt.payload_b64);
    me_with_header_is_401(&ctx, &format!("Bearer {stripped}"), "header.payload.").await?;
    posts_with_header_is_401(&ctx, &format!("Bearer {stripped}"), "header.payload.").await?;
    let two_segments = format!("{}.{}", jwt.header_b64, jwt.payload_b64);
    me_with_header_is_401(&ctx, &format!("Bearer {two_segments}"), "header.payload").await
}

pub(crate) async fn alg_none_token_is_401(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let jwt = jwt_parts(&user.token)?;
    for alg in ["none", "None", "NONE"] {
        let header = jwt_segment(&json!({"alg": alg, "typ": "JWT"}));
        let unsigned = format!("{header}.{}.", jwt.payload_b64);
        me_with_header_is_401(&ctx, &format!("Bearer {unsigned}"), &format!("alg {alg}")).await?;
        posts_with_header_is_401(&ctx, &format!("Bearer {unsigned}"), &format!("alg {alg}"))
            .await?;
        let with_signature = format!("{header}.{}.{}", jwt.payload_b64, jwt.signature_b64);
        me_with_header_is_401(
            &ctx,
            &format!("Bearer {with_signature}"),
            &format!("alg {alg} with the original signature"),
        )
        .await?;
    }
    Ok(())
}
