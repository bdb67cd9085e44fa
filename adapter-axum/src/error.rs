//! [`agora_core::Error`] to HTTP: the status, body and headers come from
//! agora-core ([`Error::status_code`], [`Error::body`], [`Error::headers`]),
//! so every adapter answers alike.

use agora_core::Error;
use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An Agora error as an axum response.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        // The cause goes to the log only; the client gets fixed text.
        err.log_if_server_error();
        let status =
            StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(err.body())).into_response();
        let headers = response.headers_mut();
        for (name, value) in err.headers() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        }
        response
    }
}
