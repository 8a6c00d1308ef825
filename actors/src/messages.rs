//! The messages that flow between the pipeline's actors, and the frame and detection types they carry.
//!
//! camera → batcher: [`SubmitFrame`]; batcher → tracker: [`FrameDetections`];
//! tracker → hub and rules: [`TrackedFrame`].

use crate::geometry::{BBox, Letterbox, Rect};
use crate::time::Pts;
use actix::Message;
use std::sync::Arc;
use std::time::Instant;

/// A camera's id as written in the config (`[[cameras]] id`): 1–64 letters, digits, `-` or `_` (it names the
/// camera in URLs, metrics, file names and events). Only [`CameraId::parse`] and deserialising make one, so a
/// `CameraId` is always valid; cloning it is cheap (a shared string).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct CameraId(Arc<str>);

/// Whether `id` may name a camera, device, zone, line or rule: 1–64 letters, digits, `-` or `_`.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A string that cannot be a [`CameraId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("camera id `{0}` must be 1–64 letters, digits, `-` or `_`")]
pub struct BadCameraId(pub String);

impl CameraId {
    pub fn parse(id: &str) -> Result<Self, BadCameraId> {
        if is_valid_id(id) { Ok(Self(id.into())) } else { Err(BadCameraId(id.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CameraId {
    type Err = BadCameraId;
    fn from_str(s: &str) -> Result<Self, BadCameraId> {
        CameraId::parse(s)
    }
}

impl std::ops::Deref for CameraId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for CameraId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for CameraId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CameraId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for CameraId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.0, f)
    }
}

impl PartialEq<str> for CameraId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for CameraId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl<'de> serde::Deserialize<'de> for CameraId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        CameraId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What is known about a decoded frame, carried with it through the whole pipeline.
#[derive(Clone, Debug)]
pub struct FrameMeta {
    pub camera: CameraId,
    /// Frame counter for this camera, starting at 0 and counting every decoded frame (also those not inferred).
    pub seq: u64,
    /// Presentation time on the camera's timeline.
    pub pts: Pts,
    /// Wall-clock time of the frame in Unix milliseconds (RTCP sender report when present, else arrival).
    pub wall_ms: crate::time::WallTime,
    /// Decoded frame size in pixels.
    pub width: u32,
    pub height: u32,
    /// When decoding finished, on this process's monotonic clock: the start of end-to-end latency.
    pub decoded_at: Instant,
}

/// A frame converted to a model input: planar RGB `f32` in `[0, 1]`, `3 x dst_h x dst_w`, letterboxed.
#[derive(Clone, Debug)]
pub struct ModelInput {
    pub letterbox: Letterbox,
    pub chw: Vec<f32>,
}

/// A decoded frame at full resolution as packed RGB24 (`width * height * 3` bytes, no row padding).
/// Attached only for cameras whose analytics crop from it (plates), shared by reference along the pipeline.
#[derive(Debug)]
pub struct RgbFrame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// A region of a frame cut at full resolution and resized to the model input (`[detection] mode = "regions"`).
#[derive(Clone, Debug)]
pub struct RegionInput {
    /// Where the region is on the frame, in source pixels.
    pub rect: Rect,
    /// The region as a model input; its letterbox maps to `rect`-local pixels.
    pub input: ModelInput,
}

/// Where detection looked on a frame, and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// `None`: the whole frame was inferred. `Some`: only these regions, in source pixels (none: the frame
    /// was not inferred at all). Tracks outside every region were not looked for on this frame.
    pub regions: Option<Vec<Rect>>,
    /// The frame's motion boxes in source pixels (regions mode only).
    pub motion: Vec<BBox>,
}

/// A decoded frame ready for inference.
#[derive(Debug)]
pub struct Frame {
    pub meta: FrameMeta,
    /// The whole frame letterboxed to the model input: inferred when `regions` is `None`, and the picture
    /// of snapshots and the overlay in every case (on a frame with nothing to infer, the camera's last
    /// converted picture: the scene is still).
    pub input: Arc<ModelInput>,
    /// `None`: infer the whole frame (`input`). `Some`: infer only these regions (none: nothing at all; the
    /// frame still goes to the tracker so tracks keep their state).
    pub regions: Option<Vec<RegionInput>>,
    /// The frame's motion boxes in source pixels (regions mode; empty otherwise), for the overlay.
    pub motion: Vec<BBox>,
    /// The full-resolution picture, only for cameras that need it (plates); `None` otherwise.
    pub full: Option<Arc<RgbFrame>>,
}

/// One detected object in source-frame pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Detection {
    pub class_id: u32,
    pub score: f32,
    pub bbox: BBox,
}

