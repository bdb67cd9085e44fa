//! The served OpenAPI document describes exactly the routes the router has,
//! and the docs page is served from the vendored Swagger UI.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

async fn app() -> (Router, agora_contract::harness::TestApp) {
    let t = agora_contract::harness::test_app().await;
    (agora_axum::router(t.agora.clone()), t)
}

async fn send(app: &Router, method: Method, uri: &str) -> (StatusCode, Vec<u8>, Option<String>) {
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body.to_vec(), content_type)
}

#[tokio::test]
async fn served_document_is_openapi_3_1_and_matches_core() {
    let (app, _dir) = app().await;
    let (status, body, content_type) = send(&app, Method::GET, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let doc: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string());
    assert!(doc["info"]["version"].is_string());
    assert_eq!(
        doc,
        serde_json::to_value(agora_core::openapi::document()).unwrap()
    );
}

#[tokio::test]
async fn document_lists_every_route_and_only_those() {
    let (app, _dir) = app().await;
    let documented = agora_core::openapi::operations();
    let documented_paths: BTreeSet<&str> = documented.iter().map(|(_, p)| p.as_str()).collect();
    let routed_paths: BTreeSet<&str> = agora_core::http::ENDPOINTS
        .iter()
        .filter(|e| e.doc.is_some())
        .map(|e| e.path)
        .collect();
    assert_eq!(
        documented_paths, routed_paths,
        "paths in the OpenAPI document vs the endpoint table"
    );
    // The methods of each path: a documented method is routed (not 405, and
    // not the fallback's 404), any other method is a 405.
    for path in routed_paths {
        let uri = path
            .replace("{id}", "1")
            .replace("{comment_id}", "1")
            .replace("{username}", "someone");
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
        ] {
            let (status, body, _) = send(&app, method.clone(), &uri).await;
            let is_documented = documented.contains(&(method.to_string(), path.to_owned()));
            let fallback = status == StatusCode::NOT_FOUND
                && body == br#"{"detail":"Not Found","code":"NOT_FOUND"}"#;
            if is_documented {
                assert!(
                    status != StatusCode::METHOD_NOT_ALLOWED
                        && (!fallback || path == "/.well-known/jwks.json"),
                    "{method} {path} is documented but not routed ({status})"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but not documented"
                );
            }
        }
    }
}

#[tokio::test]
async fn docs_page_is_served_offline() {
    let (app, _dir) = app().await;
    let (status, _, _) = send(&app, Method::GET, "/docs").await;
    assert!(status.is_redirection());
    let (status, body, content_type) = send(&app, Method::GET, "/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.unwrap().starts_with("text/html"));
    assert!(String::from_utf8_lossy(&body).contains("swagger"));
    let (status, body, _) = send(&app, Method::GET, "/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    let script = String::from_utf8_lossy(&body);
    assert!(script.contains("../openapi.json"), "{script}");
    for file in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let (status, body, _) = send(&app, Method::GET, &format!("/docs/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert!(body.len() > 1000, "{file}");
    }
}
