//! A database that goes away and comes back: requests fail fast with a JSON
//! 503, `/health` says 503, and the server recovers by itself, with no
//! restart. The database sits behind a TCP proxy that the test stops and
//! starts.

use agora_contract::harness as common;

use std::time::{Duration, Instant};

use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use common::{Proxy, eventually, via};
use serde_json::{Value, json};

async fn survives_an_outage(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let (_, target) = via(db.url(), "127.0.0.1:1".parse().expect("addr"));
    let mut proxy = Proxy::start(&target).await;
    let (url, _) = via(db.url(), proxy.addr);
    let mut config = common::config_for(&db);
    config.server.database_url = url;
    config.server.pool.acquire_timeout = Duration::from_secs(1);
    let base = common::spawn_axum(config).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let creds = json!({"email": "outage@example.com", "password": "a long enough password"});
    let status = http
        .post(format!("{base}/users"))
        .json(&creds)
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(status, 201);
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&creds)
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();
    let posts = || http.get(format!("{base}/posts")).bearer_auth(&token).send();
    assert_eq!(posts().await.expect("send").status(), 200);

    proxy.stop().await;
    for path in ["/health", "/posts"] {
        let started = Instant::now();
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 503, "{path} while the database is down");
        let body: Value = response.json().await.expect("json body");
        assert!(body["detail"].is_string(), "{body}");
        assert!(
            elapsed < Duration::from_secs(5),
            "{path} took {elapsed:?}: it must fail fast"
        );
    }

    proxy.restart().await;
    let recovered = eventually(Duration::from_secs(15), || async {
        matches!(http.get(format!("{base}/health")).send().await, Ok(r) if r.status() == 200)
    })
    .await;
    assert!(recovered, "/health recovers once the database is back");
    assert_eq!(
        posts().await.expect("send").status(),
        200,
        "requests work again, no restart"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_gives_503_then_recovers_without_restart() {
    survives_an_outage(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_outage_gives_503_then_recovers_without_restart() {
    survives_an_outage(Backend::MySql).await;
}
