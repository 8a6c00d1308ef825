//! `[cameras.health]`: camera health events — video lost, frozen, blinded, defocused, scene moved
//! (`crate::health`, `docs/rules.md#camera-health`).

use super::{ConfigError, invalid};
use serde::{Deserialize, Serialize};

/// `[cameras.health]`. Every duration is in seconds.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Judge the picture and raise health events. Default false.
    pub enabled: bool,
    /// Seconds of healthy pictures after start that make the reference view and sharpness. Default 30.
    pub learn_sec: f64,
    /// No picture for this long (the camera reconnecting) raises `video_lost`. Default 10.
    pub lost_sec: f64,
    /// Identical pictures for this long raise `frozen`. Default 10.
    pub frozen_sec: f64,
    /// Too dark, too bright or flat for this long raises `blinded`. Default 10.
    pub blinded_sec: f64,
    /// Sharpness below `defocus_ratio` of the reference's for this long raises `defocused`. Default 30.
    pub defocused_sec: f64,
    /// Similarity to the reference below `moved_similarity` for this long raises `scene_moved`. Default 30.
    pub moved_sec: f64,
    /// A condition ends once it has been clear this long. Default 5.
    pub clear_sec: f64,
    /// Mean grey level (0–255) below which the picture is blinded (black, covered; video black is 16). Default 20.
    pub dark_level: f32,
    /// Mean grey level above which the picture is blinded (white, a light in the lens). Default 240.
    pub bright_level: f32,
    /// Standard deviation of the grey levels below which the picture is blinded (flat: sprayed, covered by
    /// something uniform). Default 4.
    pub flat_level: f32,
    /// Sharpness, as a fraction of the reference's, below which the picture is defocused. Default 0.35.
    pub defocus_ratio: f32,
    /// Correlation with the reference view (−1 to 1) below which the scene has moved. Default 0.5.
    pub moved_similarity: f32,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            learn_sec: 30.0,
            lost_sec: 10.0,
            frozen_sec: 10.0,
            blinded_sec: 10.0,
            defocused_sec: 30.0,
            moved_sec: 30.0,
            clear_sec: 5.0,
            dark_level: 20.0,
            bright_level: 240.0,
            flat_level: 4.0,
            defocus_ratio: 0.35,
            moved_similarity: 0.5,
        }
    }
}

impl HealthConfig {
    /// `field` names the section (`cameras.<id>.health`).
    pub fn validate(&self, field: &str) -> Result<(), ConfigError> {
        let f = |name: &str| format!("{field}.{name}");
        let secs = [
            ("learn_sec", self.learn_sec),
            ("lost_sec", self.lost_sec),
            ("frozen_sec", self.frozen_sec),
            ("blinded_sec", self.blinded_sec),
            ("defocused_sec", self.defocused_sec),
            ("moved_sec", self.moved_sec),
            ("clear_sec", self.clear_sec),
        ];
        for (name, v) in secs {
            if !(v.is_finite() && (0.0..=86_400.0).contains(&v)) {
                return Err(invalid(f(name), "must be between 0 and 86400 seconds"));
            }
        }
        if !(0.0..=255.0).contains(&self.dark_level) || !(0.0..=255.0).contains(&self.bright_level) {
            return Err(invalid(f("dark_level"), "dark_level and bright_level are grey levels, 0 to 255"));
        }
        if self.dark_level >= self.bright_level {
            return Err(invalid(f("bright_level"), "must be above dark_level"));
        }
        if !(0.0..=128.0).contains(&self.flat_level) {
            return Err(invalid(f("flat_level"), "must be between 0 and 128"));
        }
        if !(0.0..=1.0).contains(&self.defocus_ratio) {
            return Err(invalid(f("defocus_ratio"), "must be between 0 and 1"));
        }
        if !(-1.0..=1.0).contains(&self.moved_similarity) {
            return Err(invalid(f("moved_similarity"), "must be between -1 and 1"));
        }
        Ok(())
    }
}
