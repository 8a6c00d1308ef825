//! Configuration types: what the operator writes in TOML, with defaults and cross-field validation.
//!
//! Loading and layering (default file → user file → `PANOPTES__` environment variables) lives in the
//! binary; this module only says what a valid configuration is. Every field is documented in
//! `docs/config.md` with its default and unit. Sections that have grown live in their own files
//! ([`analytics`], [`detection`], [`motion`], [`tracker`]); the rest are here.

pub mod analytics;
pub mod detection;
pub mod motion;
pub mod tracker;

pub use analytics::{AnalyticsConfig, FireConfig, PlatesConfig};
pub use detection::{DetectionConfig, DetectionMode};
pub use motion::MotionConfig;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
pub use tracker::{Association, TrackerConfig, TrackerParams};

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    pub model: ModelConfig,
    #[serde(default = "default_devices")]
    pub devices: Vec<DeviceConfig>,
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
    #[serde(default)]
    pub tracker: TrackerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub recording: RecordingConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// `[[peers]]`: other Panoptes nodes whose clock offset this node keeps estimating. Default none.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// `[analytics]`: the models of the plate and fire/smoke analytics (loaded only when a camera uses them).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    /// `[detection]`: where on each frame the detector runs (motion-aware regions, or whole frames).
    #[serde(default)]
    pub detection: DetectionConfig,
}

/// `[[peers]]`: another Panoptes node (for example the one beside the recorder) whose clock offset to this
/// node is estimated continuously with NTP-style exchanges on its `GET /api/time`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Unique id (letters, digits, `-`, `_`), named by `cameras.playback.peer`, metrics and `/api/time/peers`.
    pub id: String,
    /// Base URL of the peer's HTTP server, e.g. `http://10.0.0.7:8080`.
    pub url: String,
    /// Name of an environment variable holding an API token for the peer (a viewer token is enough).
    /// Default none (the peer runs without authentication).
    #[serde(default)]
    pub token_env: Option<String>,
    /// Seconds between exchanges. Default 10.
    #[serde(default = "default_peer_poll_sec")]
    pub poll_sec: f64,
}

/// `[cameras.playback]`: where this camera's video is recorded by a MediaMTX playback server, so every
/// event of the camera carries a link to its recording (`details.playback`).
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybackConfig {
    /// Base URL of MediaMTX's playback server (`playbackAddress`), e.g. `http://mediamtx:9996`.
    pub url: String,
    /// The MediaMTX path that records this camera.
    pub path: String,
    /// Id of the `[[peers]]` node running on the recorder's machine: its clock offset is applied to the link.
    /// Default none (the recorder's clock is this node's, or MediaMTX stamps with the camera's absolute time).
    #[serde(default)]
    pub peer: Option<String>,
    /// Seconds of video before the event's frame in the link. Default 5.
    #[serde(default = "default_playback_before_sec")]
    pub before_sec: f64,
    /// Length of the linked video in seconds. Default 15.
    #[serde(default = "default_playback_duration_sec")]
    pub duration_sec: f64,
}

fn default_peer_poll_sec() -> f64 {
    10.0
}

fn default_playback_before_sec() -> f64 {
    5.0
}

fn default_playback_duration_sec() -> f64 {
    15.0
}

/// `[recording]`: continuous recording of every camera's compressed stream to fragmented MP4 segments.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingConfig {
    /// Record cameras whose `record` is true. Default false.
    #[serde(default)]
    pub enabled: bool,
    /// Directory of the segments (`<camera>/<start pts>.mp4`); created when missing. Default `var/recordings`.
    #[serde(default = "default_recording_dir")]
    pub dir: PathBuf,
    /// Seconds after which a segment ends at the next key frame. Default 60.
    #[serde(default = "default_segment_sec")]
    pub segment_sec: f64,
    /// Hours to keep segments; 0 keeps them until `max_disk_mb` needs the space. Default 72.
    #[serde(default = "default_retain_hours")]
    pub retain_hours: f64,
    /// Most megabytes (MiB) of segments, all cameras together; the oldest go first; 0: no limit. Default 0.
    #[serde(default)]
    pub max_disk_mb: u64,
    /// Seconds of video before an event in its clip. Default 5.
    #[serde(default = "default_clip_sec")]
    pub clip_pre_sec: f64,
    /// Seconds of video after an event in its clip. Default 5.
    #[serde(default = "default_clip_sec")]
    pub clip_post_sec: f64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: default_recording_dir(),
            segment_sec: default_segment_sec(),
            retain_hours: default_retain_hours(),
            max_disk_mb: 0,
            clip_pre_sec: default_clip_sec(),
            clip_post_sec: default_clip_sec(),
        }
    }
}

