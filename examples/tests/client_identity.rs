//! Who a client is (issue 11): its IP address on a dual-stack listener and
//! behind proxies that add their own `X-Forwarded-For` line, the one account
//! behind look-alike spellings of an email address, and a SQLite database
//! file that only its owner can read. Over HTTP against both adapters.

use agora_contract::for_both_adapters;
use agora_contract::harness::{self as common, Adapter};

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use agora_core::Config;
use agora_sqlx::Backend;
use agora_sqlx::testing::TestDatabase;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

/// Starts `adapter` on `bind` (e.g. `[::]:0`, a dual-stack listener) and
/// returns the port it listens on.
async fn spawn_on(adapter: Adapter, mut config: Config, bind: SocketAddr) -> u16 {
    config.ensure_jwt_secret().expect("secret");
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    match adapter {
        Adapter::Axum => {
            let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
            let port = listener.local_addr().expect("addr").port();
            tokio::spawn(async move {
                agora_axum::serve(listener, agora, &config, std::future::pending())
                    .await
                    .expect("server runs");
            });
            port
        }
        Adapter::Rocket => {
            config.server.bind = bind;
            let (port_tx, port_rx) = tokio::sync::oneshot::channel();
            let rocket = agora_rocket::app(agora, &config).attach(
                ::rocket::fairing::AdHoc::on_liftoff("report the port", move |rocket| {
                    Box::pin(async move {
                        let _ = port_tx.send(rocket.config().port);
                    })
                }),
            );
            tokio::spawn(async move {
                if let Err(e) = rocket.launch().await {
                    panic!("rocket failed: {e}");
                }
            });
            port_rx.await.expect("rocket lifts off")
        }
    }
}

