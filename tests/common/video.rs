//! Pictures out of video files, by the ffmpeg CLI tools: the pixel checks of recorded and clipped frames.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Run the ffmpeg CLI tool `tool` and return its stdout (panics with stderr on failure).
pub fn run(tool: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// One decoded picture as RGB bytes: ffmpeg with `args` before the output options.
pub fn rgb_frame(args: &[&str]) -> Vec<u8> {
    let mut all: Vec<&str> = vec!["-v", "error", "-nostdin"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]);
    let rgb = run("ffmpeg", &all);
    assert_eq!(rgb.len(), 768 * 576 * 3, "one 768x576 picture from ffmpeg {args:?}");
    rgb
}

/// The recorded picture whose PTS (ticks at 90 kHz, on the camera timeline) is `ticks`, decoded from a
/// segment by ffmpeg on its own timestamps.
pub fn recorded_frame(segment: &Path, ticks: i64) -> Vec<u8> {
    let select = format!("select=eq(pts\\,{ticks})");
    rgb_frame(&["-copyts", "-i", segment.to_str().unwrap(), "-vf", &select, "-fps_mode", "passthrough"])
}

/// PTS of every packet of a file, in its stream time base, by ffprobe.
pub fn packet_pts(file: &Path) -> Vec<i64> {
    let out = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts",
            "-of",
            "csv=p=0",
            file.to_str().unwrap(),
        ],
    );
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}
