//! The HTTP contract against the OpenAPI document, in-process: the application is built on port 0 inside this
//! test (`panoptes::app::Application`, no child process) and every operation `/api/openapi.json` documents is
//! called. An operation without path parameters or body answers with its documented status (JSON where it
//! is under `/api/`); one given an unknown id or an empty body answers with a documented client error whose
//! body is the `Error` schema (`{"error": "..."}`); a WebSocket route asked without an upgrade refuses.

mod common;

use common::{config_with_cameras, store_section};
use panoptes::app::{Application, Deps};
use serde_json::Value;
use std::io::Write;

/// Operations that take an id but are queries: recordings outlive their camera, so listing them by a camera
/// id nothing has (any more) answers the documented status with an empty list, not a client error.
const QUERIES: &[&str] = &["/api/cameras/{id}/recordings"];

/// The admin token the application is given.
const TOKEN: &str = "contract-admin-token";

/// The application with no cameras and the admin token [`TOKEN`], its store in `dir`.
async fn application(dir: &std::path::Path) -> Application {
    let toml = format!("{}{}", config_with_cameras(""), store_section(dir));
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(toml.as_bytes()).unwrap();
    let config = panoptes::settings::load(Some(file.path())).unwrap();
    let deps = Deps { metrics: panoptes::metrics::detached().unwrap(), admin_token: Some(TOKEN.into()) };
    Application::build(config, deps).await.unwrap()
}

/// `path` with every `{param}` replaced by an id nothing has.
fn unknown_ids(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        let name = &rest[open + 1..close - 1];
        // Numeric ids where the API has them (events, tokens), names elsewhere.
        out.push_str(if name == "id" && (path.starts_with("/api/events") || path.starts_with("/api/tokens")) {
            "987654321"
        } else {
            "no-such-thing"
        });
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

#[actix_web::test]
async fn every_documented_operation_answers_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let app = application(dir.path()).await;
    let (base, handle) = (format!("http://{}", app.addr()), app.handle());
    let running = actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(30)).finish();

    // Without the token the API refuses; with it, the document.
    let res = client.get(format!("{base}/api/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let auth = ("authorization", format!("Bearer {TOKEN}"));
    let mut res = client.get(format!("{base}/api/openapi.json")).insert_header(auth).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().limit(1 << 20).await.unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let documented: Vec<u16> =
                op["responses"].as_object().unwrap().keys().filter_map(|k| k.parse().ok()).collect();
            assert_eq!(documented.len(), 1, "{method} {path}: one success status documented");
            let success = documented[0];
            let has_body = op.get("requestBody").is_some();
            let url = format!("{base}{}", unknown_ids(path));
            let req = client
                .request(method.to_uppercase().parse().unwrap(), &url)
                .insert_header(("authorization", format!("Bearer {TOKEN}")));
            let mut res = if has_body {
                req.insert_header(("content-type", "application/json")).send_body("{}").await.unwrap()
            } else {
                req.send().await.unwrap()
            };
            let status = res.status().as_u16();
            let body = res.body().limit(8 << 20).await.unwrap();
            checked += 1;
            let what = format!("{} {path} ({url})", method.to_uppercase());
            if success == 101 {
                if !(400..500).contains(&status) {
                    problems.push(format!("{what}: a WebSocket route without an upgrade answered {status}"));
                }
            } else if (!path.contains('{') || QUERIES.contains(&path.as_str())) && !has_body {
                if status != success {
                    problems.push(format!("{what}: answered {status}, documented {success}"));
                } else if path.starts_with("/api/") && serde_json::from_slice::<Value>(&body).is_err() {
                    problems.push(format!("{what}: the answer is not JSON"));
                }
            } else if !(400..500).contains(&status) {
                problems.push(format!("{what}: an unknown id or empty body answered {status}, not a client error"));
            } else if path.starts_with("/api/") {
                let error =
                    serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["error"].as_str().map(str::to_owned));
                if error.is_none_or(|e| e.is_empty()) {
                    problems.push(format!(
                        "{what}: the {status} answer is not the Error schema: {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
            }
        }
    }
    handle.stop(true).await;
    running.await.unwrap().unwrap();
    assert!(checked >= 35, "checked {checked} operations");
    assert!(problems.is_empty(), "{} operations break the contract:\n{}", problems.len(), problems.join("\n"));
}

#[actix_web::test]
async fn a_known_path_under_an_undeclared_method_answers_405_with_allow() {
    let dir = tempfile::tempdir().unwrap();
    let app = application(dir.path()).await;
    let (base, handle) = (format!("http://{}", app.addr()), app.handle());
    let running = actix_web::rt::spawn(app.run_until_stopped());
    let client = awc::Client::default();
    for (method, path, allow) in
        [("TRACE", "/healthz", "GET"), ("HEAD", "/", "GET"), ("PATCH", "/api/cameras", "GET, POST")]
    {
        let res = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .insert_header(("authorization", format!("Bearer {TOKEN}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method} {path}");
        assert_eq!(res.headers().get("allow").unwrap(), allow, "{method} {path}");
    }
    let res = client
        .get(format!("{base}/api/nothing"))
        .insert_header(("authorization", format!("Bearer {TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "an unknown path stays 404");
    handle.stop(true).await;
    running.await.unwrap().unwrap();
}
