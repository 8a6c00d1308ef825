//! Configuration types: what the operator writes in TOML, with defaults and cross-field validation.
//!
//! Loading and layering (default file → user file → `PANOPTES__` environment variables) lives in the
//! binary; this module only says what a valid configuration is. Every field is documented in
//! `docs/config.md` with its default and unit. Sections that have grown live in their own files
//! ([`analytics`], [`camera`], [`cluster`], [`detection`], [`motion`], [`tracker`]); the rest are here.

pub mod analytics;
pub mod camera;
pub mod cluster;
pub mod detection;
pub mod health;
pub mod media_roots;
pub mod motion;
pub mod mqtt;
pub mod tracker;
pub mod webhooks;

pub use analytics::{AnalyticsConfig, FireConfig, PlatesConfig};
pub use camera::{
    CameraConfig, LineConfig, PlaybackConfig, RawCamera, RuleConfig, Secret, Source, Transport, ZoneConfig,
};
pub use cluster::{ClusterConfig, NodeRole};
pub use detection::{DetectionConfig, DetectionMode};
pub use health::HealthConfig;
pub use motion::MotionConfig;
pub use mqtt::MqttConfig;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::PathBuf;
pub use tracker::{Association, TrackerConfig, TrackerParams};
pub use webhooks::WebhookConfig;

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
    /// `[cluster]`: join a Panoptes cluster on NATS JetStream. Default none (this node runs alone).
    #[serde(default)]
    pub cluster: Option<ClusterConfig>,
    /// `[[webhooks]]`: HTTP endpoints each stored event is POSTed to (`docs/integrations.md`). Default none.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// `[mqtt]`: publish events, camera status and zone counts to an MQTT broker, with Home Assistant
    /// discovery (`docs/integrations.md`). Default none.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
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

fn default_peer_poll_sec() -> f64 {
    10.0
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
    /// Web origins (`https://console.example.com`) whose pages may open this server's WebSockets besides the
    /// server's own. Default none.
    #[serde(default)]
    pub ws_origins: Vec<String>,
    /// Directories file cameras may read from (relative ones against the working directory); a camera whose
    /// `file` lies outside them is refused. Default `["var/media"]`, where `make setup` puts the demo media;
    /// `[]` allows no file camera.
    #[serde(default = "default_media_roots")]
    pub media_roots: Vec<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { listen: default_listen(), ws_origins: Vec::new(), media_roots: default_media_roots() }
    }
}

fn default_media_roots() -> Vec<PathBuf> {
    vec![PathBuf::from("var/media")]
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
    if crate::messages::is_valid_id(id) {
        Ok(())
    } else {
        Err(invalid(field, format!("`{id}` must be 1–64 letters, digits, `-` or `_`")))
    }
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
        if let Some(cluster) = &self.cluster {
            cluster.validate()?;
        }
        webhooks::validate_all(&self.webhooks)?;
        if let Some(mqtt) = &self.mqtt {
            mqtt.validate()?;
        }
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
    fn sources_are_parsed_and_bad_ones_named() {
        let parse = |v: serde_json::Value| serde_json::from_value::<CameraConfig>(v).map_err(|e| e.to_string());
        let err = parse(serde_json::json!({ "id": "door", "url": "rtsp://admin:pw@10.0.0.1/stream" })).unwrap_err();
        assert!(err.contains("cameras.door.url") && err.contains("password_env"), "{err}");
        let err = parse(serde_json::json!({ "id": "door", "url": "rtsp://10.0.0.1/s", "file": "x.mp4" })).unwrap_err();
        assert!(err.contains("cameras.door.url") && err.contains("not both"), "{err}");
        let err = parse(serde_json::json!({ "id": "door" })).unwrap_err();
        assert!(err.contains("cameras.door.url") && err.contains("`file`"), "{err}");
        let err = parse(serde_json::json!({ "id": "door", "url": "http://10.0.0.1/s" })).unwrap_err();
        assert!(err.contains("scheme `http`"), "{err}");
        let rtsp = parse(serde_json::json!({ "id": "door", "url": "rtsp://10.0.0.1/s", "transport": "udp" })).unwrap();
        assert_eq!(rtsp.source, Source::Rtsp { url: "rtsp://10.0.0.1/s".into(), transport: Transport::Udp });
        let file = parse(serde_json::json!({ "id": "yard", "file": "x.mp4", "loop_file": false })).unwrap();
        assert_eq!(file.source, Source::File { path: "x.mp4".into(), looped: false });
        // Serialised back to the written fields, and parsed again to the same camera (the store's round trip).
        for cam in [rtsp, file] {
            let json = serde_json::to_value(&cam).unwrap();
            assert!(json.get("source").is_none() && (json["url"].is_string() ^ json["file"].is_string()), "{json}");
            assert_eq!(serde_json::from_value::<CameraConfig>(json).unwrap(), cam);
        }
    }

    #[test]
    fn bad_detect_fps_and_id_are_named() {
        let mut c = camera("gate");
        c.detect_fps = 0.0;
        assert!(c.validate().unwrap_err().to_string().contains("cameras.gate.detect_fps"));
        let err = serde_json::from_value::<CameraConfig>(serde_json::json!({ "id": "bad id", "file": "x.mp4" }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("camera id `bad id` must be 1–64 letters"), "{err}");
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
