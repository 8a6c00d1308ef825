//! `panoptes detect` end to end: the real binary, the COCO model and `var/images/bus.jpg` from
//! `scripts/setup.sh`, ONNX Runtime from the project's `.venv`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn require(rel: &str) -> PathBuf {
    let p = repo(rel);
    assert!(p.is_file(), "{} is missing: run `scripts/setup.sh` (make setup) first", p.display());
    p
}

fn detect(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .current_dir(cwd)
        .env_remove("ORT_DYLIB_PATH") // the library must be found in .venv
        .env("RUST_LOG", "info")
        .arg("detect")
        .args(args)
        .output()
        .expect("run panoptes")
}

/// `(label, score, [x1, y1, x2, y2])` from `IMAGE label score x1 y1 x2 y2` lines; labels may hold spaces.
fn parse(stdout: &[u8], image: &str) -> Vec<(String, f32, [f32; 4])> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|line| {
            let rest = line.strip_prefix(image).unwrap_or_else(|| panic!("line does not start with {image}: {line}"));
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let n = fields.len();
            assert!(n >= 6, "short line: {line}");
            let num = |s: &str| s.parse::<f32>().unwrap_or_else(|_| panic!("not a number `{s}` in: {line}"));
            (
                fields[..n - 5].join(" "),
                num(fields[n - 5]),
                [num(fields[n - 4]), num(fields[n - 3]), num(fields[n - 2]), num(fields[n - 1])],
            )
        })
        .collect()
}

#[test]
fn finds_people_and_the_bus_with_the_default_coco_model() {
    require("var/models/yolov3-tiny-coco.onnx");
    let image = require("var/images/bus.jpg");
    let out = detect(&repo(""), &["var/images/bus.jpg"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "panoptes detect failed: {stderr}");
    assert!(stderr.contains("CPUExecutionProvider"), "the provider line is missing: {stderr}");
    let dets = parse(&out.stdout, "var/images/bus.jpg");
    let persons = dets.iter().filter(|d| d.0 == "person").count();
    assert!(persons >= 3, "expected at least 3 persons: {dets:?}");
    assert!(dets.iter().any(|d| d.0 == "bus"), "expected a bus: {dets:?}");
    assert!(dets.windows(2).all(|w| w[0].1 >= w[1].1), "lines are not sorted by score: {dets:?}");
    let (w, h) = (810.0, 1080.0); // bus.jpg
    for (label, score, b) in &dets {
        assert!((0.25..=1.0).contains(score), "{label} score {score}");
        assert!(
            0.0 <= b[0] && b[0] < b[2] && b[2] <= w && 0.0 <= b[1] && b[1] < b[3] && b[3] <= h,
            "{label} box {b:?}"
        );
    }

    // From another directory with absolute paths: the runtime is found from the executable's location.
    let model = require("var/models/yolov3-tiny-coco.onnx");
    let elsewhere = std::env::temp_dir();
    let out = detect(&elsewhere, &["--model", model.to_str().unwrap(), "--conf", "0.6", image.to_str().unwrap()]);
    assert!(out.status.success(), "from {}: {}", elsewhere.display(), String::from_utf8_lossy(&out.stderr));
    let strict = parse(&out.stdout, image.to_str().unwrap());
    assert!(!strict.is_empty() && strict.len() < dets.len() && strict.iter().all(|d| d.1 >= 0.6), "{strict:?}");
}

#[test]
fn a_bad_model_path_fails_naming_it() {
    require("var/images/bus.jpg");
    let out = detect(&repo(""), &["--model", "var/models/no-such-model.onnx", "var/images/bus.jpg"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("var/models/no-such-model.onnx") && stderr.contains("does not exist"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_missing_image_fails_naming_it() {
    require("var/models/yolov3-tiny-coco.onnx");
    let out = detect(&repo(""), &["var/images/no-such-image.jpg"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("var/images/no-such-image.jpg"), "{stderr}");
}