impl RecordingConfig {
    /// Cross-field checks; each message names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.segment_sec.is_finite() && self.segment_sec > 0.0) {
            return Err(invalid("recording.segment_sec", "must be a positive number of seconds"));
        }
        if !(self.retain_hours.is_finite() && self.retain_hours >= 0.0) {
            return Err(invalid("recording.retain_hours", "must be 0 (no age limit) or a positive number of hours"));
        }
        for (name, v) in
            [("recording.clip_pre_sec", self.clip_pre_sec), ("recording.clip_post_sec", self.clip_post_sec)]
        {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(name, "must be 0 or more seconds"));
            }
        }
        Ok(())
    }
}

/// `[auth]`: API tokens for the HTTP surface (see `docs/api.md`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Require a token on every API route and WebSocket channel. Default true. Turning it off while
    /// `server.listen` is beyond loopback logs a warning.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Environment variable holding the first admin token, used when the store has no admin token yet;
    /// when unset, one is generated and printed once on stdout. Default `PANOPTES_ADMIN_TOKEN`.
    #[serde(default = "default_admin_token_env")]
    pub admin_token_env: String,
    /// Serve `/metrics` without a token. Default true.
    #[serde(default = "default_true")]
    pub public_metrics: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { enabled: true, admin_token_env: default_admin_token_env(), public_metrics: true }
    }
}

fn default_admin_token_env() -> String {
    "PANOPTES_ADMIN_TOKEN".into()
}

/// `[store]`: where events and their snapshots are kept.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// The SQLite event database; created (with its directory) when missing. Default `var/panoptes.db`.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Directory of event snapshots (`<camera>/<event id>.jpg`). Default `var/snapshots`.
    #[serde(default = "default_snapshot_dir")]
    pub snapshot_dir: PathBuf,
    /// Days to keep events and their snapshots; 0 keeps them forever. Default 30.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: default_store_path(),
            snapshot_dir: default_snapshot_dir(),
            retention_days: default_retention_days(),
        }
    }
}

/// `[server]`: the HTTP surface.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. Default `127.0.0.1:8080`; port 0 picks a free port.
    #[serde(default = "default_listen")]
    pub listen: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { listen: default_listen() }
    }
}

/// `[runtime]`: where ONNX Runtime comes from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Path to `libonnxruntime.so`. Default: `ORT_DYLIB_PATH`, else the wheel inside the project's `.venv`.
    #[serde(default)]
    pub onnxruntime_library: Option<PathBuf>,
}

/// `[model]`: the object detector (any Ultralytics YOLOv8/YOLO11 detect export, or the converted COCO model).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Path to the ONNX file.
    pub path: PathBuf,
    /// Optional labels file (one class name a line); default: the ONNX `names` metadata.
    #[serde(default)]
    pub labels: Option<PathBuf>,
    /// Input size in pixels for models with a dynamic input size (ignored for fixed-size models). Default 640.
    #[serde(default = "default_imgsz")]
    pub imgsz: u32,
    /// Minimum class score to keep a detection, 0–1. Default 0.1 (ByteTrack uses low-score
    /// detections to keep tracks through occlusion; see `tracker.low_thresh`).
    #[serde(default = "default_confidence")]
    pub confidence: f32,
    /// IoU above which NMS suppresses the lower-scored box of the same class, 0–1. Default 0.45.
    #[serde(default = "default_iou")]
    pub iou: f32,
}

/// An ONNX Runtime execution provider, tried in the order the device lists them.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    Tensorrt,
    Cuda,
    Cpu,
}

