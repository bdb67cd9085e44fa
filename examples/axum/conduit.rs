//! The RealWorld ("Conduit") API under `/api`, a thin translation over
//! Agora's services (`agora_examples::conduit`), over SQLite by default.
//!
//! ```text
//! cargo run --example conduit
//! ```
//!
//! It listens on 127.0.0.1:8080 (`AGORA_BIND` to change it) and reads the
//! same `AGORA_*` variables as `cargo run --example server` (see
//! `examples/axum/server.rs`): `AGORA_DATABASE_URL` (default `sqlite://agora.db`),
//! `AGORA_JWT_SECRET`, ... The choices of the translation are listed in
//! `examples/README.md`.

use std::net::SocketAddr;
use std::process::ExitCode;

use agora_core::Config;

/// jemalloc, not the system allocator: less server CPU per request than
/// glibc's malloc (BENCHMARKS.md, issue 20 round ten).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    agora_examples::main_of("info", run()).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::from_env()?;
    if std::env::var_os("AGORA_BIND").is_none() {
        config.server.bind = SocketAddr::from(([127, 0, 0, 1], 8080));
    }
    config.ensure_jwt_secret()?;
    let agora = agora_sqlx::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
    println!(
        "Conduit (RealWorld) API on http://{}/api (database: {})",
        listener.local_addr()?,
        agora_sqlx::redact_password(&config.server.database_url)
    );
    // Served like the native API: body deadline, CORS, connection limits,
    // `GET /metrics` (or metrics on AGORA_METRICS_BIND).
    let app = agora_examples::conduit::router(agora.clone());
    agora_axum::metrics::serve_with_metrics(
        listener,
        app,
        &agora,
        &config,
        agora_examples::shutdown_signal,
    )
    .await?;
    Ok(())
}
