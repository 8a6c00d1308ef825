//! [`RuleEngine`]: runs one camera's rules over its tracked frames and returns the events they raise.
//!
//! Pure and synchronous: the [`super::RuleActor`] feeds it frames. All timing is on stream time (the frames'
//! PTS), never the server clock, so low frame rates, replays and gaps behave the same as live video. The kinds
//! live in their own modules: [`super::presence`] (intrusion, loitering), [`super::occupancy`],
//! [`super::line_crossing`]; the per-object ones follow objects across track fragments with
//! [`super::continuity`].

use super::line_crossing::LineState;
use super::occupancy::OccupancyState;
use super::presence::PresenceState;
use super::spec::{self, Anchor, DisabledRule, RuleKind, RuleSpec, RulesConfig, Target};
use crate::geometry::BBox;
use crate::geometry::plane::Point;
use crate::messages::{Event, EventKind, EventState, Track, TrackedFrame};
use crate::time::Pts;
use serde::Serialize;
use std::sync::Arc;

/// Slack for comparing durations with thresholds, seconds: a dwell of exactly `dwell_sec` counts.
pub(super) const TIME_EPS: f64 = 1e-6;

/// What the engine needs from a tracked frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameInput<'a> {
    pub pts: Pts,
    pub wall_ms: crate::time::WallTime,
    /// Source frame size in pixels; track boxes are in these pixels.
    pub width: u32,
    pub height: u32,
    pub tracks: &'a [Track],
    /// Class names by class id (the model's labels).
    pub labels: &'a [String],
}

impl<'a> From<&'a TrackedFrame> for FrameInput<'a> {
    fn from(f: &'a TrackedFrame) -> Self {
        Self {
            pts: f.meta.pts,
            wall_ms: f.meta.wall_ms,
            width: f.meta.width,
            height: f.meta.height,
            tracks: &f.tracks,
            labels: &f.labels,
        }
    }
}

/// A frame's time: PTS and wall-clock milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Stamp {
    pub pts: Pts,
    pub wall_ms: crate::time::WallTime,
}

/// One tracked object as a rule sees it on one frame.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Obs {
    pub track_id: u64,
    pub class: String,
    pub score: f32,
    /// Box in source pixels.
    pub bbox: BBox,
    /// The rule's anchor point, normalised to [0, 1].
    pub point: Point,
}

/// The frame being processed, and how to build events on it.
pub(super) struct Ctx<'a> {
    pub camera: &'a str,
    pub now: Stamp,
}

impl Ctx<'_> {
    /// An event of `spec` on this frame; `end_pts` only for `end` events (and instantaneous ones).
    ///
    /// `obj` is the object's latest observation and every track id it spans (see [`super::continuity`]): the
    /// event's `track_id` is the first of them, and `details.track_ids` lists them all.
    pub fn event(
        &self,
        spec: &RuleSpec,
        state: EventState,
        obj: Option<(&Obs, &[u64])>,
        end_pts: Option<Pts>,
        mut details: serde_json::Value,
    ) -> Event {
        let track_id = obj.map(|(o, ids)| ids.first().copied().unwrap_or(o.track_id));
        if let (Some((o, ids)), Some(map)) = (obj, details.as_object_mut()) {
            let ids = if ids.is_empty() { vec![o.track_id] } else { ids.to_vec() };
            map.insert("track_ids".into(), serde_json::json!(ids));
        }
        let obj = obj.map(|(o, _)| o);
        Event {
            camera: self.camera.to_string(),
            rule: spec.id.clone(),
            kind: event_kind(&spec.kind),
            state,
            track_id,
            class: obj.map(|o| o.class.clone()),
            confidence: obj.map(|o| o.score),
            pts: self.now.pts,
            end_pts,
            wall_ms: self.now.wall_ms,
            bbox: obj.map(|o| o.bbox),
            details,
        }
    }
}

fn event_kind(kind: &RuleKind) -> EventKind {
    match kind {
        RuleKind::Intrusion { .. } => EventKind::Intrusion,
        RuleKind::Loitering { .. } => EventKind::Loitering,
        RuleKind::Occupancy { .. } => EventKind::Occupancy,
        RuleKind::LineCrossing { .. } => EventKind::LineCrossing,
    }
}

/// The running state of one rule.
enum State {
    Presence(PresenceState),
    Occupancy(OccupancyState),
    Line(LineState),
}

struct Running {
    spec: RuleSpec,
    state: State,
}

