//! Where on a frame the detector runs: motion-aware region detection (`[detection] mode = "regions"`).
//!
//! A small camera box cannot afford the detector on every frame of every camera, and one small full-frame
//! pass misses small people: a 768x576 frame letterboxed to 416 shrinks a person to half. Instead each frame
//! that `detect_fps` admits is inferred only where something is: around motion boxes and around the
//! predicted boxes of the camera's tracks, in squares cut from the full-resolution frame at (at least) the
//! model's input size, so objects are seen at up to full resolution. Nothing is inferred on a still scene;
//! a whole-frame pass runs every `full_frame_sec` so that objects that never moved are found.
//!
//! - [`plan`]: boxes → regions ([`plan::plan`]), pure.
//! - [`merge`]: the detections of overlapping regions → one list for the frame ([`merge::merge`]), pure.
//! - [`hints`]: where each camera's tracks are expected next ([`hints::HintBoard`], tracker → camera).
//! - [`schedule`]: when a camera's frame gets a whole-frame pass, regions or nothing ([`schedule::Scheduler`]).

pub mod hints;
pub mod merge;
pub mod plan;
pub mod schedule;

pub use crate::geometry::Rect;
pub use hints::{HintBoard, TrackHint};
pub use merge::{RegionDetections, merge};
pub use plan::{Plan, PlanParams, plan};
pub use schedule::Scheduler;
