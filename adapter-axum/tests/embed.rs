//! The program the README shows (`examples/embed.rs`): the README's copy is
//! the file, and the program works over HTTP: your route behind `AuthUser`,
//! Agora under `/api` with its login, its root at `/api` and `/api/`, and
//! its OpenAPI document and Swagger UI under the prefix.

#![allow(clippy::unwrap_used)]

use agora_contract::embed::{assert_readme_shows, check_embedded_app};
use agora_contract::harness::test_app;
use axum::Router;
use serde_json::{Value, json};

#[allow(dead_code)] // `main` is the program's, not the test's.
#[path = "../examples/embed.rs"]
mod embed;

const EXAMPLE: &str = include_str!("../examples/embed.rs");

#[test]
fn the_readmes_show_the_example_file_whole_with_its_dependencies() {
    for readme in [
        ("README.md", include_str!("../../README.md")),
        ("adapter-axum/README.md", include_str!("../README.md")),
    ] {
        assert_readme_shows(
            readme,
            "## Mount it in your own axum app",
            ("adapter-axum/examples/embed.rs", EXAMPLE),
            &[
                "agora-core = { path = \"../agora/core\" }",
                "agora-sqlx = { path = \"../agora/storage-sqlx\" }",
                "agora-axum = { path = \"../agora/adapter-axum\" }",
                "axum = \"0.8\"",
                "tokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\", \"net\", \"signal\"] }",
                "tracing-subscriber = \"0.3\"",
            ],
        );
    }
}

/// Serves `app` as the example does (`agora_axum::serve_router`) on a free port.
async fn serve(app: Router, config: &agora_core::Config) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = config.clone();
    tokio::spawn(async move {
        agora_axum::serve_router(listener, app, &config, std::future::pending())
            .await
            .unwrap();
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_app_serves_its_route_and_agora_under_api() {
    let t = test_app().await;
    let url = serve(embed::app(t.agora.clone()), &t.config).await;
    check_embedded_app(&url).await;
}

/// The prefix is read from each request, however the router is mounted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_names_the_prefix_it_is_served_under() {
    let t = test_app().await;
    let servers = |app: Router, path: &'static str| {
        let config = t.config.clone();
        async move {
            let url = serve(app, &config).await;
            let doc: Value = reqwest::get(format!("{url}{path}"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let token_url =
                doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"]
                    .clone();
            (doc.get("servers").cloned(), token_url)
        }
    };
    let router = || agora_axum::router(t.agora.clone());
    assert_eq!(
        servers(router(), "/openapi.json").await,
        (None, json!("/login"))
    );
    assert_eq!(
        servers(router(), "/openapi.json/").await,
        (None, json!("/login"))
    );
    assert_eq!(
        servers(Router::new().nest("/api", router()), "/api/openapi.json").await,
        (Some(json!([{"url": "/api"}])), json!("/api/login"))
    );
    assert_eq!(
        servers(
            Router::new().nest_service("/v1/agora", router()),
            "/v1/agora/openapi.json/"
        )
        .await,
        (
            Some(json!([{"url": "/v1/agora"}])),
            json!("/v1/agora/login")
        )
    );
    let deeper = Router::new().nest("/outer", Router::new().nest("/api", router()));
    assert_eq!(
        servers(deeper, "/outer/api/openapi.json").await,
        (
            Some(json!([{"url": "/outer/api"}])),
            json!("/outer/api/login")
        )
    );
}
