//! `POST /login` and the shape of its access token.

use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{
    INVALID_CREDENTIALS, PASSWORD, check_token_response, check_user, form, int, string,
};
use crate::util::{jwt_parts, unique_email};
use crate::{CaseResult, Ctx};

/// Asserts that `token` authenticates as user `id`.
async fn assert_token_is_user(ctx: &Ctx, token: &str, id: i64) -> CaseResult {
    let me = ctx.get("/users/me", Some(token)).await?.expect(200)?;
    ensure_eq!(check_user(&me)?, id, "GET /users/me id with the new token");
    Ok(())
}

pub(crate) async fn login_with_form_returns_bearer_token(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let id = ctx.register(&email, PASSWORD).await?;
    let body = ctx.login_form(&email, PASSWORD).await?.expect(200)?;
    let token = check_token_response(&body)?;
    assert_token_is_user(&ctx, &token, id).await
}

pub(crate) async fn login_with_oauth2_form_extra_fields_works(ctx: Ctx) -> CaseResult {
    // What Swagger UI and OAuth2 client libraries send.
    let email = unique_email();
    let id = ctx.register(&email, PASSWORD).await?;
    let body = ctx
        .send(
            Method::POST,
            "/login",
            None,
            form(&[
                ("grant_type", "password"),
                ("username", &email),
                ("password", PASSWORD),
                ("scope", ""),
                ("client_id", ""),
                ("client_secret", ""),
            ]),
        )
        .await?
        .expect(200)?;
    let token = check_token_response(&body)?;
    assert_token_is_user(&ctx, &token, id).await
}

pub(crate) async fn login_with_json_returns_bearer_token(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let id = ctx.register(&email, PASSWORD).await?;
    let body = ctx
        .post_json(
            "/login",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await?
        .expect(200)?;
    let token = check_token_response(&body)?;
    assert_token_is_user(&ctx, &token, id).await
}

pub(crate) async fn login_email_is_case_insensitive(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let id = ctx.register(&email, PASSWORD).await?;
    let upper = email.to_uppercase();
    let token = ctx.login(&upper, PASSWORD).await?;
    assert_token_is_user(&ctx, &token, id).await?;
    let body = ctx
        .post_json(
            "/login",
            None,
            json!({"email": upper, "password": PASSWORD}),
        )
        .await?
        .expect(200)?;
    check_token_response(&body)?;
    Ok(())
}

pub(crate) async fn login_with_unknown_email_is_403_invalid_credentials(ctx: Ctx) -> CaseResult {
    ctx.login_form(&unique_email(), PASSWORD)
        .await?
        .expect_exact_detail(403, INVALID_CREDENTIALS)?;
    ctx.post_json(
        "/login",
        None,
        json!({"email": unique_email(), "password": PASSWORD}),
    )
    .await?
    .expect_exact_detail(403, INVALID_CREDENTIALS)
}

pub(crate) async fn login_with_wrong_password_is_403_invalid_credentials(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    ctx.register(&email, PASSWORD).await?;
    ctx.login_form(&email, "wrong password")
        .await?
        .expect_exact_detail(403, INVALID_CREDENTIALS)?;
    ctx.post_json(
        "/login",
        None,
        json!({"email": email, "password": "wrong password"}),
    )
    .await?
    .expect_exact_detail(403, INVALID_CREDENTIALS)
}

pub(crate) async fn login_form_without_password_is_422(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    ctx.register(&email, PASSWORD).await?;
    ctx.send(Method::POST, "/login", None, form(&[("username", &email)]))
        .await?
        .expect_422(&["body", "password"])
}

pub(crate) async fn login_json_without_email_is_422(ctx: Ctx) -> CaseResult {
    ctx.post_json("/login", None, json!({"password": PASSWORD}))
        .await?
        .expect_422(&["body"])
}

pub(crate) async fn access_token_is_hs256_jwt_with_expected_claims(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let id = ctx.register(&email, PASSWORD).await?;
    let token = ctx.login(&email, PASSWORD).await?;
    let jwt = jwt_parts(&token)?;
    ensure_eq!(jwt.header["alg"], json!("HS256"), "JWT header alg");
    ensure!(
        !jwt.signature_b64.is_empty(),
        "the JWT has an empty signature"
    );
    let claims = &jwt.payload;
    ensure_eq!(claims["sub"], Value::from(id.to_string()), "JWT sub");
    ensure_eq!(int(claims, "user_id")?, id, "JWT user_id");
    let iat = int(claims, "iat")?;
    let exp = int(claims, "exp")?;
    ensure!(exp > iat, "JWT exp ({exp}) must be after iat ({iat})");
    let jti = string(claims, "jti")?;
    ensure!(!jti.is_empty(), "JWT jti is empty");
    Ok(())
}

pub(crate) async fn two_logins_have_different_jti(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    ctx.register(&email, PASSWORD).await?;
    let first = jwt_parts(&ctx.login(&email, PASSWORD).await?)?;
    let second = jwt_parts(&ctx.login(&email, PASSWORD).await?)?;
    let (a, b) = (
        string(&first.payload, "jti")?,
        string(&second.payload, "jti")?,
    );
    ensure!(a != b, "two logins gave the same jti {a:?}");
    Ok(())
}
