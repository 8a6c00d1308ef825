//! Bad input gets a clear error naming the thing and the fix; one bad camera never stops the others.

mod common;

use common::{Server, asset, config_with_cameras, run_cli, with_media_roots};
use std::io::Write;
use std::time::Duration;

#[actix_web::test]
async fn an_unreachable_camera_does_not_stop_a_good_one() {
    // A closed port on loopback: bind, note the port, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let media = tempfile::tempdir().unwrap();
    let not_video = media.path().join("garbage.mp4");
    std::fs::write(&not_video, b"this is not a video file").unwrap();
    let config = config_with_cameras(&format!(
        "[[cameras]]\nid = \"good\"\nfile = \"{}\"\ndetect_fps = 2\n\n\
         [[cameras]]\nid = \"unreachable\"\nurl = \"rtsp://127.0.0.1:{port}/nothing\"\n\n\
         [[cameras]]\nid = \"garbage\"\nfile = \"{}\"\n\n\
         [[cameras]]\nid = \"shadow\"\nfile = \"/etc/shadow\"\n",
        asset("media/vtest-h264.mp4").display(),
        not_video.display()
    ));
    let server = Server::start(&with_media_roots(&config, &["var/media", &media.path().display().to_string()]));
    let msgs = server.overlay_until("good", Duration::from_secs(60), |m| m.len() >= 5).await;
    assert_eq!(msgs.len(), 5);
    for (camera, hint) in [
        ("unreachable", format!("127.0.0.1:{port}")),
        ("garbage", not_video.display().to_string()),
        ("shadow", "[server] media_roots".to_string()),
    ] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, s) = server.get_json(&format!("/api/cameras/{camera}/status")).await;
            assert_eq!(status, 200);
            let err = s["last_error"].as_str().unwrap_or_default();
            if err.contains(camera) && err.contains(&hint) {
                assert_ne!(s["state"], "streaming");
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no clear error for {camera}: {s}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (status, body) = server.get_json("/api/cameras/nope/status").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("nope"));
}

/// A config file whose event store lives in `store` (never the operator's `var/`).
fn config_file(toml: &str, store: &tempfile::TempDir) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(toml.as_bytes()).unwrap();
    f.write_all(common::store_section(store.path()).as_bytes()).unwrap();
    f
}

#[test]
fn a_bad_config_value_names_the_field() {
    let store = tempfile::tempdir().unwrap();
    let f =
        config_file(&config_with_cameras("[[cameras]]\nid = \"lobby\"\nfile = \"x.mp4\"\ndetect_fps = -1\n"), &store);
    let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("cameras.lobby.detect_fps"), "{stderr}");
}

#[test]
fn a_missing_or_corrupt_model_names_the_file() {
    let corrupt = tempfile::Builder::new().suffix(".onnx").tempfile().unwrap();
    std::fs::write(corrupt.path(), b"not an onnx model").unwrap();
    for model in ["/nonexistent/model.onnx", corrupt.path().to_str().unwrap()] {
        let store = tempfile::tempdir().unwrap();
        let f = config_file(&format!("[server]\nlisten = \"127.0.0.1:0\"\n[model]\npath = \"{model}\"\n"), &store);
        let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
        assert!(!ok, "panoptes must refuse model {model}");
        assert!(stderr.contains(model), "the error names {model}: {stderr}");
    }
}
