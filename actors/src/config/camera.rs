//! `[[cameras]]`: one video source and what to watch on it.
//!
//! A camera is written as [`RawCamera`] (TOML; JSON in the store and the HTTP API, which serialise it back
//! to the same fields) and parsed into [`CameraConfig`]: its id is a [`CameraId`] and its source a [`Source`],
//! so a camera with neither or both of `url` and `file`, or a URL that is not `rtsp://`, never exists.
//! The numeric bounds are checked by [`CameraConfig::validate`] (which `Config::validate` and the API run).

use super::{ConfigError, FireConfig, HealthConfig, MotionConfig, PlatesConfig, check_id, default_true, invalid};
use crate::messages::CameraId;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;

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

fn default_playback_before_sec() -> f64 {
    5.0
}

fn default_playback_duration_sec() -> f64 {
    15.0
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

/// `[[cameras]]` as written: one video source. Parsed into [`CameraConfig`], which serialises back to it.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawCamera {
    /// Unique id (letters, digits, `-`, `_`), used in URLs, metrics and events.
    pub id: CameraId,
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
    /// `[cameras.health]`: camera health events (video lost, frozen, blinded, defocused, scene moved).
    /// Default off.
    #[serde(default)]
    pub health: HealthConfig,
}

/// A camera, parsed from [`RawCamera`] (see the field docs there).
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
#[serde(try_from = "RawCamera", into = "RawCamera")]
pub struct CameraConfig {
    pub id: CameraId,
    /// Where the video comes from: `url` (with `transport`) or `file` (with `loop_file`).
    pub source: Source,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_env: Option<String>,
    pub detect_fps: f32,
    pub classes: Vec<String>,
    pub enabled: bool,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    pub zones: Vec<ZoneConfig>,
    pub lines: Vec<LineConfig>,
    pub rules: Vec<RuleConfig>,
    pub playback: Option<PlaybackConfig>,
    pub record: bool,
    pub plates: Option<PlatesConfig>,
    pub fire: Option<FireConfig>,
    pub motion: MotionConfig,
    pub health: HealthConfig,
}

/// Where a camera's video comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An RTSP camera or server: an `rtsp://` URL without credentials in it.
    Rtsp { url: String, transport: Transport },
    /// A video file played in real time, looped at its end when `looped`.
    File { path: PathBuf, looped: bool },
}

impl Source {
    /// Parse `url` / `file`: exactly one, an RTSP URL without credentials. `field` names the camera's `url`.
    fn parse(
        url: Option<String>,
        file: Option<PathBuf>,
        transport: Transport,
        looped: bool,
        field: &str,
    ) -> Result<Self, ConfigError> {
        match (url, file) {
            (Some(_), Some(_)) => Err(invalid(field, "give either `url` or `file`, not both")),
            (None, None) => Err(invalid(field, "give an RTSP `url` or a `file` path")),
            (None, Some(path)) => Ok(Source::File { path, looped }),
            (Some(url), None) => {
                let parsed = url::Url::parse(&url).map_err(|e| invalid(field, format!("`{url}` is not a URL: {e}")))?;
                if parsed.scheme() != "rtsp" {
                    return Err(invalid(field, format!("scheme `{}` is not supported; use rtsp://", parsed.scheme())));
                }
                if !parsed.password().unwrap_or("").is_empty() || !parsed.username().is_empty() {
                    return Err(invalid(field, "put credentials in `username` and `password_env`, not in the URL"));
                }
                Ok(Source::Rtsp { url, transport })
            }
        }
    }
}

impl TryFrom<RawCamera> for CameraConfig {
    type Error = ConfigError;

    fn try_from(raw: RawCamera) -> Result<Self, ConfigError> {
        let field = format!("cameras.{}.url", raw.id);
        Ok(CameraConfig {
            source: Source::parse(raw.url, raw.file, raw.transport, raw.loop_file, &field)?,
            id: raw.id,
            username: raw.username,
            password: raw.password,
            password_env: raw.password_env,
            detect_fps: raw.detect_fps,
            classes: raw.classes,
            enabled: raw.enabled,
            backoff_initial_ms: raw.backoff_initial_ms,
            backoff_max_ms: raw.backoff_max_ms,
            zones: raw.zones,
            lines: raw.lines,
            rules: raw.rules,
            playback: raw.playback,
            record: raw.record,
            plates: raw.plates,
            fire: raw.fire,
            motion: raw.motion,
            health: raw.health,
        })
    }
}

impl From<CameraConfig> for RawCamera {
    fn from(c: CameraConfig) -> Self {
        let (url, file, transport, loop_file) = match c.source {
            Source::Rtsp { url, transport } => (Some(url), None, transport, true),
            Source::File { path, looped } => (None, Some(path), Transport::default(), looped),
        };
        RawCamera {
            id: c.id,
            url,
            file,
            loop_file,
            transport,
            username: c.username,
            password: c.password,
            password_env: c.password_env,
            detect_fps: c.detect_fps,
            classes: c.classes,
            enabled: c.enabled,
            backoff_initial_ms: c.backoff_initial_ms,
            backoff_max_ms: c.backoff_max_ms,
            zones: c.zones,
            lines: c.lines,
            rules: c.rules,
            playback: c.playback,
            record: c.record,
            plates: c.plates,
            fire: c.fire,
            motion: c.motion,
            health: c.health,
        }
    }
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

impl CameraConfig {
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

impl CameraConfig {
    /// Checks of one camera on its own (its source was checked when it was parsed).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let field = |name: &str| format!("cameras.{}.{name}", self.id);
        self.motion.validate(&field("motion"))?;
        self.health.validate(&field("health"))?;
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

fn default_detect_fps() -> f32 {
    5.0
}

fn default_backoff_initial_ms() -> u64 {
    500
}

fn default_backoff_max_ms() -> u64 {
    30_000
}
