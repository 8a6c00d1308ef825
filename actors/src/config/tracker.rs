//! `[tracker]`: the settings of the tracker ([`TrackerConfig`], as written in the file) and the parameters
//! the tracker runs with ([`TrackerParams`], which also carries the fixed values of the original ByteTrack).
//! Every default is defined once, in [`TrackerParams::default`].

use serde::Deserialize;

/// How tracks and detections are associated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Association {
    /// The original ByteTrack, step by step (the golden test against supervision runs this).
    ByteTrack,
    /// ByteTrack plus the observation-centric additions for low detection rates (module doc).
    #[default]
    ObservationCentric,
}

/// The tracker's parameters. [`TrackerParams::default`] is tuned for 2–10 detections per second
/// (`scripts/tracker/compare_low_rate.py`); [`TrackerParams::bytetrack`] gives the original ByteTrack
/// (MOT17, 30 fps). Every field's default is stated on the field.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackerParams {
    /// Association method. Default [`Association::ObservationCentric`].
    pub association: Association,
    /// Detections scoring above this are "high" (first association, may start tracks). Default 0.3 (the
    /// original: 0.5).
    pub track_thresh: f32,
    /// Detections scoring above this but below `track_thresh` are "low" (second association only);
    /// lower ones are ignored. Default 0.1.
    pub low_thresh: f32,
    /// A high detection left unmatched starts a track if it scores at least this. Default 0.4
    /// (`track_thresh + 0.1`; the original: 0.6).
    pub new_track_thresh: f32,
    /// First association: largest distance `1 − IoU·score` (or `1 − IoU` without `fuse_score`) for a
    /// match. Default 0.8.
    pub match_thresh: f32,
    /// Second association (low detections): largest `1 − IoU`. Default 0.5.
    pub low_match_thresh: f32,
    /// Unconfirmed tracks: largest fused distance. Default 0.7.
    pub unconfirmed_match_thresh: f32,
    /// Multiply IoU by the detection score in the first and unconfirmed associations (the original does,
    /// except on MOT20). Default true.
    pub fuse_score: bool,
    /// A tracked and a lost track overlapping by more than this IoU are duplicates. Default 0.85.
    pub duplicate_iou: f32,
    /// How long a lost track waits to be re-found, in seconds of stream time during which it could have
    /// been seen (time outside every covered region does not count). Default 2.0 (the original: 1.0,
    /// 30 frames at 30 fps).
    pub lost_buffer_sec: f64,
    /// The frame rate the motion noise is tuned for, in frames per second: Kalman velocities are per
    /// `1 / nominal_fps` seconds. Default 30.
    pub nominal_fps: f64,
    /// Observation-centric only: when IoU fails, a detection may still match a track whose predicted box
    /// centre is within this many track heights of the detection's centre (boxes of similar height).
    /// Default 0.2.
    pub distance_gate: f32,
    /// Observation-centric only: how much the distance gate widens per second since the track's last
    /// observation, in track heights per second. Default 0.3.
    pub distance_gate_per_sec: f32,
    /// Observation-centric only: a lost track is still returned, at its predicted box, for this long after
    /// its last observation (a detector miss at a low rate does not blank the object). 0 turns it off.
    /// Default 0.3.
    pub coast_sec: f64,
    /// Matched detections a new track needs, on consecutive inferences of its place, before it is
    /// confirmed, gets an id and is shown. Default 2, as the original (confirmation on the second frame);
    /// 3 costs a little IDF1 at 5 fps (a later start) and saves short-lived ids from one-off detections.
    pub min_hits: u32,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self {
            association: Association::ObservationCentric,
            track_thresh: 0.3,
            new_track_thresh: 0.4,
            lost_buffer_sec: 2.0,
            distance_gate: 0.2,
            distance_gate_per_sec: 0.3,
            coast_sec: 0.3,
            ..Self::bytetrack()
        }
    }
}

impl TrackerParams {
    /// The original ByteTrack (MOT17 settings, 30 fps, 1 s lost buffer), without the observation-centric
    /// additions.
    pub fn bytetrack() -> Self {
        Self {
            association: Association::ByteTrack,
            track_thresh: 0.5,
            low_thresh: 0.1,
            new_track_thresh: 0.6,
            match_thresh: 0.8,
            low_match_thresh: 0.5,
            unconfirmed_match_thresh: 0.7,
            fuse_score: true,
            duplicate_iou: 0.85,
            lost_buffer_sec: 1.0,
            nominal_fps: 30.0,
            distance_gate: 0.0,
            distance_gate_per_sec: 0.0,
            coast_sec: 0.0,
            min_hits: 2,
        }
    }
}

/// A parameter out of range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamsError {
    #[error("tracker parameter `{field}` is {value}; it must be {expected}")]
    OutOfRange { field: &'static str, value: f64, expected: &'static str },
}

