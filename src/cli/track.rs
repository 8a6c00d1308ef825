//! `panoptes track`: replay MOTChallenge detections through the tracker and write MOTChallenge tracks.
//!
//! Every frame from 1 to the last frame in the file is fed to the tracker at `t = frame / fps`, frames
//! without detections included (lost tracks age on them). Prints one summary line. The tracker is the
//! camera pipeline's (observation-centric, tuned for 2–10 detections/s) unless `--bytetrack` asks for the
//! original ByteTrack; options left out take that tracker's defaults.

use anyhow::Context;
use panoptes_actors::tracker::mot;
use panoptes_actors::tracker::{ByteTracker, TrackerParams};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// MOTChallenge detections: `frame,-1,x,y,w,h,score,...`, frames counted from 1.
    #[arg(long, value_name = "DETS.txt")]
    pub mot_in: PathBuf,
    /// Where to write the tracks: `frame,id,x,y,w,h,score,-1,-1,-1`.
    #[arg(long, value_name = "TRACKS.txt")]
    pub mot_out: PathBuf,
    /// Frame rate of the sequence, frames per second: frame n is at n / fps seconds.
    #[arg(long, default_value_t = 25.0)]
    pub fps: f64,
    /// The original ByteTrack (one Kalman step per frame unless --nominal-fps) instead of the
    /// observation-centric tracker.
    #[arg(long)]
    pub bytetrack: bool,
    /// Detections scoring above this are "high" (first association, may start tracks). Default 0.5.
    #[arg(long)]
    pub track_thresh: Option<f32>,
    /// Lowest score that starts a track. Default: track-thresh + 0.1, as ByteTrack.
    #[arg(long)]
    pub new_track_thresh: Option<f32>,
    /// First association: largest `1 − IoU·score` for a match. Default 0.8.
    #[arg(long)]
    pub match_thresh: Option<f32>,
    /// How long a lost track waits to be re-found, in seconds. Default: the tracker's (2.0; 1.0 with
    /// --bytetrack).
    #[arg(long)]
    pub lost_buffer_sec: Option<f64>,
    /// Frame rate the Kalman motion noise is tuned for. Default: --fps with --bytetrack (one filter step
    /// per frame, as the original), else the tracker's (30).
    #[arg(long)]
    pub nominal_fps: Option<f64>,
    /// Largest centre distance, in track heights, of a match when IoU fails (not with --bytetrack).
    #[arg(long)]
    pub distance_gate: Option<f32>,
    /// Widening of the distance gate per second since a track's last match, heights per second.
    #[arg(long)]
    pub distance_gate_per_sec: Option<f32>,
    /// How long a lost track is still written at its predicted box, in seconds (0: never).
    #[arg(long)]
    pub coast_sec: Option<f64>,
    /// Matched detections before a new track is confirmed and written. Default 2.
    #[arg(long)]
    pub min_hits: Option<u32>,
}

/// The tracker parameters the options ask for.
fn params(args: &Args) -> TrackerParams {
    let base = if args.bytetrack { TrackerParams::bytetrack() } else { TrackerParams::default() };
    let track_thresh = args.track_thresh.unwrap_or(base.track_thresh);
    let nominal_fps = match (args.nominal_fps, args.bytetrack) {
        (Some(fps), _) => fps,
        (None, true) => args.fps,
        (None, false) => base.nominal_fps,
    };
    TrackerParams {
        track_thresh,
        new_track_thresh: args.new_track_thresh.unwrap_or(track_thresh + 0.1),
        match_thresh: args.match_thresh.unwrap_or(base.match_thresh),
        lost_buffer_sec: args.lost_buffer_sec.unwrap_or(base.lost_buffer_sec),
        nominal_fps,
        distance_gate: args.distance_gate.unwrap_or(base.distance_gate),
        distance_gate_per_sec: args.distance_gate_per_sec.unwrap_or(base.distance_gate_per_sec),
        coast_sec: args.coast_sec.unwrap_or(base.coast_sec),
        min_hits: args.min_hits.unwrap_or(base.min_hits),
        ..base
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.fps > 0.0 && args.fps.is_finite()) {
        anyhow::bail!("--fps is {}; give the sequence's frame rate, a positive number", args.fps);
    }
    let mut tracker = ByteTracker::new(params(&args)).context("invalid tracker options")?;
    let rows = mot::read_rows(&args.mot_in)?;
    let frames = mot::detections_by_frame(&rows);
    let last_frame = frames.keys().next_back().copied().unwrap_or(0);

    let file = std::fs::File::create(&args.mot_out)
        .with_context(|| format!("cannot create the output file {}", args.mot_out.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let write_error = || format!("cannot write tracks to {}", args.mot_out.display());
    let (mut boxes, mut ids) = (0usize, BTreeSet::new());
    let no_detections = Vec::new();
    for frame in 1..=last_frame {
        let detections = frames.get(&frame).unwrap_or(&no_detections);
        let tracks = tracker.update(detections, frame as f64 / args.fps);
        boxes += tracks.len();
        ids.extend(tracks.iter().map(|t| t.id));
        mot::write_tracks(&mut out, frame, &tracks).with_context(write_error)?;
    }
    out.flush().with_context(write_error)?;
    println!(
        "frames {last_frame}, detections {}, track boxes {boxes}, distinct ids {} -> {}",
        rows.len(),
        ids.len(),
        args.mot_out.display()
    );
    Ok(())
}
