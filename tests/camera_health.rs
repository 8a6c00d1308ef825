//! Camera health events on a synthetic stream made with the ffmpeg CLI: the vtest scene, then a frozen
//! picture, a black-out, a blur and a pan, then the scene again; then the file ends and the camera is away for
//! a while. Each condition is raised (with a snapshot) while it lasts and ended after, at the right place on the
//! camera timeline, and nothing is raised while the picture is healthy.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Segments of the clip, in seconds of its timeline: (what, start, end).
const SEGMENTS: [(&str, f64, f64); 6] = [
    ("scene", 0.0, 12.0),
    ("frozen", 12.0, 20.0),
    ("black", 20.0, 28.0),
    ("blur", 28.0, 36.0),
    ("pan", 36.0, 46.0),
    ("scene", 46.0, 56.0),
];

/// The clip: vtest at 10 fps, 768×576, H.264, its pieces edited as [`SEGMENTS`] says.
fn synthetic_clip(dir: &Path) -> PathBuf {
    let src = asset("media/vtest-h264.mp4");
    let src = src.to_str().unwrap();
    let out = dir.join("health.mp4");
    let graph = "\
        [0:v]trim=0:12,setpts=PTS-STARTPTS[a];\
        [0:v]trim=12:12.1,setpts=PTS-STARTPTS,loop=loop=79:size=1,setpts=N/10/TB[f];\
        color=c=black:s=768x576:r=10:d=8,format=yuv420p[k];\
        [0:v]trim=20:28,setpts=PTS-STARTPTS,boxblur=12:2[b];\
        [0:v]trim=28:38,setpts=PTS-STARTPTS,crop=468:576:300:0,pad=768:576:0:0[p];\
        [0:v]trim=38:48,setpts=PTS-STARTPTS[e];\
        [a][f][k][b][p][e]concat=n=6:v=1:a=0,fps=10,format=yuv420p[v]";
    ffmpeg(&[
        "-i",
        src,
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-g",
        "10",
        out.to_str().unwrap(),
    ]);
    out
}

fn config(clip: &Path) -> String {
    let dir = clip.parent().unwrap().to_str().unwrap();
    let cameras = config_with_cameras(&format!(
        "[[cameras]]\nid = \"lobby\"\nfile = \"{}\"\nloop_file = false\ndetect_fps = 2\nclasses = [\"person\"]\n\
         backoff_initial_ms = 5000\nbackoff_max_ms = 5000\n\n\
         [cameras.health]\nenabled = true\nlearn_sec = 4.0\nlost_sec = 2.0\nfrozen_sec = 3.0\nblinded_sec = 3.0\n\
         defocused_sec = 3.0\nmoved_sec = 3.0\nclear_sec = 1.5\n",
        clip.display()
    ));
    with_media_roots(&cameras, &[dir])
}

/// The health events stored so far: (kind, state, pts seconds, has a snapshot).
async fn health_events(server: &Server) -> Vec<(String, String, f64, bool)> {
    let (_, body) = server.get_json("/api/events?camera=lobby&limit=100").await;
    let mut events: Vec<&Value> = body["events"].as_array().unwrap().iter().filter(|e| e["rule"] == "health").collect();
    events.sort_by_key(|e| e["id"].as_i64());
    events
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
                e["pts_sec"].as_f64().unwrap(),
                !e["snapshot_url"].is_null(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn frozen_black_blurred_moved_and_lost_pictures_are_raised_and_ended_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let clip = synthetic_clip(dir.path());
    let server = Server::start(&config(&clip));
    let events = wait_for("the video loss after the clip's end", Duration::from_secs(120), async || {
        let events = health_events(&server).await;
        events.iter().any(|(k, s, _, _)| k == "video_lost" && s == "start").then_some(events)
    })
    .await;
    eprintln!("health events: {events:?}");
    let find = |kind: &str, state: &str| {
        events
            .iter()
            .find(|(k, s, _, _)| k == kind && s == state)
            .unwrap_or_else(|| panic!("no {kind} {state}: {events:?}"))
    };
    // (kind, the segment it belongs to): each starts its hold (3 s) into the segment, give or take a sample
    // and a frame, and ends within its clear time (1.5 s) and a few samples after the segment.
    for (kind, segment) in [("frozen", 1), ("blinded", 2), ("defocused", 3), ("scene_moved", 4)] {
        let (_, from, to) = SEGMENTS[segment];
        let start = find(kind, "start");
        let end = find(kind, "end");
        assert!(
            (from + 2.5..=from + 5.0).contains(&start.2),
            "{kind} started at {} s, in {from}–{to}: {events:?}",
            start.2
        );
        assert!((to..=to + 4.0).contains(&end.2), "{kind} ended at {} s, after {to}: {events:?}", end.2);
        assert!(start.3 && end.3, "{kind}: the start and end carry a snapshot: {events:?}");
    }
    // Nothing else: each condition once, and no health event while the picture was the scene.
    let starts = events.iter().filter(|(k, s, _, _)| s == "start" && k != "video_lost").count();
    assert_eq!(starts, 4, "one start per condition: {events:?}");
    // The file ended at 56 s: after lost_sec the loss is raised; pictures are back after the 5 s backoff.
    wait_for("the video loss ended", Duration::from_secs(30), async || {
        health_events(&server).await.iter().any(|(k, s, _, _)| k == "video_lost" && s == "end").then_some(())
    })
    .await;
}
