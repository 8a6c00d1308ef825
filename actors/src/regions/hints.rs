//! Track hints: where each camera's tracks are expected next, published by the camera's tracker after every
//! update and read by the camera when it plans the regions of its next frame.
//!
//! The tracker and the camera run on different threads; the board is a concurrent map from camera to the
//! latest hints (an `Arc` swap per update), so neither ever waits for the other, and a camera that reads a
//! hint one frame old loses nothing but a little context.

use crate::geometry::BBox;
use crate::messages::CameraId;
use dashmap::DashMap;
use std::sync::Arc;

/// A track's predicted box on the coming frame, as the tracker publishes it for region planning.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackHint {
    pub bbox: BBox,
    /// Speed of the box centre, source pixels per second of stream time.
    pub speed_px_per_sec: f32,
}

impl TrackHint {
    /// Moving by more than a tenth of its height per second (and at least 2 px/s), lost or not: a moving
    /// track needs a look on every frame to be followed (or re-found where it went). A still one does not:
    /// motion wakes it when it moves, and the whole-frame passes confirm it is still there (also when it was
    /// missed once, which on a still scene with a flickering detection would otherwise cost a region on
    /// every frame).
    pub fn needs_look(&self) -> bool {
        self.speed_px_per_sec > (0.1 * self.bbox.height()).max(2.0)
    }
}

/// The latest hints of every camera.
#[derive(Clone, Debug, Default)]
pub struct HintBoard(Arc<DashMap<CameraId, Arc<[TrackHint]>>>);

impl HintBoard {
    /// Replace `camera`'s hints.
    pub fn publish(&self, camera: &CameraId, hints: Vec<TrackHint>) {
        self.0.insert(camera.clone(), hints.into());
    }

    /// `camera`'s latest hints (none before its tracker's first update).
    pub fn get(&self, camera: &CameraId) -> Arc<[TrackHint]> {
        self.0.get(camera).map(|h| h.clone()).unwrap_or_else(|| Arc::from(Vec::new()))
    }

    /// Forget a removed camera.
    pub fn remove(&self, camera: &str) {
        self.0.remove(camera);
    }
}
