//! `panoptes track`: replay MOTChallenge detections through ByteTrack and write MOTChallenge tracks.
//!
//! Every frame from 1 to the last frame in the file is fed to the tracker at `t = frame / fps`, frames
//! without detections included (lost tracks age on them). Prints one summary line.

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
    /// Detections scoring above this are "high" (first association, may start tracks).
    #[arg(long, default_value_t = 0.5)]
    pub track_thresh: f32,
    /// Lowest score that starts a track. Default: track-thresh + 0.1, as ByteTrack.
    #[arg(long)]
    pub new_track_thresh: Option<f32>,
    /// First association: largest `1 − IoU·score` for a match.
    #[arg(long, default_value_t = 0.8)]
    pub match_thresh: f32,
    /// How long a lost track waits to be re-found, in seconds.
    #[arg(long, default_value_t = 1.0)]
    pub lost_buffer_sec: f64,
    /// Frame rate the Kalman motion noise is tuned for. Default: --fps (one filter step per frame, as the
    /// original ByteTrack).
    #[arg(long)]
    pub nominal_fps: Option<f64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.fps > 0.0 && args.fps.is_finite()) {
        anyhow::bail!("--fps is {}; give the sequence's frame rate, a positive number", args.fps);
    }
    let params = TrackerParams {
        track_thresh: args.track_thresh,
        new_track_thresh: args.new_track_thresh.unwrap_or(args.track_thresh + 0.1),
        match_thresh: args.match_thresh,
        lost_buffer_sec: args.lost_buffer_sec,
        nominal_fps: args.nominal_fps.unwrap_or(args.fps),
        ..TrackerParams::default()
    };
    let mut tracker = ByteTracker::new(params).context("invalid tracker options")?;
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
