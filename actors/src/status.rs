//! Live status of every camera, written by its actors and read by the HTTP surface: its state, frame
//! counters and rates (decoded in, inferred out), and its clock.

use crate::messages::{CameraId, TrackedFrame};
use crate::time::stream::StreamClockStatus;
use actix::prelude::*;
use dashmap::DashMap;
use serde::{Serialize, Serializer};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events per second over the last completed window of about a second; 0 once events stop for two windows.
#[derive(Clone, Debug, Default)]
pub struct RateMeter {
    window_start: Option<Instant>,
    count: u64,
    rate: f64,
    last_event: Option<Instant>,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(1);

    /// Count one event at `now`.
    pub fn tick(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= Self::WINDOW {
            self.rate = self.count as f64 / elapsed.as_secs_f64();
            self.window_start = Some(now);
            self.count = 0;
        }
        self.count += 1;
        self.last_event = Some(now);
    }

    /// The rate at `now`: the last window's, or 0 when nothing came for two windows.
    pub fn rate_at(&self, now: Instant) -> f64 {
        match self.last_event {
            Some(last) if now.saturating_duration_since(last) <= 2 * Self::WINDOW => self.rate,
            _ => 0.0,
        }
    }
}

impl Serialize for RateMeter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64((self.rate_at(Instant::now()) * 100.0).round() / 100.0)
    }
}

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

/// One camera's status, as shown by `/api/health` and the camera routes.
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
    /// Decoded frames per second (the camera's delivered rate).
    pub fps_in: RateMeter,
    /// Frames skipped on purpose: above the camera's `detect_fps`.
    pub frames_skipped: u64,
    /// Frames inferred (whole or in regions) and tracked.
    pub frames_inferred: u64,
    /// Frames admitted by `detect_fps` with nothing to infer (`[detection] mode = "regions"`: no motion, no
    /// moving track); tracked all the same, so tracks keep their state.
    pub frames_still: u64,
    /// Inferred frames per second.
    pub fps_out: RateMeter,
    /// Frames neither inferred nor skipped by `detect_fps` (see [`CameraStatus::count_dropped`]).
    pub frames_dropped: u64,
    /// Failed or ended sessions since start.
    pub reconnects: u64,
    /// Device the camera is placed on.
    pub device: Option<String>,
    /// The camera's timeline and wall-clock mapping (source `rtcp` / `arrival`, offset, drift, gaps);
    /// `None` until the first frame.
    pub clock: Option<StreamClockStatus>,
}

impl CameraStatus {
    /// Recount `frames_dropped`: frames neither inferred nor skipped by `detect_fps`, i.e. dropped because the
    /// device was behind (a newer frame superseded them), unplaced, or a queue was full, plus the few frames in
    /// flight. `panoptes_frames_dropped_total` has them by reason.
    pub fn count_dropped(&mut self) {
        self.frames_dropped = self
            .frames_decoded
            .saturating_sub(self.frames_skipped)
            .saturating_sub(self.frames_inferred)
            .saturating_sub(self.frames_still);
    }
}

/// Shared, concurrent map of camera id → status.
pub type StatusBoard = Arc<DashMap<CameraId, CameraStatus>>;

/// tracker → meter: counts every tracked (inferred) frame into its camera's status.
pub struct StatusMeter {
    board: StatusBoard,
}

impl StatusMeter {
    pub fn new(board: StatusBoard) -> Self {
        Self { board }
    }
}

impl Actor for StatusMeter {
    type Context = Context<Self>;
}

impl Handler<TrackedFrame> for StatusMeter {
    type Result = ();

    fn handle(&mut self, frame: TrackedFrame, _ctx: &mut Context<Self>) {
        if let Some(mut s) = self.board.get_mut(&frame.meta.camera) {
            if frame.coverage.regions.as_ref().is_some_and(Vec::is_empty) {
                s.frames_still += 1;
            } else {
                s.frames_inferred += 1;
                s.fps_out.tick(Instant::now());
            }
            s.count_dropped();
        }
    }
}

/// One rule or analytic of a camera, as `GET /api/cameras/{id}/status` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RuleEntry {
    pub id: String,
    pub kind: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_the_last_windows_and_falls_to_zero_when_events_stop() {
        let t0 = Instant::now();
        let mut m = RateMeter::default();
        // 10 events 100 ms apart fill the first second; the 11th closes the window.
        for i in 0..=10 {
            m.tick(t0 + Duration::from_millis(100 * i));
        }
        assert!((m.rate_at(t0 + Duration::from_millis(1_100)) - 10.0).abs() < 1e-9);
        assert_eq!(m.rate_at(t0 + Duration::from_millis(3_100)), 0.0);
    }

    #[test]
    fn dropped_frames_are_those_neither_skipped_nor_inferred() {
        let mut s = CameraStatus { frames_decoded: 100, frames_skipped: 75, frames_inferred: 20, ..Default::default() };
        s.count_dropped();
        assert_eq!(s.frames_dropped, 5);
    }
}
