//! Intrusion and loitering: per-track presence in a zone, with exit hysteresis and a cooldown.
//!
//! A track's *stay* begins on the first frame its anchor is seen inside the zone (`entered`). It continues
//! while the track is seen inside, and through gaps — frames where the track is outside the zone, filtered out
//! (class, score) or missing altogether — shorter than `exit_sec`. It ends on the first frame that is `exit_sec`
//! or more after the gap began; the gap's first frame is the `end_pts`. So edge jitter and short tracker losses
//! neither end nor restart anything, and a track re-found under the same id continues its stay.
//!
//! - intrusion: `start` once the stay is `enter_sec` old (0: on entry), `end` when the stay ends.
//! - loitering: `start` once the stay is `dwell_sec` old, an `update` every further `dwell_sec`, `end` when the
//!   stay ends. `details.dwell_sec` is the stay's age (at `end`: from `entered` to `end_pts`).
//!
//! A `start` also needs the track to be inside on that frame and at least `cooldown_sec` since the same track's
//! last `end` on this rule; a track still inside when its cooldown runs out starts then.

use super::engine::{Ctx, Obs, Stamp, TIME_EPS, secs};
use super::spec::{RuleKind, RuleSpec, Target};
use crate::messages::{Event, EventState};
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug)]
struct Stay {
    entered: Stamp,
    /// First frame of the current gap (not seen inside); `None` while inside.
    left: Option<Stamp>,
    /// When the `start` event was raised.
    started: Option<Stamp>,
    /// Last `start` or `update` (loitering updates every `dwell_sec`).
    reported: Option<Stamp>,
    /// The latest observation of the track (inside or not).
    obj: Obs,
}

/// Presence state of one intrusion or loitering rule.
#[derive(Debug, Default)]
pub(super) struct PresenceState {
    stays: BTreeMap<u64, Stay>,
    /// Track id → its last `end`, kept while its cooldown runs.
    ended: BTreeMap<u64, Stamp>,
}

impl PresenceState {
    pub fn update(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, obs: &[Obs], out: &mut Vec<Event>) {
        let Target::Zone { id: zone, polygon } = &spec.target else { return };
        let (threshold, exit_sec, period) = match spec.kind {
            RuleKind::Intrusion { enter_sec, exit_sec } => (enter_sec, exit_sec, None),
            RuleKind::Loitering { dwell_sec, exit_sec } => (dwell_sec, exit_sec, Some(dwell_sec)),
            _ => return,
        };
        let now = ctx.now;
        let mut inside = std::collections::BTreeSet::new();
        for o in obs {
            if polygon.contains(o.point) {
                inside.insert(o.track_id);
                let stay = self.stays.entry(o.track_id).or_insert_with(|| Stay {
                    entered: now,
                    left: None,
                    started: None,
                    reported: None,
                    obj: o.clone(),
                });
                stay.left = None;
                stay.obj = o.clone();
            } else if let Some(stay) = self.stays.get_mut(&o.track_id) {
                stay.obj = o.clone();
            }
        }
        let cooldown = spec.cooldown_sec;
        self.ended.retain(|_, end| secs(now.pts, end.pts) < cooldown - TIME_EPS);
        let mut gone = Vec::new();
        for (id, stay) in &mut self.stays {
            if !inside.contains(id) {
                let left = *stay.left.get_or_insert(now);
                if secs(now.pts, left.pts) >= exit_sec - TIME_EPS {
                    gone.push(*id);
                    if stay.started.is_some() {
                        out.push(end_event(spec, zone, ctx, stay, left, "left"));
                        if cooldown > 0.0 {
                            self.ended.insert(*id, now);
                        }
                    }
                }
                continue;
            }
            let age = secs(now.pts, stay.entered.pts);
            match (stay.started, stay.reported, period) {
                (None, _, _) if age >= threshold - TIME_EPS && !self.ended.contains_key(id) => {
                    stay.started = Some(now);
                    stay.reported = Some(now);
                    let details = match period {
                        Some(_) => json!({ "zone": zone, "dwell_sec": age }),
                        None => json!({ "zone": zone }),
                    };
                    out.push(ctx.event(spec, EventState::Start, Some(&stay.obj), None, details));
                }
                (Some(_), Some(reported), Some(period)) if secs(now.pts, reported.pts) >= period - TIME_EPS => {
                    stay.reported = Some(now);
                    let details = json!({ "zone": zone, "dwell_sec": age });
                    out.push(ctx.event(spec, EventState::Update, Some(&stay.obj), None, details));
                }
                _ => {}
            }
        }
        for id in gone {
            self.stays.remove(&id);
        }
    }

    /// End every started stay on `ctx`'s frame (the last one seen) and forget all tracks.
    pub fn close(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, reason: &str, out: &mut Vec<Event>) {
        let Target::Zone { id: zone, .. } = &spec.target else { return };
        for stay in self.stays.values().filter(|s| s.started.is_some()) {
            let end = stay.left.unwrap_or(ctx.now);
            out.push(end_event(spec, zone, ctx, stay, end, reason));
        }
        self.stays.clear();
        self.ended.clear();
    }
}

fn end_event(spec: &RuleSpec, zone: &str, ctx: &Ctx<'_>, stay: &Stay, end: Stamp, reason: &str) -> Event {
    let duration = secs(end.pts, stay.entered.pts);
    let details = match spec.kind {
        RuleKind::Loitering { .. } => json!({ "zone": zone, "dwell_sec": duration, "reason": reason }),
        _ => json!({ "zone": zone, "duration_sec": duration, "reason": reason }),
    };
    ctx.event(spec, EventState::End, Some(&stay.obj), Some(end.pts), details)
}
