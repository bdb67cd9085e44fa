//! The layers of a standalone server ([`crate::app`], [`crate::serve`],
//! [`crate::serve_router`]), as one: CORS, the body deadline, request ids
//! (tower-http's request-id layers with agora-core's rule,
//! [`agora_core::http::request_id`]) and a [`TraceLayer`] that runs each
//! request in core's [`agora_core::http::request_span`]. One
//! [`Router::layer`] call, because each call boxes every route once more
//! and every request clones each box.

use std::time::Duration;

use agora_core::Config;
use agora_core::http::{
    REQUEST_ID_HEADER, kept_request_id, new_request_id, request_finished, request_span,
};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::DeadlineBody;
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Generates the ids [`SetRequestIdLayer`] gives requests without a kept
/// one: [`new_request_id`].
#[derive(Debug, Clone, Copy)]
struct CoreRequestId;

impl MakeRequestId for CoreRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&new_request_id())
            .ok()
            .map(RequestId::new)
    }
}

/// `router` with CORS for `config.server.cors_origins` (none by default),
/// the body deadline (`config.server.body_timeout`: a body not in by then
/// gets 408), and request ids: an incoming `X-Request-Id` is dropped unless
/// core keeps it ([`kept_request_id`]: a trusted `config.proxy` and a valid
/// id), a new one is generated in its place, the request runs in core's
/// request span (so every log line of it carries `request_id`), and the id
/// is returned on every response, errors included.
pub(crate) fn with_server_layers(router: Router, config: &Config) -> Router {
    let header = HeaderName::from_static(REQUEST_ID_HEADER);
    let proxy = config.proxy.clone();
    let body_timeout = config.server.body_timeout;
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            request_span(request.method().as_str(), request.uri().path(), id)
        })
        .on_request(())
        .on_response(|response: &Response, latency: Duration, span: &Span| {
            request_finished(span, response.status().as_u16(), latency);
        });
    // Outermost first: CORS preflights and every error carry the id too.
    router.layer(
        ServiceBuilder::new()
            .layer(MapRequestLayer::new(move |mut request: Request| {
                let incoming = request.headers().get(REQUEST_ID_HEADER);
                if kept_request_id(&proxy, incoming.map(HeaderValue::as_bytes)).is_none() {
                    request.headers_mut().remove(REQUEST_ID_HEADER);
                }
                request
            }))
            .layer(SetRequestIdLayer::new(header.clone(), CoreRequestId))
            .layer(PropagateRequestIdLayer::new(header))
            .layer(trace)
            .option_layer(cors(&config.server.cors_origins))
            // The whole body within the deadline (tower-http's
            // `DeadlineBody`); the handler reading it past the deadline
            // answers 408.
            .layer(MapRequestLayer::new(move |request: Request| {
                request.map(|body| Body::new(DeadlineBody::new(body_timeout, body)))
            })),
    )
}

/// CORS for `origins`; none when there are none.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let methods = agora_core::http::Method::ALL.map(|m| Method::from_bytes(m.as_str().as_bytes()));
    let headers = agora_core::http::CORS_ALLOWED_HEADERS.map(HeaderName::from_static);
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods(methods.into_iter().flatten().collect::<Vec<_>>())
            .allow_headers(headers),
    )
}
