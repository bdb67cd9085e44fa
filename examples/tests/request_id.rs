//! Request ids (issue 19): `X-Request-Id` kept from the request only behind
//! a trusted proxy and only when valid, else generated; returned on every
//! answer, errors included, unique per request; and carried, as the
//! `request_id` of the request's span, by the JSON log lines of that
//! request. Over HTTP against both adapters.
//!
//! The log tests run the server in a child process ([`child`]),
//! as the example servers start, with `AGORA_LOG_FORMAT=json`.

#[path = "support/child.rs"]
mod child;

use std::collections::HashSet;
use std::time::Duration;

use agora_contract::for_both_adapters;
use agora_contract::harness::{self as common, Adapter};
use agora_core::Config;
use agora_core::http::valid_request_id;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use child::Child;

const PASSWORD: &str = "a long enough password";

/// A server of `adapter` over a fresh SQLite database, with `adjust`
/// applied to its configuration: its base URL, and the database to keep
/// while it serves.
async fn server(adapter: Adapter, adjust: impl FnOnce(&mut Config)) -> (String, TestDatabase) {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    adjust(&mut config);
    (common::spawn(adapter, config).await, db)
}

fn trusted_proxy(config: &mut Config) {
    config.proxy.header = Some("X-Forwarded-For".to_owned());
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// The `X-Request-Id` of an answer (exactly one), checked valid.
fn id_of(r: &Response) -> String {
    let ids: Vec<_> = r.headers().get_all("x-request-id").iter().collect();
    assert_eq!(ids.len(), 1, "one X-Request-Id on {} {ids:?}", r.status());
    let id = ids[0].to_str().expect("ascii").to_owned();
    assert!(valid_request_id(id.as_bytes()), "{id:?}");
    id
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

async fn a_trusted_proxys_id_round_trips(a: Adapter) {
    let (base, _db) = server(a, trusted_proxy).await;
    let http = client();
    for (path, status) in [("/", StatusCode::OK), ("/nowhere", StatusCode::NOT_FOUND)] {
        let id = "req-42.proxy_ID:7~";
        let r = send(http.get(format!("{base}{path}")).header("X-Request-Id", id)).await;
        assert_eq!(r.status(), status);
        assert_eq!(id_of(&r), id);
    }
    // The longest id kept.
    let long = "x".repeat(agora_core::http::REQUEST_ID_MAX_LEN);
    let r = send(http.get(format!("{base}/")).header("X-Request-Id", &long)).await;
    assert_eq!(id_of(&r), long);
}

async fn an_id_from_an_untrusted_client_is_replaced(a: Adapter) {
    let (base, _db) = server(a, |_| {}).await;
    let r = send(
        client()
            .get(format!("{base}/"))
            .header("X-Request-Id", "chosen-by-me"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let id = id_of(&r);
    assert_ne!(id, "chosen-by-me");
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
}

async fn an_invalid_id_is_replaced_even_behind_a_trusted_proxy(a: Adapter) {
    let (base, _db) = server(a, trusted_proxy).await;
    let http = client();
    let too_long = "x".repeat(agora_core::http::REQUEST_ID_MAX_LEN + 1);
    let invalid: [&[u8]; 5] = [
        b"two words",
        b"tab\tinside",
        "caf\u{e9}".as_bytes(),
        b"",
        too_long.as_bytes(),
    ];
    for sent in invalid {
        let value = reqwest::header::HeaderValue::from_bytes(sent).expect("a header value");
        let r = send(http.get(format!("{base}/")).header("X-Request-Id", value)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let id = id_of(&r);
        assert_ne!(id.as_bytes(), sent);
        assert_eq!(id.len(), 36, "a generated UUID: {id}");
    }
}

async fn every_answer_carries_its_own_id(a: Adapter) {
    let (base, _db) = server(a, |c| {
        c.server.body_limit = 1024;
        c.throttle.enabled = true;
        c.throttle.register_ip.max = 1;
    })
    .await;
    let http = client();
    let url = |path: &str| format!("{base}{path}");
    let register = |email: &str| {
        http.post(url("/users"))
            .json(&json!({"email": email, "password": PASSWORD}))
    };
    let answers = [
        (send(http.get(url("/"))).await, StatusCode::OK),
        (
            send(http.get(url("/posts/x/y/z"))).await,
            StatusCode::NOT_FOUND,
        ),
        (
            send(http.patch(url("/posts"))).await,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            send(http.get(url("/users/me"))).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            send(http.get(url("/users/me")).bearer_auth("not.a.token")).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            send(
                http.post(url("/login"))
                    .header("Content-Type", "application/json")
                    .body(vec![b' '; 4096]),
            )
            .await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            send(
                http.post(url("/login"))
                    .header("Content-Type", "application/json")
                    .body("{"),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            send(register("first@example.com")).await,
            StatusCode::CREATED,
        ),
        (
            send(register("second@example.com")).await,
            StatusCode::TOO_MANY_REQUESTS,
        ),
    ];
    let mut ids = HashSet::new();
    for (r, status) in &answers {
        assert_eq!(r.status(), *status, "{:?}", r.url().path());
        assert!(ids.insert(id_of(r)), "ids repeat: {ids:?}");
    }
}

for_both_adapters!(
    a_trusted_proxys_id_round_trips,
    an_id_from_an_untrusted_client_is_replaced,
    an_invalid_id_is_replaced_even_behind_a_trusted_proxy,
    every_answer_carries_its_own_id,
);

/// Not a test: the server of [`child`], in a child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for the request id log tests"]
async fn child_server() {
    child::serve_if_child().await;
}

/// Runs the child server of `adapter` with JSON logs, GETs `paths` (each
/// with an untrusted `X-Request-Id`), stops it: the answers' ids and every
/// JSON log line it wrote.
async fn logs_of(adapter: &str, paths: &[&str]) -> (Vec<String>, Vec<Value>) {
    let server = Child::start(adapter, &[("AGORA_LOG_FORMAT", "json")]);
    let http = client();
    let mut ids = Vec::new();
    for path in paths {
        let url = format!("{}{path}", server.base);
        let r = send(http.get(url).header("X-Request-Id", "untrusted")).await;
        ids.push(id_of(&r));
    }
    let logs = server
        .stop()
        .await
        .iter()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    (ids, logs)
}

/// The `request_id` of the spans a JSON log line was written in.
fn span_ids(line: &Value) -> Vec<&str> {
    line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|span| span["request_id"].as_str())
        .collect()
}

async fn json_log_lines_carry_the_request_id(adapter: &str) {
    let (ids, logs) = logs_of(adapter, &["/", "/nowhere", "/users/me"]).await;
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3, "{ids:?}");
    for (id, (path, status)) in ids
        .iter()
        .zip([("/", 200), ("/nowhere", 404), ("/users/me", 401)])
    {
        let lines: Vec<&Value> = logs
            .iter()
            .filter(|line| span_ids(line).contains(&id.as_str()))
            .collect();
        let finished = lines
            .iter()
            .find(|line| line["fields"]["message"] == "request finished")
            .unwrap_or_else(|| panic!("no log line of {path} with {id}: {logs:#?}"));
        assert_eq!(finished["fields"]["status"], status, "{finished}");
        assert_eq!(finished["span"]["url.path"], path, "{finished}");
        assert_eq!(finished["span"]["request_id"], id.as_str(), "{finished}");
    }
    // Every line written inside a request's span names the request.
    for line in &logs {
        let in_request = line["spans"]
            .as_array()
            .is_some_and(|spans| spans.iter().any(|s| s["name"] == "request"));
        if in_request {
            let found = span_ids(line);
            assert!(found.iter().any(|id| ids.iter().any(|i| i == id)), "{line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_json_log_lines_carry_the_request_id() {
    json_log_lines_carry_the_request_id("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocket_json_log_lines_carry_the_request_id() {
    json_log_lines_carry_the_request_id("rocket").await;
}
