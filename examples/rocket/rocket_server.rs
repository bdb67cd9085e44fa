//! Agora's API on rocket, over SQLite by default: the same API, database and
//! configuration as `cargo run --example server` (axum).
//!
//! Run it from the workspace root:
//!
//! ```text
//! cargo run --example rocket_server
//! ```
//!
//! It listens on 127.0.0.1:8000 and creates `agora.db` (and a private
//! `agora.db.jwt-secret`) in the working directory. Configure it with
//! `AGORA_DATABASE_URL`, `AGORA_BIND`, `AGORA_JWT_SECRET`,
//! `AGORA_ACCESS_TOKEN_TTL`, `AGORA_CORS_ORIGINS`, `AGORA_BODY_LIMIT` and the
//! other `AGORA_*` variables of the README; log verbosity with `RUST_LOG`
//! (default `info`, without rocket's own messages: `RUST_LOG=info,rocket=info`
//! shows them). SIGINT and SIGTERM shut it down gracefully.

use std::net::SocketAddr;
use std::process::ExitCode;

use agora_core::Config;
use rocket::fairing::AdHoc;

/// jemalloc, not the system allocator: less server CPU per request than
/// glibc's malloc (BENCHMARKS.md, issue 20 round ten).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[rocket::main]
async fn main() -> ExitCode {
    agora_examples::main_of("info,rocket=off", run()).await
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = Config::from_env()?;
    config.ensure_jwt_secret()?;
    let agora = agora_sqlx::open(&config).await?;
    let database = agora_sqlx::redact_password(&config.server.database_url);
    // Agora's API with `GET /metrics` (or metrics on AGORA_METRICS_BIND).
    let (rocket, metrics) = agora_rocket::metrics::instrument(
        agora_rocket::app(agora.clone(), &config),
        &agora,
        &config,
    )?;
    let rocket = rocket
        .attach(AdHoc::on_liftoff("Agora address", |rocket| {
            Box::pin(async move {
                let addr = SocketAddr::new(rocket.config().address, rocket.config().port);
                println!("Agora (rocket) listening on http://{addr} (database: {database})");
            })
        }))
        .attach(AdHoc::on_shutdown("Agora shutdown", |_| {
            Box::pin(async {
                // Not the default target: `rocket=off` would match `rocket_server`.
                tracing::info!(target: "agora_examples", "shutting down: finishing requests in flight");
            })
        }));
    if let Err(e) = agora_rocket::metrics::launch(rocket, metrics).await {
        // Displaying a rocket::Error marks it handled (it panics if dropped unseen).
        return Err(format!("rocket: {e}: {:?}", e.kind()).into());
    }
    Ok(())
}
