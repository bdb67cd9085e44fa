//! Agora's API on axum, over SQLite by default.
//!
//! Run it from the workspace root:
//!
//! ```text
//! cargo run --example server
//! ```
//!
//! It listens on 127.0.0.1:8000 and creates `agora.db` (and a private
//! `agora.db.jwt-secret`) in the working directory. Configure it with
//! `AGORA_DATABASE_URL`, `AGORA_BIND`, `AGORA_JWT_SECRET`,
//! `AGORA_ACCESS_TOKEN_TTL`, `AGORA_CORS_ORIGINS`, `AGORA_BODY_LIMIT`,
//! `AGORA_DB_MAX_CONNECTIONS`, `AGORA_DB_ACQUIRE_TIMEOUT`, `AGORA_HASH_CONCURRENCY`,
//! `AGORA_METRICS_BIND` (Prometheus `GET /metrics` on its own address);
//! log verbosity with `RUST_LOG` (default `info`). PostgreSQL or MySQL instead of SQLite
//! (which several servers may share, so the secret is given, never generated):
//!
//! ```text
//! export AGORA_JWT_SECRET=$(openssl rand -hex 32)
//! AGORA_DATABASE_URL=postgres://postgres@127.0.0.1:5432/agora cargo run --example server
//! AGORA_DATABASE_URL=mysql://root@127.0.0.1:3306/agora cargo run --example server
//! ```

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
    config.ensure_jwt_secret()?;
    let agora = agora_sqlx::open(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.server.bind).await?;
    println!(
        "Agora listening on http://{} (database: {})",
        listener.local_addr()?,
        agora_sqlx::redact_password(&config.server.database_url)
    );
    // Agora's API with `GET /metrics` (or metrics on AGORA_METRICS_BIND).
    let app = agora_axum::router(agora.clone());
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
