//! The committed OpenAPI document (`openapi.json` at the repository root) is the `/v1`
//! contract that clients are checked against: this test fails when the document the API
//! serves at `/openapi.json` differs from it.
//!
//! After an intended change of the API, regenerate the file and commit it with the change:
//!
//! ```sh
//! UPDATE_OPENAPI=1 cargo test -p linkplane-api --test openapi
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;
use utoipa::OpenApi as _;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json")
}

/// The document as committed: pretty-printed with two-space indents, the keys of every
/// object sorted (whatever map serde_json was built with in this build), array order kept,
/// and a final newline.
fn render(doc: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(doc)).unwrap();
    text.push('\n');
    text
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The first line where two texts differ, with a few lines of context.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let at = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    let show = |lines: &[&str]| {
        lines
            .iter()
            .enumerate()
            .skip(at.saturating_sub(2))
            .take(5)
            .map(|(i, l)| format!("  {:>5} {l}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {}:\ncommitted:\n{}\nserved:\n{}",
        at + 1,
        show(&w),
        show(&g)
    )
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let server = common::Server::start().await;
    let served = server
        .raw(Method::GET, "/openapi.json", None, &[], None)
        .await;
    assert_eq!(served.status.as_u16(), 200, "{}", served.text);
    let served: Value = serde_json::from_str(&served.text).expect("/openapi.json is JSON");
    // What is served is what the code generates.
    let generated = serde_json::to_value(linkplane_api::ApiDoc::openapi()).unwrap();
    assert_eq!(served, generated, "/openapi.json is not ApiDoc::openapi()");

    let got = render(&served);
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v != "0") {
        std::fs::write(&path, &got).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        panic!(
            "the API's OpenAPI document differs from the committed openapi.json.\n\
             If the change of the API is intended, regenerate the file and commit it:\n\
             \n    UPDATE_OPENAPI=1 cargo test -p linkplane-api --test openapi\n\n{}",
            if want.is_empty() {
                format!("({} is missing or empty)", path.display())
            } else {
                first_difference(&want, &got)
            }
        );
    }
}
