//! The camera actor's session loop on a scripted source: failed opens, sessions ending in errors,
//! a panicking session, and a clean end, each followed by backoff and a new session.

mod camera_support;

use camera_support::fake_source::{FakeOpener, FakeSession};
use camera_support::*;
use panoptes_actors::camera::CameraActor;
use panoptes_actors::camera::source;
use panoptes_actors::status::{CameraState, StatusBoard};
use serde_json::json;
use std::sync::Arc;

#[actix::test]
async fn sessions_fail_end_and_panic_and_the_camera_carries_on() {
    let units = source::read_all_units(&"yard".parse().unwrap(), &media("vtest-h264.mp4")).unwrap();
    assert!(units[0].key, "the clip starts with a key frame");
    let opener = Arc::new(FakeOpener::new([
        FakeSession::FailOpen("connection refused (scripted)".into()),
        FakeSession::Play { units: units[..20].to_vec(), end: Some("connection reset (scripted)".into()) },
        FakeSession::Panic { units: units[..20].to_vec(), message: "decoder exploded (scripted)".into() },
        FakeSession::Play { units: units[..60].to_vec(), end: None },
    ]));
    let status = StatusBoard::default();
    let cfg = camera(json!({
        "id": "yard", "url": "rtsp://127.0.0.1:9/unused", "detect_fps": 30.0,
        "backoff_initial_ms": 20, "backoff_max_ms": 60,
    }));
    let (placement, mut rx) = collector((96, 96));
    let (addr, arbiter) = CameraActor::builder(cfg, status.clone()).opener(opener.clone()).spawn();
    place(&addr, &placement);

    // Sessions 2, 3 and 4 deliver 20 + 20 + 60 frames; the panic in session 3 does not stop session 4.
    let frames = frames_of(&mut rx, "yard", 100).await;
    let seqs: Vec<u64> = frames.iter().map(|f| f.meta.seq).collect();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>(), "seq counts every decoded frame across sessions");
    // Each session starts the clip over, but the camera's timeline carries on: PTS rises across them.
    assert_increasing(&frames);
    assert_eq!(frames[0].meta.pts.ticks(), 0, "the timeline starts at 0");
    for (session, n) in [(&frames[..20], 20), (&frames[20..40], 20), (&frames[40..], 60)] {
        let span = session[n - 1].meta.pts.ticks() - session[0].meta.pts.ticks();
        let ticks = || units[..n].iter().map(|u| u.pts.ticks());
        let expected = ticks().max().unwrap() - ticks().min().unwrap();
        assert_eq!(span, expected, "media durations are kept within a session");
    }

    // Then the script is used up: every open fails, and the camera keeps retrying.
    let s = status_until(&status, "yard", "retrying after the script", |s| {
        s.last_error.as_deref().is_some_and(|e| e.contains("script finished")) && s.reconnects >= 6
    })
    .await;
    assert!(matches!(s.state, CameraState::Backoff { .. } | CameraState::Connecting), "{s:?}");
    assert_eq!(s.frames_decoded, 100);
    assert!(opener.opens() >= 6);
    arbiter.stop();
}
