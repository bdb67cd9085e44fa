//! Shared pieces of Agora's example servers, and the Conduit (RealWorld)
//! API of `cargo run --example conduit`.

#[cfg(feature = "conduit")]
#[path = "conduit/app.rs"]
pub mod conduit;

use std::process::ExitCode;

/// Completes on SIGINT (Ctrl-C) or SIGTERM, so servers can shut down
/// gracefully and finish the requests in flight.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// An example server's `main`: logs as `RUST_LOG` says (else
/// `default_filter`), runs `run`, and on failure prints the error (see
/// [`startup_error`]) and exits non-zero.
pub async fn main_of(
    default_filter: &str,
    run: impl Future<Output = Result<(), Box<dyn std::error::Error>>>,
) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .init();
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", startup_error(e));
            ExitCode::FAILURE
        }
    }
}

/// How an example server shows the error that stopped it: configuration
/// and database errors name the `AGORA_*` variables (`AGORA_JWT_SECRET: ...`,
/// `AGORA_DATABASE_URL: ...`) rather than the `Config` fields they set, as
/// the servers are configured by [`agora_core::Config::from_env`].
pub fn startup_error(e: Box<dyn std::error::Error>) -> String {
    use agora_core::config::{ConfigError, env::variable};
    let e = match e.downcast::<ConfigError>() {
        Ok(e) => return e.renamed(variable).to_string(),
        Err(e) => e,
    };
    match e.downcast::<agora_sqlx::ConnectError>() {
        Ok(e) => e.renamed(variable).to_string(),
        Err(e) => e.to_string(),
    }
}
