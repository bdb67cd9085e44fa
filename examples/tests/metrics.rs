//! `GET /metrics` on the example servers (axum, rocket, and the Conduit
//! API): the text parses as the Prometheus exposition format, requests are
//! counted exactly, by route template and never by raw path, logins by
//! outcome, and `AGORA_METRICS_BIND` moves `/metrics` to its own port.
//!
//! A process has one metrics recorder, so each test runs a fresh server in
//! a child process: [`child_server`] (this test binary, re-run with
//! `AGORA_TEST_METRICS_CHILD` naming the server), wired exactly as the
//! example servers are (`agora_axum::metrics::serve_with_metrics`,
//! `agora_rocket::metrics::{instrument, launch}`) and configured by
//! `AGORA_*` variables.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prom_text_format_parser::{Scrape, ValueType};
use serde_json::json;

/// A secret good enough to start with.
const SECRET: &str = "3f6c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
const PASSWORD: &str = "a long enough password";

/// Not a test: an example server in a child process (see the module's
/// documentation), serving until the test kills it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for the metrics tests"]
async fn child_server() {
    let Ok(server) = std::env::var("AGORA_TEST_METRICS_CHILD") else {
        return;
    };
    let code = agora_examples::main_of("warn", run(server)).await;
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 });
}

/// `examples/axum/server.rs`, `examples/axum/conduit.rs` or
/// `examples/rocket/rocket_server.rs`, by `server`.
async fn run(server: String) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = agora_core::Config::from_env()?;
    config.ensure_jwt_secret()?;
    let agora = agora_sqlx::open(&config).await?;
    let app = match server.as_str() {
        "rocket" => {
            let app = agora_rocket::app(agora.clone(), &config);
            let (rocket, metrics) = agora_rocket::metrics::instrument(app, &agora, &config)?;
            return agora_rocket::metrics::launch(rocket, metrics)
                .await
                .map_err(|e| format!("rocket: {e}").into());
        }
        "conduit" => agora_examples::conduit::router(agora.clone()),
        _ => agora_axum::router(agora.clone()),
    };
    let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
    agora_axum::metrics::serve_with_metrics(listener, app, &agora, &config, || {
        std::future::pending::<()>()
    })
    .await?;
    Ok(())
}

