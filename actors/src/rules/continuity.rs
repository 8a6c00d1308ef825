//! Object continuity across track fragments: one rule's view of which tracks are the same object.
//!
//! Trackers fragment: a person missed for a few frames, or whose box jumps, comes back under a new track id.
//! Rules that follow one object over time (intrusion, loitering, line crossing) would then raise a second event
//! for the same person. [`Continuity`] joins such fragments into one *object*:
//!
//! - An object is *lost* on a frame when none of its tracks is watched on it (missing, or filtered out by the
//!   rule's class or score).
//! - A track the rule has never seen before is a *successor* of a lost object when it appears at most
//!   `grace_sec` after the object was last seen, has a compatible class (equal, or both vehicles, or both
//!   two-wheelers), a box of similar size (at most [`MAX_SIZE_RATIO`] apart), and its box centre lies within
//!   [`GATE_BASE`] + [`GATE_PER_SEC`] × gap of where the lost object was heading, measured in box sizes (the
//!   mean of the two boxes' longer sides). Where it was heading: its last centre moved on by its velocity, a
//!   least-squares fit over its sightings of the last [`HISTORY_SEC`] (capped at [`MAX_SPEED`] box sizes per
//!   second).
//! - Candidates are matched one to one, closest (in box sizes) first. A new track that matches nothing starts
//!   a new object.
//!
//! The rule then keys its state by object, not track: a successor continues the lost object's event and dwell
//! time. Every track an object spans is listed by [`Continuity::track_ids`], the first one first.

use super::engine::{Obs, TIME_EPS};
use crate::time::Pts;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Gate radius for a successor right after the loss, in box sizes.
pub const GATE_BASE: f64 = 1.0;
/// Growth of the gate radius per second of gap (the velocity estimate's error grows with time), box sizes.
pub const GATE_PER_SEC: f64 = 0.5;
/// Largest ratio between the box sizes of a lost object and its successor.
pub const MAX_SIZE_RATIO: f64 = 2.0;
/// Sightings used for the velocity: those within this many seconds of the last one.
pub const HISTORY_SEC: f64 = 2.0;
/// Speed cap for the extrapolation, box sizes per second (a walking person moves about one per second).
pub const MAX_SPEED: f64 = 3.0;
/// Sightings kept per object.
const HISTORY_LEN: usize = 10;
/// An object unseen this long is forgotten (its tracks too).
const FORGET_AFTER_SEC: f64 = 60.0;

/// Classes a detector confuses with each other on one object; a successor may change class within a group.
const GROUPS: [&[&str]; 2] = [&["car", "truck", "bus", "van"], &["bicycle", "motorbike", "motorcycle"]];

/// Whether a track of class `b` may continue an object of class `a`.
pub fn compatible(a: &str, b: &str) -> bool {
    a == b || GROUPS.iter().any(|g| g.contains(&a) && g.contains(&b))
}

/// One sighting: time, box centre and size (longer side), in source pixels.
#[derive(Clone, Copy, Debug)]
struct Sighting {
    pts: Pts,
    cx: f64,
    cy: f64,
    size: f64,
}

impl Sighting {
    fn of(pts: Pts, o: &Obs) -> Self {
        let b = &o.bbox;
        let (w, h) = (f64::from(b.x2 - b.x1).abs(), f64::from(b.y2 - b.y1).abs());
        Self { pts, cx: f64::from(b.x1 + b.x2) / 2.0, cy: f64::from(b.y1 + b.y2) / 2.0, size: w.max(h).max(1.0) }
    }
}

#[derive(Debug)]
struct Object {
    /// Every track of the object, in the order they joined it.
    track_ids: Vec<u64>,
    class: String,
    /// Latest sightings, oldest first, at most one per frame.
    history: VecDeque<Sighting>,
}

impl Object {
    fn last(&self) -> Option<&Sighting> {
        self.history.back()
    }

    /// Velocity in pixels per second: least squares over the sightings within [`HISTORY_SEC`] of the last one.
    fn velocity(&self) -> (f64, f64) {
        let Some(last) = self.last() else { return (0.0, 0.0) };
        let pts: Vec<(f64, f64, f64)> = self
            .history
            .iter()
            .map(|s| ((s.pts - last.pts).as_secs_f64(), s.cx, s.cy))
            .filter(|(t, _, _)| *t >= -HISTORY_SEC - TIME_EPS)
            .collect();
        let n = pts.len() as f64;
        if pts.len() < 2 {
            return (0.0, 0.0);
        }
        let mean = |f: fn(&(f64, f64, f64)) -> f64| pts.iter().map(f).sum::<f64>() / n;
        let (mt, mx, my) = (mean(|p| p.0), mean(|p| p.1), mean(|p| p.2));
        let var: f64 = pts.iter().map(|p| (p.0 - mt).powi(2)).sum();
        if var < 1e-4 {
            return (0.0, 0.0);
        }
        let vx = pts.iter().map(|p| (p.0 - mt) * (p.1 - mx)).sum::<f64>() / var;
        let vy = pts.iter().map(|p| (p.0 - mt) * (p.2 - my)).sum::<f64>() / var;
        let (speed, cap) = (vx.hypot(vy), MAX_SPEED * last.size);
        if speed > cap { (vx * cap / speed, vy * cap / speed) } else { (vx, vy) }
    }

