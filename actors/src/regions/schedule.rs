//! Per camera: what to infer on each frame that `detect_fps` admits.
//!
//! - `full_frame` mode: the whole frame, always.
//! - `regions` mode: a full pass on the first frame, after stream time went backwards, and whenever
//!   `full_frame_sec` has passed since the last full pass (so that objects that never moved are found);
//!   otherwise the regions planned around the frame's motion boxes and the predicted boxes of the tracks
//!   that need looking at ([`TrackHint::needs_look`]): the moving ones, lost or not. A full pass is the
//!   frame in tiles at the regions' scale plus the whole frame when regions are enlarged (`max_zoom` > 1),
//!   else the whole frame.
//!   Stationary tracks are left to the whole-frame passes and to motion, which wakes them when they move.

use super::hints::TrackHint;
use super::plan::{Plan, PlanParams, plan, tiles};
use crate::config::{DetectionConfig, DetectionMode};
use crate::geometry::{BBox, Rect};

/// One camera's choice of what to infer.
#[derive(Clone, Debug)]
pub struct Scheduler {
    config: DetectionConfig,
    last_whole_sec: Option<f64>,
}

impl Scheduler {
    pub fn new(config: &DetectionConfig) -> Self {
        Self { config: config.clone(), last_whole_sec: None }
    }

    pub fn mode(&self) -> DetectionMode {
        self.config.mode
    }

    /// The plan for the frame at stream time `t_sec` of `frame_w` x `frame_h` pixels, for a model input of
    /// side `model_side`, from its motion boxes and the camera's track hints.
    pub fn decide(
        &mut self,
        t_sec: f64,
        (frame_w, frame_h): (u32, u32),
        model_side: u32,
        motion: &[BBox],
        hints: &[TrackHint],
    ) -> Plan {
        if self.config.mode == DetectionMode::FullFrame {
            return Plan::Whole;
        }
        let params = PlanParams {
            frame_w,
            frame_h,
            model_side,
            max_zoom: self.config.max_zoom,
            context: self.config.region_context,
            max_regions: self.config.max_regions,
        };
        let due = self.last_whole_sec.is_none_or(|last| t_sec < last || t_sec - last >= self.config.full_frame_sec);
        let planned = if due {
            Plan::Whole
        } else {
            let boxes: Vec<BBox> =
                motion.iter().copied().chain(hints.iter().filter(|h| h.needs_look()).map(|h| h.bbox)).collect();
            plan(&boxes, &params)
        };
        if planned != Plan::Whole {
            return planned;
        }
        self.last_whole_sec = Some(t_sec);
        if params.max_zoom <= 1.0 {
            return Plan::Whole;
        }
        // A full pass at the regions' scale, so boxes keep one size; and the whole frame with it, for objects
        // too large for a tile (whose parts the tiles see are merged into the whole).
        let mut full = tiles(&params);
        full.push(Rect::frame(frame_w, frame_h));
        Plan::Tiles(full)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(speed: f32) -> TrackHint {
        TrackHint { bbox: BBox { x1: 100.0, y1: 100.0, x2: 140.0, y2: 200.0 }, speed_px_per_sec: speed }
    }

    #[test]
    fn regions_mode_passes_whole_frames_on_schedule_and_nothing_on_a_still_scene() {
        let mut s = Scheduler::new(&DetectionConfig { full_frame_sec: 5.0, max_zoom: 1.0, ..Default::default() });
        let size = (1920, 1080);
        assert_eq!(s.decide(0.0, size, 416, &[], &[]), Plan::Whole, "first frame");
        assert_eq!(s.decide(0.2, size, 416, &[], &[]), Plan::Nothing);
        assert_eq!(s.decide(4.8, size, 416, &[], &[hint(1.0)]), Plan::Nothing, "a still track waits");
        assert!(matches!(s.decide(4.9, size, 416, &[], &[hint(50.0)]), Plan::Regions(_)), "a moving one not");
        assert_eq!(s.decide(5.0, size, 416, &[], &[]), Plan::Whole, "full_frame_sec after the last whole pass");
        assert_eq!(s.decide(5.2, size, 416, &[], &[]), Plan::Nothing);
        assert_eq!(s.decide(1.0, size, 416, &[], &[]), Plan::Whole, "time went backwards");
    }

    #[test]
    fn with_zoom_full_passes_are_tiles() {
        let mut s = Scheduler::new(&DetectionConfig { full_frame_sec: 5.0, max_zoom: 2.0, ..Default::default() });
        let Plan::Tiles(t) = s.decide(0.0, (768, 576), 416, &[], &[]) else { panic!("not tiles") };
        assert_eq!(t.len(), 13, "12 tiles and the whole frame");
        assert_eq!(t[12], Rect::frame(768, 576));
        assert_eq!(s.decide(0.2, (768, 576), 416, &[], &[]), Plan::Nothing);
        // Motion everywhere: too many regions, so a full pass, in tiles, which resets the schedule.
        let spread: Vec<BBox> = (0..12)
            .map(|i| {
                let (x, y) = ((i % 4) as f32 * 190.0, (i / 4) as f32 * 190.0);
                BBox { x1: x, y1: y, x2: x + 30.0, y2: y + 60.0 }
            })
            .collect();
        assert!(matches!(s.decide(1.0, (768, 576), 416, &spread, &[]), Plan::Tiles(_)));
        assert_eq!(s.decide(5.5, (768, 576), 416, &[], &[]), Plan::Nothing, "the tiled pass at 1.0 counts");
    }

    #[test]
    fn motion_gets_regions_and_full_frame_mode_ignores_it() {
        let motion = [BBox { x1: 500.0, y1: 500.0, x2: 540.0, y2: 600.0 }];
        let mut s = Scheduler::new(&DetectionConfig::default());
        s.decide(0.0, (1920, 1080), 416, &[], &[]);
        let Plan::Regions(r) = s.decide(0.2, (1920, 1080), 416, &motion, &[]) else { panic!("no regions") };
        assert!(r[0].contains(&motion[0], 0.0));
        let mut s = Scheduler::new(&DetectionConfig { mode: DetectionMode::FullFrame, ..Default::default() });
        for t in [0.0, 0.2, 0.4] {
            assert_eq!(s.decide(t, (1920, 1080), 416, &[], &[]), Plan::Whole);
        }
    }
}