impl Running {
    fn new(spec: RuleSpec) -> Self {
        let state = match spec.kind {
            RuleKind::Intrusion { .. } | RuleKind::Loitering { .. } => {
                State::Presence(PresenceState::new(spec.grace_sec))
            }
            RuleKind::Occupancy { .. } => State::Occupancy(OccupancyState::default()),
            RuleKind::LineCrossing { .. } => State::Line(LineState::new(spec.grace_sec)),
        };
        Self { spec, state }
    }

    fn update(&mut self, ctx: &Ctx<'_>, obs: &[Obs], out: &mut Vec<Event>) {
        match &mut self.state {
            State::Presence(s) => s.update(&self.spec, ctx, obs, out),
            State::Occupancy(s) => s.update(&self.spec, ctx, obs, out),
            State::Line(s) => s.update(&self.spec, ctx, obs, out),
        }
    }

    /// End whatever is open, on the frame `ctx` (the last one seen), and forget per-track state.
    fn close(&mut self, ctx: &Ctx<'_>, reason: &str, out: &mut Vec<Event>) {
        match &mut self.state {
            State::Presence(s) => s.close(&self.spec, ctx, reason, out),
            State::Occupancy(s) => s.close(&self.spec, ctx, reason, out),
            State::Line(s) => s.forget_tracks(),
        }
    }
}

/// The rules of a camera, for the API.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleStatus {
    pub camera: String,
    /// Ids of the running rules.
    pub active: Vec<String>,
    pub disabled: Vec<DisabledRule>,
    /// Every configured rule in config order: id, kind, whether it runs, and why not.
    pub rules: Vec<crate::status::RuleEntry>,
}

/// One camera's rules and their state.
pub struct RuleEngine {
    camera: String,
    labels: Arc<[String]>,
    rules: Vec<Running>,
    disabled: Vec<DisabledRule>,
    /// `(id, kind)` of every configured rule, in config order.
    kinds: Vec<(String, String)>,
    /// The last frame seen: stream time must not go backwards, and ends on reconfiguration are stamped here.
    last: Option<Stamp>,
    /// Tracked objects (any class) on the last frame.
    objects: usize,
}

/// One zone rule's state on the last frame, for integrations that mirror it (MQTT, Home Assistant).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneState {
    pub rule: String,
    pub zone: String,
    /// `intrusion`, `loitering` or `occupancy`.
    pub kind: String,
    /// The watched class names; empty: every class.
    pub classes: Vec<String>,
    /// Watched objects inside the zone on the last frame.
    pub count: usize,
    /// An event of the rule is open: the zone is occupied (occupancy), or an object is being reported
    /// (intrusion, loitering).
    pub active: bool,
}

/// A camera's rules as they stand on the last frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LiveState {
    /// Tracked objects (any class) on the last frame.
    pub objects: usize,
    /// Every running zone rule, in config order.
    pub zones: Vec<ZoneState>,
}

impl RuleEngine {
    /// Check and start `config`'s rules for `camera` against the model's `labels`; returns the engine and the
    /// rules that do not run, with their reasons (also logged).
    pub fn new(camera: &str, config: &RulesConfig, labels: Arc<[String]>) -> (Self, Vec<DisabledRule>) {
        let mut engine = Self {
            camera: camera.to_string(),
            labels,
            rules: Vec::new(),
            disabled: Vec::new(),
            kinds: Vec::new(),
            last: None,
            objects: 0,
        };
        let (disabled, _) = engine.replace_config(config);
        (engine, disabled)
    }

    /// Replace the zones, lines and rules at run time. A rule whose checked specification is unchanged keeps its
    /// state (open events, dwell times, line counts); the others start afresh, and their open events end now
    /// (returned, stamped with the last frame seen). Returns the disabled rules and those end events.
    pub fn replace_config(&mut self, config: &RulesConfig) -> (Vec<DisabledRule>, Vec<Event>) {
        let (specs, disabled) = spec::compile(&self.camera, config, &self.labels);
        for d in &disabled {
            if config.rules.iter().any(|r| r.id == d.rule && r.enabled) {
                tracing::warn!(camera = %self.camera, rule = %d.rule, reason = %d.reason, "rule disabled");
            }
        }
        let mut old = std::mem::take(&mut self.rules);
        let mut rules = Vec::with_capacity(specs.len());
        for spec in specs {
            match old.iter().position(|r| r.spec == spec) {
                Some(i) => rules.push(old.swap_remove(i)),
                None => rules.push(Running::new(spec)),
            }
        }
        let mut ended = Vec::new();
        if let Some(last) = self.last {
            let ctx = Ctx { camera: &self.camera, now: last };
            for r in &mut old {
                r.close(&ctx, "rule_changed", &mut ended);
            }
        }
        self.rules = rules;
        self.disabled = disabled.clone();
        self.kinds = config.rules.iter().map(|r| (r.id.clone(), r.kind.clone())).collect();
        (disabled, ended)
    }

