//! `panoptes eval`: the demo config's vtest camera on the first 8 s of the clip, scored against the
//! hand-corrected labels of the frames in that span (tests/data/labels/vtest.json), with the demo's
//! `max_zoom = 2` and with 1 (regions never enlarged); the same labels moved to where nobody walks score
//! nothing; a broken labels file is refused by name.

mod common;

use common::{cut_clip, root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The labelled vtest frames before `frames`, with every box moved by `shift` pixels (x, y).
fn labels_subset(dir: &Path, frames: u64, shift: (f64, f64)) -> PathBuf {
    let text = std::fs::read_to_string(root().join("tests/data/labels/vtest.json")).unwrap();
    let mut labels: serde_json::Value = serde_json::from_str(&text).unwrap();
    labels["frames"].as_array_mut().unwrap().retain(|f| f["frame"].as_u64().unwrap() < frames);
    for f in labels["frames"].as_array_mut().unwrap() {
        for o in f["objects"].as_array_mut().unwrap() {
            let b: Vec<f64> = o["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            o["box"] = serde_json::json!([b[0] + shift.0, b[1] + shift.1, b[2] + shift.0, b[3] + shift.1]);
        }
    }
    labels.as_object_mut().unwrap().remove("people");
    let path = dir.join(format!("labels-{}-{}.json", shift.0, shift.1));
    std::fs::write(&path, labels.to_string()).unwrap();
    path
}

/// Run eval with `[detection] max_zoom = zoom`; its JSON figures, or the error text.
fn eval(input: &Path, labels: &Path, json: &Path, zoom: f32) -> Result<serde_json::Value, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .env("PANOPTES__DETECTION__MAX_ZOOM", zoom.to_string())
        .args(["eval", "--config", "config/default.toml", "--camera", "vtest", "--input"])
        .arg(input)
        .arg("--labels")
        .arg(labels)
        .arg("--json")
        .arg(json)
        .current_dir(root())
        .env("RUST_LOG", "warn")
        .output()
        .expect("running panoptes eval");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("recall") && table.contains("walkway-intrusion"), "{table}");
    Ok(serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap())
}

#[test]
fn the_demo_camera_finds_the_labelled_people_and_misplaced_labels_score_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = cut_clip("media/vtest-h264.mp4", dir.path(), 8);
    let json = dir.path().join("figures.json");

    let labels = labels_subset(dir.path(), 80, (0.0, 0.0));
    let figures = eval(&input, &labels, &json, 2.0).unwrap();
    // Frames 20 and 60 are labelled in the first 8 s; detect_fps 2 of 10 fps processes every fifth frame.
    assert_eq!(figures["labelled_frames"], 2, "{figures}");
    assert!((14..=16).contains(&figures["frames_processed"].as_u64().unwrap()), "{figures}");
    assert!(figures["model_inputs"].as_u64().unwrap() >= figures["frames_processed"].as_u64().unwrap());
    let person = &figures["classes"]["person"];
    // 10 labelled people; the demo config finds 7 of them with no false box (measured 2026-12-03).
    assert_eq!(person["labelled"], 10, "{figures}");
    assert!(person["recall"].as_f64().unwrap() >= 0.6, "{figures}");
    assert!(person["precision"].as_f64().unwrap() >= 0.8, "{figures}");
    let rules: Vec<&str> = figures["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rules, ["walkway-intrusion", "walkway-loitering", "walkway-crowd"]);

    // Regions never enlarged (the demo config): fewer model inputs, and the detector's boxes at that scale
    // are about half the people's size, so few reach IoU 0.5 (measured: 0 of 10).
    let cheap = eval(&input, &labels, &json, 1.0).unwrap();
    assert!(cheap["model_inputs"].as_u64() < figures["model_inputs"].as_u64(), "{cheap}\n{figures}");
    assert!(cheap["classes"]["person"]["recall"].as_f64().unwrap() <= 0.3, "{cheap}");

    // The same boxes 200 px lower, on the empty lawn: nothing shown there matches them.
    let moved = eval(&input, &labels_subset(dir.path(), 80, (0.0, 200.0)), &json, 2.0);
    let moved = moved.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(moved["classes"]["person"]["true_pos"], 0, "{moved}");
    assert_eq!(moved["classes"]["person"]["false_neg"], 10, "{moved}");
}

#[test]
fn a_broken_labels_file_is_refused_with_its_name_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = cut_clip("media/vtest-h264.mp4", dir.path(), 1);
    let labels = dir.path().join("broken.json");
    std::fs::write(
        &labels,
        r#"{"video": "v.mp4", "width": 768, "height": 576, "provenance": "test",
            "frames": [{"frame": 3, "objects": [{"class": "person", "box": [50, 40, 10, 90]}]}]}"#,
    )
    .unwrap();
    let err = eval(&input, &labels, &dir.path().join("f.json"), 2.0).unwrap_err();
    assert!(
        err.contains("broken.json") && err.contains("frame 3") && err.contains("[50.0, 40.0, 10.0, 90.0]"),
        "{err}"
    );
    assert!(err.contains("tests/data/labels/README.md"), "{err}");
}
