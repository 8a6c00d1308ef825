//! A camera whose RTSP server goes away goes into backoff with a clear error, and streams again when
//! the server comes back on the same port.

mod common;

use common::{RtspServer, Server, asset, config_with_cameras};
use std::time::Duration;

async fn wait_state(server: &Server, camera: &str, want: &str, timeout: Duration) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let (_, s) = server.get_json(&format!("/api/cameras/{camera}/status")).await;
        if s["state"] == want {
            return s;
        }
        assert!(tokio::time::Instant::now() < deadline, "camera {camera} never reached {want}; last status {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[actix_web::test]
async fn camera_reconnects_after_the_server_restarts() {
    let h264 = asset("media/vtest-h264.mp4");
    let mut rtsp = RtspServer::start(&[("/vtest", &h264)], 0);
    let server = Server::start(&config_with_cameras(&format!(
        "[[cameras]]\nid = \"door\"\nurl = \"{}\"\ndetect_fps = 2\nbackoff_initial_ms = 200\nbackoff_max_ms = 1000\n",
        rtsp.url("/vtest")
    )));
    let before = server.overlay_until("door", Duration::from_secs(60), |m| m.len() >= 3).await;

    rtsp.stop();
    let s = wait_state(&server, "door", "backoff", Duration::from_secs(30)).await;
    let err = s["last_error"].as_str().unwrap_or_default().to_string();
    assert!(err.contains("door"), "the error names the camera: {err}");
    assert!(s["reconnects"].as_u64().unwrap() >= 1);

    rtsp.restart();
    wait_state(&server, "door", "streaming", Duration::from_secs(30)).await;
    let after = server.overlay_until("door", Duration::from_secs(60), |m| m.len() >= 3).await;
    let last_seq = before.last().unwrap()["seq"].as_u64().unwrap();
    assert!(
        after.iter().all(|m| m["seq"].as_u64().unwrap() > last_seq),
        "the frame counter carries on across sessions"
    );
    let (_, s) = server.get_json("/api/cameras/door/status").await;
    assert_eq!(s["last_error"], serde_json::Value::Null, "streaming again clears the error: {s}");
}
