//! Missing, malformed and forged credentials.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Body, INVALID_TOKEN_CHALLENGE, NO_TOKEN_CHALLENGE, check_user};
use crate::util::{jwt_parts, jwt_segment, unique_marker};
use crate::{CaseResult, Ctx};

/// Asserts that `GET /users/me` with the raw `Authorization` value is the
/// contract's 401 with `challenge`.
async fn me_with_header_is_401_with(
    ctx: &Ctx,
    header: &str,
    challenge: &str,
    label: &str,
) -> CaseResult {
    ctx.send(Method::GET, "/users/me", Some(header), Body::Empty)
        .await?
        .expect_401_with(challenge)
        .map_err(|e| format!("{label}: {e}"))
}

/// Asserts that `GET /users/me` with the raw `Authorization` value, a
/// bearer token, is the contract's 401 for a refused token.
async fn me_with_header_is_401(ctx: &Ctx, header: &str, label: &str) -> CaseResult {
    me_with_header_is_401_with(ctx, header, INVALID_TOKEN_CHALLENGE, label).await
}

/// Asserts that `GET /posts` with the raw `Authorization` value, a bearer
/// token, is the contract's 401 for a refused token as well, so that posts
/// routes share the guard.
async fn posts_with_header_is_401(ctx: &Ctx, header: &str, label: &str) -> CaseResult {
    ctx.send(Method::GET, "/posts", Some(header), Body::Empty)
        .await?
        .expect_invalid_token()
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
    // A bearer token that is refused gets `error="invalid_token"`; no
    // bearer token at all (other schemes included) the plain challenge.
    let (invalid, none) = (INVALID_TOKEN_CHALLENGE, NO_TOKEN_CHALLENGE);
    let headers = [
        ("Bearer abc".to_owned(), invalid, "Bearer abc"),
        ("Basic xyz".to_owned(), none, "Basic xyz"),
        (token.clone(), none, "token without the Bearer scheme"),
        (
            format!("Basic {token}"),
            none,
            "valid token with the Basic scheme",
        ),
        (
            format!("Token {token}"),
            none,
            "valid token with the Token scheme",
        ),
        ("Bearer".to_owned(), none, "Bearer without a token"),
        ("Bearer a.b.c".to_owned(), invalid, "Bearer a.b.c"),
        ("".to_owned(), none, "empty header"),
    ];
    for (header, challenge, label) in &headers {
        me_with_header_is_401_with(&ctx, header, challenge, label).await?;
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

pub(crate) async fn refused_tokens_get_the_invalid_token_challenge(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    // No token: the plain challenge, on a required and an optional route.
    ctx.get("/users/me", None).await?.expect_401()?;
    // A token of an ended session: presented and refused.
    ctx.send(
        Method::POST,
        "/logout",
        Some(&format!("Bearer {}", user.token)),
        Body::Empty,
    )
    .await?
    .expect(204)?;
    ctx.get("/users/me", Some(&user.token))
        .await?
        .expect_invalid_token()?;
    ctx.get(&format!("/posts/{}", user.id), Some(&user.token))
        .await?
        .expect_invalid_token()?;
    let profile = format!("/profiles/{}", unique_marker());
    ctx.get(&profile, Some(&user.token))
        .await?
        .expect_invalid_token()
}
