//! Agora's API as an axum router: every request goes through agora-core's
//! endpoint table and dispatcher ([`agora_core::http`]); this file only
//! translates axum's request and response to core's.

use agora_core::http::{self, BodyKind};
use agora_core::metrics::RouteLabel;
use agora_core::{Agora, Error};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::any;

/// Agora's routes (the table of [`agora_core::http::ENDPOINTS`], with
/// `GET /openapi.json` and Swagger UI at `GET /docs`), ready to nest or
/// `merge` into your app. Every route also answers with a trailing slash;
/// unknown paths get a JSON 404, other methods a 405 with `Allow`, and
/// bodies over [`Agora::body_limit`] a 413.
///
/// Nest it with `nest_service("/api", router(agora))`: then `/api` and
/// `/api/` both answer the API's root. (axum's `nest` never hands `/api/`
/// to the nested router: axum answers it with an empty 404.) Under a
/// prefix, `GET /api/openapi.json` names `/api` as its server and
/// `/api/login` as the OAuth2 token URL, so Swagger UI at `/api/docs` works
/// as at the root; the prefix is read from each request (the path the app
/// received against the path left after nesting).
///
/// It adds no tracing layer of its own (failures are logged by agora-core):
/// wrap your app in tower-http's `TraceLayer` for request spans, or serve it
/// with [`crate::serve_router`], which runs each request in Agora's request
/// span.
pub fn router(agora: Agora) -> Router {
    Router::new()
        .route("/", any(serve))
        .route("/{*path}", any(serve))
        .with_state(agora)
}

async fn serve(State(agora): State<Agora>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let client = crate::extract::client_of(&agora, &parts);
    let route = match http::route(parts.method.as_str(), parts.uri.path()) {
        Ok(route) => route,
        Err(e) => return labelled(respond(http::Response::error(&e)), RouteLabel::unmatched()),
    };
    // For `crate::metrics::MetricsLayer`: the endpoint, not axum's catch-all.
    let label = RouteLabel::of(mount_base(&parts), route.endpoint.path);
    let body = match route.endpoint.body {
        BodyKind::None => Ok(Bytes::new()),
        BodyKind::Json | BodyKind::Login => read_body(body, agora.body_limit()).await,
    };
    let headers = &parts.headers;
    let request = http::Request {
        path: parts.uri.path(),
        base: mount_base(&parts),
        query: parts.uri.query(),
        authorization: text(headers, header::AUTHORIZATION),
        content_type: text(headers, header::CONTENT_TYPE),
        body: body.as_deref().map_err(Clone::clone),
        client,
    };
    labelled(respond(agora.handle(&route, request).await), label)
}

/// `response` with the route label [`crate::metrics::MetricsLayer`] reads.
fn labelled(mut response: Response, label: RouteLabel) -> Response {
    response.extensions_mut().insert(label);
    response
}

/// Where the router is nested, as this request reached it: the path the
/// app received ([`OriginalUri`]) less the path left after nesting (`""`
/// at the root, `"/api"` under `nest_service("/api", ..)`).
fn mount_base(parts: &Parts) -> &str {
    let Some(OriginalUri(original)) = parts.extensions.get::<OriginalUri>() else {
        return "";
    };
    let (full, rest) = (original.path(), parts.uri.path());
    let base = match full.strip_suffix(rest) {
        Some(base) => base,
        // `/api` nested at `/api` is left as `/`.
        None if rest == "/" || rest.is_empty() => full,
        None => "",
    };
    base.trim_end_matches('/')
}

fn text(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The body, at most `limit` bytes: 413 beyond, 408 when
/// [`crate::app`]'s body deadline passes first.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<Bytes, Error> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let cause = e.into_inner();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(cause.as_ref());
        while let Some(e) = source {
            if e.is::<http_body_util::LengthLimitError>() {
                return Error::PayloadTooLarge;
            }
            if e.is::<tower_http::timeout::TimeoutError>() {
                return Error::BodyTimeout;
            }
            source = e.source();
        }
        Error::invalid(&["body"], cause.to_string(), "body_unreadable")
    })
}

/// Core's answer as axum's.
pub(crate) fn respond(response: http::Response) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut reply = Response::new(Body::from(response.body));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    for (name, value) in response.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    reply
}
