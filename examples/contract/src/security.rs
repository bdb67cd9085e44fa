//! The security suite: issue 6's rules and attacks, one case each, over
//! HTTP against one adapter (each case on its own server and SQLite
//! database, so throttling counters do not leak between cases). Each
//! adapter crate runs every case with [`crate::security_suite!`]; a case's
//! name says what it checks.

#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::time::Duration;

use agora_core::Config;

use crate::harness::{self as common, Adapter};
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

/// A server of one adapter over a fresh database, and a client for it.
struct Server {
    base: String,
    http: Client,
    db: TestDatabase,
}

async fn server(adapter: Adapter, tune: impl FnOnce(&mut Config)) -> Server {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    config.throttle.enabled = true;
    tune(&mut config);
    let base = common::spawn(adapter, config).await;
    let http = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    Server { base, http, db }
}

struct Tokens {
    access: String,
    refresh: String,
}

impl Server {
    async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Response {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    async fn register(&self, email: &str) {
        let r = self
            .post(
                "/users",
                json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "register {email}");
    }

    async fn login_raw(
        &self,
        email: &str,
        password: &str,
        forwarded_for: Option<&str>,
    ) -> Response {
        let mut request = self
            .http
            .post(format!("{}/login", self.base))
            .form(&[("username", email), ("password", password)]);
        if let Some(ip) = forwarded_for {
            request = request.header("X-Forwarded-For", ip);
        }
        request.send().await.expect("request")
    }

    async fn login(&self, email: &str) -> Tokens {
        let r = self.login_raw(email, PASSWORD, None).await;
        assert_eq!(r.status(), StatusCode::OK, "login {email}");
        let body: Value = r.json().await.expect("json");
        Tokens {
            access: body["access_token"].as_str().expect("access").to_owned(),
            refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    async fn refresh(&self, refresh_token: &str) -> Response {
        self.post(
            "/token/refresh",
            json!({"refresh_token": refresh_token}),
            None,
        )
        .await
    }

    async fn me_status(&self, access: &str) -> StatusCode {
        self.get("/users/me", access).await.status()
    }
}

async fn tokens_of(response: Response) -> Tokens {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    Tokens {
        access: body["access_token"].as_str().expect("access").to_owned(),
        refresh: body["refresh_token"].as_str().expect("refresh").to_owned(),
    }
}

/// The challenge of a 401 without a bearer token (a refresh token is sent
/// in the body, not as a bearer token).
const PLAIN: &str = "Bearer";
/// The challenge of a 401 for a bearer token that was sent and refused.
const INVALID_TOKEN: &str = r#"Bearer error="invalid_token""#;

async fn is_401(response: Response, challenge: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], challenge);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"detail": "Could not validate credentials", "code": "UNAUTHORIZED"})
    );
}

pub async fn login_returns_a_refresh_token_and_refresh_rotates_it(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("rot@example.com").await;
    let first = s.login("rot@example.com").await;
    assert!(first.refresh.len() >= 64, "at least 256 bits");
    let second = tokens_of(s.refresh(&first.refresh).await).await;
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    assert_eq!(s.me_status(&second.access).await, StatusCode::OK);
    let third = tokens_of(s.refresh(&second.refresh).await).await;
    assert_eq!(s.me_status(&third.access).await, StatusCode::OK);
}