impl TrackerParams {
    /// Check every field's range, naming the first bad one.
    pub fn validate(&self) -> Result<(), ParamsError> {
        let unit = |field, v: f32| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ParamsError::OutOfRange { field, value: f64::from(v), expected: "between 0 and 1" })
            }
        };
        unit("track_thresh", self.track_thresh)?;
        unit("low_thresh", self.low_thresh)?;
        unit("new_track_thresh", self.new_track_thresh)?;
        unit("match_thresh", self.match_thresh)?;
        unit("low_match_thresh", self.low_match_thresh)?;
        unit("unconfirmed_match_thresh", self.unconfirmed_match_thresh)?;
        unit("duplicate_iou", self.duplicate_iou)?;
        if self.low_thresh > self.track_thresh {
            return Err(ParamsError::OutOfRange {
                field: "low_thresh",
                value: f64::from(self.low_thresh),
                expected: "at most track_thresh",
            });
        }
        if !(self.lost_buffer_sec >= 0.0 && self.lost_buffer_sec.is_finite()) {
            let expected = "a finite number of seconds, 0 or more";
            return Err(ParamsError::OutOfRange { field: "lost_buffer_sec", value: self.lost_buffer_sec, expected });
        }
        if !(self.nominal_fps > 0.0 && self.nominal_fps.is_finite()) {
            let expected = "a positive, finite frame rate";
            return Err(ParamsError::OutOfRange { field: "nominal_fps", value: self.nominal_fps, expected });
        }
        let gate = |field, v: f32| {
            if v >= 0.0 && v.is_finite() {
                Ok(())
            } else {
                Err(ParamsError::OutOfRange { field, value: f64::from(v), expected: "a finite number, 0 or more" })
            }
        };
        gate("distance_gate", self.distance_gate)?;
        gate("distance_gate_per_sec", self.distance_gate_per_sec)?;
        if !(self.coast_sec >= 0.0 && self.coast_sec.is_finite()) {
            let expected = "a finite number of seconds, 0 or more";
            return Err(ParamsError::OutOfRange { field: "coast_sec", value: self.coast_sec, expected });
        }
        if !(1..=10).contains(&self.min_hits) {
            let expected = "a whole number from 1 to 10";
            return Err(ParamsError::OutOfRange { field: "min_hits", value: f64::from(self.min_hits), expected });
        }
        Ok(())
    }
}

/// `[tracker]`: ByteTrack settings, shared by every camera.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections scoring above this take part in the first association, 0–1. Default 0.3.
    #[serde(default = "default_track_thresh")]
    pub track_thresh: f32,
    /// Detections between this and `track_thresh` only re-find existing tracks, 0–1. Default 0.1.
    /// The detector's `model.confidence` must not exceed it, or those detections never arrive.
    #[serde(default = "default_low_thresh")]
    pub low_thresh: f32,
    /// Least score of an unmatched detection to start a new track, 0–1. Default 0.4.
    #[serde(default = "default_new_track_thresh")]
    pub new_track_thresh: f32,
    /// Largest `1 − IoU·score` distance for a match in the first association, 0–1. Default 0.8.
    #[serde(default = "default_match_thresh")]
    pub match_thresh: f32,
    /// How long a lost track can be re-found, in seconds of stream time it could have been seen.
    /// Default 2.0.
    #[serde(default = "default_lost_buffer_sec")]
    pub lost_buffer_sec: f64,
    /// `"observation_centric"` (ByteTrack plus re-update, recovery, distance gate; for 2–10 detections/s)
    /// or `"bytetrack"` (the original). Default `"observation_centric"`.
    #[serde(default)]
    pub association: Association,
    /// Observation-centric: largest centre distance, in track heights, of a match when IoU fails.
    /// Default 0.2.
    #[serde(default = "default_distance_gate")]
    pub distance_gate: f32,
    /// Observation-centric: widening of the distance gate per second since the last match, in track
    /// heights per second. Default 0.3.
    #[serde(default = "default_distance_gate_per_sec")]
    pub distance_gate_per_sec: f32,
    /// Observation-centric: a lost track is still shown at its predicted box this long, in seconds. Default 0.3.
    #[serde(default = "default_coast_sec")]
    pub coast_sec: f64,
    /// Matched detections before a new track is confirmed, gets an id and is shown, 1–10. Default 2 (as the
    /// original ByteTrack).
    #[serde(default)]
    pub min_hits: Option<u32>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            track_thresh: default_track_thresh(),
            low_thresh: default_low_thresh(),
            new_track_thresh: default_new_track_thresh(),
            match_thresh: default_match_thresh(),
            lost_buffer_sec: default_lost_buffer_sec(),
            association: Association::default(),
            distance_gate: default_distance_gate(),
            distance_gate_per_sec: default_distance_gate_per_sec(),
            coast_sec: default_coast_sec(),
            min_hits: None,
        }
    }
}

impl From<&TrackerConfig> for TrackerParams {
    fn from(c: &TrackerConfig) -> Self {
        let base = match c.association {
            Association::ByteTrack => Self::bytetrack(),
            Association::ObservationCentric => Self::default(),
        };
        Self {
            association: c.association,
            track_thresh: c.track_thresh,
            low_thresh: c.low_thresh,
            new_track_thresh: c.new_track_thresh,
            match_thresh: c.match_thresh,
            lost_buffer_sec: c.lost_buffer_sec,
            distance_gate: c.distance_gate,
            distance_gate_per_sec: c.distance_gate_per_sec,
            coast_sec: c.coast_sec,
            min_hits: c.min_hits.unwrap_or(base.min_hits),
            ..base
        }
    }
}

fn default_track_thresh() -> f32 {
    TrackerParams::default().track_thresh
}
fn default_low_thresh() -> f32 {
    TrackerParams::default().low_thresh
}
fn default_new_track_thresh() -> f32 {
    TrackerParams::default().new_track_thresh
}
fn default_match_thresh() -> f32 {
    TrackerParams::default().match_thresh
}
fn default_lost_buffer_sec() -> f64 {
    TrackerParams::default().lost_buffer_sec
}
fn default_distance_gate() -> f32 {
    TrackerParams::default().distance_gate
}
fn default_distance_gate_per_sec() -> f32 {
    TrackerParams::default().distance_gate_per_sec
}
fn default_coast_sec() -> f64 {
    TrackerParams::default().coast_sec
}
