//! `POST /users`, `GET /users/{id}` and `GET /users/me`.

use serde_json::{Value, json};

use crate::client::{Body, PASSWORD, UNKNOWN_ID, check_user, string};
use crate::util::{random_hex, unique_email};
use crate::{CaseResult, Ctx};

pub(crate) async fn register_returns_201_without_password(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let body = ctx
        .post_json(
            "/users",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await?
        .expect(201)?;
    // check_user asserts exactly {id, email, created_at}: no password or hash.
    check_user(&body)?;
    ensure_eq!(string(&body, "email")?, email.as_str(), "registered email");
    ensure!(
        !body.to_string().contains(PASSWORD),
        "the response leaks the password: {body}"
    );
    Ok(())
}

pub(crate) async fn register_lowercases_email(ctx: Ctx) -> CaseResult {
    let local = random_hex(8);
    let mixed = format!("Foo-{}@Example.COM", local.to_uppercase());
    let body = ctx
        .post_json(
            "/users",
            None,
            json!({"email": mixed, "password": PASSWORD}),
        )
        .await?
        .expect(201)?;
    check_user(&body)?;
    ensure_eq!(
        string(&body, "email")?,
        mixed.to_lowercase().as_str(),
        "stored email"
    );
    Ok(())
}

pub(crate) async fn register_with_invalid_email_is_422(ctx: Ctx) -> CaseResult {
    for email in ["not-an-email", "", "two@@example.com", "no-domain@"] {
        ctx.post_json(
            "/users",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await?
        .expect_422(&["body", "email"])
        .map_err(|e| format!("email {email:?}: {e}"))?;
    }
    ctx.post_json("/users", None, json!({"password": PASSWORD}))
        .await?
        .expect_422(&["body", "email"])
        .map_err(|e| format!("missing email: {e}"))
}

pub(crate) async fn register_without_password_is_422_at_body_password(ctx: Ctx) -> CaseResult {
    ctx.post_json("/users", None, json!({"email": unique_email()}))
        .await?
        .expect_422(&["body", "password"])
}

pub(crate) async fn register_with_wrong_types_is_422(ctx: Ctx) -> CaseResult {
    ctx.post_json("/users", None, json!({"email": 5, "password": PASSWORD}))
        .await?
        .expect_422(&["body", "email"])?;
    ctx.post_json(
        "/users",
        None,
        json!({"email": unique_email(), "password": 12345678}),
    )
    .await?
    .expect_422(&["body", "password"])?;
    for body in [json!([1, 2, 3]), json!("a string"), json!(null)] {
        ctx.post_json("/users", None, body.clone())
            .await?
            .expect_422(&["body"])
            .map_err(|e| format!("body {body}: {e}"))?;
    }
    Ok(())
}

pub(crate) async fn register_with_malformed_json_is_422(ctx: Ctx) -> CaseResult {
    let raw = format!("{{\"email\": \"{}\", \"password\": ", unique_email());
    ctx.send(
        reqwest::Method::POST,
        "/users",
        None,
        Body::Raw("application/json", raw.into_bytes()),
    )
    .await?
    .expect_422(&["body"])?;
    ctx.send(
        reqwest::Method::POST,
        "/users",
        None,
        Body::Raw("application/json", Vec::new()),
    )
    .await?
    .expect_422(&["body"])
    .map_err(|e| format!("empty body: {e}"))
}

pub(crate) async fn register_with_text_plain_content_type_is_422(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let raw = json!({"email": email, "password": PASSWORD}).to_string();
    ctx.send(
        reqwest::Method::POST,
        "/users",
        None,
        Body::Raw("text/plain", raw.into_bytes()),
    )
    .await?
    .expect_422(&["body"])?;
    // Nothing was created: registering the same email now works.
    ctx.register(&email, PASSWORD).await.map(|_| ())
}

pub(crate) async fn register_with_oversized_body_is_413(ctx: Ctx) -> CaseResult {
    let body = json!({"email": unique_email(), "password": "p".repeat(100 * 1024)});
    ctx.post_json("/users", None, body)
        .await?
        .expect_detail(413)
        .map(|_| ())
}

pub(crate) async fn register_ignores_extra_fields(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let body = ctx
        .post_json(
            "/users",
            None,
            json!({
                "email": email,
                "password": PASSWORD,
                "id": 999,
                "is_superuser": true,
                "created_at": "2000-01-01T00:00:00Z",
            }),
        )
        .await?
        .expect(201)?;
    check_user(&body)?;
    ensure_eq!(string(&body, "email")?, email.as_str(), "registered email");
    ensure!(
        body["created_at"] != json!("2000-01-01T00:00:00Z"),
        "created_at was taken from the request: {body}"
    );
    Ok(())
}

pub(crate) async fn duplicate_email_is_409(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    ctx.register(&email, PASSWORD).await?;
    ctx.post_json(
        "/users",
        None,
        json!({"email": email, "password": "another password"}),
    )
    .await?
    .expect_error(409, "EMAIL_TAKEN")
    .map(|_| ())
}

pub(crate) async fn duplicate_email_differing_in_case_is_409(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    ctx.register(&email, PASSWORD).await?;
    ctx.post_json(
        "/users",
        None,
        json!({"email": email.to_uppercase(), "password": PASSWORD}),
    )
    .await?
    .expect_error(409, "EMAIL_TAKEN")
    .map(|_| ())
}

pub(crate) async fn passwords_of_8_and_128_chars_are_accepted(ctx: Ctx) -> CaseResult {
    for len in [8, 128] {
        let email = unique_email();
        // Not a common password: a blocklist must not reject it.
        let password: String = "kx7Q".chars().cycle().take(len).collect();
        ctx.register(&email, &password)
            .await
            .map_err(|e| format!("password of {len} chars: {e}"))?;
        ctx.login(&email, &password)
            .await
            .map_err(|e| format!("login with password of {len} chars: {e}"))?;
    }
    // The limit counts characters, not bytes: 128 two-byte characters.
    let password = "é".repeat(128);
    ctx.register(&unique_email(), &password)
        .await
        .map_err(|e| format!("password of 128 non-ASCII chars: {e}"))?;
    Ok(())
}

pub(crate) async fn passwords_of_7_and_129_chars_are_422(ctx: Ctx) -> CaseResult {
    for len in [0, 7, 129] {
        ctx.post_json(
            "/users",
            None,
            json!({"email": unique_email(), "password": "a".repeat(len)}),
        )
        .await?
        .expect_422(&["body", "password"])
        .map_err(|e| format!("password of {len} chars: {e}"))?;
    }
    Ok(())
}

pub(crate) async fn unicode_password_with_spaces_registers_and_logs_in(ctx: Ctx) -> CaseResult {
    let mut password = String::from("pässwörd with spaces 🔐🦀 日本語 ");
    while password.chars().count() < 64 {
        password.push('ü');
    }
    ensure_eq!(password.chars().count(), 64, "test password length");
    let email = unique_email();
    let id = ctx.register(&email, &password).await?;
    let token = ctx.login(&email, &password).await?;
    let me = ctx.get("/users/me", Some(&token)).await?.expect(200)?;
    ensure_eq!(check_user(&me)?, id, "GET /users/me id");
    Ok(())
}

pub(crate) async fn concurrent_registrations_of_one_email_yield_one_201(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let ctx = ctx.clone();
        let email = email.clone();
        tasks.push(tokio::spawn(async move {
            ctx.post_json(
                "/users",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await
            .map(|resp| resp.status())
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    let mut others = Vec::new();
    for task in tasks {
        match task
            .await
            .map_err(|e| format!("request task failed: {e}"))??
        {
            201 => created += 1,
            409 => conflicts += 1,
            other => others.push(other),
        }
    }
    ensure!(
        created == 1 && conflicts == 49 && others.is_empty(),
        "expected one 201 and 49 409; got {created} x 201, {conflicts} x 409, others {others:?}"
    );
    Ok(())
}

pub(crate) async fn get_user_by_id_needs_no_auth(ctx: Ctx) -> CaseResult {
    let email = unique_email();
    let created = ctx
        .post_json(
            "/users",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await?
        .expect(201)?;
    let id = check_user(&created)?;
    let fetched = ctx.get(&format!("/users/{id}"), None).await?.expect(200)?;
    check_user(&fetched)?;
    ensure_eq!(fetched, created, "GET /users/{{id}} body");
    Ok(())
}

pub(crate) async fn get_unknown_user_is_404(ctx: Ctx) -> CaseResult {
    ctx.get(&format!("/users/{UNKNOWN_ID}"), None)
        .await?
        .expect_error(404, "USER_NOT_FOUND")
        .map(|_| ())
}

pub(crate) async fn get_user_with_non_integer_id_is_422(ctx: Ctx) -> CaseResult {
    ctx.get("/users/abc", None)
        .await?
        .expect_422(&["path", "id"])
}

pub(crate) async fn users_me_returns_the_caller(ctx: Ctx) -> CaseResult {
    let user = ctx.new_user().await?;
    let other = ctx.new_user().await?;
    let me = ctx.get("/users/me", Some(&user.token)).await?.expect(200)?;
    ensure_eq!(check_user(&me)?, user.id, "GET /users/me id");
    ensure_eq!(
        me["email"],
        Value::from(user.email.as_str()),
        "GET /users/me email"
    );
    let other_me = ctx
        .get("/users/me", Some(&other.token))
        .await?
        .expect(200)?;
    ensure_eq!(
        check_user(&other_me)?,
        other.id,
        "GET /users/me id of a second user"
    );
    Ok(())
}

pub(crate) async fn users_me_without_token_is_401(ctx: Ctx) -> CaseResult {
    ctx.get("/users/me", None).await?.expect_401()
}
