//! [`agora_core::Error`] to HTTP. The status, the JSON body and the extra
//! headers all come from agora-core ([`Error::status_code`], [`Error::body`],
//! [`Error::headers`]), exactly as in the axum adapter.

use std::io::Cursor;
use std::sync::{Mutex, PoisonError};

use agora_core::Error;
use rocket::Request;
use rocket::http::{ContentType, Status};
use rocket::response::{self, Responder, Response};
use serde::Serialize;

/// An Agora error as a rocket response: its status, its JSON body and, on
/// 401, `WWW-Authenticate: Bearer`. 5xx causes are logged, never sent.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        Ok(error_reply(&self.0).into_response())
    }
}

/// The reply for an error; logs the cause of a 5xx.
pub(crate) fn error_reply(err: &Error) -> JsonReply {
    err.log_if_server_error();
    JsonReply {
        status: Status::new(err.status_code()),
        headers: err.headers(),
        body: err.body().to_string().into_bytes(),
    }
}

/// A JSON answer: status, extra headers, serialised body.
#[derive(Debug)]
pub(crate) struct JsonReply {
    pub(crate) status: Status,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl JsonReply {
    /// `value` as JSON with `status`.
    pub(crate) fn new<T: Serialize>(status: Status, value: &T) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value).map_err(|e| ApiError(Error::internal(e)))?;
        Ok(JsonReply {
            status,
            headers: Vec::new(),
            body,
        })
    }

    /// `value` as JSON with 200 OK.
    pub(crate) fn ok<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        Self::new(Status::Ok, value)
    }

    pub(crate) fn into_response(self) -> Response<'static> {
        let mut builder = Response::build();
        builder.status(self.status).header(ContentType::JSON);
        for (name, value) in self.headers {
            builder.raw_header(name, value);
        }
        builder
            .sized_body(self.body.len(), Cursor::new(self.body))
            .finalize()
    }
}

impl<'r> Responder<'r, 'static> for JsonReply {
    fn respond_to(self, _request: &'r Request<'_>) -> response::Result<'static> {
        Ok(self.into_response())
    }
}

/// The error of a failed guard, kept in the request's local cache for the
/// catchers: rocket 0.5 hands a catcher only the status, not the error.
#[derive(Default)]
struct GuardError(Mutex<Option<Error>>);

/// Records `err` for the catchers of this request.
pub(crate) fn remember(request: &Request<'_>, err: Error) {
    let cell = request.local_cache(GuardError::default);
    *cell.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
}

/// The guard error recorded for this request, if its status is `status`
/// (a stale error from a guard whose failure the handler handled itself
/// must not answer for a different failure).
pub(crate) fn take_remembered(request: &Request<'_>, status: Status) -> Option<Error> {
    let cell = request.local_cache(GuardError::default);
    let mut slot = cell.0.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref()?.status_code() == status.code {
        slot.take()
    } else {
        None
    }
}

/// A copy of `err` (core errors are not `Clone`: 5xx causes are boxed
/// errors, copied here as their message, which only reaches the logs).
pub(crate) fn copy_error(err: &Error) -> Error {
    let cause = |c: &agora_core::error::Cause| c.to_string().into();
    match err {
        Error::Validation(fields) => Error::Validation(fields.clone()),
        Error::InvalidCredentials => Error::InvalidCredentials,
        Error::Unauthorized => Error::Unauthorized,
        Error::Forbidden(m) => Error::Forbidden(m.clone()),
        Error::NotFound(m) => Error::NotFound(m.clone()),
        Error::Conflict(m) => Error::Conflict(m.clone()),
        Error::PayloadTooLarge => Error::PayloadTooLarge,
        Error::RateLimited { retry_after_secs } => Error::RateLimited {
            retry_after_secs: *retry_after_secs,
        },
        Error::Unavailable(c) => Error::Unavailable(cause(c)),
        Error::Internal(c) => Error::Internal(cause(c)),
    }
}
