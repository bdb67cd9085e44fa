//! [`agora_core::Error`] as a rocket response, and the error a failed guard
//! leaves for the catchers: status, JSON body and headers all come from
//! agora-core ([`agora_core::http::Response::error`]).

use std::sync::{Mutex, PoisonError};

use agora_core::Error;
use rocket::Request;
use rocket::http::Status;
use rocket::response::{self, Responder};

use crate::routes::Reply;

/// An Agora error as a rocket response, for your own handlers.
#[derive(Debug, Clone)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        Reply(agora_core::http::Response::error(&self.0)).respond_to(request)
    }
}

/// The error of the last failed Agora guard of a request, for the catcher.
#[derive(Default)]
struct GuardError(Mutex<Option<Error>>);

/// Records `err` for the catcher of this request.
pub(crate) fn remember(request: &Request<'_>, err: Error) {
    let cell = request.local_cache(GuardError::default);
    *cell.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
}

/// The error a guard recorded, if its status is the one being caught.
pub(crate) fn take_remembered(request: &Request<'_>, status: Status) -> Option<Error> {
    let cell = request.local_cache(GuardError::default);
    let mut slot = cell.0.lock().unwrap_or_else(PoisonError::into_inner);
    if slot.as_ref()?.status_code() == status.code {
        slot.take()
    } else {
        None
    }
}
