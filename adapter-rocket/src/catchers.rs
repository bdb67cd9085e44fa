//! JSON catchers: rocket's default HTML error pages never reach a client.
//!
//! Agora's own routes answer every request themselves (see
//! [`crate::routes()`]); the catchers serve your routes. A catcher answers
//! with the error a failed Agora guard recorded when there is one (so a
//! plain [`crate::AuthUser`] guard gives the exact 401 body); otherwise it
//! maps rocket's own status to the Agora error that stands for it (an
//! unknown path is 404 `NOT_FOUND`, a failed `Json`, `Form` or typed
//! parameter a 422, 413 `PAYLOAD_TOO_LARGE`, 5xx fixed text), or to
//! `{"detail": <reason>}` for a status Agora has no error for.

use agora_core::Error;
use agora_core::http::Response;
use rocket::http::Status;
use rocket::{Catcher, Request, catch};
use serde_json::json;

use crate::error::take_remembered;
use crate::routes::Reply;

/// The catchers to register (at the base where the routes are mounted,
/// and at the base of your own routes that use [`crate::AuthUser`]): one
/// `default` catcher that answers every status with JSON.
pub fn catchers() -> Vec<Catcher> {
    rocket::catchers![json_catcher]
}

#[catch(default)]
fn json_catcher(status: Status, request: &Request<'_>) -> Reply {
    if let Some(err) = take_remembered(request, status) {
        return Reply(Response::error(&err));
    }
    Reply(match error_for(status) {
        Some(err) => Response::error(&err),
        None => Response::json(status.code, &json!({ "detail": status.reason_lossy() })),
    })
}

/// The Agora error that stands for a status rocket answered by itself.
fn error_for(status: Status) -> Option<Error> {
    Some(match status.code {
        400 | 422 => Error::invalid(
            &["request"],
            "The request could not be parsed: a path, query or body value is invalid",
            "request_invalid",
        ),
        401 => Error::Unauthorized,
        404 => Error::RouteNotFound,
        413 => Error::PayloadTooLarge,
        500 => Error::internal("rocket answered 500 by itself: a handler panicked or failed"),
        503 => Error::unavailable("rocket answered 503 by itself"),
        _ => return None,
    })
}
