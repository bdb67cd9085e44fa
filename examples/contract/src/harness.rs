//! Shared set-up for the end-to-end tests of every crate: servers of either
//! adapter on free ports, configs over fresh databases, and a TCP proxy that
//! can cut a database off. Test support: it panics on set-up failures.

#![allow(clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agora_core::config::JwtSecret;
use agora_core::domain::{ClientInfo, UserId};
use agora_core::schema::{LoginRequest, UserCreate};
use agora_core::{Agora, Config};
use agora_sqlx::sqlite::SqliteStore;
use agora_sqlx::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The two HTTP adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `agora-axum`, served by `agora_axum::serve`.
    Axum,
    /// `agora-rocket`, served by `agora_rocket::app`.
    Rocket,
}

/// Starts `adapter`'s server as its example does; returns its base URL.
pub async fn spawn(adapter: Adapter, config: Config) -> String {
    match adapter {
        Adapter::Axum => spawn_axum(config).await,
        Adapter::Rocket => spawn_rocket(config).await,
    }
}

/// Starts the axum app exactly as the example server does, on 127.0.0.1:0
/// over `config.server.database_url`; returns its base URL.
pub async fn spawn_axum(mut config: Config) -> String {
    config.ensure_jwt_secret().expect("secret");
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        agora_axum::serve(listener, agora, &config, std::future::pending())
            .await
            .expect("server runs");
    });
    base
}

/// Starts the rocket app exactly as the example server does, on
/// 127.0.0.1:0 over `config.server.database_url`; returns its base URL once it
/// listens.
pub async fn spawn_rocket(mut config: Config) -> String {
    config.ensure_jwt_secret().expect("secret");
    config.server.bind = "127.0.0.1:0".parse().expect("address");
    let agora = agora_sqlx::open(&config).await.expect("database opens");
    let (port_tx, port_rx) = tokio::sync::oneshot::channel();
    // Rocket binds port 0 at launch and writes the real port into its config.
    let rocket = agora_rocket::app(agora, &config).attach(rocket::fairing::AdHoc::on_liftoff(
        "report the port",
        move |rocket| {
            Box::pin(async move {
                let _ = port_tx.send(rocket.config().port);
            })
        },
    ));
    tokio::spawn(async move {
        if let Err(e) = rocket.launch().await {
            panic!("rocket failed: {e}");
        }
    });
    let port = port_rx.await.expect("rocket lifts off");
    format!("http://127.0.0.1:{port}")
}

/// A config over a test database, with a fresh secret (no secret file) and
/// throttling off: the contract suite registers hundreds of users from one
/// IP. `tests/security.rs` tests throttling with it on.
pub fn config_for(db: &TestDatabase) -> Config {
    let mut config = Config::default();
    config.server.database_url = db.url().to_owned();
    config.tokens.secret = Some(JwtSecret::generate());
    config.throttle.enabled = false;
    config
}

/// An [`Agora`] over a fresh SQLite file, for in-process adapter tests.
pub struct TestApp {
    /// The services.
    pub agora: Agora,
    /// Its store, to change the database behind the service's back.
    pub store: SqliteStore,
    /// Its configuration (a fresh secret, defaults otherwise).
    pub config: Config,
    _dir: tempfile::TempDir,
}

/// A [`TestApp`] over a new temporary directory.
pub async fn test_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("agora.db").display());
    let store = SqliteStore::connect(&url, &agora_sqlx::PoolConfig::default())
        .await
        .expect("sqlite opens");
    let mut config = Config::default();
    config.server.database_url = url;
    config.tokens.secret = Some(JwtSecret::generate());
    let agora = Agora::new(Arc::new(store.clone()), &config).expect("agora");
    TestApp {
        agora,
        store,
        config,
        _dir: dir,
    }
}

/// Registers `email` and logs in: the user's id and an access token.
pub async fn token_for(agora: &Agora, email: &str) -> (UserId, String) {
    let password = "a long enough password".to_owned();
    let user = agora
        .register(
            UserCreate {
                email: email.into(),
                password: password.clone(),
                username: None,
            },
            &ClientInfo::default(),
        )
        .await
        .expect("registers");
    let token = agora
        .login(
            LoginRequest {
                email: email.into(),
                password,
            },
            &ClientInfo::default(),
        )
        .await
        .expect("logs in");
    (user.id, token.access_token)
}

/// A TCP proxy in front of a database (or Redis) server that can be stopped
/// (refusing and cutting every connection, as a crashed database would) and
/// started again on the same port, or made silent: connections stay open but
/// every byte in either direction is dropped, as when a host or link dies
/// without a FIN or RST.
pub struct Proxy {
    /// Where clients connect instead of the server.
    pub addr: SocketAddr,
    target: String,
    silent: Arc<AtomicBool>,
    /// Chunks of bytes forwarded from clients to the server.
    to_server: Arc<AtomicUsize>,
    tasks: Option<JoinSet<()>>,
}

