//! Per-IP throttling cannot be lost silently: a request served without the
//! client's address (axum's `serve` without
//! `into_make_service_with_connect_info`) logs one WARN per process naming
//! the fix. Its own test binary: the warning is once per process.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use agora_contract::harness::test_app;

/// Everything logged, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn warnings(&self) -> usize {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter(|line| line.contains("WARN") && line.contains("without the client's address"))
            .inspect(|line| {
                assert!(
                    line.contains("into_make_service_with_connect_info")
                        && line.contains("serve_router"),
                    "the warning names the fix: {line}"
                );
            })
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_peer_address_is_warned_about_once_per_process() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
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
    assert_eq!(captured.warnings(), 0);

    // `axum::serve(listener, app)`, the mistake: one warning, however many requests.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let without_peer = format!("http://{}", listener.local_addr().unwrap());
    let router = agora_axum::router(t.agora.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    for _ in 0..3 {
        assert_eq!(login(without_peer.clone()).await, 403);
    }
    assert_eq!(login(with_peer).await, 403);
    assert_eq!(captured.warnings(), 1);
}
