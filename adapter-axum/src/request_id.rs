//! Request ids and the request span of a standalone server ([`crate::app`],
//! [`crate::serve`], [`crate::serve_router`]): tower-http's request-id
//! layers with agora-core's rule ([`agora_core::http::request_id`]), and a
//! [`TraceLayer`] that runs each request in core's
//! [`agora_core::http::request_span`].

use std::time::Duration;

use agora_core::config::TrustedProxy;
use agora_core::http::{
    REQUEST_ID_HEADER, kept_request_id, new_request_id, request_finished, request_span,
};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower::util::MapRequestLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
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

/// `router` with request ids: an incoming `X-Request-Id` is dropped unless
/// core keeps it ([`kept_request_id`]: a trusted `proxy` and a valid id),
/// a new one is generated in its place, the request runs in core's request
/// span (so every log line of it carries `request_id`), and the id is
/// returned on every response, errors included.
pub(crate) fn with_request_ids(router: Router, proxy: &TrustedProxy) -> Router {
    let header = HeaderName::from_static(REQUEST_ID_HEADER);
    let proxy = proxy.clone();
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
    router
        .layer(trace)
        .layer(PropagateRequestIdLayer::new(header.clone()))
        .layer(SetRequestIdLayer::new(header, CoreRequestId))
        .layer(MapRequestLayer::new(move |mut request: Request| {
            let incoming = request.headers().get(REQUEST_ID_HEADER);
            if kept_request_id(&proxy, incoming.map(HeaderValue::as_bytes)).is_none() {
                request.headers_mut().remove(REQUEST_ID_HEADER);
            }
            request
        }))
}
