//! The HTTP contract suite against the rocket adapter, served exactly as the
//! `rocket_server` example serves it, on a free port over a fresh database
//! (SQLite always; PostgreSQL and MySQL when `AGORA_TEST_POSTGRES_URL` /
//! `AGORA_TEST_MYSQL_URL` are set), plus a request-by-request comparison of
//! the rocket and axum servers: any difference between the adapters fails.

use agora_contract::harness as common;

use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;

/// The suite against rocket over a fresh database of `backend`; skipped
/// (as in `contract.rs`) when that backend's test URL is not set.
async fn contract_on(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let base = common::spawn_rocket(common::config_for(&db)).await;
    agora_contract::run_contract(&base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_on_sqlite_passes_the_contract() {
    contract_on(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_on_postgres_passes_the_contract() {
    contract_on(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_on_mysql_passes_the_contract() {
    contract_on(Backend::MySql).await;
}

/// The origin both servers allow in the comparison.
const ALLOWED_ORIGIN: &str = "https://a.example";

/// One request as a client sends it. In `auth`, `{token}` stands for the
/// token of the user each server set up.
struct Probe {
    method: &'static str,
    path: String,
    auth: Option<&'static str>,
    origin: Option<&'static str>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

fn probe(method: &'static str, path: impl Into<String>) -> Probe {
    Probe {
        method,
        path: path.into(),
        auth: None,
        origin: None,
        content_type: None,
        body: Vec::new(),
    }
}

impl Probe {
    fn auth(mut self, value: &'static str) -> Self {
        self.auth = Some(value);
        self
    }

    fn origin(mut self, origin: &'static str) -> Self {
        self.origin = Some(origin);
        self
    }

    fn token(self) -> Self {
        self.auth("Bearer {token}")
    }

    fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }

    fn json(self, body: &str) -> Self {
        self.body("application/json", body)
    }
}

/// An answer reduced to what a client can rely on: status, the headers of
/// the contract, and the body with per-run values (times, tokens) masked.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    body: serde_json::Value,
}

fn mask_volatile(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                // `updated_at` only once set: `null` is no time to mask.
                if matches!(
                    key.as_str(),
                    "created_at" | "access_token" | "refresh_token" | "latency_ms"
                ) || (key == "updated_at" && v.is_string())
                {
                    *v = serde_json::Value::String("<varies>".to_owned());
                } else {
                    mask_volatile(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_volatile),
        _ => {}
    }
}

async fn send(client: &reqwest::Client, base: &str, token: &str, probe: &Probe) -> Answer {
    let method = reqwest::Method::from_bytes(probe.method.as_bytes()).expect("method");
    let mut request = client.request(method, format!("{base}{}", probe.path));
    if let Some(auth) = probe.auth {
        request = request.header("authorization", auth.replace("{token}", token));
    }
    if let Some(origin) = probe.origin {
        request = request
            .header("origin", origin)
            .header("access-control-request-method", "GET");
    }
    if let Some(content_type) = probe.content_type {
        request = request.header("content-type", content_type);
    }
    let response = request
        .body(probe.body.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} {}: {e}", probe.method, probe.path));
    let headers = [
        "content-type",
        "www-authenticate",
        "allow",
        "retry-after",
        "ratelimit",
        "ratelimit-policy",
        "vary",
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
    ]
    .into_iter()
    .map(|name| {
        let value = response.headers().get(name);
        (
            name,
            value.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        )
    })
    .collect();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("body");
    let mut body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
    });
    mask_volatile(&mut body);
    Answer {
        status,
        headers,
        body,
    }
}

/// Registers, logs in and writes one post on a fresh server; returns the token.
async fn set_up(client: &reqwest::Client, base: &str) -> String {
    let user =
        serde_json::json!({"email": "diff@example.com", "password": "correct horse battery"});
    let created = client
        .post(format!("{base}/users"))
        .json(&user)
        .send()
        .await
        .expect("register");
    assert_eq!(created.status(), 201);
    let login: serde_json::Value = client
        .post(format!("{base}/login"))
        .json(&user)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let post = client
        .post(format!("{base}/posts"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "first", "content": "post"}))
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 201);
    token
}

/// The requests both adapters must answer identically, byte for byte after
/// masking times and tokens: edge cases the contract suite leaves open
/// (exact validation messages, methods, `Allow`, HEAD, encodings, limits,
/// the order of checks when a request has several problems).
fn probes(body_limit: usize) -> Vec<Probe> {
    let padded = |len: usize| {
        let mut body =
            br#"{"email": "pad@example.com", "password": "correct horse battery"}"#.to_vec();
        body.resize(len, b' ');
        body
    };
    vec![
        probe("GET", "/"),
        probe("HEAD", "/"),
        probe("GET", "/health/"),
        probe("GET", "/health/live"),
        probe("GET", "//health"),
        probe("GET", "/health//"),
        probe("GET", "//"),
        probe("DELETE", "//users"),
        probe("GET", "/posts//1").token(),
        probe("GET", "/no-such-route"),
        probe("GET", "/posts/1/deeper").token(),
        probe("GET", "/users/me/extra"),
        probe("DELETE", "/users"),
        probe("GET", "/vote/"),
        probe("PATCH", "/posts/1").token(),
        probe("OPTIONS", "/posts"),
        probe("OPTIONS", "/posts").origin(ALLOWED_ORIGIN),
        probe("OPTIONS", "/nope").origin("https://evil.example"),
        probe("GET", "/").origin(ALLOWED_ORIGIN),
        probe("GET", "/users/me").origin(ALLOWED_ORIGIN),
        probe("GET", "/").origin("https://evil.example"),
        probe("HEAD", "/login"),
        probe("POST", "/posts/1").token(),
        probe("PUT", "/posts"),
        probe("POST", "/users").json("{not json"),
        probe("POST", "/users").json(""),
        probe("POST", "/users").json("[1, 2]"),
        probe("POST", "/users").json(r#"{"email": "x@example.com"}"#),
        probe("POST", "/users").json(r#"{"email": 5, "password": "12345678"}"#),
        probe("POST", "/users").json(r#"{"email": "not-an-email", "password": "short"}"#),
        probe("POST", "/users").body(
            "text/plain",
            r#"{"email": "a@example.com", "password": "12345678"}"#,
        ),
        probe("POST", "/users"),
        probe("POST", "/users").body("application/json", padded(body_limit + 1)),
        probe("POST", "/users").body("application/json", padded(body_limit)),
        probe("POST", "/users")
            .json(r#"{"email": "DIFF@example.com", "password": "correct horse battery"}"#),
        probe("POST", "/login").body(
            "application/x-www-form-urlencoded",
            "username=diff%40example.com",
        ),
        probe("POST", "/login").body(
            "application/x-www-form-urlencoded",
            "username=diff%40example.com&password=nope",
        ),
        probe("POST", "/login").body(
            "application/x-www-form-urlencoded",
            "username=diff%40example.com&password=correct+horse+battery",
        ),
        probe("POST", "/login").json(r#"{"password": "x"}"#),
        probe("POST", "/login"),
        probe("GET", "/users/me"),
        probe("GET", "/users/me").auth("Bearer"),
        probe("GET", "/users/me").auth("Basic {token}"),
        probe("GET", "/users/me").auth("bearer {token}"),
        probe("GET", "/users/me").auth("Bearer abc"),
        probe("GET", "/users/me").auth(""),
        probe("GET", "/users/me").auth("Token {token}"),
        probe("GET", "/users/me").auth("Bearer  {token}"),
        probe("GET", "/users/1"),
        probe("GET", "/users/abc"),
        probe("GET", "/users/-1"),
        probe("GET", "/users/99999999999999999999"),
        probe("GET", "/posts/%31").token(),
        probe("GET", "/posts/abc"),
        probe("GET", "/posts/abc").token(),
        probe("GET", "/posts/%20").token(),
        probe("GET", "/posts/1.5").token(),
        probe("GET", "/posts?limit=abc&skip=-1").token(),
        probe("GET", "/posts?limit=0").token(),
        probe("GET", "/posts?search=a%00b").token(),
        probe("GET", "/posts?limit=1&search=FIR").token(),
        probe("GET", "/posts/").token(),
        probe("PUT", "/posts/abc").body("application/json", padded(body_limit + 1)),
        probe("PUT", "/posts/abc")
            .token()
            .body("application/json", padded(body_limit + 1)),
        probe("PUT", "/posts/1")
            .token()
            .json(r#"{"title": " ", "content": ""}"#),
        probe("PUT", "/posts/1")
            .token()
            .json(r#"{"title": "edited", "content": "again"}"#),
        probe("POST", "/posts")
            .token()
            .json(r#"{"title": "t", "content": "c", "published": "yes"}"#),
        probe("POST", "/vote")
            .token()
            .json(r#"{"post_id": 1, "dir": 2}"#),
        probe("POST", "/vote")
            .token()
            .json(r#"{"post_id": 1, "dir": 1}"#),
        probe("POST", "/vote")
            .token()
            .json(r#"{"post_id": 1, "dir": 1}"#),
        probe("POST", "/vote")
            .token()
            .json(r#"{"post_id": 99, "dir": 1}"#),
        probe("DELETE", "/posts/1/").token(),
        probe("DELETE", "/posts/1").token(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_and_axum_answer_every_probe_identically() {
    let axum_db = TestDatabase::create(Backend::Sqlite).await.expect("SQLite");
    let rocket_db = TestDatabase::create(Backend::Sqlite).await.expect("SQLite");
    // CORS on, as `AGORA_CORS_ORIGINS` turns it on for both example servers.
    let config_for = |db: &TestDatabase| {
        let mut config = common::config_for(db);
        config.server.cors_origins = vec![ALLOWED_ORIGIN.to_owned()];
        config
    };
    let body_limit = config_for(&axum_db).server.body_limit;
    let axum = common::spawn_axum(config_for(&axum_db)).await;
    let rocket = common::spawn_rocket(config_for(&rocket_db)).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("client");
    let axum_token = set_up(&client, &axum).await;
    let rocket_token = set_up(&client, &rocket).await;

    let mut differences = Vec::new();
    let probes = probes(body_limit);
    for probe in &probes {
        let expected = send(&client, &axum, &axum_token, probe).await;
        let got = send(&client, &rocket, &rocket_token, probe).await;
        if got != expected {
            differences.push(format!(
                "{} {}:\n  axum:   {expected:?}\n  rocket: {got:?}",
                probe.method, probe.path
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} probes differ:\n{}",
        differences.len(),
        probes.len(),
        differences.join("\n")
    );
}
