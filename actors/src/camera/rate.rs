//! The per-camera `detect_fps` gate: which decoded frames go on to the detector, by stream time.
//!
//! The gate runs on the frame's PTS (media time), never on the server clock, so a file replayed
//! faster or slower, or a burst of frames after a network stall, admits the same frames. It keeps
//! the long-run rate at `detect_fps` even when the camera's rate is not a multiple of it (7.5 fps
//! camera, 5 fps detection: two frames of three), and restarts its schedule when the timeline jumps
//! (a new session, a gap longer than one period, or time going backwards).

use crate::time::Pts;

/// Admits frames at most `fps` times per second of stream time.
#[derive(Clone, Debug)]
pub struct RateGate {
    /// The admission period in 90 kHz ticks.
    period_90k: i64,
    /// Earliest PTS (90 kHz) of the next admitted frame; `None` before the first frame.
    next_due_90k: Option<i64>,
    last_90k: Option<i64>,
}

impl RateGate {
    /// `fps` is the camera's validated `detect_fps` (> 0).
    pub fn new(fps: f32) -> Self {
        let period_90k = (90_000.0 / f64::from(fps.max(1e-3))).round().max(1.0) as i64;
        Self { period_90k, next_due_90k: None, last_90k: None }
    }

    /// Whether the frame at `pts` goes to the detector. Call once per decoded frame, in order.
    pub fn admit(&mut self, pts: Pts) -> bool {
        let t = pts.to_90k();
        let went_back = self.last_90k.is_some_and(|last| t < last);
        self.last_90k = Some(t);
        match self.next_due_90k {
            Some(due) if !went_back && t < due => false,
            Some(due) if !went_back && t - due < self.period_90k => {
                // On schedule: keep the long-run rate exact.
                self.next_due_90k = Some(due + self.period_90k);
                true
            }
            _ => {
                // First frame, a gap longer than a period, or a jump back: start a new schedule here.
                self.next_due_90k = Some(t + self.period_90k);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(gate: &mut RateGate, pts_90k: impl IntoIterator<Item = i64>) -> Vec<i64> {
        pts_90k.into_iter().filter(|&t| gate.admit(Pts::new(t, 90_000))).collect()
    }

    #[test]
    fn ten_fps_camera_at_five_fps_takes_every_other_frame() {
        let mut g = RateGate::new(5.0);
        let got = admitted(&mut g, (0..10).map(|i| i * 9_000));
        assert_eq!(got, vec![0, 18_000, 36_000, 54_000, 72_000]);
    }

    #[test]
    fn non_multiple_rates_keep_the_long_run_rate() {
        // 7.5 fps camera (12 000 ticks), 5 fps detection: 2 of every 3 frames over 60 s -> 300 frames.
        let mut g = RateGate::new(5.0);
        let n = admitted(&mut g, (0..450).map(|i| i * 12_000)).len();
        assert!((299..=301).contains(&n), "{n} frames admitted in 60 s at 5 fps");
        // 29.97 fps (3003 ticks) at 2 fps over 100 s: 200 frames.
        let mut g = RateGate::new(2.0);
        let n = admitted(&mut g, (0..2997).map(|i| i * 3_003)).len();
        assert!((199..=201).contains(&n), "{n} frames admitted in 100 s at 2 fps");
    }

    #[test]
    fn rate_above_the_camera_rate_admits_every_frame() {
        let mut g = RateGate::new(30.0);
        assert_eq!(admitted(&mut g, (0..20).map(|i| i * 9_000)).len(), 20);
    }

    #[test]
    fn other_clock_rates_are_converted() {
        // 1 kHz timeline, 100 ms frames, 5 fps -> every other frame.
        let mut g = RateGate::new(5.0);
        let got: Vec<i64> = (0..6).map(|i| i * 100).filter(|&t| g.admit(Pts::new(t, 1_000))).collect();
        assert_eq!(got, vec![0, 200, 400]);
    }

    #[test]
    fn a_gap_or_a_jump_back_restarts_the_schedule() {
        let mut g = RateGate::new(5.0);
        assert_eq!(admitted(&mut g, [0, 9_000, 18_000]), vec![0, 18_000]);
        // A 10 s stall: the next frame is admitted and the schedule restarts from it (no burst).
        assert_eq!(admitted(&mut g, [918_000, 927_000, 936_000]), vec![918_000, 936_000]);
        // A new session whose PTS starts over near 0.
        assert_eq!(admitted(&mut g, [0, 9_000, 18_000]), vec![0, 18_000]);
    }
}
