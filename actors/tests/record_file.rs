//! The recorder on real streams, checked by FFmpeg's own tools rather than our MP4 reader: the access units of
//! real files (vtest in H.264 and H.265, and a generated H.264 file with B-frames) go through the [`Recorder`];
//! ffprobe must read every segment with the same packet PTS (and, with B-frames, the same decode order) as the
//! source, and ffmpeg must decode every picture to the same pixels as the source file (`framemd5`).

use panoptes_actors::camera::source::read_all_units;
use panoptes_actors::media::AccessUnit;
use panoptes_actors::record::recorder::Recorder;
use panoptes_actors::store::recordings::RecordingIndex;
use panoptes_actors::time::Pts;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn media(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../var/media").join(name);
    assert!(p.is_file(), "{} is missing: run `make setup` first", p.display());
    p
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// (pts, dts) of every video packet, in the stream's time base.
fn packets(file: &Path) -> Vec<(i64, i64)> {
    run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "packet=pts,dts",
            "-of",
            "csv=p=0",
            file.to_str().unwrap(),
        ],
    )
    .lines()
    .filter(|l| !l.is_empty())
    .map(|l| {
        let (p, d) = l.split_once(',').unwrap();
        (p.parse().unwrap(), d.parse().unwrap())
    })
    .collect()
}

/// The MD5 of every decoded picture, in presentation order.
fn picture_hashes(files: &[PathBuf]) -> Vec<String> {
    let mut out = Vec::new();
    for f in files {
        let text = run("ffmpeg", &["-v", "error", "-nostdin", "-i", f.to_str().unwrap(), "-f", "framemd5", "-"]);
        out.extend(
            text.lines().filter(|l| !l.starts_with('#')).map(|l| l.rsplit(',').next().unwrap().trim().to_owned()),
        );
    }
    out
}

/// Record `units` (their PTS shifted by `shift` ticks) with 2 s segments; the segment files, in order.
fn record(units: &[AccessUnit], shift: i64, dir: &Path) -> (Vec<PathBuf>, Arc<RecordingIndex>) {
    let index = Arc::new(RecordingIndex::open(&dir.join("events.db")).unwrap());
    let mut rec = Recorder::new("cam".parse().unwrap(), &dir.join("rec"), 2.0, index.clone());
    for u in units {
        let mut u = u.clone();
        u.pts = Pts::new(u.pts.ticks() + shift, u.pts.clock_rate());
        rec.push(&u);
    }
    rec.finish().unwrap();
    let files = index.all_oldest_first().unwrap().iter().map(|s| dir.join("rec").join(&s.path)).collect();
    (files, index)
}

fn check_file(name: &str, expect_codec: &str) {
    let dir = tempfile::tempdir().unwrap();
    let src = media(name);
    // The first 25 s (250 pictures, no B-frames) are plenty: 12 or 13 segments.
    let mut units = read_all_units(&"cam".parse().unwrap(), &src).unwrap();
    units.truncate(250);
    let (files, index) = record(&units, 0, dir.path());
    assert!(files.len() >= 12, "25 s in 2 s segments: {}", files.len());
    let segs = index.all_oldest_first().unwrap();
    let mut recorded_pts = Vec::new();
    for (f, s) in files.iter().zip(&segs) {
        let probe = run(
            "ffprobe",
            &["-v", "error", "-show_entries", "stream=codec_tag_string", "-of", "csv=p=0", f.to_str().unwrap()],
        );
        assert_eq!(probe.trim(), expect_codec);
        let p = packets(f);
        assert_eq!(p[0].0, s.start_pts.ticks(), "first packet PTS = indexed start of {}", f.display());
        assert!(p.iter().all(|(pts, dts)| pts == dts), "no B-frames: decode time = PTS");
        recorded_pts.extend(p.iter().map(|(pts, _)| *pts));
    }
    let source_pts: Vec<i64> = units.iter().map(|u| u.pts.to_90k()).collect();
    assert_eq!(recorded_pts, source_pts, "every picture recorded once, at its PTS");
    let mut source_hashes = picture_hashes(&[src]);
    source_hashes.truncate(250);
    assert_eq!(picture_hashes(&files), source_hashes, "decoded pixels match the source");
}

#[test]
fn h264_segments_are_read_by_ffprobe_at_the_source_pts_and_decode_to_the_same_pixels() {
    check_file("vtest-h264.mp4", "avc1");
}

#[test]
fn h265_segments_are_read_by_ffprobe_at_the_source_pts_and_decode_to_the_same_pixels() {
    check_file("vtest-h265.mp4", "hvc1");
}

#[test]
fn b_frames_keep_their_presentation_times_through_composition_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("bframes.mp4");
    run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-nostdin",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
            "-t",
            "6",
            "-c:v",
            "libx264",
            "-bf",
            "2",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-video_track_timescale",
            "90000",
            src.to_str().unwrap(),
        ],
    );
    let units = read_all_units(&"cam".parse().unwrap(), &src).unwrap();
    assert!(units.windows(2).any(|w| w[1].pts.ticks() < w[0].pts.ticks()), "the generated file has B-frames");
    // A camera timeline starts at 0; the shift keeps the first decode times positive, as after a second.
    let shift = 90_000;
    let (files, _) = record(&units, shift, dir.path());
    let mut pts = Vec::new();
    for f in &files {
        let p = packets(f);
        assert!(p.windows(2).all(|w| w[1].1 > w[0].1), "decode times increase in {}", f.display());
        assert!(p.iter().all(|(pts, dts)| dts <= pts), "decode before presentation");
        pts.extend(p.iter().map(|(pts, _)| *pts));
    }
    let source: Vec<i64> = units.iter().map(|u| u.pts.to_90k() + shift).collect();
    assert_eq!(pts, source, "presentation times (in decode order) are the source PTS");
    assert_eq!(picture_hashes(&files), picture_hashes(&[src]), "decoded pixels match the source");
}