/// `[[devices]]`: an inference device with its own batcher and model session.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Unique id, used in metrics and the API (letters, digits, `-`, `_`).
    pub id: String,
    /// Execution providers in order of preference; the first that loads wins. Default `["cpu"]`.
    #[serde(default = "default_providers")]
    pub execution_providers: Vec<ExecutionProvider>,
    /// CUDA / TensorRT device ordinal. Default 0.
    #[serde(default)]
    pub gpu_index: i32,
    /// Directory for TensorRT engine caches. Default `var/trt-cache`.
    #[serde(default = "default_trt_cache")]
    pub tensorrt_cache_dir: PathBuf,
    /// Most frames in one inference call. Default 8.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Longest a frame waits for others to fill a batch, in milliseconds. Default 10.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose. Default 0.
    #[serde(default)]
    pub intra_threads: usize,
    /// Let ONNX Runtime's CPU worker threads spin-wait between operators. Faster on cores nothing else
    /// uses; wasteful when decoding shares them. Default false.
    #[serde(default)]
    pub spin_wait: bool,
    /// Inferred frames per second this device sustains; the allocator places cameras within it. Default 20.
    #[serde(default = "default_capacity_fps")]
    pub capacity_fps: f32,
}

/// RTSP lower transport.
#[derive(Clone, Copy, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// RTP interleaved in the RTSP TCP connection (works through NAT and firewalls).
    #[default]
    Tcp,
    /// RTP over UDP.
    Udp,
}

/// A secret string (a camera password): never printed by `Debug`. It serialises as its value (the store keeps
/// it); the HTTP API leaves it out of every answer.
#[derive(Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// `[[cameras]]`: one video source. Serialises to the same field names (the store and the HTTP API use JSON).
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Unique id (letters, digits, `-`, `_`), used in URLs, metrics and events.
    pub id: String,
    /// RTSP URL (`rtsp://host:port/path`). Exactly one of `url` and `file`.
    #[serde(default)]
    pub url: Option<String>,
    /// A video file (MP4/MKV, H.264 or H.265) played in real time. Exactly one of `url` and `file`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Loop a `file` source at its end. Default true.
    #[serde(default = "default_true")]
    pub loop_file: bool,
    /// RTSP transport. Default `tcp`.
    #[serde(default)]
    pub transport: Transport,
    /// RTSP user name.
    #[serde(default)]
    pub username: Option<String>,
    /// RTSP password. Prefer `password_env`.
    #[serde(default)]
    pub password: Option<Secret>,
    /// Name of an environment variable holding the RTSP password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Most frames per second sent to the detector (by stream time). Default 5.
    #[serde(default = "default_detect_fps")]
    pub detect_fps: f32,
    /// Class names to keep (empty: all the model's classes). Default empty.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Start this camera. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// First reconnect delay in milliseconds; doubles per failure. Default 500.
    #[serde(default = "default_backoff_initial_ms")]
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay in milliseconds. Default 30000.
    #[serde(default = "default_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// `[[cameras.zones]]`: named polygons the rules watch. Default none.
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    /// `[[cameras.lines]]`: named segments for line-crossing rules. Default none.
    #[serde(default)]
    pub lines: Vec<LineConfig>,
    /// `[[cameras.rules]]`: analytics rules raising events. Default none. A rule that cannot run is
    /// disabled on its own (see `crate::rules`), never the camera.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// `[cameras.playback]`: the MediaMTX recording of this camera, linked from its events. Default none.
    #[serde(default)]
    pub playback: Option<PlaybackConfig>,
    /// Record this camera when `[recording] enabled = true`. Default true.
    #[serde(default = "default_true")]
    pub record: bool,
    /// `[cameras.plates]`: licence-plate reading on tracked vehicles. Default none (off).
    #[serde(default)]
    pub plates: Option<PlatesConfig>,
    /// `[cameras.fire]`: fire and smoke detection. Default none (off).
    #[serde(default)]
    pub fire: Option<FireConfig>,
    /// `[cameras.motion]`: motion detection, which places the detector's regions (`[detection] mode =
    /// "regions"`). Default on with the defaults below.
    #[serde(default)]
    pub motion: MotionConfig,
}

impl CameraConfig {
    /// The camera's plate settings when plate reading is on.
    pub fn plates_on(&self) -> Option<&PlatesConfig> {
        self.plates.as_ref().filter(|p| p.enabled)
    }

    /// The camera's fire/smoke settings when detection is on.
    pub fn fire_on(&self) -> Option<&FireConfig> {
        self.fire.as_ref().filter(|f| f.enabled)
    }
}

