//! Which decoded frames of a camera go where, and why a frame is dropped: the pure core of the session's
//! delivery (`Session::deliver` converts and sends what this decides, and counts what it drops).
//!
//! Every decoded frame is offered to two consumers:
//! - **detection** (the camera's batcher): admitted by the `detect_fps` gate on stream time, then sent
//!   only while the allocator has placed the camera on a device;
//! - **fire/smoke** (the fire batcher of the camera's device), when the camera has it on: admitted by its
//!   own gate, independent of the detection gate, and sent only when the device runs a fire model.
//!
//! A frame a gate does not admit is *skipped* (by design: `detect_fps` below the camera's rate); a frame
//! admitted but not delivered is *dropped*, with a [`DropReason`] that the metrics name.

use super::rate::RateGate;
use crate::time::Pts;
use actix::prelude::SendError;

/// Why an admitted frame did not reach its consumer. [`DropReason::label`] is the `reason` label of
/// `panoptes_frames_dropped_total` (detection) and `panoptes_analytics_dropped_total{stage="fire"}` (fire).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Not admitted by the `detect_fps` gate (detection only; counted so rates add up).
    Rate,
    /// The camera has no device yet (the allocator has not placed it), or its device runs no fire model.
    Unplaced,
    /// The frame could not be converted to the consumer's input.
    Convert,
    /// The consumer's bounded queue was full (the detector is behind).
    Mailbox,
    /// The consumer has stopped (shutdown or a device restart).
    Closed,
}

impl DropReason {
    pub const ALL: [DropReason; 5] =
        [DropReason::Rate, DropReason::Unplaced, DropReason::Convert, DropReason::Mailbox, DropReason::Closed];

    pub fn label(self) -> &'static str {
        match self {
            DropReason::Rate => "rate",
            DropReason::Unplaced => "unplaced",
            DropReason::Convert => "convert",
            DropReason::Mailbox => "mailbox",
            DropReason::Closed => "closed",
        }
    }

    /// The outcome of a `try_send` to a consumer's bounded mailbox.
    pub fn of_send<T>(result: Result<(), SendError<T>>) -> Option<DropReason> {
        match result {
            Ok(()) => None,
            Err(SendError::Full(_)) => Some(DropReason::Mailbox),
            Err(SendError::Closed(_)) => Some(DropReason::Closed),
        }
    }
}

/// What to do with one frame for one consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Convert it and send it.
    Send,
    /// Not this consumer's frame (its gate samples another one, or the consumer is off); nothing to count.
    Skip,
    /// Admitted but not deliverable; count it.
    Drop(DropReason),
}

/// The two decisions for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routes {
    pub detect: Route,
    pub fire: Route,
}

/// Where the camera's frames can go right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    /// The allocator has placed the camera on a device (its batcher takes frames).
    pub detector: bool,
    /// The camera's device runs a fire/smoke model.
    pub fire: bool,
}

/// One camera session's gates. A new session starts new gates (the timeline may have been re-based).
#[derive(Clone, Debug)]
pub struct FrameRouter {
    detect: RateGate,
    /// `None`: fire/smoke detection is off for this camera.
    fire: Option<RateGate>,
}

impl FrameRouter {
    /// `detect_fps`: the camera's validated rate (> 0); `fire_fps`: its fire/smoke rate when that is on.
    pub fn new(detect_fps: f32, fire_fps: Option<f32>) -> Self {
        Self { detect: RateGate::new(detect_fps), fire: fire_fps.map(RateGate::new) }
    }

