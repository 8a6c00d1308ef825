//! The camera fault matrix against the real RTSP server on loopback: a server stalled with SIGSTOP, then killed
//! and restarted, a closed port, a path the server does not have, a file of random bytes, a noise-corrupted H.264 stream, a jump in the
//! timestamps and a change of picture size mid-stream. Each camera shows the state and an error that names
//! it, streams again when the fault goes, and a bystander camera keeps its frame rate throughout.

mod common;

use common::{RtspServer, Server, asset, config_with_cameras, ffmpeg, with_media_roots};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The fault media, made from the demo clip: corrupted bytes, a timestamp jump, a picture-size change.
fn fault_media(dir: &Path) -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let vtest = asset("media/vtest-h264.mp4");
    let vtest = vtest.to_str().unwrap();
    let d = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // About one byte in 4,000 of each picture overwritten (headers included): the decoder sees errors.
    ffmpeg(&["-i", vtest, "-t", "12", "-c", "copy", "-bsf:v", "noise=amount=4000", &d("corrupt.mp4")]);
    // From the 75th picture on, every timestamp 4 s later: a hole in the timeline.
    ffmpeg(&[
        "-i",
        vtest,
        "-t",
        "8",
        "-c",
        "copy",
        "-bsf:v",
        "setts=ts=if(gte(N\\,75)\\,TS+4/TB\\,TS)",
        &d("jump.mp4"),
    ]);
    // 3 s at 768×576, then 3 s at 640×360 with their own parameter sets, as one H.264 stream.
    let enc = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-bf", "0", "-an"];
    ffmpeg(&[&["-i", vtest, "-t", "3"][..], &enc, &["-f", "mpegts", &d("a.ts")]].concat());
    ffmpeg(&[&["-ss", "3", "-i", vtest, "-t", "3", "-s", "640x360"][..], &enc, &["-f", "mpegts", &d("b.ts")]].concat());
    ffmpeg(&["-i", &format!("concat:{}|{}", d("a.ts"), d("b.ts")), "-c", "copy", &d("resize.mp4")]);
    let garbage = dir.join("garbage.mp4");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(&garbage, bytes).unwrap();
    (dir.join("corrupt.mp4"), dir.join("jump.mp4"), dir.join("resize.mp4"), garbage)
}

async fn status(server: &Server, camera: &str) -> Value {
    server.get_json(&format!("/api/cameras/{camera}/status")).await.1
}

/// Poll a camera's status until `f` holds (returning the status), or panic naming `what` after `timeout`.
async fn until(server: &Server, camera: &str, what: &str, timeout: Duration, f: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let s = status(server, camera).await;
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "camera {camera}: {what} not within {timeout:?}; last status {s}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn decoded(s: &Value) -> u64 {
    s["frames_decoded"].as_u64().unwrap_or(0)
}

fn error(s: &Value) -> String {
    s["last_error"].as_str().unwrap_or_default().to_string()
}

