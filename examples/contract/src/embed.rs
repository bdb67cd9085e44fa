//! The embedding examples' shared checks: a README's program is the file,
//! and the program keeps the README's promises over HTTP.

#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use serde_json::{Value, json};

/// The first fenced block of `lang` after the heading `heading` of `readme`,
/// for tests that hold a README's program to the file it copies.
///
/// # Panics
/// When there is no such heading or block.
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

/// Asserts that the section `heading` of `readme` (named `name` in
/// messages) shows `example` (the file at `path`) whole in its ```rust
/// block, and that its ```toml block holds each of `dependencies` as a line.
///
/// # Panics
/// When the README differs.
pub fn assert_readme_shows(
    (name, readme): (&str, &str),
    heading: &str,
    (path, example): (&str, &str),
    dependencies: &[&str],
) {
    assert!(
        fenced_block(readme, heading, "rust") == example,
        "{name}: the ```rust block of {heading:?} must be {path}, character for character"
    );
    let toml = fenced_block(readme, heading, "toml");
    for dependency in dependencies {
        assert!(
            toml.lines().any(|line| line == *dependency),
            "{name}: {dependency}"
        );
    }
}

/// What the README promises of the embedding example (an own `/whoami`
/// route behind Agora's extractor or guard, Agora under `/api`), over HTTP
/// at `url`: both adapters' `tests/embed.rs` run it on their example.
///
/// # Panics
/// When the app breaks a promise.
pub async fn check_embedded_app(url: &str) {
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
