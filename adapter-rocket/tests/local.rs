//! In-process tests (rocket's local client) of what the contract suite
//! cannot reach over HTTP alone: mounting at a base path beside the app's
//! own routes, the `AuthUser` and `JsonBody` guards there, JSON (never HTML)
//! for rocket's own errors, a database that goes away, a deleted user's
//! token, the launch check, and CORS.

#![allow(clippy::unwrap_used)]

use agora_core::Agora;
use agora_core::schema::PostCreate;
use agora_rocket::{AuthUser, JsonBody};
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::{Client, LocalRequest, LocalResponse};
use rocket::{Build, Rocket, get, post, routes};
use serde_json::{Value, json};

use agora_contract::harness::{test_app, token_for};

/// A quiet rocket (no log output) to build on.
fn quiet() -> Rocket<Build> {
    rocket::custom(rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        ..rocket::Config::debug_default()
    })
}

#[get("/whoami")]
fn whoami(user: AuthUser) -> String {
    format!("you are user {}", user.0.id)
}

#[post("/drafts", data = "<body>")]
fn drafts(_user: AuthUser, body: JsonBody<PostCreate>) -> String {
    format!("draft {}", body.0.title)
}

#[get("/items/<id>")]
fn item(id: i64) -> String {
    format!("item {id}")
}

#[get("/boom")]
fn boom() -> &'static str {
    panic!("a handler bug")
}

/// The app of an Agora user: its own routes (guarded by `AuthUser`, and one
/// with rocket's own typed parameter) with JSON catchers at `/`, and Agora
/// under `/api`.
async fn nested_app(agora: &Agora) -> Client {
    let rocket = quiet()
        .mount("/", routes![whoami, drafts, item, boom])
        .register("/", agora_rocket::catchers());
    let rocket = agora_rocket::mount(rocket, "/api", agora.clone());
    Client::tracked(rocket).await.unwrap()
}

/// Agora alone at `/`.
async fn plain_app(agora: &Agora) -> Client {
    Client::tracked(agora_rocket::mount(quiet(), "/", agora.clone()))
        .await
        .unwrap()
}

fn bearer(token: &str) -> Header<'static> {
    Header::new("Authorization", format!("Bearer {token}"))
}

/// Status, the content type, and the body as JSON (`Null` when empty);
/// fails on a body that is not JSON, such as rocket's HTML pages.
async fn json_of(response: LocalResponse<'_>) -> (Status, Option<String>, Value) {
    let status = response.status();
    let content_type = response.content_type().map(|ct| ct.to_string());
    let text = response.into_string().await.unwrap_or_default();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, content_type, body)
}

#[tokio::test]
async fn mounts_under_a_base_path_beside_the_apps_own_routes() {
    let t = test_app().await;
    let client = nested_app(&t.agora).await;
    let (id, token) = token_for(&t.agora, "nest@example.com").await;

    for path in ["/api", "/api/"] {
        let (status, _, body) = json_of(client.get(path).dispatch().await).await;
        assert_eq!(
            (status, body),
            (Status::Ok, json!({"message": "Hello World"})),
            "{path}"
        );
    }
    let response = client
        .get("/api/users/me/")
        .header(bearer(&token))
        .dispatch()
        .await;
    let (status, _, body) = json_of(response).await;
    assert_eq!(
        (status, body["email"].as_str()),
        (Status::Ok, Some("nest@example.com"))
    );

    let response = client
        .get("/whoami")
        .header(bearer(&token))
        .dispatch()
        .await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(
        response.into_string().await.unwrap(),
        format!("you are user {id}")
    );

    // The plain guard on the app's route: the exact 401 of the contract.
    let response = client.get("/whoami").dispatch().await;
    assert_eq!(
        response.headers().get_one("WWW-Authenticate"),
        Some("Bearer")
    );
    let (status, content_type, body) = json_of(response).await;
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(
        body,
        json!({"detail": "Could not validate credentials", "code": "UNAUTHORIZED"})
    );

    // Agora's routes are not at the root.
    let (status, _, body) = json_of(client.get("/users/me").dispatch().await).await;
    assert_eq!(
        (status, body),
        (
            Status::NotFound,
            json!({"detail": "Not Found", "code": "NOT_FOUND"})
        )
    );
}

