//! Agora's API as rocket routes: one catch-all route per method hands every
//! request to agora-core's endpoint table and dispatcher
//! ([`agora_core::http`]); this file only translates rocket's request and
//! response to core's. Core decides 404 and 405 (with `Allow`), matches
//! each path with and without one trailing slash, and answers other empty
//! segments (`//posts`) with 404, as with axum.

use agora_core::Error;
use agora_core::http::{self, BodyKind};
use agora_core::metrics::RouteLabel;
use rocket::data::{Data, ToByteUnit};
use rocket::http::Method;
use rocket::route::{Handler, Outcome, Route};
use rocket::{Request, Response};

use crate::metrics::AgoraRoute;

/// The rank of Agora's catch-all routes: after any route of your own
/// mounted at the same base.
const RANK: isize = 100;

/// Agora's routes (the table of [`agora_core::http::ENDPOINTS`], with
/// `GET /openapi.json` and Swagger UI at `GET /docs`), to mount at any base
/// path; register [`crate::catchers()`] at the same base and manage an
/// [`agora_core::Agora`] (or call [`crate::mount`]). Bodies over [`agora_core::Agora::body_limit`]
/// get a 413.
pub fn routes() -> Vec<Route> {
    [
        Method::Get,
        Method::Put,
        Method::Post,
        Method::Delete,
        Method::Options,
        Method::Patch,
        Method::Trace,
        Method::Connect,
    ]
    .into_iter()
    .map(|method| {
        // In the request's span (`request_id`), for every log line of it.
        let handler = crate::request_id::InSpan(Dispatch);
        Route::ranked(RANK, method, "/<path..>", handler)
    })
    .collect()
}

#[derive(Clone)]
struct Dispatch;

#[rocket::async_trait]
impl Handler for Dispatch {
    async fn handle<'r>(&self, request: &'r Request<'_>, data: Data<'r>) -> Outcome<'r> {
        Outcome::from(request, Reply(dispatch(request, data).await))
    }
}

async fn dispatch(request: &Request<'_>, data: Data<'_>) -> http::Response {
    let agora = match crate::guards::managed_agora(request) {
        Ok(agora) => agora,
        Err(e) => return http::Response::error(&e),
    };
    let full = request.uri().path().as_str();
    let base = request
        .route()
        .map_or("/", |route| route.uri.base())
        .trim_end_matches('/');
    let path = full.strip_prefix(base).unwrap_or(full);
    let route = http::route(request.method().as_str(), path);
    // For `crate::metrics::Metrics`: the endpoint, not rocket's catch-all.
    request.local_cache(|| {
        AgoraRoute(Some(match &route {
            Ok(route) => RouteLabel::of(base, route.endpoint.path),
            Err(_) => RouteLabel::unmatched(),
        }))
    });
    let route = match route {
        Ok(route) => route,
        Err(e) => return http::Response::error(&e),
    };
    let body = match route.endpoint.body {
        BodyKind::None => Ok(Vec::new()),
        BodyKind::Json | BodyKind::Login => read_body(request, data, agora.body_limit()).await,
    };
    let headers = request.headers();
    let client = crate::guards::client_of(agora, request);
    let request = http::Request {
        path: full,
        base,
        query: request.uri().query().map(|q| q.as_str()),
        authorization: headers.get_one("Authorization"),
        content_type: headers.get_one("Content-Type"),
        body: body.as_deref().map_err(Clone::clone),
        client,
    };
    agora.handle(&route, request).await
}

/// The body, at most `limit` bytes (413 beyond), so rocket's own
/// [`rocket::data::Limits`] never apply to Agora's routes.
pub(crate) async fn read_body(
    request: &Request<'_>,
    data: Data<'_>,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let announced = request
        .headers()
        .get_one("Content-Length")
        .and_then(|n| n.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(Error::PayloadTooLarge);
    }
    let capped = data
        .open(limit.bytes())
        .into_bytes()
        .await
        .map_err(|e| Error::invalid(&["body"], e.to_string(), "body_unreadable"))?;
    if !capped.is_complete() {
        return Err(Error::PayloadTooLarge);
    }
    Ok(capped.into_inner())
}

/// Core's answer as a rocket response.
pub(crate) struct Reply(pub(crate) http::Response);

impl<'r> rocket::response::Responder<'r, 'static> for Reply {
    fn respond_to(self, _request: &'r Request<'_>) -> rocket::response::Result<'static> {
        let mut builder = Response::build();
        builder.status(rocket::http::Status::new(self.0.status));
        for (name, value) in self.0.headers {
            builder.raw_header(name, value);
        }
        let body = self.0.body;
        Ok(builder
            .sized_body(body.len(), std::io::Cursor::new(body))
            .finalize())
    }
}