    /// How far (in box sizes) `s` is from where the object was heading, if it is within the gate.
    fn distance(&self, s: &Sighting, grace_sec: f64) -> Option<f64> {
        let last = self.last()?;
        let gap = (s.pts - last.pts).as_secs_f64();
        if gap <= TIME_EPS || gap > grace_sec + TIME_EPS {
            return None;
        }
        if s.size.max(last.size) > MAX_SIZE_RATIO * s.size.min(last.size) {
            return None;
        }
        let (vx, vy) = self.velocity();
        let (px, py) = (last.cx + vx * gap, last.cy + vy * gap);
        let d = (s.cx - px).hypot(s.cy - py) / ((s.size + last.size) / 2.0);
        (d <= GATE_BASE + GATE_PER_SEC * gap).then_some(d)
    }
}

/// Which tracks are the same object, for one rule.
#[derive(Debug)]
pub(super) struct Continuity {
    grace_sec: f64,
    /// Track id → object key.
    tracks: BTreeMap<u64, u64>,
    objects: BTreeMap<u64, Object>,
    next_key: u64,
}

impl Continuity {
    /// Join fragments up to `grace_sec` apart (0: never).
    pub fn new(grace_sec: f64) -> Self {
        Self { grace_sec, tracks: BTreeMap::new(), objects: BTreeMap::new(), next_key: 0 }
    }

