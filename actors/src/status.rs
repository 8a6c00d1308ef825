//! Live status of every camera, written by its actors and read by the HTTP surface.

use crate::messages::CameraId;
use crate::time::stream::StreamClockStatus;
use dashmap::DashMap;
use serde::Serialize;
use std::sync::Arc;

/// What a camera is doing now.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum CameraState {
    #[default]
    Starting,
    Connecting,
    Streaming,
    /// Waiting before the next reconnect attempt.
    Backoff {
        retry_in_ms: u64,
    },
    Stopped,
}

/// One camera's status, as shown by `/healthz` and the API.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CameraStatus {
    #[serde(flatten)]
    pub state: CameraState,
    /// The last error, with what to do about it; cleared when frames flow again.
    pub last_error: Option<String>,
    /// Codec of the current session (`h264`, `hevc`).
    pub codec: Option<String>,
    pub width: u32,
    pub height: u32,
    pub frames_decoded: u64,
    /// Failed or ended sessions since start.
    pub reconnects: u64,
    /// Device the camera is placed on.
    pub device: Option<String>,
    /// The camera's timeline and wall-clock mapping (source `rtcp` / `arrival`, offset, drift, gaps);
    /// `None` until the first frame.
    pub clock: Option<StreamClockStatus>,
}

/// Shared, concurrent map of camera id → status.
pub type StatusBoard = Arc<DashMap<CameraId, CameraStatus>>;
