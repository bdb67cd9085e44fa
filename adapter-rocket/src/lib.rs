//! # agora-rocket
//!
//! Agora's HTTP API for [Rocket](https://rocket.rs) 0.5: the same routes,
//! status codes and JSON bodies as `agora-axum`, checked by the same HTTP
//! contract suite.
//!
//! The idiom: manage an [`agora_core::Agora`], mount [`routes()`] at any base
//! path and register [`catchers()`] at that base, so that every error,
//! including rocket's own (unknown route, wrong method, a failed guard), is a
//! JSON body and never an HTML page. [`mount`] does the three in one call.
//!
//! ```no_run
//! # async fn demo(agora: agora_core::Agora) -> Result<(), rocket::Error> {
//! use agora_rocket::AuthUser;
//! use rocket::get;
//!
//! #[get("/whoami")]
//! fn whoami(user: AuthUser) -> String {
//!     format!("hello user {}", user.0.id)
//! }
//!
//! let rocket = rocket::build()
//!     .mount("/", rocket::routes![whoami])          // your routes, guarded by AuthUser
//!     .register("/", agora_rocket::catchers())      // JSON errors for them too
//!     .manage(agora)
//!     .mount("/api", agora_rocket::routes())        // Agora's API under /api
//!     .register("/api", agora_rocket::catchers());
//! // or: agora_rocket::mount(rocket::build(), "/api", agora)
//! rocket.launch().await?;
//! # Ok(()) }
//! ```
//!
//! Agora's routes hand every request to `agora-core`'s endpoint table and
//! dispatcher ([`agora_core::http`]), which parses, calls the services and
//! decides every status, body and header, so all adapters agree. Request
//! bodies are read with [`rocket::Data::open`] capped at
//! [`agora_core::Agora::body_limit`] (413 beyond), so rocket's own
//! [`rocket::data::Limits`] never apply to Agora's routes.

mod catchers;
mod cors;
mod error;
mod guards;
pub mod metrics;
mod request_id;
mod routes;

use agora_core::{Agora, Config};
use rocket::data::{Limits, ToByteUnit};
use rocket::{Build, Rocket};

pub use catchers::catchers;
pub use cors::Cors;
pub use error::ApiError;
pub use guards::{AuthUser, Client, JsonBody};
pub use request_id::RequestIds;
pub use routes::routes;

/// Manages `agora`, mounts [`routes()`] at `base` and registers [`catchers()`]
/// at `base`: Agora's whole API under `base` (e.g. `"/"` or `"/api"`).
///
/// Call it once per rocket (rocket refuses to manage two `Agora`s). To get
/// JSON errors on your own routes that use [`AuthUser`] outside `base`,
/// register [`catchers()`] at their base as well.
pub fn mount(rocket: Rocket<Build>, base: &str, agora: Agora) -> Rocket<Build> {
    rocket
        .manage(agora)
        .mount(base, routes())
        .register(base, catchers())
}

/// The rocket configuration a standalone server uses: listens on
/// `config.server.bind`, rocket's data limits set to `config.server.body_limit` (for any
/// app routes using rocket's own data guards), no `Server` header (as axum),
/// the client IP from the connection only (no `X-Real-IP`), rocket's own
/// logger off and no colours (Agora logs through `tracing`).
///
/// SIGINT and SIGTERM shut down gracefully within
/// `config.server.shutdown_timeout` (rounded up to whole seconds): requests
/// in flight get one second less (rocket's `grace`; rocket's own default is
/// 2 s), then rocket cuts every connection at once (`mercy` 0), so a slow
/// client cannot hold the shutdown, and its launch returns within the second
/// left (rocket waits up to one more second for its connection tasks).
///
/// Gaps, as of rocket 0.5: rocket serves connections itself (hyper with
/// `header_read_timeout(None)`, no way to hand it a listener), so
/// `config.server`'s header, body and idle timeouts and `max_connections`
/// are not applied; `keep_alive` (set to the idle timeout) only sets the
/// HTTP/2 ping interval. Put such a server behind a reverse proxy that
/// enforces them, or use `agora_axum::serve`, which does.
pub fn server_config(config: &Config) -> rocket::Config {
    let limit = config.server.body_limit.bytes();
    let limits = [
        "form",
        "data-form",
        "file",
        "string",
        "bytes",
        "json",
        "msgpack",
    ]
    .into_iter()
    .fold(Limits::default(), |limits, name| limits.limit(name, limit));
    let whole_secs =
        |d: std::time::Duration| u32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u32::MAX);
    let shutdown_secs = whole_secs(config.server.shutdown_timeout);
    rocket::Config {
        address: config.server.bind.ip(),
        port: config.server.bind.port(),
        limits,
        ident: rocket::config::Ident::none(),
        // The peer address is the client, as with axum: do not trust an
        // `X-Real-IP` header sent by anyone (rocket's default).
        ip_header: None,
        log_level: rocket::config::LogLevel::Off,
        cli_colors: false,
        keep_alive: whole_secs(config.server.idle_timeout).max(1),
        shutdown: rocket::config::Shutdown {
            grace: shutdown_secs.saturating_sub(1),
            mercy: 0,
            ..rocket::config::Shutdown::default()
        },
        ..rocket::Config::default()
    }
}

/// A complete server, as the example runs it: [`server_config`], Agora's API
/// mounted at `/` with its catchers, [`RequestIds`] for `config.proxy`, and
/// [`Cors`] for `config.server.cors_origins` (none by default). Launch it
/// with [`Rocket::launch`].
pub fn app(agora: Agora, config: &Config) -> Rocket<Build> {
    let rocket = mount(rocket::custom(server_config(config)), "/", agora)
        .attach(RequestIds::new(&config.proxy));
    if config.server.cors_origins.is_empty() {
        rocket
    } else {
        rocket.attach(Cors::new(config.server.cors_origins.iter().cloned()))
    }
}
