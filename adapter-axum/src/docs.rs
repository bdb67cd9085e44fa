//! `GET /openapi.json` (agora-core's OpenAPI document) and `GET /docs`
//! (Swagger UI, served from the files vendored into the binary: no internet
//! needed).

use std::sync::Arc;

use agora_core::Agora;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa_swagger_ui::Config;

/// The two documentation routes.
pub(crate) fn routes() -> Router<Agora> {
    let document = Bytes::from(
        agora_core::openapi::document()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned()),
    );
    let config = Arc::new(swagger_config());
    let index = config.clone();
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        // Relative, so that the page's relative links work under any base path.
        .route(
            "/docs",
            get(|| async { (StatusCode::SEE_OTHER, [(header::LOCATION, "docs/")]) }),
        )
        .route(
            "/docs/",
            get(move || async move { swagger_file("", &index) }),
        )
        .route(
            "/docs/{*file}",
            get(move |Path(file): Path<String>| async move { swagger_file(&file, &config) }),
        )
}

/// Swagger UI's settings: the document next to `/docs/`, and the bearer
/// token kept across reloads once "Authorize" has logged in.
fn swagger_config() -> Config<'static> {
    Config::new(["../openapi.json"]).persist_authorization(true)
}

fn swagger_file(file: &str, config: &Arc<Config<'static>>) -> Response {
    match utoipa_swagger_ui::serve(file, config.clone()) {
        Ok(Some(file)) => {
            let mut response = (
                [(header::CONTENT_TYPE, file.content_type)],
                file.bytes.into_owned(),
            )
                .into_response();
            if file.gzpipped {
                response.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    header::HeaderValue::from_static("gzip"),
                );
            }
            response
        }
        Ok(None) => {
            crate::ApiError(agora_core::Error::NotFound("Not Found".to_owned())).into_response()
        }
        Err(e) => crate::ApiError(agora_core::Error::internal(e.to_string())).into_response(),
    }
}