/// A server in a child process, killed when dropped.
struct Server {
    child: Child,
    /// The API's base URL.
    base: String,
    /// Where `/metrics` is served (the API's base unless on its own port).
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `server` (`axum`, `rocket` or `conduit`) over a fresh SQLite
    /// database, with `/metrics` on a port of its own when `own_port`.
    ///
    /// The ports are picked here and bound by the child, so another
    /// process may take one in between: a child that exits before it
    /// answers is started again on other ports, a few times.
    fn start(server: &str, own_port: bool) -> Server {
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            let [api, metrics] = free_ports();
            let mut server = Server::spawn(server, api, own_port.then_some(metrics));
            let ready = server.wait_for(api) && (!own_port || server.wait_for(metrics));
            if ready {
                return server;
            }
            eprintln!("attempt {attempt}: the server exited before it answered");
        }
        panic!("the {server} server exited before it answered, {ATTEMPTS} times");
    }

    /// Spawns the child serving the API on `api` (and `/metrics` on
    /// `metrics` when given, else beside the API).
    fn spawn(server: &str, api: SocketAddr, metrics: Option<SocketAddr>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args(["child_server", "--exact", "--ignored", "--nocapture"])
            .stdout(Stdio::null())
            .env("AGORA_TEST_METRICS_CHILD", server);
        for (name, _) in std::env::vars() {
            if name.starts_with("AGORA_") && !name.starts_with("AGORA_TEST_") {
                command.env_remove(name);
            }
        }
        let database = format!("sqlite://{}", dir.path().join("agora.db").display());
        command
            .env("AGORA_DATABASE_URL", database)
            .env("AGORA_JWT_SECRET", SECRET)
            .env("AGORA_BIND", api.to_string());
        if let Some(metrics) = metrics {
            command.env("AGORA_METRICS_BIND", metrics.to_string());
        }
        Server {
            child: command.spawn().expect("child starts"),
            base: format!("http://{api}"),
            metrics: format!("http://{}", metrics.unwrap_or(api)),
            _dir: dir,
        }
    }

    /// Waits until an HTTP server answers on `addr`; false when the child
    /// exits first. A connection alone proves nothing: a probe of a port
    /// no one listens on can connect to itself (its own ephemeral port),
    /// or reach a listener that only held the port for a moment. So the
    /// probe sends a line that is not HTTP and wants hyper's `HTTP/1.1 400`
    /// back, an answer no route sees and no metric counts.
    fn wait_for(&mut self, addr: SocketAddr) -> bool {
        let started = Instant::now();
        loop {
            if answers_http(addr) {
                return true;
            }
            if self.child.try_wait().expect("child status").is_some() {
                return false;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{addr} not answering after a minute"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether `addr` answers a malformed request as an HTTP server does.
fn answers_http(addr: SocketAddr) -> bool {
    let timeout = Duration::from_secs(2);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let mut head = [0; 5];
    stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.set_write_timeout(Some(timeout)).is_ok()
        && stream.write_all(b"NOT HTTP\r\n\r\n").is_ok()
        && stream.read_exact(&mut head).is_ok()
        && &head == b"HTTP/"
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two free ports on 127.0.0.1, never handed out before in this process
/// (the tests run side by side: a port one test has just let go of must
/// not become another's).
fn free_ports() -> [SocketAddr; 2] {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().expect("ports");
    [(); 2].map(|()| {
        loop {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let addr = listener.local_addr().expect("addr");
            if given.insert(addr.port()) {
                break addr;
            }
        }
    })
}

/// `GET {base}/metrics`: 200 in the Prometheus text format, parsed (any
/// line that is not valid exposition text fails the test).
async fn scrape(http: &reqwest::Client, base: &str) -> Scrape {
    let response = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("text");
    Scrape::parse(&text).unwrap_or_else(|e| panic!("not Prometheus text: {e:?}\n{text}"))
}

/// The sum of `name`'s sample values (histograms: their `_count`) over the
/// series whose labels include all of `labels`; 0 when there is none.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .metrics
        .iter()
        .filter(|metric| metric.name == name)
        .flat_map(|metric| &metric.samples)
        .filter(|sample| {
            matches!(
                sample.value.value_type,
                ValueType::Sample | ValueType::Count
            ) && !sample.labels.iter().any(|label| label.key == "le")
        })
        .filter(|sample| {
            labels.iter().all(|(key, value)| {
                sample
                    .labels
                    .iter()
                    .any(|label| label.key == *key && label.value == *value)
            })
        })
        .map(|sample| sample.value.value.as_f64())
        .sum()
}

/// Every value the label `key` takes in the scrape.
fn label_values(scrape: &Scrape, key: &str) -> Vec<String> {
    scrape
        .metrics
        .iter()
        .flat_map(|metric| &metric.samples)
        .flat_map(|sample| sample.labels.iter())
        .filter(|label| label.key == key)
        .map(|label| label.value.clone())
        .collect()
}

const REQUESTS: &str = "agora_http_requests_total";
const LATENCY: &str = "agora_http_request_duration_seconds";

async fn counts_requests_by_route_template(server: &str) {
    let server = Server::start(server, false);
    let http = reqwest::Client::new();
    let base = &server.base;
    let register = http
        .post(format!("{base}/users"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(register.status(), 201);

    let before = scrape(&http, &server.metrics).await;
    for id in ["1", "2", "12345"] {
        http.get(format!("{base}/posts/{id}"))
            .send()
            .await
            .expect("send");
    }
    for path in ["/no/such/path", "/posts/1/nothing/here"] {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send")
            .status();
        assert_eq!(status, 404, "{path}");
    }
    let after = scrape(&http, &server.metrics).await;

    let rise =
        |name, labels: &[(&str, &str)]| value(&after, name, labels) - value(&before, name, labels);
    let post = [("route", "/posts/{id}"), ("method", "GET")];
    assert_eq!(rise(REQUESTS, &post), 3.0, "three GET /posts/{{id}}");
    assert_eq!(rise(LATENCY, &post), 3.0, "three latencies observed");
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(rise(REQUESTS, &unmatched), 2.0);
    // The first scrape is counted once it has been answered.
    let metrics = [("route", "/metrics"), ("method", "GET"), ("status", "200")];
    assert_eq!(value(&before, REQUESTS, &metrics), 0.0);
    assert_eq!(value(&after, REQUESTS, &metrics), 1.0);
    let users = [("route", "/users"), ("method", "POST"), ("status", "201")];
    assert_eq!(value(&after, REQUESTS, &users), 1.0);
    let routes = label_values(&after, "route");
    for raw in ["/posts/1", "/posts/2", "/posts/12345", "/no/such/path"] {
        assert!(
            !routes.iter().any(|r| r == raw),
            "raw path {raw} in {routes:?}"
        );
    }

    // The registration hashed a password; the database pool is sampled.
    assert!(
        value(
            &after,
            "agora_password_hash_duration_seconds",
            &[("operation", "hash")]
        ) >= 1.0
    );
    assert_eq!(value(&after, "agora_db_pool_max", &[]), 10.0);
    assert!(value(&after, "agora_db_pool_connections", &[]) >= 1.0);
    assert_eq!(value(&after, "agora_password_hash_queue", &[]), 0.0);
}

async fn counts_login_outcomes(server: &str) {
    let server = Server::start(server, false);
    let http = reqwest::Client::new();
    let base = &server.base;
    let login = |email: &'static str, password: &'static str| {
        http.post(format!("{base}/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    for email in ["ada@example.com", "bob@example.com"] {
        let status = http
            .post(format!("{base}/users"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("send")
            .status();
        assert_eq!(status, 201);
    }
    // Wrong credentials are a 403, as in the FastAPI app.
    let failed = login("ada@example.com", "not the password")
        .await
        .expect("send");
    assert_eq!(failed.status(), 403);
    let succeeded = login("ada@example.com", PASSWORD).await.expect("send");
    assert_eq!(succeeded.status(), 200);
    // Five failures on bob's account, then the sixth attempt is refused.
    for _ in 0..5 {
        let status = login("bob@example.com", "wrong")
            .await
            .expect("send")
            .status();
        assert_eq!(status, 403);
    }
    let throttled = login("bob@example.com", PASSWORD).await.expect("send");
    assert_eq!(throttled.status(), 429);

    let scrape = scrape(&http, &server.metrics).await;
    let logins = |outcome| value(&scrape, "agora_logins_total", &[("outcome", outcome)]);
    assert_eq!(logins("success"), 1.0);
    assert_eq!(logins("failure"), 6.0);
    assert_eq!(logins("throttled"), 1.0);
    let login_route = [("route", "/login"), ("method", "POST")];
    assert_eq!(value(&scrape, REQUESTS, &login_route), 8.0);
    assert_eq!(
        value(&scrape, REQUESTS, &[("route", "/login"), ("status", "429")]),
        1.0
    );
    // Each of the 6 failures and the success verified a hash.
    assert!(
        value(
            &scrape,
            "agora_password_hash_duration_seconds",
            &[("operation", "verify")]
        ) >= 7.0
    );
}

async fn serves_metrics_on_their_own_port(server: &str) {
    let server = Server::start(server, true);
    assert_ne!(server.base, server.metrics);
    let http = reqwest::Client::new();
    let on_api = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("send");
    assert_eq!(
        on_api.status(),
        404,
        "the API's port does not serve /metrics"
    );
    let posts = http
        .get(format!("{}/posts", server.metrics))
        .send()
        .await
        .expect("send");
    assert_eq!(posts.status(), 404, "the metrics port serves only /metrics");
    let scrape = scrape(&http, &server.metrics).await;
    // The API's 404 for /metrics is counted, as no route's.
    let unmatched = [("route", "unmatched"), ("method", "GET"), ("status", "404")];
    assert_eq!(value(&scrape, REQUESTS, &unmatched), 1.0);
    assert!(scrape.metrics.iter().any(|m| m.name == "agora_db_pool_max"));
}

#[tokio::test]
async fn axum_counts_requests_by_route_template() {
    counts_requests_by_route_template("axum").await;
}

#[tokio::test]
async fn rocket_counts_requests_by_route_template() {
    counts_requests_by_route_template("rocket").await;
}

#[tokio::test]
async fn axum_counts_login_outcomes() {
    counts_login_outcomes("axum").await;
}

#[tokio::test]
async fn rocket_counts_login_outcomes() {
    counts_login_outcomes("rocket").await;
}

#[tokio::test]
async fn axum_serves_metrics_on_their_own_port() {
    serves_metrics_on_their_own_port("axum").await;
}

#[tokio::test]
async fn rocket_serves_metrics_on_their_own_port() {
    serves_metrics_on_their_own_port("rocket").await;
}

/// The Conduit API's own axum routes are labelled with their templates
/// (axum's matched path), nested under `/api`.
#[tokio::test]
async fn conduit_counts_requests_by_its_route_templates() {
    let server = Server::start("conduit", false);
    let http = reqwest::Client::new();
    for slug in ["first-post-1", "second-post-2"] {
        http.get(format!("{}/api/articles/{slug}", server.base))
            .send()
            .await
            .expect("send");
    }
    let missing = http
        .get(format!("{}/nothing/here", server.base))
        .send()
        .await
        .expect("send");
    assert_eq!(missing.status(), 404);
    let scrape = scrape(&http, &server.metrics).await;
    let article = [("route", "/api/articles/{slug}"), ("method", "GET")];
    assert_eq!(value(&scrape, REQUESTS, &article), 2.0);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&scrape, REQUESTS, &unmatched), 1.0);
    let routes = label_values(&scrape, "route");
    assert!(
        !routes.iter().any(|r| r.contains("first-post")),
        "{routes:?}"
    );
}
