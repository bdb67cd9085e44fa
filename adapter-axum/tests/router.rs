//! In-process tests of what the contract suite cannot reach over HTTP alone:
//! mounting, the extractor on an app's own routes, deleted users, a database
//! that goes away, and CORS.

#![allow(clippy::unwrap_used)]

use agora_axum::AuthUser;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

use agora_contract::harness::{test_app, token_for};

async fn send(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, headers, body)
}

fn get_with(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(uri);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn router_nests_under_a_prefix_beside_the_apps_own_routes() {
    let t = test_app().await;
    async fn whoami(AuthUser(user): AuthUser) -> String {
        format!("you are user {}", user.id)
    }
    let app = Router::new()
        .route("/whoami", get(whoami))
        .with_state(t.agora.clone())
        .nest("/api", agora_axum::router(t.agora.clone()));
    let (id, token) = token_for(&t.agora, "nest@example.com").await;

    let (status, _, body) = send(&app, get_with("/api/users/me", Some(&token))).await;
    assert_eq!(
        (status, body["email"].as_str()),
        (StatusCode::OK, Some("nest@example.com"))
    );

    let response = app
        .clone()
        .oneshot(get_with("/whoami", Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&text[..], format!("you are user {id}").as_bytes());

    let (status, headers, body) = send(&app, get_with("/whoami", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(body["detail"], "Could not validate credentials");
}

#[tokio::test]
async fn token_of_a_deleted_user_is_401_not_500() {
    let t = test_app().await;
    let app = agora_axum::router(t.agora.clone());
    let (id, token) = token_for(&t.agora, "gone@example.com").await;
    use agora_core::storage::UserStore;
    assert!(t.store.delete_user(id).await.unwrap());
    for uri in ["/users/me", "/posts"] {
        let (status, headers, body) = send(&app, get_with(uri, Some(&token))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        // A token was presented and refused: the RFC 6750 `invalid_token` challenge.
        assert_eq!(
            headers[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(body["detail"], "Could not validate credentials");
    }
}

#[tokio::test]
async fn database_down_gives_503_json_on_health_and_requests() {
    let t = test_app().await;
    let app = agora_axum::router(t.agora.clone());
    let (_, token) = token_for(&t.agora, "down@example.com").await;
    let (status, _, _) = send(&app, get_with("/health", None)).await;
    assert_eq!(status, StatusCode::OK);

    t.store.pool().close().await;
    let (status, headers, body) = send(&app, get_with("/health", None)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let detail = body["detail"].as_str().unwrap();
    assert!(
        !detail.to_lowercase().contains("pool"),
        "no internals leak: {detail}"
    );
    assert_eq!(body["status"], "error", "{body}");
    let database = &body["checks"]["database"];
    assert_eq!(database["status"], "error", "{body}");
    assert_eq!(database["reason"], "does not answer", "{body}");
    assert!(database["latency_ms"].is_number(), "{body}");
    let (status, _, _) = send(&app, get_with("/posts", Some(&token))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, live) = send(&app, get_with("/health/live", None)).await;
    assert_eq!(
        (status, live),
        (StatusCode::OK, serde_json::json!({"status": "ok"})),
        "liveness touches no database"
    );
}

#[tokio::test]
async fn wrong_method_is_a_json_405() {
    let t = test_app().await;
    let app = agora_axum::router(t.agora.clone());
    let request = Request::delete("/users").body(Body::empty()).unwrap();
    let (status, _, body) = send(&app, request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["detail"], "Method Not Allowed");
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_listed_origins() {
    let t = test_app().await;
    let preflight = |origin: &str| {
        Request::options("/posts")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .body(Body::empty())
            .unwrap()
    };
    let plain = agora_axum::app(t.agora.clone(), &t.config);
    let response = plain.oneshot(preflight("https://a.example")).await.unwrap();
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );

    let mut config = t.config.clone();
    config.server.cors_origins = vec!["https://a.example".into()];
    let app = agora_axum::app(t.agora.clone(), &config);
    let response = app
        .clone()
        .oneshot(preflight("https://a.example"))
        .await
        .unwrap();
    assert_eq!(
        response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://a.example"
    );
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
            .is_none()
    );
    let response = app
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
}
