//! JSON catchers: rocket's default HTML error pages never reach a client.
//!
//! A catcher answers with the error a failed Agora guard recorded when there
//! is one (so a plain [`crate::AuthUser`] guard gives the exact 401 body).
//! Otherwise it maps rocket's own status to the axum adapter's answer:
//! an unknown path is 404 `{"detail": "Not Found"}`, a known path with
//! another method is 405 `{"detail": "Method Not Allowed"}` with `Allow`,
//! rocket's own 400 and 422 (a failed `Json`, `Form` or typed parameter) are
//! a 422 validation body, 413 is `{"detail": "Request body too large"}`, and
//! 5xx carry fixed text.

use agora_core::Error;
use rocket::http::{Method, Status};
use rocket::{Catcher, Request, Route, catch};
use serde_json::json;

use crate::error::{JsonReply, error_reply, take_remembered};
use crate::guards::is_strict_path;

/// The catchers to register (at the base where the routes are mounted,
/// and at the base of your own routes that use [`crate::AuthUser`]): one
/// `default` catcher that answers every status with JSON.
pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![json_catcher]
}

#[catch(default)]
fn json_catcher(status: Status, request: &Request<'_>) -> JsonReply {
    if let Some(err) = take_remembered(request, status) {
        return error_reply(&err);
    }
    if status == Status::MethodNotAllowed {
        return method_not_allowed(&allowed_methods(request));
    }
    // No route matched: if routes match the path with other methods only,
    // the answer is 405, as in axum.
    if status == Status::NotFound && request.route().is_none() {
        let allowed = allowed_methods(request);
        if !allowed.is_empty() && !allowed.contains(&request.method()) {
            return method_not_allowed(&allowed);
        }
    }
    match error_for(status) {
        Some(err) => error_reply(&err),
        None => detail_reply(status, status.reason_lossy()),
    }
}

/// The Agora error that stands for a status rocket answered by itself, if
/// there is one.
fn error_for(status: Status) -> Option<Error> {
    let reason = || status.reason_lossy().to_owned();
    Some(match status.code {
        400 | 422 => Error::invalid(
            &["request"],
            "The request could not be parsed: a path, query or body value is invalid",
            "request_invalid",
        ),
        401 => Error::Unauthorized,
        403 => Error::Forbidden(reason()),
        404 => Error::NotFound(reason()),
        409 => Error::Conflict(reason()),
        413 => Error::PayloadTooLarge,
        500 => Error::internal("rocket answered 500 by itself: a handler panicked or failed"),
        503 => Error::Unavailable("rocket answered 503 by itself".into()),
        _ => return None,
    })
}

/// `{"detail": detail}` with `status`.
fn detail_reply(status: Status, detail: &str) -> JsonReply {
    JsonReply {
        status,
        headers: Vec::new(),
        body: json!({ "detail": detail }).to_string().into_bytes(),
    }
}

/// 405 `{"detail": "Method Not Allowed"}` with an `Allow` header, as axum.
fn method_not_allowed(allowed: &[Method]) -> JsonReply {
    let mut reply = detail_reply(Status::MethodNotAllowed, "Method Not Allowed");
    if !allowed.is_empty() {
        let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        reply.headers.push(("allow", allow.join(",")));
    }
    reply
}

/// The methods of the mounted routes whose path matches the request's, in
/// axum's order (`GET,HEAD` first); `HEAD` wherever `GET` is.
fn allowed_methods(request: &Request<'_>) -> Vec<Method> {
    if !is_strict_path(request.uri().path().as_str()) {
        return Vec::new();
    }
    let segments: Vec<&str> = request.uri().path().segments().collect();
    let matching: Vec<Method> = request
        .rocket()
        .routes()
        .filter(|route| path_matches(route, &segments))
        .map(|route| route.method)
        .collect();
    [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Options,
        Method::Trace,
        Method::Connect,
    ]
    .into_iter()
    .filter(|method| {
        matching.contains(method) || (*method == Method::Head && matching.contains(&Method::Get))
    })
    .collect()
}

/// Whether `route`'s path matches the request path `segments` (decoded,
/// without empty segments): rocket's own path rule, which it does not export.
fn path_matches(route: &Route, segments: &[&str]) -> bool {
    let route_segments: Vec<&str> = route.uri.origin.path().segments().collect();
    for (i, route_segment) in route_segments.iter().enumerate() {
        let dynamic = route_segment.starts_with('<') && route_segment.ends_with('>');
        if dynamic && route_segment.ends_with("..>") {
            return true;
        }
        match segments.get(i) {
            Some(segment) if dynamic || route_segment == segment => {}
            _ => return false,
        }
    }
    route_segments.len() == segments.len()
}
