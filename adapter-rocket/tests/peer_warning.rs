//! A request without the client's address (rocket's local client without
//! `.remote(..)`) cannot be throttled per IP: one WARN per process says so.
//! Its own test binary: the warning is once per process.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use rocket::local::asynchronous::Client;

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
            .count()
    }
}

#[rocket::async_test]
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
    let t = agora_contract::harness::test_app().await;
    let client = Client::untracked(agora_rocket::app(t.agora.clone(), &t.config))
        .await
        .unwrap();
    let login = || {
        client
            .post("/login")
            .header(rocket::http::ContentType::Form)
            .body("username=nobody@example.com&password=wrong")
    };
    let status = login()
        .remote("127.0.0.1:4000".parse().unwrap())
        .dispatch()
        .await
        .status();
    assert_eq!(status.code, 403);
    assert_eq!(captured.warnings(), 0);
    for _ in 0..3 {
        assert_eq!(login().dispatch().await.status().code, 403);
    }
    assert_eq!(captured.warnings(), 1);
}
