//! Your own rocket app with Agora inside: your route `/whoami` for signed-in
//! users, and Agora's whole API (registration, login, posts, Swagger UI at
//! `/api/docs`) under `/api`. `cargo run -p agora-rocket --example rocket_embed`.

use std::process::ExitCode;

use agora_core::{Agora, Config};
use agora_rocket::AuthUser;
use rocket::{Build, Rocket, get, routes};

/// Your own route: 401 (JSON, with `WWW-Authenticate: Bearer`) without a valid token.
/// A rocket guard is a plain argument (not a pattern): the user is `user.0`.
#[get("/whoami")]
fn whoami(user: AuthUser) -> String {
    format!("hello user {}", user.0.id)
}

/// Your app: your routes, guarded by Agora's `AuthUser`, and Agora's API under `/api`.
pub fn app(agora: Agora, config: rocket::Config) -> Rocket<Build> {
    let rocket = rocket::custom(config)
        .mount("/", routes![whoami])
        .register("/", agora_rocket::catchers()); // JSON errors (the 401) for your routes too
    agora_rocket::mount(rocket, "/api", agora) // manages `agora`, its routes and catchers
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Every AGORA_* variable over the defaults (the database is ./agora.db).
    let mut config = Config::from_env()?;
    // AGORA_JWT_SECRET, or a secret generated once into agora.db.jwt-secret.
    config.ensure_jwt_secret()?;
    let agora = agora_sqlx::open(&config).await?;
    // Agora's server settings, on port 3001 (the example servers use 8000).
    let server = rocket::Config {
        port: 3001,
        ..agora_rocket::server_config(&config)
    };
    println!("listening on http://{}:{}", server.address, server.port);
    app(agora, server).launch().await?;
    Ok(())
}

#[rocket::main]
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
