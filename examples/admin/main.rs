//! Agora's operator command, configured by the same `AGORA_*` variables as
//! the servers (see the README's **Configuration**):
//!
//! ```sh
//! cargo run --example admin -- --help
//! cargo run --example admin -- import-fastapi postgres://localhost/fastapi
//! ```

mod check;
mod import;
mod keys;
mod migrate;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Agora's operator command. Every command reads the `AGORA_*` variables
/// (the database is `AGORA_DATABASE_URL`) and exits non-zero on failure.
#[derive(Parser)]
#[command(name = "admin", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy users, posts and votes from the original FastAPI app's database.
    ImportFastapi(import::Args),
    /// Apply the database migrations and exit (for deploy pipelines).
    Migrate(migrate::Args),
    /// Create a user.
    CreateUser(users::CreateUserArgs),
    /// Set a user's password (ends the user's sessions).
    SetPassword(users::SetPasswordArgs),
    /// End every session of a user.
    RevokeSessions(users::RevokeSessionsArgs),
    /// Generate a signing key: a PKCS#8 PEM file written with mode 0600.
    GenKey(keys::Args),
    /// Check the environment's configuration, the database and Redis.
    CheckConfig(check::Args),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::ImportFastapi(args) => import::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::CreateUser(args) => users::create_user(args).await,
        Command::SetPassword(args) => users::set_password(args).await,
        Command::RevokeSessions(args) => users::revoke_sessions(args).await,
        Command::GenKey(args) => keys::run(args),
        Command::CheckConfig(args) => check::run(args).await,
    }
}
