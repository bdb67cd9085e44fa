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
//!     .nest_service("/api", agora_axum::router(agora));
//! # let _ = app;
//! # }
//! ```
//!
//! Handlers only parse, call [`agora_core::Agora`] and map the answer; every
//! rule and every parser lives in `agora-core`, so all adapters agree.

mod error;
mod extract;
mod layers;
pub mod metrics;
mod routes;
mod serve;

use std::future::Future;

use agora_core::{Agora, Config};
use axum::Router;

pub use error::ApiError;
pub use extract::{AuthUser, Client, JsonBody};
pub use routes::router;

/// The router plus what a standalone server adds: CORS for
/// `config.server.cors_origins` (none by default), a deadline on request bodies
/// (`config.server.body_timeout`: a body not in by then gets 408), and
/// request ids: `X-Request-Id` on every response, kept from the request
/// only behind a trusted proxy (`config.proxy`; see
/// [`agora_core::http::request_id`]), and the `request_id` field of the
/// span every log line of the request carries.
pub fn app(agora: Agora, config: &Config) -> Router {
    layers::with_server_layers(router(agora), config)
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
    serve_router(listener, router(agora), config, shutdown).await
}

/// Serves any router, say an app's own with Agora's [`router`] nested in
/// it, the way [`serve`] serves Agora's: with the body deadline and CORS of
/// [`app`], and every connection limit and the graceful shutdown of
/// [`serve`]. Its handlers see the peer address as
/// `ConnectInfo<SocketAddr>` (what [`Client`] reads).
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    router: Router,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = layers::with_server_layers(router, config);
    serve::run(listener, app, config.server.clone(), shutdown).await
}
