//! The served OpenAPI document describes exactly the routes mounted, and the
//! docs page is served from the vendored Swagger UI.

#![allow(clippy::unwrap_used)]

use rocket::http::{ContentType, Method, Status};
use rocket::local::asynchronous::Client;
use serde_json::Value;

async fn client() -> (Client, agora_contract::harness::TestApp) {
    let t = agora_contract::harness::test_app().await;
    let client = Client::untracked(agora_rocket::app(t.agora.clone(), &t.config))
        .await
        .unwrap();
    (client, t)
}

#[rocket::async_test]
async fn every_documented_operation_is_served_and_other_methods_are_405() {
    let (client, _dir) = client().await;
    let documented = agora_core::openapi::operations();
    for (method, path) in &documented {
        let uri = path
            .replace("{id}", "1")
            .replace("{comment_id}", "1")
            .replace("{username}", "someone");
        for candidate in [
            Method::Get,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
        ] {
            let status = client
                .req(candidate, uri.as_str())
                .dispatch()
                .await
                .status();
            let is_documented = documented
                .iter()
                .any(|(m, p)| p == path && *m == candidate.as_str());
            if is_documented {
                assert_ne!(status, Status::MethodNotAllowed, "{candidate} {path}");
            } else {
                assert_eq!(
                    status,
                    Status::MethodNotAllowed,
                    "{candidate} {path} ({method})"
                );
            }
        }
    }
}

#[rocket::async_test]
async fn served_document_is_openapi_3_1_and_matches_core() {
    let (client, _dir) = client().await;
    let response = client.get("/openapi.json").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::JSON));
    let doc: Value = serde_json::from_str(&response.into_string().await.unwrap()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc,
        serde_json::to_value(agora_core::openapi::document()).unwrap()
    );
}

#[rocket::async_test]
async fn docs_page_is_served_offline() {
    let (client, _dir) = client().await;
    let response = client.get("/docs").dispatch().await;
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("location"), Some("docs/"));
    let response = client.get("/docs/").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    assert!(response.into_string().await.unwrap().contains("swagger"));
    let response = client.get("/docs/swagger-initializer.js").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
    assert!(
        response
            .into_string()
            .await
            .unwrap()
            .contains("../openapi.json")
    );
    for file in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let response = client.get(format!("/docs/{file}")).dispatch().await;
        assert_eq!(response.status(), Status::Ok, "{file}");
        assert!(response.into_bytes().await.unwrap().len() > 1000, "{file}");
    }
    let response = client.get("/docs/missing.js").dispatch().await;
    assert_eq!(response.status(), Status::NotFound);
}
