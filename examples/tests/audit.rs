//! Every login success and failure, refresh, logout, password change and
//! account deletion, password reset and address verification is an
//! `agora::audit` tracing event with the user, the
//! session and the client IP, in one shape (README, "Audit log"): plain
//! values, the IP as a string, the normalised address of a refused login;
//! no log line ever contains a password or a token. One test in its own
//! binary: it owns the global subscriber.

use agora_contract::harness as common;

use agora_contract::logs::CapturedLogs;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_are_audited_without_secrets() {
    let captured = CapturedLogs::install("info");

    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let sink = agora_sqlx::testing::SmtpSink::start().await;
    let mut config = common::config_for(&db);
    config.mail.public_url = Some(url::Url::parse("https://app.example.com").expect("url"));
    config.mail.smtp_url = Some(sink.url());
    config.mail.from = Some("no-reply@example.com".to_owned());
    let base = common::spawn_axum(config).await;
    let http = reqwest::Client::new();
    let password = "audit me please 123";
    let new_password = "a brand new password 456";
    let creds = json!({"email": "audit@example.com", "password": password});
    http.post(format!("{base}/users"))
        .json(&creds)
        .send()
        .await
        .expect("register");
    let failed = json!({"email": "audit@example.com", "password": "wrong-password-789"});
    http.post(format!("{base}/login"))
        .json(&failed)
        .send()
        .await
        .expect("login");
    let login: Value = http
        .post(format!("{base}/login"))
        .json(&creds)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let refresh = login["refresh_token"].as_str().expect("refresh");
    let tokens: Value = http
        .post(format!("{base}/token/refresh"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let access = tokens["access_token"].as_str().expect("access");
    http.put(format!("{base}/users/me/password"))
        .bearer_auth(access)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .expect("change");
    let second: Value = http
        .post(format!("{base}/login"))
        .json(&json!({"email": "audit@example.com", "password": new_password}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let second_access = second["access_token"].as_str().expect("access");
    http.post(format!("{base}/logout"))
        .bearer_auth(access)
        .send()
        .await
        .expect("logout");
    http.delete(format!("{base}/users/me"))
        .bearer_auth(second_access)
        .json(&json!({"password": new_password}))
        .send()
        .await
        .expect("delete");

    // Account mail: the reset and verification tokens never reach the log.
    let mailed = json!({"email": "mailed@example.com", "password": password});
    http.post(format!("{base}/users"))
        .json(&mailed)
        .send()
        .await
        .expect("register");
    let mut tokens = Vec::new();
    for (path, next) in [
        ("/forgot-password", "/reset-password"),
        ("/request-verify-token", "/verify"),
    ] {
        http.post(format!("{base}{path}"))
            .json(&json!({"email": "mailed@example.com"}))
            .send()
            .await
            .expect("mail request");
        let mail = sink
            .next_mail(std::time::Duration::from_secs(15))
            .await
            .expect("a mail");
        let link = mail.link().expect("link");
        let token = link.split_once("token=").expect("token").1.to_owned();
        http.post(format!("{base}{next}"))
            .json(&json!({"token": token, "new_password": new_password}))
            .send()
            .await
            .expect("token used");
        tokens.push(token);
    }

    let log = captured.text();
    let audit: Vec<&str> = log.lines().filter(|l| l.contains("agora::audit")).collect();
    let has = |event: &str, outcome: Option<&str>| {
        audit.iter().any(|l| {
            l.contains(&format!("event=\"{event}\""))
                && outcome.is_none_or(|o| l.contains(&format!("outcome=\"{o}\"")))
        })
    };
    for (event, outcome) in [
        ("register", None),
        ("login", Some("failure")),
        ("login", Some("success")),
        ("refresh", Some("success")),
        ("password_change", Some("success")),
        ("logout", None),
        ("account_deletion", Some("success")),
        ("mail_sent", None),
        ("password_reset", Some("success")),
        ("verify_email", Some("success")),
    ] {
        assert!(
            has(event, outcome),
            "no {event} {outcome:?} event in:\n{}",
            audit.join("\n")
        );
    }
    let success = audit
        .iter()
        .find(|l| l.contains("event=\"login\"") && l.contains("outcome=\"success\""))
        .expect("login success");
    assert!(
        success.contains("user_id=") && success.contains(r#"ip="127.0.0.1""#),
        "{success}"
    );
    // A refused login names the normalised address it tried.
    let failure = audit
        .iter()
        .find(|l| l.contains("event=\"login\"") && l.contains("outcome=\"failure\""))
        .expect("login failure");
    assert!(
        failure.contains(r#"email="audit@example.com""#) && failure.contains(r#"ip="127.0.0.1""#),
        "{failure}"
    );
    // One shape: every field a plain value (no `Some(...)`), the IP a string.
    for line in &audit {
        assert!(line.contains("event=\""), "{line}");
        assert!(!line.contains("Some("), "{line}");
        assert!(
            line.match_indices(" ip=")
                .all(|(at, _)| line[at + 4..].starts_with('"')),
            "{line}"
        );
    }
    let refreshed = audit
        .iter()
        .find(|l| l.contains("event=\"refresh\""))
        .expect("refresh");
    assert!(refreshed.contains("session_id="), "{refreshed}");

    for secret in [
        password,
        new_password,
        "wrong-password-789",
        refresh,
        access,
        second_access,
        &tokens[0],
        &tokens[1],
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}