    /// Run every rule on one frame; returns the events raised, rule by rule in config order.
    ///
    /// When stream time goes backwards (a looping file, a reconnect) the open events end on the last frame
    /// before the jump and per-track state is dropped (the tracker gives new ids then); line counts go on.
    pub fn update(&mut self, frame: &FrameInput<'_>) -> Vec<Event> {
        let now = Stamp { pts: frame.pts, wall_ms: frame.wall_ms };
        let mut out = Vec::new();
        if let Some(last) = self.last
            && (now.pts - last.pts).as_secs_f64() < -TIME_EPS
        {
            tracing::info!(camera = %self.camera, "stream time went backwards: open rule events end");
            let ctx = Ctx { camera: &self.camera, now: last };
            for r in &mut self.rules {
                r.close(&ctx, "stream_restarted", &mut out);
            }
        }
        self.last = Some(now);
        if frame.width == 0 || frame.height == 0 {
            return out;
        }
        self.objects = frame.tracks.len();
        let ctx = Ctx { camera: &self.camera, now };
        for rule in &mut self.rules {
            let obs = watched(&rule.spec, frame, &self.labels);
            rule.update(&ctx, &obs, &mut out);
        }
        out
    }

    /// End every open event on the last frame seen (the camera is stopping); the rules stay configured.
    pub fn finish(&mut self, reason: &str) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(last) = self.last {
            let ctx = Ctx { camera: &self.camera, now: last };
            for r in &mut self.rules {
                r.close(&ctx, reason, &mut out);
            }
        }
        out
    }

    /// Each running zone rule's count and whether it is active, on the last frame.
    pub fn live(&self) -> LiveState {
        let zones = self
            .rules
            .iter()
            .filter_map(|r| {
                let Target::Zone { id: zone, .. } = &r.spec.target else { return None };
                let (count, active) = match &r.state {
                    State::Presence(s) => (s.inside(), s.active()),
                    State::Occupancy(s) => (s.count(), s.occupied()),
                    State::Line(_) => return None,
                };
                let mut classes: Vec<String> = match &r.spec.classes {
                    Some(ids) => ids.iter().filter_map(|&i| self.labels.get(i as usize).cloned()).collect(),
                    None => Vec::new(),
                };
                classes.sort();
                Some(ZoneState {
                    rule: r.spec.id.clone(),
                    zone: zone.clone(),
                    kind: crate::store::db::kind_label(event_kind(&r.spec.kind)).to_owned(),
                    classes,
                    count,
                    active,
                })
            })
            .collect();
        LiveState { objects: self.objects, zones }
    }

    /// The running and disabled rules.
    pub fn status(&self) -> RuleStatus {
        RuleStatus {
            camera: self.camera.clone(),
            active: self.rules.iter().map(|r| r.spec.id.clone()).collect(),
            disabled: self.disabled.clone(),
            rules: self
                .kinds
                .iter()
                .map(|(id, kind)| {
                    let reason = self.disabled.iter().find(|d| d.rule == *id).map(|d| d.reason.clone());
                    let running = self.rules.iter().any(|r| r.spec.id == *id);
                    crate::status::RuleEntry {
                        id: id.clone(),
                        kind: kind.clone(),
                        enabled: running,
                        reason: if running { None } else { reason },
                    }
                })
                .collect(),
        }
    }
}

/// The tracks of `frame` that `spec` watches (class and score), with its anchor point.
fn watched(spec: &RuleSpec, frame: &FrameInput<'_>, labels: &[String]) -> Vec<Obs> {
    let (w, h) = (f64::from(frame.width), f64::from(frame.height));
    frame
        .tracks
        .iter()
        .filter(|t| t.score >= spec.min_confidence && spec.classes.as_ref().is_none_or(|c| c.contains(&t.class_id)))
        .map(|t| {
            let b = &t.bbox;
            let x = f64::from(b.x1 + b.x2) / 2.0;
            let y = match spec.anchor {
                Anchor::BottomCenter => f64::from(b.y2),
                Anchor::Center => f64::from(b.y1 + b.y2) / 2.0,
            };
            let class = frame
                .labels
                .get(t.class_id as usize)
                .or_else(|| labels.get(t.class_id as usize))
                .cloned()
                .unwrap_or_else(|| t.class_id.to_string());
            Obs { track_id: t.id, class, score: t.score, bbox: t.bbox, point: Point::new(x / w, y / h) }
        })
        .collect()
}
