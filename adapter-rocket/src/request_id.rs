//! Request ids: the [`RequestIds`] fairing (agora-core's rule,
//! [`agora_core::http::request_id`]) and the request span Agora's routes
//! run in ([`agora_core::http::request_span`]).

use std::time::Instant;

use agora_core::config::TrustedProxy;
use agora_core::http::{request_finished, request_id, request_span};
use rocket::fairing::{Fairing, Info, Kind};
use rocket::route::{Handler, Outcome};
use rocket::{Data, Request, Response};
use tracing::Instrument;

/// The header, as rocket names it.
const HEADER: &str = "X-Request-Id";

/// The fairing that gives every request an id and returns it in
/// `X-Request-Id` on every response, errors and catchers' answers
/// included. The id is the request's own `X-Request-Id` only when `proxy`
/// is trusted and the id valid ([`agora_core::http::request_id`]), else a
/// new one. Agora's routes log inside a span carrying it (`request_id`).
/// [`crate::app`] attaches it; an app built with [`crate::mount`] attaches
/// `RequestIds::new(&config.proxy)` itself.
#[derive(Debug, Clone)]
pub struct RequestIds {
    proxy: TrustedProxy,
}

impl RequestIds {
    /// Ids kept from requests forwarded by `proxy` (none trusted by default).
    pub fn new(proxy: &TrustedProxy) -> Self {
        RequestIds {
            proxy: proxy.clone(),
        }
    }
}

/// A request's id, in its local cache.
struct RequestId(String);

/// The id of `request`: the one the fairing chose, else (no fairing) a new one.
fn id_of<'r>(request: &'r Request<'_>) -> &'r str {
    &request
        .local_cache(|| RequestId(request_id(&TrustedProxy::default(), None)))
        .0
}

#[rocket::async_trait]
impl Fairing for RequestIds {
    fn info(&self) -> Info {
        Info {
            name: "Agora request ids",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, request: &mut Request<'_>, _: &mut Data<'_>) {
        let incoming = request.headers().get_one(HEADER).map(str::as_bytes);
        let id = request_id(&self.proxy, incoming);
        request.local_cache(|| RequestId(id));
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        response.set_raw_header(HEADER, id_of(request).to_owned());
    }
}

/// A route handler run inside the request's span, which logs the request's
/// end ([`request_finished`]).
#[derive(Clone)]
pub(crate) struct InSpan<H>(pub(crate) H);

#[rocket::async_trait]
impl<H: Handler + Clone> Handler for InSpan<H> {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        // The path where the API is mounted, as `routes::dispatch` routes it.
        let full = request.uri().path().as_str();
        let base = request
            .route()
            .map_or("/", |route| route.uri.base())
            .trim_end_matches('/');
        let path = full.strip_prefix(base).unwrap_or(full);
        let span = request_span(request.method().as_str(), path, id_of(request));
        let started = Instant::now();
        let outcome = self.0.handle(request, data).instrument(span.clone()).await;
        if let Outcome::Success(response) = &outcome {
            request_finished(&span, response.status().code, started.elapsed());
        }
        outcome
    }
}
