//! Fire and smoke: one [`FireActor`] per camera with `[cameras.fire]` on. The camera sends frames at the
//! section's own `fps` to the fire/smoke batcher of its device; the detections come here, and
//! [`persistence`] decides when a `fire` or `smoke` event starts (k of the last n inferences show a box above
//! the class's confidence and least area) and ends (none of the last n does).

pub mod persistence;

use crate::config::AnalyticsError;
use crate::config::FireConfig;
use crate::geometry::BBox;
use crate::messages::{CameraId, Event, EventKind, EventState, Flush, FrameDetections, NewEvent};
use crate::time::{Pts, WallTime};
use actix::prelude::*;
use persistence::{Alarm, ClassAlarm, counts};

/// Rule id carried by fire and smoke events (the `[cameras.fire]` section).
pub const RULE_ID: &str = "fire";

/// A camera's checked fire/smoke settings, with the model's class ids.
#[derive(Clone, Debug, PartialEq)]
pub struct FireSpec {
    pub fps: f32,
    /// `(class id, kind, least score)` for fire and smoke.
    pub classes: [(u32, EventKind, f32); 2],
    pub min_area: f32,
    pub k: usize,
    pub n: usize,
}

impl FireSpec {
    /// Check `cfg` of `camera` against the fire model's class names.
    pub fn compile(camera: &str, cfg: &FireConfig, labels: &[String]) -> Result<Self, AnalyticsError> {
        let bad = |field: &str, reason: String| AnalyticsError::invalid(camera, "fire", field, reason);
        if !(cfg.fps > 0.0 && cfg.fps <= 30.0) {
            return Err(bad("fps", format!("{} must be greater than 0 and at most 30", cfg.fps)));
        }
        for (field, v) in [("fire_confidence", cfg.fire_confidence), ("smoke_confidence", cfg.smoke_confidence)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(field, format!("{v} must be between 0 and 1")));
            }
        }
        if !(0.0..1.0).contains(&cfg.min_area) {
            return Err(bad("min_area", format!("{} must be a fraction of the frame in [0, 1)", cfg.min_area)));
        }
        if cfg.window == 0 || cfg.window > 100 {
            return Err(bad("window", format!("{} must be 1–100 inferences", cfg.window)));
        }
        if cfg.persistence == 0 || cfg.persistence > cfg.window {
            return Err(bad("persistence", format!("{} must be 1–window ({})", cfg.persistence, cfg.window)));
        }
        let class = |name: &str| {
            labels.iter().position(|l| l == name).map(|i| i as u32).ok_or_else(|| AnalyticsError::Model {
                camera: camera.to_string(),
                field: "analytics.fire_model".into(),
                reason: format!(
                    "the model has no class `{name}` (it has: {}); use a fire/smoke model",
                    labels.join(", ")
                ),
            })
        };
        Ok(Self {
            fps: cfg.fps,
            classes: [
                (class("fire")?, EventKind::Fire, cfg.fire_confidence),
                (class("smoke")?, EventKind::Smoke, cfg.smoke_confidence),
            ],
            min_area: cfg.min_area,
            k: cfg.persistence as usize,
            n: cfg.window as usize,
        })
    }
}

/// The fire and smoke alarms of one camera: fire/smoke detections in, events out to the store.
pub struct FireActor {
    camera: CameraId,
    spec: FireSpec,
    alarms: [ClassAlarm; 2],
    /// The box and score of the strongest counted box of each class on the last inference that showed it.
    best: [Option<(f32, BBox)>; 2],
    last: Option<(Pts, WallTime)>,
    events: Recipient<NewEvent>,
}

impl FireActor {
    pub fn new(camera: CameraId, spec: FireSpec, events: Recipient<NewEvent>) -> Self {
        let alarms = [ClassAlarm::new(spec.k, spec.n), ClassAlarm::new(spec.k, spec.n)];
        Self { camera, spec, alarms, best: [None, None], last: None, events }
    }

    fn event(&self, i: usize, state: EventState, (pts, wall_ms): (Pts, WallTime), best: Option<(f32, BBox)>) -> Event {
        let (_, kind, _) = self.spec.classes[i];
        Event {
            camera: self.camera.to_string(),
            rule: RULE_ID.into(),
            kind,
            state,
            track_id: None,
            class: Some(if kind == EventKind::Fire { "fire" } else { "smoke" }.into()),
            confidence: best.map(|b| b.0),
            pts,
            end_pts: (state == EventState::End).then_some(pts),
            wall_ms,
            bbox: best.map(|b| b.1),
            details: serde_json::json!({ "window": self.alarms[i].window_text() }),
        }
    }
}

impl Actor for FireActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(16);
    }

    /// The camera is gone: end open alarms on the last inference seen.
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let Some(last) = self.last else { return };
        for i in 0..2 {
            if self.alarms[i].close() {
                let mut event = self.event(i, EventState::End, last, self.best[i]);
                event.details["reason"] = "camera_stopped".into();
                self.events.do_send(NewEvent { event, picture: None });
            }
        }
    }
}

impl Handler<FrameDetections> for FireActor {
    type Result = ();