/// `[[cameras.zones]]`: a polygon on the picture, in normalised coordinates.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Unique id within the camera (letters, digits, `-`, `_`); rules name it in `zone`.
    pub id: String,
    /// Vertices in order along the outline, each `[x, y]` with x = column / width and y = row / height,
    /// both in [0, 1] (0,0 = top-left). At least 3, not self-intersecting; the outline closes by itself.
    pub polygon: Vec<[f64; 2]>,
}

/// `[[cameras.lines]]`: a directed segment `a → b` on the picture, in normalised coordinates.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineConfig {
    /// Unique id within the camera (letters, digits, `-`, `_`); rules name it in `line`.
    pub id: String,
    /// Exactly two distinct points `[[ax, ay], [bx, by]]`, each in [0, 1]. Crossing from the left-hand side to
    /// the right-hand side of a walker going from `a` to `b` on the picture (top of the picture = north) is `in`.
    pub points: Vec<[f64; 2]>,
}

/// `[[cameras.rules]]`: one analytics rule. The per-kind fields are optional so that a field that does not
/// belong to the kind is reported; the rules module applies the defaults written here.
#[derive(Clone, Debug, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique id within the camera (letters, digits, `-`, `_`), carried by every event.
    pub id: String,
    /// `intrusion`, `loitering`, `occupancy` or `line_crossing`. Required.
    pub kind: String,
    /// Zone id, for `intrusion`, `loitering` and `occupancy`.
    #[serde(default)]
    pub zone: Option<String>,
    /// Line id, for `line_crossing`.
    #[serde(default)]
    pub line: Option<String>,
    /// Class names the rule watches, as the model names them. Default `[]`: every class.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Least track score the rule considers, 0–1. Default 0.0 (every confirmed track).
    #[serde(default)]
    pub min_confidence: Option<f32>,
    /// Point of the box tested against zones and lines: `bottom_center` (the feet) or `center`.
    /// Default `bottom_center`.
    #[serde(default)]
    pub anchor: Option<String>,
    /// `intrusion`: seconds of stream time the object must stay inside before `start`, ≥ 0. Default 1.0.
    /// `enter_sec` is its former name, still accepted.
    #[serde(default, alias = "enter_sec")]
    pub min_sec: Option<f64>,
    /// `intrusion`, `loitering`: seconds of stream time outside (or unseen) before `end`. Default 2.0.
    #[serde(default)]
    pub exit_sec: Option<f64>,
    /// `loitering`: seconds of stream time inside before `start`, and between `update`s. Required, > 0.
    #[serde(default)]
    pub dwell_sec: Option<f64>,
    /// `occupancy`: objects inside the zone at or above which the zone is occupied. Required, ≥ 1.
    #[serde(default)]
    pub min_count: Option<u32>,
    /// `occupancy`: seconds of stream time the count must stay ≥ `min_count` before `start`, and
    /// < `min_count` before `end`. Default 2.0.
    #[serde(default)]
    pub hold_sec: Option<f64>,
    /// `line_crossing`: normalised distance from the line the anchor must reach on the far side for a crossing
    /// to count, in [0, 0.5). Default 0.02.
    #[serde(default)]
    pub min_distance: Option<f64>,
    /// `intrusion`, `loitering`, `line_crossing`: seconds of stream time a lost object's event waits for a
    /// successor track (a new track near where the lost one was heading), which then continues it. ≥ 0;
    /// 0 turns continuity off. Default 2.0.
    #[serde(default)]
    pub grace_sec: Option<f64>,
    /// Seconds of stream time after an `end` (or a crossing) before the same track — or, for `occupancy`, the
    /// zone — can raise another `start`. Default 0.0.
    #[serde(default)]
    pub cooldown_sec: Option<f64>,
    /// Run this rule. Default true.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// Where a camera's video comes from, resolved from `url` / `file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    Rtsp { url: String, transport: Transport },
    File { path: PathBuf, looped: bool },
}

impl CameraConfig {
    /// The camera's source; `validate` guarantees exactly one of `url` / `file`.
    pub fn source(&self) -> SourceSpec {
        match (&self.url, &self.file) {
            (Some(url), _) => SourceSpec::Rtsp { url: url.clone(), transport: self.transport },
            (None, Some(path)) => SourceSpec::File { path: path.clone(), looped: self.loop_file },
            (None, None) => unreachable!("validated: a camera has a url or a file"),
        }
    }

