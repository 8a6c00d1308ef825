//! Intrusion and loitering: per-object presence in a zone, with exit hysteresis, continuity across track
//! fragments, and a cooldown.
//!
//! An *object* is a track, or a chain of tracks that [`super::continuity`] joined (a lost track and the new one
//! that appeared where it was heading within `grace_sec`). Its *stay* begins on the first frame any of its
//! tracks is seen inside the zone (`entered`) and continues while it is seen inside, and through gaps — frames
//! where it is outside the zone, filtered out (class, score) or missing altogether. A stay ends on the first
//! frame that is both
//! - `exit_sec` or more after the gap began, and
//! - either a frame the object is seen (outside), or `grace_sec` or more after it was last seen: the event of a
//!   lost object waits the grace period for a successor, which continues it (no new `start`; dwell time counts
//!   on from the first track's entry).
//!
//! The `end_pts` is the gap's first frame when the object was seen outside during the gap, or else (lost from
//! view) the last frame it was seen inside. Edge jitter, short tracker losses and fragments thus neither end nor
//! restart anything.
//!
//! - intrusion: `start` once the stay is `min_sec` old (0: on entry), `end` when the stay ends.
//! - loitering: `start` once the stay is `dwell_sec` old, an `update` every further `dwell_sec`, `end` when the
//!   stay ends. `details.dwell_sec` is the stay's age (at `end`: from `entered` to `end_pts`).
//!
//! A `start` also needs the object to be inside on that frame and at least `cooldown_sec` since the same
//! object's last `end` on this rule; an object still inside when its cooldown runs out starts then. Every event
//! names the object's first track as `track_id` and lists all its tracks in `details.track_ids`.

use super::continuity::Continuity;
use super::engine::{Ctx, Obs, Stamp, TIME_EPS};
use super::spec::{RuleKind, RuleSpec, Target};
use crate::messages::{Event, EventState};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug)]
struct Stay {
    entered: Stamp,
    /// Last frame the object was seen inside.
    last_inside: Stamp,
    /// Last frame the object was seen, inside or not.
    last_seen: Stamp,
    /// First frame of the current gap (not seen inside); `None` while inside.
    gap: Option<Stamp>,
    /// The object was seen outside the zone during the current gap.
    seen_in_gap: bool,
    /// When the `start` event was raised.
    started: Option<Stamp>,
    /// Last `start` or `update` (loitering updates every `dwell_sec`).
    reported: Option<Stamp>,
    /// The latest observation of the object (inside if it was seen inside on that frame).
    obj: Obs,
}

impl Stay {
    /// Where an `end` now would be stamped: the gap's first frame if the object was seen leaving, else the last
    /// frame it was seen inside; `now` while it is inside.
    fn end_stamp(&self, now: Stamp) -> Stamp {
        match self.gap {
            Some(gap) if self.seen_in_gap => gap,
            Some(_) => self.last_inside,
            None => now,
        }
    }
}

/// Presence state of one intrusion or loitering rule.
#[derive(Debug)]
pub(super) struct PresenceState {
    continuity: Continuity,
    /// Object key → its stay.
    stays: BTreeMap<u64, Stay>,
    /// Object key → its last `end`, kept while its cooldown runs.
    ended: BTreeMap<u64, Stamp>,
}

impl PresenceState {
    /// Objects seen inside the zone on the last frame.
    pub fn inside(&self) -> usize {
        self.stays.values().filter(|s| s.gap.is_none()).count()
    }

    /// Whether an event is open (some object's `start` was raised and it has not ended).
    pub fn active(&self) -> bool {
        self.stays.values().any(|s| s.started.is_some())
    }

    /// Objects lost for up to `grace_sec` keep their stay for a successor track.
    pub fn new(grace_sec: f64) -> Self {
        Self { continuity: Continuity::new(grace_sec), stays: BTreeMap::new(), ended: BTreeMap::new() }
    }

