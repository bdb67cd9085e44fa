//! Password reset and address verification over HTTP, with mail delivered
//! by SMTP to a real SMTP server the test starts (`SmtpSink`), through both
//! adapters on every backend: the mails' envelope, headers and links, the
//! single use of tokens, sessions ended by a reset, links that ignore the
//! request's host, and the per-address cap under concurrency across servers.

use agora_contract::harness::{self as common, Adapter};
use agora_contract::on_both_adapters_and_every_backend;

use std::time::Duration;

use agora_core::Config;
use agora_sqlx::Backend;
use agora_sqlx::testing::{ReceivedMail, SmtpSink, TestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://app.agora.test/base";
const FROM: &str = "no-reply@agora.test";
const PASSWORD: &str = "plum orchard at dusk";
const NEW_PASSWORD: &str = "lanterns over the harbour";
/// How long a mail may take to arrive.
const MAIL_WAIT: Duration = Duration::from_secs(15);
/// How long to wait to be sure no further mail comes.
const QUIET: Duration = Duration::from_millis(1500);

/// A server of one adapter over a fresh database, mailing to a sink.
struct Server {
    base: String,
    sink: SmtpSink,
    http: reqwest::Client,
    _db: TestDatabase,
}

/// The mail settings of these tests, with the sink as SMTP server.
fn mail_config(db: &TestDatabase, sink: &SmtpSink) -> Config {
    let mut config = common::config_for(db);
    config.mail.public_url = Some(url::Url::parse(PUBLIC_URL).expect("url"));
    config.mail.smtp_url = Some(sink.url());
    config.mail.from = Some(format!("Agora <{FROM}>"));
    config.mail.retry_base = Duration::from_millis(100);
    config
}

async fn start(
    adapter: Adapter,
    backend: Backend,
    adjust: impl FnOnce(&mut Config),
) -> Option<Server> {
    let db = TestDatabase::create(backend).await?;
    let sink = SmtpSink::start().await;
    let mut config = mail_config(&db, &sink);
    adjust(&mut config);
    let base = common::spawn(adapter, config).await;
    Some(Server {
        base,
        sink,
        http: client(),
        _db: db,
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn unique_email() -> String {
    format!("user-{}@example.com", agora_core::crypto::random_hex(6))
}

impl Server {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        reqwest_post(&self.http, &self.base, path, body).await
    }

    async fn register(&self, email: &str) -> Value {
        let (status, user) = self
            .post("/users", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        user
    }

    async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.post("/login", json!({"email": email, "password": password}))
            .await
    }

    async fn me(&self, access: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(format!("{}/users/me", self.base))
            .bearer_auth(access)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn mail(&self) -> ReceivedMail {
        self.sink
            .next_mail(MAIL_WAIT)
            .await
            .expect("a mail within the wait")
    }

    async fn no_more_mail(&self) {
        if let Some(mail) = self.sink.next_mail(QUIET).await {
            panic!("unexpected mail to {:?}", mail.rcpt_to);
        }
    }
}

/// The token of a link, checking that the link is `{PUBLIC_URL}/{path}?token=`.
fn token_of(link: &str, path: &str) -> String {
    let prefix = format!("{PUBLIC_URL}/{path}?token=");
    assert!(link.starts_with(&prefix), "{link} is not under {prefix}");
    let token = &link[prefix.len()..];
    assert!(token.len() >= 32, "at least 128 bits: {token}");
    token.to_owned()
}

/// Checks the envelope and headers of a mail to `to`, and returns its link.
fn check_mail(mail: &ReceivedMail, to: &str, subject: &str) -> String {
    assert_eq!(mail.rcpt_to, [to], "one recipient");
    assert_eq!(mail.mail_from, FROM);
    let from = mail.header("From").expect("From");
    assert!(from.contains(FROM), "From: {from}");
    let to_header = mail.header("To").expect("To");
    assert!(to_header.contains(to), "To: {to_header}");
    assert_eq!(mail.header("Subject").as_deref(), Some(subject));
    let link = mail.link().expect("a link in the text part");
    let html = mail.html().expect("an HTML alternative");
    assert!(html.contains(&link), "the HTML part links {link}: {html}");
    link
}

async fn reset_flow(adapter: Adapter, backend: Backend) {
    let Some(server) = start(adapter, backend, |_| {}).await else {
        return;
    };
    let email = unique_email();
    let user = server.register(&email).await;
    assert_eq!(user["email_verified"], false);
    let (status, tokens) = server.login(&email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    // The same answer for an unknown address and a registered one.
    let unknown = server
        .post("/forgot-password", json!({"email": unique_email()}))
        .await;
    let known = server
        .post("/forgot-password", json!({"email": email.to_uppercase()}))
        .await;
    assert_eq!(unknown.0, StatusCode::ACCEPTED);
    assert_eq!(unknown, known);
    let mail = server.mail().await;
    let link = check_mail(&mail, &email, "Reset your password");
    let token = token_of(&link, "reset-password");
    server.no_more_mail().await;

    // A weak password is refused and the token stays usable.
    let (status, body) = server
        .post(
            "/reset-password",
            json!({"token": token, "new_password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A reset token never verifies an address.
    let (status, body) = server.post("/verify", json!({"token": token})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VERIFY_USER_BAD_TOKEN"))
    );
    let (status, body) = server
        .post(
            "/reset-password",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Every session ended; the old password is gone, the new one works.
    assert_eq!(server.me(&access).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .post("/token/refresh", json!({"refresh_token": refresh}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.login(&email, PASSWORD).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(server.login(&email, NEW_PASSWORD).await.0, StatusCode::OK);

    // Single use; garbage is the same 400.
    for token in [token.as_str(), "nonsense", ""] {
        let (status, body) = server
            .post(
                "/reset-password",
                json!({"token": token, "new_password": "another fine password"}),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("RESET_PASSWORD_BAD_TOKEN")),
            "{token:?}"
        );
    }
}

async fn verification_flow(adapter: Adapter, backend: Backend) {
    let Some(server) = start(adapter, backend, |c| c.mail.require_verified_email = true).await
    else {
        return;
    };
    let email = unique_email();
    server.register(&email).await;
    // A correct password, an unverified address: refused with its own code;
    // a wrong password is the usual answer.
    let (status, body) = server.login(&email, PASSWORD).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("LOGIN_USER_NOT_VERIFIED"))
    );
    let (status, body) = server.login(&email, "not the password at all").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("INVALID_CREDENTIALS"))
    );

    // The SMTP server refuses the first delivery: it is retried.
    server.sink.fail_next(1);
    let (status, _) = server
        .post("/request-verify-token", json!({"email": email}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mail = server.mail().await;
    assert_eq!(server.sink.refused(), 1);
    let link = check_mail(&mail, &email, "Confirm your email address");
    let token = token_of(&link, "verify");
    let (status, body) = server
        .post(
            "/reset-password",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("RESET_PASSWORD_BAD_TOKEN"))
    );
    let (status, user) = server.post("/verify", json!({"token": token})).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["email_verified"], true);
    let (status, body) = server.post("/verify", json!({"token": token})).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("VERIFY_USER_BAD_TOKEN"))
    );
    let (status, tokens) = server.login(&email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let me = server
        .me(tokens["access_token"].as_str().expect("access"))
        .await
        .1;
    assert_eq!(me["email_verified"], true);
    // Verified already: nothing more is sent.
    let (status, _) = server
        .post("/request-verify-token", json!({"email": email}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    server.no_more_mail().await;
}

async fn concurrent_resets_with_one_token_give_one_204(adapter: Adapter, backend: Backend) {
    let Some(server) = start(adapter, backend, |_| {}).await else {
        return;
    };
    let email = unique_email();
    server.register(&email).await;
    server
        .post("/forgot-password", json!({"email": email}))
        .await;
    let token = token_of(&server.mail().await.link().expect("link"), "reset-password");
    let attempts: Vec<_> = (0..100)
        .map(|i| {
            let (http, url, token) = (
                server.http.clone(),
                format!("{}/reset-password", server.base),
                token.clone(),
            );
            tokio::spawn(async move {
                let password = format!("{NEW_PASSWORD} {i}");
                let response = http
                    .post(url)
                    .json(&json!({"token": token, "new_password": password}))
                    .send()
                    .await
                    .expect("request");
                (response.status(), password)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        let (status, password) = attempt.await.expect("task");
        match status {
            StatusCode::NO_CONTENT => winners.push(password),
            StatusCode::BAD_REQUEST => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one reset: {winners:?}");
    assert_eq!(server.login(&email, &winners[0]).await.0, StatusCode::OK);
}

on_both_adapters_and_every_backend!(
    reset_flow,
    verification_flow,
    concurrent_resets_with_one_token_give_one_204,
);

/// A forged `Host` and `X-Forwarded-Host` (even with a trusted proxy
/// configured) change nothing in the link.
async fn links_ignore_host_and_forwarded_host(adapter: Adapter) {
    let Some(server) = start(adapter, Backend::Sqlite, |c| {
        c.proxy.header = Some("X-Forwarded-For".to_owned());
    })
    .await
    else {
        return;
    };
    let email = unique_email();
    server.register(&email).await;
    let response = server
        .http
        .post(format!("{}/forgot-password", server.base))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .header("forwarded", "host=evil.example;proto=http")
        .json(&json!({"email": email}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let link = server.mail().await.link().expect("link");
    token_of(&link, "reset-password");
    assert!(!link.contains("evil"), "{link}");
}

/// Addresses carrying header content are refused before anything is sent.
async fn addresses_with_header_content_are_422(adapter: Adapter) {
    let Some(server) = start(adapter, Backend::Sqlite, |_| {}).await else {
        return;
    };
    let email = unique_email();
    server.register(&email).await;
    for bad in [
        format!("{email}\r\nBcc: eve@evil.example"),
        format!("{email}\nSubject: hi"),
        format!("{email}, eve@evil.example"),
        format!("Eve <{email}>"),
    ] {
        for path in ["/forgot-password", "/request-verify-token"] {
            let (status, body) = server.post(path, json!({"email": bad})).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path} {bad:?}");
            assert_eq!(body["detail"][0]["loc"], json!(["body", "email"]));
        }
    }
    server.no_more_mail().await;
}

agora_contract::for_both_adapters!(
    links_ignore_host_and_forwarded_host,
    addresses_with_header_content_are_422
);

/// 100 requests for one address spread over two servers sharing the
/// database, all at once: every one answers 202, exactly 3 mails go out.
async fn mail_caps_hold_across_servers(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let sink = SmtpSink::start().await;
    let config = mail_config(&db, &sink);
    let bases = [
        common::spawn_axum(config.clone()).await,
        common::spawn_axum(config).await,
    ];
    let http = client();
    let email = unique_email();
    let (status, _) = reqwest_post(
        &http,
        &bases[0],
        "/users",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let requests: Vec<_> = (0..100)
        .map(|i| {
            let (http, base, email) = (http.clone(), bases[i % 2].clone(), email.clone());
            tokio::spawn(async move {
                let path = if i % 3 == 0 {
                    "/request-verify-token"
                } else {
                    "/forgot-password"
                };
                reqwest_post(&http, &base, path, json!({"email": email}))
                    .await
                    .0
            })
        })
        .collect();
    for request in requests {
        assert_eq!(request.await.expect("task"), StatusCode::ACCEPTED);
    }
    for _ in 0..3 {
        let mail = sink.next_mail(MAIL_WAIT).await.expect("three mails");
        assert_eq!(mail.rcpt_to, [email.as_str()]);
    }
    assert!(
        sink.next_mail(Duration::from_secs(3)).await.is_none(),
        "at most 3 mails per address"
    );
}

async fn reqwest_post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

agora_contract::on_every_backend!(mail_caps_hold_across_servers);
