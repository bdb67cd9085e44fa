//! # agora-axum
//!
//! Agora's HTTP API as an [axum](https://docs.rs/axum) 0.8 router.
//!
//! ```no_run
//! # async fn demo(agora: agora_core::Agora) {
//! use axum::{Router, routing::get};
//! use agora_axum::AuthUser;
//!
//! async fn whoami(AuthUser(user): AuthUser) -> String {
//!     format!("hello user {}", user.id)
//! }
//!
//! let app: Router = Router::new()
//!     .route("/whoami", get(whoami))
//!     .with_state(agora.clone())
//!     .nest("/api", agora_axum::router(agora));
//! # let _ = app;
//! # }
//! ```
//!
//! Handlers only parse, call [`agora_core::Agora`] and map the answer; every
//! rule and every parser lives in `agora-core`, so all adapters agree.

mod docs;
mod error;
mod extract;
mod routes;
mod serve;

use std::future::Future;

use agora_core::{Agora, Config};
use axum::Router;
use axum::http::{HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use error::ApiError;
pub use extract::{AuthUser, BearerToken, Client, JsonBody};
pub use routes::{api_paths, router};

/// The router plus what a standalone server adds: CORS for
/// `config.server.cors_origins` (none by default), and a deadline on request bodies
/// (`config.server.body_timeout`: a body not in by then gets 408).
pub fn app(agora: Agora, config: &Config) -> Router {
    let body_timeout = config.server.body_timeout;
    let router = router(agora).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            serve::body_deadline(body_timeout, request, next)
        },
    ));
    if config.server.cors_origins.is_empty() {
        return router;
    }
    let origins: Vec<HeaderValue> = config
        .server
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    router.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
    )
}

/// Serves [`app`] on `listener` until `shutdown` completes, then stops
/// accepting, lets the requests in flight finish for up to
/// `config.server.shutdown_timeout`, drops the connections still open and
/// returns.
///
/// Slow and silent clients are cut off by the limits of
/// [`agora_core::config::ServerConfig`]: the headers of a request must arrive
/// within `header_timeout` (of the connection's start, or of the request's
/// first byte on a kept-alive connection), its body within `body_timeout`
/// (else 408), a connection with no request in flight is closed after
/// `idle_timeout`, and at most `max_connections` are served at once (the
/// next ones wait in the listen backlog).
pub async fn serve(
    listener: tokio::net::TcpListener,
    agora: Agora,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::run(
        listener,
        app(agora, config),
        config.server.clone(),
        shutdown,
    )
    .await
}
