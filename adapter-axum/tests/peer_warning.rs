//! Per-IP throttling cannot be lost silently: a request served without the
//! client's address (axum's `serve` without
//! `into_make_service_with_connect_info`) logs one WARN per process naming
//! the fix. Its own test binary: the warning is once per process.

#![allow(clippy::unwrap_used)]

use agora_contract::harness::test_app;
use agora_contract::logs::CapturedLogs;

/// The peer-address warnings logged so far, each checked to name the fix.
fn warnings(logs: &CapturedLogs) -> usize {
    let lines = logs.warnings_containing("without the client's address");
    for line in &lines {
        assert!(
            line.contains("into_make_service_with_connect_info") && line.contains("serve_router"),
            "the warning names the fix: {line}"
        );
    }
    lines.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_peer_address_is_warned_about_once_per_process() {
    let logs = CapturedLogs::install("warn");
    let t = test_app().await;
    let login = |url: String| async move {
        reqwest::Client::new()
            .post(format!("{url}/login"))
            .form(&[("username", "nobody@example.com"), ("password", "wrong")])
            .send()
            .await
            .unwrap()
            .status()
    };

    // Served with the peer address: no warning.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let with_peer = format!("http://{}", listener.local_addr().unwrap());
    let router = agora_axum::router(t.agora.clone());
    let config = t.config.clone();
    tokio::spawn(async move {
        agora_axum::serve_router(listener, router, &config, std::future::pending())
            .await
            .unwrap();
    });
    assert_eq!(login(with_peer.clone()).await, 403);
    assert_eq!(warnings(&logs), 0);

    // `axum::serve(listener, app)`, the mistake: one warning, however many requests.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let without_peer = format!("http://{}", listener.local_addr().unwrap());
    let router = agora_axum::router(t.agora.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    for _ in 0..3 {
        assert_eq!(login(without_peer.clone()).await, 403);
    }
    assert_eq!(login(with_peer).await, 403);
    assert_eq!(warnings(&logs), 1);
}
