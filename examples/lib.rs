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
    let logging = match init_logging(default_filter) {
        Ok(logging) => logging,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", startup_error(e));
            ExitCode::FAILURE
        }
    };
    logging.shutdown().await;
    code
}

/// What [`init_logging`] set up that needs a flush before the process
/// exits: the OTLP span exporter, when there is one.
#[must_use = "call `shutdown` before exiting, or the last spans are lost"]
pub struct Logging {
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Logging {
    /// Exports the spans still buffered (within the exporter's timeout) and
    /// stops the exporter; does nothing without OTLP export.
    pub async fn shutdown(self) {
        let Some(tracer) = self.tracer else { return };
        // The SDK's shutdown blocks until its tokio task has exported.
        let flushed = tokio::task::spawn_blocking(move || tracer.shutdown()).await;
        if let Ok(Err(e)) = flushed {
            eprintln!("error: OTLP span export: {e}");
        }
    }
}

/// The OTLP span exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (and
/// not empty): HTTP/protobuf to `{endpoint}/v1/traces` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), batched on the tokio runtime;
/// service name `agora` unless `OTEL_SERVICE_NAME` says otherwise. The
/// other `OTEL_EXPORTER_OTLP_*` variables (headers, timeout, compression)
/// apply as the OpenTelemetry SDK reads them.
fn otlp_tracer() -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, String> {
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
    let endpoint = std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT");
    if endpoint.is_none_or(|e| e.is_empty()) {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()
        .map_err(|e| format!("OTEL_EXPORTER_OTLP_ENDPOINT: {e}"))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("agora");
    }
    let processor =
        BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio).build();
    Ok(Some(
        opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(resource.build())
            .build(),
    ))
}

/// Installs the global log subscriber on standard output, filtered by
/// `RUST_LOG` (else `default_filter`), in the format `AGORA_LOG_FORMAT`
/// names: `text` (the default: one human line per event, with ANSI colours
/// only when standard output is a terminal) or `json` (one JSON object per
/// line, for log collectors). Any other value is an error naming the
/// variable. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the spans (as
/// filtered) are also exported over OTLP (see [`Logging`]); call
/// [`Logging::shutdown`] before exiting. Must run inside a tokio runtime.
pub fn init_logging(default_filter: &str) -> Result<Logging, String> {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let format = match std::env::var("AGORA_LOG_FORMAT") {
        Err(std::env::VarError::NotPresent) => "text".to_owned(),
        Ok(value) => value,
        Err(std::env::VarError::NotUnicode(value)) => value.to_string_lossy().into_owned(),
    };
    let (text, json) = match format.as_str() {
        "text" => (
            Some(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal())),
            None,
        ),
        "json" => (None, Some(tracing_subscriber::fmt::layer().json())),
        other => {
            return Err(format!(
                "AGORA_LOG_FORMAT: {other:?} is not a log format: use `text` (the default) or `json`"
            ));
        }
    };
    let tracer = otlp_tracer()?;
    let otel = tracer.as_ref().map(|provider| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer().with_tracer(provider.tracer("agora"))
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with(text)
        .with(json)
        .with(otel)
        .try_init()
        .map_err(|e| format!("cannot install the log subscriber: {e}"))?;
    Ok(Logging { tracer })
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
