//! [`agora_core::Error`] as an axum response: status, JSON body and headers
//! all come from agora-core ([`agora_core::http::Response::error`]).

use agora_core::Error;
use axum::response::{IntoResponse, Response};

/// An Agora error as an axum response, for your own handlers.
#[derive(Debug, Clone)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        crate::routes::respond(agora_core::http::Response::error(&self.0))
    }
}
