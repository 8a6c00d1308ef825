//! `panoptes track` on the golden sequence: the written tracks agree with supervision's ByteTrack.

use panoptes_actors::tracker::compare::agreement;
use panoptes_actors::tracker::mot::read_rows;
use std::path::{Path, PathBuf};
use std::process::Command;

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("actors/src/tracker/testdata").join(name)
}

fn panoptes(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_panoptes")).args(args).output().expect("run panoptes")
}

#[test]
fn replays_the_golden_sequence_like_supervision_bytetrack() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("tracks.txt");
    let det = testdata("seq_det.txt");
    // The parameters of scripts/tracker/reference_tracks.py (see testdata/README.md).
    let output = panoptes(&[
        "track",
        "--mot-in",
        det.to_str().unwrap(),
        "--mot-out",
        out_path.to_str().unwrap(),
        "--fps",
        "25",
        "--bytetrack",
        "--track-thresh",
        "0.5",
        "--lost-buffer-sec",
        "1.0",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stdout {stdout}\nstderr {}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("frames 150, detections 882, track boxes 694, distinct ids 17 -> "), "{stdout}");

    let reference = read_rows(&testdata("seq_ref_tracks.txt")).unwrap();
    let ours = read_rows(&out_path).unwrap();
    let a = agreement(&reference, &ours, 0.99);
    println!("panoptes track vs supervision 0.25.1: {a}");
    assert_eq!((a.our_boxes, a.our_ids), (a.reference_boxes, a.reference_ids), "{a}");
    assert_eq!(a.id_consistent_boxes, a.reference_boxes, "{a}");
    assert_eq!(a.id_switches, 0, "{a}");
    // x and w are written with 2 decimals, so x + w is off by up to 0.01; the reference has 3 decimals.
    assert!(a.max_coord_diff <= 0.012, "{a}");
    // Ids are numbered from 1 without gaps.
    let mut ids: Vec<i64> = ours.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, (1..=17).collect::<Vec<_>>());
}

#[test]
fn a_bad_line_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let det = dir.path().join("det.txt");
    std::fs::write(&det, "1,-1,10,10,50,100,0.9\n2,-1,10,ten,50,100,0.9\n").unwrap();
    let out = dir.path().join("tracks.txt");
    let output = panoptes(&["track", "--mot-in", det.to_str().unwrap(), "--mot-out", out.to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}:2: y `ten` is not a number", det.display())), "{stderr}");
}

#[test]
fn a_missing_input_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tracks.txt");
    let output = panoptes(&["track", "--mot-in", "/nonexistent/det.txt", "--mot-out", out.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/det.txt"));
}
