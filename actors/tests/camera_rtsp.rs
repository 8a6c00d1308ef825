//! Camera actor against a real RTSP server on loopback (`scripts/rtsp_server.py`, GStreamer):
//! H.264 and H.265 over TCP and UDP, reconnect after the server dies, and an unreachable camera
//! that backs off without disturbing another.

mod camera_support;

use camera_support::*;
use panoptes_actors::camera::CameraActor;
use panoptes_actors::status::{CameraState, StatusBoard};
use serde_json::json;

#[actix::test]
async fn h264_and_h265_over_tcp_and_udp_deliver_frames_with_increasing_pts() {
    let server = RtspServer::start(0, &[("/h264", media("vtest-h264.mp4")), ("/h265", media("vtest-h265.mp4"))]);
    let status = StatusBoard::default();
    let (placement, mut rx) = collector((256, 256));
    let mut arbiters = Vec::new();
    let cases = [
        ("h264-tcp", "/h264", "tcp", "h264"),
        ("h265-tcp", "/h265", "tcp", "hevc"),
        ("h264-udp", "/h264", "udp", "h264"),
        ("h265-udp", "/h265", "udp", "hevc"),
    ];
    for (id, mount, transport, _) in cases {
        let cfg = camera(json!({ "id": id, "url": server.url(mount), "transport": transport, "detect_fps": 30.0 }));
        let (addr, arbiter) = CameraActor::builder(cfg, status.clone()).spawn();
        place(&addr, &placement);
        arbiters.push(arbiter);
    }
    for (id, _, _, codec) in cases {
        let frames = frames_of(&mut rx, id, 8).await;
        assert_increasing(&frames);
        for w in frames.windows(2) {
            let dt = (w[1].meta.pts - w[0].meta.pts).as_secs_f64();
            assert!((dt - 0.1).abs() < 0.011, "{id}: frames {dt:.3} s apart in a 10 fps stream");
        }
        let now = panoptes_actors::time::now_unix_ms();
        let f = &frames[0];
        assert!(
            (now - f.meta.wall_ms.unix_ms()).abs() < 10_000,
            "{id}: wall time {} far from now {now}",
            f.meta.wall_ms
        );
        assert_eq!((f.meta.width, f.meta.height, f.letterbox.inner_w, f.letterbox.inner_h), (768, 576, 256, 192));
        let s = status.get(id).unwrap().clone();
        assert_eq!((s.state, s.codec.as_deref(), s.reconnects), (CameraState::Streaming, Some(codec), 0), "{id}");
    }
    for a in arbiters {
        a.stop();
    }
}

#[actix::test]
async fn camera_reconnects_when_the_server_comes_back_on_the_same_port() {
    let server = RtspServer::start(0, &[("/cam", media("vtest-h264.mp4"))]);
    let port = server.port;
    let status = StatusBoard::default();
    let (placement, mut rx) = collector((128, 128));
    let cfg = camera(json!({
        "id": "porch", "url": server.url("/cam"), "detect_fps": 30.0,
        "backoff_initial_ms": 100, "backoff_max_ms": 400,
    }));
    let (addr, arbiter) = CameraActor::builder(cfg, status.clone()).spawn();
    place(&addr, &placement);
    let before = frames_of(&mut rx, "porch", 3).await;

    server.kill();
    let s = status_until(&status, "porch", "backing off", |s| matches!(s.state, CameraState::Backoff { .. })).await;
    let err = s.last_error.unwrap();
    assert!(err.contains("camera porch") && err.contains(&format!("127.0.0.1:{port}/cam")), "{err}");

    let _server = RtspServer::start(port, &[("/cam", media("vtest-h264.mp4"))]);
    status_until(&status, "porch", "streaming again", |s| s.state == CameraState::Streaming).await;
    drain(&mut rx);
    let after = frames_of(&mut rx, "porch", 3).await;
    assert_increasing(&after);
    assert!(after[0].meta.seq > before.last().unwrap().meta.seq, "seq keeps counting across sessions");
    // The new session's RTP timestamps start afresh; the camera's timeline continues past the outage.
    let outage = (after[0].meta.pts - before.last().unwrap().meta.pts).as_secs_f64();
    let wall_gap = after[0].meta.wall_ms.ms_since(before.last().unwrap().meta.wall_ms) as f64 / 1e3;
    assert!(outage > 0.0, "the timeline went back across the reconnect: {outage} s");
    assert!((outage - wall_gap).abs() < 1.0, "timeline gap {outage} s, wall gap {wall_gap} s");
    let s = status.get("porch").unwrap().clone();
    assert!(s.reconnects >= 1 && s.last_error.is_none(), "{s:?}");
    let clock = s.clock.expect("clock status published");
    assert!(clock.timeline.sessions >= 2, "{clock:?}");
    arbiter.stop();
}

#[actix::test]
async fn an_unreachable_camera_backs_off_while_another_keeps_streaming() {
    let server = RtspServer::start(0, &[("/ok", media("vtest-h264.mp4"))]);
    let dead_port = closed_port();
    let status = StatusBoard::default();
    let (placement, mut rx) = collector((128, 128));
    let dead_url = format!("rtsp://127.0.0.1:{dead_port}/stream");
    let dead = camera(json!({ "id": "dead", "url": dead_url, "backoff_initial_ms": 100, "backoff_max_ms": 300 }));
    let alive = camera(json!({ "id": "alive", "url": server.url("/ok"), "detect_fps": 30.0 }));
    let (dead_addr, dead_arbiter) = CameraActor::builder(dead, status.clone()).spawn();
    let (alive_addr, alive_arbiter) = CameraActor::builder(alive, status.clone()).spawn();
    place(&dead_addr, &placement);
    place(&alive_addr, &placement);

    let s = status_until(&status, "dead", "retrying", |s| {
        matches!(s.state, CameraState::Backoff { .. } | CameraState::Connecting) && s.reconnects >= 3
    })
    .await;
    let err = s.last_error.unwrap();
    assert!(err.contains("camera dead") && err.contains(&dead_url), "{err}");
    assert!(err.contains("to fix:") && err.contains("reachable"), "{err}");

    drain(&mut rx);
    let frames = frames_of(&mut rx, "alive", 5).await;
    assert_increasing(&frames);
    assert_eq!(status.get("alive").unwrap().state, CameraState::Streaming);
    dead_arbiter.stop();
    alive_arbiter.stop();
}