pub async fn replayed_refresh_token_revokes_the_whole_session(a: Adapter) {
    let s = server(a, |c| c.sessions.reuse_grace = Duration::from_millis(1)).await;
    s.register("replay@example.com").await;
    let first = s.login("replay@example.com").await;
    let second = tokens_of(s.refresh(&first.refresh).await).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    is_401(s.refresh(&first.refresh).await, PLAIN).await;
    // The family is gone: the rotated token and the session's access tokens too.
    is_401(s.refresh(&second.refresh).await, PLAIN).await;
    assert_eq!(s.me_status(&second.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(s.me_status(&first.access).await, StatusCode::UNAUTHORIZED);
}

pub async fn reuse_inside_the_grace_window_is_a_concurrent_retry_not_theft(a: Adapter) {
    let s = server(a, |_| {}).await; // default grace: 10 s
    s.register("grace@example.com").await;
    let first = s.login("grace@example.com").await;
    let second = tokens_of(s.refresh(&first.refresh).await).await;
    let retry = tokens_of(s.refresh(&first.refresh).await).await;
    // The retry continues the same chain (issue 11: one chain per session).
    assert_eq!(retry.refresh, second.refresh);
    assert_eq!(
        s.me_status(&second.access).await,
        StatusCode::OK,
        "session still alive"
    );
    assert_eq!(s.me_status(&retry.access).await, StatusCode::OK);
}

pub async fn refresh_token_is_refused_as_an_access_token_and_the_reverse(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("swap@example.com").await;
    let t = s.login("swap@example.com").await;
    is_401(s.get("/users/me", &t.refresh).await, INVALID_TOKEN).await;
    is_401(s.get("/posts", &t.refresh).await, INVALID_TOKEN).await;
    is_401(s.refresh(&t.access).await, PLAIN).await;
    // Neither attempt harmed the real pair.
    assert_eq!(s.me_status(&t.access).await, StatusCode::OK);
    tokens_of(s.refresh(&t.refresh).await).await;
}

pub async fn logout_ends_access_and_refresh_tokens_at_once(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("out@example.com").await;
    let t = s.login("out@example.com").await;
    let other = s.login("out@example.com").await;
    let r = s.post("/logout", json!({}), Some(&t.access)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    is_401(s.get("/users/me", &t.access).await, INVALID_TOKEN).await;
    is_401(s.refresh(&t.refresh).await, PLAIN).await;
    assert_eq!(
        s.me_status(&other.access).await,
        StatusCode::OK,
        "other sessions go on"
    );
}

pub async fn logout_all_ends_every_session(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("all@example.com").await;
    let one = s.login("all@example.com").await;
    let two = s.login("all@example.com").await;
    let r = s.post("/logout/all", json!({}), Some(&one.access)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for t in [&one, &two] {
        is_401(s.get("/users/me", &t.access).await, INVALID_TOKEN).await;
        is_401(s.refresh(&t.refresh).await, PLAIN).await;
    }
}

pub async fn sessions_are_listed_and_can_be_ended_one_by_one(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("list@example.com").await;
    let one = s.login("list@example.com").await;
    let two = s.login("list@example.com").await;
    let listed: Value = s
        .get("/sessions", &one.access)
        .await
        .json()
        .await
        .expect("json");
    let sessions = listed.as_array().expect("array");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    for key in [
        "id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "ip",
    ] {
        assert!(sessions[0].get(key).is_some(), "{key} in {listed}");
    }
    let other = sessions
        .iter()
        .find(|s| s["current"] == false)
        .expect("the other one");
    let id = other["id"].as_str().expect("id");
    let r = s
        .http
        .delete(format!("{}/sessions/{id}", s.base))
        .bearer_auth(&one.access)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(s.me_status(&two.access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(s.me_status(&one.access).await, StatusCode::OK);
    let r = s
        .http
        .delete(format!("{}/sessions/{id}", s.base))
        .bearer_auth(&one.access)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "already ended");
}

pub async fn another_users_session_cannot_be_ended(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("victim@example.com").await;
    s.register("mallory@example.com").await;
    let victim = s.login("victim@example.com").await;
    let mallory = s.login("mallory@example.com").await;
    let listed: Value = s
        .get("/sessions", &victim.access)
        .await
        .json()
        .await
        .expect("json");
    let id = listed[0]["id"].as_str().expect("id");
    let r = s
        .http
        .delete(format!("{}/sessions/{id}", s.base))
        .bearer_auth(&mallory.access)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.me_status(&victim.access).await, StatusCode::OK);
}

pub async fn password_change_needs_the_current_password_and_ends_other_sessions(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("pw@example.com").await;
    let here = s.login("pw@example.com").await;
    let elsewhere = s.login("pw@example.com").await;
    let put = |body: Value| {
        s.http
            .put(format!("{}/users/me/password", s.base))
            .bearer_auth(&here.access)
            .json(&body)
            .send()
    };
    let r = put(json!({"new_password": "another long password"}))
        .await
        .expect("send");
    assert_eq!(
        r.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "current_password is required"
    );
    let r = put(
        json!({"current_password": "wrong password!", "new_password": "another long password"}),
    )
    .await
    .expect("send");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = put(json!({"current_password": PASSWORD, "new_password": "short"}))
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = put(json!({"current_password": PASSWORD, "new_password": "another long password"}))
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        s.me_status(&here.access).await,
        StatusCode::OK,
        "this session goes on"
    );
    is_401(s.get("/users/me", &elsewhere.access).await, INVALID_TOKEN).await;
    is_401(s.refresh(&elsewhere.refresh).await, PLAIN).await;
    assert_eq!(
        s.login_raw("pw@example.com", PASSWORD, None).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = s
        .login_raw("pw@example.com", "another long password", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

pub async fn deleted_accounts_tokens_are_401_never_500(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("bye@example.com").await;
    let t = s.login("bye@example.com").await;
    let me: Value = s
        .get("/users/me", &t.access)
        .await
        .json()
        .await
        .expect("json");
    let post: Value = s
        .post(
            "/posts",
            json!({"title": "soon gone", "content": "x"}),
            Some(&t.access),
        )
        .await
        .json()
        .await
        .expect("json");
    let delete = |password: &str| {
        s.http
            .delete(format!("{}/users/me", s.base))
            .bearer_auth(&t.access)
            .json(&json!({"password": password}))
            .send()
    };
    assert_eq!(
        delete("not my password").await.expect("send").status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete(PASSWORD).await.expect("send").status(),
        StatusCode::NO_CONTENT
    );
    is_401(s.get("/users/me", &t.access).await, INVALID_TOKEN).await;
    is_401(
        s.get(&format!("/posts/{}", post["id"]), &t.access).await,
        INVALID_TOKEN,
    )
    .await;
    is_401(s.refresh(&t.refresh).await, PLAIN).await;
    let r = s
        .http
        .get(format!("{}/users/{}", s.base, me["id"]))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

pub async fn unknown_email_and_wrong_password_get_the_same_answer(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("known@example.com").await;
    let unknown = s.login_raw("unknown@example.com", PASSWORD, None).await;
    let wrong = s
        .login_raw("known@example.com", "not the password", None)
        .await;
    assert_eq!(unknown.status(), StatusCode::FORBIDDEN);
    assert_eq!(unknown.status(), wrong.status());
    let names = |r: &Response| {
        let mut names: Vec<String> = r
            .headers()
            .keys()
            .map(|k| k.to_string())
            .filter(|k| k != "date")
            .collect();
        names.sort();
        names
    };
    assert_eq!(names(&unknown), names(&wrong));
    let (unknown, wrong): (Value, Value) = (
        unknown.json().await.expect("json"),
        wrong.json().await.expect("json"),
    );
    assert_eq!(
        unknown,
        json!({"detail": "Invalid Credentials", "code": "INVALID_CREDENTIALS"})
    );
    assert_eq!(unknown, wrong);
}

pub async fn five_failed_logins_lock_the_account_with_retry_after(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("guessed@example.com").await;
    for _ in 0..5 {
        let r = s
            .login_raw("guessed@example.com", "wrong guess!", None)
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = s.login_raw("guessed@example.com", PASSWORD, None).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    let body: Value = r.json().await.expect("json");
    assert!(body["detail"].is_string());
    // Unknown accounts are throttled the same way: no enumeration through 429s.
    for _ in 0..5 {
        s.login_raw("nobody@example.com", "wrong guess!", None)
            .await;
    }
    assert_eq!(
        s.login_raw("nobody@example.com", "wrong guess!", None)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Asserts a 429's `Retry-After`, and its `RateLimit-Policy` and
/// `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers-12) naming
/// `policy` with `quota` per `window` seconds, no quota left, and a reset
/// equal to `Retry-After`; the wait.
fn rate_limit_fields(r: &Response, policy: &str, quota: u64, window: u64) -> u64 {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let header = |name: &str| {
        r.headers()
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .to_str()
            .expect("ascii")
            .to_owned()
    };
    let retry: u64 = header("retry-after").parse().expect("seconds");
    assert!(retry >= 1, "Retry-After {retry}");
    assert_eq!(
        header("ratelimit-policy"),
        format!("\"{policy}\";q={quota};w={window}")
    );
    assert_eq!(header("ratelimit"), format!("\"{policy}\";r=0;t={retry}"));
    retry
}

pub async fn throttled_answers_carry_the_ratelimit_fields(a: Adapter) {
    let s = server(a, |c| c.throttle.register_ip.max = 2).await;
    s.register("limited@example.com").await;
    for _ in 0..5 {
        let r = s
            .login_raw("limited@example.com", "wrong guess!", None)
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let r = s.login_raw("limited@example.com", PASSWORD, None).await;
    let retry = rate_limit_fields(&r, "login", 5, 900);
    assert!((1..=30).contains(&retry), "the first back-off: {retry}");

    s.register("second@example.com").await;
    let r = s
        .post(
            "/users",
            json!({"email": "third@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    let retry = rate_limit_fields(&r, "register", 2, 3600);
    assert!(retry <= 3600, "within the window: {retry}");
}

pub async fn expired_token_gets_the_invalid_token_challenge(a: Adapter) {
    let s = server(a, |c| {
        c.tokens.access_ttl = Duration::from_secs(1);
        c.tokens.leeway = Duration::ZERO;
    })
    .await;
    s.register("expiring@example.com").await;
    let t = tokens_of(s.login_raw("expiring@example.com", PASSWORD, None).await).await;
    assert_eq!(s.me_status(&t.access).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    is_401(s.get("/users/me", &t.access).await, INVALID_TOKEN).await;
    let anonymous = s
        .http
        .get(format!("{}/users/me", s.base))
        .send()
        .await
        .expect("request");
    is_401(anonymous, PLAIN).await;
}

pub async fn spoofed_x_forwarded_for_does_not_dodge_the_account_counter(a: Adapter) {
    let s = server(a, |_| {}).await;
    s.register("spoof@example.com").await;
    for i in 0..5 {
        let ip = format!("198.51.100.{i}");
        s.login_raw("spoof@example.com", "wrong guess!", Some(&ip))
            .await;
    }
    let r = s
        .login_raw("spoof@example.com", PASSWORD, Some("192.0.2.200"))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

pub async fn twenty_failures_from_one_ip_throttle_that_ip(a: Adapter) {
    let s = server(a, |_| {}).await;
    for i in 0..20 {
        let r = s
            .login_raw(&format!("spray{i}@example.com"), "wrong guess!", None)
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "attempt {i}");
    }
    let r = s
        .login_raw("spray-new@example.com", "wrong guess!", None)
        .await;
    // Refused by the per-IP limit, which the RateLimit fields name.
    let retry = rate_limit_fields(&r, "login-ip", 20, 60);
    assert!(retry <= 60, "within the window: {retry}");
}

pub async fn trusted_proxy_header_names_the_client_ip(a: Adapter) {
    let s = server(a, |c| c.proxy.header = Some("X-Forwarded-For".to_owned())).await;
    for i in 0..20 {
        s.login_raw(
            &format!("p{i}@example.com"),
            "wrong guess!",
            Some("203.0.113.1"),
        )
        .await;
    }
    let blocked = s
        .login_raw("p-new@example.com", "wrong guess!", Some("203.0.113.1"))
        .await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    let other_client = s
        .login_raw("p-new@example.com", "wrong guess!", Some("203.0.113.2"))
        .await;
    assert_eq!(other_client.status(), StatusCode::FORBIDDEN);
}

pub async fn registration_is_throttled_per_ip(a: Adapter) {
    let s = server(a, |c| c.throttle.register_ip.max = 3).await;
    for i in 0..3 {
        s.register(&format!("new{i}@example.com")).await;
    }
    let r = s
        .post(
            "/users",
            json!({"email": "new9@example.com", "password": PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}

pub async fn bcrypt_hash_from_the_original_app_is_upgraded_on_login(a: Adapter) {
    use agora_core::storage::Store;
    let s = server(a, |_| {}).await;
    s.register("legacy@example.com").await;
    // As the FastAPI app stored it (passlib's bcrypt), written straight to the database.
    let store = agora_sqlx::connect(s.db.url(), &agora_sqlx::PoolConfig::default())
        .await
        .expect("same database");
    let email = agora_core::Email::parse("legacy@example.com").expect("email");
    let current = store
        .find_credentials(&email)
        .await
        .expect("query")
        .expect("user");
    let legacy = bcrypt::hash("the old fastapi password", 4).expect("bcrypt");
    assert!(
        store
            .upgrade_password_hash(current.user.id, &current.password_hash, &legacy)
            .await
            .expect("plant legacy hash")
    );
    let r = s
        .login_raw("legacy@example.com", "the old fastapi password", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "legacy bcrypt hash verifies");
    let stored = store
        .find_credentials(&email)
        .await
        .expect("query")
        .expect("user")
        .password_hash;
    assert!(
        stored.starts_with("$argon2id$"),
        "rehashed to argon2id: {stored}"
    );
    let r = s
        .login_raw("legacy@example.com", "the old fastapi password", None)
        .await;
    assert_eq!(r.status(), StatusCode::OK, "and still logs in");
    let _: &dyn Store = &*store;
}

pub async fn common_password_is_rejected_at_registration(a: Adapter) {
    let s = server(a, |_| {}).await;
    for common in ["password", "12345678", "password123", "qwertyuiop"] {
        let r = s
            .post(
                "/users",
                json!({"email": "c@example.com", "password": common}),
                None,
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{common}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            body["detail"][0]["loc"],
            json!(["body", "password"]),
            "{body}"
        );
    }
}

pub async fn jwks_is_not_published_for_a_shared_secret(a: Adapter) {
    let s = server(a, |_| {}).await;
    let r = s
        .http
        .get(format!("{}/.well-known/jwks.json", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

pub async fn jwks_publishes_the_eddsa_public_key_and_tokens_use_it(a: Adapter) {
    use agora_core::crypto::keys::{JwtAlgorithm, PemKey};
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("ed25519.pem");
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .status()
        .expect("openssl genpkey runs (the openssl command line tool is needed)");
    assert!(made.success());
    let pem = PemKey::from_file(&key, "tokens.private_key").expect("key");
    let s = server(a, |c| {
        c.tokens.secret = None;
        c.tokens.algorithm = JwtAlgorithm::EdDSA;
        c.tokens.private_key = Some(pem);
    })
    .await;
    let jwks: Value = s
        .http
        .get(format!("{}/.well-known/jwks.json", s.base))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    assert!(keys[0].get("d").is_none(), "no private material");
    s.register("ed@example.com").await;
    let t = s.login("ed@example.com").await;
    use base64::Engine as _;
    let header = t.access.split('.').next().expect("header");
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64"),
    )
    .expect("json");
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], keys[0]["kid"]);
    assert_eq!(s.me_status(&t.access).await, StatusCode::OK);
}

pub async fn hide_emails_hides_other_users_addresses_but_not_ones_own(a: Adapter) {
    let s = server(a, |c| c.hide_emails = true).await;
    s.register("alice@example.com").await;
    s.register("bob@example.com").await;
    let alice = s.login("alice@example.com").await;
    let bob = s.login("bob@example.com").await;
    let post: Value = s
        .post(
            "/posts",
            json!({"title": "hi", "content": "from alice"}),
            Some(&alice.access),
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        post["owner"]["email"], "alice@example.com",
        "own address in own post"
    );
    let path = format!("/posts/{}", post["id"]);
    let seen: Value = s.get(&path, &bob.access).await.json().await.expect("json");
    assert_eq!(seen["Post"]["owner"]["email"], Value::Null);
    let listed: Value = s
        .get("/posts", &bob.access)
        .await
        .json()
        .await
        .expect("json");
    assert!(
        listed
            .as_array()
            .expect("list")
            .iter()
            .all(|p| p["Post"]["owner"]["email"].is_null())
    );
    let user: Value = s
        .http
        .get(format!("{}/users/{}", s.base, post["owner_id"]))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(user["email"], Value::Null);
    let me: Value = s
        .get("/users/me", &bob.access)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(me["email"], "bob@example.com");
    let own: Value = s
        .get(&path, &alice.access)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(own["Post"]["owner"]["email"], "alice@example.com");
}

/// One `#[tokio::test]` per security case against `$adapter` (a
/// [`crate::harness::Adapter`]).
#[macro_export]
macro_rules! security_suite {
    ($adapter:expr) => {
        $crate::security_suite!(@cases $adapter,
            login_returns_a_refresh_token_and_refresh_rotates_it,
            replayed_refresh_token_revokes_the_whole_session,
            reuse_inside_the_grace_window_is_a_concurrent_retry_not_theft,
            refresh_token_is_refused_as_an_access_token_and_the_reverse,
            logout_ends_access_and_refresh_tokens_at_once,
            logout_all_ends_every_session,
            sessions_are_listed_and_can_be_ended_one_by_one,
            another_users_session_cannot_be_ended,
            password_change_needs_the_current_password_and_ends_other_sessions,
            deleted_accounts_tokens_are_401_never_500,
            unknown_email_and_wrong_password_get_the_same_answer,
            five_failed_logins_lock_the_account_with_retry_after,
            throttled_answers_carry_the_ratelimit_fields,
            expired_token_gets_the_invalid_token_challenge,
            spoofed_x_forwarded_for_does_not_dodge_the_account_counter,
            twenty_failures_from_one_ip_throttle_that_ip,
            trusted_proxy_header_names_the_client_ip,
            registration_is_throttled_per_ip,
            bcrypt_hash_from_the_original_app_is_upgraded_on_login,
            common_password_is_rejected_at_registration,
            jwks_is_not_published_for_a_shared_secret,
            jwks_publishes_the_eddsa_public_key_and_tokens_use_it,
            hide_emails_hides_other_users_addresses_but_not_ones_own,
        );
    };
    (@cases $adapter:expr, $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::security::$case($adapter).await;
            }
        )*
    };
}