    /// RTSP credentials: `username` with `password`, or the variable named by `password_env`.
    pub fn credentials(&self) -> Result<Option<(String, String)>, ConfigError> {
        let Some(user) = &self.username else { return Ok(None) };
        let password = match (&self.password, &self.password_env) {
            (Some(p), _) => p.0.clone(),
            (None, Some(var)) => std::env::var(var).map_err(|_| ConfigError::Invalid {
                field: format!("cameras.{}.password_env", self.id),
                reason: format!("environment variable {var} is not set; export it or set `password`"),
            })?,
            (None, None) => String::new(),
        };
        Ok(Some((user.clone(), password)))
    }
}

/// A plate or fire section that cannot run, naming the camera and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AnalyticsError {
    #[error("invalid config field `cameras.{camera}.{section}.{field}`: {reason}")]
    Invalid { camera: String, section: String, field: String, reason: String },
    #[error("cameras.{camera}: `{field}`: {reason}")]
    Model { camera: String, field: String, reason: String },
}

impl AnalyticsError {
    pub fn invalid(camera: &str, section: &str, field: &str, reason: String) -> Self {
        Self::Invalid { camera: camera.into(), section: section.into(), field: field.into(), reason }
    }
}

/// A configuration that cannot run, naming the field and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid config field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { field: field.into(), reason: reason.into() }
}

/// Check an id (camera, device, zone, line, rule): 1–64 letters, digits, `-` or `_`.
pub fn check_id(field: &str, id: &str) -> Result<(), ConfigError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(invalid(field, format!("`{id}` must be 1–64 letters, digits, `-` or `_`"))) }
}

impl Config {
    /// Cross-field checks. Every error names the field and says what to change.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.model.confidence) {
            return Err(invalid("model.confidence", "must be between 0 and 1"));
        }
        if !(0.0..=1.0).contains(&self.model.iou) {
            return Err(invalid("model.iou", "must be between 0 and 1"));
        }
        if !(32..=4096).contains(&self.model.imgsz) || !self.model.imgsz.is_multiple_of(32) {
            return Err(invalid("model.imgsz", "must be a multiple of 32 between 32 and 4096"));
        }
        TrackerParams::from(&self.tracker).validate().map_err(|e| invalid("tracker", e.to_string()))?;
        if self.model.confidence > self.tracker.low_thresh {
            tracing::warn!(
                "model.confidence {} is above tracker.low_thresh {}: ByteTrack's low-score association gets no detections",
                self.model.confidence,
                self.tracker.low_thresh
            );
        }
        self.recording.validate()?;
        self.detection.validate()?;
        if self.devices.is_empty() {
            return Err(invalid("devices", "at least one [[devices]] entry is needed"));
        }
        let mut ids = HashSet::new();
        for d in &self.devices {
            check_id("devices.id", &d.id)?;
            if !ids.insert(d.id.as_str()) {
                return Err(invalid(format!("devices.{}", d.id), "device ids must be unique"));
            }
            if d.execution_providers.is_empty() {
                return Err(invalid(
                    format!("devices.{}.execution_providers", d.id),
                    "list at least one, e.g. [\"cpu\"]",
                ));
            }
            if d.max_batch == 0 || d.max_batch > 256 {
                return Err(invalid(format!("devices.{}.max_batch", d.id), "must be 1–256"));
            }
            if d.max_wait_ms > 10_000 {
                return Err(invalid(format!("devices.{}.max_wait_ms", d.id), "must be at most 10000"));
            }
            if d.capacity_fps.is_nan() || d.capacity_fps <= 0.0 {
                return Err(invalid(format!("devices.{}.capacity_fps", d.id), "must be positive"));
            }
        }
        let mut ids = HashSet::new();
        for c in &self.cameras {
            check_id("cameras.id", &c.id)?;
            if !ids.insert(c.id.as_str()) {
                return Err(invalid(format!("cameras.{}", c.id), "camera ids must be unique"));
            }
            c.validate()?;
        }
        let mut ids = HashSet::new();
        for p in &self.peers {
            check_id("peers.id", &p.id)?;
            if !ids.insert(p.id.as_str()) {
                return Err(invalid(format!("peers.{}", p.id), "peer ids must be unique"));
            }
            let parsed = url::Url::parse(&p.url)
                .map_err(|e| invalid(format!("peers.{}.url", p.id), format!("`{}` is not a URL: {e}", p.url)))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(format!("peers.{}.url", p.id), "use an http:// or https:// URL"));
            }
            if !(p.poll_sec.is_finite() && (0.1..=3600.0).contains(&p.poll_sec)) {
                return Err(invalid(format!("peers.{}.poll_sec", p.id), "must be between 0.1 and 3600"));
            }
        }
        for c in &self.cameras {
            let peer = c.playback.as_ref().and_then(|p| p.peer.as_deref());
            if let Some(peer) = peer.filter(|peer| !ids.contains(peer)) {
                return Err(invalid(
                    format!("cameras.{}.playback.peer", c.id),
                    format!("no [[peers]] entry has id `{peer}`; add one or remove `peer`"),
                ));
            }
        }
        Ok(())
    }
}