/// An HTTP client whose connections leave from `source` (any 127.0.0.0/8
/// address is this machine's loopback on Linux).
fn client_from(source: &str) -> Client {
    Client::builder()
        .local_address(source.parse::<IpAddr>().expect("ip"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn plain_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn register(http: &Client, base: &str, email: &str) -> Response {
    http.post(format!("{base}/users"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("request")
}

/// A login with every `X-Forwarded-For` line given, in order (each its own
/// header line, as haproxy's `option forwardfor` adds one after the client's).
async fn login(
    http: &Client,
    base: &str,
    email: &str,
    password: &str,
    forwarded_lines: &[&str],
) -> Response {
    let mut request = http
        .post(format!("{base}/login"))
        .form(&[("username", email), ("password", password)]);
    for line in forwarded_lines {
        request = request.header("X-Forwarded-For", *line);
    }
    request.send().await.expect("request")
}

/// The `ip` recorded for the caller's sessions.
async fn session_ips(http: &Client, base: &str, login: Response) -> Vec<String> {
    assert_eq!(login.status(), StatusCode::OK, "login");
    let body: Value = login.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");
    let sessions: Value = http
        .get(format!("{base}/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    sessions
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["ip"].as_str().unwrap_or("<none>").to_owned())
        .collect()
}

/// Finding 1: on a `[::]` listener, IPv4 clients arrive as `::ffff:a.b.c.d`.
/// One client's 20 failed logins must throttle that client only, and
/// sessions must record the IPv4 address.
async fn ipv4_clients_on_a_dual_stack_listener_are_told_apart(adapter: Adapter) {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    config.throttle.enabled = true;
    let port = spawn_on(adapter, config, "[::]:0".parse().expect("addr")).await;
    let base = format!("http://127.0.0.1:{port}");
    let (noisy, quiet) = (client_from("127.0.0.1"), client_from("127.0.0.2"));
    assert_eq!(
        register(&quiet, &base, "quiet@example.com").await.status(),
        StatusCode::CREATED
    );
    let mut statuses = Vec::new();
    for i in 0..20 {
        let r = login(&noisy, &base, &format!("n{i}@example.com"), "wrong!", &[]).await;
        statuses.push(r.status().as_u16());
    }
    let blocked = login(&noisy, &base, "n-new@example.com", "wrong!", &[]).await;
    assert_eq!(
        blocked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the noisy client is throttled after {statuses:?}"
    );
    // The other IPv4 client is not.
    let other = login(&quiet, &base, "q-new@example.com", "wrong!", &[]).await;
    let other_status = other.status();
    let registered = register(&quiet, &base, "quiet2@example.com").await.status();
    let ok = login(&quiet, &base, "quiet@example.com", PASSWORD, &[]).await;
    let login_status = ok.status();
    let ips = if login_status == StatusCode::OK {
        session_ips(&quiet, &base, ok).await
    } else {
        Vec::new()
    };
    eprintln!(
        "{adapter:?} dual stack: other client's failed login {other_status}, \
         registration {registered}, right password {login_status}, session ips {ips:?}"
    );
    assert_eq!(login_status, StatusCode::OK, "another client's login");
    assert_eq!(
        other_status,
        StatusCode::FORBIDDEN,
        "another client's login"
    );
    assert_eq!(
        registered,
        StatusCode::CREATED,
        "another client's registration"
    );
    assert_eq!(ips, ["127.0.0.2"], "the session records the IPv4 address");
}

/// Finding 2: with `AGORA_TRUSTED_PROXY_HEADER=X-Forwarded-For`, a proxy
/// that adds its own header line after the client's (haproxy) names the
/// client; the client's own line is never used.
async fn proxy_added_forwarded_for_line_beats_the_clients_own(adapter: Adapter) {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    config.throttle.enabled = true;
    config.proxy.header = Some("X-Forwarded-For".to_owned());
    let port = spawn_on(adapter, config, "127.0.0.1:0".parse().expect("addr")).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = plain_client();
    assert_eq!(
        register(&http, &base, "fwd@example.com").await.status(),
        StatusCode::CREATED
    );
    // 20 guesses, each with a new spoofed first line, through one proxy line.
    let mut evaluated = 0;
    for i in 0..20 {
        let spoofed = format!("198.51.100.{i}");
        let r = login(
            &http,
            &base,
            &format!("g{i}@example.com"),
            "wrong!",
            &[&spoofed, "203.0.113.7"],
        )
        .await;
        evaluated += u32::from(r.status() == StatusCode::FORBIDDEN);
    }
    let next = login(
        &http,
        &base,
        "g-new@example.com",
        "wrong!",
        &["198.51.100.99", "203.0.113.7"],
    )
    .await
    .status();
    // Another client (the proxy's line differs) with the same spoofed line.
    let other = login(
        &http,
        &base,
        "g-new@example.com",
        "wrong!",
        &["198.51.100.99", "203.0.113.8"],
    )
    .await
    .status();
    let ok = login(
        &http,
        &base,
        "fwd@example.com",
        PASSWORD,
        &["198.51.100.1, 198.51.100.2", "203.0.113.9"],
    )
    .await;
    let ips = session_ips(&http, &base, ok).await;
    eprintln!(
        "{adapter:?} two X-Forwarded-For lines: {evaluated} of 20 evaluated, 21st {next}, \
         other proxy line {other}, session ips {ips:?}"
    );
    assert_eq!(evaluated, 20);
    assert_eq!(
        next,
        StatusCode::TOO_MANY_REQUESTS,
        "the proxy's line is the client"
    );
    assert_eq!(
        other,
        StatusCode::FORBIDDEN,
        "another client is not throttled"
    );
    assert_eq!(ips, ["203.0.113.9"]);
}

/// Finding 2, two trusted proxies (`AGORA_TRUSTED_PROXY_HOPS=2`): the entry
/// second from the right, across lines; with fewer entries than hops, the
/// rightmost.
async fn two_trusted_hops_take_the_second_entry_from_the_right(adapter: Adapter) {
    let db = TestDatabase::create(Backend::Sqlite).await.expect("sqlite");
    let mut config = common::config_for(&db);
    config.proxy.header = Some("X-Forwarded-For".to_owned());
    config.proxy.hops = 2;
    let port = spawn_on(adapter, config, "127.0.0.1:0".parse().expect("addr")).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = plain_client();
    for (i, (lines, expected)) in [
        (
            &["198.51.100.1", "203.0.113.20, 10.0.0.2"][..],
            "203.0.113.20",
        ),
        (
            &["198.51.100.1", "203.0.113.21", "10.0.0.2"][..],
            "203.0.113.21",
        ),
        (
            &["198.51.100.1, 203.0.113.22, 10.0.0.2"][..],
            "203.0.113.22",
        ),
        (&["10.0.0.3"][..], "10.0.0.3"),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("hops{i}@example.com");
        assert_eq!(
            register(&http, &base, &email).await.status(),
            StatusCode::CREATED
        );
        let ok = login(&http, &base, &email, PASSWORD, lines).await;
        assert_eq!(
            session_ips(&http, &base, ok).await,
            [expected],
            "{adapter:?} {lines:?}"
        );
    }
}

/// Spellings of `ada@example.com` that look the same; each must reach
/// the same account.
const SAME_ACCOUNT: [&str; 7] = [
    "ada@ｅｘａｍｐｌｅ.com",  // full-width domain
    "ada@exam\u{AD}ple.com",   // soft hyphen
    "ada@exam\u{200B}ple.com", // zero-width space
    "ada@example\u{3002}com",  // ideographic full stop
    "ada@EXAMPLE.COM",         // upper case (409 before too)
    "ａｄａ@example.com",      // full-width local part
    "ada@example\u{FF0E}com",  // full-width full stop
];

/// Spellings that look like `ada@info.example` but do not survive
/// normalisation: refused (422), never a new account.
const REFUSED: [&str; 3] = [
    "ada@\u{130}nfo.example",  // dotted capital I: `i` + U+0307
    "ada@i\u{307}nfo.example", // the same, decomposed
    "ad\u{AD}a@info.example",  // soft hyphen in the local part
];

/// Finding 3: look-alike registrations are 409 (or 422), never 201; logins
/// with a look-alike spelling reach the same account (or fail like an
/// unknown address).
async fn look_alike_emails_are_one_account(adapter: Adapter, backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let config = common::config_for(&db);
    let port = spawn_on(adapter, config, "127.0.0.1:0".parse().expect("addr")).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = plain_client();
    for email in ["ada@example.com", "ada@info.example", "ada@bücher.de"] {
        assert_eq!(
            register(&http, &base, email).await.status(),
            StatusCode::CREATED,
            "{email}"
        );
    }
    let mut seen = Vec::new();
    for email in SAME_ACCOUNT.iter().chain(&REFUSED).chain(&[
        "ada@xn--bcher-kva.de",
        "ada@BÜCHER.de",
        "ada@bu\u{308}cher.de",
    ]) {
        let status = register(&http, &base, email).await.status();
        seen.push((format!("{email:?}"), status.as_u16()));
    }
    let created: Vec<_> = seen.iter().filter(|(_, s)| *s == 201).collect();
    eprintln!("{adapter:?} {backend:?} look-alike registrations: {seen:?}");
    assert!(created.is_empty(), "look-alikes registered: {created:?}");
    for (email, status) in &seen {
        assert!([409, 422].contains(status), "{email}: {status}");
    }
    for email in SAME_ACCOUNT {
        let status = register(&http, &base, email).await.status();
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{email:?} is the same account"
        );
    }
    for email in REFUSED {
        let r = register(&http, &base, email).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email:?}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "email"]));
    }
    // Logging in with a look-alike spelling is logging in to that account...
    let canonical = login(&http, &base, "ada@example.com", PASSWORD, &[]).await;
    assert_eq!(canonical.status(), StatusCode::OK);
    for email in SAME_ACCOUNT {
        let r = login(&http, &base, email, PASSWORD, &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{email:?}");
        let token: Value = r.json().await.expect("json");
        let me: Value = http
            .get(format!("{base}/users/me"))
            .bearer_auth(token["access_token"].as_str().expect("token"))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert_eq!(me["email"], "ada@example.com", "{email:?}");
        let wrong = login(&http, &base, email, "not the password", &[]).await;
        assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "{email:?}");
    }
    let idn = login(&http, &base, "ada@xn--bcher-kva.de", PASSWORD, &[]).await;
    assert_eq!(
        idn.status(),
        StatusCode::OK,
        "Punycode spelling of bücher.de"
    );
    // ...and a refused spelling fails exactly like an unknown address.
    let unknown = login(&http, &base, "nobody@example.com", PASSWORD, &[]).await;
    let (unknown_status, unknown_body) = (unknown.status(), unknown.text().await.expect("body"));
    for email in REFUSED {
        let r = login(&http, &base, email, PASSWORD, &[]).await;
        assert_eq!(r.status(), unknown_status, "{email:?}");
        assert_eq!(r.text().await.expect("body"), unknown_body, "{email:?}");
    }
}

/// Finding 4: a SQLite database the server creates is readable and writable
/// by its owner only, and so are its `-wal` and `-shm` files; a file the
/// operator created keeps its mode.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_sqlite_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    let db = dir.path().join("fresh.db");
    let mut config = Config::default();
    config.server.database_url = format!("sqlite://{}", db.display());
    let port = spawn_on(Adapter::Axum, config, "127.0.0.1:0".parse().expect("addr")).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = plain_client();
    assert_eq!(
        register(&http, &base, "files@example.com").await.status(),
        StatusCode::CREATED
    );
    let files: Vec<_> = [
        "fresh.db",
        "fresh.db-wal",
        "fresh.db-shm",
        "fresh.db.jwt-secret",
    ]
    .iter()
    .map(|name| (*name, mode(&dir.path().join(name))))
    .collect();
    let shown: Vec<_> = files
        .iter()
        .map(|(name, m)| format!("{name}: {:o}", m.clone().unwrap_or(0)))
        .collect();
    eprintln!("modes: {shown:?}");
    for (name, found) in &files {
        assert_eq!(found, &Ok(0o600), "{name}");
    }
    // An existing file keeps the mode its owner chose.
    let existing = dir.path().join("shared.db");
    std::fs::write(&existing, b"").expect("create");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    agora_sqlx::connect(
        &format!("sqlite://{}", existing.display()),
        &agora_sqlx::PoolConfig::default(),
    )
    .await
    .expect("opens");
    assert_eq!(mode(&existing), Ok(0o640));
}

for_both_adapters!(
    ipv4_clients_on_a_dual_stack_listener_are_told_apart,
    proxy_added_forwarded_for_line_beats_the_clients_own,
    two_trusted_hops_take_the_second_entry_from_the_right,
);

macro_rules! for_every_backend {
    ($($name:ident: $adapter:ident, $backend:ident;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                look_alike_emails_are_one_account(Adapter::$adapter, Backend::$backend).await;
            }
        )*
    };
}

for_every_backend!(
    look_alike_emails_are_one_account_axum_sqlite: Axum, Sqlite;
    look_alike_emails_are_one_account_axum_postgres: Axum, Postgres;
    look_alike_emails_are_one_account_axum_mysql: Axum, MySql;
    look_alike_emails_are_one_account_rocket_sqlite: Rocket, Sqlite;
    look_alike_emails_are_one_account_rocket_postgres: Rocket, Postgres;
    look_alike_emails_are_one_account_rocket_mysql: Rocket, MySql;
);
