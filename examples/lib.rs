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
/// `default_filter`) in the format `AGORA_LOG_FORMAT` names (see
/// [`init_logging`]), runs `run`, and on failure prints the error (see
/// [`startup_error`]) and exits non-zero.
pub async fn main_of(
    default_filter: &str,
    run: impl Future<Output = Result<(), Box<dyn std::error::Error>>>,
) -> ExitCode {
    if let Err(e) = init_logging(default_filter) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", startup_error(e));
            ExitCode::FAILURE
        }
    }
}

/// Installs the global log subscriber on standard output, filtered by
/// `RUST_LOG` (else `default_filter`), in the format `AGORA_LOG_FORMAT`
/// names: `text` (the default: one human line per event, with ANSI colours
/// only when standard output is a terminal) or `json` (one JSON object per
/// line, for log collectors). Any other value is an error naming the
/// variable.
pub fn init_logging(default_filter: &str) -> Result<(), String> {
    use std::io::IsTerminal;
    let format = match std::env::var("AGORA_LOG_FORMAT") {
        Err(std::env::VarError::NotPresent) => "text".to_owned(),
        Ok(value) => value,
        Err(std::env::VarError::NotUnicode(value)) => value.to_string_lossy().into_owned(),
    };
    let logs = tracing_subscriber::fmt().with_env_filter(
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| default_filter.into()),
    );
    match format.as_str() {
        "text" => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        "json" => logs.json().init(),
        other => {
            return Err(format!(
                "AGORA_LOG_FORMAT: {other:?} is not a log format: use `text` (the default) or `json`"
            ));
        }
    }
    Ok(())
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