    fn handle(&mut self, msg: FrameDetections, _ctx: &mut Context<Self>) {
        let now = (msg.meta.pts, msg.meta.wall_ms);
        self.last = Some(now);
        for i in 0..2 {
            let (class_id, _, min_score) = self.spec.classes[i];
            let best = msg
                .detections
                .iter()
                .filter(|d| d.class_id == class_id)
                .filter(|d| counts(d.score, &d.bbox, min_score, self.spec.min_area, msg.meta.width, msg.meta.height))
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .map(|d| (d.score, d.bbox));
            if let Some((score, bbox)) = best {
                self.best[i] = best;
                let class = if self.spec.classes[i].1 == EventKind::Fire { "fire" } else { "smoke" };
                metrics::counter!(crate::metric_names::FIRE_POSITIVES, "camera" => self.camera.to_string(), "class" => class)
                    .increment(1);
                tracing::debug!(camera = %self.camera, class, score, ?bbox, pts = ?now.0, "fire/smoke box above the thresholds");
            }
            match self.alarms[i].observe(best.is_some()) {
                Alarm::None => {}
                Alarm::Start => {
                    let event = self.event(i, EventState::Start, now, best);
                    self.events.do_send(NewEvent { event, picture: msg.input.clone() });
                }
                Alarm::End => {
                    let event = self.event(i, EventState::End, now, self.best[i]);
                    self.events.do_send(NewEvent { event, picture: None });
                }
            }
        }
    }
}

impl Handler<Flush> for FireActor {
    type Result = ();

    fn handle(&mut self, _msg: Flush, _ctx: &mut Context<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Detection, FrameMeta};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Collector(Arc<Mutex<Vec<Event>>>);
    impl Actor for Collector {
        type Context = Context<Self>;
    }
    impl Handler<NewEvent> for Collector {
        type Result = ();
        fn handle(&mut self, msg: NewEvent, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(msg.event);
        }
    }

    /// Inference `i` (one per second) on a 100 x 100 frame with the given detections.
    fn inference(i: i64, detections: Vec<Detection>) -> FrameDetections {
        let meta = FrameMeta {
            camera: "yard".parse().unwrap(),
            seq: i as u64,
            pts: Pts::new(i * 90_000, 90_000),
            wall_ms: crate::time::WallTime::from_unix_ms(1_700_000_000_000 + i * 1000),
            width: 100,
            height: 100,
            decoded_at: std::time::Instant::now(),
        };
        FrameDetections {
            meta,
            detections,
            coverage: Default::default(),
            labels: vec!["fire".into(), "smoke".into()].into(),
            input: None,
            full: None,
        }
    }

    fn det(class_id: u32, score: f32, side: f32) -> Detection {
        Detection { class_id, score, bbox: BBox { x1: 0.0, y1: 0.0, x2: side, y2: side } }
    }

    #[actix::test]
    async fn persistent_fire_starts_and_ends_while_weak_small_or_rare_boxes_never_do() {
        let labels = vec!["fire".to_string(), "smoke".to_string()];
        let cfg = cfg(serde_json::json!({"min_area": 0.01}));
        let spec = FireSpec::compile("yard", &cfg, &labels).unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let events = Collector(out.clone()).start().recipient();
        let fire = FireActor::new("yard".parse().unwrap(), spec, events).start();
        // Inferences 0–4: smoke at 0.8 (below 0.85), fire of 5 x 5 px (0.25 % < 1 %), one strong smoke box.
        let noise = [vec![det(1, 0.8, 50.0)], vec![det(0, 0.95, 5.0)], vec![det(1, 0.9, 50.0)], vec![], vec![]];
        // Inferences 5–9: real fire on 5, 6 and 8 (3 of 5 from 8); then 5 clear inferences 9–13.
        let fires = [true, true, false, true, false, false, false, false, false];
        let mut i = 0;
        for d in noise {
            fire.send(inference(i, d)).await.unwrap();
            i += 1;
        }
        for f in fires {
            fire.send(inference(i, if f { vec![det(0, 0.9, 20.0)] } else { vec![] })).await.unwrap();
            i += 1;
        }
        fire.send(Flush).await.unwrap();
        let got: Vec<_> = out.lock().unwrap().iter().map(|e| (e.kind, e.state, e.pts.ticks() / 90_000)).collect();
        // Start on inference 8 (positives 5, 6, 8); the last positive leaves the 5-window after inference 12.
        assert_eq!(got, vec![(EventKind::Fire, EventState::Start, 8), (EventKind::Fire, EventState::End, 13)]);
        let start = out.lock().unwrap()[0].clone();
        assert_eq!((start.rule.as_str(), start.class.as_deref(), start.confidence), ("fire", Some("fire"), Some(0.9)));
        assert_eq!(start.details["window"], "3/5");
    }

    fn cfg(json: serde_json::Value) -> FireConfig {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn defaults_compile_and_bad_fields_are_named() {
        let labels = vec!["fire".to_string(), "smoke".to_string()];
        let spec = FireSpec::compile("yard", &cfg(serde_json::json!({})), &labels).unwrap();
        assert_eq!((spec.k, spec.n, spec.fps), (3, 5, 1.0));
        assert_eq!(spec.classes[1], (1, EventKind::Smoke, 0.85));
        let err = FireSpec::compile("yard", &cfg(serde_json::json!({"persistence": 6})), &labels).unwrap_err();
        assert!(err.to_string().contains("cameras.yard.fire.persistence"), "{err}");
        let err = FireSpec::compile("yard", &cfg(serde_json::json!({"fps": 0.0})), &labels).unwrap_err();
        assert!(err.to_string().contains("cameras.yard.fire.fps"), "{err}");
        let err = FireSpec::compile("yard", &cfg(serde_json::json!({})), &["person".to_string()]).unwrap_err();
        assert!(err.to_string().contains("no class `fire`"), "{err}");
    }
}