    pub fn update(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, obs: &[Obs], out: &mut Vec<Event>) {
        let Target::Zone { id: zone, polygon } = &spec.target else { return };
        let (threshold, exit_sec, period) = match spec.kind {
            RuleKind::Intrusion { min_sec, exit_sec } => (min_sec, exit_sec, None),
            RuleKind::Loitering { dwell_sec, exit_sec } => (dwell_sec, exit_sec, Some(dwell_sec)),
            _ => return,
        };
        let now = ctx.now;
        let keys = self.continuity.update(now.pts, obs);
        type Seen<'a> = Vec<(&'a Obs, u64)>;
        let (ins, outs): (Seen<'_>, Seen<'_>) = obs.iter().zip(keys).partition(|(o, _)| polygon.contains(o.point));
        let inside: BTreeSet<u64> = ins.iter().map(|(_, k)| *k).collect();
        let mut seen = inside.clone();
        for (o, key) in ins {
            let stay = self.stays.entry(key).or_insert_with(|| Stay {
                entered: now,
                last_inside: now,
                last_seen: now,
                gap: None,
                seen_in_gap: false,
                started: None,
                reported: None,
                obj: o.clone(),
            });
            stay.last_inside = now;
            stay.last_seen = now;
            stay.gap = None;
            stay.seen_in_gap = false;
            stay.obj = o.clone();
        }
        for (o, key) in outs {
            seen.insert(key);
            if !inside.contains(&key)
                && let Some(stay) = self.stays.get_mut(&key)
            {
                stay.last_seen = now;
                stay.obj = o.clone();
            }
        }
        let cooldown = spec.cooldown_sec;
        self.ended.retain(|_, end| (now.pts - end.pts).as_secs_f64() < cooldown - TIME_EPS);
        let mut gone = Vec::new();
        for (key, stay) in &mut self.stays {
            let ids = self.continuity.track_ids(*key);
            if !inside.contains(key) {
                let gap = *stay.gap.get_or_insert(now);
                let visible = seen.contains(key);
                stay.seen_in_gap |= visible;
                let exited = (now.pts - gap.pts).as_secs_f64() >= exit_sec - TIME_EPS;
                let given_up = visible || (now.pts - stay.last_seen.pts).as_secs_f64() >= spec.grace_sec - TIME_EPS;
                if exited && given_up {
                    gone.push(*key);
                    if stay.started.is_some() {
                        out.push(end_event(spec, zone, ctx, stay, ids, stay.end_stamp(now), "left"));
                        if cooldown > 0.0 {
                            self.ended.insert(*key, now);
                        }
                    }
                }
                continue;
            }
            let age = (now.pts - stay.entered.pts).as_secs_f64();
            match (stay.started, stay.reported, period) {
                (None, _, _) if age >= threshold - TIME_EPS && !self.ended.contains_key(key) => {
                    stay.started = Some(now);
                    stay.reported = Some(now);
                    let details = match period {
                        Some(_) => json!({ "zone": zone, "dwell_sec": age }),
                        None => json!({ "zone": zone }),
                    };
                    out.push(ctx.event(spec, EventState::Start, Some((&stay.obj, ids)), None, details));
                }
                (Some(_), Some(reported), Some(period))
                    if (now.pts - reported.pts).as_secs_f64() >= period - TIME_EPS =>
                {
                    stay.reported = Some(now);
                    let details = json!({ "zone": zone, "dwell_sec": age });
                    out.push(ctx.event(spec, EventState::Update, Some((&stay.obj, ids)), None, details));
                }
                _ => {}
            }
        }
        for key in gone {
            self.stays.remove(&key);
        }
    }

    /// End every started stay on `ctx`'s frame (the last one seen) and forget all objects and tracks.
    pub fn close(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, reason: &str, out: &mut Vec<Event>) {
        let Target::Zone { id: zone, .. } = &spec.target else { return };
        for (key, stay) in self.stays.iter().filter(|(_, s)| s.started.is_some()) {
            let ids = self.continuity.track_ids(*key);
            out.push(end_event(spec, zone, ctx, stay, ids, stay.end_stamp(ctx.now), reason));
        }
        self.stays.clear();
        self.ended.clear();
        self.continuity.clear();
    }
}

fn end_event(spec: &RuleSpec, zone: &str, ctx: &Ctx<'_>, stay: &Stay, ids: &[u64], end: Stamp, reason: &str) -> Event {
    let duration = (end.pts - stay.entered.pts).as_secs_f64();
    let details = match spec.kind {
        RuleKind::Loitering { .. } => json!({ "zone": zone, "dwell_sec": duration, "reason": reason }),
        _ => json!({ "zone": zone, "duration_sec": duration, "reason": reason }),
    };
    ctx.event(spec, EventState::End, Some((&stay.obj, ids)), Some(end.pts), details)
}