impl CameraConfig {
    /// Checks of one camera on its own.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let field = |name: &str| format!("cameras.{}.{name}", self.id);
        self.motion.validate(&field("motion"))?;
        match (&self.url, &self.file) {
            (Some(_), Some(_)) => return Err(invalid(field("url"), "give either `url` or `file`, not both")),
            (None, None) => return Err(invalid(field("url"), "give an RTSP `url` or a `file` path")),
            (Some(u), None) => {
                let parsed =
                    url::Url::parse(u).map_err(|e| invalid(field("url"), format!("`{u}` is not a URL: {e}")))?;
                if parsed.scheme() != "rtsp" {
                    return Err(invalid(
                        field("url"),
                        format!("scheme `{}` is not supported; use rtsp://", parsed.scheme()),
                    ));
                }
                if !parsed.password().unwrap_or("").is_empty() || !parsed.username().is_empty() {
                    return Err(invalid(
                        field("url"),
                        "put credentials in `username` and `password_env`, not in the URL",
                    ));
                }
            }
            (None, Some(_)) => {}
        }
        if self.detect_fps.is_nan() || self.detect_fps <= 0.0 || self.detect_fps > 240.0 {
            return Err(invalid(field("detect_fps"), "must be greater than 0 and at most 240"));
        }
        if self.backoff_initial_ms == 0 || self.backoff_max_ms < self.backoff_initial_ms {
            return Err(invalid(field("backoff_max_ms"), "need 0 < backoff_initial_ms <= backoff_max_ms"));
        }
        if self.password.is_some() && self.password_env.is_some() {
            return Err(invalid(field("password"), "give `password` or `password_env`, not both"));
        }
        if let Some(p) = &self.playback {
            let parsed = url::Url::parse(&p.url)
                .map_err(|e| invalid(field("playback.url"), format!("`{}` is not a URL: {e}", p.url)))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(field("playback.url"), "use MediaMTX's playback server, an http:// URL"));
            }
            if p.path.is_empty() {
                return Err(invalid(field("playback.path"), "name the MediaMTX path recording this camera"));
            }
            if !(p.before_sec.is_finite() && p.before_sec >= 0.0) {
                return Err(invalid(field("playback.before_sec"), "must be 0 or more"));
            }
            if !(p.duration_sec.is_finite() && p.duration_sec > p.before_sec) {
                return Err(invalid(field("playback.duration_sec"), "must be longer than before_sec"));
            }
        }
        self.validate_rule_ids()
    }

    /// Structural checks of `zones`, `lines` and `rules`: valid, unique ids (events and the API name them).
    /// Geometry and rule settings are checked by the rules engine, which disables a bad rule on its own.
    fn validate_rule_ids(&self) -> Result<(), ConfigError> {
        let lists: [(&str, Vec<&str>); 3] = [
            ("zones", self.zones.iter().map(|z| z.id.as_str()).collect()),
            ("lines", self.lines.iter().map(|l| l.id.as_str()).collect()),
            ("rules", self.rules.iter().map(|r| r.id.as_str()).collect()),
        ];
        for (list, ids) in lists {
            let field = format!("cameras.{}.{list}.id", self.id);
            let mut seen = HashSet::new();
            for id in ids {
                check_id(&field, id)?;
                if !seen.insert(id) {
                    return Err(invalid(field, format!("`{id}` appears twice; ids must be unique within a camera")));
                }
            }
        }
        Ok(())
    }
}

