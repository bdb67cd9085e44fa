//! The program the README shows (`examples/embed.rs`): the README's copy is
//! the file, and the program works over HTTP: your route behind `AuthUser`,
//! Agora under `/api` with its login, its root at `/api` and `/api/`, and
//! its OpenAPI document and Swagger UI under the prefix.

#![allow(clippy::unwrap_used)]

use agora_contract::embed::{assert_readme_shows, check_embedded_app};
use agora_contract::harness::test_app;

#[allow(dead_code)] // `main` is the program's, not the test's.
#[path = "../examples/embed.rs"]
mod embed;

const EXAMPLE: &str = include_str!("../examples/embed.rs");

#[test]
fn the_readmes_show_the_example_file_whole_with_its_dependencies() {
    assert_readme_shows(
        ("adapter-rocket/README.md", include_str!("../README.md")),
        "## Mounting",
        ("adapter-rocket/examples/embed.rs", EXAMPLE),
        &[
            "agora-core = { path = \"../agora/core\" }",
            "agora-sqlx = { path = \"../agora/storage-sqlx\" }",
            "agora-rocket = { path = \"../agora/adapter-rocket\" }",
            "rocket = \"0.5\"",
            "tracing-subscriber = \"0.3\"",
        ],
    );
}

/// Launches the example's rocket on a free port, as `main` does but for the port.
async fn serve(t: &agora_contract::harness::TestApp) -> String {
    let config = rocket::Config {
        port: 0,
        ..agora_rocket::server_config(&t.config)
    };
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    // Rocket binds port 0 at launch and writes the real port into its config.
    let rocket = embed::app(t.agora.clone(), config).attach(rocket::fairing::AdHoc::on_liftoff(
        "report the port",
        move |rocket| {
            Box::pin(async move {
                let _ = port_tx.send(rocket.config().port);
            })
        },
    ));
    tokio::spawn(async move {
        if let Err(e) = rocket.launch().await {
            panic!("rocket failed: {e}");
        }
    });
    format!("http://127.0.0.1:{}", port_rx.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_app_serves_its_route_and_agora_under_api() {
    let t = test_app().await;
    let url = serve(&t).await;
    check_embedded_app(&url).await;
}
