//! `[cameras.motion]`: what counts as motion on a camera (sensitivity, masks).

use super::{ConfigError, default_true, invalid};
use serde::Deserialize;

/// `[cameras.motion]`: what counts as motion on this camera.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MotionConfig {
    /// Detect motion. Off: in regions mode the camera's admitted frames are inferred whole. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Grey levels (1–255) a pixel of the blurred, downscaled picture must differ from the background to be
    /// motion. Lower is more sensitive. Default 25.
    #[serde(default = "default_motion_threshold")]
    pub threshold: u8,
    /// Least moving area of one motion box, as a fraction of the picture (0–1). Default 0.0005.
    #[serde(default = "default_motion_min_area")]
    pub min_area: f32,
    /// How fast the background learns the picture, per analysed frame (0–1; at `detect_fps = 5`, 0.05 takes
    /// about 4 s). Default 0.05.
    #[serde(default = "default_motion_alpha")]
    pub alpha: f32,
    /// A change over more than this fraction of the picture at once is a lighting change, not motion (0–1).
    /// Default 0.6.
    #[serde(default = "default_lighting_change_fraction")]
    pub lighting_change_fraction: f32,
    /// Polygons to ignore (trees in the wind, an on-screen clock), each at least 3 `[x, y]` points normalised
    /// to the frame. Default none.
    #[serde(default)]
    pub mask: Vec<Vec<[f64; 2]>>,
}

impl Default for MotionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: default_motion_threshold(),
            min_area: default_motion_min_area(),
            alpha: default_motion_alpha(),
            lighting_change_fraction: default_lighting_change_fraction(),
            mask: Vec::new(),
        }
    }
}

impl MotionConfig {
    /// Ranges and mask polygons; `field` is the section's path (`cameras.ID.motion`).
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let f = |name: &str| format!("{field}.{name}");
        if self.threshold == 0 {
            return Err(invalid(f("threshold"), "must be 1–255 grey levels"));
        }
        if !(self.min_area.is_finite() && self.min_area > 0.0 && self.min_area < 1.0) {
            return Err(invalid(f("min_area"), "must be more than 0 and less than 1 (a fraction of the picture)"));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0 && self.alpha <= 1.0) {
            return Err(invalid(f("alpha"), "must be more than 0 and at most 1"));
        }
        if !(self.lighting_change_fraction.is_finite()
            && self.lighting_change_fraction > 0.0
            && self.lighting_change_fraction <= 1.0)
        {
            return Err(invalid(f("lighting_change_fraction"), "must be more than 0 and at most 1"));
        }
        for (i, polygon) in self.mask.iter().enumerate() {
            let here = f(&format!("mask[{i}]"));
            if polygon.len() < 3 {
                return Err(invalid(
                    here,
                    format!("a polygon needs at least 3 [x, y] points; this one has {}", polygon.len()),
                ));
            }
            if let Some(p) = polygon.iter().find(|p| !p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v))) {
                return Err(invalid(here, format!("point [{}, {}] is outside the frame; use 0–1", p[0], p[1])));
            }
            let pts = polygon.iter().copied().map(crate::geometry::plane::Point::from).collect();
            use crate::geometry::plane::PolygonDefect as D;
            let why = match crate::geometry::plane::Polygon::new(pts) {
                Ok(_) => continue,
                Err(D::RepeatedPoint(i)) => format!("point {i} repeats the next one"),
                Err(D::Crossing(a, b)) => format!("edge {a} crosses edge {b}"),
                Err(D::FoldsBack(i)) => format!("the edges at point {i} fold back on each other"),
                Err(D::ZeroArea | D::TooFewPoints(_)) => "its points lie on one line".to_owned(),
            };
            return Err(invalid(here, format!("{why}; list the points in order along the outline")));
        }
        Ok(())
    }
}

fn default_motion_threshold() -> u8 {
    25
}
fn default_motion_min_area() -> f32 {
    0.0005
}
fn default_motion_alpha() -> f32 {
    0.05
}
fn default_lighting_change_fraction() -> f32 {
    0.6
}
