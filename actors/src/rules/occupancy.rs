//! Occupancy: how many watched objects are inside a zone, with hold times both ways.
//!
//! The count on a frame is the number of watched tracks whose anchor is inside the zone on that frame. The zone
//! becomes occupied (`start`, details `count` and `max_count`) once the count has been ≥ `min_count` on every
//! frame for `hold_sec` (from the first such frame), and clears (`end`) once it has been < `min_count` on every
//! frame for `hold_sec`; `end_pts` is the first frame below. While occupied, an `update` reports each new
//! `max_count`. A new `start` waits `cooldown_sec` after an `end`. Events carry no track.

use super::engine::{Ctx, Obs, Stamp, TIME_EPS};
use super::spec::{RuleKind, RuleSpec, Target};
use crate::messages::{Event, EventState};
use serde_json::json;

#[derive(Debug, Default)]
pub(super) struct OccupancyState {
    /// First frame of the current run at or above `min_count`.
    above_since: Option<Stamp>,
    /// First frame of the current run below `min_count`, while occupied.
    below_since: Option<Stamp>,
    /// While occupied: when it started.
    started: Option<Stamp>,
    /// Highest count since `above_since`.
    max_count: usize,
    /// Count on the last frame.
    count: usize,
    last_end: Option<Stamp>,
}

impl OccupancyState {
    /// Watched objects inside the zone on the last frame.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Whether the zone is occupied (a `start` was raised and no `end` yet).
    pub fn occupied(&self) -> bool {
        self.started.is_some()
    }

    pub fn update(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, obs: &[Obs], out: &mut Vec<Event>) {
        let (Target::Zone { id: zone, polygon }, RuleKind::Occupancy { min_count, hold_sec }) =
            (&spec.target, &spec.kind)
        else {
            return;
        };
        let now = ctx.now;
        let count = obs.iter().filter(|o| polygon.contains(o.point)).count();
        self.count = count;
        let above = count >= *min_count as usize;
        if self.started.is_some() {
            if count > self.max_count {
                self.max_count = count;
                let details = json!({ "zone": zone, "count": count, "max_count": count });
                out.push(ctx.event(spec, EventState::Update, None, None, details));
            }
            if above {
                self.below_since = None;
                return;
            }
            let below = *self.below_since.get_or_insert(now);
            if (now.pts - below.pts).as_secs_f64() >= hold_sec - TIME_EPS {
                out.push(self.end_event(spec, zone, ctx, below, count, "cleared"));
                self.reset();
                self.last_end = Some(now);
            }
            return;
        }
        if !above {
            self.above_since = None;
            self.max_count = 0;
            return;
        }
        let since = *self.above_since.get_or_insert(now);
        self.max_count = self.max_count.max(count);
        let cooled = self.last_end.is_none_or(|end| (now.pts - end.pts).as_secs_f64() >= spec.cooldown_sec - TIME_EPS);
        if (now.pts - since.pts).as_secs_f64() >= hold_sec - TIME_EPS && cooled {
            self.started = Some(now);
            let details = json!({ "zone": zone, "count": count, "max_count": self.max_count });
            out.push(ctx.event(spec, EventState::Start, None, None, details));
        }
    }

    /// End an open occupancy on `ctx`'s frame (the last one seen) and start over.
    pub fn close(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, reason: &str, out: &mut Vec<Event>) {
        let Target::Zone { id: zone, .. } = &spec.target else { return };
        if self.started.is_some() {
            let end = self.below_since.unwrap_or(ctx.now);
            out.push(self.end_event(spec, zone, ctx, end, self.count, reason));
        }
        *self = Self::default();
    }

    fn end_event(&self, spec: &RuleSpec, zone: &str, ctx: &Ctx<'_>, end: Stamp, count: usize, reason: &str) -> Event {
        let since = self.above_since.unwrap_or(end);
        let details = json!({
            "zone": zone,
            "count": count,
            "max_count": self.max_count,
            "duration_sec": (end.pts - since.pts).as_secs_f64(),
            "reason": reason,
        });
        ctx.event(spec, EventState::End, None, Some(end.pts), details)
    }

    fn reset(&mut self) {
        self.above_since = None;
        self.below_since = None;
        self.started = None;
        self.max_count = 0;
    }
}
