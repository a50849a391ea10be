//! The OpenAPI document states the answers and limits the server enforces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use utoipa::OpenApi;

#[test]
fn every_authenticated_operation_documents_400_401_and_the_limits() {
    let doc = serde_json::to_value(linkplane_api::ApiDoc::openapi()).unwrap();
    let mut ops = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            ops += 1;
            for code in ["400", "401"] {
                assert!(
                    op["responses"].get(code).is_some(),
                    "{method} {path} has no {code}"
                );
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                match p["name"].as_str().unwrap() {
                    "limit" => {
                        assert_eq!(p["schema"]["minimum"], 1, "{method} {path}");
                        assert_eq!(p["schema"]["maximum"], 500, "{method} {path}");
                    }
                    "Idempotency-Key" => {
                        assert_eq!(p["schema"]["maxLength"], 255, "{method} {path}")
                    }
                    "If-Match" => assert!(p["schema"]["pattern"].is_string(), "{method} {path}"),
                    _ => {}
                }
            }
        }
    }
    assert!(ops > 50, "{ops}");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Name"]["minLength"], 1);
    assert_eq!(schemas["Name"]["maxLength"], 63);
    let cidr = schemas["Cidr"]["pattern"].as_str().unwrap();
    assert!(cidr.contains("[1-9]?[0-9]"), "no leading zeros: {cidr}");
    assert!(
        schemas["Region"]["enum"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("us-east-1"))
    );
}
