//! A camera's `[cameras.plates]` section checked into a [`PlatesSpec`]: vehicle classes resolved against the
//! primary model, the plate format compiled, thresholds in range. Errors name the camera and the field.

use super::lists::PlateLists;
use super::vote::VoteParams;
use crate::config::AnalyticsError;
use crate::config::PlatesConfig;
use crate::infer::ocr::PlateLayout;
use crate::infer::ocr::plate_text::PlatePattern;
use std::collections::HashSet;

/// Vehicle classes cropped by default, as COCO models name them (`motorbike` in the Darknet names,
/// `motorcycle` in Ultralytics'); those the model lacks are skipped.
pub const DEFAULT_VEHICLES: [&str; 5] = ["car", "bus", "truck", "motorbike", "motorcycle"];

/// Plate readings without a format must have this many characters.
pub const FREE_LENGTH: std::ops::RangeInclusive<usize> = 4..=12;

#[derive(Clone, Debug)]
pub struct PlatesSpec {
    /// Primary-model class ids of vehicles.
    pub classes: HashSet<u32>,
    /// Seconds of stream time between two crops of one track.
    pub period_sec: f64,
    pub min_vehicle_px: f32,
    pub detector_confidence: f32,
    pub ocr_confidence: f32,
    pub pattern: Option<PlatePattern>,
    pub layout: PlateLayout,
    pub votes: VoteParams,
    pub end_after_sec: f64,
    pub lists: PlateLists,
}

impl PlatesSpec {
    pub fn compile(camera: &str, cfg: &PlatesConfig, labels: &[String]) -> Result<Self, AnalyticsError> {
        let bad = |field: &str, reason: String| AnalyticsError::invalid(camera, "plates", field, reason);
        let id = |name: &str| labels.iter().position(|l| l == name).map(|i| i as u32);
        let classes: HashSet<u32> = match &cfg.classes {
            Some(names) => {
                let mut ids = HashSet::new();
                for n in names {
                    let i = id(n).ok_or_else(|| {
                        bad("classes", format!("the model has no class `{n}`; known classes: {}", labels.join(", ")))
                    })?;
                    ids.insert(i);
                }
                ids
            }
            None => DEFAULT_VEHICLES.iter().filter_map(|n| id(n)).collect(),
        };
        if classes.is_empty() {
            return Err(bad("classes", "no vehicle class to crop; list the model's vehicle classes".into()));
        }
        if !(cfg.fps > 0.0 && cfg.fps <= 30.0) {
            return Err(bad("fps", format!("{} must be greater than 0 and at most 30", cfg.fps)));
        }
        for (field, v) in [
            ("detector_confidence", cfg.detector_confidence),
            ("ocr_confidence", cfg.ocr_confidence),
            ("min_share", cfg.min_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(field, format!("{v} must be between 0 and 1")));
            }
        }
        if cfg.min_votes == 0 {
            return Err(bad("min_votes", "must be at least 1".into()));
        }
        if !(cfg.end_after_sec > 0.0 && cfg.end_after_sec.is_finite()) {
            return Err(bad("end_after_sec", format!("{} must be a positive number of seconds", cfg.end_after_sec)));
        }
        if !(cfg.two_rows_below >= 0.0 && cfg.two_rows_below <= 10.0) {
            return Err(bad("two_rows_below", format!("{} must be 0 (one row) to 10", cfg.two_rows_below)));
        }
        let pattern = match &cfg.pattern {
            Some(p) => Some(PlatePattern::new(p).map_err(|e| bad("pattern", e.to_string()))?),
            None => None,
        };
        let lists = PlateLists::new(&cfg.allow, &cfg.deny, cfg.max_distance as usize);
        if let Some(e) = lists.empty_entry() {
            return Err(bad("allow", format!("entry `{e}` has no letter or digit; remove it")));
        }
        let layout = if cfg.two_rows_below > 0.0 {
            PlateLayout::Auto { two_rows_below: cfg.two_rows_below }
        } else {
            PlateLayout::SingleRow
        };
        Ok(Self {
            classes,
            period_sec: 1.0 / f64::from(cfg.fps),
            min_vehicle_px: cfg.min_vehicle_px as f32,
            detector_confidence: cfg.detector_confidence,
            ocr_confidence: cfg.ocr_confidence,
            pattern,
            layout,
            votes: VoteParams { min_votes: cfg.min_votes, min_share: cfg.min_share },
            end_after_sec: cfg.end_after_sec,
            lists,
        })
    }

    /// Whether a normalised reading may vote: it matches the format (or, without one, has a plausible length).
    pub fn plausible(&self, normalised: &str) -> bool {
        match &self.pattern {
            Some(p) => p.matches(normalised),
            None => FREE_LENGTH.contains(&normalised.chars().count()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: serde_json::Value) -> PlatesConfig {
        serde_json::from_value(json).unwrap()
    }

    fn labels() -> Vec<String> {
        ["person", "car", "motorbike", "bus", "truck"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_vehicles_are_those_the_model_has() {
        let s = PlatesSpec::compile("gate", &cfg(serde_json::json!({})), &labels()).unwrap();
        assert_eq!(s.classes, HashSet::from([1, 2, 3, 4]));
        assert!(s.plausible("5AU5341") && !s.plausible("AB") && s.pattern.is_none());
    }

    #[test]
    fn a_bad_pattern_or_class_names_the_camera_and_field() {
        let err = PlatesSpec::compile("gate", &cfg(serde_json::json!({"pattern": "[0-9"})), &labels()).unwrap_err();
        assert!(err.to_string().contains("cameras.gate.plates.pattern"), "{err}");
        let err = PlatesSpec::compile("gate", &cfg(serde_json::json!({"classes": ["tank"]})), &labels()).unwrap_err();
        assert!(err.to_string().contains("cameras.gate.plates.classes") && err.to_string().contains("tank"), "{err}");
        let s = PlatesSpec::compile("gate", &cfg(serde_json::json!({"pattern": "[0-9][A-Z]{2}[0-9]{4}"})), &labels())
            .unwrap();
        assert!(s.plausible("5AU5341") && !s.plausible("5AU534"));
    }
}
