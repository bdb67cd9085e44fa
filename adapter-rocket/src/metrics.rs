//! Prometheus metrics on rocket: the [`Metrics`] fairing counts and times
//! every request by route template, method and status; [`routes()`] serve
//! `GET /metrics`. The metric names and every other metric Agora records
//! are `agora_core::metrics`'s; this module only finds a request's route
//! template (the endpoint Agora's routes matched, else the rocket route's
//! URI), its method and status, and times it.
//!
//! ```no_run
//! # fn demo(agora: agora_core::Agora) -> Result<(), agora_core::metrics::MetricsError> {
//! let exporter = agora_core::metrics::install()?; // once per process
//! let rocket = agora_rocket::mount(rocket::build(), "/api", agora)
//!     .manage(exporter)
//!     .mount("/", agora_rocket::metrics::routes())      // GET /metrics
//!     .attach(agora_rocket::metrics::Metrics);
//! # let _ = rocket;
//! # Ok(()) }
//! ```

use std::time::Instant;

use agora_core::metrics::{self as core_metrics, Exporter, MetricsError, RouteLabel};
use agora_core::{Agora, Config};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::ContentType;
use rocket::{Build, Data, Request, Response, Rocket, State};

/// The fairing that records every request in `agora_core::metrics`: its
/// count and latency by route template, method and status. Agora's routes
/// are labelled with their endpoint's template (say `/api/posts/{id}`), an
/// app's own with their rocket URI (`/hello/<name>`), and requests no route
/// answered with `unmatched`, never with the raw path.
#[derive(Debug, Clone, Copy, Default)]
pub struct Metrics;

/// When the request arrived, in its local cache.
struct Started(Instant);

/// The endpoint Agora's routes matched for this request, in its local
/// cache (set by `crate::routes`; `None`: none matched).
pub(crate) struct AgoraRoute(pub(crate) Option<RouteLabel>);

#[rocket::async_trait]
impl Fairing for Metrics {
    fn info(&self) -> Info {
        Info {
            name: "Agora metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        request.local_cache(|| Started(Instant::now()));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        let elapsed = request.local_cache(|| Started(Instant::now())).0.elapsed();
        let agora_route = &request.local_cache(|| AgoraRoute(None)).0;
        let route = match (agora_route, request.route()) {
            (Some(RouteLabel(label)), _) => label.clone(),
            (None, Some(route)) => route.uri.path().to_owned().into(),
            (None, None) => core_metrics::UNMATCHED_ROUTE.into(),
        };
        core_metrics::record_request(
            route,
            request.method().as_str(),
            response.status().code,
            elapsed,
        );
    }
}

/// `GET /metrics`: everything the managed [`Exporter`] holds in the
/// Prometheus text format, the database pool sampled from the managed
/// [`Agora`] at each scrape. Mount at `/`; manage both.
pub fn routes() -> Vec<rocket::Route> {
    rocket::routes![metrics]
}

#[rocket::get("/metrics")]
fn metrics(agora: &State<Agora>, exporter: &State<Exporter>) -> (ContentType, String) {
    let content_type =
        ContentType::parse_flexible(core_metrics::CONTENT_TYPE).unwrap_or(ContentType::Plain);
    (content_type, exporter.render(agora))
}

/// Metrics for a standalone server, as the example server uses them:
/// installs the Prometheus recorder ([`agora_core::metrics::install`]) and
/// returns `rocket` (Agora's, managing `agora`) with [`Metrics`], plus
/// `GET /metrics` on it when `config.server.metrics_bind` is unset; when it
/// is set, `/metrics` is left off `rocket` (which answers it 404) and
/// served by the second rocket returned, listening on that address.
pub fn instrument(
    rocket: Rocket<Build>,
    agora: &Agora,
    config: &Config,
) -> Result<(Rocket<Build>, Option<Rocket<Build>>), MetricsError> {
    let exporter = core_metrics::install()?;
    let rocket = rocket.attach(Metrics);
    Ok(match config.server.metrics_bind {
        None => (rocket.manage(exporter).mount("/", routes()), None),
        Some(bind) => {
            let server = rocket::Config {
                address: bind.ip(),
                port: bind.port(),
                ..crate::server_config(config)
            };
            let metrics = rocket::custom(server)
                .manage(agora.clone())
                .manage(exporter)
                .mount("/", routes())
                .register("/", crate::catchers());
            (rocket, Some(metrics))
        }
    })
}

/// Launches `rocket` and, when [`instrument`] gave one, the `metrics`
/// rocket beside it. Returns once both have shut down (rocket stops on
/// SIGINT/SIGTERM), or with the first launch error; display that error
/// (rocket panics when an error is dropped unseen).
pub async fn launch(
    rocket: Rocket<Build>,
    metrics: Option<Rocket<Build>>,
) -> Result<(), rocket::Error> {
    let metrics = async {
        match metrics {
            Some(metrics) => metrics.launch().await.map(drop),
            None => Ok(()),
        }
    };
    rocket::tokio::try_join!(rocket.launch(), metrics)?;
    Ok(())
}