#[tokio::test]
async fn json_body_guard_on_an_apps_route_answers_like_agora() {
    let t = test_app().await;
    let client = nested_app(&t.agora).await;
    let (_, token) = token_for(&t.agora, "draft@example.com").await;
    let post = |body: String| {
        client
            .post("/drafts")
            .header(bearer(&token))
            .header(ContentType::JSON)
            .body(body)
            .dispatch()
    };

    let response = post(json!({"title": "t", "content": "c"}).to_string()).await;
    assert_eq!(response.into_string().await.unwrap(), "draft t");

    let (status, _, body) = json_of(post(json!({"title": "t"}).to_string()).await).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(
        body,
        json!({"detail": [{"loc": ["body", "content"], "msg": "Field required", "type": "missing"}], "code": "VALIDATION_ERROR"})
    );

    let big = json!({"title": "t", "content": "x".repeat(t.config.server.body_limit)}).to_string();
    let (status, _, body) = json_of(post(big).await).await;
    assert_eq!(
        (status, body),
        (
            Status::PayloadTooLarge,
            json!({"detail": "Request body too large", "code": "PAYLOAD_TOO_LARGE"})
        )
    );
}

#[tokio::test]
async fn rocket_errors_are_json_never_html() {
    let t = test_app().await;
    let client = nested_app(&t.agora).await;
    let (_, token) = token_for(&t.agora, "errors@example.com").await;

    // A bad path value on Agora's route: core's 422 at ["path", "id"].
    let response = client
        .get("/api/posts/abc")
        .header(bearer(&token))
        .dispatch()
        .await;
    let (status, content_type, body) = json_of(response).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["detail"][0]["loc"], json!(["path", "id"]));
    assert_eq!(body["detail"][0]["type"], "int_parsing");

    // Unknown routes, inside and outside the base.
    for path in ["/api/no-such-route", "/api/posts/1/deeper", "/nope"] {
        let (status, content_type, body) = json_of(client.get(path).dispatch().await).await;
        assert_eq!(status, Status::NotFound, "{path}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{path}");
        assert_eq!(
            body,
            json!({"detail": "Not Found", "code": "NOT_FOUND"}),
            "{path}"
        );
    }

    // A known path with another method: 405 and Allow, as axum answers.
    for (method, path, allow) in [
        (Method::Delete, "/api/users", "POST"),
        (Method::Get, "/api/vote/", "POST"),
        (Method::Patch, "/api/posts/1", "GET,HEAD,PUT,DELETE"),
        (Method::Options, "/api/posts", "GET,HEAD,POST"),
        (Method::Head, "/api/login", "POST"),
    ] {
        let response = client.req(method, path).dispatch().await;
        assert_eq!(
            response.headers().get_one("Allow"),
            Some(allow),
            "{method} {path}"
        );
        let (status, _, body) = json_of(response).await;
        assert_eq!(status, Status::MethodNotAllowed, "{method} {path}");
        if method != Method::Head {
            assert_eq!(
                body,
                json!({"detail": "Method Not Allowed", "code": "METHOD_NOT_ALLOWED"}),
                "{method} {path}"
            );
        }
    }

    // rocket's own failed typed parameter on the app's route.
    let (status, content_type, body) = json_of(client.get("/items/abc").dispatch().await).await;
    assert_eq!(status, Status::UnprocessableEntity);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["detail"][0]["loc"], json!(["request"]));
    let response = client.get("/items/7").dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "item 7");

    // A panicking handler: fixed text, nothing of the panic.
    let (status, _, body) = json_of(client.get("/boom").dispatch().await).await;
    assert_eq!(
        (status, body),
        (
            Status::InternalServerError,
            json!({"detail": "Internal Server Error", "code": "INTERNAL_ERROR"})
        )
    );
}

#[tokio::test]
async fn head_requests_answer_like_get_without_a_body() {
    let t = test_app().await;
    let client = plain_app(&t.agora).await;
    let response = client.head("/health").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    assert!(response.into_bytes().await.unwrap_or_default().is_empty());
}

