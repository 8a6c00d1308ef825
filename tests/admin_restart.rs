//! Restart-safe state: what the API changed survives `kill -9` and a restart on the same store, while the
//! config file's cameras (changed meanwhile) are ignored; SIGTERM drains and exits cleanly.

mod common;

use awc::http::Method;
use common::{Server, asset, config_with_cameras, send, store_section};
use serde_json::json;
use std::time::Duration;

fn config(dir: &std::path::Path, camera: &str) -> String {
    config_with_cameras(&format!(
        "[[cameras]]\nid = \"{camera}\"\nfile = \"{}\"\nenabled = false\n{}",
        asset("media/vtest-h264.mp4").display(),
        store_section(dir)
    ))
}

fn ids(cams: &serde_json::Value) -> Vec<&str> {
    cams.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect()
}

/// Wait (bounded) for a line containing `text` on the server's stderr.
fn saw(server: &Server, text: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while let Ok(line) = server.stderr.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
        if line.contains(text) {
            return true;
        }
    }
    false
}

#[actix_web::test]
async fn api_changes_survive_kill_9_and_the_config_file_only_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&config(dir.path(), "seeded"));
    assert!(saw(&server, "seeded the cameras from the config file"));
    let (_, cams) = server.get_json("/api/cameras").await;
    assert_eq!(ids(&cams), ["seeded"]);

    let added = json!({ "id": "added", "file": asset("media/vtest-h264.mp4"), "detect_fps": 2, "enabled": false });
    let (status, body) = server.send_json(Method::POST, "/api/cameras", Some(added)).await;
    assert_eq!(status, 201, "{body}");
    let zone = json!({ "polygon": [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]] });
    let (status, _) = server.send_json(Method::PUT, "/api/cameras/added/zones/door", Some(zone.clone())).await;
    assert_eq!(status, 200);
    let (status, _) = server.send_json(Method::DELETE, "/api/cameras/seeded", None).await;
    assert_eq!(status, 204);
    let (status, viewer) =
        server.send_json(Method::POST, "/api/tokens", Some(json!({ "name": "tv", "role": "viewer" }))).await;
    assert_eq!(status, 201);
    let viewer = viewer["token"].as_str().unwrap().to_string();

    // kill -9, then start on the same store with a config file that names another camera.
    server.kill();
    drop(server);
    let mut server = Server::start(&config(dir.path(), "from-the-new-file"));
    assert!(saw(&server, "only seed an empty store and are ignored"));
    let (_, cams) = server.get_json("/api/cameras").await;
    assert_eq!(ids(&cams), ["added"], "the store wins over the config file: {cams}");
    assert_eq!(cams[0]["detect_fps"], 2.0);
    let (_, zones) = server.get_json("/api/cameras/added/zones").await;
    assert_eq!(zones, json!([{ "id": "door", "polygon": zone["polygon"] }]));
    let (status, _) = send(server.request_as(Method::GET, "/api/cameras", Some(&viewer)), None).await;
    assert_eq!(status, 200, "the viewer token survived the restart");

    // SIGTERM with a running camera: drains, flushes, exits 0.
    let (status, body) = server
        .send_json(
            Method::PUT,
            "/api/cameras/added",
            Some(json!({ "file": asset("media/vtest-h264.mp4"), "detect_fps": 2, "zones": zones })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.overlay_until("added", Duration::from_secs(60), |m| !m.is_empty()).await;
    let exit = server.terminate(Duration::from_secs(30));
    assert!(exit.success(), "exit status after SIGTERM: {exit:?}");
    assert!(saw(&server, "stopped cleanly"));
}