fn default_store_path() -> PathBuf {
    "var/panoptes.db".into()
}
fn default_snapshot_dir() -> PathBuf {
    "var/snapshots".into()
}
fn default_retention_days() -> u32 {
    30
}
fn default_recording_dir() -> PathBuf {
    PathBuf::from("var/recordings")
}
fn default_segment_sec() -> f64 {
    60.0
}
fn default_retain_hours() -> f64 {
    72.0
}
fn default_clip_sec() -> f64 {
    5.0
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_imgsz() -> u32 {
    640
}
fn default_confidence() -> f32 {
    0.1
}
fn default_iou() -> f32 {
    0.45
}
fn default_providers() -> Vec<ExecutionProvider> {
    vec![ExecutionProvider::Cpu]
}
fn default_trt_cache() -> PathBuf {
    "var/trt-cache".into()
}
fn default_max_batch() -> usize {
    8
}
fn default_max_wait_ms() -> u64 {
    10
}
fn default_capacity_fps() -> f32 {
    20.0
}
fn default_true() -> bool {
    true
}
fn default_detect_fps() -> f32 {
    5.0
}
fn default_backoff_initial_ms() -> u64 {
    500
}
fn default_backoff_max_ms() -> u64 {
    30_000
}
fn default_devices() -> Vec<DeviceConfig> {
    vec![DeviceConfig {
        id: "cpu0".into(),
        execution_providers: default_providers(),
        gpu_index: 0,
        tensorrt_cache_dir: default_trt_cache(),
        max_batch: default_max_batch(),
        max_wait_ms: default_max_wait_ms(),
        intra_threads: 0,
        spin_wait: false,
        capacity_fps: default_capacity_fps(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(id: &str) -> CameraConfig {
        serde_json::from_value(serde_json::json!({ "id": id, "file": "x.mp4" })).unwrap()
    }

    fn config(cameras: Vec<CameraConfig>) -> Config {
        let mut config: Config = serde_json::from_value(serde_json::json!({ "model": { "path": "m.onnx" } })).unwrap();
        config.cameras = cameras;
        config
    }

    #[test]
    fn peers_and_playback_are_checked_and_named() {
        let peer = |id: &str, url: &str| -> PeerConfig {
            serde_json::from_value(serde_json::json!({ "id": id, "url": url })).unwrap()
        };
        let mut cam = camera("gate");
        cam.playback = Some(
            serde_json::from_value(serde_json::json!({ "url": "http://mediamtx:9996", "path": "gate", "peer": "rec" }))
                .unwrap(),
        );
        let mut c = config(vec![cam]);
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid config field `cameras.gate.playback.peer`: no [[peers]] entry has id `rec`; add one or remove `peer`"
        );
        c.peers = vec![peer("rec", "ftp://x")];
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid config field `peers.rec.url`: use an http:// or https:// URL"
        );
        c.peers = vec![peer("rec", "http://10.0.0.7:8080")];
        assert_eq!(c.validate(), Ok(()));
        c.cameras[0].playback.as_mut().unwrap().duration_sec = 1.0;
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid config field `cameras.gate.playback.duration_sec`: must be longer than before_sec"
        );
    }

    #[test]
    fn motion_and_detection_fields_are_checked_by_name() {
        let with_motion = |motion: serde_json::Value| -> Result<CameraConfig, String> {
            serde_json::from_value(serde_json::json!({ "id": "gate", "file": "x.mp4", "motion": motion }))
                .map_err(|e| e.to_string())
        };
        let error =
            |motion: serde_json::Value| config(vec![with_motion(motion).unwrap()]).validate().unwrap_err().to_string();
        assert_eq!(
            error(serde_json::json!({ "mask": [[[0.1, 0.1], [0.5, 0.1]]] })),
            "invalid config field `cameras.gate.motion.mask[0]`: a polygon needs at least 3 [x, y] points; this one has 2"
        );
        assert!(error(serde_json::json!({ "mask": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], [[0.1, 0.1], [0.9, 0.1], [1.5, 0.5]]] }))
            .starts_with("invalid config field `cameras.gate.motion.mask[1]`: point [1.5, 0.5] is outside the frame"));
        assert!(
            error(serde_json::json!({ "mask": [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]] }))
                .contains("edge 0 crosses edge 2")
        );
        assert!(error(serde_json::json!({ "min_area": 0.0 })).contains("cameras.gate.motion.min_area"));
        assert!(error(serde_json::json!({ "min_area": -0.1 })).contains("cameras.gate.motion.min_area"));
        assert!(error(serde_json::json!({ "threshold": 0 })).contains("cameras.gate.motion.threshold"));
        assert!(error(serde_json::json!({ "alpha": 1.5 })).contains("cameras.gate.motion.alpha"));
        assert!(
            with_motion(serde_json::json!({ "sensitivity": 3 })).unwrap_err().contains("unknown field `sensitivity`")
        );
        assert!(with_motion(serde_json::json!({ "threshold": -4 })).is_err());
        let ok = with_motion(serde_json::json!({ "mask": [[[0.0, 0.0], [0.2, 0.0], [0.2, 0.1]]] })).unwrap();
        assert_eq!(config(vec![ok]).validate(), Ok(()));
        let mut c = config(vec![]);
        c.detection.full_frame_sec = 0.0;
        assert!(c.validate().unwrap_err().to_string().contains("detection.full_frame_sec"));
        c.detection.full_frame_sec = -2.0;
        assert!(c.validate().unwrap_err().to_string().contains("detection.full_frame_sec"));
        c.detection.full_frame_sec = 5.0;
        c.detection.max_regions = 0;
        assert!(c.validate().unwrap_err().to_string().contains("detection.max_regions"));
        c.detection.max_regions = 4;
        c.detection.max_zoom = 0.5;
        assert!(c.validate().unwrap_err().to_string().contains("detection.max_zoom"));
    }

    #[test]
    fn recording_fields_are_checked_by_name() {
        let mut c = config(vec![]);
        c.recording.segment_sec = 0.0;
        assert!(c.validate().unwrap_err().to_string().contains("recording.segment_sec"));
        c.recording.segment_sec = 10.0;
        c.recording.clip_post_sec = -1.0;
        assert!(c.validate().unwrap_err().to_string().contains("recording.clip_post_sec"));
        c.recording.clip_post_sec = 5.0;
        assert!(c.validate().is_ok());
        let cam = camera("a");
        assert!(cam.record, "cameras are recorded by default when recording is enabled");
    }

    #[test]
    fn duplicate_camera_ids_are_named() {
        let err = config(vec![camera("a"), camera("a")]).validate().unwrap_err();
        assert_eq!(err.to_string(), "invalid config field `cameras.a`: camera ids must be unique");
    }

    #[test]
    fn url_with_credentials_is_refused() {
        let mut c = camera("door");
        c.file = None;
        c.url = Some("rtsp://admin:pw@10.0.0.1/stream".into());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("cameras.door.url") && err.contains("password_env"), "{err}");
    }

    #[test]
    fn bad_detect_fps_and_id_are_named() {
        let mut c = camera("gate");
        c.detect_fps = 0.0;
        assert!(c.validate().unwrap_err().to_string().contains("cameras.gate.detect_fps"));
        let err = config(vec![camera("bad id")]).validate().unwrap_err().to_string();
        assert!(err.contains("cameras.id") && err.contains("bad id"), "{err}");
    }

    #[test]
    fn zones_lines_and_rules_parse_and_ids_are_checked() {
        let mut c: CameraConfig = serde_json::from_value(serde_json::json!({
            "id": "gate", "file": "x.mp4",
            "zones": [{ "id": "walkway", "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0]] }],
            "lines": [{ "id": "door", "points": [[0.5, 0.0], [0.5, 1.0]] }],
            "rules": [{ "id": "r1", "kind": "intrusion", "zone": "walkway", "dwell_sec": 3.0 }],
        }))
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.rules[0].dwell_sec, Some(3.0));
        assert!(c.rules[0].enabled && c.rules[0].hold_sec.is_none());
        c.zones.push(c.zones[0].clone());
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("cameras.gate.zones.id") && err.contains("`walkway` appears twice"), "{err}");
        c.zones.pop();
        c.rules[0].id = "bad id".into();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("cameras.gate.rules.id") && err.contains("bad id"), "{err}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let mut c = camera("x");
        c.password = Some(Secret("hunter2".into()));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