impl Proxy {
    /// Listens on a free port and forwards to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("addr");
        let mut proxy = Proxy {
            addr,
            target: target.to_owned(),
            silent: Arc::new(AtomicBool::new(false)),
            to_server: Arc::new(AtomicUsize::new(0)),
            tasks: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let target = self.target.clone();
        let silent = self.silent.clone();
        let to_server = self.to_server.clone();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let target = target.clone();
                let silent = silent.clone();
                let to_server = to_server.clone();
                connections.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            pump(client_read, server_write, silent.clone(), Some(to_server)),
                            pump(server_read, client_write, silent, None),
                        );
                    }
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// Closes the port and every open connection.
    pub async fn stop(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("proxy rebind");
        self.serve(listener);
    }

    /// From now on, drops every byte in both directions on every connection,
    /// old and new, while keeping the sockets open (no FIN, no RST).
    pub fn go_silent(&self) {
        self.silent.store(true, Ordering::SeqCst);
    }

    /// Forwards bytes again. Connections that lost bytes while silent are
    /// left as they are: their protocol state is broken, as after a real
    /// network fault, and the client must notice and drop them.
    pub fn speak_again(&self) {
        self.silent.store(false, Ordering::SeqCst);
    }

    /// How many times clients' bytes were forwarded to the server so far:
    /// one per message a client sends before it waits for the answer (a
    /// statement, a ping), since a client that waits sends nothing more
    /// that could arrive with it.
    pub fn messages_to_server(&self) -> usize {
        self.to_server.load(Ordering::SeqCst)
    }
}

/// Copies `from` to `to` until either side closes, dropping what it reads
/// while `silent` is set, and counting in `forwarded` what it forwards.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    silent: Arc<AtomicBool>,
    forwarded: Option<Arc<AtomicUsize>>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if silent.load(Ordering::SeqCst) {
                    continue;
                }
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
                if let Some(forwarded) = &forwarded {
                    forwarded.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// `scheme://user@host:port/db` with host:port replaced by `addr`, and the
/// `host:port` it had.
pub fn via(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (authority, path) = rest.split_once('/').expect("path");
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    (
        format!("{scheme}://{userinfo}{addr}/{path}"),
        host.to_owned(),
    )
}

/// Polls `f` until it returns true or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// One `#[tokio::test]` per case and adapter: `mod axum` and `mod rocket`,
/// each calling `case(Adapter::Axum)` or `case(Adapter::Rocket)` of the
/// test file.
#[macro_export]
macro_rules! for_both_adapters {
    ($($case:ident),* $(,)?) => {
        mod axum {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::harness::Adapter::Axum).await;
                }
            )*
        }
        mod rocket {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::harness::Adapter::Rocket).await;
                }
            )*
        }
    };
}

/// One `#[tokio::test]` per case and storage backend: `mod <case>` with
/// `sqlite`, `postgres` and `mysql`, each calling `case(Backend::...)` of
/// the test file (a case skips itself when its backend is not configured,
/// as `TestDatabase::create` does).
#[macro_export]
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case(agora_sqlx::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case(agora_sqlx::Backend::Postgres).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    super::$case(agora_sqlx::Backend::MySql).await;
                }
            }
        )*
    };
}

/// One `#[tokio::test]` per case, adapter and storage backend: `mod <case>`
/// with `axum_sqlite`, `axum_postgres`, ..., `rocket_mysql`, each calling
/// `case(Adapter::..., Backend::...)` of the test file (a case skips itself
/// when its backend is not configured, as `TestDatabase::create` does).
#[macro_export]
macro_rules! on_both_adapters_and_every_backend {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                use $crate::harness::Adapter::{Axum, Rocket};
                use agora_sqlx::Backend::{MySql, Postgres, Sqlite};
                $crate::on_both_adapters_and_every_backend!(@one $case, axum_sqlite, Axum, Sqlite);
                $crate::on_both_adapters_and_every_backend!(@one $case, axum_postgres, Axum, Postgres);
                $crate::on_both_adapters_and_every_backend!(@one $case, axum_mysql, Axum, MySql);
                $crate::on_both_adapters_and_every_backend!(@one $case, rocket_sqlite, Rocket, Sqlite);
                $crate::on_both_adapters_and_every_backend!(@one $case, rocket_postgres, Rocket, Postgres);
                $crate::on_both_adapters_and_every_backend!(@one $case, rocket_mysql, Rocket, MySql);
            }
        )*
    };
    (@one $case:ident, $name:ident, $adapter:ident, $backend:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            super::$case($adapter, $backend).await;
        }
    };
}

/// The `admin` operator command (`examples/admin`), built once per test
/// process by the cargo running the tests (same target directory and
/// profile); the path is read from cargo's JSON messages.
pub fn admin_binary() -> &'static std::path::Path {
    static BINARY: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = std::process::Command::new(cargo);
        command
            .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .args([
                "build",
                "--quiet",
                "-p",
                "agora-examples-admin",
                "--example",
                "admin",
                "--message-format=json-render-diagnostics",
            ])
            .stderr(std::process::Stdio::inherit());
        if !cfg!(debug_assertions) {
            command.arg("--release");
        }
        let output = command.output().expect("cargo runs");
        assert!(output.status.success(), "building the admin example failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "admin")
            .find_map(|m| m["executable"].as_str().map(std::path::PathBuf::from))
            .expect("cargo names the admin executable")
    })
}
