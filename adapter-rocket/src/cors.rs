//! CORS for a list of allowed origins, answering as the axum adapter's
//! `tower_http::cors::CorsLayer` does.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{Header, Method, Status};
use rocket::{Request, Response};

/// A fairing that allows cross-origin requests from a fixed list of origins
/// (never `*`, never credentials), like the axum adapter's CORS layer:
/// every `OPTIONS` request is a preflight answered 200 with an empty body,
/// `Access-Control-Allow-Methods: GET,POST,PUT,DELETE` and
/// `Access-Control-Allow-Headers: authorization,content-type`; answers to an
/// allowed `Origin` carry `Access-Control-Allow-Origin: <origin>`, and all
/// answers `Vary: origin`.
#[derive(Debug, Clone)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// Allows exactly these origins (e.g. `https://app.example`).
    pub fn new(origins: impl IntoIterator<Item = String>) -> Self {
        Cors {
            origins: origins.into_iter().collect(),
        }
    }
}

#[rocket::async_trait]
impl Fairing for Cors {
    fn info(&self) -> Info {
        Info {
            name: "Agora CORS",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, request: &'r Request<'_>, response: &mut Response<'r>) {
        response.adjoin_header(Header::new("Vary", "origin"));
        if let Some(origin) = request.headers().get_one("Origin")
            && self.origins.iter().any(|allowed| allowed == origin)
        {
            response.set_header(Header::new(
                "Access-Control-Allow-Origin",
                origin.to_owned(),
            ));
        }
        if request.method() == Method::Options {
            response.set_status(Status::Ok);
            response.remove_header("Content-Type");
            response.remove_header("Allow");
            let methods: Vec<&str> = agora_core::http::Method::ALL
                .iter()
                .map(|m| m.as_str())
                .collect();
            response.set_header(Header::new(
                "Access-Control-Allow-Methods",
                methods.join(","),
            ));
            response.set_header(Header::new(
                "Access-Control-Allow-Headers",
                agora_core::http::CORS_ALLOWED_HEADERS.join(","),
            ));
            response.set_sized_body(0, std::io::Cursor::new(Vec::new()));
        }
    }
}
