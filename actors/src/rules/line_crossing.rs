//! Line crossing: counts tracks whose anchor crosses a directed segment `a → b`, each way.
//!
//! Direction: `in` is a crossing onto the right-hand side of a walker going from `a` to `b` on the picture read
//! as a map (top = north) — the side where [`crate::geometry::plane::cross`] is positive; `out` is the other way. For a
//! line drawn top to bottom, `in` moves from the right half of the picture to the left; drawn left to right,
//! `in` moves down the picture.
//!
//! Bouncing: each track has a *committed side*, set when its anchor is at least `min_distance` (normalised) from
//! the line. A crossing counts when the committed side flips and some step of the track's path since the last
//! commit crossed the segment itself (not its extension). A track wobbling on the line never gets far enough on
//! the other side to commit, so it counts once; one that walks round the end of the segment counts nothing.
//! Steps are taken between consecutive observations of the *object* — a track, or the chain of tracks that
//! [`super::continuity`] joined (a lost track and the new one that appeared where it was heading within
//! `grace_sec`) — so a track lost and re-found, a fragment that comes back under a new id, or a low frame rate,
//! still counts the crossing made while unseen, once; a fragment does not start a fresh path that could count
//! the same crossing again.
//!
//! Each crossing raises one instantaneous event: state `start` with `end_pts` equal to `pts`, details
//! `direction`, `line`, `track_ids` (the object's tracks; `track_id` is the first), and the rule's running
//! `in_count` / `out_count` (since the engine started). Every crossing is counted; `cooldown_sec` only
//! suppresses the events of an object's crossings that follow its previous event within that time.

use super::continuity::Continuity;
use super::engine::{Ctx, Obs, Stamp, TIME_EPS};
use super::spec::{RuleKind, RuleSpec, Target};
use crate::geometry::plane::{Point, segments_intersect, signed_distance};
use crate::messages::{Event, EventState};
use serde_json::json;
use std::collections::BTreeMap;

/// Per-track state is forgotten after this much stream time unseen (the tracker never re-finds a track that late).
const FORGET_AFTER_SEC: f64 = 60.0;

#[derive(Debug)]
struct PathState {
    last_point: Point,
    last_seen: Stamp,
    /// `1` right-hand side, `-1` left-hand side; `None` until the track is `min_distance` away from the line.
    committed: Option<i8>,
    /// Some step since the last commit crossed the segment.
    crossed: bool,
    last_event: Option<Stamp>,
}

#[derive(Debug)]
pub(super) struct LineState {
    continuity: Continuity,
    /// Object key → its path.
    tracks: BTreeMap<u64, PathState>,
    in_count: u64,
    out_count: u64,
}

impl LineState {
    /// A lost object's path continues with a successor track appearing within `grace_sec`.
    pub fn new(grace_sec: f64) -> Self {
        Self { continuity: Continuity::new(grace_sec), tracks: BTreeMap::new(), in_count: 0, out_count: 0 }
    }

    pub fn update(&mut self, spec: &RuleSpec, ctx: &Ctx<'_>, obs: &[Obs], out: &mut Vec<Event>) {
        let (Target::Line { id: line, a, b }, RuleKind::LineCrossing { min_distance }) = (&spec.target, &spec.kind)
        else {
            return;
        };
        let now = ctx.now;
        let band = min_distance.max(crate::geometry::plane::EPS);
        let keys = self.continuity.update(now.pts, obs);
        for (o, key) in obs.iter().zip(keys) {
            let p = o.point;
            let st = self.tracks.entry(key).or_insert(PathState {
                last_point: p,
                last_seen: now,
                committed: None,
                crossed: false,
                last_event: None,
            });
            if st.last_point != p && segments_intersect(st.last_point, p, *a, *b) {
                st.crossed = true;
            }
            st.last_point = p;
            st.last_seen = now;
            let d = signed_distance(*a, *b, p);
            if d.abs() < band {
                continue;
            }
            let side: i8 = if d > 0.0 { 1 } else { -1 };
            let flipped = st.committed.is_some_and(|c| c != side);
            let crossed = std::mem::take(&mut st.crossed);
            st.committed = Some(side);
            if !(flipped && crossed) {
                continue;
            }
            let direction = if side > 0 { "in" } else { "out" };
            if side > 0 {
                self.in_count += 1;
            } else {
                self.out_count += 1;
            }
            if st.last_event.is_some_and(|e| (now.pts - e.pts).as_secs_f64() < spec.cooldown_sec - TIME_EPS) {
                continue;
            }
            st.last_event = Some(now);
            let details = json!({
                "line": line,
                "direction": direction,
                "in_count": self.in_count,
                "out_count": self.out_count,
            });
            let ids = self.continuity.track_ids(key);
            out.push(ctx.event(spec, EventState::Start, Some((o, ids)), Some(now.pts), details));
        }
        self.tracks.retain(|_, st| (now.pts - st.last_seen.pts).as_secs_f64() <= FORGET_AFTER_SEC);
    }

    /// Forget every object's path (track ids do not come back after a stream restart); the counts go on.
    pub fn forget_tracks(&mut self) {
        self.tracks.clear();
        self.continuity.clear();
    }
}
