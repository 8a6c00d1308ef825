//! `[analytics]` (the extra models) and each camera's `[cameras.plates]` and `[cameras.fire]`.

use super::default_true;
use serde::Deserialize;
use std::path::PathBuf;

/// `[analytics]`: model files of the per-camera analytics beyond the primary detector. Each runs in a batcher
/// of its own per device, loaded only when an enabled camera turns its analytics on.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Plate detector: an Ultralytics YOLO detect export with one class. Default `var/models/plate-detector.onnx`.
    #[serde(default = "default_plate_detector")]
    pub plate_detector: PathBuf,
    /// Input size of the plate detector in pixels (vehicle crops are letterboxed to it). Default 416.
    #[serde(default = "default_plate_imgsz")]
    pub plate_imgsz: u32,
    /// PP-OCR recognition model reading plate crops. Default `var/models/ocr/ch_PP-OCRv4_rec_infer.onnx`.
    #[serde(default = "default_plate_ocr")]
    pub plate_ocr: PathBuf,
    /// Fire/smoke detector: an Ultralytics YOLO detect export with classes `fire` and `smoke`.
    /// Default `var/models/fire-smoke.onnx`.
    #[serde(default = "default_fire_model")]
    pub fire_model: PathBuf,
    /// Input size of the fire/smoke detector in pixels. Default 640.
    #[serde(default = "default_fire_imgsz")]
    pub fire_imgsz: u32,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        Self {
            plate_detector: default_plate_detector(),
            plate_imgsz: default_plate_imgsz(),
            plate_ocr: default_plate_ocr(),
            fire_model: default_fire_model(),
            fire_imgsz: default_fire_imgsz(),
        }
    }
}

/// `[cameras.plates]`: licence-plate reading on the camera's tracked vehicles.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlatesConfig {
    /// Run plate reading on this camera. Default true (when the section is present).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Vehicle classes whose tracks are cropped, as the primary model names them.
    /// Default `["car", "bus", "truck", "motorbike", "motorcycle"]` (those the model has).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// Most crop attempts per second per vehicle track, by stream time. Default 2.0.
    #[serde(default = "default_plate_fps")]
    pub fps: f32,
    /// Smallest vehicle box width worth cropping, in source pixels. Default 64.
    #[serde(default = "default_min_vehicle_px")]
    pub min_vehicle_px: u32,
    /// Least plate-detector score for a plate box, 0–1. Default 0.4.
    #[serde(default = "default_plate_det_confidence")]
    pub detector_confidence: f32,
    /// Least mean per-character OCR confidence for a reading to vote, 0–1. Default 0.6.
    #[serde(default = "default_plate_ocr_confidence")]
    pub ocr_confidence: f32,
    /// Regular expression a normalised reading (upper case, letters and digits only) must match in full to
    /// vote, e.g. `[0-9][A-Z]{2}[0-9]{4}`. Default none: any reading of 4 to 12 characters.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Read two-row plates: a crop narrower than this times its height is read as two rows. Default 0 (one row).
    #[serde(default)]
    pub two_rows_below: f32,
    /// Votes (readings) the winning text needs before a `start` event. Default 3.
    #[serde(default = "default_plate_min_votes")]
    pub min_votes: u32,
    /// Share of the track's summed confidence the winning text needs, 0–1. Default 0.5.
    #[serde(default = "default_plate_min_share")]
    pub min_share: f32,
    /// Seconds of stream time a track may be unseen before its plate event ends. Default 2.0.
    #[serde(default = "default_plate_end_sec")]
    pub end_after_sec: f64,
    /// Known plates that are allowed (`details.list = "allow"`). Default none.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Known plates that are denied (`details.list = "deny"`; deny wins over allow). Default none.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Most character edits between a reading and a list entry that still match. Default 1.
    #[serde(default = "default_plate_max_distance")]
    pub max_distance: u32,
}

/// `[cameras.fire]`: fire and smoke detection on whole frames, with its own (lower) rate.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FireConfig {
    /// Run fire/smoke detection on this camera. Default true (when the section is present).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Frames per second sent to the fire/smoke model, by stream time. Default 1.0.
    #[serde(default = "default_fire_fps")]
    pub fps: f32,
    /// Least score of a `fire` box, 0–1. Default 0.85 (the street clip's hazy sky scores up to 0.8).
    #[serde(default = "default_fire_confidence")]
    pub fire_confidence: f32,
    /// Least score of a `smoke` box, 0–1. Default 0.85.
    #[serde(default = "default_fire_confidence")]
    pub smoke_confidence: f32,
    /// Smallest box area as a fraction of the frame, 0–1. Default 0.0005.
    #[serde(default = "default_fire_min_area")]
    pub min_area: f32,
    /// Inferences out of the last `window` that must show the class before `start`. Default 3.
    #[serde(default = "default_fire_k")]
    pub persistence: u32,
    /// Length of the persistence window, in inferences. Default 5. The event ends when no inference of the
    /// window shows the class.
    #[serde(default = "default_fire_n")]
    pub window: u32,
}

fn default_plate_detector() -> PathBuf {
    "var/models/plate-detector.onnx".into()
}
fn default_plate_imgsz() -> u32 {
    416
}
fn default_plate_ocr() -> PathBuf {
    "var/models/ocr/ch_PP-OCRv4_rec_infer.onnx".into()
}
fn default_fire_model() -> PathBuf {
    "var/models/fire-smoke.onnx".into()
}
fn default_fire_imgsz() -> u32 {
    640
}
fn default_plate_fps() -> f32 {
    2.0
}
fn default_min_vehicle_px() -> u32 {
    64
}
fn default_plate_det_confidence() -> f32 {
    0.4
}
fn default_plate_ocr_confidence() -> f32 {
    0.6
}
fn default_plate_min_votes() -> u32 {
    3
}
fn default_plate_min_share() -> f32 {
    0.5
}
fn default_plate_end_sec() -> f64 {
    2.0
}
fn default_plate_max_distance() -> u32 {
    1
}
fn default_fire_fps() -> f32 {
    1.0
}
fn default_fire_confidence() -> f32 {
    0.85
}
fn default_fire_min_area() -> f32 {
    0.0005
}
fn default_fire_k() -> u32 {
    3
}
fn default_fire_n() -> u32 {
    5
}
