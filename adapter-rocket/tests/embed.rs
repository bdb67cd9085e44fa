//! The program the README shows (`examples/embed.rs`): the README's copy is
//! the file, and the program works over HTTP: your route behind `AuthUser`,
//! Agora under `/api` with its login, its root at `/api` and `/api/`, and
//! its OpenAPI document and Swagger UI under the prefix.

#![allow(clippy::unwrap_used)]

use agora_contract::harness::test_app;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[allow(dead_code)] // `main` is the program's, not the test's.
#[path = "../examples/embed.rs"]
mod embed;

const EXAMPLE: &str = include_str!("../examples/embed.rs");

/// The first fenced block of `lang` after the heading `heading` of `readme`.
fn fenced_block<'a>(readme: &'a str, heading: &str, lang: &str) -> &'a str {
    let section = &readme[readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?}"))..];
    let start = section
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("no ```{lang} block in {heading:?}"))
        + lang.len()
        + 4;
    let len = section[start..].find("```\n").unwrap();
    &section[start..start + len]
}

#[test]
fn the_readmes_show_the_example_file_whole_with_its_dependencies() {
    for (readme, text) in [("adapter-rocket/README.md", include_str!("../README.md"))] {
        let heading = "## Mounting";
        assert!(
            fenced_block(text, heading, "rust") == EXAMPLE,
            "{readme}: the ```rust block of {heading:?} must be adapter-rocket/examples/embed.rs, \
             character for character"
        );
        let toml = fenced_block(text, heading, "toml");
        for dependency in [
            "agora-core = { path = \"../agora/core\" }",
            "agora-sqlx = { path = \"../agora/storage-sqlx\" }",
            "agora-rocket = { path = \"../agora/adapter-rocket\" }",
            "rocket = \"0.5\"",
            "tracing-subscriber = \"0.3\"",
        ] {
            assert!(
                toml.lines().any(|line| line == dependency),
                "{readme}: {dependency}"
            );
        }
    }
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

/// What the README promises of the example, over HTTP: shared in spirit
/// with agora-axum's `tests/embed.rs`.
async fn check_embedded_app(url: &str) {
    let http = reqwest::Client::new();
    let email = "embed@example.com";
    let password = "a long enough password";
    let registered = http
        .post(format!("{url}/api/users"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let user: Value = registered.json().await.unwrap();

    // Log in through the prefixed token URL the OpenAPI document names
    // (what Swagger UI's "Authorize" posts to).
    let doc: Value = http
        .get(format!("{url}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["servers"], json!([{"url": "/api"}]));
    let token_url = doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"]
        .as_str()
        .unwrap();
    assert_eq!(token_url, "/api/login");
    let login = http
        .post(format!("{url}{token_url}"))
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let token: Value = login.json().await.unwrap();
    let token = token["access_token"].as_str().unwrap();

    // Your route, with and without the token.
    let whoami = http
        .get(format!("{url}/whoami"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(whoami.status(), StatusCode::OK);
    assert_eq!(
        whoami.text().await.unwrap(),
        format!("hello user {}", user["id"])
    );
    let anonymous = http.get(format!("{url}/whoami")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        anonymous.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer"
    );
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHORIZED");

    // "Try it out": the document's server joined with a documented path.
    let server = doc["servers"][0]["url"].as_str().unwrap();
    assert!(doc["paths"]["/users/me"]["get"].is_object());
    let me = http
        .get(format!("{url}{server}/users/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // The session saw the client's address: per-IP throttling has one.
    let sessions: Value = http
        .get(format!("{url}{server}/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions[0]["ip"], "127.0.0.1", "{sessions}");

    // The nest root, with and without its trailing slash: the API's root.
    for root in ["/api", "/api/"] {
        let response = http.get(format!("{url}{root}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{root}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"message": "Hello World"}), "{root}");
    }
    // Unknown paths under the prefix are Agora's JSON 404.
    let missing = http.get(format!("{url}/api/nope/")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
    // Swagger UI under the prefix: `docs` redirects to `docs/`, which loads
    // `../openapi.json`, i.e. `/api/openapi.json`.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let docs = no_redirect
        .get(format!("{url}/api/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::SEE_OTHER);
    assert_eq!(docs.headers()["location"], "docs/");
    let page = http.get(format!("{url}/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}