#[tokio::test]
async fn token_of_a_deleted_user_is_401_not_500() {
    let t = test_app().await;
    let client = nested_app(&t.agora).await;
    let (id, token) = token_for(&t.agora, "gone@example.com").await;
    use agora_core::storage::UserStore;
    assert!(t.store.delete_user(id).await.unwrap());
    for uri in ["/api/users/me", "/api/posts", "/whoami"] {
        let response = client.get(uri).header(bearer(&token)).dispatch().await;
        // A token was presented and refused: the RFC 6750 `invalid_token` challenge.
        assert_eq!(
            response.headers().get_one("WWW-Authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
        let (status, _, body) = json_of(response).await;
        assert_eq!(status, Status::Unauthorized, "{uri}");
        assert_eq!(body["detail"], "Could not validate credentials");
    }
}

#[tokio::test]
async fn database_down_gives_503_json_on_health_requests_and_the_guard() {
    let t = test_app().await;
    let client = nested_app(&t.agora).await;
    let (_, token) = token_for(&t.agora, "down@example.com").await;
    let (status, _, body) = json_of(client.get("/api/health").dispatch().await).await;
    assert_eq!(status, Status::Ok);
    assert_eq!(
        (
            &body["status"],
            &body["database"],
            &body["checks"]["database"]["status"]
        ),
        (&json!("ok"), &json!("sqlite"), &json!("ok")),
        "{body}"
    );

    t.store.pool().close().await;
    for uri in ["/api/health", "/api/posts", "/whoami"] {
        let response = client.get(uri).header(bearer(&token)).dispatch().await;
        let (status, content_type, body) = json_of(response).await;
        assert_eq!(status, Status::ServiceUnavailable, "{uri}");
        assert_eq!(content_type.as_deref(), Some("application/json"), "{uri}");
        assert_eq!(
            (&body["detail"], &body["code"]),
            (
                &json!("Service temporarily unavailable, try again later"),
                &json!("SERVICE_UNAVAILABLE")
            ),
            "no internals leak on {uri}"
        );
        if uri == "/api/health" {
            // The same shape as healthy, the database named as the failing check.
            assert_eq!(body["status"], "error", "{body}");
            assert_eq!(body["checks"]["database"]["status"], "error", "{body}");
            assert_eq!(
                body["checks"]["database"]["reason"], "does not answer",
                "{body}"
            );
        }
    }
    let response = client.get("/api/health/live").dispatch().await;
    assert_eq!(
        response.status(),
        Status::Ok,
        "liveness touches no database"
    );
}

#[tokio::test]
async fn a_rocket_without_a_managed_agora_does_not_launch() {
    let rocket = quiet()
        .mount("/", agora_rocket::routes())
        .mount("/", routes![whoami]);
    let error = rocket.ignite().await.unwrap_err();
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::SentinelAborts(_)),
        "{error}"
    );
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_listed_origins() {
    let t = test_app().await;
    fn preflight<'c>(client: &'c Client, origin: &'static str) -> LocalRequest<'c> {
        client
            .options("/posts")
            .header(Header::new("Origin", origin))
            .header(Header::new("Access-Control-Request-Method", "GET"))
    }
    // `app` is the example server's rocket (its config logs nothing).
    let plain = Client::tracked(agora_rocket::app(t.agora.clone(), &t.config))
        .await
        .unwrap();
    let response = preflight(&plain, "https://a.example").dispatch().await;
    assert_eq!(response.status(), Status::MethodNotAllowed);
    assert!(
        response
            .headers()
            .get_one("Access-Control-Allow-Origin")
            .is_none()
    );

    let mut config = t.config.clone();
    config.server.cors_origins = vec!["https://a.example".into()];
    let client = Client::tracked(agora_rocket::app(t.agora.clone(), &config))
        .await
        .unwrap();
    let response = preflight(&client, "https://a.example").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    let headers = response.headers();
    assert_eq!(
        headers.get_one("Access-Control-Allow-Origin"),
        Some("https://a.example")
    );
    assert_eq!(
        headers.get_one("Access-Control-Allow-Methods"),
        Some("GET,POST,PUT,DELETE")
    );
    assert!(
        headers
            .get_one("Access-Control-Allow-Credentials")
            .is_none()
    );
    assert!(response.into_bytes().await.unwrap_or_default().is_empty());

    let response = preflight(&client, "https://evil.example").dispatch().await;
    assert!(
        response
            .headers()
            .get_one("Access-Control-Allow-Origin")
            .is_none()
    );

    // A simple request from the allowed origin gets the header too.
    let response = client
        .get("/")
        .header(Header::new("Origin", "https://a.example"))
        .dispatch()
        .await;
    assert_eq!(
        response.headers().get_one("Access-Control-Allow-Origin"),
        Some("https://a.example")
    );
}
