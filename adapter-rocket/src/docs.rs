//! `GET /openapi.json` (agora-core's OpenAPI document) and `GET /docs`
//! (Swagger UI, served from the files vendored into the binary: no internet
//! needed).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rocket::Either;
use rocket::http::ContentType;
use rocket::http::uri::Origin;
use rocket::response::Redirect;
use rocket::{Route, get};
use utoipa_swagger_ui::Config;

use crate::ApiError;
use crate::guards::StrictPath;

/// The two documentation routes (mounted with [`crate::routes()`]).
pub(crate) fn routes() -> Vec<Route> {
    rocket::routes![openapi_json, docs]
}

#[get("/openapi.json")]
fn openapi_json(_path: StrictPath) -> (ContentType, &'static str) {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| {
        agora_core::openapi::document()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
    });
    (ContentType::JSON, json.as_str())
}

/// Swagger UI's settings: the document next to `/docs/`, and the bearer
/// token kept across reloads once "Authorize" has logged in.
fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(Config::new(["../openapi.json"]).persist_authorization(true)))
        .clone()
}

#[get("/docs/<file..>")]
fn docs(
    uri: &Origin<'_>,
    file: PathBuf,
) -> Either<Redirect, Result<(ContentType, Vec<u8>), ApiError>> {
    let file = file.to_string_lossy().replace('\\', "/");
    // Relative, so that the page's relative links work under any base path.
    if file.is_empty() && !uri.path().as_str().ends_with('/') {
        return Either::Left(Redirect::to("docs/"));
    }
    let not_found = || ApiError(agora_core::Error::NotFound("Not Found".to_owned()));
    Either::Right(match utoipa_swagger_ui::serve(&file, config()) {
        Ok(Some(file)) => Ok((
            ContentType::parse_flexible(&file.content_type).unwrap_or(ContentType::Binary),
            file.bytes.into_owned(),
        )),
        Ok(None) => Err(not_found()),
        Err(e) => Err(ApiError(agora_core::Error::internal(e.to_string()))),
    })
}
