//! The OpenAPI document is well-formed and complete.

use agora_core::openapi;

#[test]
fn document_is_openapi_3_1_with_both_security_schemes() {
    let doc = serde_json::to_value(openapi::document()).expect("serialises");
    if let Ok(path) = std::env::var("AGORA_DUMP_OPENAPI") {
        std::fs::write(path, serde_json::to_string_pretty(&doc).expect("json")).expect("write");
    }
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["oauth2"]["flows"]["password"]["tokenUrl"], "/login");
    // Every $ref points at a defined schema.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().expect("name");
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }
    // Every operation has a success answer and documents its errors with a body.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{method} {path}"
            );
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]["application/json"]["schema"].is_object(),
                        "{method} {path} {status}"
                    );
                }
            }
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
        }
    }
}

#[test]
fn operations_cover_the_issue_6_routes() {
    let ops = openapi::operations();
    for (method, path) in [
        ("POST", "/token/refresh"),
        ("POST", "/logout"),
        ("POST", "/logout/all"),
        ("GET", "/sessions"),
        ("DELETE", "/sessions/{id}"),
        ("PUT", "/users/me/password"),
        ("DELETE", "/users/me"),
        ("GET", "/.well-known/jwks.json"),
    ] {
        assert!(
            ops.contains(&(method.to_owned(), path.to_owned())),
            "{method} {path}"
        );
    }
}