#[actix_web::test]
async fn each_camera_fault_is_survived_shown_and_recovered_from_while_a_bystander_streams_on() {
    let media = tempfile::tempdir().unwrap();
    let (corrupt, jump, resize, garbage) = fault_media(media.path());
    let vtest = asset("media/vtest-h264.mp4");
    let streams = RtspServer::start_with(&[("/vtest", &vtest), ("/corrupt", &corrupt), ("/resize", &resize)], 0, true);
    let mut stalling = RtspServer::start_with(&[("/vtest", &vtest)], 0, true);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let camera = |id: &str, source: String| {
        format!(
            "[[cameras]]\nid = \"{id}\"\n{source}\ndetect_fps = 1\nbackoff_initial_ms = 250\nbackoff_max_ms = 2000\n\n"
        )
    };
    let url = |u: String| format!("url = \"{u}\"");
    let file = |p: &Path| format!("file = \"{}\"", p.display());
    let cameras = [
        camera("bystander", file(&vtest)),
        camera("stalled", url(stalling.url("/vtest"))),
        camera("closed", url(format!("rtsp://127.0.0.1:{closed}/stream"))),
        camera("missing", url(streams.url("/no-such-path"))),
        camera("garbage", file(&garbage)),
        camera("corrupt", url(streams.url("/corrupt"))),
        camera("jump", file(&jump)),
        camera("resize", url(streams.url("/resize"))),
    ]
    .concat();
    let config = with_media_roots(&config_with_cameras(&cameras), &["var/media", media.path().to_str().unwrap()]);
    let server = Server::start(&config);
    for id in ["bystander", "stalled", "corrupt", "jump", "resize"] {
        until(&server, id, "streaming", Duration::from_secs(60), |s| s["state"] == "streaming" && decoded(s) > 0).await;
    }
    let bystander_from = (Instant::now(), decoded(&status(&server, "bystander").await));

    // Sources that never work: an error naming the camera and what to look at, and backoff, not a crash.
    for (id, names) in [
        ("closed", format!("127.0.0.1:{closed}")),
        ("missing", "/no-such-path".to_string()),
        ("garbage", garbage.display().to_string()),
    ] {
        let s = until(&server, id, "a clear error", Duration::from_secs(30), |s| error(s).contains(&names)).await;
        assert!(error(&s).contains(id), "the error names the camera: {s}");
        assert_ne!(s["state"], "streaming", "{s}");
        assert!(s["reconnects"].as_u64().unwrap_or(0) >= 1, "it keeps trying: {s}");
    }

    // A server stalled with SIGSTOP: no data for 10 s is an error; after SIGCONT the camera streams again.
    let kill =
        |sig: &str| assert!(Command::new("kill").args([sig, &stalling.pid().to_string()]).status().unwrap().success());
    kill("-STOP");
    let s = until(&server, "stalled", "the stall noticed", Duration::from_secs(30), |s| {
        error(s).contains("timed out") && s["state"] != "streaming"
    })
    .await;
    assert!(error(&s).contains("stalled") && error(&s).contains(&stalling.port.to_string()), "{s}");
    kill("-CONT");
    let resumed_from = (Instant::now(), decoded(&s));
    until(&server, "stalled", "streaming again after SIGCONT", Duration::from_secs(20), |s| {
        s["state"] == "streaming" && decoded(s) > resumed_from.1
    })
    .await;
    eprintln!("stalled camera streaming again {:.1} s after SIGCONT", resumed_from.0.elapsed().as_secs_f64());
    // The same server killed and started again on its port: the camera backs off, names the server, and
    // streams again soon after it is back (backoff_max_ms = 2000).
    stalling.stop();
    let s = until(&server, "stalled", "the lost server noticed", Duration::from_secs(30), |s| {
        s["state"] != "streaming" && error(s).contains(&stalling.port.to_string())
    })
    .await;
    stalling.restart();
    let back = (Instant::now(), decoded(&s));
    until(&server, "stalled", "streaming again after the restart", Duration::from_secs(20), |s| {
        s["state"] == "streaming" && decoded(s) > back.1
    })
    .await;
    eprintln!("camera streaming again {:.1} s after its server restarted", back.0.elapsed().as_secs_f64());

    // The corrupted stream keeps decoding (the decoder skips what it cannot read).
    let c0 = decoded(&status(&server, "corrupt").await);
    until(&server, "corrupt", "decoding on", Duration::from_secs(20), |s| decoded(s) > c0 + 50).await;

    // The timestamp jump: pictures keep coming after it, on one timeline that notes the hole.
    let s = until(&server, "jump", "past the jump", Duration::from_secs(30), |s| decoded(s) > 100).await;
    let timeline = &s["clock"]["timeline"];
    let holes = timeline["gaps"].as_u64().unwrap_or(0) + timeline["forward_jumps"].as_u64().unwrap_or(0);
    assert!(holes >= 1, "the jump is on the timeline: {s}");
    assert_eq!(timeline["sessions"], 1, "one session across the jump: {s}");

    // The picture size changes mid-stream: the camera follows it.
    until(&server, "resize", "the new picture size", Duration::from_secs(30), |s| s["width"] == 640).await;
    until(&server, "resize", "back to the first size on the loop", Duration::from_secs(30), |s| s["width"] == 768)
        .await;

    // Throughout, the bystander decoded at its file's own rate, whatever the others did.
    let s = status(&server, "bystander").await;
    let secs = bystander_from.0.elapsed().as_secs_f64();
    let fps = (decoded(&s) - bystander_from.1) as f64 / secs;
    let native = 1.0 / s["clock"]["timeline"]["frame_interval_secs"].as_f64().unwrap();
    assert!(fps > 0.9 * native, "the bystander decoded {fps:.1} frames/s over {secs:.0} s of {native:.1}: {s}");
    assert_eq!(s["state"], "streaming");
    let (status, _) = server.get_json("/api/health").await;
    assert_eq!(status, 200, "the server is alive");
}
