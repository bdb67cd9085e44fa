//! The HTTP contract suite against the axum adapter, served exactly as the
//! example server serves it, on a fresh SQLite database and a free port.

use agora_core::{Agora, Config};

/// Starts the axum app on 127.0.0.1:0 over `database_url`; returns its base URL.
async fn spawn_axum(database_url: &str) -> String {
    let mut config = Config {
        database_url: database_url.to_owned(),
        ..Config::default()
    };
    config.ensure_jwt_secret().expect("secret");
    let store = agora_sqlx::connect(&config.database_url)
        .await
        .expect("database opens");
    let agora = Agora::new(store, &config).expect("valid config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        agora_axum::serve(listener, agora, &config, std::future::pending())
            .await
            .expect("server runs");
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axum_on_sqlite_passes_the_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("agora.db").display());
    let base = spawn_axum(&url).await;
    agora_contract::run_contract(&base).await;
}
