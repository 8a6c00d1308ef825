//! Cameras added, changed and removed at runtime over the API, against the loopback RTSP server: an added
//! camera's frames flow on the overlay; a replaced one flows again; a removed one stops and disappears.

mod common;

use awc::http::Method;
use common::{RtspServer, Server, asset, config_with_cameras};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

#[actix_web::test]
async fn a_camera_added_at_runtime_streams_and_a_removed_one_stops() {
    let h264 = asset("media/vtest-h264.mp4");
    let rtsp = RtspServer::start(&[("/vtest", &h264)], 0);
    let server = Server::in_process(&config_with_cameras("")).await;
    let (_, cams) = server.get_json("/api/cameras").await;
    assert_eq!(cams, json!([]));

    let camera = json!({ "id": "door", "url": rtsp.url("/vtest"), "detect_fps": 5, "classes": ["person"] });
    let (status, body) = server.send_json(Method::POST, "/api/cameras", Some(camera)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["url"], rtsp.url("/vtest"));
    let msgs = server.overlay_until("door", Duration::from_secs(60), |m| m.len() >= 3).await;
    assert!(msgs.iter().all(|m| m["camera"] == "door"));
    let (status, s) = server.get_json("/api/cameras/door/status").await;
    assert_eq!(status, 200);
    assert_eq!(s["state"], "streaming", "{s}");
    assert_eq!(s["device"], "cpu0", "{s}");

    // Replace: restarts that camera with the new settings; frames flow again.
    let (status, body) = server
        .send_json(Method::PUT, "/api/cameras/door", Some(json!({ "url": rtsp.url("/vtest"), "detect_fps": 2 })))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["detect_fps"], 2.0);
    assert_eq!(body["classes"], json!([]), "a PUT replaces the whole config");
    server.overlay_until("door", Duration::from_secs(60), |m| m.len() >= 2).await;

    // Remove: the camera stops; its overlay goes quiet and it is gone from the API.
    let mut ws = server.ws("/ws/overlay?camera=door").await;
    let (status, _) = server.send_json(Method::DELETE, "/api/cameras/door", None).await;
    assert_eq!(status, 204);
    let (status, _) = server.get_json("/api/cameras/door").await;
    assert_eq!(status, 404);
    let (status, _) = server.get_json("/api/cameras/door/status").await;
    assert_eq!(status, 404);
    let (_, health) = server.get_json("/api/health").await;
    assert!(!health.to_string().contains("\"door\""), "{health}");
    // Frames already in flight may still arrive for a moment; after that, none.
    let quiet_from = tokio::time::Instant::now() + Duration::from_secs(1);
    let until = quiet_from + Duration::from_secs(3);
    while let Ok(msg) = tokio::time::timeout_at(until, ws.next()).await {
        match msg {
            Some(Ok(awc::ws::Frame::Text(b))) => {
                assert!(tokio::time::Instant::now() < quiet_from, "a frame of the removed camera: {b:?}")
            }
            Some(Ok(_)) => {}
            _ => break,
        }
    }
    let (status, _) = server.send_json(Method::DELETE, "/api/cameras/door", None).await;
    assert_eq!(status, 404);
}
