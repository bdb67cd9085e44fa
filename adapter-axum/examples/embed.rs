//! Your own axum app with Agora inside: your route `/whoami` for signed-in
//! users, and Agora's whole API (registration, login, posts, Swagger UI at
//! `/api/docs`) under `/api`. `cargo run -p agora-axum --example axum_embed`.

use std::process::ExitCode;

use agora_axum::AuthUser;
use agora_core::{Agora, Config};
use axum::{Router, routing::get};

/// Your own route: 401 (JSON, with `WWW-Authenticate: Bearer`) without a valid token.
async fn whoami(AuthUser(user): AuthUser) -> String {
    format!("hello user {}", user.id)
}

/// Your app: your routes, protected by Agora's extractor, and Agora's API under `/api`.
pub fn app(agora: Agora) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .with_state(agora.clone())
        // `nest_service`, not `nest`: axum's `nest` answers `/api/` itself (an empty 404).
        .nest_service("/api", agora_axum::router(agora))
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Every AGORA_* variable over the defaults (the database is ./agora.db).
    let mut config = Config::from_env()?;
    // AGORA_JWT_SECRET, or a secret generated once into agora.db.jwt-secret.
    config.ensure_jwt_secret()?;
    let agora = agora_sqlx::open(&config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // Hands every handler the client's address: per-IP throttling needs it.
    agora_axum::serve_router(listener, app(agora), &config, shutdown).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // Agora's logs, its warnings among them, on stderr.
    let info = tracing_subscriber::filter::LevelFilter::INFO;
    tracing_subscriber::fmt().with_max_level(info).init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
