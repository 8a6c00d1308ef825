//! Camera actor on file sources: real demuxing, decoding, pacing, looping, placement, errors, stop.

mod camera_support;

use camera_support::*;
use panoptes_actors::camera::{CameraActor, StopCamera, convert::Converter, decode::Decoder, source};
use panoptes_actors::status::{CameraState, StatusBoard};
use serde_json::json;
use std::time::{Duration, Instant};

#[actix::test]
async fn file_camera_streams_letterboxed_frames_at_detect_fps_once_placed() {
    let status = StatusBoard::default();
    let cfg = camera(json!({ "id": "lobby", "file": media("vtest-h264.mp4"), "detect_fps": 5.0 }));
    let (addr, arbiter) = CameraActor::builder(cfg, status.clone()).spawn();

    // Unplaced: frames are decoded (and counted) but go nowhere.
    let s = status_until(&status, "lobby", "decoding", |s| s.frames_decoded >= 3).await;
    assert_eq!(s.state, CameraState::Streaming);
    assert_eq!(s.codec.as_deref(), Some("h264"));
    assert_eq!((s.width, s.height), (768, 576));

    let (placement, mut rx) = collector((320, 320));
    place(&addr, &placement);
    let frames = frames_of(&mut rx, "lobby", 6).await;
    assert_increasing(&frames);
    for f in &frames {
        assert_eq!((f.meta.width, f.meta.height), (768, 576));
        let lb = f.letterbox;
        assert_eq!((lb.dst_w, lb.dst_h, lb.inner_w, lb.inner_h, lb.pad_y), (320, 320, 320, 240, 40));
        assert_eq!(f.chw_len, 3 * 320 * 320);
    }
    // 10 fps file, 5 fps detection: every other decoded frame, 0.2 s of stream time apart.
    for w in frames.windows(2) {
        let dt = (w[1].meta.pts - w[0].meta.pts).as_secs_f64();
        assert!((dt - 0.2).abs() < 0.011, "frames {dt:.3} s apart at detect_fps 5");
        assert_eq!(w[1].meta.seq - w[0].meta.seq, 2, "seq counts every decoded frame");
    }
    assert_eq!(status.get("lobby").unwrap().device.as_deref(), Some("test-dev"));

    // Stopping ends the session: no more decoding.
    addr.send(StopCamera).await.unwrap();
    status_until(&status, "lobby", "stopped", |s| s.state == CameraState::Stopped).await;
    let decoded = status.get("lobby").unwrap().frames_decoded;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(status.get("lobby").unwrap().frames_decoded, decoded, "a stopped camera keeps decoding");
    arbiter.stop();
}

#[actix::test]
async fn looping_file_keeps_its_timeline_increasing() {
    let dir = temp_dir("loop");
    let clip = dir.join("ten.mp4");
    short_clip(&media("vtest-h265.mp4"), &clip, 10); // 1.0 s at 10 fps
    let status = StatusBoard::default();
    let cfg = camera(json!({ "id": "loop", "file": clip, "loop_file": true, "detect_fps": 30.0 }));
    let (addr, arbiter) = CameraActor::builder(cfg, status.clone()).spawn();
    let (placement, mut rx) = collector((160, 160));
    place(&addr, &placement);
    let frames = frames_of(&mut rx, "loop", 25).await;
    assert_increasing(&frames);
    let last = frames.last().unwrap().meta.pts.as_secs_f64();
    assert!(last > 2.0, "25 frames of a 1 s looped clip end at {last:.2} s");
    // Frame spacing stays 0.1 s across the loop seams.
    for w in frames.windows(2) {
        let dt = (w[1].meta.pts - w[0].meta.pts).as_secs_f64();
        assert!((dt - 0.1).abs() < 0.011, "{dt:.3} s between frames {} and {}", w[0].meta.seq, w[1].meta.seq);
    }
    let s = status.get("loop").unwrap().clone();
    assert_eq!((s.codec.as_deref(), s.reconnects), (Some("hevc"), 0), "looping is not reconnecting");
    arbiter.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[actix::test]
async fn a_file_that_is_not_video_gives_a_clear_error_and_backs_off() {
    let dir = temp_dir("text");
    let path = dir.join("readme.txt");
    std::fs::write(&path, "not a video\n".repeat(200)).unwrap();
    let status = StatusBoard::default();
    let cfg = camera(json!({ "id": "bogus", "file": path, "backoff_initial_ms": 50, "backoff_max_ms": 200 }));
    let (_addr, arbiter) = CameraActor::builder(cfg, status.clone()).spawn();
    let s = status_until(&status, "bogus", "backing off after 2 failures", |s| {
        matches!(s.state, CameraState::Backoff { .. }) && s.reconnects >= 2
    })
    .await;
    let err = s.last_error.unwrap();
    assert!(err.contains("camera bogus") && err.contains("readme.txt"), "{err}");
    // libavformat reads a text file as an "ansi art" video: it must still be refused as not H.264/H.265.
    assert!(err.contains("not video") && err.contains("to fix:") && err.contains("H.264"), "{err}");
    assert_eq!(err.matches("camera bogus").count(), 1, "camera named once: {err}");
    arbiter.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Measures decode and decode + convert speed on the vtest clips (run with `--ignored --nocapture`).
#[test]
#[ignore = "measurement, not a check"]
fn decode_and_convert_speed() {
    for clip in ["vtest-h264.mp4", "vtest-h265.mp4"] {
        let units = source::read_all_units(&"bench".parse().unwrap(), &media(clip)).unwrap();
        for threads in [1, 2] {
            let mut dec = Decoder::with_threads("bench".parse().unwrap(), threads);
            let mut out = Vec::new();
            let t = Instant::now();
            let mut n = 0;
            for u in &units {
                dec.decode(u, &mut out).unwrap();
                n += out.len();
                out.clear();
            }
            let decode_fps = n as f64 / t.elapsed().as_secs_f64();

            let mut dec = Decoder::with_threads("bench".parse().unwrap(), threads);
            let mut conv = Converter::new();
            let t = Instant::now();
            let mut m = 0;
            for u in &units {
                dec.decode(u, &mut out).unwrap();
                for f in out.drain(..) {
                    let input = conv.convert(&f.frame, (640, 640)).unwrap();
                    assert_eq!(input.chw.len(), 3 * 640 * 640);
                    m += 1;
                }
            }
            let both_fps = m as f64 / t.elapsed().as_secs_f64();
            println!(
                "{clip}: {n} frames, {threads} thread(s): decode {decode_fps:.0} fps, decode+convert(640) {both_fps:.0} fps"
            );
        }
    }
    // The float tensor step alone (RGB24 640x480 -> 3x640x640 f32), part of "convert" above.
    let lb = panoptes_actors::geometry::Letterbox::new(768, 576, 640, 640);
    let rgb = vec![128u8; (lb.inner_w * lb.inner_h * 3) as usize];
    let t = Instant::now();
    for _ in 0..200 {
        let input = panoptes_actors::infer::preprocess::rgb_to_chw(&rgb, lb.inner_w as usize * 3, lb);
        assert_eq!(input.chw.len(), 3 * 640 * 640);
    }
    println!("rgb_to_chw alone: {:.0} per second", 200.0 / t.elapsed().as_secs_f64());
}
