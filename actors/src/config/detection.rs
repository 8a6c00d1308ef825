//! `[detection]`: where on each frame the detector runs (whole frames or motion-aware regions).

use super::{ConfigError, invalid};
use serde::Deserialize;

/// Where on a frame the detector runs.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DetectionMode {
    /// Only square regions around motion and around known objects, each cut from the full-resolution frame
    /// at the model's input size, plus a whole-frame pass every `full_frame_sec`; nothing on a still scene.
    #[default]
    Regions,
    /// Every frame that `detect_fps` admits, whole (letterboxed to the model input).
    FullFrame,
}

/// `[detection]`: where on each frame the detector runs, for every camera.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionConfig {
    /// `regions` (motion-aware, the default) or `full_frame` (every admitted frame whole).
    #[serde(default)]
    pub mode: DetectionMode,
    /// Regions mode: longest stream time between two whole-frame passes, in seconds, so that objects that
    /// never move are still seen. Default 5.
    #[serde(default = "default_full_frame_sec")]
    pub full_frame_sec: f64,
    /// Regions mode: context added on every side of a motion or predicted-track box before it becomes a
    /// region, as a fraction of the box's larger side. Default 0.5.
    #[serde(default = "default_region_context")]
    pub region_context: f32,
    /// Regions mode: most regions per frame; a frame that needs more gets a full pass instead. Default 8.
    #[serde(default = "default_max_regions")]
    pub max_regions: usize,
    /// Regions mode: most a region is enlarged to the model input, 1–4. Small objects are found and sized
    /// well only when they reach the model at about half its input side; a region is never smaller than
    /// the input side divided by this. 1: never enlarge (regions at least the model input). Default 2.
    #[serde(default = "default_max_zoom")]
    pub max_zoom: f32,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            mode: DetectionMode::default(),
            full_frame_sec: default_full_frame_sec(),
            region_context: default_region_context(),
            max_regions: default_max_regions(),
            max_zoom: default_max_zoom(),
        }
    }
}

impl DetectionConfig {
    /// Ranges of each field, naming the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.full_frame_sec.is_finite() && self.full_frame_sec > 0.0 && self.full_frame_sec <= 3600.0) {
            return Err(invalid("detection.full_frame_sec", "must be more than 0 and at most 3600 seconds"));
        }
        if !(self.region_context.is_finite() && (0.0..=4.0).contains(&self.region_context)) {
            return Err(invalid("detection.region_context", "must be between 0 and 4 (a fraction of the box's side)"));
        }
        if !(1..=64).contains(&self.max_regions) {
            return Err(invalid("detection.max_regions", "must be 1–64"));
        }
        if !(self.max_zoom.is_finite() && (1.0..=4.0).contains(&self.max_zoom)) {
            return Err(invalid("detection.max_zoom", "must be 1–4 (1: never enlarge a region)"));
        }
        Ok(())
    }
}

fn default_full_frame_sec() -> f64 {
    5.0
}
fn default_region_context() -> f32 {
    0.5
}
fn default_max_regions() -> usize {
    8
}

fn default_max_zoom() -> f32 {
    2.0
}