/// One tracked object on a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Track {
    /// Track id, unique within its camera for the life of the process.
    pub id: u64,
    pub class_id: u32,
    pub score: f32,
    pub bbox: BBox,
    /// The object was not re-detected on this frame because detection did not run where it is; its box is
    /// the last one seen.
    pub stationary: bool,
}

/// camera → batcher: a frame to infer. Latest frame wins per camera when the queue is behind.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SubmitFrame(pub Frame);

/// batcher → tracker: the detections of one frame (after threshold, NMS and the camera's class filter).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct FrameDetections {
    pub meta: FrameMeta,
    pub detections: Vec<Detection>,
    /// Where the detector looked on this frame.
    pub coverage: Coverage,
    /// Class names of the model that produced the detections, indexed by class id.
    pub labels: Arc<[String]>,
    /// The picture the detector saw (for snapshots and crops); `None` when replaying detections.
    pub input: Option<Arc<ModelInput>>,
    /// The full-resolution picture ([`Frame::full`]), for cameras with plates enabled.
    pub full: Option<Arc<RgbFrame>>,
}

/// tracker → hub: the tracks on one processed frame.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct TrackedFrame {
    pub meta: FrameMeta,
    pub tracks: Vec<Track>,
    /// Where detection looked on this frame (the overlay can show it).
    pub coverage: Coverage,
    pub labels: Arc<[String]>,
    /// The picture the detector saw; `None` when replaying detections.
    pub input: Option<Arc<ModelInput>>,
    /// The full-resolution picture ([`Frame::full`]), for cameras with plates enabled.
    pub full: Option<Arc<RgbFrame>>,
}

/// plates → batcher: a crop to infer in its own lane: crops of one camera in different lanes (one per
/// track) do not supersede each other; a newer crop in the same lane replaces a waiting one.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SubmitCrop {
    pub frame: Frame,
    pub lane: u64,
}

/// Where a camera sends its frames: a device's batcher and that device's model input size.
#[derive(Clone)]
pub struct Placement {
    pub device: Arc<str>,
    pub sink: actix::Recipient<SubmitFrame>,
    /// Model input size, `(width, height)`, that frames are letterboxed to.
    pub input_size: (u32, u32),
}

impl std::fmt::Debug for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Placement").field("device", &self.device).field("input_size", &self.input_size).finish()
    }
}

/// allocator → camera: send frames here from now on (`None`: nowhere; frames are dropped as `unplaced`).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Place(pub Option<Placement>);

/// What kind of thing an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Intrusion,
    Loitering,
    Occupancy,
    LineCrossing,
    Plate,
    Fire,
    Smoke,
    /// Camera health (`crate::health`): no picture for a while.
    VideoLost,
    /// The same picture over and over.
    Frozen,
    /// Too dark, too bright or flat: covered, sprayed, blinded.
    Blinded,
    /// Out of focus.
    Defocused,
    /// The view no longer matches the reference: the camera was turned or moved.
    SceneMoved,
}

/// Where an event is in its life: a condition starts, may be updated, and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    Start,
    Update,
    End,
}

/// An event a rule raised, before it is stored (the store gives it its id).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub camera: String,
    /// Id of the rule that raised it (`[[cameras.rules]] id`).
    pub rule: String,
    pub kind: EventKind,
    pub state: EventState,
    pub track_id: Option<u64>,
    /// Class name of the object (e.g. `person`), when the event is about one object.
    pub class: Option<String>,
    pub confidence: Option<f32>,
    /// PTS of the frame that triggered this event state.
    pub pts: Pts,
    /// PTS of the frame that ended the condition (on `end` events).
    pub end_pts: Option<Pts>,
    /// Wall-clock time of the triggering frame, Unix milliseconds.
    pub wall_ms: crate::time::WallTime,
    /// The object's box in source-frame pixels, when about one object.
    pub bbox: Option<BBox>,
    /// Kind-specific figures: `dwell_sec`, `count`, `direction`, `plate`, ...
    pub details: serde_json::Value,
}

/// rules → event store: store this event (and a snapshot of `picture` with the box drawn), then announce it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct NewEvent {
    pub event: Event,
    pub picture: Option<Arc<ModelInput>>,
}

/// Answers once every message sent to the actor before it has been handled: `Pipeline::drain` sends it
/// stage by stage (tracker, rules, store) to wait until what went in has come out.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Flush;
