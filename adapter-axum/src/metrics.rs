//! Prometheus metrics on axum: [`MetricsLayer`] counts and times every
//! request by route template, method and status; [`router`] serves
//! `GET /metrics`. The metric names and every other metric Agora records
//! are `agora_core::metrics`'s; this module only finds a request's route
//! template (axum's [`MatchedPath`], or the endpoint Agora's own router
//! matched), its method and status, and times it.
//!
//! ```no_run
//! # fn demo(agora: agora_core::Agora) -> Result<(), agora_core::metrics::MetricsError> {
//! use axum::{Router, routing::get};
//!
//! let exporter = agora_core::metrics::install()?; // once per process
//! let app: Router = Router::new()
//!     .route("/hello", get(|| async { "hello" }))
//!     .nest_service("/api", agora_axum::router(agora.clone()))
//!     .merge(agora_axum::metrics::router(agora, exporter))
//!     .layer(agora_axum::metrics::MetricsLayer); // last: it sees the matched route
//! # let _ = app;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use agora_core::metrics::{self as core_metrics, Exporter, MetricsError, RouteLabel};
use agora_core::{Agora, Config};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::{Layer, Service};

/// Records every request it wraps in `agora_core::metrics`: its count and
/// latency by route template, method and status. Add it with
/// [`Router::layer`] after every route (so it sees axum's [`MatchedPath`]):
/// Agora's routes are labelled with their endpoint's template (say
/// `/api/posts/{id}`), an app's own with the path they were declared with,
/// and requests no route matched with `unmatched`, never with the raw path.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
}

impl<S> Service<Request> for MetricsService<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = request.method().clone();
        let matched = request.extensions().get::<MatchedPath>().cloned();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            // Agora's router names the endpoint it matched; axum's path
            // there is only its catch-all.
            let route = match response.extensions().get::<RouteLabel>() {
                Some(RouteLabel(label)) => label.clone(),
                None => match matched {
                    Some(path) => path.as_str().to_owned().into(),
                    None => core_metrics::UNMATCHED_ROUTE.into(),
                },
            };
            core_metrics::record_request(
                route,
                method.as_str(),
                response.status().as_u16(),
                started.elapsed(),
            );
            Ok(response)
        })
    }
}

/// `GET /metrics`: everything `exporter` holds in the Prometheus text
/// format, the database pool sampled from `agora` at each scrape. Merge it
/// into the app, or serve it alone on another address.
pub fn router(agora: Agora, exporter: Exporter) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state((agora, exporter))
}

async fn render(State((agora, exporter)): State<(Agora, Exporter)>) -> Response {
    (
        [(header::CONTENT_TYPE, core_metrics::CONTENT_TYPE)],
        exporter.render(&agora),
    )
        .into_response()
}

/// Metrics for a standalone server, as the example servers use them:
/// installs the Prometheus recorder ([`agora_core::metrics::install`]) and
/// returns `app` with [`MetricsLayer`], plus `GET /metrics` on it when
/// `config.server.metrics_bind` is unset; when it is set, `/metrics` is
/// left off `app` (which answers it 404) and returned alone as the second
/// router, to serve on that address.
pub fn instrument(
    app: Router,
    agora: &Agora,
    config: &Config,
) -> Result<(Router, Option<Router>), MetricsError> {
    let exporter = core_metrics::install()?;
    let metrics = router(agora.clone(), exporter);
    Ok(match config.server.metrics_bind {
        None => (app.merge(metrics).layer(MetricsLayer), None),
        Some(_) => (app.layer(MetricsLayer), Some(metrics)),
    })
}

/// Serves `app` on `listener` as [`crate::serve_router`] does, with the
/// metrics of [`instrument`]: `GET /metrics` beside the API, or, when
/// `config.server.metrics_bind` is set, on a listener of its own bound
/// there (served the same way). `shutdown` gives each server its shutdown
/// signal. Returns when both have stopped, or with the first error.
pub async fn serve_with_metrics<F>(
    listener: tokio::net::TcpListener,
    app: Router,
    agora: &Agora,
    config: &Config,
    shutdown: impl Fn() -> F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (app, metrics) = instrument(app, agora, config).map_err(std::io::Error::other)?;
    let metrics = match (metrics, config.server.metrics_bind) {
        (Some(metrics), Some(bind)) => {
            let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
                let setting = agora_core::config::env::variable("server.metrics_bind");
                std::io::Error::new(e.kind(), format!("{setting}: cannot listen on {bind}: {e}"))
            })?;
            tracing::info!(address = %listener.local_addr()?, "metrics served at /metrics");
            Some((listener, metrics))
        }
        _ => None,
    };
    let metrics = async {
        match metrics {
            Some((listener, router)) => {
                crate::serve_router(listener, router, config, shutdown()).await
            }
            None => Ok(()),
        }
    };
    tokio::try_join!(
        crate::serve_router(listener, app, config, shutdown()),
        metrics
    )?;
    Ok(())
}