    /// Take one frame's watched observations; returns the object key of each, in order.
    pub fn update(&mut self, now: Pts, obs: &[Obs]) -> Vec<u64> {
        let mut keys: Vec<Option<u64>> = obs.iter().map(|o| self.tracks.get(&o.track_id).copied()).collect();
        let seen: BTreeSet<u64> = keys.iter().flatten().copied().collect();
        // Candidate (distance, object, observation) pairs of a new track and a lost object.
        let mut pairs = Vec::new();
        if self.grace_sec > 0.0 {
            for (i, o) in obs.iter().enumerate().filter(|(i, _)| keys[*i].is_none()) {
                let s = Sighting::of(now, o);
                for (key, obj) in self.objects.iter().filter(|(k, _)| !seen.contains(k)) {
                    if compatible(&obj.class, &o.class)
                        && let Some(d) = obj.distance(&s, self.grace_sec)
                    {
                        pairs.push((d, *key, i));
                    }
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut taken = BTreeSet::new();
        for (_, key, i) in pairs {
            if keys[i].is_none() && !taken.contains(&key) {
                taken.insert(key);
                keys[i] = Some(key);
                if let Some(obj) = self.objects.get_mut(&key) {
                    obj.track_ids.push(obs[i].track_id);
                }
                self.tracks.insert(obs[i].track_id, key);
            }
        }
        let mut out = Vec::with_capacity(obs.len());
        for (o, key) in obs.iter().zip(keys) {
            let key = key.unwrap_or_else(|| {
                let key = self.next_key;
                self.next_key += 1;
                let obj = Object { track_ids: vec![o.track_id], class: o.class.clone(), history: VecDeque::new() };
                self.objects.insert(key, obj);
                self.tracks.insert(o.track_id, key);
                key
            });
            if let Some(obj) = self.objects.get_mut(&key) {
                let s = Sighting::of(now, o);
                match obj.history.back_mut() {
                    Some(last) if last.pts == now => *last = s,
                    _ => obj.history.push_back(s),
                }
                while obj.history.len() > HISTORY_LEN {
                    obj.history.pop_front();
                }
                obj.class = o.class.clone();
            }
            out.push(key);
        }
        let forget: Vec<u64> = self
            .objects
            .iter()
            .filter(|(_, o)| o.last().is_none_or(|s| (now - s.pts).as_secs_f64() > FORGET_AFTER_SEC))
            .map(|(k, _)| *k)
            .collect();
        for key in forget {
            if let Some(obj) = self.objects.remove(&key) {
                for id in obj.track_ids {
                    self.tracks.remove(&id);
                }
            }
        }
        out
    }

    /// The tracks of object `key`, the first one first (empty for an unknown key).
    pub fn track_ids(&self, key: u64) -> &[u64] {
        self.objects.get(&key).map_or(&[], |o| o.track_ids.as_slice())
    }

    /// Forget every object (stream restarted: the tracker's ids start over).
    pub fn clear(&mut self) {
        self.tracks.clear();
        self.objects.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;

    fn obs(id: u64, class: &str, cx: f32, cy: f32, h: f32) -> Obs {
        let bbox = BBox { x1: cx - h / 4.0, y1: cy - h / 2.0, x2: cx + h / 4.0, y2: cy + h / 2.0 };
        Obs { track_id: id, class: class.into(), score: 0.9, bbox, point: crate::geometry::plane::Point::new(0.0, 0.0) }
    }

    fn at(ms: i64) -> Pts {
        Pts::new(ms * 90, Pts::VIDEO_CLOCK_RATE)
    }

    #[test]
    fn a_successor_where_the_lost_track_was_heading_joins_it() {
        let mut c = Continuity::new(2.0);
        // Track 1 walks right at 100 px/s (boxes 80 px tall), 5 fps, then vanishes after t = 800 ms.
        for i in 0..5 {
            let k = c.update(at(i * 200), &[obs(1, "person", 100.0 + 20.0 * i as f32, 200.0, 80.0)]);
            assert_eq!(k, vec![0]);
        }
        // 1 s later, track 2 appears where track 1 should be (x 280), beside a far one (track 3, x 600).
        let k = c.update(at(1800), &[obs(3, "person", 600.0, 200.0, 80.0), obs(2, "person", 285.0, 205.0, 80.0)]);
        assert_eq!(k, vec![1, 0]);
        assert_eq!(c.track_ids(0), &[1, 2]);
        assert_eq!(c.track_ids(1), &[3]);
    }

    #[test]
    fn velocity_decides_between_two_candidates() {
        let mut c = Continuity::new(2.0);
        for i in 0..5 {
            c.update(at(i * 200), &[obs(1, "person", 300.0 + 40.0 * i as f32, 200.0, 80.0)]);
        }
        // Last seen at x 460, heading right at 200 px/s; 1 s later: one new track at x 660 (ahead), one at 380
        // (behind, nearer the last position but against the motion).
        let k = c.update(at(1800), &[obs(5, "person", 380.0, 200.0, 80.0), obs(6, "person", 660.0, 200.0, 80.0)]);
        assert_eq!(k[1], 0, "the one ahead continues it");
        assert_ne!(k[0], 0);
    }

    #[test]
    fn gates_time_class_size_and_presence() {
        let lost = |c: &mut Continuity| c.update(at(0), &[obs(1, "person", 100.0, 100.0, 80.0)]);
        // Too late.
        let mut c = Continuity::new(2.0);
        lost(&mut c);
        assert_eq!(c.update(at(2200), &[obs(2, "person", 100.0, 100.0, 80.0)]), vec![1]);
        // Another class; a car may become a truck.
        let mut c = Continuity::new(2.0);
        lost(&mut c);
        assert_eq!(c.update(at(500), &[obs(2, "car", 100.0, 100.0, 80.0)]), vec![1]);
        assert!(compatible("car", "truck") && !compatible("person", "bicycle"));
        // A box three times the size.
        let mut c = Continuity::new(2.0);
        lost(&mut c);
        assert_eq!(c.update(at(500), &[obs(2, "person", 100.0, 100.0, 240.0)]), vec![1]);
        // Too far: 3 box sizes away after 0.5 s (gate 1.25).
        let mut c = Continuity::new(2.0);
        lost(&mut c);
        assert_eq!(c.update(at(500), &[obs(2, "person", 340.0, 100.0, 80.0)]), vec![1]);
        // Not lost: track 1 is still there on the frame track 2 appears.
        let mut c = Continuity::new(2.0);
        lost(&mut c);
        let k = c.update(at(200), &[obs(1, "person", 100.0, 100.0, 80.0), obs(2, "person", 110.0, 100.0, 80.0)]);
        assert_eq!(k, vec![0, 1]);
        // Same frame as the last sighting: not a successor. Grace 0: continuity off.
        let mut c = Continuity::new(0.0);
        lost(&mut c);
        assert_eq!(c.update(at(200), &[obs(2, "person", 100.0, 100.0, 80.0)]), vec![1]);
        // Within every gate: joined; each lost object takes at most one successor.
        let mut c = Continuity::new(2.0);
        lost(&mut c);
        let k = c.update(at(500), &[obs(2, "person", 120.0, 100.0, 80.0), obs(3, "person", 100.0, 100.0, 80.0)]);
        assert_eq!(k, vec![1, 0], "the closer one joins; the other is a new object");
    }

    #[test]
    fn forgets_after_a_minute_and_on_clear() {
        let mut c = Continuity::new(2.0);
        c.update(at(0), &[obs(1, "person", 100.0, 100.0, 80.0)]);
        c.update(at(61_000), &[]);
        assert!(c.track_ids(0).is_empty());
        c.update(at(62_000), &[obs(1, "person", 100.0, 100.0, 80.0)]);
        c.clear();
        assert_eq!(c.update(at(62_200), &[obs(1, "person", 100.0, 100.0, 80.0)]), vec![2]);
    }
}