    /// Route the frame at `pts`. Call once per decoded frame, in decoding order: both gates advance.
    pub fn route(&mut self, pts: Pts, targets: Targets) -> Routes {
        let fire = match self.fire.as_mut() {
            None => Route::Skip,
            Some(gate) => match (gate.admit(pts), targets.fire) {
                (false, _) => Route::Skip,
                (true, false) => Route::Drop(DropReason::Unplaced),
                (true, true) => Route::Send,
            },
        };
        let detect = if !self.detect.admit(pts) {
            Route::Drop(DropReason::Rate)
        } else if !targets.detector {
            Route::Drop(DropReason::Unplaced)
        } else {
            Route::Send
        };
        Routes { detect, fire }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLACED: Targets = Targets { detector: true, fire: true };

    /// Routes of `n` frames at `fps`, from PTS 0.
    fn run(router: &mut FrameRouter, fps: i64, n: i64, targets: Targets) -> Vec<Routes> {
        (0..n).map(|i| router.route(Pts::new(i * 90_000 / fps, 90_000), targets)).collect()
    }

    fn count(routes: &[Routes], pick: impl Fn(&Routes) -> Route, want: Route) -> usize {
        routes.iter().filter(|r| pick(r) == want).count()
    }

    #[test]
    fn detection_takes_detect_fps_and_counts_the_rest_as_rate_drops() {
        let mut r = FrameRouter::new(5.0, None);
        let routes = run(&mut r, 25, 250, PLACED);
        assert_eq!(count(&routes, |r| r.detect, Route::Send), 50);
        assert_eq!(count(&routes, |r| r.detect, Route::Drop(DropReason::Rate)), 200);
        assert!(routes.iter().all(|r| r.fire == Route::Skip), "fire is off for this camera");
    }

    #[test]
    fn fire_has_its_own_gate_independent_of_detection() {
        let mut r = FrameRouter::new(5.0, Some(1.0));
        let routes = run(&mut r, 25, 250, PLACED);
        assert_eq!(count(&routes, |r| r.fire, Route::Send), 10);
        assert_eq!(count(&routes, |r| r.detect, Route::Send), 50);
        // The first frame goes to both: each gate starts its schedule there.
        assert_eq!(routes[0], Routes { detect: Route::Send, fire: Route::Send });
        // A frame the fire gate takes may be one the detection gate skips: 1 s at 25 fps is frame 25, which
        // the 5 fps gate takes too; check one that differs by shifting the detection rate.
        let mut r = FrameRouter::new(3.0, Some(2.0));
        let routes = run(&mut r, 24, 48, PLACED);
        assert!(routes.iter().any(|r| r.fire == Route::Send && r.detect == Route::Drop(DropReason::Rate)));
    }

    #[test]
    fn an_unplaced_camera_drops_admitted_frames_as_unplaced_not_rate() {
        let mut r = FrameRouter::new(5.0, Some(1.0));
        let routes = run(&mut r, 25, 50, Targets { detector: false, fire: false });
        assert_eq!(count(&routes, |r| r.detect, Route::Drop(DropReason::Unplaced)), 10);
        assert_eq!(count(&routes, |r| r.detect, Route::Drop(DropReason::Rate)), 40);
        assert_eq!(count(&routes, |r| r.fire, Route::Drop(DropReason::Unplaced)), 2);
        assert_eq!(count(&routes, |r| r.detect, Route::Send) + count(&routes, |r| r.fire, Route::Send), 0);
    }

    #[test]
    fn placement_arriving_mid_stream_keeps_the_schedule() {
        let mut r = FrameRouter::new(5.0, None);
        let before = run(&mut r, 25, 10, Targets { detector: false, fire: false });
        let after: Vec<_> = (10..20).map(|i| r.route(Pts::new(i * 3_600, 90_000), PLACED)).collect();
        assert_eq!(count(&before, |r| r.detect, Route::Drop(DropReason::Unplaced)), 2);
        // Frames 10 and 15 are due: the gate kept its schedule while the camera was unplaced.
        let sent: Vec<usize> =
            after.iter().enumerate().filter(|(_, r)| r.detect == Route::Send).map(|(i, _)| i + 10).collect();
        assert_eq!(sent, vec![10, 15]);
    }

    #[test]
    fn a_device_without_a_fire_model_drops_fire_frames_as_unplaced() {
        let mut r = FrameRouter::new(5.0, Some(5.0));
        let routes = run(&mut r, 25, 25, Targets { detector: true, fire: false });
        assert_eq!(count(&routes, |r| r.fire, Route::Drop(DropReason::Unplaced)), 5);
        assert_eq!(count(&routes, |r| r.detect, Route::Send), 5);
    }

    #[test]
    fn send_outcomes_name_the_queue_state() {
        assert_eq!(DropReason::of_send::<u8>(Ok(())), None);
        assert_eq!(DropReason::of_send(Err(SendError::Full(1))), Some(DropReason::Mailbox));
        assert_eq!(DropReason::of_send(Err(SendError::Closed(1))), Some(DropReason::Closed));
        assert_eq!(DropReason::ALL.map(DropReason::label), ["rate", "unplaced", "convert", "mailbox", "closed"]);
        assert!(DropReason::ALL.iter().enumerate().all(|(i, r)| *r as usize == i), "ALL is in discriminant order");
    }
}
