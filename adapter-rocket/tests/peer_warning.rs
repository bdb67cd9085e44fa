//! A request without the client's address (rocket's local client without
//! `.remote(..)`) cannot be throttled per IP: one WARN per process says so.
//! Its own test binary: the warning is once per process.

#![allow(clippy::unwrap_used)]

use agora_contract::logs::CapturedLogs;
use rocket::local::asynchronous::Client;

/// The peer-address warnings logged so far.
fn warnings(logs: &CapturedLogs) -> usize {
    logs.warnings_containing("without the client's address")
        .len()
}

#[rocket::async_test]
async fn a_missing_peer_address_is_warned_about_once_per_process() {
    let logs = CapturedLogs::install("warn");
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
    assert_eq!(warnings(&logs), 0);
    for _ in 0..3 {
        assert_eq!(login().dispatch().await.status().code, 403);
    }
    assert_eq!(warnings(&logs), 1);
}
