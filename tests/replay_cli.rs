//! `panoptes replay`: a clip through the real pipeline, unpaced and in step with the detector.

mod common;

use common::{config_with_cameras, cut_clip, root};
use std::process::Command;

/// The first `secs` seconds of the vtest clip (10 fps), cut without re-encoding.
fn clip(dir: &std::path::Path, secs: u32) -> std::path::PathBuf {
    cut_clip("media/vtest-h264.mp4", dir, secs)
}

fn replay(config: &str, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .arg("replay")
        .arg("--config")
        .arg(&path)
        .args(args)
        .current_dir(root())
        .env("RUST_LOG", "warn")
        .output()
        .expect("running panoptes replay");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_clip_is_replayed_without_losing_frames_and_the_process_exits() {
    let dir = tempfile::tempdir().unwrap();
    let input = clip(dir.path(), 6);
    let store = dir.path().join("kept");
    let config = config_with_cameras("[[cameras]]\nid = \"gate\"\nurl = \"rtsp://127.0.0.1:1/none\"\ndetect_fps = 5\n");
    let (ok, stdout, stderr) = replay(
        &config,
        &["--camera", "gate", "--input", input.to_str().unwrap(), "--store-dir", store.to_str().unwrap()],
    );
    assert!(ok, "replay failed: {stderr}");
    // Without rules there are no events; stdout carries only event lines.
    assert!(stdout.lines().all(|l| l.starts_with("{\"type\":\"event\"")), "{stdout}");
    let summary = stderr.lines().find(|l| l.starts_with("replay: ")).unwrap_or_else(|| panic!("{stderr}"));
    let nums: Vec<u64> = summary.split(' ').filter_map(|w| w.parse().ok()).collect();
    let (decoded, inferred) = (nums[0], nums[1]);
    // 6 s at 10 fps; the decoder may hold the last few frames back (B-frame delay).
    assert!((55..=60).contains(&decoded), "{summary}");
    // detect_fps 5 of 10 fps keeps every other frame by stream time; none may be superseded in the batcher.
    assert!(inferred + 1 >= decoded / 2 && inferred <= decoded / 2 + 1, "frames were lost: {summary}");
    // The replay's own store was kept where asked, and is a valid, empty event store.
    let kept = panoptes_actors::store::Store::open_reader(&store.join("events.db")).unwrap();
    assert_eq!(kept.max_id().unwrap(), 0);
}

#[test]
fn an_unknown_camera_or_missing_file_is_named() {
    let config = config_with_cameras("[[cameras]]\nid = \"gate\"\nfile = \"x.mp4\"\n");
    let (ok, _, stderr) = replay(&config, &["--camera", "yard", "--input", "/nonexistent.mp4"]);
    assert!(!ok);
    assert!(stderr.contains("yard") && stderr.contains("gate"), "{stderr}");
    let (ok, _, stderr) = replay(&config, &["--camera", "gate", "--input", "/nonexistent.mp4"]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent.mp4"), "{stderr}");
}
